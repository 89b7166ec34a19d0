# Key shares for the TLS 1.3 key_share extension (RFC 8446 section 4.2.8): one ephemeral
# key pair per named group, its public half encoded exactly as a KeyShareEntry carries it,
# and the exchange with the server's share. Group codes stay ints. The private half never
# leaves this module and never appears in a repr. A peer share that is malformed raises
# RemoteProtocolError(alert=illegal_parameter); a group we cannot generate raises
# LocalProtocolError. Key generation is the expensive part: a scan keeps one pair per
# group in a KeySharePool, which is safe because a probe never completes a key exchange.
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x448, x25519
from cryptography.utils import CryptographyDeprecationWarning

from handshakes.constants import ALERT_ILLEGAL_PARAMETER
from handshakes.errors import LocalProtocolError, RemoteProtocolError

# cryptography 50 deprecates finite-field DH and warns on every attribute access of its dh
# module. FFDHE is still a TLS 1.3 group that servers select (RFC 7919), so the names are
# bound once here with that warning silenced, instead of warning on every probe.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    from cryptography.hazmat.primitives.asymmetric.dh import (
        DHParameterNumbers,
        DHPrivateKey,
        DHPrivateNumbers,
        DHPublicNumbers,
    )

# Named groups (IANA TLS Supported Groups; RFC 8446 section 4.2.7, RFC 7919,
# draft-ietf-tls-ecdhe-mlkem).
SECP256R1 = 0x0017
SECP384R1 = 0x0018
SECP521R1 = 0x0019
X25519 = 0x001D
X448 = 0x001E
FFDHE2048 = 0x0100
FFDHE3072 = 0x0101
FFDHE4096 = 0x0102
FFDHE6144 = 0x0103
FFDHE8192 = 0x0104
X25519MLKEM768 = 0x11EC

