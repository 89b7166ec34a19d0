# The ClientHello builder: a frozen ClientHelloSpec says everything a probe wants to say,
# build_client_hello(spec) turns it into record-framed bytes.
# Encodings are cached by everything but the random (a fleet sends the same offers to
# every endpoint); the cached bytes are exactly a fresh encoding's.
#
# Why not tlslite-ng's ClientHello class: a probe must be able to say things a correct
# client never says (unknown suites and extensions, GREASE in any list, an explicit
# extension order, a record version that differs from the hello's, SSLv2 framing with
# 3-byte cipher kinds), and the builder sits on the hot path of every probe (issue 2 asks
# for <= 50 us with 150 suites). tlslite-ng parses what we build in the round-trip tests.
from __future__ import annotations

import operator
import os
import struct
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from handshakes import constants as c
from handshakes.errors import LocalProtocolError

if TYPE_CHECKING:
    from handshakes.keyshare import KeyShare

# RFC 8701 section 2: the GREASE value a spec with grease=True inserts in every list.
GREASE = 0x0A0A
GREASE_EXT_FIRST = 0x1A1A
GREASE_EXT_LAST = 0x2A2A


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientHelloSpec:
    """Everything a probe can put in a ClientHello.

    ``None`` means "leave the extension out"; an empty tuple means "send it empty".
    ``record_version`` is the version in the record header, chosen independently of
    ``legacy_version`` (the ClientHello.client_version field, RFC 8446 section 4.1.2).
    ``max_fragment`` splits the handshake message into records of at most that many bytes
    (RFC 5246 section 6.2.1 allows a handshake message to span records).
    ``sslv2`` frames the hello as an SSL 2.0 CLIENT-HELLO (no extensions possible); codes
    above 0xFFFF in ``cipher_suites`` are SSLv2 cipher kinds, the others go as 00 XX XX.
    """

    legacy_version: int = c.TLS12
    record_version: int = c.TLS10
    cipher_suites: tuple[int, ...] = ()
    compression_methods: tuple[int, ...] = (0,)
    session_id: bytes = b""
    random: bytes | None = None
    server_name: str | None = None
    supported_versions: tuple[int, ...] | None = None
    supported_groups: tuple[int, ...] | None = None
    ec_point_formats: tuple[int, ...] | None = None
    signature_algorithms: tuple[int, ...] | None = None
    signature_algorithms_cert: tuple[int, ...] | None = None
    key_shares: tuple[KeyShare, ...] | None = None
    psk_key_exchange_modes: tuple[int, ...] | None = None
    alpn: tuple[str, ...] | None = None
    status_request: bool = False
    renegotiation_info: bytes | None = None
    extended_master_secret: bool = False
    encrypt_then_mac: bool = False
    session_ticket: bytes | None = None
    record_size_limit: int | None = None
    cookie: bytes | None = None
    post_handshake_auth: bool = False
    extra_extensions: tuple[tuple[int, bytes], ...] = ()
    padding_to: int | None = None
    grease: bool = False
    max_fragment: int | None = None
    sslv2: bool = False


def _u8(v: int) -> bytes:
    return bytes((v,))


def _vec8(data: bytes) -> bytes:
    if len(data) > 0xFF:
        raise LocalProtocolError(f"vector of {len(data)} bytes does not fit a 1-byte length")
    return bytes((len(data),)) + data


