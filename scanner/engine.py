# The IO glue: open a TCP connection, send a HandshakeProbe's bytes, feed it what comes
# back, stop at a terminal state or a deadline, and record exactly one outcome.
#
# Rules kept: every connection is bounded by limiters (global, per endpoint) and by the
# deadlines in Deadlines; nothing a server sends escapes as an exception (it becomes an
# outcome); results are return values.
from __future__ import annotations

import contextlib
import errno
import os
import random
import select
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import trio

from handshakes import constants as c
from handshakes import events as ev
from handshakes.errors import RemoteProtocolError
from handshakes.server_flight import HandshakeProbe
from scanner.options import (
    ACCEPTED,
    ALERT,
    CLOSED,
    NOT_TLS,
    PROTOCOL_ERROR,
    REFUSED,
    RESET,
    THROTTLED,
    TIMEOUT,
    TRANSIENT,
    UNREACHABLE,
    Deadlines,
)

OpenStream = Callable[[str, int], Awaitable[trio.abc.Stream]]


class PreTLSFailure(Exception):
    """Raised by an OpenStream that runs a dialogue before TLS (scanner/starttls.py) when
    the dialogue does not reach TLS: run_probe records ``outcome`` (an outcome name of
    scanner.options), ``detail`` (one printable line) and ``words`` (the server's reply,
    exact) instead of sending a ClientHello."""

    def __init__(self, outcome: str, detail: str, words: bytes = b"") -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.words = words


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeOutcome:
    outcome: str
    events: tuple[ev.Event, ...] = ()
    detail: str = ""
    phase: str = ""  # connect | send | read
    bytes_sent: int = 0
    bytes_received: int = 0
    connections: int = 0
    duration_s: float = 0.0
    # Seconds from the start to an open stream (the TCP handshake, and the dialogue before
    # TLS when there is one); 0.0 when no stream was opened.
    connect_s: float = 0.0
    error_bytes: bytes = b""
    # How the connection ended when that was not the probe's own terminal state: timeout
    # (the read deadline) or reset, even when the events already prove an outcome (a probe
    # that keeps reading after the server flight needs to know).
    ended: str = ""

    @property
    def alert(self) -> ev.Alert | None:
        for e in self.events:
            if isinstance(e, ev.Alert) and (e.fatal or e.description == 0):
                return e
        for e in self.events:
            if isinstance(e, ev.Alert):
                return e
        return None

    @property
    def server_hello(self) -> ev.ServerHello | None:
        for e in self.events:
            if isinstance(e, ev.ServerHello):
                return e
        return None

    @property
    def answered_version(self) -> int | None:
        """The protocol version the server answered with: its ServerHello's, TLS 1.3 for a
        HelloRetryRequest (RFC 8446 section 4.1.4), SSL 2.0 for an SSLv2 SERVER-HELLO;
        None when it sent none of them."""
        sh = self.server_hello
        if sh is not None:
            return sh.version
        if self.first(ev.HelloRetryRequest) is not None:
            return c.TLS13
        if self.first(ev.SSLv2ServerHello) is not None:
            return c.SSL2
        return None

    def first(self, kind: type) -> ev.Event | None:
        for e in self.events:
            if isinstance(e, kind):
                return e
        return None

    @property
    def accepted(self) -> bool:
        return self.outcome == ACCEPTED

    def describe(self) -> str:
        """One line for tables and --verbose: the outcome with what proves it."""
        if self.outcome == ALERT and self.alert is not None:
            a = self.alert
            text = f"alert {a.name} ({a.description})" + (" [encrypted]" if a.encrypted else "")
            if a.odd_record_version is not None:  # a malformed record, still TLS
                text += f" in a malformed record (version 0x{a.odd_record_version:04x})"
            return text
        from scanner.outcome_text import quote_bytes, render_outcome

        if self.outcome == NOT_TLS:
            nt = self.first(ev.NotTLS)
            if isinstance(nt, ev.NotTLS):
                return f"not_tls ({nt.protocol}: {quote_bytes(nt.first_bytes)})"
        return render_outcome(self.outcome, self.detail)


def classify(events: list[ev.Event]) -> tuple[str, str]:
    """The outcome a list of events proves, with a short detail."""
    for e in events:
        if isinstance(e, ev.ServerHello | ev.HelloRetryRequest | ev.SSLv2ServerHello):
            return ACCEPTED, ""
    for e in events:
        if isinstance(e, ev.NotTLS):
            return NOT_TLS, e.protocol
        if isinstance(e, ev.Alert):
            return ALERT, e.name
        if isinstance(e, ev.SSLv2Error):
            return ALERT, f"SSLv2 error 0x{e.code:04X}"
    for e in events:
        if isinstance(e, ev.ConnectionClosed):
            return CLOSED, "the server closed the connection without an alert"
    return TIMEOUT, "no answer"


