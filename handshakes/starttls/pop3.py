# POP3 STLS (RFC 2595 section 4), capabilities from CAPA (RFC 2449 section 5).
#
# Greeting "+OK" (RFC 1939 section 4; "-ERR" is a refusal), CAPA's multi-line answer ends
# with ".", STLS answered "+OK". USER or SASL PLAIN/LOGIN listed before TLS is recorded
# as plaintext authentication offered. A server without CAPA is still asked STLS.
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
    dot_block,
    printable,
    text,
    throttle_words,
)


@dataclass(slots=True)
class POP3(Dialogue):
    PROTOCOL: ClassVar[str] = "pop3"
    RFC: ClassVar[str] = "RFC 2595"
    INJECT: ClassVar[bytes] = b"NOOP\r\n"

    def script(self) -> Script:
        greeting = yield ReadLine()
        self.facts["banner"] = text(greeting.rstrip(b"\r\n"))
        if not greeting.startswith(b"+OK"):
            kind = THROTTLED if throttle_words(greeting) else REFUSED
            raise Stop(kind, f"greeting: {printable(greeting)}", greeting)
        self.waiting_for = "the answer to CAPA"
        yield Send(b"CAPA\r\n")
        answer = yield ReadLine()
        caps: list[str] = []
        raw = answer
        if answer.startswith(b"+OK"):
            lines, block = yield from dot_block()
            raw += block
            caps = [text(x) for x in lines]
            self.facts["capabilities"] = tuple(caps)
            upper = [c.upper() for c in caps]
            plain = ["USER"] if "USER" in upper else []
            for c in caps:
                if c.upper().startswith("SASL "):
                    plain += c.split()[1:]
            if plain:
                self.facts["plaintext_auth"] = tuple(plain)
            if "STLS" not in upper:
                raise Stop(NOT_OFFERED, f"STLS not offered (CAPA lists: {', '.join(caps) or 'nothing'})", raw)
        self.waiting_for = "the answer to STLS"
        yield Send(self.command(b"STLS\r\n"))
        line = yield ReadLine()
        if line.startswith(b"+OK"):
            return
        if not caps:
            raise Stop(NOT_OFFERED, f"STLS answered {printable(line)} (and CAPA {printable(answer)})", raw + line)
        kind = THROTTLED if throttle_words(line) else REFUSED
        raise Stop(kind, f"STLS answered {printable(line)}", line)