# The RFC 7919 primes, all with generator 2. Each is
# p = 2^b - 2^{b-64} + {[2^{b-130} e] + X} * 2^64 - 1 for the X the appendix gives;
# tests/handshakes/test_keyshare.py recomputes them from that formula.
# RFC 7919 appendix A.1: ffdhe2048.
_FFDHE2048_P = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B423861285C97FFFFFFFFFFFFFFFF",
    16,
)
# RFC 7919 appendix A.2: ffdhe3072.
_FFDHE3072_P = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B4238611FCFDCDE355B3B6519035B"
    "BC34F4DEF99C023861B46FC9D6E6C9077AD91D2691F7F7EE598CB0FAC186D91C"
    "AEFE130985139270B4130C93BC437944F4FD4452E2D74DD364F2E21E71F54BFF"
    "5CAE82AB9C9DF69EE86D2BC522363A0DABC521979B0DEADA1DBF9A42D5C4484E"
    "0ABCD06BFA53DDEF3C1B20EE3FD59D7C25E41D2B66C62E37FFFFFFFFFFFFFFFF",
    16,
)
# RFC 7919 appendix A.3: ffdhe4096.
_FFDHE4096_P = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B4238611FCFDCDE355B3B6519035B"
    "BC34F4DEF99C023861B46FC9D6E6C9077AD91D2691F7F7EE598CB0FAC186D91C"
    "AEFE130985139270B4130C93BC437944F4FD4452E2D74DD364F2E21E71F54BFF"
    "5CAE82AB9C9DF69EE86D2BC522363A0DABC521979B0DEADA1DBF9A42D5C4484E"
    "0ABCD06BFA53DDEF3C1B20EE3FD59D7C25E41D2B669E1EF16E6F52C3164DF4FB"
    "7930E9E4E58857B6AC7D5F42D69F6D187763CF1D5503400487F55BA57E31CC7A"
    "7135C886EFB4318AED6A1E012D9E6832A907600A918130C46DC778F971AD0038"
    "092999A333CB8B7A1A1DB93D7140003C2A4ECEA9F98D0ACC0A8291CDCEC97DCF"
    "8EC9B55A7F88A46B4DB5A851F44182E1C68A007E5E655F6AFFFFFFFFFFFFFFFF",
    16,
)
# RFC 7919 appendix A.4: ffdhe6144.
_FFDHE6144_P = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B4238611FCFDCDE355B3B6519035B"
    "BC34F4DEF99C023861B46FC9D6E6C9077AD91D2691F7F7EE598CB0FAC186D91C"
    "AEFE130985139270B4130C93BC437944F4FD4452E2D74DD364F2E21E71F54BFF"
    "5CAE82AB9C9DF69EE86D2BC522363A0DABC521979B0DEADA1DBF9A42D5C4484E"
    "0ABCD06BFA53DDEF3C1B20EE3FD59D7C25E41D2B669E1EF16E6F52C3164DF4FB"
    "7930E9E4E58857B6AC7D5F42D69F6D187763CF1D5503400487F55BA57E31CC7A"
    "7135C886EFB4318AED6A1E012D9E6832A907600A918130C46DC778F971AD0038"
    "092999A333CB8B7A1A1DB93D7140003C2A4ECEA9F98D0ACC0A8291CDCEC97DCF"
    "8EC9B55A7F88A46B4DB5A851F44182E1C68A007E5E0DD9020BFD64B645036C7A"
    "4E677D2C38532A3A23BA4442CAF53EA63BB454329B7624C8917BDD64B1C0FD4C"
    "B38E8C334C701C3ACDAD0657FCCFEC719B1F5C3E4E46041F388147FB4CFDB477"
    "A52471F7A9A96910B855322EDB6340D8A00EF092350511E30ABEC1FFF9E3A26E"
    "7FB29F8C183023C3587E38DA0077D9B4763E4E4B94B2BBC194C6651E77CAF992"
    "EEAAC0232A281BF6B3A739C1226116820AE8DB5847A67CBEF9C9091B462D538C"
    "D72B03746AE77F5E62292C311562A846505DC82DB854338AE49F5235C95B9117"
    "8CCF2DD5CACEF403EC9D1810C6272B045B3B71F9DC6B80D63FDD4A8E9ADB1E69"
    "62A69526D43161C1A41D570D7938DAD4A40E329CD0E40E65FFFFFFFFFFFFFFFF",
    16,
)
# RFC 7919 appendix A.5: ffdhe8192.
_FFDHE8192_P = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B4238611FCFDCDE355B3B6519035B"
    "BC34F4DEF99C023861B46FC9D6E6C9077AD91D2691F7F7EE598CB0FAC186D91C"
    "AEFE130985139270B4130C93BC437944F4FD4452E2D74DD364F2E21E71F54BFF"
    "5CAE82AB9C9DF69EE86D2BC522363A0DABC521979B0DEADA1DBF9A42D5C4484E"
    "0ABCD06BFA53DDEF3C1B20EE3FD59D7C25E41D2B669E1EF16E6F52C3164DF4FB"
    "7930E9E4E58857B6AC7D5F42D69F6D187763CF1D5503400487F55BA57E31CC7A"
    "7135C886EFB4318AED6A1E012D9E6832A907600A918130C46DC778F971AD0038"
    "092999A333CB8B7A1A1DB93D7140003C2A4ECEA9F98D0ACC0A8291CDCEC97DCF"
    "8EC9B55A7F88A46B4DB5A851F44182E1C68A007E5E0DD9020BFD64B645036C7A"
    "4E677D2C38532A3A23BA4442CAF53EA63BB454329B7624C8917BDD64B1C0FD4C"
    "B38E8C334C701C3ACDAD0657FCCFEC719B1F5C3E4E46041F388147FB4CFDB477"
    "A52471F7A9A96910B855322EDB6340D8A00EF092350511E30ABEC1FFF9E3A26E"
    "7FB29F8C183023C3587E38DA0077D9B4763E4E4B94B2BBC194C6651E77CAF992"
    "EEAAC0232A281BF6B3A739C1226116820AE8DB5847A67CBEF9C9091B462D538C"
    "D72B03746AE77F5E62292C311562A846505DC82DB854338AE49F5235C95B9117"
    "8CCF2DD5CACEF403EC9D1810C6272B045B3B71F9DC6B80D63FDD4A8E9ADB1E69"
    "62A69526D43161C1A41D570D7938DAD4A40E329CCFF46AAA36AD004CF600C838"
    "1E425A31D951AE64FDB23FCEC9509D43687FEB69EDD1CC5E0B8CC3BDF64B10EF"
    "86B63142A3AB8829555B2F747C932665CB2C0F1CC01BD70229388839D2AF05E4"
    "54504AC78B7582822846C0BA35C35F5C59160CC046FD8251541FC68C9C86B022"
    "BB7099876A460E7451A8A93109703FEE1C217E6C3826E52C51AA691E0E423CFC"
    "99E9E31650C1217B624816CDAD9A95F9D5B8019488D9C0A0A1FE3075A577E231"
    "83F81D4A3F2FA4571EFC8CE0BA8A4FE8B6855DFE72B0A66EDED2FBABFBE58A30"
    "FAFABE1C5D71A87E2F741EF8C1FE86FEA6BBFDE530677F0D97D11D49F7A8443D"
    "0822E506A9F4614E011E2A94838FF88CD68C8BB7C5C6424CFFFFFFFFFFFFFFFF",
    16,
)

