#!/usr/bin/env python3
# A network with latency inside this machine, for benchmarks: a network namespace reached
# over a link that delays and drops packets, and a TCP relay in that namespace that logs
# each connection (and, on the old veth link, delays and "loses" what it carries). Used
# by bench/fleet_rtt.py; docs/performance.md, "Fleet over a link with latency", says what
# the delay and the loss mean.
#
# Rules kept:
# - Everything stays on this machine: the addresses are in 10.199.0.0/16 on a veth pair
#   whose other end is in our own namespace; nothing is routed anywhere else.
# - What is created is removed however the benchmark ends (Netlab.down from try/finally,
#   atexit and SIGTERM/SIGHUP in the caller); a namespace left by a run that was killed
#   with SIGKILL is removed by the next run (its name carries the dead run's pid).
# - netem is used when the kernel has it; otherwise the delay line does the delaying
#   (or, with link="veth", the relay: the old way, kept to compare).
#
# The delay line (`python bench/netlab.py line ...`, link="tun", the default): two TUN
# devices (/dev/net/tun, IFF_TUN | IFF_NO_PI: each read or write is one IP packet), one
# here with the route to 10.199.0.0/16, one moved into the namespace with the route back,
# and one process that reads every packet from one and writes it to the other rtt/2
# later, in order, dropping each with probability `loss` before it is queued. Packets
# are delayed, not connections: a TCP connect() takes one rtt, a request and its answer
# another, and a lost packet (the SYN too) is retransmitted by the kernel's own TCP, with
# its own timers. The devices live as long as the process holds them open, so they (and
# their routes) go when it ends, however it ends; it ends by itself when its parent does.
#
# The relay (`python bench/netlab.py relay CONFIG.json`, run inside the namespace) listens
# on ADDRESS:PORT for each endpoint and forwards every connection to its upstream (the
# farm on the namespace's own 127.0.0.1). Each chunk read from one side is written to the
# other rtt/2 later, in order (a chunk waits for the ones before it, as TCP delivers). TCP
# handshakes are answered by the kernel before the relay sees the connection, so the
# first client->server chunk of a connection carries one more rtt: the client's first
# bytes reach the server 1.5 rtt after connect(), as over a real link. Loss: a relay
# cannot drop bytes from a TCP stream, so a lost packet is modelled by what it costs the
# sender, one retransmission timeout: a chunk of n segments (1448 bytes each) is held
# `rto` longer (200 ms, Linux's minimum RTO) with probability 1 - (1 - loss)^n, and the
# first chunk another `syn_rto` (1 s, RFC 6298 §2.1's initial RTO, for a lost SYN) with
# probability `loss`.
from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import random
import re
import select
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

PREFIX = "tlsc-rtt-"  # namespace names: PREFIX + the owning process's pid
MSS = 1448  # bytes per segment (1500-byte MTU less IP, TCP and timestamp headers)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def parse_duration(text: str) -> float:
    """'50ms', '0.05s', '50' (milliseconds) -> seconds. ValueError when unreadable."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|us)?\s*", text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (e.g. 50ms)")
    value = float(m.group(1))
    return value / {"ms": 1e3, "s": 1.0, "us": 1e6, None: 1e3}[m.group(2)]


def parse_ratio(text: str) -> float:
    """'0.5%' -> 0.005, '0.005' -> 0.005. ValueError outside [0, 1)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%)?\s*", text)
    if not m:
        raise ValueError(f"not a ratio: {text!r} (e.g. 0.5%)")
    value = float(m.group(1)) / (100 if m.group(2) else 1)
    if not 0 <= value < 1:
        raise ValueError(f"loss must be below 100%: {text!r}")
    return value


def service_addresses(count: int) -> list[str]:
    """`count` addresses for endpoints: 10.199.1.1, 10.199.1.2, ... (250 per /24)."""
    if not 0 < count <= 250 * 200:
        raise ValueError("between 1 and 50,000 endpoints")
    return [f"10.199.{1 + i // 250}.{1 + i % 250}" for i in range(count)]


