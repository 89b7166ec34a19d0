# NNTP STARTTLS (RFC 4642 section 2), capabilities from CAPABILITIES (RFC 3977 section 5.2).
#
# Greeting 200 or 201 (RFC 3977 section 5.1; 400 "service temporarily unavailable", 502
# "service permanently unavailable"), CAPABILITIES answered 101 and a "."-ended list,
# STARTTLS answered 382 "continue with TLS negotiation" (580 "can not initiate TLS", 502
# "command unavailable"). The steps are LineDialogue's (_base).
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from handshakes.starttls._base import LineDialogue


@dataclass(slots=True)
class NNTP(LineDialogue):
    PROTOCOL: ClassVar[str] = "nntp"
    RFC: ClassVar[str] = "RFC 4642"
    INJECT: ClassVar[bytes] = b"DATE\r\n"
    GREETING_OK = (200, 201)
    BUSY = (400,)
    CAPA = "CAPABILITIES"
    LIST_FOLLOWS = (101,)
    GO_AHEAD = (382,)
    UNKNOWN = (500, 501, 502)  # RFC 3977 section 3.2.1: unknown, syntax, not permitted

    def note(self, caps: list[str]) -> None:
        plain: list[str] = []
        for c in caps:
            words = c.split()
            if not words:
                continue
            if c.upper().startswith("IMPLEMENTATION "):  # RFC 3977 section 5.2.2
                self.facts["server_version"] = c[15:]
            # RFC 4643 section 2.1: "AUTHINFO USER" (a password in plaintext), "AUTHINFO
            # SASL" with the mechanisms on the SASL line.
            if words[0].upper() == "AUTHINFO":
                plain += [w for w in words[1:] if w.upper() != "SASL"] or ([] if len(words) > 1 else ["AUTHINFO"])
            elif words[0].upper() == "SASL":
                plain += words[1:]
        if plain:
            self.facts["plaintext_auth"] = tuple(plain)
