# The sans-IO promise as a property: for any server flight (valid, truncated, with garbage
# appended or spliced in), every way TCP may cut its bytes gives the same events, the same
# final state and the same error as the bytes fed whole. What was parsed before an error
# travels with it (RemoteProtocolError.events), so nothing read is lost to a late fault.
from __future__ import annotations

import struct

from cryptography.hazmat.primitives.asymmetric import x25519
from hypothesis import given, settings
from hypothesis import strategies as st

from handshakes import constants as c
from handshakes import events as ev
from handshakes.client_hello import ClientHelloSpec, encode_client_hello
from handshakes.errors import RemoteProtocolError
from handshakes.keyshare import KeySharePool
from handshakes.server_flight import HandshakeProbe, ProbeState
from handshakes.tls13 import RecordProtection, handshake_secrets, transcript_hash


def record(ctype: int, payload: bytes, version: int = 0x0303) -> bytes:
    return struct.pack(">BHH", ctype, version, len(payload)) + payload


def hs(msg_type: int, body: bytes) -> bytes:
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


def server_hello(suite: int, exts: bytes = b"", random: bytes = b"\x11" * 32) -> bytes:
    body = b"\x03\x03" + random + b"\x20" + b"\x22" * 32 + struct.pack(">HB", suite, 0)
    return hs(c.SERVER_HELLO, body + struct.pack(">H", len(exts)) + exts)


CERTS = (b"\x30\x03leaf", b"\x30\x05inter")
_entries = b"".join(len(d).to_bytes(3, "big") + d for d in CERTS)
CERTIFICATE = hs(c.CERTIFICATE, len(_entries).to_bytes(3, "big") + _entries)
SKE = hs(c.SERVER_KEY_EXCHANGE, b"\x03\x00\x1d\x20" + b"\xab" * 32 + b"\x08\x04\x00\x02\xde\xad")
DONE = hs(c.SERVER_HELLO_DONE, b"")
RENEG = b"\xff\x01\x00\x01\x00"

SPEC12 = ClientHelloSpec(cipher_suites=(0xC02F, 0x009E), supported_groups=(29,), random=b"\x01" * 32)

# TLS 1.2: records as a server cuts them (SH + Certificate coalesced, SKE fragmented).
FLIGHT12 = [
    record(c.HANDSHAKE, server_hello(0xC02F, RENEG) + CERTIFICATE),
    record(c.HANDSHAKE, SKE[:9]),
    record(c.HANDSHAKE, SKE[9:]),
    record(c.HANDSHAKE, DONE),
]
# A warning alert before the flight, and a fatal one after the ServerHello.
FLIGHT12_ALERTS = [
    record(c.ALERT, b"\x01\x70"),
    record(c.HANDSHAKE, server_hello(0xC02F)),
    record(c.ALERT, b"\x02\x28"),
]

# TLS 1.3: one fixed client share, a server share, the encrypted flight made here.
_POOL = KeySharePool()
SPEC13 = ClientHelloSpec(
    cipher_suites=(0x1301,), supported_versions=(c.TLS13,), supported_groups=(0x1D,),
    key_shares=(_POOL.get(0x1D),), signature_algorithms=(0x0804,), random=b"\x02" * 32,
)


def _flight13() -> list[bytes]:
    server_priv = x25519.X25519PrivateKey.generate()
    pub = server_priv.public_key().public_bytes_raw()
    exts = b"\x00\x2b\x00\x02\x03\x04" + struct.pack(">HHHH", c.EXT_KEY_SHARE, 36, 0x1D, 32) + pub
    sh = server_hello(0x1301, exts, random=b"\x07" * 32)
    shared = server_priv.exchange(x25519.X25519PublicKey.from_public_bytes(_POOL.get(0x1D).public))
    secrets = handshake_secrets(0x1301, shared, transcript_hash("sha256", encode_client_hello(SPEC13), sh))
    protect = RecordProtection(0x1301, secrets.server_handshake_traffic_secret)
    entries = b"".join(len(d).to_bytes(3, "big") + d + b"\x00\x00" for d in CERTS)
    messages = (
        hs(c.ENCRYPTED_EXTENSIONS, b"\x00\x00")
        + hs(c.CERTIFICATE, b"\x00" + len(entries).to_bytes(3, "big") + entries)
        + hs(c.CERTIFICATE_VERIFY, b"\x08\x04\x00\x02\xab\xcd")
        + hs(c.FINISHED, b"\x99" * 32)
    )
    return [
        record(c.HANDSHAKE, sh),
        record(c.CHANGE_CIPHER_SPEC, b"\x01"),
        protect.encrypt(c.HANDSHAKE, messages[:20]),
        protect.encrypt(c.HANDSHAKE, messages[20:], padding=3),
    ]


FLIGHT13 = _flight13()

FLIGHTS = {
    "tls12": (SPEC12, FLIGHT12),
    "tls12_alerts": (SPEC12, FLIGHT12_ALERTS),
    "tls13": (SPEC13, FLIGHT13),
    "not_tls": (SPEC12, [b"HTTP/1.1 400 Bad Request\r\nServer: x\r\n\r\n"]),
    "sslv2": (SPEC12, [b"\x80\x0f\x04\x00\x01\x00\x02\x00\x04\x00\x03\x00\x04CERT\x01\x00\x80ABCD"[:17]]),
}

