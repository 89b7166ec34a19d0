"""The engine's outcomes, against real misbehaving peers on 127.0.0.1 and, for everything
that depends on time, against in-memory streams under pytest-trio's autojump_clock.

Time assertions are exact: the engine computes its deadlines from trio.current_time(),
and with the mock clock a deadline fires at exactly that virtual instant.
"""

from __future__ import annotations

import errno
import socket
import struct

import pytest
import trio
import trio.testing

from handshakes import constants as c
from handshakes import events as ev
from handshakes.client_hello import ClientHelloSpec, build_client_hello
from handshakes.server_flight import HandshakeProbe
from scanner.engine import Connector, ProbeOutcome, run_probe
from scanner.lab.servers import replay
from scanner.options import (
    ACCEPTED,
    ALERT,
    CLOSED,
    NOT_TLS,
    PROTOCOL_ERROR,
    REFUSED,
    RESET,
    TIMEOUT,
    Deadlines,
)

# A TLS 1.2 hello with a fixed random, so its wire size is known in advance.
SPEC = ClientHelloSpec(
    legacy_version=c.TLS12,
    cipher_suites=(0xC02F, 0x009C),
    random=bytes(range(32)),
    supported_groups=(0x001D,),
    signature_algorithms=(0x0804, 0x0401),
)
HELLO = build_client_hello(SPEC)
DEADLINES = Deadlines(connect=3.0, read=7.0, endpoint=60.0)
# Real peers answer in milliseconds; generous deadlines keep a loaded machine from
# turning a reset or a close into a timeout.
REAL = Deadlines(connect=10.0, read=10.0, endpoint=60.0)


def record(ctype: int, payload: bytes, version: int = c.TLS12) -> bytes:
    return struct.pack(">BHH", ctype, version, len(payload)) + payload


def hs(msg_type: int, body: bytes) -> bytes:
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


SERVER_HELLO_BODY = (
    b"\x03\x03"  # legacy_version TLS 1.2
    + b"\x11" * 32  # random
    + b"\x00"  # empty session id
    + b"\xc0\x2f"  # TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    + b"\x00"  # null compression
    + b"\x00\x05"  # extensions length
    + b"\xff\x01\x00\x01\x00"  # renegotiation_info, empty
)
# ServerHello and ServerHelloDone in two records: the smallest flight a probe that does
# not read certificates (read_flight=True stops at ServerHelloDone) completes on.
FLIGHT = record(c.HANDSHAKE, hs(c.SERVER_HELLO, SERVER_HELLO_BODY)) + record(
    c.HANDSHAKE, hs(c.SERVER_HELLO_DONE, b"")
)
RECORD_BOUNDARY = 5 + 4 + len(SERVER_HELLO_BODY)


def new_probe() -> HandshakeProbe:
    return HandshakeProbe(SPEC)


async def probe_real(port: int, deadlines: Deadlines = REAL) -> ProbeOutcome:
    return await run_probe(new_probe(), "127.0.0.1", port, deadlines=deadlines)


# -- real peers -----------------------------------------------------------------------------


async def test_close_without_alert_is_closed(raw_server):
    server = raw_server("close_immediately", read_first=True)
    out = await probe_real(server.port)
    assert out.outcome == CLOSED
    assert out.phase == "read"
    assert out.events == (ev.ConnectionClosed(),)
    assert out.bytes_sent == len(HELLO)
    assert out.bytes_received == 0
    assert server.wait_for_received(1) == (HELLO,)


async def test_reset_is_reset(raw_server):
    server = raw_server("reset")
    out = await probe_real(server.port)
    assert out.outcome == RESET
    assert out.detail == "connection reset by peer"
    assert out.bytes_received == 0
    assert out.events == ()


async def test_http_server_is_not_tls_http(raw_server):
    server = raw_server("http")
    out = await probe_real(server.port)
    assert out.outcome == NOT_TLS
    assert out.detail == "http"
    not_tls = out.first(ev.NotTLS)
    assert isinstance(not_tls, ev.NotTLS)
    assert not_tls.protocol == "http"
    assert not_tls.first_bytes.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert out.bytes_sent == len(HELLO)
    assert out.bytes_received >= len(b"HTTP/1.1 400 Bad Request\r\n")


