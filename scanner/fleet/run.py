# The streaming fleet runner: targets come in one at a time, a bounded number of endpoints
# are scanned at once, and each finished target goes through a memory channel to a single
# writer task.
#
# Rules kept:
# - Every task lives in a nursery. The runner's own limits are CapacityLimiters: endpoints
#   in flight, connections (global), connections per /24 or /64, plus the token-bucket
#   connection rate and per-endpoint backoff of scanner.fleet.limits.
# - An endpoint's slot is returned by the writer, after its results are written: finished
#   results waiting in the channel count against the in-flight bound, so the channel can
#   never hold more than `endpoints` items and a finished result is never dropped (it is
#   sent without a checkpoint, so cancellation cannot lose it).
# - Ctrl-C (when the runner owns the signal) cancels the scans only: in-flight endpoints
#   are abandoned, the writer still writes everything that finished.
# - With workers > 1 the endpoints are scanned in child processes (one trio loop each,
#   the same engine); the limits are divided between them, so the totals still hold.
from __future__ import annotations

import os
import pickle
import signal
import struct
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import trio

from scanner import engine as en
from scanner.api import scan_endpoint, unresolved
from scanner.fleet.limits import EndpointGate, RateLimiter, SubnetLimiter
from scanner.options import ScanOptions, Target
from scanner.results import EndpointResult

