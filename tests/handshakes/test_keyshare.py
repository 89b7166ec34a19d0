# Key shares for every group the scanner offers: generation and encodings, agreement with
# a server simulated by cryptography itself, known answers (RFC 7748, RFC 7919), and the
# rejection of malformed server shares with illegal_parameter.
from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, mlkem, x448, x25519
from hypothesis import given, settings
from hypothesis import strategies as st

from handshakes import keyshare
from handshakes.errors import LocalProtocolError, RemoteProtocolError
from handshakes.keyshare import (
    FFDHE2048,
    FFDHE3072,
    FFDHE4096,
    FFDHE6144,
    FFDHE8192,
    SECP256R1,
    SECP384R1,
    SECP521R1,
    SUPPORTED_KEY_SHARE_GROUPS,
    X448,
    X25519,
    X25519MLKEM768,
    KeyShare,
    KeySharePool,
    generate_key_share,
)

ignore_ffdh_deprecation = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning"
)

PUBLIC_LENGTHS = {
    X25519: 32,
    X448: 56,
    SECP256R1: 65,
    SECP384R1: 97,
    SECP521R1: 133,
    FFDHE2048: 256,
    FFDHE3072: 384,
    FFDHE4096: 512,
    FFDHE6144: 768,
    FFDHE8192: 1024,
    X25519MLKEM768: 1184 + 32,
}
EC_CURVES = {SECP256R1: ec.SECP256R1(), SECP384R1: ec.SECP384R1(), SECP521R1: ec.SECP521R1()}

# RFC 7919 appendix A: p = 2^b - 2^{b-64} + {[2^{b-130} e] + X} * 2^64 - 1, g = 2.
FFDHE_BITS_AND_X = {
    FFDHE2048: (2048, 560316),
    FFDHE3072: (3072, 2625351),
    FFDHE4096: (4096, 5736041),
    FFDHE6144: (6144, 15705020),
    FFDHE8192: (8192, 10965728),
}


def _e_fixed_point(bits: int) -> int:
    # floor(e * 2^bits) from the series sum 1/k!, with guard bits for the truncations.
    guard = 64
    one = 1 << (bits + guard)
    total, term, k = 0, one, 0
    while term:
        total += term
        k += 1
        term //= k
    return total >> guard


def _rfc7919_prime(group: int) -> int:
    b, x = FFDHE_BITS_AND_X[group]
    e_floor = _e_fixed_point(b - 130)
    return (1 << b) - (1 << (b - 64)) + ((e_floor + x) << 64) - 1


def _reject(share: KeyShare, peer: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        share.exchange(peer)
    assert info.value.alert == 47


# ---------------------------------------------------------------------------------------
# Generation


@pytest.mark.parametrize("group", SUPPORTED_KEY_SHARE_GROUPS)
def test_every_supported_group_generates(group: int) -> None:
    share = generate_key_share(group)
    assert share.group == group
    assert isinstance(share.public, bytes)
    assert len(share.public) == PUBLIC_LENGTHS[group]
    assert generate_key_share(group).public != share.public  # fresh each time


def test_supported_groups_are_the_expected_codes() -> None:
    assert set(SUPPORTED_KEY_SHARE_GROUPS) == set(PUBLIC_LENGTHS)
    assert isinstance(SUPPORTED_KEY_SHARE_GROUPS, tuple)


@pytest.mark.parametrize("group", [0x0000, 0x0001, 0x0016, 0x001A, 0x0105, 0x11EB, 0xFFFF])
def test_unsupported_group_is_local_protocol_error(group: int) -> None:
    with pytest.raises(LocalProtocolError):
        generate_key_share(group)
    with pytest.raises(LocalProtocolError):
        KeyShare.from_private(group, bytes(32))


@pytest.mark.parametrize("group", list(EC_CURVES))
def test_ec_public_is_an_uncompressed_point_on_the_curve(group: int) -> None:
    share = generate_key_share(group)
    assert share.public[0] == 0x04  # RFC 8446 section 4.2.8.2
    ec.EllipticCurvePublicKey.from_encoded_point(EC_CURVES[group], share.public)


@pytest.mark.parametrize("group", list(FFDHE_BITS_AND_X))
def test_ffdhe_primes_match_rfc7919_formula(group: int) -> None:
    p = _rfc7919_prime(group)
    assert keyshare._FFDHE_PRIMES[group] == p
    share = generate_key_share(group)
    assert 1 < int.from_bytes(share.public, "big") < p - 1


def test_ffdhe2048_prime_begins_as_published() -> None:
    prime_hex = format(keyshare._FFDHE_PRIMES[FFDHE2048], "X")
    assert prime_hex.startswith("FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1")
    assert prime_hex.endswith("61285C97FFFFFFFFFFFFFFFF")


def test_private_key_never_in_repr() -> None:
    private = bytes.fromhex("49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005")
    share = KeyShare.from_private(X25519, private)
    for text in (repr(share), str(share)):
        assert "_private" not in text
        assert private.hex() not in text
        assert repr(private)[2:-1] not in text
        assert "X25519PrivateKey" not in text
    assert repr(share.public) in repr(share)


def test_key_share_is_frozen() -> None:
    share = generate_key_share(X25519)
    with pytest.raises(dataclasses.FrozenInstanceError):
        share.public = b"x"  # type: ignore[misc]


# ---------------------------------------------------------------------------------------
# Known answers


def test_rfc7748_x25519() -> None:
    # RFC 7748 section 6.1.
    alice = KeyShare.from_private(
        X25519, bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    )
    assert alice.public == bytes.fromhex(
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    )
    bob_public = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    assert alice.exchange(bob_public) == bytes.fromhex(
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    )


def test_rfc7748_x448() -> None:
    # RFC 7748 section 6.2.
    alice = KeyShare.from_private(
        X448,
        bytes.fromhex(
            "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28d"
            "d9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b"
        ),
    )
    assert alice.public == bytes.fromhex(
        "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c"
        "22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0"
    )
    bob_public = bytes.fromhex(
        "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b430"
        "27d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609"
    )
    assert alice.exchange(bob_public) == bytes.fromhex(
        "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282b"
        "b60c0b56fd2464c335543936521c24403085d59a449a5037514a879d"
    )


@pytest.mark.parametrize("group", list(EC_CURVES))
def test_from_private_ec_matches_cryptography(group: int) -> None:
    server = ec.generate_private_key(EC_CURVES[group])
    scalar = server.private_numbers().private_value
    size = (EC_CURVES[group].key_size + 7) // 8
    share = KeyShare.from_private(group, scalar.to_bytes(size, "big"))
    expected = server.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert share.public == expected


def test_from_private_hybrid_layout() -> None:
    seed, scalar = bytes(range(64)), bytes(range(100, 132))
    share = KeyShare.from_private(X25519MLKEM768, seed + scalar)
    mlkem_public = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed).public_key().public_bytes_raw()
    x_public = x25519.X25519PrivateKey.from_private_bytes(scalar).public_key().public_bytes_raw()
    assert share.public == mlkem_public + x_public