def oserror_outcome(exc: OSError) -> tuple[str, str]:
    code = exc.errno
    if isinstance(exc, ConnectionRefusedError) or code == errno.ECONNREFUSED:
        return REFUSED, "connection refused"
    if isinstance(exc, ConnectionResetError) or code in (errno.ECONNRESET, errno.EPIPE):
        return RESET, "connection reset by peer"
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.ENETDOWN):
        return UNREACHABLE, exc.strerror or str(exc)
    if code == errno.ETIMEDOUT:
        return TIMEOUT, "connect timed out"
    return UNREACHABLE, exc.strerror or str(exc)


class TcpStream(trio.abc.Stream):
    """A bare non-blocking TCP socket as a trio Stream.

    trio's SocketStream costs about 360 us of CPU per connection here (measured, see
    docs/performance.md); a probe opens one connection for a few hundred bytes, so the
    engine drives the socket with trio.lowlevel.wait_readable/wait_writable directly
    (about 50 us). Every method is a checkpoint, as the Stream contract asks.
    """

    __slots__ = ("_sock", "_waits")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._waits = 0  # tasks inside wait_readable/wait_writable on this socket

    async def _wait(self, wait: Callable[[socket.socket], Awaitable[None]]) -> None:
        self._waits += 1
        try:
            await wait(self._sock)
        finally:
            self._waits -= 1

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        sent_any = False
        while view:
            try:
                n = self._sock.send(view)
            except BlockingIOError:
                await self._wait(trio.lowlevel.wait_writable)
                sent_any = True
                continue
            except OSError as exc:
                raise trio.BrokenResourceError(str(exc)) from exc
            view = view[n:]
        if not sent_any:
            await trio.lowlevel.checkpoint_if_cancelled()

    async def wait_send_all_might_not_block(self) -> None:
        await self._wait(trio.lowlevel.wait_writable)

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        while True:
            self._waits += 1
            try:
                await trio.lowlevel.wait_readable(self._sock)
            finally:
                self._waits -= 1
            try:
                return self._sock.recv(max_bytes or 65536)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise trio.BrokenResourceError(str(exc)) from exc

    async def send_eof(self) -> None:
        await trio.lowlevel.checkpoint()
        self._sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        if self._sock.fileno() >= 0:
            if self._waits:
                # Another task waits on the socket: wake it (ClosedResourceError) before
                # the descriptor goes. With no waiter trio holds no state for it, and
                # closing the descriptor takes it out of the epoll set: notify_closing
                # would cost an epoll_ctl and a scheduler lookup per connection (issue 16).
                trio.lowlevel.notify_closing(self._sock)
            self._sock.close()

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()


_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)