_FFDHE_PRIMES: dict[int, int] = {
    FFDHE2048: _FFDHE2048_P,
    FFDHE3072: _FFDHE3072_P,
    FFDHE4096: _FFDHE4096_P,
    FFDHE6144: _FFDHE6144_P,
    FFDHE8192: _FFDHE8192_P,
}
_FFDHE_GENERATOR = 2

_EC_CURVES: dict[int, ec.EllipticCurve] = {
    SECP256R1: ec.SECP256R1(),
    SECP384R1: ec.SECP384R1(),
    SECP521R1: ec.SECP521R1(),
}

# Sizes fixed by the encodings: RFC 7748 section 5 (X25519, X448), FIPS 203 table 3
# (ML-KEM-768 encapsulation key, ciphertext and decapsulation seed).
_X25519_LEN = 32
_X448_LEN = 56
_MLKEM768_EK_LEN = 1184
_MLKEM768_CT_LEN = 1088
_MLKEM_SEED_LEN = 64

SUPPORTED_KEY_SHARE_GROUPS: tuple[int, ...] = (
    X25519,
    X448,
    SECP256R1,
    SECP384R1,
    SECP521R1,
    FFDHE2048,
    FFDHE3072,
    FFDHE4096,
    FFDHE6144,
    FFDHE8192,
    X25519MLKEM768,
)


