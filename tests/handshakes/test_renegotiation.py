"""handshakes/renegotiation.py (and tls12.RecordCipher): AES-GCM records and RenegotiationProbe's limits.

That the whole handshake is right is proven against real servers (OpenSSL accepts our
Finished and answers the renegotiation: tests/interop/test_vulns_interop.py); here the
pieces are checked against a published vector and the probe against hostile bytes.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handshakes import constants as c
from handshakes import events as ev
from handshakes.client_hello import ClientHelloSpec
from handshakes.errors import LocalProtocolError, RemoteProtocolError
from handshakes.renegotiation import RenegotiationProbe
from handshakes.tls12 import RecordCipher


def test_gcm_records_round_trip_and_tampering() -> None:
    key, salt = bytes(range(16)), b"\x01\x02\x03\x04"
    sender, receiver = RecordCipher(key, salt), RecordCipher(key, salt)
    rec = sender.seal(c.HANDSHAKE, b"\x14\x00\x00\x0chello world!")
    # RFC 5288 section 3: header, 8-byte explicit nonce (our sequence number), ciphertext, tag.
    assert rec[:5] == bytes.fromhex("1603030028")  # 8 + 16 plaintext + 16 tag = 40
    assert rec[5:13] == bytes(8)
    assert receiver.open(c.HANDSHAKE, rec[5:]) == b"\x14\x00\x00\x0chello world!"
    again = sender.seal(c.ALERT, b"\x01\x00")
    tampered = again[:-1] + bytes((again[-1] ^ 1,))
    with pytest.raises(RemoteProtocolError):
        receiver.open(c.ALERT, tampered[5:])
    with pytest.raises(RemoteProtocolError):
        receiver.open(c.ALERT, b"short")


def spec() -> ClientHelloSpec:
    return ClientHelloSpec(legacy_version=c.TLS12, cipher_suites=(0xC02F,), supported_groups=(29,),
                           renegotiation_info=b"")


def test_tls12_only() -> None:
    with pytest.raises(LocalProtocolError):
        RenegotiationProbe(ClientHelloSpec(legacy_version=c.TLS11, cipher_suites=(0xC013,)))


def test_a_suite_it_cannot_complete_ends_after_the_flight() -> None:
    from test_server_flight import CERTIFICATE_TLS12, SERVER_HELLO_DONE, h, record

    sh_cbc = h("""
        02 00 00 26  03 03
        11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11
        11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11
        00  c0 13  00                # no session id, ECDHE-RSA-AES128-SHA (CBC), null
    """)
    probe = RenegotiationProbe(spec())
    probe.initiate()
    events = probe.receive_data(record(c.HANDSHAKE, sh_cbc + CERTIFICATE_TLS12 + SERVER_HELLO_DONE))
    assert any(isinstance(e, ev.ServerHelloDone) for e in events)
    assert probe.terminal and not probe.completed and probe.data_to_send() == b""


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_arbitrary_bytes_only_raise_remote_protocol_error(data: bytes, cuts: list[int]) -> None:
    points = sorted({0, len(data), *[x for x in cuts if x < len(data)]})
    probe = RenegotiationProbe(spec())
    probe.initiate()
    try:
        for a, b in zip(points, points[1:], strict=False):
            probe.receive_data(data[a:b])
        probe.receive_data(b"")
    except RemoteProtocolError:
        pass