async def open_tcp(ip: str, port: int) -> trio.abc.Stream:
    """One TCP connection to one address (no DNS here: names are resolved per endpoint)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    # Non-blocking from creation where the OS allows (Linux): two fcntl calls fewer.
    sock = socket.socket(family, socket.SOCK_STREAM | _NONBLOCK)
    try:
        if not _NONBLOCK:
            sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rc = sock.connect_ex((ip, port))
        if rc in (errno.EINPROGRESS, errno.EAGAIN):
            # A non-blocking connect reports EINPROGRESS even when the handshake is over
            # by the time connect_ex returns (always so on loopback, measured). A
            # zero-timeout poll (about 0.5 us) tells, and saves the epoll registration
            # and the scheduler round trip of wait_writable (issue 16); a far host still
            # waits in wait_writable, under the caller's connect deadline.
            poll = select.poll()
            poll.register(sock, select.POLLOUT)
            if poll.poll(0):
                rc = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                # A connect refused at once still yields to the scheduler (a fleet of
                # closed ports must not run one endpoint after another without a pause).
                if rc:
                    await trio.lowlevel.checkpoint()
                else:
                    await trio.lowlevel.checkpoint_if_cancelled()
            else:
                await trio.lowlevel.wait_writable(sock)
                rc = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        else:
            await trio.lowlevel.checkpoint()
        if rc:
            raise OSError(rc, os.strerror(rc))
    except BaseException:
        trio.lowlevel.notify_closing(sock)
        sock.close()
        raise
    return TcpStream(sock)


async def run_probe(
    probe: HandshakeProbe,
    ip: str,
    port: int,
    *,
    deadlines: Deadlines,
    open_stream: OpenStream = open_tcp,
) -> ProbeOutcome:
    """One connection, one probe, one outcome. Never raises for what the peer does."""
    start = time.perf_counter()
    connected = 0.0
    sent = received = 0
    events: list[ev.Event] = []

    def done(
        outcome: str, detail: str = "", phase: str = "", error: bytes = b"", ended: str = ""
    ) -> ProbeOutcome:
        return ProbeOutcome(
            outcome=outcome,
            events=tuple(events),
            detail=detail,
            phase=phase,
            bytes_sent=sent,
            bytes_received=received,
            connections=1,
            duration_s=time.perf_counter() - start,
            connect_s=connected,
            error_bytes=error or _not_tls_bytes(events),
            ended=ended,
        )

    stream: trio.abc.Stream | None = None
    phase = "connect"
    # One cancel scope for the whole probe: its deadline is the connect deadline, then the
    # read deadline once connected (each scope costs scheduler work on every probe). A
    # factory that runs a dialogue before TLS keeps its own deadline inside (its
    # ``extra_time``), so the connect deadline does not cut a slow greeting short.
    extra = float(getattr(open_stream, "extra_time", 0.0))
    try:
        with trio.CancelScope(deadline=trio.current_time() + deadlines.connect + extra) as scope:
            try:
                stream = await open_stream(ip, port)
            except OSError as exc:
                outcome, detail = oserror_outcome(exc)
                return done(outcome, detail, "connect")
            except PreTLSFailure as exc:
                return done(exc.outcome, exc.detail, "starttls", exc.words)
            connected = time.perf_counter() - start
            scope.deadline = trio.current_time() + deadlines.read
            phase = "send"
            first = probe.initiate()
            await stream.send_all(first)
            sent += len(first)
            phase = "read"
            while not probe.terminal:
                data = bytes(await stream.receive_some(65536))
                received += len(data)
                try:
                    events.extend(probe.receive_data(data))
                except RemoteProtocolError as exc:
                    # What was parsed before the fault, in this read too, is kept: the
                    # verdict must not depend on how TCP cut the bytes.
                    events.extend(e for e in exc.events if isinstance(e, ev.Event))
                    if any(isinstance(e, ev.ServerHello) for e in events):
                        # A reply we could not fully read after a ServerHello: keep the
                        # acceptance and say what broke.
                        return done(ACCEPTED, f"after ServerHello: {exc}", phase, exc.data)
                    return done(PROTOCOL_ERROR, str(exc), phase, exc.data)
                more = probe.data_to_send()
                if more:
                    await stream.send_all(more)
                    sent += len(more)
        if scope.cancelled_caught:
            if phase == "connect":
                return done(TIMEOUT, f"no TCP answer within {deadlines.connect:g}s", "connect")
            events.extend(probe.deadline_reached())
            outcome, detail = classify(events)
            if outcome in (ACCEPTED, ALERT, NOT_TLS):
                return done(outcome, detail, phase, ended=TIMEOUT)
            waited = f"no complete answer within {deadlines.read:g}s"
            if received:
                waited += f" ({received} bytes received)"
            return done(TIMEOUT, waited, phase)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
        outcome, detail = (
            oserror_outcome(cause) if isinstance(cause, OSError) else (RESET, str(exc))
        )
        found, found_detail = classify(events)
        if found in (ACCEPTED, ALERT, NOT_TLS):
            return done(found, found_detail, phase, ended=outcome)
        return done(outcome, detail, phase)
    finally:
        probe.release()  # the outcome holds the events; the probe's buffers can go
        if stream is not None:
            await close_stream(stream)
    outcome, detail = classify(events)
    return done(outcome, detail, phase)


def _not_tls_bytes(events: list[ev.Event]) -> bytes:
    """The first bytes of a reply that is not TLS, kept as the outcome's error bytes."""
    for e in events:
        if isinstance(e, ev.NotTLS):
            return e.first_bytes
    return b""


async def close_stream(stream: trio.abc.Stream) -> None:
    """Close a stream from open_stream, even under cancellation. Streams with a synchronous
    close (ours, the fleet's gated ones, trio's memory streams) close without a scheduler
    round trip; others get a shielded second."""
    close = getattr(stream, "close", None)
    if callable(close):
        close()
        return
    with trio.CancelScope(shield=True), trio.move_on_after(1):
        try:
            await stream.aclose()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass


@dataclass(slots=True)
class Connector:
    """Runs probes against one endpoint address under the scan's limits and deadlines,
    retrying transient failures (reset, timeout) a bounded number of times with backoff.
    It is owned by one endpoint scan: its counters are that scan's."""

    ip: str
    port: int
    deadlines: Deadlines
    global_limiter: trio.CapacityLimiter
    endpoint_limiter: trio.CapacityLimiter
    retries: int = 1
    backoff: float = 0.25
    open_stream: OpenStream = open_tcp
    rate: Callable[[], Awaitable[None]] | None = None
    log: list[tuple[str, HandshakeProbe | None, ProbeOutcome]] = field(default_factory=list)
    # A server that turns a connection away for load (outcome THROTTLED: SMTP 421, "too
    # many connections", a close during the dialogue) is left alone for throttle_backoff
    # seconds (doubling, with +-50% jitter so parallel probes do not return together),
    # at most throttle_retries times per probe. ``throttled`` counts those connections.
    throttle_retries: int = 3
    throttle_backoff: float = 2.0
    jitter: random.Random = field(default_factory=random.Random)
    throttled: int = 0
    # The fastest connection opened so far, in seconds (None before the first): a floor
    # of the round trip to the endpoint that CPU load on this side hardly raises.
    fastest_connect: float | None = None


    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One connection's turn under the scan's limits: the connection rate first (a
        connection waiting for its turn holds no slot), then the endpoint and global
        limiters. Every connection a scan opens, whatever speaks on it, takes one
        (probe() spells the same steps out, for speed: keep the two in step)."""
        if self.rate is not None:
            await self.rate()
        await _acquire(self.endpoint_limiter)
        try:
            await _acquire(self.global_limiter)
            try:
                yield
            finally:
                self.global_limiter.release()
        finally:
            self.endpoint_limiter.release()

    def record(self, name: str, probe: HandshakeProbe | None, outcome: ProbeOutcome) -> None:
        """Count a connection made outside probe() (e.g. a full handshake) in the log."""
        self.log.append((name, probe, outcome))

    async def probe(self, name: str, make: Callable[[], HandshakeProbe]) -> ProbeOutcome:
        attempt = 0
        pauses = 0
        total_sent = total_received = total_conns = 0
        while True:
            probe = make()
            # slot(), spelled out: a generator-based context manager costs more per probe
            # than the probe's own parsing (issue 16).
            if self.rate is not None:
                await self.rate()
            await _acquire(self.endpoint_limiter)
            try:
                await _acquire(self.global_limiter)
                try:
                    result = await run_probe(
                        probe, self.ip, self.port, deadlines=self.deadlines,
                        open_stream=self.open_stream,
                    )
                finally:
                    self.global_limiter.release()
            finally:
                self.endpoint_limiter.release()
            total_sent += result.bytes_sent
            total_received += result.bytes_received
            total_conns += result.connections
            if result.connect_s and (self.fastest_connect is None or result.connect_s < self.fastest_connect):
                self.fastest_connect = result.connect_s
            if result.outcome == THROTTLED:
                self.throttled += 1
                if pauses >= self.throttle_retries:
                    break
                pauses += 1
                attempt += 1
                await trio.sleep(self.throttle_backoff * 2 ** (pauses - 1) * self.jitter.uniform(0.5, 1.5))
                continue
            if result.outcome not in TRANSIENT or attempt - pauses >= self.retries:
                break
            attempt += 1
            await trio.sleep(self.backoff * (2 ** (attempt - pauses - 1)))
        if attempt:
            result = _with_totals(result, total_sent, total_received, total_conns)
        self.log.append((name, probe, result))
        return result


async def _acquire(limiter: trio.CapacityLimiter) -> None:
    """acquire() without a scheduler round trip when a token is free (the common case)."""
    try:
        limiter.acquire_nowait()
    except trio.WouldBlock:
        await limiter.acquire()


def _with_totals(r: ProbeOutcome, sent: int, received: int, conns: int) -> ProbeOutcome:
    return ProbeOutcome(
        outcome=r.outcome,
        events=r.events,
        detail=r.detail + f" (after {conns} attempts)",
        phase=r.phase,
        bytes_sent=sent,
        bytes_received=received,
        connections=conns,
        duration_s=r.duration_s,
        connect_s=r.connect_s,
        error_bytes=r.error_bytes,
        ended=r.ended,
    )


async def resolve(host: str, port: int) -> list[str]:
    """All addresses of a name (IP literals pass through). Raises OSError on failure."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return [host]
    except OSError:
        pass
    infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in seen:
            seen.append(addr)
    return seen