async def test_ssh_banner_is_not_tls_ssh(raw_server):
    server = raw_server("ssh_banner")
    out = await probe_real(server.port)
    assert out.outcome == NOT_TLS
    assert out.detail == "ssh"
    not_tls = out.first(ev.NotTLS)
    assert isinstance(not_tls, ev.NotTLS)
    assert not_tls.first_bytes.startswith(b"SSH-2.0-OpenSSH_9.6\r\n")
    assert out.describe().startswith("not_tls (ssh: ")


async def test_garbage_is_not_tls_with_the_bytes(raw_server):
    """Bytes that do not even start a TLS record are "not TLS" (protocol "unknown"), with
    the offending bytes kept in error_bytes; protocol_error is for replies that look like
    TLS but break its rules (see the next test)."""
    server = raw_server("garbage", size=512, seed=7)
    out = await probe_real(server.port)
    assert out.outcome == NOT_TLS
    assert out.detail == "unknown"
    assert out.error_bytes
    # The offending bytes are what the server sent, from the first one on.
    not_tls = out.first(ev.NotTLS)
    sent_by_server = not_tls.first_bytes if isinstance(not_tls, ev.NotTLS) else b""
    assert out.error_bytes.hex().startswith(sent_by_server[:16].hex())


@pytest.mark.parametrize(
    ("reply", "offending"),
    [
        # ServerHello whose body is one byte: the cursor runs out at legacy_version.
        (record(c.HANDSHAKE, hs(c.SERVER_HELLO, b"\xff")), b"\xff"),
        # A Certificate where the ServerHello must come: the message is the evidence.
        (record(c.HANDSHAKE, hs(c.CERTIFICATE, b"\x00\x00")), hs(c.CERTIFICATE, b"\x00\x00")),
        # A record header announcing 65535 bytes, beyond any TLSPlaintext (RFC 8446 5.1).
        (b"\x16\x03\x03\xff\xff", b"\x16\x03\x03\xff\xff"),
    ],
    ids=["truncated-server-hello", "certificate-first", "oversized-record"],
)
async def test_tls_framed_garbage_is_protocol_error_with_the_bytes(raw_server, reply, offending):
    server = raw_server(replay(reply))
    out = await probe_real(server.port)
    assert out.outcome == PROTOCOL_ERROR
    assert out.phase == "read"
    assert out.error_bytes == offending
    assert out.bytes_received == len(reply)


async def test_refused_port_is_refused():
    # A bound socket that never listens: connecting to it is refused, and holding it
    # keeps any other process from taking the port meanwhile.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        out = await probe_real(port)
    assert out.outcome == REFUSED
    assert out.phase == "connect"
    assert out.bytes_sent == 0
    assert out.bytes_received == 0
    assert out.connections == 1


async def test_byte_counts_are_exact(raw_server):
    alert = record(c.ALERT, b"\x02\x28")  # fatal handshake_failure
    server = raw_server(replay(alert))
    out = await probe_real(server.port)
    assert out.outcome == ALERT
    assert out.alert == ev.Alert(level=2, description=40)
    assert out.bytes_sent == len(HELLO) == len(server.wait_for_received(1)[0])
    assert out.bytes_received == len(alert)
    assert out.connections == 1


async def test_connector_retries_a_real_reset_once_then_gives_up(raw_server):
    server = raw_server("reset")
    conn = Connector(
        ip="127.0.0.1",
        port=server.port,
        deadlines=REAL,
        global_limiter=trio.CapacityLimiter(4),
        endpoint_limiter=trio.CapacityLimiter(1),
        retries=1,
        backoff=0.05,
    )
    out = await conn.probe("reset twice", new_probe)
    assert out.outcome == RESET
    assert out.connections == 2
    assert out.bytes_sent == 2 * len(HELLO)
    assert out.detail.endswith("(after 2 attempts)")
    # The server saw exactly two ClientHellos: one try, one retry, no more.
    assert server.wait_for_received(2) == (HELLO, HELLO)
    await trio.sleep(0.2)
    assert len(server.received) == 2
    assert [name for name, _, _ in conn.log] == ["reset twice"]


# -- in-memory peers under the mock clock ----------------------------------------------------


def stream_opener(stream: trio.abc.Stream):
    async def open_stream(ip: str, port: int) -> trio.abc.Stream:
        return stream

    return open_stream


async def read_hello(stream: trio.abc.Stream) -> bytes:
    data = b""
    while len(data) < len(HELLO):
        chunk = await stream.receive_some()
        if not chunk:
            break
        data += chunk
    return data