@pytest.mark.parametrize(
    ("group", "private"),
    [
        (X25519, bytes(31)),
        (X448, bytes(32)),
        (SECP256R1, bytes(32)),  # scalar 0
        (FFDHE2048, b"\x01"),
        (X25519MLKEM768, bytes(64)),
    ],
)
def test_from_private_rejects_bad_keys(group: int, private: bytes) -> None:
    with pytest.raises(LocalProtocolError):
        KeyShare.from_private(group, private)


# ---------------------------------------------------------------------------------------
# Agreement with a simulated server


def test_x25519_agrees_with_server() -> None:
    client = generate_key_share(X25519)
    server = x25519.X25519PrivateKey.generate()
    expected = server.exchange(x25519.X25519PublicKey.from_public_bytes(client.public))
    assert client.exchange(server.public_key().public_bytes_raw()) == expected


def test_x448_agrees_with_server() -> None:
    client = generate_key_share(X448)
    server = x448.X448PrivateKey.generate()
    expected = server.exchange(x448.X448PublicKey.from_public_bytes(client.public))
    assert client.exchange(server.public_key().public_bytes_raw()) == expected


@pytest.mark.parametrize("group", list(EC_CURVES))
def test_ec_agrees_with_server(group: int) -> None:
    client = generate_key_share(group)
    server = ec.generate_private_key(EC_CURVES[group])
    client_key = ec.EllipticCurvePublicKey.from_encoded_point(EC_CURVES[group], client.public)
    expected = server.exchange(ec.ECDH(), client_key)
    server_share = server.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    secret = client.exchange(server_share)
    assert secret == expected
    assert len(secret) == (EC_CURVES[group].key_size + 7) // 8


@ignore_ffdh_deprecation
@pytest.mark.parametrize("group", list(FFDHE_BITS_AND_X))
def test_ffdhe_agrees_with_server(group: int) -> None:
    p = _rfc7919_prime(group)
    size = (p.bit_length() + 7) // 8
    client = generate_key_share(group)
    server = dh.DHParameterNumbers(p, 2).parameters().generate_private_key()
    client_key = dh.DHPublicNumbers(
        int.from_bytes(client.public, "big"), dh.DHParameterNumbers(p, 2)
    )
    expected = server.exchange(client_key.public_key())
    # RFC 8446 section 7.4.1: the secret is left-padded to the size of p.
    expected = expected.rjust(size, b"\x00")
    server_y = server.public_key().public_numbers().y.to_bytes(size, "big")
    secret = client.exchange(server_y)
    assert secret == expected
    assert len(secret) == size


