# FTP AUTH TLS (RFC 4217 section 4).
#
# Greeting 220 (RFC 959 section 5.4; 421 "service not available, closing" is load),
# "AUTH TLS" answered 234 "proceed with negotiation"; 500/502/504 mean the server does
# not know or offer it, 431/534 that it refuses (RFC 4217 section 4.1; RFC 2228 section 4).
# FEAT (RFC 2389) is not asked: AUTH TLS itself is the only reliable test. The steps are
# LineDialogue's (_base).
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from handshakes.starttls._base import LineDialogue


@dataclass(slots=True)
class FTP(LineDialogue):
    PROTOCOL: ClassVar[str] = "ftp"
    RFC: ClassVar[str] = "RFC 4217"
    INJECT: ClassVar[bytes] = b"NOOP\r\n"
    GREETING_OK = (220,)
    BUSY = (421,)
    REQUEST = "AUTH TLS"
    GO_AHEAD = (234,)
    UNKNOWN = (500, 502, 504)
