# FTP AUTH TLS (RFC 4217 section 4).
#
# Greeting 220 (RFC 959 section 5.4; 421 "service not available, closing" is load),
# "AUTH TLS" answered 234 "proceed with negotiation"; 500/502/504 mean the server does
# not know or offer it, 431/534 that it refuses (RFC 4217 section 4.1; RFC 2228 section 4).
# FEAT (RFC 2389) is not asked: AUTH TLS itself is the only reliable test.
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
    numeric_reply,
    printable,
    text,
    throttle_words,
)


@dataclass(slots=True)
class FTP(Dialogue):
    PROTOCOL: ClassVar[str] = "ftp"
    RFC: ClassVar[str] = "RFC 4217"
    INJECT: ClassVar[bytes] = b"NOOP\r\n"

    def script(self) -> Script:
        code, _, raw = yield from numeric_reply()
        self.facts["banner"] = text(raw.rstrip(b"\r\n"))
        if code != 220:
            kind = THROTTLED if code == 421 or throttle_words(raw) else REFUSED
            raise Stop(kind, f"greeting: {printable(raw)}", raw)
        self.waiting_for = "the answer to AUTH TLS"
        yield Send(self.command(b"AUTH TLS\r\n"))
        code, _, raw = yield from numeric_reply()
        if code == 234:
            return
        if code in (500, 502, 504):
            raise Stop(NOT_OFFERED, f"AUTH TLS not offered: {printable(raw)}", raw)
        kind = THROTTLED if code == 421 or throttle_words(raw) else REFUSED
        raise Stop(kind, f"AUTH TLS answered {printable(raw)}", raw)
