# IMAP STARTTLS (RFC 3501 section 6.2.1, RFC 9051 section 6.2.1; RFC 2595 section 3.1).
#
# Greeting "* OK" (or "* PREAUTH"; "* BYE" is a refusal, RFC 3501 section 7.1.5), then
# CAPABILITY (section 6.1.1) and STARTTLS, answered by a tagged OK. A server that does not
# list LOGINDISABLED accepts LOGIN in plaintext (RFC 3501 section 6.2.3): recorded as
# plaintext authentication offered, with the AUTH= mechanisms listed.
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


@dataclass(slots=True)
class IMAP(Dialogue):
    PROTOCOL: ClassVar[str] = "imap"
    RFC: ClassVar[str] = "RFC 3501"
    INJECT: ClassVar[bytes] = b"A3 NOOP\r\n"

    def script(self) -> Script:
        greeting = yield ReadLine()
        self.facts["banner"] = text(greeting.rstrip(b"\r\n"))
        up = greeting.upper()
        if not up.startswith((b"* OK", b"* PREAUTH")):
            kind = THROTTLED if throttle_words(greeting) else REFUSED
            raise Stop(kind, f"greeting: {printable(greeting)}", greeting)
        self.waiting_for = "the answer to CAPABILITY"
        yield Send(b"A1 CAPABILITY\r\n")
        caps: list[str] = []
        raw = b""
        for _ in range(100):
            line = yield ReadLine()
            raw += line
            if line.upper().startswith(b"* CAPABILITY "):
                caps += text(line[13:].strip()).split()
            elif line.startswith(b"A1 "):
                break
        else:
            raise Stop(REFUSED, "no tagged answer to CAPABILITY in 100 lines", raw)
        self.facts["capabilities"] = tuple(caps)
        upper = [c.upper() for c in caps]
        if "LOGINDISABLED" not in upper:
            self.facts["plaintext_auth"] = tuple(dict.fromkeys(("LOGIN", *(c[5:] for c in caps if c.upper().startswith("AUTH=")))))
        if "STARTTLS" not in upper:
            raise Stop(NOT_OFFERED, f"STARTTLS not offered (CAPABILITY lists: {' '.join(caps) or 'nothing'})", raw)
        self.waiting_for = "the answer to STARTTLS"
        yield Send(self.command(b"A2 STARTTLS\r\n"))
        for _ in range(100):
            line = yield ReadLine()
            if line.startswith(b"A2 "):
                if line[3:5].upper() == b"OK":
                    return
                kind = THROTTLED if throttle_words(line) else REFUSED
                raise Stop(kind, f"STARTTLS answered {printable(line)}", line)
            if line.upper().startswith(b"* BYE"):
                raise Stop(THROTTLED if throttle_words(line) else REFUSED, f"STARTTLS answered {printable(line)}", line)
        raise Stop(REFUSED, "no tagged answer to STARTTLS in 100 lines")
