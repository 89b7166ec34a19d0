# The hostile-server kit (tests/hostile/, bench/hostile.py): in-process trio "servers" that
# a scan reaches through the engine's connection factory (OpenStream), so that a test runs
# under trio's autojump_clock and asserts deadlines exactly on virtual time. Each connection gets a fresh in-memory
# stream pair; the server side runs one `Handler` in the test's nursery.
#
# The handlers speak just enough TLS to be believed (a ServerHello, a Certificate, a
# ServerHelloDone, alerts), built from the RFCs, and then misbehave: slow answers, suites
# never offered, garbage, drips, lying lengths, endless records, huge certificates, a new
# certificate per connection with a black-hole CRL URL, resets, half-closes.
#
# Rules kept: no sockets, no real time; every loop is bounded by the client going away or
# by the test's nursery being cancelled at its end.
from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio
import trio.testing
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from handshakes import constants as c
from handshakes._tlslite import ParsedClientHello, parse_client_hello

Handler = Callable[["Conn"], Awaitable[None]]

# Suites a plain TLS 1.2 "server" of the kit supports, most preferred first.
TLS12_SUITES = (
    0xC02F, 0xC030, 0xC02B, 0xC02C, 0xCCA8, 0xCCA9, 0xC013, 0xC014, 0xC009, 0xC00A,
    0x009C, 0x009D, 0x002F, 0x0035, 0x009E, 0x009F, 0x0033, 0x0039, 0xC027, 0xC028,
    0xC023, 0xC024, 0x003C, 0x003D, 0x0067, 0x006B,
)


# -- records and messages (RFC 5246 section 6.2.1 and 7.4) ----------------------------------


def record(ctype: int, payload: bytes, version: int = c.TLS12) -> bytes:
    """One record; payloads over 2^14 are cut into several (RFC 5246 section 6.2.1)."""
    out = b""
    for i in range(0, max(len(payload), 1), 2**14):
        part = payload[i : i + 2**14]
        out += struct.pack(">BHH", ctype, version, len(part)) + part
    return out


def hs(msg_type: int, body: bytes) -> bytes:
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


RENEGOTIATION_INFO = b"\xff\x01\x00\x01\x00"  # empty renegotiation_info (RFC 5746)


def server_hello(suite: int, version: int = c.TLS12, exts: bytes = RENEGOTIATION_INFO) -> bytes:
    # RFC 5246 section 7.4.1.3; ``exts``: the extensions block's contents.
    body = struct.pack(">H", version) + b"\x42" * 32 + b"\x00" + struct.pack(">HB", suite, 0)
    return hs(c.SERVER_HELLO, body + struct.pack(">H", len(exts)) + exts)


def certificate(chain: tuple[bytes, ...]) -> bytes:
    entries = b"".join(len(d).to_bytes(3, "big") + d for d in chain)
    return hs(c.CERTIFICATE, len(entries).to_bytes(3, "big") + entries)


def alert(description: int, version: int = c.TLS12) -> bytes:
    return record(c.ALERT, bytes((2, description)), version)


def flight(suite: int, chain: tuple[bytes, ...]) -> bytes:
    """ServerHello, Certificate, ServerHelloDone in one record (RSA key exchange suites
    need no ServerKeyExchange; the kit's probes stop before a key exchange anyway)."""
    return record(c.HANDSHAKE, server_hello(suite) + certificate(chain) + hs(c.SERVER_HELLO_DONE, b""))


# -- certificates -----------------------------------------------------------------------------


@dataclass(slots=True)
class CertFactory:
    """EC certificates made here, fast enough to issue one per connection."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    serial: int = 1

    def issue(self, *, crl_url: str | None = None, padding: int = 0) -> bytes:
        """A self-issued leaf for hostile.test; ``padding`` bytes of an unknown
        non-critical extension make it as large as wanted; ``crl_url`` adds a CRL
        distribution point (RFC 5280 section 4.2.1.13)."""
        self.serial += 1
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile.test")])
        now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hostile CA")]))
            .public_key(self.key.public_key())
            .serial_number(self.serial)
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("hostile.test")]), critical=False)
        )
        if crl_url:
            point = x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None,
                reasons=None, crl_issuer=None,
            )
            builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
        if padding:
            oid = x509.ObjectIdentifier("1.3.6.1.4.1.55555.1")
            size = padding.to_bytes((padding.bit_length() + 7) // 8 or 1, "big")
            # An OCTET STRING of `padding` zero bytes (X.690 section 8.1.3: long-form length).
            value = b"\x04" + (bytes((0x80 | len(size),)) + size if padding > 127 else bytes((padding,)))
            builder = builder.add_extension(x509.UnrecognizedExtension(oid, value + bytes(padding)), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.DER)


# -- the connection a handler gets -------------------------------------------------------------


class Reset(Exception):
    """Raised by a handler to make the client's next read fail as a TCP reset would."""


