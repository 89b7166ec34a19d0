# SMTP STARTTLS (RFC 3207) and its LMTP twin (RFC 2033: LHLO instead of EHLO).
#
# Greeting 220 (RFC 5321 section 4.3.1; 554 "no service", 421 "closing"), EHLO and its
# 250 capability list (RFC 5321 section 4.1.1.1), STARTTLS answered 220 "ready to start
# TLS"; 454 is "TLS not available due to temporary reason" (RFC 3207 section 4). AUTH
# advertised before TLS is recorded as plaintext authentication offered (RFC 4954 section 4
# lets a server hide it until TLS). The steps are LineDialogue's (_base).
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from handshakes.starttls._base import LineDialogue, Reply, text

CLIENT_NAME = "tlscompat.invalid"


@dataclass(slots=True)
class SMTP(LineDialogue):
    PROTOCOL: ClassVar[str] = "smtp"
    RFC: ClassVar[str] = "RFC 3207"
    INJECT: ClassVar[bytes] = b"NOOP\r\n"
    GREETING_OK = (220,)
    # RFC 5321 section 3.8: 421 is the server shutting the channel (load, too many
    # connections); other codes are a refusal.
    BUSY = (421,)
    CAPA = "EHLO"
    GO_AHEAD = (220,)
    client_name: str = CLIENT_NAME
    waiting_for: str = "the greeting"

    def line(self, name: str) -> bytes:
        # RFC 5321 section 4.1.1.1: EHLO names the client.
        return (f"{name} {self.client_name}" if name == self.CAPA else name).encode() + b"\r\n"

    def capabilities(self, reply: Reply) -> list[str] | None:
        if reply.code != 250:
            raise self.refusal(f"{self.CAPA}:", reply)
        return [text(x) for x in reply.lines[1:]]  # the first line greets, the rest list

    def note(self, caps: list[str]) -> None:
        auth = [c for c in caps if c.upper().startswith(("AUTH ", "AUTH="))]
        if auth:
            self.facts["plaintext_auth"] = tuple(m for a in auth for m in a[5:].split())


@dataclass(slots=True)
class LMTP(SMTP):
    PROTOCOL: ClassVar[str] = "lmtp"
    RFC: ClassVar[str] = "RFC 2033"
    CAPA = "LHLO"