def netem_available() -> bool:
    """Whether this kernel has the netem qdisc (tried on a dummy device, then removed)."""
    name = f"tlsc-nm{os.getpid() % 100000}"
    if _ip("link", "add", name, "type", "dummy", check=False).returncode != 0:
        return False
    try:
        probe = subprocess.run(
            ["tc", "qdisc", "add", "dev", name, "root", "netem", "delay", "1ms"],
            capture_output=True, text=True, check=False,
        )
        return probe.returncode == 0
    finally:
        _ip("link", "del", name, check=False)


def remove_stale() -> list[str]:
    """Delete namespaces (their processes and veth pairs) left by runs whose process is gone."""
    removed = []
    listing = _ip("netns", "list", check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(PREFIX):
            continue
        pid = name[len(PREFIX):]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            # What that run started in its namespace (the farm, the relay) outlived it.
            for left in _ip("netns", "pids", name, check=False).stdout.split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(left), signal.SIGKILL)
            _ip("link", "del", f"rtth{pid}", check=False)
            _ip("netns", "del", name, check=False)
            removed.append(name)
    return removed


TUNSETIFF = 0x400454CA  # _IOW('T', 202, int): attach this file to a TUN device (linux/if_tun.h)
IFF_TUN = 0x0001  # IP packets, no Ethernet header
IFF_NO_PI = 0x1000  # no 4-byte packet-information header: a read is exactly one packet
LINKS = ("tun", "veth")  # the delay line (default), or the veth pair the relay delays over


@dataclass
class Netlab:
    """A namespace behind a link: this side 10.199.0.1, the namespace 10.199.0.2, and
    10.199.0.0/16 routed into the namespace (endpoint addresses are added there).
    link "tun" (default): the delay line, `rtt` seconds per round trip, each packet lost
    with probability `loss` (random.Random(seed)). link "veth": a veth pair, no delay of
    its own (netem() adds it, or the relay does). Needs root and `ip`; RuntimeError when a
    step fails."""

    pid: int = field(default_factory=os.getpid)
    link: str = "tun"
    rtt: float = 0.0
    loss: float = 0.0
    seed: int | None = None
    up_done: bool = False
    line: subprocess.Popen[bytes] | None = None
    line_err: IO[bytes] | None = None
    counts: dict[str, int] = field(default_factory=dict)  # the line's, once down: packets passed, dropped

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.pid}"

    @property
    def host_if(self) -> str:
        return f"rtth{self.pid}"

    @property
    def ns_if(self) -> str:
        return f"rttn{self.pid}"

    def wrap(self, argv: list[str]) -> list[str]:
        """argv run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def up(self, addresses: list[str]) -> Netlab:
        if self.link not in LINKS:
            raise RuntimeError(f"unknown link {self.link!r} (one of {', '.join(LINKS)})")
        remove_stale()
        if "10.199." in _ip("route", "show", "10.199.0.0/16", check=False).stdout:
            raise RuntimeError("10.199.0.0/16 is already routed here (another run of the benchmark?)")
        self.up_done = True  # from here on, down() has something to undo
        if self.link == "veth":
            steps = [
                ["netns", "add", self.name],
                ["link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if],
                ["link", "set", self.ns_if, "netns", self.name],
                ["addr", "add", "10.199.0.1/30", "dev", self.host_if],
                ["link", "set", self.host_if, "up"],
                ["-n", self.name, "addr", "add", "10.199.0.2/30", "dev", self.ns_if],
                ["-n", self.name, "link", "set", self.ns_if, "up"],
                ["-n", self.name, "link", "set", "lo", "up"],
                ["route", "add", "10.199.0.0/16", "via", "10.199.0.2", "dev", self.host_if],
            ]
        else:
            self._run_step(["netns", "add", self.name])
            self.line_err = tempfile.TemporaryFile()
            self.line = start_line(self.host_if, self.ns_if, rtt=self.rtt, loss=self.loss, seed=self.seed,
                                   err=self.line_err)
            # TUN devices are point to point (no ARP): each side's peer is the other.
            steps = [
                ["link", "set", self.ns_if, "netns", self.name],
                ["addr", "add", "10.199.0.1", "peer", "10.199.0.2", "dev", self.host_if],
                ["link", "set", self.host_if, "up"],
                ["-n", self.name, "addr", "add", "10.199.0.2", "peer", "10.199.0.1", "dev", self.ns_if],
                ["-n", self.name, "link", "set", self.ns_if, "up"],
                ["-n", self.name, "link", "set", "lo", "up"],
                ["route", "add", "10.199.0.0/16", "dev", self.host_if],
            ]
        for step in steps:
            self._run_step(step)
        # Many addresses at once: `ip -batch` reads one command per line.
        batch = "".join(f"addr add {a}/32 dev {self.ns_if}\n" for a in addresses)
        done = subprocess.run(
            ["ip", "-n", self.name, "-batch", "-"], input=batch, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"adding {len(addresses)} addresses: {done.stderr.strip()[:300]}")
        return self

    @staticmethod
    def _run_step(step: list[str]) -> None:
        done = _ip(*step, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"ip {' '.join(step)}: {done.stderr.strip()}")

    def netem(self, one_way_s: float, loss: float) -> None:
        """Delay each direction by one_way_s and drop packets with probability loss."""
        for argv in (
            ["tc", "qdisc", "add", "dev", self.host_if, "root", "netem"],
            ["ip", "netns", "exec", self.name, "tc", "qdisc", "add", "dev", self.ns_if, "root", "netem"],
        ):
            subprocess.run(
                [*argv, "delay", f"{one_way_s * 1000:.3f}ms", "loss", f"{loss * 100:.4f}%"],
                check=True, capture_output=True,
            )

    def down(self) -> None:
        """Stop the delay line, remove the link, the route and the namespace (idempotent;
        errors ignored). Processes still running in the namespace must be stopped first by
        their owner."""
        if self.line is not None:
            stop_process(self.line)  # its TUN devices, and their routes, go with it
            self.line = None
        if self.line_err is not None:
            self.line_err.seek(0)
            last = (self.line_err.read().decode(errors="replace").strip().splitlines() or [""])[-1]
            with contextlib.suppress(ValueError):
                self.counts = dict(json.loads(last))
            self.line_err.close()
            self.line_err = None
        if not self.up_done:
            return
        _ip("link", "del", self.host_if, check=False)  # both ends, and the route with them
        _ip("netns", "del", self.name, check=False)
        self.up_done = False

    def exists(self) -> bool:
        """Whether the namespace or this side's interface is still there."""
        names = [line.split()[0] for line in _ip("netns", "list", check=False).stdout.splitlines() if line.split()]
        return self.name in names or _ip("link", "show", self.host_if, check=False).returncode == 0


