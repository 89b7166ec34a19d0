# POP3 STLS (RFC 2595 section 4), capabilities from CAPA (RFC 2449 section 5).
#
# Greeting "+OK" (RFC 1939 section 4; "-ERR" is a refusal), CAPA's multi-line answer ends
# with ".", STLS answered "+OK". USER or SASL PLAIN/LOGIN listed before TLS is recorded
# as plaintext authentication offered. A server without CAPA is still asked STLS, and its
# "-ERR" then means STLS is not offered. The steps are LineDialogue's (_base).
from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import ClassVar

from handshakes.starttls._base import LineDialogue, Reply, Step, one_line


@dataclass(slots=True)
class POP3(LineDialogue):
    PROTOCOL: ClassVar[str] = "pop3"
    RFC: ClassVar[str] = "RFC 2595"
    INJECT: ClassVar[bytes] = b"NOOP\r\n"
    GREETING_OK = (b"+OK",)
    CAPA = "CAPA"
    LIST_FOLLOWS = (b"+OK",)
    REQUEST = "STLS"
    GO_AHEAD = (b"+OK",)
    UNKNOWN = (b"-ERR",)

    def read_reply(self) -> Generator[Step, bytes, Reply]:
        return (yield from one_line())  # RFC 1939 section 3: one status line

    def note(self, caps: list[str]) -> None:
        plain = ["USER"] if "USER" in (c.upper() for c in caps) else []
        plain += [m for c in caps if c.upper().startswith("SASL ") for m in c.split()[1:]]
        if plain:
            self.facts["plaintext_auth"] = tuple(plain)