async def test_silent_server_times_out_exactly_at_the_read_deadline(autojump_clock):
    client, server = trio.testing.memory_stream_pair()
    received: list[bytes] = []

    async def silent() -> None:
        received.append(await read_hello(server))
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(silent)
        start = trio.current_time()
        out = await run_probe(
            new_probe(), "192.0.2.1", 443, deadlines=DEADLINES, open_stream=stream_opener(client)
        )
        assert trio.current_time() == start + DEADLINES.read
        nursery.cancel_scope.cancel()
    assert out.outcome == TIMEOUT
    assert out.phase == "read"
    assert out.detail == "no complete answer within 7s"
    assert out.bytes_sent == len(HELLO)
    assert out.bytes_received == 0
    assert received == [HELLO]


async def test_dripping_server_times_out_at_the_read_deadline_not_per_read(autojump_clock):
    # A record header announcing a 74-byte ServerHello, then one byte a second starting
    # half a second in: every single read is answered within a second, so only a deadline
    # on the whole wait stops the probe, at 7 s with 7 of the 74 bytes received.
    client, server = trio.testing.memory_stream_pair()
    header = b"\x16\x03\x03\x00\x4a"
    body = b"\x02\x00\x00\x46\x03\x03" + bytes(68)

    async def drip() -> None:
        await read_hello(server)
        await server.send_all(header)
        await trio.sleep(0.5)
        for byte in body:
            await server.send_all(bytes((byte,)))
            await trio.sleep(1.0)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drip)
        start = trio.current_time()
        out = await run_probe(
            new_probe(), "192.0.2.1", 443, deadlines=DEADLINES, open_stream=stream_opener(client)
        )
        assert trio.current_time() == start + DEADLINES.read
        nursery.cancel_scope.cancel()
    assert out.outcome == TIMEOUT
    assert out.phase == "read"
    assert out.bytes_received == len(header) + 7
    assert out.detail == f"no complete answer within 7s ({len(header) + 7} bytes received)"


async def test_connect_that_never_completes_times_out_at_the_connect_deadline(autojump_clock):
    async def never(ip: str, port: int) -> trio.abc.Stream:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    start = trio.current_time()
    out = await run_probe(new_probe(), "192.0.2.1", 443, deadlines=DEADLINES, open_stream=never)
    assert trio.current_time() == start + DEADLINES.connect
    assert out.outcome == TIMEOUT
    assert out.phase == "connect"
    assert out.detail == "no TCP answer within 3s"
    assert out.bytes_sent == 0
    assert out.bytes_received == 0


def _split_whole(data: bytes) -> list[bytes]:
    return [data]


def _split_bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def _split_per_record(data: bytes) -> list[bytes]:
    return [data[:RECORD_BOUNDARY], data[RECORD_BOUNDARY:]]


@pytest.mark.parametrize("split", [_split_whole, _split_bytewise, _split_per_record])
async def test_flight_delivered_in_any_pieces_gives_the_same_outcome(autojump_clock, split):
    client, server = trio.testing.memory_stream_pair()

    async def answer() -> None:
        await read_hello(server)
        for piece in split(FLIGHT):
            await server.send_all(piece)
            await trio.sleep(0.01)  # each piece its own read
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(answer)
        out = await run_probe(
            new_probe(), "192.0.2.1", 443, deadlines=DEADLINES, open_stream=stream_opener(client)
        )
        nursery.cancel_scope.cancel()
    assert out.outcome == ACCEPTED
    assert [type(e) for e in out.events] == [ev.ServerHello, ev.ServerHelloDone]
    sh = out.server_hello
    assert sh is not None and sh.cipher_suite == 0xC02F and sh.renegotiation_info == b""
    assert out.bytes_received == len(FLIGHT)
    assert out.bytes_sent == len(HELLO)


class ResettingStream(trio.abc.Stream):
    """Takes the ClientHello, then fails the read the way TcpStream does on ECONNRESET."""

    def __init__(self) -> None:
        self.sent = b""

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        self.sent += bytes(data)

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        reset = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
        raise trio.BrokenResourceError(str(reset)) from reset

    async def send_eof(self) -> None:
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


