"""The records sent after a server flight, and FollowUpProbe reading the reaction (issue 18).

Records are checked against byte-annotated literals; the reaction is fed whole, one byte at
a time and split at record boundaries and must give the same events; arbitrary bytes after
the flight raise nothing but RemoteProtocolError.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_server_flight import (
    CERTIFICATE_TLS12,
    SERVER_HELLO_DONE,
    SERVER_HELLO_TLS12,
    chunkings,
    h,
    hs,
    record,
)

from handshakes import constants as c
from handshakes import events as ev
from handshakes import followup as fu
from handshakes.client_hello import ClientHelloSpec
from handshakes.errors import LocalProtocolError, RemoteProtocolError

FLIGHT = record(c.HANDSHAKE, SERVER_HELLO_TLS12 + CERTIFICATE_TLS12 + SERVER_HELLO_DONE)


def spec() -> ClientHelloSpec:
    return ClientHelloSpec(cipher_suites=(0xC02F,), supported_groups=(29,))


def test_heartbeat_request_bytes() -> None:
    assert fu.heartbeat_request(c.TLS12, declared_length=64) == h("""
        18 03 03 00 13              # heartbeat record, TLS 1.2, length 19
        01                          # heartbeat_request
        00 40                       # payload_length 64 (none carried: CVE-2014-0160's request)
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  # 16 bytes of padding (RFC 6520 section 4)
    """)
    assert fu.heartbeat_request(c.TLS11, declared_length=2, payload=b"hi") == h("""
        18 03 02 00 15  01 00 02  68 69
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    """)
    with pytest.raises(LocalProtocolError):
        fu.heartbeat_request(c.TLS12, declared_length=0x10000)


def test_change_cipher_spec_and_client_key_exchange_bytes() -> None:
    assert fu.change_cipher_spec(c.TLS10) == h("14 03 01 00 01 01")
    assert fu.rsa_client_key_exchange(c.TLS12, b"\xab" * 4) == h("""
        16 03 03 00 0a              # handshake record, length 10
        10 00 00 06                 # ClientKeyExchange, length 6
        00 04 ab ab ab ab           # EncryptedPreMasterSecret<0..2^16-1>
    """)
    with pytest.raises(LocalProtocolError):
        fu.rsa_client_key_exchange(c.SSL3, b"\x00")
    with pytest.raises(LocalProtocolError):
        fu.record(c.APPLICATION_DATA, c.TLS12, bytes(2**14 + 1))


def test_heartbeat_mode_of_a_server_hello() -> None:
    probe = fu.FollowUpProbe(spec(), follow_up=lambda sh, flight: None)
    probe.initiate()
    events = probe.receive_data(FLIGHT)
    sh = events[0]
    assert isinstance(sh, ev.ServerHello)
    assert fu.heartbeat_mode(sh) is None


REACTION = [
    record(c.HEARTBEAT, h("02 00 40") + bytes(64 + 16)),  # sizes kept, bytes dropped
    record(c.CHANGE_CIPHER_SPEC, b"\x01"),
    record(c.APPLICATION_DATA, bytes(40)),
    record(c.ALERT, h("02 14")),  # fatal bad_record_mac
]


@pytest.mark.parametrize("way", ["whole", "bytewise", "records"])
def test_reaction_same_events_however_it_is_cut(way: str) -> None:
    seen: list[tuple[int, int]] = []

    def follow_up(sh: ev.ServerHello, flight: tuple[ev.Event, ...]) -> bytes:
        seen.append((sh.cipher_suite, len(flight)))
        return fu.change_cipher_spec(sh.version)

    probe = fu.FollowUpProbe(spec(), follow_up=follow_up)
    probe.initiate()
    probe.receive_data(FLIGHT)
    assert seen == [(0xC02F, 3)]
    assert not probe.terminal and probe.followed_up
    assert probe.data_to_send() == h("14 03 03 00 01 01")
    chunks = dict(zip(["whole", "bytewise", "records"], chunkings(REACTION), strict=True))[way]
    events: list[ev.Event] = []
    for chunk in chunks:
        events.extend(probe.receive_data(chunk))
        if probe.terminal:
            break
    assert events == [
        ev.HeartbeatResponse(message_type=2, payload_length=64, record_length=83),
        ev.ChangeCipherSpec(),
        ev.OpaqueRecord(content_type=c.APPLICATION_DATA, length=40),
        ev.Alert(level=2, description=20),
    ]
    assert probe.terminal
    assert probe.receive_data(b"more") == []


def test_no_follow_up_ends_like_a_handshake_probe() -> None:
    probe = fu.FollowUpProbe(spec(), follow_up=lambda sh, flight: None)
    probe.initiate()
    probe.receive_data(FLIGHT)
    assert probe.terminal and not probe.followed_up and probe.data_to_send() == b""


def test_close_and_stop_predicate() -> None:
    def stop(e: ev.Event) -> bool:
        return isinstance(e, ev.HeartbeatResponse)

    probe = fu.FollowUpProbe(spec(), follow_up=lambda sh, f: b"x", stop_when=stop)
    probe.initiate()
    probe.receive_data(FLIGHT)
    out = probe.receive_data(REACTION[0] + REACTION[3])
    assert [type(e) for e in out] == [ev.HeartbeatResponse]
    assert probe.terminal
    closing = fu.FollowUpProbe(spec(), follow_up=lambda sh, f: b"x")
    closing.initiate()
    closing.receive_data(FLIGHT)
    assert closing.receive_data(b"") == [ev.ConnectionClosed()]
    assert closing.terminal


def test_reaction_is_bounded() -> None:
    probe = fu.FollowUpProbe(spec(), follow_up=lambda sh, f: b"x")
    probe.initiate()
    probe.receive_data(FLIGHT)
    chunk = record(c.APPLICATION_DATA, bytes(16000))
    for _ in range(10):
        probe.receive_data(chunk)
        if probe.terminal:
            break
    assert probe.terminal


def test_the_flight_still_reads_a_tls12_flight_with_handshake_messages_after() -> None:
    # A server flight that ends without ServerHelloDone is not followed up.
    probe = fu.FollowUpProbe(spec(), follow_up=lambda sh, f: b"x")
    probe.initiate()
    probe.receive_data(record(c.HANDSHAKE, SERVER_HELLO_TLS12))
    assert not probe.followed_up
    probe.receive_data(record(c.ALERT, h("02 28")))
    assert probe.terminal and not probe.followed_up
    assert hs(c.SERVER_HELLO_DONE, b"") == SERVER_HELLO_DONE


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=8))
def test_arbitrary_reaction_only_raises_remote_protocol_error(data: bytes, cuts: list[int]) -> None:
    points = sorted({0, len(data), *[x for x in cuts if x < len(data)]})
    probe = fu.FollowUpProbe(spec(), follow_up=lambda sh, f: b"x")
    probe.initiate()
    probe.receive_data(FLIGHT)
    try:
        for a, b in zip(points, points[1:], strict=False):
            probe.receive_data(data[a:b])
        probe.receive_data(b"")
    except RemoteProtocolError:
        pass


def test_junk_after_an_answer_ends_the_reaction_without_raising_or_keeping_bytes() -> None:
    # Issue 18 point 10: a warning alert (not an answer: read on) then bytes that are not a
    # record, cut anywhere: the alert is an event, the junk ends the reaction as an
    # UnreadableReaction carrying only a length, and nothing is raised.
    junk = b"\x99LEAKED-SECRET-BYTES"
    for cut in (0, 3, 7):
        probe = fu.FollowUpProbe(spec(), follow_up=lambda sh, f: b"x")
        probe.initiate()
        probe.receive_data(FLIGHT)
        data = record(c.ALERT, h("01 00")) + junk
        events = probe.receive_data(data[: len(data) - cut]) + (probe.receive_data(data[len(data) - cut :]) if cut else [])
        assert events[0] == ev.Alert(level=1, description=0)
        assert [type(e) for e in events[1:]] == [ev.UnreadableReaction]
        assert probe.terminal
        assert "LEAK" not in repr(events)


def test_only_fatal_alerts_stop_the_default_reaction() -> None:
    # Point 12: a warning (or odd-level) alert is not an answer that ends the reaction.
    probe = fu.FollowUpProbe(spec(), follow_up=lambda sh, f: b"x")
    probe.initiate()
    probe.receive_data(FLIGHT)
    assert probe.receive_data(record(c.ALERT, h("07 14"))) == [ev.Alert(level=7, description=20)]
    assert not probe.terminal
    assert probe.receive_data(record(c.ALERT, h("02 0a"))) == [ev.Alert(level=2, description=10)]
    assert probe.terminal


def test_junk_right_behind_the_flight_is_the_reaction_and_nothing_is_sent() -> None:
    # Point 10 / the tester's garbage_after server: 300 bytes of junk in the flight's read.
    sent: list[bool] = []
    probe = fu.FollowUpProbe(spec(), follow_up=lambda sh, f: sent.append(True) or b"x")
    probe.initiate()
    events = probe.receive_data(FLIGHT + b"\x99" + bytes(299))
    assert isinstance(events[-1], ev.UnreadableReaction) and probe.terminal
    assert not sent and probe.data_to_send() == b""
