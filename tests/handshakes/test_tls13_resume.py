"""handshakes/tls13_resume.py: NewSessionTicket parsing, the resumption ClientHello and its
binder, TicketProbe against hostile bytes.

That the key schedule, the client Finished and the binder are right is proven against real
servers (OpenSSL and GnuTLS resume the ticket and answer the early_data offer:
tests/interop/test_vulns_interop.py); here the encoding is checked byte by byte.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_server_flight import h

from handshakes import constants as c
from handshakes.client_hello import ClientHelloSpec, encode_client_hello
from handshakes.errors import LocalProtocolError, RemoteProtocolError
from handshakes.keyshare import generate_key_share
from handshakes.tls13 import derive_secret, early_secret, finished_verify_data, transcript_hash
from handshakes.tls13_resume import (
    MAX_RESUMABLE_TICKET,
    Ticket,
    TicketProbe,
    parse_new_session_ticket,
    resumption_hello,
)

NST = h("""
    00 00 1c 20                 # ticket_lifetime 7200 s
    01 02 03 04                 # ticket_age_add
    02 00 01                    # ticket_nonce <0..255>: 00 01
    00 04 aa bb cc dd           # ticket <1..2^16-1>
    00 08                       # extensions
    00 2a 00 04 00 00 40 00     # early_data, max_early_data_size 16384
""")


def test_new_session_ticket() -> None:
    assert parse_new_session_ticket(NST) == (7200, 0x01020304, b"\x00\x01", b"\xaa\xbb\xcc\xdd", 16384)
    no_early = NST[:-10] + b"\x00\x00"
    assert parse_new_session_ticket(no_early)[4] is None
    for bad in (NST[:7], NST[:-3], NST[:11] + b"\x00\x00" + NST[13:]):
        with pytest.raises(RemoteProtocolError):
            parse_new_session_ticket(bad)


def test_resumption_hello_binder() -> None:
    ticket = Ticket(suite=0x1301, ticket=b"\xaa\xbb\xcc\xdd", age_add=5, lifetime=7200, psk=bytes(range(32)),
                    max_early_data=16384)
    spec = ClientHelloSpec(
        legacy_version=c.TLS12, cipher_suites=(0x1301, 0x1302), random=bytes(32), supported_versions=(c.TLS13,),
        supported_groups=(29,), key_shares=(generate_key_share(29),), signature_algorithms=(0x0804,),
    )
    resumed = resumption_hello(spec, ticket, age_ms=100)
    assert resumed.cipher_suites == (0x1301,) and resumed.psk_key_exchange_modes == (1,)
    assert [t for t, _ in resumed.extra_extensions] == [c.EXT_EARLY_DATA, c.EXT_PRE_SHARED_KEY]
    hello = encode_client_hello(resumed)
    psk_ext = resumed.extra_extensions[-1][1]
    # RFC 8446 section 4.2.11: identities (ticket, obfuscated age = 100 + 5), then binders.
    assert psk_ext[:12] == h("00 0a  00 04 aa bb cc dd  00 00 00 69")
    assert psk_ext[12:15] == h("00 21 20")
    binder = psk_ext[15:]
    # pre_shared_key is the last extension (section 4.2.11): the hello ends with the binder.
    assert hello.endswith(binder) and len(binder) == 32
    truncated = hello[: -(2 + 1 + 32)]
    binder_key = derive_secret("sha256", early_secret(0x1301, ticket.psk), b"res binder", transcript_hash("sha256"))
    assert binder == finished_verify_data(0x1301, binder_key, transcript_hash("sha256", truncated))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_arbitrary_bytes_only_raise_remote_protocol_error(data: bytes, cuts: list[int]) -> None:
    spec = ClientHelloSpec(legacy_version=c.TLS12, cipher_suites=(0x1301,), supported_versions=(c.TLS13,),
                           supported_groups=(29,), key_shares=(generate_key_share(29),))
    probe = TicketProbe(spec)
    probe.initiate()
    points = sorted({0, len(data), *[x for x in cuts if x < len(data)]})
    try:
        for a, b in zip(points, points[1:], strict=False):
            probe.receive_data(data[a:b])
        probe.receive_data(b"")
    except RemoteProtocolError:
        pass


@pytest.mark.parametrize("size", [65263, 65530, 65535])
def test_a_legal_ticket_too_large_for_a_client_hello_is_refused_cleanly(size: int) -> None:
    # Issue 18 point 3: RFC 8446 section 4.6.1 allows tickets of 2^16-1 bytes; one that
    # cannot fit the ClientHello's extensions raised struct.error or an unclear error.
    ticket = Ticket(suite=0x1301, ticket=bytes(size), age_add=5, lifetime=7200, psk=bytes(32), max_early_data=16384)
    spec = ClientHelloSpec(
        legacy_version=c.TLS12, cipher_suites=(0x1301,), random=bytes(32), supported_versions=(c.TLS13,),
        supported_groups=(29,), key_shares=(generate_key_share(29),), signature_algorithms=(0x0804,),
    )
    with pytest.raises(LocalProtocolError, match="does not fit a ClientHello"):
        resumption_hello(spec, ticket)
    fits = dataclasses.replace(ticket, ticket=bytes(MAX_RESUMABLE_TICKET))
    assert len(encode_client_hello(resumption_hello(spec, fits))) > MAX_RESUMABLE_TICKET
