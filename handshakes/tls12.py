# TLS 1.0-1.2 record decryption from a master secret, enough to read what a capture hides:
# the encrypted Finished messages and encrypted alerts of a TLS 1.2 handshake whose master
# secret a key log (SSLKEYLOGFILE, "CLIENT_RANDOM" lines) gives. The PRF (RFC 5246 section
# 5; RFC 2246 section 5 for TLS 1.0/1.1), the key block (RFC 5246 section 6.3) and the
# AES-GCM (RFC 5288), ChaCha20-Poly1305 (RFC 7905) and AES-CBC (RFC 5246 section 6.2.3.2,
# RFC 7366 encrypt-then-MAC) record formats.
#
# Rules kept: sans-IO (bytes in, bytes out); primitives come from `cryptography`; suites stay
# ints and one not covered here is refused with LocalProtocolError (never guessed); a
# record that does not authenticate raises RemoteProtocolError (bad_record_mac) and leaves
# the sequence number where it was. RecordCipher protects and opens AES-GCM records of one
# direction for the probes that complete a TLS 1.2 handshake (handshakes/renegotiation.py).
from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from handshakes import constants as c
from handshakes import registry as reg
from handshakes.errors import LocalProtocolError, RemoteProtocolError
from handshakes.followup import record

__all__ = ["SUPPORTED", "Tls12Params", "Tls12RecordDecryptor", "key_block", "params_for", "prf"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Tls12Params:
    """How one suite protects records: ``kind`` "gcm", "chacha" or "cbc"; lengths in bytes;
    ``mac`` the HMAC hash of CBC suites; ``prf_hash`` the TLS 1.2 PRF hash."""

    suite: int
    kind: str
    key_len: int
    fixed_iv_len: int
    mac: str
    mac_len: int
    prf_hash: str


def params_for(suite: int) -> Tls12Params:
    """The record protection of a TLS 1.0-1.2 suite. Raises LocalProtocolError for a suite
    this module cannot decrypt (not AES-GCM, ChaCha20-Poly1305 or AES-CBC)."""
    info = reg.cipher_suite(suite)
    if info is None:
        raise LocalProtocolError(f"unknown cipher suite {reg.hex_code(suite)}")
    if info.versions and min(info.versions) >= c.TLS13:
        raise LocalProtocolError(f"{info.iana} is a TLS 1.3 suite (handshakes.tls13 protects its records)")
    enc = info.enc.upper().replace("-", "").replace("_", "")
    prf_hash = "sha384" if info.iana.endswith("SHA384") else "sha256"
    if "GCM" in enc and "AES" in enc:
        return Tls12Params(suite=suite, kind="gcm", key_len=info.bits // 8, fixed_iv_len=4, mac="", mac_len=0, prf_hash=prf_hash)
    if "CHACHA20" in enc:
        return Tls12Params(suite=suite, kind="chacha", key_len=32, fixed_iv_len=12, mac="", mac_len=0, prf_hash=prf_hash)
    if enc.startswith("AES") and "CCM" not in enc and "GCM" not in enc:
        mac = info.mac.upper().replace("-", "")
        name = {"SHA1": "sha1", "SHA": "sha1", "SHA256": "sha256", "SHA384": "sha384"}.get(mac)
        if name is None:
            raise LocalProtocolError(f"{info.iana}: MAC {info.mac} not supported")
        return Tls12Params(
            suite=suite, kind="cbc", key_len=info.bits // 8, fixed_iv_len=16, mac=name,
            mac_len=hashlib.new(name).digest_size, prf_hash=prf_hash,
        )
    raise LocalProtocolError(f"{info.iana}: only AES-GCM, ChaCha20-Poly1305 and AES-CBC suites are decrypted")


def SUPPORTED(suite: int) -> bool:  # noqa: N802 - reads as a constant predicate
    """Can records of this suite be decrypted here?"""
    try:
        params_for(suite)
    except LocalProtocolError:
        return False
    return True


def _p_hash(name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    # RFC 5246 section 5: A(0) = seed, A(i) = HMAC(secret, A(i-1)); output HMAC(A(i) + seed).
    out = bytearray()
    a = seed
    while len(out) < length:
        a = hmac.digest(secret, a, name)
        out += hmac.digest(secret, a + seed, name)
    return bytes(out[:length])


def prf(version: int, hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """The TLS PRF: P_<hash> for TLS 1.2 (RFC 5246 section 5), P_MD5 XOR P_SHA1 over the two
    halves of the secret for TLS 1.0/1.1 (RFC 2246 section 5)."""
    if version >= c.TLS12:
        return _p_hash(hash_name, secret, label + seed, length)
    half = (len(secret) + 1) // 2
    md5 = _p_hash("md5", secret[:half], label + seed, length)
    sha1 = _p_hash("sha1", secret[-half:], label + seed, length)
    return bytes(x ^ y for x, y in zip(md5, sha1, strict=True))


def key_block(
    version: int, params: Tls12Params, master_secret: bytes, client_random: bytes, server_random: bytes
) -> tuple[tuple[bytes, bytes, bytes], tuple[bytes, bytes, bytes]]:
    """((client MAC key, key, IV), (server MAC key, key, IV)) per RFC 5246 section 6.3."""
    # CBC IVs come from the key block in TLS 1.0 only (RFC 4346 section 6.3 made them explicit).
    iv_len = params.fixed_iv_len if params.kind != "cbc" or version <= c.TLS10 else 0
    sizes = (params.mac_len, params.mac_len, params.key_len, params.key_len, iv_len, iv_len)
    block = prf(version, params.prf_hash, master_secret, b"key expansion", server_random + client_random, sum(sizes))
    parts = []
    i = 0
    for n in sizes:
        parts.append(block[i : i + n])
        i += n
    return (parts[0], parts[2], parts[4]), (parts[1], parts[3], parts[5])


class Tls12RecordDecryptor:
    """Opens one direction's protected records after its ChangeCipherSpec. The sequence
    number starts at 0 and counts every record (RFC 5246 section 6.1)."""

    __slots__ = ("_params", "_mac_key", "_key", "_iv", "_seq", "_version", "_etm", "_aead")

    def __init__(
        self, *, version: int, suite: int, master_secret: bytes, client_random: bytes,
        server_random: bytes, client_side: bool, encrypt_then_mac: bool = False,
    ) -> None:
        self._params = params_for(suite)
        self._version = version
        client, server = key_block(version, self._params, master_secret, client_random, server_random)
        self._mac_key, self._key, self._iv = client if client_side else server
        self._seq = 0
        self._etm = encrypt_then_mac and self._params.kind == "cbc"
        self._aead: AESGCM | ChaCha20Poly1305 | None = None
        if self._params.kind == "gcm":
            self._aead = AESGCM(self._key)
        elif self._params.kind == "chacha":
            self._aead = ChaCha20Poly1305(self._key)

    def _bad(self, header: bytes) -> RemoteProtocolError:
        # RFC 5246 section 7.2.2: a record that does not authenticate is bad_record_mac.
        return RemoteProtocolError("record failed authentication", alert=c.ALERT_BAD_RECORD_MAC, data=header)

    def decrypt(self, header: bytes, body: bytes) -> bytes:
        """The plaintext of one record (``header`` its 5 bytes, ``body`` what it announces).
        Raises RemoteProtocolError when the record does not authenticate."""
        ctype, version = header[0], (header[1] << 8) | header[2]
        seq = struct.pack("!Q", self._seq)
        if self._aead is not None:
            if self._params.kind == "gcm":
                # RFC 5288 section 3: nonce = 4-byte salt from the key block + 8 explicit bytes.
                if len(body) < 8 + 16:
                    raise self._bad(header)
                nonce, ciphertext = self._iv + body[:8], body[8:]
            else:
                # RFC 7905 section 2: nonce = IV XOR the sequence number, left-padded.
                if len(body) < 16:
                    raise self._bad(header)
                nonce = bytes(a ^ b for a, b in zip(self._iv, bytes(4) + seq, strict=True))
                ciphertext = body
            aad = seq + struct.pack("!BHH", ctype, version, len(ciphertext) - 16)
            try:
                plain = self._aead.decrypt(nonce, ciphertext, aad)
            except InvalidTag:
                raise self._bad(header) from None
        else:
            plain = self._cbc(header, body, seq, ctype, version)
        self._seq += 1
        return plain

    def _cbc(self, header: bytes, body: bytes, seq: bytes, ctype: int, version: int) -> bytes:
        mac_len = self._params.mac_len
        if self._etm:
            # RFC 7366 section 3: the MAC covers the IV and ciphertext, and follows them.
            if len(body) < mac_len + 16:
                raise self._bad(header)
            enc, tag = body[:-mac_len], body[-mac_len:]
            want = hmac.digest(self._mac_key, seq + struct.pack("!BHH", ctype, version, len(enc)) + enc, self._params.mac)
            if not hmac.compare_digest(want, tag):
                raise self._bad(header)
        else:
            enc = body
        explicit = self._version >= c.TLS11
        if explicit:
            iv, enc = enc[:16], enc[16:]
        else:
            iv = self._iv
        if not enc or len(enc) % 16:
            raise self._bad(header)
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(enc) + decryptor.finalize()
        if not explicit:
            self._iv = enc[-16:]  # TLS 1.0 chains the IV (RFC 2246 section 6.2.3.2)
        pad = padded[-1] + 1
        if pad > len(padded):
            raise self._bad(header)
        inner = padded[:-pad]
        if self._etm:
            return inner
        if len(inner) < mac_len:
            raise self._bad(header)
        plain, tag = inner[: len(inner) - mac_len], inner[len(inner) - mac_len :]
        want = hmac.digest(self._mac_key, seq + struct.pack("!BHH", ctype, version, len(plain)) + plain, self._params.mac)
        if not hmac.compare_digest(want, tag):
            raise self._bad(header)
        return plain


class RecordCipher:
    """AES-GCM record protection of one direction (RFC 5288 section 3): nonce = 4-byte
    implicit salt + 8-byte explicit part sent with each record; additional data =
    seq_num + type + version + plaintext length (RFC 5246 section 6.2.3.3)."""

    def __init__(self, key: bytes, salt: bytes) -> None:
        self._aead = AESGCM(key)
        self._salt = salt
        self.seq = 0

    def seal(self, content_type: int, plaintext: bytes) -> bytes:
        explicit = self.seq.to_bytes(8, "big")
        aad = self.seq.to_bytes(8, "big") + struct.pack(">BHH", content_type, c.TLS12, len(plaintext))
        self.seq += 1
        return record(content_type, c.TLS12, explicit + self._aead.encrypt(self._salt + explicit, plaintext, aad))

    def open(self, content_type: int, payload: bytes) -> bytes:
        if len(payload) < 8 + 16:
            raise RemoteProtocolError("encrypted record too short", alert=c.ALERT_BAD_RECORD_MAC)
        explicit, body = payload[:8], payload[8:]
        aad = self.seq.to_bytes(8, "big") + struct.pack(">BHH", content_type, c.TLS12, len(body) - 16)
        self.seq += 1
        try:
            return self._aead.decrypt(self._salt + explicit, body, aad)
        except Exception as exc:  # cryptography's InvalidTag
            raise RemoteProtocolError("record does not decrypt", alert=c.ALERT_BAD_RECORD_MAC) from exc