# --- the delay line ------------------------------------------------------------------


def open_tun(name: str) -> int:
    """A non-blocking file descriptor on a new TUN device `name` (IFF_TUN | IFF_NO_PI):
    one IP packet per read or write. The device exists while the descriptor is open.
    OSError when /dev/net/tun is missing or CAP_NET_ADMIN is not ours."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


def run_line(host_if: str, ns_if: str, *, one_way: float, loss: float, seed: int | None,
             ready: bool = True) -> None:
    """The delay line: packets read from either device are written to the other one_way
    seconds later, in the order read, each dropped with probability `loss` when read.
    Runs until SIGTERM/SIGINT/SIGHUP or until its parent process is gone; prints "ready"
    once both devices exist, and a count of packets at the end (stderr)."""
    rng = random.Random(seed)
    a, b = open_tun(host_if), open_tun(ns_if)
    # The delay is the same for every packet, so a FIFO per direction is in due order.
    queues: dict[int, deque[tuple[float, bytes]]] = {a: deque(), b: deque()}  # keyed by destination
    other = {a: b, b: a}
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ)
    sel.register(b, selectors.EVENT_READ)
    counts = {"passed": 0, "dropped": 0}
    parent = os.getppid()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(0))
    if ready:
        print("ready", flush=True)
    try:
        while os.getppid() == parent:
            now = time.monotonic()
            for dest, queue in queues.items():
                while queue and queue[0][0] <= now:
                    packet = queue.popleft()[1]
                    with contextlib.suppress(OSError):  # a device that is down drops it, as a wire would
                        os.write(dest, packet)
                    counts["passed"] += 1
            due = [q[0][0] for q in queues.values() if q]
            timeout = min(0.5, max(0.0, min(due) - now)) if due else 0.5
            for key, _ in sel.select(timeout):
                source = int(key.fd)
                queue = queues[other[source]]
                for _ in range(256):  # then let due packets out
                    try:
                        packet = os.read(source, 65536)
                    except (BlockingIOError, InterruptedError):
                        break
                    if loss > 0 and rng.random() < loss:
                        counts["dropped"] += 1
                        continue
                    queue.append((time.monotonic() + one_way, packet))
    finally:
        print(json.dumps(counts), file=sys.stderr, flush=True)
        os.close(a)
        os.close(b)


def start_line(host_if: str, ns_if: str, *, rtt: float, loss: float, seed: int | None = None,
               err: IO[bytes], timeout: float = 30) -> subprocess.Popen[bytes]:
    """Start `python bench/netlab.py line` (in this namespace; the caller moves `ns_if`
    into its namespace) and wait until both TUN devices exist; its stderr goes to `err`
    (a file). RuntimeError otherwise."""
    argv = [sys.executable, str(Path(__file__).resolve()), "line", host_if, ns_if,
            "--one-way", repr(rtt / 2), "--loss", repr(loss)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                               start_new_session=True)
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    if not readable or process.stdout.readline() != b"ready\n":
        stop_process(process)
        err.seek(0)
        raise RuntimeError(f"the delay line did not start: {err.read().decode(errors='replace')[-1000:].strip()}")
    process.stdout.close()
    return process


# --- the relay -----------------------------------------------------------------------


@dataclass
class Link:
    """What the relay does to each chunk: seconds of delay each way, the probability a
    segment is lost, and what a loss costs (seconds)."""

    one_way: float
    loss: float = 0.0
    rto: float = 0.2
    syn_rto: float = 1.0
    seed: int | None = None
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def hold(self, size: int) -> float:
        """Seconds a chunk of `size` bytes is held beyond the one-way delay (lost segments)."""
        if self.loss <= 0 or size <= 0:
            return 0.0
        segments = -(-size // MSS)
        return self.rto if self.rng.random() < 1 - (1 - self.loss) ** segments else 0.0


_DATA, _EOF, _GONE = 0, 1, 2  # queued: bytes; the sender half-closed; the sender is gone


class _Direction:
    """One direction of one relayed connection: chunks wait in order until they are due,
    and the sender's close is passed on in order, after its data."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: deque[tuple[float, bytes, int]] = deque()
        self.dest: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.last_due = 0.0
        self.ended = False  # a close is queued or done: nothing more goes this way
        self.eof_delivered = False
        self.reverse: _Direction | None = None  # the other direction of the same connection

    def push(self, data: bytes, delay: float, kind: int = _DATA) -> None:
        if self.ended:
            return
        self.ended = kind != _DATA
        due = max(self.last_due, self.loop.time() + delay)
        self.last_due = due
        self.queue.append((due, data, kind))
        self.arm()

    def arm(self) -> None:
        if self.timer is None and self.queue and self.dest is not None:
            self.timer = self.loop.call_at(self.queue[0][0], self.flush)

    def flush(self) -> None:
        self.timer = None
        dest = self.dest
        assert dest is not None
        now = self.loop.time() + 0.0005  # the loop may run a timer a little early
        while self.queue and self.queue[0][0] <= now:
            _, data, kind = self.queue.popleft()
            if dest.is_closing():
                self.queue.clear()
                return
            if kind == _DATA:
                dest.write(data)
            elif kind == _EOF and dest.can_write_eof():
                dest.write_eof()
                self.eof_delivered = True
                if self.reverse is not None and self.reverse.ended:
                    dest.close()  # both ways are done: nothing more on this socket
            else:
                dest.close()
        self.arm()

    def cancel(self) -> None:
        self.ended = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.queue.clear()