@pytest.mark.parametrize(("retries", "backoff_total"), [(0, 0.0), (1, 0.25), (3, 0.25 + 0.5 + 1.0)])
async def test_connector_retries_resets_with_backoff_then_gives_up(
    autojump_clock, retries, backoff_total
):
    streams: list[ResettingStream] = []

    async def open_stream(ip: str, port: int) -> trio.abc.Stream:
        streams.append(ResettingStream())
        return streams[-1]

    conn = Connector(
        ip="192.0.2.1",
        port=443,
        deadlines=DEADLINES,
        global_limiter=trio.CapacityLimiter(4),
        endpoint_limiter=trio.CapacityLimiter(1),
        retries=retries,
        backoff=0.25,
        open_stream=open_stream,
    )
    start = trio.current_time()
    out = await conn.probe("resets", new_probe)
    # Connecting and reading take no virtual time here: all of it is the backoff,
    # 0.25 s doubling after each retry.
    assert trio.current_time() == start + backoff_total
    assert len(streams) == retries + 1
    assert all(s.sent == HELLO for s in streams)
    assert out.outcome == RESET
    assert out.connections == retries + 1
    assert out.bytes_sent == (retries + 1) * len(HELLO)
    assert out.bytes_received == 0
    if retries:
        assert out.detail.endswith(f"(after {retries + 1} attempts)")


async def test_connector_does_not_retry_an_answer(autojump_clock):
    opened = 0

    async def open_stream(ip: str, port: int) -> trio.abc.Stream:
        nonlocal opened
        opened += 1
        client, server = trio.testing.memory_stream_pair()
        await server.send_all(record(c.ALERT, b"\x02\x46"))  # fatal protocol_version
        await server.send_eof()
        return client

    conn = Connector(
        ip="192.0.2.1",
        port=443,
        deadlines=DEADLINES,
        global_limiter=trio.CapacityLimiter(4),
        endpoint_limiter=trio.CapacityLimiter(1),
        retries=3,
        open_stream=open_stream,
    )
    out = await conn.probe("alert", new_probe)
    assert opened == 1
    assert out.outcome == ALERT
    assert out.alert == ev.Alert(level=2, description=70)
    assert out.connections == 1
    assert out.bytes_received == 7




@pytest.mark.parametrize(
    ("reply", "protocol"),
    [
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "http"),
        (b"SSH-2.0-OpenSSH_9.6\r\n", "ssh"),
    ],
    ids=["http", "ssh"],
)
@pytest.mark.parametrize(
    "split",
    [
        _split_whole,
        pytest.param(_split_bytewise),
        pytest.param(
            lambda data: [data[:3], data[3:]], id="3-then-rest"
        ),
    ],
)
async def test_not_tls_reply_in_any_pieces_names_the_protocol(
    autojump_clock, reply, protocol, split
):
    client, server = trio.testing.memory_stream_pair()

    async def answer() -> None:
        await read_hello(server)
        for piece in split(reply):
            await server.send_all(piece)
            await trio.sleep(0.01)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(answer)
        out = await run_probe(
            new_probe(), "192.0.2.1", 443, deadlines=DEADLINES, open_stream=stream_opener(client)
        )
        nursery.cancel_scope.cancel()
    assert out.outcome == NOT_TLS
    assert out.detail == protocol
    not_tls = out.first(ev.NotTLS)
    assert isinstance(not_tls, ev.NotTLS) and reply.startswith(not_tls.first_bytes)
    assert len(not_tls.first_bytes) >= 5


# -- TcpStream ------------------------------------------------------------------------------


async def test_tcp_stream_close_wakes_a_task_waiting_in_another():
    """close() from one task while another waits in receive_some: the waiter gets
    ClosedResourceError (trio's notify_closing), as the Stream contract asks."""
    from scanner.engine import open_tcp

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        stream = await open_tcp("127.0.0.1", port)
        caught: list[BaseException] = []

        async def reader() -> None:
            try:
                await stream.receive_some(10)
            except trio.ClosedResourceError as exc:
                caught.append(exc)

        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(reader)
                await trio.testing.wait_all_tasks_blocked()
                await stream.aclose()
        assert len(caught) == 1


async def test_tcp_streams_closed_without_waiters_leave_trio_consistent():
    """Streams closed after their reads (no task waiting: no notify_closing) hand their
    descriptor numbers on to new sockets, which wait and read as usual."""
    from scanner.engine import open_tcp

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        with trio.fail_after(10):
            for i in range(20):
                stream = await open_tcp("127.0.0.1", port)
                await trio.lowlevel.wait_readable(listener)
                peer, _ = listener.accept()
                with peer:
                    peer.sendall(b"x%d" % i)
                    assert await stream.receive_some(10) == b"x%d" % i
                await stream.aclose()
