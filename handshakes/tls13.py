# The TLS 1.3 key schedule (RFC 8446 section 7) and record protection (section 5), just
# enough to read a server's encrypted flight: from the (EC)DHE shared secret and the
# ClientHello..ServerHello transcript to the handshake traffic secrets, their keys and IVs,
# the Finished check, and AEAD records. Sans-IO: bytes in, bytes out. Cipher suites stay
# ints; an unknown one is the server's fault (illegal_parameter), bad records raise
# RemoteProtocolError with the alert RFC 8446 section 6.2 names.
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from handshakes.constants import (
    ALERT_BAD_RECORD_MAC,
    ALERT_ILLEGAL_PARAMETER,
    ALERT_RECORD_OVERFLOW,
    ALERT_UNEXPECTED_MESSAGE,
    APPLICATION_DATA,
    MESSAGE_HASH,
    TLS12,
)
from handshakes.errors import LocalProtocolError, RemoteProtocolError

# TLS 1.3 cipher suites (RFC 8446 appendix B.4).
TLS_AES_128_GCM_SHA256 = 0x1301
TLS_AES_256_GCM_SHA384 = 0x1302
TLS_CHACHA20_POLY1305_SHA256 = 0x1303
TLS_AES_128_CCM_SHA256 = 0x1304
TLS_AES_128_CCM_8_SHA256 = 0x1305

# RFC 8446 section 5.2: TLSCiphertext.length MUST NOT exceed 2^14 + 256; section 5.4:
# TLSInnerPlaintext (content, type, padding) MUST NOT exceed 2^14 + 1.
MAX_CIPHERTEXT = 2**14 + 256
MAX_INNER_PLAINTEXT = 2**14 + 1
MAX_PLAINTEXT = 2**14

_HASHES: dict[str, hashes.HashAlgorithm] = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}
_SEQUENCE_LIMIT = 2**64 - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Tls13CipherParams:
    """What the key schedule and record layer need to know about a TLS 1.3 suite."""

    suite: int
    hash_name: str
    hash_len: int
    key_len: int
    iv_len: int
    tag_len: int = 16


# RFC 8446 appendix B.4; every suite has a 12-byte IV (section 5.3, RFC 5116 N_MIN).
_SUITES: dict[int, Tls13CipherParams] = {
    TLS_AES_128_GCM_SHA256: Tls13CipherParams(
        suite=TLS_AES_128_GCM_SHA256, hash_name="sha256", hash_len=32, key_len=16, iv_len=12
    ),
    TLS_AES_256_GCM_SHA384: Tls13CipherParams(
        suite=TLS_AES_256_GCM_SHA384, hash_name="sha384", hash_len=48, key_len=32, iv_len=12
    ),
    TLS_CHACHA20_POLY1305_SHA256: Tls13CipherParams(
        suite=TLS_CHACHA20_POLY1305_SHA256, hash_name="sha256", hash_len=32, key_len=32, iv_len=12
    ),
    TLS_AES_128_CCM_SHA256: Tls13CipherParams(
        suite=TLS_AES_128_CCM_SHA256, hash_name="sha256", hash_len=32, key_len=16, iv_len=12
    ),
    TLS_AES_128_CCM_8_SHA256: Tls13CipherParams(
        suite=TLS_AES_128_CCM_8_SHA256,
        hash_name="sha256",
        hash_len=32,
        key_len=16,
        iv_len=12,
        tag_len=8,
    ),
}


def cipher_params(suite: int) -> Tls13CipherParams:
    """The parameters of a TLS 1.3 suite; a server that picks anything else is wrong."""
    params = _SUITES.get(suite)
    if params is None:
        # RFC 8446 section 4.1.3: a ServerHello suite the client did not offer (and we
        # offer only these) is answered with illegal_parameter.
        raise RemoteProtocolError(
            f"0x{suite:04X} is not a TLS 1.3 cipher suite",
            alert=ALERT_ILLEGAL_PARAMETER,
            data=suite.to_bytes(2, "big") if 0 <= suite <= 0xFFFF else b"",
        )
    return params


def _hash(hash_name: str) -> hashes.HashAlgorithm:
    try:
        return _HASHES[hash_name]
    except KeyError:
        raise LocalProtocolError(f"no TLS 1.3 suite uses the hash {hash_name!r}") from None


def hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869 section 2.2) as used by RFC 8446 section 7.1."""
    return HKDF.extract(_hash(hash_name), salt, ikm)


def hkdf_expand_label(
    hash_name: str, secret: bytes, label: bytes, context: bytes, length: int
) -> bytes:
    """HKDF-Expand-Label (RFC 8446 section 7.1): the label gets the "tls13 " prefix."""
    full_label = b"tls13 " + label
    if not 0 <= length <= 0xFFFF or len(full_label) > 255 or len(context) > 255:
        raise LocalProtocolError("HkdfLabel fields out of range (RFC 8446 section 7.1)")
    # struct HkdfLabel { uint16 length; opaque label<7..255>; opaque context<0..255>; }
    info = (
        struct.pack("!HB", length, len(full_label)) + full_label + bytes((len(context),)) + context
    )
    return HKDFExpand(_hash(hash_name), length, info).derive(secret)


def derive_secret(hash_name: str, secret: bytes, label: bytes, transcript_hash: bytes) -> bytes:
    """Derive-Secret (RFC 8446 section 7.1), given the transcript hash already computed."""
    hash_len = _hash(hash_name).digest_size
    return hkdf_expand_label(hash_name, secret, label, transcript_hash, hash_len)


def transcript_hash(hash_name: str, *messages: bytes) -> bytes:
    """Transcript-Hash (RFC 8446 section 4.4.1) of whole handshake messages, headers included."""
    digest = hashes.Hash(_hash(hash_name))
    for message in messages:
        digest.update(message)
    return digest.finalize()


def hrr_transcript_prefix(hash_name: str, client_hello1: bytes) -> bytes:
    """The synthetic message_hash message that replaces ClientHello1 after a HelloRetryRequest.

    RFC 8446 section 4.4.1: Transcript-Hash(ClientHello1, HelloRetryRequest, ... Mn) =
    Hash(message_hash || 00 00 Hash.length || Hash(ClientHello1) || HelloRetryRequest || ...).
    """
    inner = transcript_hash(hash_name, client_hello1)
    return bytes((MESSAGE_HASH, 0, 0, len(inner))) + inner


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeSecrets:
    client_handshake_traffic_secret: bytes
    server_handshake_traffic_secret: bytes
    handshake_secret: bytes


def early_secret(suite: int, psk: bytes | None = None) -> bytes:
    """The Early Secret (RFC 8446 section 7.1): HKDF-Extract(0, PSK), with Hash.length zeros
    for the PSK of a full handshake."""
    params = cipher_params(suite)
    zeros = bytes(params.hash_len)
    return hkdf_extract(params.hash_name, zeros, psk if psk is not None else zeros)


def handshake_secrets(
    suite: int, shared_secret: bytes, hello_hash: bytes, *, psk: bytes | None = None
) -> HandshakeSecrets:
    """The handshake traffic secrets (RFC 8446 section 7.1) of a full handshake, or of a
    resumption with (EC)DHE when ``psk`` is the resumption PSK the server accepted.

    ``hello_hash`` is the transcript hash of ClientHello..ServerHello (with the message_hash
    prefix and HelloRetryRequest in front after a retry).
    """
    params = cipher_params(suite)
    name = params.hash_name
    # No PSK: both the salt and the PSK input of the Early Secret are Hash.length zeros.
    early = early_secret(suite, psk)
    derived = derive_secret(name, early, b"derived", transcript_hash(name))
    handshake_secret = hkdf_extract(name, derived, shared_secret)
    return HandshakeSecrets(
        client_handshake_traffic_secret=derive_secret(
            name, handshake_secret, b"c hs traffic", hello_hash
        ),
        server_handshake_traffic_secret=derive_secret(
            name, handshake_secret, b"s hs traffic", hello_hash
        ),
        handshake_secret=handshake_secret,
    )


def traffic_key_iv(suite: int, secret: bytes) -> tuple[bytes, bytes]:
    """The write key and IV of a traffic secret (RFC 8446 section 7.3)."""
    params = cipher_params(suite)
    key = hkdf_expand_label(params.hash_name, secret, b"key", b"", params.key_len)
    iv = hkdf_expand_label(params.hash_name, secret, b"iv", b"", params.iv_len)
    return key, iv


def finished_verify_data(suite: int, base_key: bytes, transcript_hash: bytes) -> bytes:
    """Finished.verify_data (RFC 8446 section 4.4.4).

    ``base_key`` is the sender's handshake traffic secret and ``transcript_hash`` covers
    ClientHello up to (not including) the Finished being checked.
    """
    params = cipher_params(suite)
    algorithm = _hash(params.hash_name)
    finished_key = hkdf_expand_label(params.hash_name, base_key, b"finished", b"", params.hash_len)
    mac = hmac.HMAC(finished_key, algorithm)
    mac.update(transcript_hash)
    return mac.finalize()


_Aead: TypeAlias = AESGCM | ChaCha20Poly1305 | AESCCM


def _make_aead(params: Tls13CipherParams, key: bytes) -> _Aead:
    if params.suite in (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384):
        return AESGCM(key)
    if params.suite == TLS_CHACHA20_POLY1305_SHA256:
        return ChaCha20Poly1305(key)
    return AESCCM(key, tag_length=params.tag_len)


class RecordProtection:
    """AEAD protection of one direction's records under one traffic secret.

    The per-record nonce is the IV XORed with the 64-bit sequence number, which starts at 0
    for each traffic secret and counts every record (RFC 8446 section 5.3). A record that
    fails to decrypt leaves the sequence number where it was.
    """

    __slots__ = ("_aead", "_iv", "_params", "_sequence")

    def __init__(self, suite: int, traffic_secret: bytes) -> None:
        self._params = cipher_params(suite)
        key, iv = traffic_key_iv(suite, traffic_secret)
        self._aead: _Aead = _make_aead(self._params, key)  # built once: construction costs
        self._iv = int.from_bytes(iv, "big")
        self._sequence = 0

    @property
    def sequence(self) -> int:
        """The sequence number the next record will use."""
        return self._sequence

    def _nonce(self) -> bytes:
        if self._sequence >= _SEQUENCE_LIMIT:
            # RFC 8446 section 5.3: the sequence number MUST NOT wrap.
            raise LocalProtocolError("the record sequence number would wrap")
        return (self._iv ^ self._sequence).to_bytes(self._params.iv_len, "big")

    def decrypt(self, header: bytes, ciphertext: bytes) -> tuple[int, bytes]:
        """Open one protected record: (real content type, content without padding).

        ``header`` is the 5-byte record header, which is the AEAD's additional data
        (RFC 8446 section 5.2); ``ciphertext`` is the record body it announces.
        """
        if len(header) != 5:
            raise LocalProtocolError("a TLS record header is 5 bytes")
        if int.from_bytes(header[3:5], "big") != len(ciphertext):
            raise LocalProtocolError("the record header length does not match the ciphertext")
        if len(ciphertext) > MAX_CIPHERTEXT:
            raise RemoteProtocolError(
                f"protected record of {len(ciphertext)} bytes exceeds 2^14 + 256",
                alert=ALERT_RECORD_OVERFLOW,
                data=header,
            )
        try:
            inner = self._aead.decrypt(self._nonce(), ciphertext, header)
        except InvalidTag:
            # RFC 8446 section 5.2: a record that fails to deprotect is bad_record_mac.
            raise RemoteProtocolError(
                "record failed AEAD authentication",
                alert=ALERT_BAD_RECORD_MAC,
                data=header + ciphertext[:59],
            ) from None
        self._sequence += 1
        if len(inner) > MAX_INNER_PLAINTEXT:
            raise RemoteProtocolError(
                f"inner plaintext of {len(inner)} bytes exceeds 2^14 + 1",
                alert=ALERT_RECORD_OVERFLOW,
                data=header,
            )
        # RFC 8446 section 5.4: the real type is the last non-zero byte; a plaintext with
        # none is answered with unexpected_message.
        content = inner.rstrip(b"\x00")
        if not content:
            raise RemoteProtocolError(
                "protected record has no non-zero content type",
                alert=ALERT_UNEXPECTED_MESSAGE,
                data=header,
            )
        return content[-1], content[:-1]

    def encrypt(self, content_type: int, plaintext: bytes, padding: int = 0) -> bytes:
        """A whole protected record: header 23 0x0303 length, then the AEAD output.

        ``padding`` zero bytes follow the real content type (RFC 8446 section 5.4).
        """
        if not 0 < content_type <= 0xFF:
            raise LocalProtocolError(f"content type {content_type} cannot be protected")
        if padding < 0 or len(plaintext) > MAX_PLAINTEXT:
            raise LocalProtocolError("plaintext longer than 2^14 or negative padding")
        inner = plaintext + bytes((content_type,)) + bytes(padding)
        if len(inner) > MAX_INNER_PLAINTEXT:
            raise LocalProtocolError("content, type and padding exceed 2^14 + 1 bytes")
        length = len(inner) + self._params.tag_len
        # RFC 8446 section 5.2: opaque_type is application_data, legacy version 0x0303.
        header = struct.pack("!BHH", APPLICATION_DATA, TLS12, length)
        record = header + self._aead.encrypt(self._nonce(), inner, header)
        self._sequence += 1
        return record
