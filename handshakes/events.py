# Frozen events emitted by HandshakeProbe.receive_data(). Wire numbers stay ints; names
# are looked up in handshakes.registry only to display them. Each event records what the
# server sent; deciding what it means is the scanner's job.
from __future__ import annotations

from dataclasses import dataclass

Extensions = tuple[tuple[int, bytes], ...]



@dataclass(frozen=True, slots=True, kw_only=True)
class ServerHello:
    """A ServerHello (not a HelloRetryRequest).

    ``version`` is the negotiated version: supported_versions when present (RFC 8446
    section 4.2.1), otherwise ``legacy_version``.
    ``downgrade_sentinel`` is 0x0303 or 0x0302 when the last 8 bytes of ``random`` carry
    the RFC 8446 section 4.1.3 marker (a TLS 1.3 server negotiating TLS 1.2 / 1.1 or
    below), else None.
    """

    version: int
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression: int
    extensions: Extensions
    selected_group: int | None = None
    alpn: str | None = None
    renegotiation_info: bytes | None = None
    extended_master_secret: bool = False
    encrypt_then_mac: bool = False
    session_ticket: bool = False
    status_request: bool = False
    downgrade_sentinel: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HelloRetryRequest:
    """RFC 8446 section 4.1.4: a ServerHello whose random is the HRR magic value."""

    cipher_suite: int
    selected_group: int | None
    cookie: bytes | None
    extensions: Extensions


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptedExtensions:
    """TLS 1.3 EncryptedExtensions, decrypted (RFC 8446 section 4.3.1)."""

    extensions: Extensions
    alpn: str | None = None
    supported_groups: tuple[int, ...] = ()
    record_size_limit: int | None = None
    server_name_acknowledged: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Certificate:
    """The server's chain as raw DER, leaf first, exactly as sent.

    ``entry_extensions`` (TLS 1.3 only) holds each entry's extensions in chain order,
    e.g. status_request carrying a stapled OCSP response (RFC 8446 section 4.4.2.1).
    """

    chain: tuple[bytes, ...]
    entry_extensions: tuple[Extensions, ...] = ()
    request_context: bytes = b""
    encrypted: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateStatus:
    """A stapled OCSP response (RFC 6066 section 8), DER."""

    status_type: int
    ocsp_response: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerKeyExchange:
    """The parameters of a (EC)DHE ServerKeyExchange, without checking its signature.

    ``kind`` is "dhe", "ecdhe", "rsa" (export RSA key) or "unknown" when the cipher suite
    does not say how to read it. ``dh_prime_bits`` is the bit length of p for DHE.
    ``group`` is the named curve for ECDHE (RFC 8422 section 5.4).
    """

    kind: str
    dh_prime_bits: int | None = None
    dh_prime: bytes | None = None
    group: int | None = None
    signature_scheme: int | None = None
    raw: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateRequest:
    """What the server asks of a client certificate.

    TLS <= 1.2 (RFC 5246 section 7.4.4): certificate_types, signature_algorithms (1.2),
    certificate_authorities (DER-encoded DistinguishedNames).
    TLS 1.3 (RFC 8446 section 4.3.2): request_context, and the extensions
    signature_algorithms, signature_algorithms_cert, certificate_authorities, oid_filters.
    """

    certificate_types: tuple[int, ...] = ()
    signature_algorithms: tuple[int, ...] = ()
    signature_algorithms_cert: tuple[int, ...] = ()
    certificate_authorities: tuple[bytes, ...] = ()
    oid_filters: tuple[tuple[bytes, bytes], ...] = ()
    request_context: bytes = b""
    encrypted: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerHelloDone:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateVerify:
    """TLS 1.3: the server's CertificateVerify arrived (its signature is not checked)."""

    signature_scheme: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Finished:
    """TLS 1.3: the server's Finished arrived; the server flight is complete."""

    verify_data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeMessage:
    """Any other handshake message, kept as raw bytes (e.g. NewSessionTicket)."""

    msg_type: int
    body: bytes
    encrypted: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """An alert record: level 1 warning / 2 fatal; description per RFC 8446 section 6."""

    level: int
    description: int
    encrypted: bool = False
    # The record's version when it is not 0x03XX: a malformed record that still carries a
    # 2-byte alert (some CDNs send 15 00 00 00 02 02 28; issue 11). None: a normal record.
    odd_record_version: int | None = None

    @property
    def name(self) -> str:
        from handshakes.registry import alert_name

        return alert_name(self.description)

    @property
    def fatal(self) -> bool:
        return self.level == 2


@dataclass(frozen=True, slots=True, kw_only=True)
class SSLv2ServerHello:
    """An SSL 2.0 SERVER-HELLO: version, 3-byte cipher kinds, the certificate (DER)."""

    version: int
    session_id_hit: bool
    certificate_type: int
    certificate: bytes
    cipher_kinds: tuple[int, ...]
    connection_id: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SSLv2Error:
    """An SSL 2.0 ERROR message (e.g. 0x0001 NO-CIPHER-ERROR)."""

    code: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NotTLS:
    """The reply is another protocol: ``protocol`` names it (http, ssh, smtp, ...)."""

    protocol: str
    first_bytes: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class UnreadableReaction:
    """Bytes after a probe's follow-up (handshakes/followup.py) or after a completed
    handshake (renegotiation.py, tls13_resume.py) that cannot be read as TLS records (not a
    record header, a record that does not decrypt or parse): the reading ends there. Only
    how many bytes came in that read is kept."""

    length: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatResponse:
    """A heartbeat record from the server (RFC 6520 section 4), described by its sizes only:
    the bytes it carries are never kept (a Heartbleed answer carries the server's memory).
    ``payload_length`` is the length the message declares; ``record_length`` the record's."""

    message_type: int
    payload_length: int
    record_length: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeCipherSpec:
    """A ChangeCipherSpec record from the server (RFC 5246 section 7.1)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OpaqueRecord:
    """A record read after the server flight that the probe does not decode (encrypted
    handshake or application data): its content type and length only."""

    content_type: int
    length: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed:
    """The peer closed the connection (receive_data(b"") was called)."""


Event = (
    ServerHello
    | HelloRetryRequest
    | EncryptedExtensions
    | Certificate
    | CertificateStatus
    | ServerKeyExchange
    | CertificateRequest
    | ServerHelloDone
    | CertificateVerify
    | Finished
    | HandshakeMessage
    | Alert
    | SSLv2ServerHello
    | SSLv2Error
    | NotTLS
    | HeartbeatResponse
    | UnreadableReaction
    | ChangeCipherSpec
    | OpaqueRecord
    | ConnectionClosed
)