@dataclass(frozen=True, slots=True)
class _HybridPrivate:
    # The two halves of an X25519MLKEM768 key pair (draft-ietf-tls-ecdhe-mlkem section 3).
    mlkem: mlkem.MLKEM768PrivateKey
    x25519: x25519.X25519PrivateKey


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class KeyShare:
    """One ephemeral key pair for ``group``.

    ``public`` is the key_exchange field of a KeyShareEntry (RFC 8446 section 4.2.8.2):
    the raw u-coordinate for X25519/X448, the uncompressed point 0x04||X||Y for the NIST
    curves, Y left-padded to the size of p for FFDHE (section 4.2.8.1), and the ML-KEM-768
    encapsulation key followed by the X25519 public key for X25519MLKEM768.
    """

    group: int
    public: bytes
    _private: object = field(repr=False)

    @classmethod
    def from_private(cls, group: int, private_key: bytes) -> KeyShare:
        """Rebuild a share from known private bytes (test vectors such as RFC 8448).

        The private bytes are the raw X25519/X448 scalar, the big-endian EC scalar or
        FFDHE exponent, or for X25519MLKEM768 the 64-byte ML-KEM seed followed by the
        32-byte X25519 scalar.
        """
        try:
            if group == X25519:
                return _x25519_share(x25519.X25519PrivateKey.from_private_bytes(private_key))
            if group == X448:
                return _x448_share(x448.X448PrivateKey.from_private_bytes(private_key))
            if group in _EC_CURVES:
                scalar = int.from_bytes(private_key, "big")
                return _ec_share(group, ec.derive_private_key(scalar, _EC_CURVES[group]))
            if group in _FFDHE_PRIMES:
                p = _FFDHE_PRIMES[group]
                x = int.from_bytes(private_key, "big")
                if not 1 < x < p - 1:
                    raise ValueError("the FFDHE exponent is out of range")
                params = DHParameterNumbers(p, _FFDHE_GENERATOR)
                public = DHPublicNumbers(pow(_FFDHE_GENERATOR, x, p), params)
                return _ffdhe_share(group, DHPrivateNumbers(x, public).private_key())
            if group == X25519MLKEM768:
                if len(private_key) != _MLKEM_SEED_LEN + _X25519_LEN:
                    raise ValueError("expected a 64-byte ML-KEM seed and a 32-byte X25519 key")
                return _hybrid_share(
                    mlkem.MLKEM768PrivateKey.from_seed_bytes(private_key[:_MLKEM_SEED_LEN]),
                    x25519.X25519PrivateKey.from_private_bytes(private_key[_MLKEM_SEED_LEN:]),
                )
        except ValueError as exc:
            raise LocalProtocolError(f"bad private key for group 0x{group:04X}: {exc}") from exc
        raise LocalProtocolError(f"cannot build a key share for group 0x{group:04X}")

    def exchange(self, peer: bytes) -> bytes:
        """The shared secret with the server's key_exchange bytes (RFC 8446 section 7.4)."""
        peer = bytes(peer)
        group = self.group
        private = self._private
        if isinstance(private, x25519.X25519PrivateKey):
            return _x25519_exchange(private, peer)
        if isinstance(private, x448.X448PrivateKey):
            _expect_length(group, peer, _X448_LEN)
            try:
                return private.exchange(x448.X448PublicKey.from_public_bytes(peer))
            except ValueError as exc:
                # RFC 8446 section 7.4.2: an all-zero X448 result must be rejected.
                raise _illegal(group, f"X448 exchange failed: {exc}", peer) from exc
        if isinstance(private, ec.EllipticCurvePrivateKey):
            return _ec_exchange(group, private, peer)
        if isinstance(private, DHPrivateKey):
            return _ffdhe_exchange(group, private, peer)
        if isinstance(private, _HybridPrivate):
            # The server's share is the ML-KEM ciphertext followed by its X25519 public
            # key; the secret is the ML-KEM secret followed by the X25519 secret
            # (draft-ietf-tls-ecdhe-mlkem section 3).
            _expect_length(group, peer, _MLKEM768_CT_LEN + _X25519_LEN)
            try:
                mlkem_secret = private.mlkem.decapsulate(peer[:_MLKEM768_CT_LEN])
            except ValueError as exc:
                raise _illegal(group, f"ML-KEM decapsulation failed: {exc}", peer) from exc
            return mlkem_secret + _x25519_exchange(private.x25519, peer[_MLKEM768_CT_LEN:])
        raise LocalProtocolError(f"key share for group 0x{group:04X} holds no usable key")


def generate_key_share(group: int) -> KeyShare:
    """A fresh key pair for ``group``; LocalProtocolError if we cannot generate one."""
    if group == X25519:
        return _x25519_share(x25519.X25519PrivateKey.generate())
    if group == X448:
        return _x448_share(x448.X448PrivateKey.generate())
    if group in _EC_CURVES:
        return _ec_share(group, ec.generate_private_key(_EC_CURVES[group]))
    if group in _FFDHE_PRIMES:
        params = DHParameterNumbers(_FFDHE_PRIMES[group], _FFDHE_GENERATOR).parameters()
        return _ffdhe_share(group, params.generate_private_key())
    if group == X25519MLKEM768:
        return _hybrid_share(
            mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate()
        )
    raise LocalProtocolError(f"cannot generate a key share for group 0x{group:04X}")


class KeySharePool:
    """One key pair per group, generated on first use and reused for every probe.

    Reuse is safe because a probe stops reading after the server's first flight and never
    completes a key exchange. Not thread-safe: one pool belongs to one trio run.
    """

    __slots__ = ("_shares",)

    def __init__(self) -> None:
        self._shares: dict[int, KeyShare] = {}

    def get(self, group: int) -> KeyShare:
        share = self._shares.get(group)
        if share is None:
            share = self._shares[group] = generate_key_share(group)
        return share


def _x25519_share(private: x25519.X25519PrivateKey) -> KeyShare:
    return KeyShare(group=X25519, public=private.public_key().public_bytes_raw(), _private=private)


def _x448_share(private: x448.X448PrivateKey) -> KeyShare:
    return KeyShare(group=X448, public=private.public_key().public_bytes_raw(), _private=private)