class _ClientStream(trio.abc.Stream):
    """The client's end: a memory stream whose reads fail like a reset once the server
    resets the connection."""

    def __init__(self, inner: trio.abc.Stream, conn: Conn) -> None:
        self._inner = inner
        self._conn = conn

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._conn.was_reset:
            await trio.lowlevel.checkpoint()
            raise trio.BrokenResourceError("connection reset by peer") from ConnectionResetError(104, "reset")
        await self._inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._conn.was_reset:
            await trio.lowlevel.checkpoint()
            raise trio.BrokenResourceError("connection reset by peer") from ConnectionResetError(104, "reset")
        data = await self._inner.receive_some(max_bytes)
        if not data and self._conn.was_reset:
            raise trio.BrokenResourceError("connection reset by peer") from ConnectionResetError(104, "reset")
        return bytes(data)

    async def aclose(self) -> None:
        self._conn.client_closed = True
        await self._inner.aclose()


@dataclass(slots=True)
class Conn:
    """The server side of one connection."""

    stream: trio.abc.Stream
    number: int
    was_reset: bool = False
    client_closed: bool = False
    _buf: bytes = b""

    async def read_hello(self) -> ParsedClientHello | None:
        """The client's first record as a parsed ClientHello; None for anything else
        (SSLv2 framing, garbage) or when the client went away."""
        while True:
            if len(self._buf) >= 5 and len(self._buf) >= 5 + int.from_bytes(self._buf[3:5], "big"):
                break
            if self._buf[:1] and self._buf[0] & 0x80:
                return None  # an SSLv2 hello: the kit's servers do not speak it
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return None
            if not data:
                return None
            self._buf += data
        length = int.from_bytes(self._buf[3:5], "big")
        payload, self._buf = self._buf[5 : 5 + length], self._buf[5 + length :]
        try:
            return parse_client_hello(payload)
        except ValueError:
            return None

    async def send(self, data: bytes) -> bool:
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    async def hold(self) -> None:
        """Read and drop until the client goes away."""
        while True:
            try:
                if not await self.stream.receive_some(65536):
                    return
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return


def max_version(hello: ParsedClientHello) -> int:
    """The highest version the hello offers (RFC 8446 section 4.2.1)."""
    if hello.supported_versions:
        return max(v for v in hello.supported_versions if (v >> 8) == 3)
    return hello.legacy_version


@dataclass(slots=True)
class Endpoint:
    """An OpenStream for the engine: each connection runs ``handler`` in ``nursery``.
    ``connections`` counts them; ``peak_open`` is the most open at once."""

    nursery: trio.Nursery
    handler: Handler
    connections: int = 0
    open_now: int = 0
    peak_open: int = 0

    async def __call__(self, ip: str, port: int) -> trio.abc.Stream:
        await trio.lowlevel.checkpoint()
        # Lockstep: a send waits until the other side has read it, so a server that
        # streams without end is held back by the client's reads (as TCP's window would),
        # not buffered in memory.
        client, server = trio.testing.lockstep_stream_pair()
        self.connections += 1
        conn = Conn(stream=server, number=self.connections)
        self.nursery.start_soon(self._run, conn)
        return _ClientStream(client, conn)

    async def _run(self, conn: Conn) -> None:
        self.open_now += 1
        self.peak_open = max(self.peak_open, self.open_now)
        try:
            await self.handler(conn)
        except Reset:
            conn.was_reset = True
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self.open_now -= 1
            # After a reset the client's next read sees the close and reports a reset.
            await conn.stream.aclose()


# -- handlers ---------------------------------------------------------------------------------


def tls12_server(
    *,
    delay: float = 0.0,
    suites: tuple[int, ...] = TLS12_SUITES,
    chain: Callable[[Conn], tuple[bytes, ...]] | None = None,
    pick: Callable[[tuple[int, ...]], int | None] | None = None,
    after: bytes = b"",
) -> Handler:
    """A TLS 1.2-only server: protocol_version (70) to other versions, handshake_failure
    (40) when no suite is shared, else its flight after ``delay`` seconds (then ``after``,
    e.g. garbage). ``pick`` overrides the choice (a server that picks what it likes)."""
    cache: dict[str, tuple[bytes, ...]] = {}

    def default_chain(conn: Conn) -> tuple[bytes, ...]:
        if "chain" not in cache:
            cache["chain"] = (CertFactory().issue(),)
        return cache["chain"]

    async def handle(conn: Conn) -> None:
        hello = await conn.read_hello()
        if hello is None:
            return
        await trio.sleep(delay)
        if max_version(hello) != c.TLS12:
            await conn.send(alert(c.ALERT_PROTOCOL_VERSION, min(max_version(hello), c.TLS12)))
            return
        chosen = pick(hello.cipher_suites) if pick else next((s for s in suites if s in hello.cipher_suites), None)
        if chosen is None:
            await conn.send(alert(40))
            return
        await conn.send(flight(chosen, (chain or default_chain)(conn)) + after)
        await conn.hold()

    return handle