Job = tuple[Target, ScanOptions]


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetSettings:
    """The limits of one run. None: no limit of that kind."""

    endpoints: int = 64  # endpoints scanned at once
    connections: int = 256  # connections open at once, whole run
    per_subnet: int | None = 64  # connections open at once into one /24 (IPv4) or /64 (IPv6)
    rate: float | None = None  # new connections per second, whole run
    burst: int | None = None  # connections allowed at once after a quiet spell (default: rate/10)
    workers: int = 1  # processes scanning

    def share(self, workers: int, index: int) -> FleetSettings:
        """This worker's part of the limits: each total divided by the worker count."""

        def part(total: int) -> int:
            return max(1, total // workers + (1 if index < total % workers else 0))

        return replace(
            self,
            endpoints=part(self.endpoints),
            connections=part(self.connections),
            per_subnet=part(self.per_subnet) if self.per_subnet else None,
            rate=self.rate / workers if self.rate else None,
            burst=part(self.burst) if self.burst else None,
            workers=1,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Completed:
    """One target done: its results (one per address scanned), in the order given."""

    index: int
    target: Target
    results: tuple[EndpointResult, ...]


@dataclass(slots=True)
class RunStatus:
    started: int = 0
    completed: int = 0
    interrupted: bool = False
    errors: list[str] = field(default_factory=list)


class Engine:
    """Scans targets in this process under one set of limits."""

    def __init__(self, settings: FleetSettings, *, open_stream: en.OpenStream = en.open_tcp) -> None:
        self.settings = settings
        self.global_limiter = trio.CapacityLimiter(settings.connections)
        self.subnets = SubnetLimiter(settings.per_subnet) if settings.per_subnet else None
        self.rate = (
            RateLimiter(settings.rate, settings.burst or max(1, int(settings.rate / 10)))
            if settings.rate
            else None
        )
        self.open_stream = open_stream

    async def scan(self, target: Target, options: ScanOptions) -> list[EndpointResult]:
        """Like scan.scan_target, with a gate per address so the subnet, rate and backoff
        limits see each connection. Never raises for what the network does."""
        if target.ip:
            ips = [target.ip]
        else:
            budget = min(options.deadlines.endpoint, max(5.0, 2 * options.deadlines.connect))
            ips = []
            with trio.move_on_after(budget):
                try:
                    ips = await en.resolve(target.host, target.port)
                except OSError as exc:
                    return [unresolved(target, f"cannot resolve {target.host}: {exc}", options)]
            if not ips:
                detail = f"{target.host} has no address (or no answer within {budget:g}s)"
                return [unresolved(target, detail, options)]
        if not options.all_addresses:
            ips = ips[:1]
        out = []
        for ip in ips:
            gate = EndpointGate(ip, subnets=self.subnets, rate=self.rate, open_stream=self.open_stream)
            try:
                out.append(
                    await scan_endpoint(
                        replace(target, ip=ip), options, global_limiter=self.global_limiter,
                        open_stream=gate.open_stream, rate=gate.before_connect,
                    )
                )
            finally:
                gate.close()
        return out


def _crashed(target: Target, exc: BaseException) -> EndpointResult:
    """A bug in the scan of one endpoint must not stop the fleet: it becomes that
    endpoint's result (outcome "error"), and the traceback goes to stderr."""
    traceback.print_exception(exc, file=sys.stderr)
    return EndpointResult(
        host=target.host, port=target.port, ip=target.ip, sni=target.server_name, outcome="error",
        detail=f"internal error: {type(exc).__name__}: {exc}", tags=target.tags,
        started=datetime.now(UTC).isoformat(timespec="seconds"),
    )


async def _scan_safely(scan: Callable[[Target, ScanOptions], Any], target: Target, options: ScanOptions) -> tuple[EndpointResult, ...]:
    try:
        return tuple(await scan(target, options))
    except Exception as exc:  # noqa: BLE001 - one endpoint's bug is that endpoint's result
        return (_crashed(target, exc),)


async def run_fleet(
    jobs: Iterable[Job],
    settings: FleetSettings,
    write: Callable[[Completed], None],
    *,
    tick: Callable[[], None] | None = None,
    tick_interval: float = 0.5,
    handle_sigint: bool = False,
    open_stream: en.OpenStream = en.open_tcp,
) -> RunStatus:
    """Scan every job, calling ``write`` (from one task, in completion order) for each.

    ``tick`` is called every ``tick_interval`` seconds while the run lasts (the progress
    bar). With ``handle_sigint`` the first Ctrl-C abandons the endpoints in flight and
    returns once everything finished is written (status.interrupted), a second one stops
    the writer too."""
    status = RunStatus()
    in_flight = trio.CapacityLimiter(settings.endpoints)
    pool: _Pool | None = None
    scanner: Callable[[Target, ScanOptions], Any]
    if settings.workers > 1:
        pool = _Pool(settings)
        scanner = pool.scan
    else:
        scanner = Engine(settings, open_stream=open_stream).scan
    # At most `endpoints` items: a slot is returned only after its item is written.
    send, recv = trio.open_memory_channel[Completed](settings.endpoints)

    async def one(index: int, target: Target, options: ScanOptions) -> None:
        results = await _scan_safely(scanner, target, options)
        send.send_nowait(Completed(index=index, target=target, results=results))

    async def writer(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async with recv:
            async for done in recv:
                try:
                    write(done)
                finally:
                    status.completed += 1
                    in_flight.release_on_behalf_of(done.index)

    helpers = trio.CancelScope()
    writer_scope = trio.CancelScope()

    async def run_writer() -> None:
        try:
            with writer_scope:
                await writer()
        finally:
            helpers.cancel()

    async with trio.open_nursery() as outer:
        outer.start_soon(run_writer)
        with trio.CancelScope() as scans:

            async def helpers_task() -> None:
                with helpers:
                    async with trio.open_nursery() as h:
                        if handle_sigint:
                            h.start_soon(_watch_sigint, scans, writer_scope, status)
                        if tick is not None:
                            h.start_soon(_ticker, tick, tick_interval)

            outer.start_soon(helpers_task)
            try:
                if pool is not None:
                    await pool.start(outer)
                # Closing `send` (also when cancelled) lets the writer finish the buffer.
                async with send, trio.open_nursery() as nursery:
                    for index, (target, options) in enumerate(jobs):
                        await in_flight.acquire_on_behalf_of(index)
                        status.started += 1
                        nursery.start_soon(one, index, target, options)
            finally:
                if pool is not None:
                    with trio.CancelScope(shield=True):
                        await pool.close(abandon=scans.cancel_called)
        if scans.cancelled_caught:
            status.interrupted = True
    if tick is not None:
        tick()
    return status


async def _watch_sigint(scans: trio.CancelScope, writer: trio.CancelScope, status: RunStatus) -> None:
    with trio.open_signal_receiver(signal.SIGINT) as signals:
        async for _ in signals:
            if scans.cancel_called:
                writer.cancel()
                return
            status.interrupted = True
            scans.cancel()


async def _ticker(tick: Callable[[], None], interval: float) -> None:
    while True:
        tick()
        await trio.sleep(interval)


# -- worker processes ------------------------------------------------------------------------
#
# Frames are a 4-byte big-endian length and a pickle: parent -> worker ("settings", ...),
# ("job", index, target, options), ("end",); worker -> parent ("done", index, results).
# A worker that reads end-of-file without "end" lost its parent (killed): it stops at once.

_HEADER = struct.Struct(">I")


async def _read_frame(stream: trio.abc.ReceiveStream, buf: bytearray) -> Any:
    while True:
        if len(buf) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buf)
            if len(buf) >= _HEADER.size + size:
                payload = bytes(buf[_HEADER.size : _HEADER.size + size])
                del buf[: _HEADER.size + size]
                return pickle.loads(payload)
        data = await stream.receive_some(1 << 16)
        if not data:
            return None
        buf += data


def _frame(obj: Any) -> bytes:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


@dataclass(slots=True)
class _Worker:
    process: trio.Process
    send_lock: trio.Lock = field(default_factory=trio.Lock)
    in_flight: int = 0


@dataclass(slots=True)
class _Waiter:
    worker: _Worker
    event: trio.Event = field(default_factory=trio.Event)
    results: tuple[EndpointResult, ...] | None = None


class _Pool:
    """Worker processes scanning jobs for the parent's runner: ``scan`` sends a job to the
    least busy worker and waits for its results."""

    def __init__(self, settings: FleetSettings) -> None:
        self.settings = settings
        self.workers: list[_Worker] = []
        self._waiting: dict[int, _Waiter] = {}
        self._next_id = 0
        self._readers = trio.CancelScope()

    async def start(self, nursery: trio.Nursery) -> None:
        count = self.settings.workers
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        for i in range(count):
            process = await trio.lowlevel.open_process(
                [sys.executable, "-c", "from scanner.fleet.run import worker_main; worker_main()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
            )
            worker = _Worker(process=process)
            self.workers.append(worker)
            assert process.stdin is not None
            await process.stdin.send_all(_frame(("settings", self.settings.share(count, i))))
        nursery.start_soon(self._read_all)

    async def _read_all(self) -> None:
        with self._readers:
            async with trio.open_nursery() as nursery:
                for worker in self.workers:
                    nursery.start_soon(self._read, worker)

    async def _read(self, worker: _Worker) -> None:
        assert worker.process.stdout is not None
        buf = bytearray()
        try:
            while True:
                frame = await _read_frame(worker.process.stdout, buf)
                if frame is None:
                    break
                _, job_id, results = frame
                worker.in_flight -= 1
                waiter = self._waiting.pop(job_id, None)
                if waiter is not None:
                    waiter.results = results
                    waiter.event.set()
        finally:
            # A worker that died takes its jobs with it: their callers get an error.
            for job_id, waiter in list(self._waiting.items()):
                if waiter.worker is worker:
                    del self._waiting[job_id]
                    waiter.event.set()

    async def scan(self, target: Target, options: ScanOptions) -> list[EndpointResult]:
        worker = min(self.workers, key=lambda w: w.in_flight)
        job_id = self._next_id
        self._next_id += 1
        waiter = self._waiting[job_id] = _Waiter(worker=worker)
        worker.in_flight += 1
        assert worker.process.stdin is not None
        try:
            async with worker.send_lock:
                await worker.process.stdin.send_all(_frame(("job", job_id, target, options)))
            await waiter.event.wait()
        finally:
            self._waiting.pop(job_id, None)
        if waiter.results is None:
            raise RuntimeError(f"worker process {worker.process.pid} exited (code {worker.process.returncode})")
        return list(waiter.results)

    async def close(self, *, abandon: bool) -> None:
        """Normally: tell each worker the jobs are over and wait for it. Abandoning (Ctrl-C):
        kill the workers, whatever they were scanning."""
        for worker in self.workers:
            stdin = worker.process.stdin
            if stdin is None:
                continue
            try:
                if not abandon:
                    with trio.move_on_after(5):
                        async with worker.send_lock:
                            await stdin.send_all(_frame(("end",)))
                await stdin.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
        for worker in self.workers:
            if abandon:
                worker.process.kill()
            with trio.move_on_after(10):
                await worker.process.wait()
            if worker.process.returncode is None:
                worker.process.kill()
                await worker.process.wait()
        self._readers.cancel()


def worker_main() -> None:
    """A worker process: the parent's Ctrl-C is the parent's to handle (it kills us)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Frames own the real stdout; anything printed by accident goes to stderr.
    frames_out = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    trio.run(_worker, frames_out)


async def _worker(frames_out: int) -> None:
    stdin = trio.lowlevel.FdStream(os.dup(0))
    stdout = trio.lowlevel.FdStream(frames_out)
    buf = bytearray()
    first = await _read_frame(stdin, buf)
    if first is None:
        return
    engine = Engine(first[1])
    lock = trio.Lock()

    async def one(job_id: int, target: Target, options: ScanOptions) -> None:
        results = await _scan_safely(engine.scan, target, options)
        try:
            data = _frame(("done", job_id, results))
        except Exception as exc:  # noqa: BLE001 - an unpicklable result is still a result
            data = _frame(("done", job_id, (_crashed(target, exc),)))
        async with lock:
            await stdout.send_all(data)

    async with trio.open_nursery() as nursery:
        while True:
            frame = await _read_frame(stdin, buf)
            if frame is None:  # the parent is gone: abandon everything
                nursery.cancel_scope.cancel()
                break
            if frame[0] == "end":
                break
            _, job_id, target, options = frame
            nursery.start_soon(one, job_id, target, options)
