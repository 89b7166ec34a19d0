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
#   the same engine), with --cluster on Dask workers; both go through the batch-and-result
#   mechanism of scanner.fleet.batches. The limits are divided between the processes or
#   tasks, so the totals still hold.
from __future__ import annotations

import gc
import os
import pickle
import signal
import struct
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import trio

from scanner import engine as en
from scanner.api import scan_endpoint, unresolved
from scanner.fleet.batches import (
    Backend,
    Batch,
    Dispatcher,
    Item,
    Results,
    crashed,
    scan_batch,
    scan_safely,
)
from scanner.fleet.limits import EndpointGate, RateLimiter, SubnetLimiter, Subnets
from scanner.options import ScanOptions, Target
from scanner.results import EndpointResult

Job = tuple[Target, ScanOptions]
MAX_BATCH = 64  # endpoints in one batch, at most


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetSettings:
    """The limits of one run. None: no limit of that kind."""

    endpoints: int = 64  # endpoints scanned at once
    connections: int = 256  # connections open at once, whole run
    per_subnet: int | None = 64  # connections open at once into one /24 (IPv4) or /64 (IPv6)
    rate: float | None = None  # new connections per second, whole run
    burst: int | None = None  # connections allowed at once after a quiet spell (default: rate/10)
    workers: int = 1  # processes scanning
    cluster: str | None = None  # Dask: "local:N" or a scheduler address (scanner.fleet.cluster)
    cluster_subnets: bool = False  # per_subnet is enforced cluster-wide (not divided)

    def share(self, workers: int, index: int) -> FleetSettings:
        """This worker's part of the limits: each total divided by the worker count."""

        def part(total: int) -> int:
            return max(1, total // workers + (1 if index < total % workers else 0))

        return replace(
            self,
            endpoints=part(self.endpoints),
            connections=part(self.connections),
            per_subnet=(
                self.per_subnet if self.cluster_subnets else part(self.per_subnet) if self.per_subnet else None
            ),
            rate=self.rate / workers if self.rate else None,
            burst=part(self.burst) if self.burst else None,
            workers=1,
            cluster=None,
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
    lost: str | None = None  # why the backend (a Dask scheduler) was lost, ending the run
    errors: list[str] = field(default_factory=list)


class Engine:
    """Scans targets in this process under one set of limits."""

    def __init__(
        self, settings: FleetSettings, *, open_stream: en.OpenStream = en.open_tcp,
        subnets: Subnets | None = None,
    ) -> None:
        self.settings = settings
        self.global_limiter = trio.CapacityLimiter(settings.connections)
        self.subnets: Subnets | None = subnets
        if subnets is None and settings.per_subnet:
            self.subnets = SubnetLimiter(settings.per_subnet)
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


async def run_fleet(
    jobs: Iterable[Job],
    settings: FleetSettings,
    write: Callable[[Completed], None],
    *,
    tick: Callable[[], None] | None = None,
    tick_interval: float = 0.5,
    handle_sigint: bool = False,
    open_stream: en.OpenStream = en.open_tcp,
    backend: Backend | None = None,
) -> RunStatus:
    """Scan every job, calling ``write`` (from one task, in completion order) for each.

    ``tick`` is called every ``tick_interval`` seconds while the run lasts (the progress
    bar). With ``handle_sigint`` the first Ctrl-C abandons the endpoints in flight and
    returns once everything finished is written (status.interrupted), a second one stops
    the writer too. Endpoints are scanned in this trio loop, or in batches by ``backend``
    (default: worker processes when settings.workers > 1, a Dask cluster when
    settings.cluster is set); a backend that is lost for good ends the run with what was
    written (status.lost says why)."""
    status = RunStatus()
    in_flight = trio.CapacityLimiter(settings.endpoints)
    if backend is None and settings.workers > 1:
        backend = ProcessBackend(settings)
    # At most `endpoints` items: a slot is returned only after its item is written.
    send, recv = trio.open_memory_channel[Completed](settings.endpoints)

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

    # The Ctrl-C watcher takes SIGINT once the backend has started: a local Dask cluster
    # ignores SIGINT while it spawns its workers (scanner.fleet.cluster), so that they
    # inherit the ignoring, and a handler installed meanwhile would undo it.
    started = trio.Event()
    if backend is None:
        started.set()

    async with trio.open_nursery() as outer:
        outer.start_soon(run_writer)
        with trio.CancelScope() as scans:

            async def helpers_task() -> None:
                with helpers:
                    async with trio.open_nursery() as h:
                        if handle_sigint:
                            h.start_soon(_watch_sigint, scans, writer_scope, status, started)
                        if tick is not None:
                            h.start_soon(_ticker, tick, tick_interval)

            outer.start_soon(helpers_task)
            if backend is None:
                engine = Engine(settings, open_stream=open_stream)

                async def one(index: int, target: Target, options: ScanOptions) -> None:
                    results = await scan_safely(engine.scan, target, options)
                    send.send_nowait(Completed(index=index, target=target, results=results))

                # Closing `send` (also when cancelled) lets the writer finish the buffer.
                async with send, trio.open_nursery() as nursery:
                    for index, (target, options) in enumerate(jobs):
                        await in_flight.acquire_on_behalf_of(index)
                        status.started += 1
                        nursery.start_soon(one, index, target, options)
            else:

                def deliver(index: int, target: Target, results: Results) -> None:
                    send.send_nowait(Completed(index=index, target=target, results=results))

                def lost(message: str) -> None:
                    if status.lost is None:
                        status.lost = message
                    scans.cancel()

                dispatcher = Dispatcher(backend, deliver, 1, on_lost=lost)
                try:
                    async with send:
                        try:
                            slots = await backend.start(outer, dispatcher)
                        finally:
                            started.set()
                        dispatcher.size = batch_size(settings, slots)
                        dispatcher.slots = slots
                        for index, (target, options) in enumerate(jobs):
                            if in_flight.available_tokens == 0 and dispatcher.starving():
                                dispatcher.flush()
                            await in_flight.acquire_on_behalf_of(index)
                            status.started += 1
                            dispatcher.add((index, target, options))
                        dispatcher.done_feeding()
                        await dispatcher.idle.wait()
                finally:
                    with trio.CancelScope(shield=True):
                        await backend.close(abandon=scans.cancel_called)
        if scans.cancelled_caught and status.lost is None:
            status.interrupted = True
    if tick is not None:
        tick()
    return status


def batch_size(settings: FleetSettings, slots: int) -> int:
    """Endpoints per batch: each slot gets about two batches of the endpoints in flight, so
    a slot finishing one batch has the next one waiting."""
    return max(1, min(MAX_BATCH, settings.endpoints // (2 * max(1, slots))))


async def _watch_sigint(
    scans: trio.CancelScope, writer: trio.CancelScope, status: RunStatus, started: trio.Event
) -> None:
    await started.wait()
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


# -- worker processes (--workers N): a Backend of scanner.fleet.batches ------------------------
#
# Frames are a 4-byte big-endian length and a pickle: parent -> worker ("settings", ...),
# ("batch", batch_id, items), ("end",); worker -> parent ("done", batch_id, index, results)
# per endpoint and ("ended", batch_id) per batch. A worker that reads end-of-file without
# "end" lost its parent (killed): it stops at once. A worker that dies takes nothing with
# it: the endpoints of its batches not yet written go to another worker.

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
    batches: set[int] = field(default_factory=set)
    load: int = 0  # endpoints sent and not reported
    alive: bool = True


class ProcessBackend:
    """Worker processes on this machine, each one trio loop with its share of the limits;
    a batch goes to the least loaded worker."""

    def __init__(self, settings: FleetSettings) -> None:
        self.settings = settings
        self.workers: list[_Worker] = []
        self._readers = trio.CancelScope()
        self._closing = False
        self._nursery: trio.Nursery | None = None
        self._dispatcher: Dispatcher | None = None

    async def start(self, nursery: trio.Nursery, dispatcher: Dispatcher) -> int:
        self._nursery = nursery
        self._dispatcher = dispatcher
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
        return count

    def submit(self, batch: Batch) -> None:
        alive = [w for w in self.workers if w.alive]
        assert self._nursery is not None and self._dispatcher is not None
        if not alive:
            self._dispatcher.ended(batch.id, "every worker process exited")
            return
        worker = min(alive, key=lambda w: w.load)
        worker.batches.add(batch.id)
        worker.load += len(batch.items)
        self._nursery.start_soon(self._send, worker, batch)

    async def _send(self, worker: _Worker, batch: Batch) -> None:
        stdin = worker.process.stdin
        assert stdin is not None
        try:
            async with worker.send_lock:
                await stdin.send_all(_frame(("batch", batch.id, batch.items)))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the reader sees the worker's end and moves its batches

    async def _read_all(self) -> None:
        with self._readers:
            async with trio.open_nursery() as nursery:
                for worker in self.workers:
                    nursery.start_soon(self._read, worker)

    async def _read(self, worker: _Worker) -> None:
        assert worker.process.stdout is not None and self._dispatcher is not None
        dispatcher = self._dispatcher
        buf = bytearray()
        try:
            while True:
                frame = await _read_frame(worker.process.stdout, buf)
                if frame is None:
                    break
                if frame[0] == "done":
                    _, batch_id, index, results = frame
                    worker.load -= 1
                    dispatcher.result(batch_id, index, pickle.loads(results))
                elif frame[0] == "ended":
                    worker.batches.discard(frame[1])
                    dispatcher.ended(frame[1])
        finally:
            worker.alive = False
            if not self._closing:
                # Its batches' unwritten endpoints go to the workers still alive.
                code = worker.process.returncode
                for batch_id in sorted(worker.batches):
                    rest = dispatcher.remaining(batch_id)
                    if any(w.alive for w in self.workers):
                        self.submit(Batch(id=batch_id, items=rest))
                    else:
                        dispatcher.ended(batch_id, f"worker process {worker.process.pid} exited (code {code})")
                worker.batches.clear()

    async def close(self, *, abandon: bool) -> None:
        """Normally: tell each worker the jobs are over and wait for it. Abandoning (Ctrl-C):
        kill the workers, whatever they were scanning."""
        self._closing = True
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


def tune_gc() -> None:
    """Garbage collection for a scanning process, called once its modules are imported:
    those objects (about 400 modules' worth) move to the permanent generation, so full
    collections stop walking them, and the youngest generation is collected every 20,000
    allocations instead of 700. A scan makes many short-lived objects (events, outcomes,
    trio's per-wait bookkeeping) and few cycles; with the defaults the collector took
    about a tenth of a full fleet scan's CPU (issue 16). Peak memory grows by a few MB.
    Once per process (a program that scans many times freezes only its start-up)."""
    global _GC_TUNED
    if _GC_TUNED:
        return
    _GC_TUNED = True
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


_GC_TUNED = False


def worker_main() -> None:
    """A worker process: the parent's Ctrl-C is the parent's to handle (it kills us)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_gc()
    # Frames own the real stdout; anything printed by accident goes to stderr.
    frames_out = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    trio.run(_worker, frames_out)


def pickled_results(target: Target, results: Results) -> bytes:
    """One endpoint's results as they travel back from a worker (a process or a Dask task);
    an unpicklable result is still a result: that endpoint's error."""
    try:
        return pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - whatever pickle refuses
        return pickle.dumps((crashed(target, exc),), protocol=pickle.HIGHEST_PROTOCOL)


async def _worker(frames_out: int) -> None:
    stdin = trio.lowlevel.FdStream(os.dup(0))
    stdout = trio.lowlevel.FdStream(frames_out)
    buf = bytearray()
    first = await _read_frame(stdin, buf)
    if first is None:
        return
    engine = Engine(first[1])
    lock = trio.Lock()

    async def run(batch_id: int, items: tuple[Item, ...]) -> None:
        targets = {index: target for index, target, _ in items}

        async def emit(index: int, results: Results) -> None:
            data = _frame(("done", batch_id, index, pickled_results(targets[index], results)))
            async with lock:
                await stdout.send_all(data)

        await scan_batch(engine.scan, items, emit)
        async with lock:
            await stdout.send_all(_frame(("ended", batch_id)))

    async with trio.open_nursery() as nursery:
        while True:
            frame = await _read_frame(stdin, buf)
            if frame is None:  # the parent is gone: abandon everything
                nursery.cancel_scope.cancel()
                break
            if frame[0] == "end":
                break
            _, batch_id, items = frame
            nursery.start_soon(run, batch_id, items)
