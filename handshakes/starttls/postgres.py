# PostgreSQL's SSLRequest (PostgreSQL protocol, "SSL Session Encryption"; no RFC):
# Int32 length 8, Int32 code 80877103; the server answers one byte, 'S' (go ahead with
# TLS) or 'N' (no TLS: the client may continue in plaintext). A server older than 7.0
# answers an ErrorResponse ('E'). PostgreSQL 17's direct TLS (a ClientHello with ALPN
# "postgresql" and no SSLRequest) needs no dialogue: it is the "postgres-direct" choice.
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from handshakes.starttls._base import (
    NOT_OFFERED,
    REFUSED,
    Dialogue,
    ReadExact,
    ReadLine,
    Script,
    Send,
    Stop,
    printable,
)

SSL_REQUEST = struct.pack("!II", 8, 80877103)


@dataclass(slots=True)
class Postgres(Dialogue):
    PROTOCOL: ClassVar[str] = "postgres"
    RFC: ClassVar[str] = "PostgreSQL protocol 3.0, SSLRequest"

    def script(self) -> Script:
        yield Send(SSL_REQUEST)
        self.waiting_for = "the answer to SSLRequest"
        answer = yield ReadExact(1)
        if answer == b"S":
            return
        if answer == b"N":
            # The server would go on without TLS: plaintext is what a client gets.
            self.facts["plaintext_auth"] = ("plaintext session",)
            raise Stop(NOT_OFFERED, "the server answered N to SSLRequest (no TLS)", answer)
        rest = yield ReadLine()
        raise Stop(REFUSED, f"SSLRequest answered {printable(answer + rest)}", answer + rest)