class _Relayed:
    """One connection: the accepted client side, the upstream side, two directions."""

    def __init__(self, relay: Relay, endpoint: str, upstream: tuple[str, int]) -> None:
        loop = relay.loop
        self.relay = relay
        self.endpoint = endpoint
        self.upstream = upstream
        self.up = _Direction(loop)  # client -> server
        self.down = _Direction(loop)  # server -> client
        self.up.reverse, self.down.reverse = self.down, self.up
        self.client: asyncio.Transport | None = None
        self.server: asyncio.Transport | None = None
        self.opened = time.monotonic()
        self.first = True
        self.bytes_up = self.bytes_down = 0
        self.closed_sides = 0
        self.client_done = 0.0  # when the client first closed (half or full), monotonic

    def from_client(self, data: bytes) -> None:
        link = self.relay.link
        delay = link.one_way + link.hold(len(data))
        if self.first:
            # The TCP handshake the kernel already did without delay: one more round trip,
            # and a lost SYN costs the initial RTO (RFC 6298 §2.1).
            self.first = False
            delay += 2 * link.one_way
            if link.loss > 0 and link.rng.random() < link.loss:
                delay += link.syn_rto
        self.bytes_up += len(data)
        self.up.push(data, delay)

    def from_server(self, data: bytes) -> None:
        link = self.relay.link
        self.bytes_down += len(data)
        self.down.push(data, link.one_way + link.hold(len(data)))

    def side_closed(self, client: bool) -> None:
        self.closed_sides += 1
        if client:
            self.relay.finished(self)

    def abort(self) -> None:
        self.up.cancel()
        self.down.cancel()
        for t in (self.client, self.server):
            if t is not None:
                t.abort()


