# ManageSieve STARTTLS (RFC 5804 section 2.2).
#
# The server speaks first with its capabilities, one quoted pair per line ("STARTTLS",
# "SASL" "PLAIN LOGIN", "IMPLEMENTATION" "..."), ended by OK; STARTTLS is answered OK
# (NO/BYE refuse, RFC 5804 section 1.3).
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from handshakes.starttls._base import (
    NOT_OFFERED,
    REFUSED,
    THROTTLED,
    Dialogue,
    ReadLine,
    Script,
    Send,
    Stop,
    printable,
    text,
    throttle_words,
)


def _ends(line: bytes) -> bool:
    return line[:2].upper() == b"OK" or line[:2].upper() == b"NO" or line[:3].upper() == b"BYE"


@dataclass(slots=True)
class Sieve(Dialogue):
    PROTOCOL: ClassVar[str] = "sieve"
    RFC: ClassVar[str] = "RFC 5804"
    INJECT: ClassVar[bytes] = b"NOOP\r\n"

    def script(self) -> Script:
        caps: list[str] = []
        raw = b""
        last = b""
        for _ in range(200):
            line = yield ReadLine()
            raw += line
            if _ends(line):
                last = line
                break
            caps.append(text(line.rstrip(b"\r\n")))
        else:
            raise Stop(REFUSED, "no OK after 200 capability lines", raw)
        self.facts["banner"] = text(last.rstrip(b"\r\n"))
        self.facts["capabilities"] = tuple(caps)
        for c in caps:
            if c.upper().startswith('"IMPLEMENTATION"'):
                self.facts["server_version"] = c.split(" ", 1)[1].strip('"') if " " in c else ""
            if c.upper().startswith('"SASL"') and " " in c:
                mechs = c.split(" ", 1)[1].strip('"').split()
                if mechs:
                    self.facts["plaintext_auth"] = tuple(mechs)
        if not last.upper().startswith(b"OK"):
            kind = THROTTLED if throttle_words(last) else REFUSED
            raise Stop(kind, f"greeting: {printable(last)}", raw)
        if not any(c.upper() == '"STARTTLS"' for c in caps):
            raise Stop(NOT_OFFERED, f"STARTTLS not offered (capabilities: {', '.join(caps) or 'none'})", raw)
        self.waiting_for = "the answer to STARTTLS"
        yield Send(self.command(b"STARTTLS\r\n"))
        line = yield ReadLine()
        if line[:2].upper() == b"OK":
            return
        kind = THROTTLED if throttle_words(line) else REFUSED
        raise Stop(kind, f"STARTTLS answered {printable(line)}", line)
