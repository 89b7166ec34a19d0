# The encoded-hello cache of handshakes/client_hello.py (issue 16): a cached hello is the
# same bytes as a fresh encoding, with the spec's own random in place.
import os

import pytest

from handshakes import client_hello as ch
from handshakes import constants as c
from handshakes.client_hello import ClientHelloSpec, encode_client_hello
from handshakes.errors import LocalProtocolError
from handshakes.keyshare import KeySharePool

POOL = KeySharePool()


def _specs() -> list[ClientHelloSpec]:
    return [
        ClientHelloSpec(cipher_suites=(0xC02F, 0x009C), random=os.urandom(32), server_name="example.com"),
        ClientHelloSpec(
            legacy_version=c.TLS12, cipher_suites=(0x1301,), random=os.urandom(32), session_id=b"\x5a" * 32,
            supported_versions=(c.TLS13,), supported_groups=(0x001D, 0x0017),
            key_shares=(POOL.get(0x001D),), padding_to=512, grease=True,
        ),
        ClientHelloSpec(legacy_version=c.SSL3, record_version=c.SSL3, cipher_suites=(0x000A,), random=os.urandom(32)),
    ]


@pytest.mark.parametrize("spec", _specs())
def test_cached_hello_is_the_fresh_encoding(spec: ClientHelloSpec) -> None:
    ch._ENCODED.clear()
    first = encode_client_hello(spec)
    assert first == ch._encode(spec, spec.random or b"")
    assert first[6:38] == spec.random
    other = ClientHelloSpec(**{**{f: getattr(spec, f) for f in spec.__slots__}, "random": os.urandom(32)})
    second = encode_client_hello(other)  # from the cache
    assert len(ch._ENCODED) == 1
    assert second == ch._encode(other, other.random or b"")
    assert second[:6] == first[:6] and second[38:] == first[38:] and second[6:38] == other.random


def test_a_different_shape_is_a_different_entry() -> None:
    ch._ENCODED.clear()
    a = encode_client_hello(ClientHelloSpec(cipher_suites=(0xC02F,), random=bytes(32)))
    b = encode_client_hello(ClientHelloSpec(cipher_suites=(0xC030,), random=bytes(32)))
    assert a != b and len(ch._ENCODED) == 2


def test_errors_are_raised_every_time_and_not_cached() -> None:
    ch._ENCODED.clear()
    bad = ClientHelloSpec(cipher_suites=(0x10000,), random=bytes(32))
    for _ in range(2):
        with pytest.raises(LocalProtocolError):
            encode_client_hello(bad)
    assert not ch._ENCODED


def test_the_cache_is_bounded() -> None:
    ch._ENCODED.clear()
    for i in range(ch._ENCODED_MAX + 10):
        encode_client_hello(ClientHelloSpec(cipher_suites=(i,), random=bytes(32)))
    assert len(ch._ENCODED) <= ch._ENCODED_MAX


def test_without_a_random_each_hello_gets_a_fresh_one() -> None:
    spec = ClientHelloSpec(cipher_suites=(0xC02F,))
    assert encode_client_hello(spec)[6:38] != encode_client_hello(spec)[6:38]


def test_oversized_hellos_are_not_kept() -> None:
    ch._ENCODED.clear()
    spec = ClientHelloSpec(cipher_suites=(0xC02F,), random=os.urandom(32), padding_to=ch._CACHED_LENGTH + 100)
    msg = encode_client_hello(spec)
    assert len(msg) > ch._CACHED_LENGTH and not ch._ENCODED
    assert msg == ch._encode(spec, spec.random or b"")