class _ClientSide(asyncio.Protocol):
    def __init__(self, relay: Relay, endpoint: str, upstream: tuple[str, int]) -> None:
        self.conn = _Relayed(relay, endpoint, upstream)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        conn = self.conn
        conn.client = transport
        conn.down.dest = transport
        conn.relay.opened(conn)
        conn.relay.loop.create_task(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        conn = self.conn
        try:
            transport, _ = await conn.relay.loop.create_connection(lambda: _ServerSide(conn), *conn.upstream)
        except OSError:
            if conn.client is not None:
                conn.client.close()  # as a server that accepted and had nothing to say
            return
        conn.server = transport  # type: ignore[assignment]
        conn.up.dest = transport  # type: ignore[assignment]
        conn.up.arm()

    def data_received(self, data: bytes) -> None:
        self.conn.from_client(data)

    def eof_received(self) -> bool:
        self.conn.client_done = self.conn.client_done or time.monotonic()
        self.conn.up.push(b"", self.conn.relay.link.one_way, _EOF)
        # Half-close (the server's answer may still come back), unless the server's own
        # close has already been passed on: then this socket is done.
        return not self.conn.down.eof_delivered

    def connection_lost(self, exc: Exception | None) -> None:
        conn = self.conn
        conn.client_done = conn.client_done or time.monotonic()
        conn.up.ended = False  # after a half-close, the full close still goes upstream
        conn.up.push(b"", conn.relay.link.one_way, _GONE)
        conn.down.cancel()
        conn.side_closed(client=True)


class _ServerSide(asyncio.Protocol):
    def __init__(self, conn: _Relayed) -> None:
        self.conn = conn

    def data_received(self, data: bytes) -> None:
        self.conn.from_server(data)

    def eof_received(self) -> bool:
        self.conn.down.push(b"", self.conn.relay.link.one_way, _EOF)
        return not self.conn.up.eof_delivered

    def connection_lost(self, exc: Exception | None) -> None:
        conn = self.conn
        conn.down.ended = False
        conn.down.push(b"", conn.relay.link.one_way, _GONE)
        conn.side_closed(client=False)


class Relay:
    """Listens on each (address, port) of `routes` and relays to its upstream (host, port)
    through `link`. One line of JSON per client connection, when its client side closes,
    goes to `log`: endpoint, opened (accepted) and closed (the client's first FIN or
    reset: when the client was done with it), as time.monotonic() seconds (the same clock
    in every process of this machine), bytes each way."""

    def __init__(self, routes: dict[tuple[str, int], tuple[str, int]], link: Link, log: Path | None) -> None:
        self.routes = routes
        self.link = link
        self.log = log.open("a", buffering=1, encoding="utf-8") if log else None
        self.live: set[_Relayed] = set()
        self.loop = asyncio.get_running_loop()
        self.servers: list[asyncio.Server] = []

    async def start(self) -> None:
        for (addr, port), upstream in self.routes.items():
            endpoint = f"{addr}:{port}"
            server = await self.loop.create_server(
                lambda e=endpoint, u=upstream: _ClientSide(self, e, u),  # type: ignore[misc]
                addr, port, backlog=1024, reuse_address=True,
            )
            self.servers.append(server)

    def opened(self, conn: _Relayed) -> None:
        self.live.add(conn)

    def finished(self, conn: _Relayed) -> None:
        self.live.discard(conn)
        if self.log is not None:
            self.log.write(json.dumps({
                "endpoint": conn.endpoint, "opened": round(conn.opened, 6),
                "closed": round(conn.client_done or time.monotonic(), 6), "up": conn.bytes_up, "down": conn.bytes_down,
            }) + "\n")

    def close(self) -> None:
        for server in self.servers:
            server.close()
        for conn in list(self.live):
            conn.abort()
        if self.log is not None:
            self.log.close()


async def serve(config: dict[str, object], ready: Path | None = None) -> None:
    """Run the relay described by `config` (see relay_config) until SIGTERM/SIGINT."""
    routes = {
        (str(r["listen"][0]), int(r["listen"][1])): (str(r["upstream"][0]), int(r["upstream"][1]))  # type: ignore[index]
        for r in config["routes"]  # type: ignore[attr-defined]
    }
    link = Link(
        one_way=float(config["one_way"]), loss=float(config["loss"]),  # type: ignore[arg-type]
        rto=float(config.get("rto", 0.2)), syn_rto=float(config.get("syn_rto", 1.0)),  # type: ignore[arg-type]
        seed=config.get("seed"),  # type: ignore[arg-type]
    )
    log = config.get("log")
    relay = Relay(routes, link, Path(str(log)) if log else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    try:
        await relay.start()
        if ready is not None:
            ready.write_text("ready\n", encoding="utf-8")
        await stop.wait()
    finally:
        relay.close()


def relay_config(
    routes: list[tuple[tuple[str, int], tuple[str, int]]], *, rtt: float, loss: float,
    log: Path | None = None, rto: float = 0.2, syn_rto: float = 1.0, seed: int | None = None,
) -> dict[str, object]:
    """The JSON the relay reads: rtt in seconds (half each way), loss a probability."""
    return {
        "routes": [{"listen": list(a), "upstream": list(u)} for a, u in routes],
        "one_way": rtt / 2, "loss": loss, "rto": rto, "syn_rto": syn_rto, "seed": seed,
        "log": str(log) if log else None,
    }


def start_relay(config: dict[str, object], workdir: Path, *, wrap: list[str] | None = None,
                timeout: float = 30) -> subprocess.Popen[bytes]:
    """Start `python bench/netlab.py relay` (inside a namespace when `wrap` is Netlab.wrap's
    prefix) and wait until it listens. RuntimeError if it does not within `timeout` s."""
    path = workdir / "relay.json"
    ready = workdir / "relay.ready"
    ready.unlink(missing_ok=True)
    path.write_text(json.dumps(config), encoding="utf-8")
    argv = [sys.executable, str(Path(__file__).resolve()), "relay", str(path), "--ready", str(ready)]
    process = subprocess.Popen(
        [*(wrap or []), *argv], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=(workdir / "relay.err").open("wb"), start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            err = (workdir / "relay.err").read_text(errors="replace")[-1000:]
            raise RuntimeError(f"the relay did not start: {err}")
        time.sleep(0.05)
    return process


def stop_process(process: subprocess.Popen[bytes], grace: float = 5) -> None:
    """SIGTERM to the process group, SIGKILL after `grace` seconds."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description="the relay of bench/fleet_rtt.py")
    sub = parser.add_subparsers(dest="command", required=True)
    relay = sub.add_parser("relay", help="run the relay described by a JSON file")
    relay.add_argument("config", type=Path)
    relay.add_argument("--ready", type=Path, help="file written once every port listens")
    line = sub.add_parser("line", help="run the delay line between two new TUN devices")
    line.add_argument("host_if")
    line.add_argument("ns_if")
    line.add_argument("--one-way", type=float, required=True, help="seconds each way")
    line.add_argument("--loss", type=float, default=0.0, help="probability a packet is dropped")
    line.add_argument("--seed", type=int)
    opts = parser.parse_args()
    if opts.command == "line":
        try:
            run_line(opts.host_if, opts.ns_if, one_way=opts.one_way, loss=opts.loss, seed=opts.seed)
        except OSError as exc:
            print(f"netlab line: {exc}", file=sys.stderr)
            return 1
        return 0
    config = json.loads(opts.config.read_text(encoding="utf-8"))
    asyncio.run(serve(config, opts.ready))
    return 0


if __name__ == "__main__":
    sys.exit(main())