def silent() -> Handler:
    """Accepts, reads, never answers."""

    async def handle(conn: Conn) -> None:
        await conn.hold()

    return handle


def garbage(size: int = 4096) -> Handler:
    async def handle(conn: Conn) -> None:
        await conn.read_hello()
        await conn.send(bytes((i * 37 + 11) % 256 for i in range(size)))
        await conn.hold()

    return handle


def drip(interval: float = 1.0, data: bytes = b"\x16\x03\x03\x00\x30" + b"\x02" * 48) -> Handler:
    """One byte per ``interval`` seconds of a record that never completes a flight."""

    async def handle(conn: Conn) -> None:
        await conn.read_hello()
        for i in range(len(data)):
            await trio.sleep(interval)
            if not await conn.send(data[i : i + 1]):
                return
        await conn.hold()

    return handle


def lying_length() -> Handler:
    """A handshake message header that announces 16 MB."""

    async def handle(conn: Conn) -> None:
        await conn.read_hello()
        await conn.send(record(c.HANDSHAKE, b"\x02\xff\xff\xff" + b"\x00" * 100))
        await conn.hold()

    return handle


def endless(records_per_burst: int = 512) -> Handler:
    """A ServerHello, then warning alerts (RFC 5246 section 7.2: a warning does not end the
    handshake) in valid records, without end: only the client's byte limit stops it."""

    async def handle(conn: Conn) -> None:
        hello = await conn.read_hello()
        if hello is None:
            return
        if not await conn.send(record(c.HANDSHAKE, server_hello(hello.cipher_suites[0]))):
            return
        burst = record(c.ALERT, b"\x01\x70") * records_per_burst
        for _ in range(100_000):
            if not await conn.send(burst):
                return
            await trio.sleep(0)

    return handle


def stalled_certificate(size: int = 120_000) -> Handler:
    """A ServerHello, then a Certificate message announced at ``size`` bytes of which all
    but one arrive; then nothing (the probe waits out its read deadline holding them)."""

    async def handle(conn: Conn) -> None:
        hello = await conn.read_hello()
        if hello is None:
            return
        if max_version(hello) != c.TLS12:
            await conn.send(alert(c.ALERT_PROTOCOL_VERSION))
            return
        message = hs(c.CERTIFICATE, bytes(size))[:-1]
        await conn.send(record(c.HANDSHAKE, server_hello(hello.cipher_suites[0])) + record(c.HANDSHAKE, message))
        await conn.hold()

    return handle


def bad_hrr() -> Handler:
    """A HelloRetryRequest asking for a group nobody offered, twice (RFC 8446 4.1.4)."""
    hrr_random = c.HRR_RANDOM

    async def handle(conn: Conn) -> None:
        hello = await conn.read_hello()
        if hello is None:
            return
        exts = b"\x00\x2b\x00\x02\x03\x04" + b"\x00\x33\x00\x02\xfe\xfe"
        body = b"\x03\x03" + hrr_random + b"\x00" + b"\x13\x01\x00" + struct.pack(">H", len(exts)) + exts
        await conn.send(record(c.HANDSHAKE, hs(c.SERVER_HELLO, body)) * 2)
        await conn.hold()

    return handle


def reset_after_hello() -> Handler:
    async def handle(conn: Conn) -> None:
        await conn.read_hello()
        raise Reset

    return handle


def half_close() -> Handler:
    """Sends half a ServerHello, then closes its side."""

    async def handle(conn: Conn) -> None:
        await conn.read_hello()
        await conn.send(record(c.HANDSHAKE, server_hello(0xC02F))[:20])
        await conn.stream.aclose()

    return handle


# -- HTTP servers for revocation URLs (threads on 127.0.0.1: httpx needs real sockets) -------


class HttpServer:
    """A tiny HTTP/1.0 server in a thread. ``mode``: "endless" streams zeros without a
    Content-Length until the client goes (at most ``cap`` bytes); "huge" announces
    ``cap`` bytes in Content-Length and sends 64 KB of them; "blackhole" listens and never
    accepts (the kernel backlog holds the connection, nothing ever answers).
    ``requests`` counts the requests read."""

    def __init__(self, mode: str, *, cap: int = 2 * 2**30) -> None:
        import socket
        import threading

        self.mode = mode
        self.cap = cap
        self.requests = 0
        self.sent = 0
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/crl.der"
        self._thread: threading.Thread | None = None
        if mode != "blackhole":
            self._thread = threading.Thread(target=self._serve, daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        import threading

        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: object) -> None:
        import socket

        assert isinstance(conn, socket.socket)
        with conn:
            conn.settimeout(5)
            try:
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                self.requests += 1
                if self.mode == "huge":
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % self.cap + bytes(65536))
                    return
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/pkix-crl\r\n\r\n")
                block = bytes(65536)
                while not self._stop.is_set() and self.sent < self.cap:
                    conn.sendall(block)
                    self.sent += len(block)
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> HttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
