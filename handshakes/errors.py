# Exceptions of the sans-IO layer. A server's alert is an *event*, never an exception:
# exceptions are for requests we cannot express (LocalProtocolError) and for bytes that
# cannot be parsed (RemoteProtocolError, carrying the alert a real TLS stack would send).
from __future__ import annotations


class HandshakeError(Exception):
    """Base class of every error raised by the handshakes package."""


class LocalProtocolError(HandshakeError):
    """We asked for something impossible (a spec that cannot be encoded, a misuse of the API)."""


class RemoteProtocolError(HandshakeError):
    """The peer's bytes are wrong.

    ``alert`` is the alert description a conforming TLS stack would send in response
    (RFC 8446 section 6.2: decode_error 50 for bad lengths, unexpected_message 10 for
    out-of-order messages, illegal_parameter 47 for values that break a rule, ...).
    ``data`` holds the offending bytes (bounded) so that a report can show them in hex.
    ``events`` holds what was parsed before the fault in the same call (set by
    HandshakeProbe.receive_data): what was read before an error is kept with the error.
    """

    def __init__(self, message: str, *, alert: int = 50, data: bytes = b"") -> None:
        super().__init__(message)
        self.alert = alert
        self.data = bytes(data[:64])
        self.events: tuple[object, ...] = ()

