# NNTP STARTTLS (RFC 4642 section 2), capabilities from CAPABILITIES (RFC 3977 section 5.2).
#
# Greeting 200 or 201 (RFC 3977 section 5.1; 400 "service temporarily unavailable", 502
# "service permanently unavailable"), CAPABILITIES answered 101 and a "."-ended list,
# STARTTLS answered 382 "continue with TLS negotiation" (580 "can not initiate TLS", 502
# "command unavailable").
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from handshakes.starttls._base import (
    NOT_OFFERED,
    REFUSED,
    THROTTLED,
    Dialogue,
    Script,
    Send,
    Stop,
    dot_block,
    numeric_reply,
    printable,
    text,
    throttle_words,
)


@dataclass(slots=True)
class NNTP(Dialogue):
    PROTOCOL: ClassVar[str] = "nntp"
    RFC: ClassVar[str] = "RFC 4642"
    INJECT: ClassVar[bytes] = b"DATE\r\n"

    def script(self) -> Script:
        code, _, raw = yield from numeric_reply()
        self.facts["banner"] = text(raw.rstrip(b"\r\n"))
        if code not in (200, 201):
            kind = THROTTLED if code == 400 or throttle_words(raw) else REFUSED
            raise Stop(kind, f"greeting: {printable(raw)}", raw)
        self.waiting_for = "the answer to CAPABILITIES"
        yield Send(b"CAPABILITIES\r\n")
        code, _, raw = yield from numeric_reply()
        caps: list[str] = []
        if code == 101:
            lines, block = yield from dot_block()
            raw += block
            caps = [text(x) for x in lines]
            self.facts["capabilities"] = tuple(caps)
            plain: list[str] = []
            for c in caps:
                if not c.split():
                    continue
                if c.upper().startswith("IMPLEMENTATION "):  # RFC 3977 section 5.2.2
                    self.facts["server_version"] = c[15:]
                # RFC 4643 section 2.1: "AUTHINFO USER" (a password in plaintext), "AUTHINFO
                # SASL" with the mechanisms on the SASL line.
                words = c.split()
                if words[0].upper() == "AUTHINFO":
                    plain += [w for w in words[1:] if w.upper() != "SASL"] or ([] if len(words) > 1 else ["AUTHINFO"])
                elif words[0].upper() == "SASL":
                    plain += words[1:]
            if plain:
                self.facts["plaintext_auth"] = tuple(plain)
            if not any(c.upper().split(" ")[0] == "STARTTLS" for c in caps):
                raise Stop(NOT_OFFERED, f"STARTTLS not offered (CAPABILITIES lists: {', '.join(caps) or 'nothing'})", raw)
        self.waiting_for = "the answer to STARTTLS"
        yield Send(self.command(b"STARTTLS\r\n"))
        code, _, line = yield from numeric_reply()
        if code == 382:
            return
        if code in (500, 501, 502) and not caps:
            raise Stop(NOT_OFFERED, f"STARTTLS answered {printable(line)}", line)
        kind = THROTTLED if code == 400 or throttle_words(line) else REFUSED
        raise Stop(kind, f"STARTTLS answered {printable(line)}", line)