def test_x25519mlkem768_agrees_with_server() -> None:
    # draft-ietf-tls-ecdhe-mlkem: the server encapsulates to the client's ML-KEM-768 key,
    # answers with ciphertext || its X25519 public key; the secret is
    # ML-KEM secret || X25519 secret.
    client = generate_key_share(X25519MLKEM768)
    encapsulation_key = mlkem.MLKEM768PublicKey.from_public_bytes(client.public[:1184])
    mlkem_secret, ciphertext = encapsulation_key.encapsulate()
    assert len(ciphertext) == 1088
    server_x = x25519.X25519PrivateKey.generate()
    x_secret = server_x.exchange(x25519.X25519PublicKey.from_public_bytes(client.public[1184:]))
    server_share = ciphertext + server_x.public_key().public_bytes_raw()
    secret = client.exchange(server_share)
    assert secret == mlkem_secret + x_secret
    assert len(secret) == 64


# ---------------------------------------------------------------------------------------
# Malformed server shares


@pytest.mark.parametrize(
    "peer",
    [
        b"",
        bytes(31),
        bytes(33),
        bytes(32),  # u = 0: all-zero result (RFC 8446 section 7.4.2)
        b"\x01" + bytes(31),  # u = 1, a low-order point: all-zero result
    ],
)
def test_bad_x25519_share(peer: bytes) -> None:
    _reject(generate_key_share(X25519), peer)


@pytest.mark.parametrize("peer", [bytes(55), bytes(57), bytes(56), b"\x01" + bytes(55)])
def test_bad_x448_share(peer: bytes) -> None:
    _reject(generate_key_share(X448), peer)


@pytest.mark.parametrize("group", list(EC_CURVES))
def test_bad_ec_share(group: int) -> None:
    client = generate_key_share(group)
    good = generate_key_share(group).public
    size = (len(good) - 1) // 2
    off_curve = good[:-1] + bytes((good[-1] ^ 0x01,))
    compressed = bytes((2 + (good[-1] & 1),)) + good[1 : 1 + size]
    for peer in (
        b"",
        good[:-1],
        good + b"\x00",
        off_curve,
        compressed,  # legal in SEC1, not in TLS 1.3 (RFC 8446 section 4.2.8.2)
        b"\x05" + good[1:],  # wrong form byte, right length
        b"\x04" + bytes(2 * size),  # the point at infinity is not on the curve
    ):
        _reject(client, peer)
    client.exchange(good)  # and the share is still usable


@pytest.mark.parametrize("group", [FFDHE2048, FFDHE3072])
def test_bad_ffdhe_share(group: int) -> None:
    client = generate_key_share(group)
    p = _rfc7919_prime(group)
    size = (p.bit_length() + 7) // 8
    for y in (0, 1, p - 1, p, 2 ** (8 * size) - 1):
        # RFC 8446 section 4.2.8.1: 1 < Y < p-1.
        _reject(client, y.to_bytes(size, "big"))
    good = generate_key_share(group).public
    _reject(client, good[1:])  # not padded to the size of p
    _reject(client, b"\x00" + good)
    assert len(client.exchange(good)) == size


def test_bad_x25519mlkem768_share() -> None:
    client = generate_key_share(X25519MLKEM768)
    ciphertext = mlkem.MLKEM768PublicKey.from_public_bytes(client.public[:1184]).encapsulate()[1]
    x_public = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    _reject(client, b"")
    _reject(client, x_public)  # a bare X25519 share
    _reject(client, ciphertext)  # ciphertext without the X25519 half
    _reject(client, ciphertext[:-1] + x_public)
    _reject(client, client.public)  # the client's own share echoed back (1216 bytes)
    _reject(client, ciphertext + bytes(32))  # all-zero X25519 result
    assert len(client.exchange(ciphertext + x_public)) == 64


_POOL = KeySharePool()


@settings(max_examples=50, deadline=None)
@given(
    group=st.sampled_from([X25519, X448, SECP256R1, FFDHE2048, X25519MLKEM768]),
    data=st.data(),
)
def test_arbitrary_peer_bytes_only_raise_remote_protocol_error(
    group: int, data: st.DataObject
) -> None:
    share = _POOL.get(group)
    length = {X25519: 32, X448: 56, SECP256R1: 65, FFDHE2048: 256, X25519MLKEM768: 1120}[group]
    peer = data.draw(
        st.one_of(st.binary(max_size=1300), st.binary(min_size=length, max_size=length))
    )
    try:
        secret = share.exchange(peer)
    except RemoteProtocolError as exc:
        assert exc.alert == 47
    else:
        assert isinstance(secret, bytes) and secret


# ---------------------------------------------------------------------------------------
# The pool


def test_pool_generates_once_per_group() -> None:
    pool = KeySharePool()
    first = pool.get(X25519)
    assert pool.get(X25519) is first
    other = pool.get(SECP256R1)
    assert other is not first and other.group == SECP256R1
    assert pool.get(SECP256R1) is other


def test_pool_unknown_group() -> None:
    pool = KeySharePool()
    with pytest.raises(LocalProtocolError):
        pool.get(0x9999)
    with pytest.raises(LocalProtocolError):
        pool.get(0x9999)