def _vec16(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise LocalProtocolError(f"vector of {len(data)} bytes does not fit a 2-byte length")
    return len(data).to_bytes(2, "big") + data


def _u16_list(values: tuple[int, ...]) -> bytes:
    try:
        return struct.pack(f">{len(values)}H", *values)
    except struct.error as exc:
        raise LocalProtocolError(f"value out of 16-bit range in {values!r}") from exc


def _ext(ext_type: int, body: bytes) -> bytes:
    return struct.pack(">HH", ext_type, len(body)) + body


def _grease_list(values: tuple[int, ...], grease: bool) -> tuple[int, ...]:
    return (GREASE, *values) if grease else values


def encode_extensions(spec: ClientHelloSpec) -> bytes:
    """The extensions block (without its 2-byte length), in a fixed, browser-like order."""
    exts: list[bytes] = []
    g = spec.grease
    if g:
        exts.append(_ext(GREASE_EXT_FIRST, b""))
    if spec.server_name is not None:
        # RFC 6066 section 3: ServerNameList with one host_name (type 0) entry.
        name = spec.server_name.encode("idna") if spec.server_name else b""
        entry = b"\x00" + _vec16(name)
        exts.append(_ext(c.EXT_SERVER_NAME, _vec16(entry)))
    if spec.extended_master_secret:
        exts.append(_ext(c.EXT_EXTENDED_MASTER_SECRET, b""))
    if spec.renegotiation_info is not None:
        exts.append(_ext(c.EXT_RENEGOTIATION_INFO, _vec8(spec.renegotiation_info)))
    if spec.supported_groups is not None:
        groups = _grease_list(spec.supported_groups, g)
        exts.append(_ext(c.EXT_SUPPORTED_GROUPS, _vec16(_u16_list(groups))))
    if spec.ec_point_formats is not None:
        exts.append(_ext(c.EXT_EC_POINT_FORMATS, _vec8(bytes(spec.ec_point_formats))))
    if spec.session_ticket is not None:
        exts.append(_ext(c.EXT_SESSION_TICKET, spec.session_ticket))
    if spec.alpn is not None:
        names = b"".join(_vec8(p.encode()) for p in spec.alpn)
        exts.append(_ext(c.EXT_ALPN, _vec16(names)))
    if spec.status_request:
        # RFC 6066 section 8: status_type ocsp(1), empty responder_id_list and extensions.
        exts.append(_ext(c.EXT_STATUS_REQUEST, b"\x01\x00\x00\x00\x00"))
    if spec.encrypt_then_mac:
        exts.append(_ext(c.EXT_ENCRYPT_THEN_MAC, b""))
    if spec.signature_algorithms is not None:
        exts.append(_ext(c.EXT_SIGNATURE_ALGORITHMS, _vec16(_u16_list(spec.signature_algorithms))))
    if spec.signature_algorithms_cert is not None:
        body = _vec16(_u16_list(spec.signature_algorithms_cert))
        exts.append(_ext(c.EXT_SIGNATURE_ALGORITHMS_CERT, body))
    if spec.key_shares is not None:
        # RFC 8446 section 4.2.8: KeyShareClientHello { KeyShareEntry client_shares<0..2^16-1> }
        entries = b"".join(struct.pack(">H", ks.group) + _vec16(ks.public) for ks in spec.key_shares)
        if g:
            entries = struct.pack(">HH", GREASE, 1) + b"\x00" + entries
        exts.append(_ext(c.EXT_KEY_SHARE, _vec16(entries)))
    if spec.psk_key_exchange_modes is not None:
        exts.append(_ext(c.EXT_PSK_KEY_EXCHANGE_MODES, _vec8(bytes(spec.psk_key_exchange_modes))))
    if spec.supported_versions is not None:
        versions = _grease_list(spec.supported_versions, g)
        exts.append(_ext(c.EXT_SUPPORTED_VERSIONS, _vec8(_u16_list(versions))))
    if spec.cookie is not None:
        exts.append(_ext(c.EXT_COOKIE, _vec16(spec.cookie)))
    if spec.post_handshake_auth:
        exts.append(_ext(c.EXT_POST_HANDSHAKE_AUTH, b""))
    if spec.record_size_limit is not None:
        exts.append(_ext(c.EXT_RECORD_SIZE_LIMIT, struct.pack(">H", spec.record_size_limit)))
    for ext_type, body in spec.extra_extensions:
        exts.append(_ext(ext_type, body))
    if g:
        exts.append(_ext(GREASE_EXT_LAST, b"\x00"))
    return b"".join(exts)


# Every field of a spec but its random: the key of the encoded-hello cache below.
_SHAPE = operator.attrgetter(*(f.name for f in fields(ClientHelloSpec) if f.name != "random"))
# Encoded hellos by shape, with a zero random. A fleet sends the same few offers to every
# endpoint (the same version, suites, groups and run-wide key shares: issue 16), so each is
# encoded once (about 8 us) and later hellos only get their random spliced in (about 1 us).
# Bounded: cleared when full, as the common offers of one run number a few dozen; hellos
# over _CACHED_LENGTH bytes (the tolerance probes' oversized ones) are not kept.
_ENCODED: dict[tuple[object, ...], bytes] = {}
_ENCODED_MAX = 256
_CACHED_LENGTH = 2048
_RANDOM_AT = 6  # msg_type (1), length (3), legacy_version (2): RFC 5246 section 7.4.1.2


def encode_client_hello(spec: ClientHelloSpec) -> bytes:
    """The ClientHello handshake message (type, 3-byte length, body): the transcript bytes.
    Raises LocalProtocolError for a spec that cannot be encoded."""
    if spec.sslv2:
        raise LocalProtocolError("an SSLv2 CLIENT-HELLO is not a handshake message")
    rnd = spec.random if spec.random is not None else os.urandom(32)
    if len(rnd) != 32:
        raise LocalProtocolError("ClientHello.random must be 32 bytes")
    shape = _SHAPE(spec)
    try:
        template = _ENCODED.get(shape)
    except TypeError:  # an unhashable value in extra_extensions: no caching
        return _encode(spec, rnd)
    if template is None:
        template = _encode(spec, bytes(32))
        if len(template) > _CACHED_LENGTH:
            return template[:_RANDOM_AT] + rnd + template[_RANDOM_AT + 32 :]
        if len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.clear()
        _ENCODED[shape] = template
    return template[:_RANDOM_AT] + rnd + template[_RANDOM_AT + 32 :]


def _encode(spec: ClientHelloSpec, rnd: bytes) -> bytes:
    suites = _grease_list(spec.cipher_suites, spec.grease)
    if suites and max(suites) > 0xFFFF:
        raise LocalProtocolError("3-byte SSLv2 cipher kinds need sslv2=True")
    body = b"".join(
        (
            struct.pack(">H", spec.legacy_version),
            rnd,
            _vec8(spec.session_id),
            _vec16(_u16_list(suites)),
            _vec8(bytes(spec.compression_methods)),
        )
    )
    exts = encode_extensions(spec)
    if spec.padding_to is not None:
        # RFC 7685: pad the hello to a chosen size (a padding extension of zeros).
        current = 4 + len(body) + 2 + len(exts)
        missing = spec.padding_to - current
        if missing > 0:
            exts += _ext(c.EXT_PADDING, bytes(max(0, missing - 4)))
    has_exts = bool(exts) or spec.legacy_version > c.SSL3
    if has_exts:
        body += _vec16(exts)
    return bytes((c.CLIENT_HELLO,)) + len(body).to_bytes(3, "big") + body


def frame_records(content_type: int, version: int, payload: bytes, max_fragment: int | None) -> bytes:
    """Split ``payload`` into TLSPlaintext records of at most ``max_fragment`` bytes."""
    size = max_fragment or c.MAX_RECORD_PAYLOAD - 2048
    if size < 1:
        raise LocalProtocolError("max_fragment must be at least 1")
    out = []
    for i in range(0, max(len(payload), 1), size):
        chunk = payload[i : i + size]
        out.append(struct.pack(">BHH", content_type, version, len(chunk)) + chunk)
    return b"".join(out)


def encode_sslv2_client_hello(spec: ClientHelloSpec) -> bytes:
    """An SSL 2.0 CLIENT-HELLO with its 2-byte record header.

    SSLv2 draft section 2.5: MSG-CLIENT-HELLO (1), CLIENT-VERSION, CIPHER-SPECS-LENGTH,
    SESSION-ID-LENGTH, CHALLENGE-LENGTH, then the data. With legacy_version >= 0x0300 this
    is the "SSLv2-compatible" hello of RFC 5246 appendix E.2 that SSL 3.0/TLS servers accept.
    """
    has_ext = any(
        v is not None
        for v in (
            spec.server_name,
            spec.supported_versions,
            spec.supported_groups,
            spec.key_shares,
            spec.signature_algorithms,
            spec.alpn,
        )
    ) or bool(spec.extra_extensions)
    if has_ext:
        raise LocalProtocolError("an SSLv2-framed ClientHello cannot carry extensions")
    specs = b"".join(s.to_bytes(3, "big") for s in spec.cipher_suites)
    challenge = (spec.random or os.urandom(32))[-16:]
    body = struct.pack(
        ">BHHHH", 1, spec.legacy_version, len(specs), len(spec.session_id), len(challenge)
    )
    msg = body + specs + spec.session_id + challenge
    if len(msg) > 0x7FFF:
        raise LocalProtocolError("SSLv2 CLIENT-HELLO too long for a 2-byte header")
    return struct.pack(">H", 0x8000 | len(msg)) + msg


def build_client_hello(spec: ClientHelloSpec) -> bytes:
    """The bytes to put on the wire: the ClientHello in one or more records.

    A spec without ``random`` gets a fresh one on every call; a probe that needs the
    transcript calls encode_client_hello() once and frames it with frame_records().
    """
    if spec.sslv2:
        return encode_sslv2_client_hello(spec)
    msg = encode_client_hello(spec)
    return frame_records(c.HANDSHAKE, spec.record_version, msg, spec.max_fragment)