def _ec_share(group: int, private: ec.EllipticCurvePrivateKey) -> KeyShare:
    # RFC 8446 section 4.2.8.2: UncompressedPointRepresentation, legacy_form 4.
    numbers = private.public_key().public_numbers()
    size = _coordinate_size(private.curve)
    public = b"\x04" + numbers.x.to_bytes(size, "big") + numbers.y.to_bytes(size, "big")
    return KeyShare(group=group, public=public, _private=private)


def _ffdhe_share(group: int, private: DHPrivateKey) -> KeyShare:
    # RFC 8446 section 4.2.8.1: Y, big-endian, left-padded with zeros to the size of p.
    size = _byte_size(_FFDHE_PRIMES[group])
    public = private.public_key().public_numbers().y.to_bytes(size, "big")
    return KeyShare(group=group, public=public, _private=private)


def _hybrid_share(mlkem_key: mlkem.MLKEM768PrivateKey, x_key: x25519.X25519PrivateKey) -> KeyShare:
    # draft-ietf-tls-ecdhe-mlkem section 3: the client's share is the ML-KEM-768
    # encapsulation key followed by the X25519 public key.
    public = mlkem_key.public_key().public_bytes_raw() + x_key.public_key().public_bytes_raw()
    return KeyShare(
        group=X25519MLKEM768, public=public, _private=_HybridPrivate(mlkem=mlkem_key, x25519=x_key)
    )


def _x25519_exchange(private: x25519.X25519PrivateKey, peer: bytes) -> bytes:
    _expect_length(X25519, peer, _X25519_LEN)
    try:
        return private.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
    except ValueError as exc:
        # RFC 8446 section 7.4.2: an all-zero X25519 result must be rejected.
        raise _illegal(X25519, f"X25519 exchange failed: {exc}", peer) from exc


def _ec_exchange(group: int, private: ec.EllipticCurvePrivateKey, peer: bytes) -> bytes:
    size = _coordinate_size(private.curve)
    _expect_length(group, peer, 1 + 2 * size)
    if peer[0] != 4:
        # RFC 8446 section 4.2.8.2: only the uncompressed form is allowed in TLS 1.3.
        raise _illegal(group, "the EC point is not in uncompressed form", peer)
    try:
        # from_encoded_point checks that the point is on the curve (RFC 8446 section 4.2.8.2).
        peer_key = ec.EllipticCurvePublicKey.from_encoded_point(private.curve, peer)
        secret = private.exchange(ec.ECDH(), peer_key)
    except ValueError as exc:
        raise _illegal(group, f"invalid EC point: {exc}", peer) from exc
    # RFC 8446 section 7.4.2: the shared secret is the x-coordinate, field-sized.
    return secret.rjust(size, b"\x00")


def _ffdhe_exchange(group: int, private: DHPrivateKey, peer: bytes) -> bytes:
    p = _FFDHE_PRIMES[group]
    size = _byte_size(p)
    _expect_length(group, peer, size)
    y = int.from_bytes(peer, "big")
    if not 1 < y < p - 1:
        # RFC 8446 section 4.2.8.1: peers MUST check 1 < Y < p-1.
        raise _illegal(group, "the FFDHE public value is out of range", peer)
    try:
        peer_key = DHPublicNumbers(y, DHParameterNumbers(p, _FFDHE_GENERATOR)).public_key()
        secret = private.exchange(peer_key)
    except ValueError as exc:
        raise _illegal(group, f"FFDHE exchange failed: {exc}", peer) from exc
    # RFC 8446 section 7.4.1: the secret is left-padded with zeros to the size of p.
    return secret.rjust(size, b"\x00")


def _expect_length(group: int, peer: bytes, length: int) -> None:
    if len(peer) != length:
        raise _illegal(
            group, f"key_exchange is {len(peer)} bytes, group 0x{group:04X} needs {length}", peer
        )


def _illegal(group: int, message: str, peer: bytes) -> RemoteProtocolError:
    return RemoteProtocolError(
        f"server key share for group 0x{group:04X}: {message}",
        alert=ALERT_ILLEGAL_PARAMETER,
        data=peer,
    )


def _coordinate_size(curve: ec.EllipticCurve) -> int:
    return (curve.key_size + 7) // 8


def _byte_size(n: int) -> int:
    return (n.bit_length() + 7) // 8