Outcome = tuple[list[ev.Event], ProbeState, tuple[str, int, bytes] | None, bytes]


class _Eager(HandshakeProbe):
    reads_on = True  # parses every whole record of a read (RecordReader.feed)


def feed(
    spec: ClientHelloSpec, read_flight: bool, blob: bytes, cuts: list[int], close: bool,
    kind: type[HandshakeProbe] = HandshakeProbe,
) -> Outcome:
    """Feed ``blob`` cut at ``cuts``, as run_probe does: until a terminal state or an
    error; then the close (b"") when asked. Returns events, state, error, bytes to send."""
    probe = kind(spec, read_flight=read_flight, key_share_for=_POOL.get)
    probe.initiate()
    points = sorted({0, len(blob), *(x for x in cuts if 0 < x < len(blob))})
    events: list[ev.Event] = []
    error = None
    sent = b""
    try:
        for a, b in zip(points, points[1:], strict=False):
            if probe.terminal:
                break
            events.extend(probe.receive_data(blob[a:b]))
            sent += probe.data_to_send()
        if close and not probe.terminal:
            events.extend(probe.receive_data(b""))
    except RemoteProtocolError as exc:
        events.extend(exc.events)  # type: ignore[arg-type]
        error = (str(exc), exc.alert, exc.data)
    return events, probe.state, error, sent


@st.composite
def flights(draw: st.DrawFn) -> tuple[ClientHelloSpec, bytes]:
    spec, records = FLIGHTS[draw(st.sampled_from(sorted(FLIGHTS)))]
    blob = b"".join(records)
    how = draw(st.sampled_from(["valid", "truncated", "garbage", "spliced", "bad_header"]))
    if how == "truncated":
        blob = blob[: draw(st.integers(0, len(blob)))]
    elif how == "garbage":
        blob += draw(st.binary(min_size=1, max_size=40))
    elif how == "spliced":
        # Garbage after a whole record: the records before it must survive.
        keep = draw(st.integers(1, len(records)))
        blob = b"".join(records[:keep]) + draw(st.binary(min_size=1, max_size=40))
    elif how == "bad_header":
        keep = draw(st.integers(1, len(records)))
        blob = b"".join(records[:keep]) + draw(st.sampled_from([b"\x41\x03\x03\x00\x01x", b"\x16\x09\x09\x00\x01", b"\x16\x03\x03\xff\xff"]))
    return spec, blob


@settings(max_examples=400, deadline=None)
@given(
    flight=flights(),
    cuts=st.lists(st.integers(1, 400), max_size=12),
    read_flight=st.booleans(),
    close=st.booleans(),
)
def test_every_chunking_gives_the_same_events_state_and_error(
    flight: tuple[ClientHelloSpec, bytes], cuts: list[int], read_flight: bool, close: bool
) -> None:
    spec, blob = flight
    whole = feed(spec, read_flight, blob, [], close)
    assert feed(spec, read_flight, blob, cuts, close) == whole
    # The extreme cut: one byte at a time.
    assert feed(spec, read_flight, blob, list(range(1, len(blob))), close) == whole
    # Parsing record by record up to the terminal state (issue 16) concludes what parsing
    # every record of each read does.
    assert feed(spec, read_flight, blob, cuts, close, _Eager) == whole


def test_server_hello_then_garbage_in_one_segment_keeps_the_server_hello() -> None:
    """The issue's case: a ServerHello followed by a garbage record. In one segment or two,
    the ServerHello is an event, the garbage an error that carries it."""
    blob = record(c.HANDSHAKE, server_hello(0xC02F)) + b"\x41\x41\x41\x41\x41" * 3
    one = feed(SPEC12, True, blob, [], False)
    two = feed(SPEC12, True, blob, [len(blob) - 15], False)
    assert one == two
    events, state, error, _ = one
    assert [type(e) for e in events] == [ev.ServerHello]
    assert state is ProbeState.FAILED and error is not None and error[0].startswith("not a TLS record header")


def test_records_before_a_bad_header_are_handed_out_first() -> None:
    from handshakes.records import RecordReader

    reader = RecordReader()
    good = record(c.HANDSHAKE, b"\x00" * 4)
    out = reader.feed(good + b"\x41\x03\x03\x00\x01")
    assert len(out) == 1 and out[0].payload == b"\x00" * 4
    assert reader.pending_error is not None
    try:
        reader.feed(b"")
    except RemoteProtocolError as exc:
        assert exc is reader.pending_error
    else:  # pragma: no cover - the assertion's message
        raise AssertionError("the pending error must be raised by the next feed()")


def test_flight_byte_limit_is_the_same_however_cut() -> None:
    """Past MAX_FLIGHT_BYTES without a finished flight: the same error whole or in pieces."""
    junk = record(c.HANDSHAKE, hs(99, b"\x00" * 16000))
    blob = record(c.HANDSHAKE, server_hello(0xC02F)) + junk * (c.MAX_FLIGHT_BYTES // len(junk) + 2)
    whole = feed(SPEC12, True, blob, [], False)
    assert whole[2] is not None and "without finishing its flight" in whole[2][0]
    assert feed(SPEC12, True, blob, list(range(1000, len(blob), 7919)), False) == whole
