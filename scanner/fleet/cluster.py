# `--cluster`: fleet scans on a Dask distributed cluster (docs/cluster.md). This module is
# imported only when --cluster is given; it imports Dask (the `cluster` extra) inside its
# functions, so `parse_cluster` works without it.
#
# A Backend of scanner.fleet.batches: each batch is one Dask task; the task hands it to
# its worker process's one trio loop (_ScanLoop), which runs the same scan (`scan_batch`,
# one Engine per scan and process); each endpoint's result goes back through a Dask Queue
# as it finishes (not when the batch ends) to the client's single writer.
#
# Rules kept:
# - A task starts by asking the client which endpoints of its batch are already written
#   (a task rerun after its worker died) and scans only the others; the client drops any
#   duplicate anyway (batches.Dispatcher).
# - Names resolve on the workers. The per-subnet limit is one distributed.Semaphore per
#   /24 or /64 for the whole cluster, taken per connection after resolution and given back
#   as soon as the connection closes (never before), so a lease held is always >= a
#   connection open and the workers take turns.
# - --rate and --max-connections are divided between the worker processes present when
#   the scan starts; the client bounds the endpoints in flight for the whole cluster.
# - A scheduler that goes away ends the run with what was written (RunStatus.lost).
from __future__ import annotations

import contextlib
import logging
import math
import pickle
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from typing import Any

import trio

from scanner.exits import UsageError
from scanner.fleet.batches import Batch, Dispatcher, Item, Results, scan_batch
from scanner.fleet.limits import subnet_of
from scanner.fleet.run import Engine, FleetSettings, pickled_results

ANSWER_TIMEOUT = 120.0  # seconds a task waits for the client to say what to skip
LOST_AFTER = 20.0  # seconds without a scheduler before the run is declared lost
WATCH = 0.2  # seconds between two looks at the scheduler and the failed tasks


def parse_cluster(spec: str) -> tuple[str, str | int]:
    """``local:N`` -> ("local", N); ``tcp://host:port`` (or tls://, a bare host:port) ->
    ("address", spec). Raises UsageError."""
    if spec.startswith("local:"):
        count = spec.partition(":")[2]
        if not count.isdigit() or int(count) < 1:
            raise UsageError(f"--cluster {spec}: local:N needs a worker count of at least 1")
        return "local", int(count)
    if "://" in spec:
        scheme = spec.split("://", 1)[0]
        if scheme not in ("tcp", "tls", "inproc", "ws", "wss", "ucx"):
            raise UsageError(f"--cluster {spec}: unknown scheme {scheme!r} (tcp://HOST:PORT or local:N)")
        return "address", spec
    host, sep, port = spec.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UsageError(f"--cluster {spec}: give local:N or a scheduler address, tcp://HOST:PORT")
    return "address", f"tcp://{spec}"


def require_dask() -> None:
    """UsageError when the `cluster` extra is not installed."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise UsageError("--cluster needs Dask: pip install 'tlscompat[cluster]'")


class DaskBackend:
    """Batches as Dask tasks; results streamed back through a Dask Queue."""

    def __init__(self, settings: FleetSettings, *, threads_per_worker: int = 2) -> None:
        assert settings.cluster is not None
        self.settings = settings
        self.spec = settings.cluster
        self.threads_per_worker = threads_per_worker
        self.run = uuid.uuid4().hex[:12]
        self.client: Any = None
        self.local: Any = None
        self.queue: Any = None
        self.task_settings = settings
        self._futures: dict[int, Any] = {}
        self._attempt = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pump_done = threading.Event()
        self._dispatcher: Dispatcher | None = None
        self._token: trio.lowlevel.TrioToken | None = None

    # -- Backend
    async def start(self, nursery: trio.Nursery, dispatcher: Dispatcher) -> int:
        self._dispatcher = dispatcher
        self._token = trio.lowlevel.current_trio_token()
        with _deaf_children(parse_cluster(self.spec)[0] == "local"):
            _, workers = await trio.to_thread.run_sync(self._connect)
        # Each worker's share of the totals; the per-subnet limit stays whole (cluster-wide).
        self.task_settings = replace(self.settings, cluster_subnets=True).share(workers, workers)
        nursery.start_soon(self._pump)
        # A worker process scans all its batches in one loop: batches are sized per process.
        return workers

    def submit(self, batch: Batch) -> None:
        from distributed import Future  # noqa: F401 - Dask is installed (checked at start)

        self._attempt += 1
        future = self.client.submit(
            run_task, self.run, batch.id, pickle.dumps(batch.items, protocol=pickle.HIGHEST_PROTOCOL),
            self.task_settings, self.settings.per_subnet,
            # One task group per scan (the scheduler keeps statistics per group).
            key=(f"tlscompat-batch-{self.run}", batch.id, self._attempt), pure=False,
        )
        with self._lock:
            self._futures[batch.id] = future

    async def close(self, *, abandon: bool) -> None:
        self._stop.set()
        await trio.to_thread.run_sync(self._disconnect, abandon)

    # -- threads talking to Dask
    def _connect(self) -> tuple[int, int]:
        """Connect (or start a local cluster): the task slots (threads) and worker count."""
        import dask
        from distributed import Client, LocalCluster, Queue

        _quiet_dask()
        kind, value = parse_cluster(self.spec)
        try:
            if kind == "local":
                # The statistical profiler samples the scanning thread every 10 ms: a few
                # per cent of CPU that a scan needs (docs/cluster.md says the same for
                # workers you start yourself).
                # The scheduler of a local cluster lives in this process: its logs of past
                # transitions are kept short, so the client's memory stays flat.
                with dask.config.set({
                    "distributed.worker.profile.enabled": False,
                    "distributed.admin.log-length": 1000,
                    "distributed.admin.low-level-log-length": 100,
                }):
                    self.local = LocalCluster(
                        n_workers=int(value), threads_per_worker=self.threads_per_worker, processes=True,
                        dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL,
                        preload=[__name__],  # dask_setup below
                    )
                self.client = Client(self.local)
            else:
                self.client = Client(str(value), timeout=15)
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"--cluster {self.spec}: cannot reach the Dask scheduler: {exc}") from None
        self.queue = Queue(f"tlscompat-{self.run}-results", client=self.client)
        if kind == "local":
            # Every worker process of a local cluster is spawned before this returns (while
            # the caller ignores SIGINT, see _deaf_children), not later by its nanny.
            self.client.wait_for_workers(int(value), timeout=60)
        nthreads = self.client.nthreads()
        if not nthreads:
            self.client.wait_for_workers(1, timeout=60)
            nthreads = self.client.nthreads()
        return max(1, sum(nthreads.values())), max(1, len(nthreads))

    def _disconnect(self, abandon: bool) -> None:
        try:
            if self.client is not None and self.client.status == "running":
                self.queue.put(["stop", -1])  # wakes the pump's blocking get
        except Exception:  # noqa: BLE001 - a scheduler already gone
            pass
        self._pump_done.wait(5)
        try:
            if abandon and self.client is not None:
                with self._lock:
                    futures = list(self._futures.values())
                if futures and self.client.status == "running":
                    self.client.cancel(futures)
        finally:
            if self.client is not None:
                self.client.close(timeout=10)
            if self.local is not None:
                self.local.close(timeout=10)

    async def _pump(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(partial(trio.to_thread.run_sync, self._watch_sync, abandon_on_cancel=True))
                await trio.to_thread.run_sync(self._pump_sync, abandon_on_cancel=True)
                nursery.cancel_scope.cancel()
        except Exception as exc:  # noqa: BLE001 - whatever Dask raises when the scheduler is gone
            if not self._stop.is_set():
                assert self._dispatcher is not None
                self._dispatcher.lost(f"the Dask scheduler at {self.spec} went away ({_why(exc)})")

    def _pump_sync(self) -> None:
        """Read results until the "stop" mark; deliver them to the trio side. The get
        blocks (no timeout: the scheduler logs a get that times out as an error)."""
        try:
            while True:
                messages = [self.queue.get()]
                messages += self.queue.get(batch=True)
                results = [m for m in messages if m[0] != "stop"]
                if results:
                    self._handle(results)
                if any(m[0] == "stop" for m in messages):
                    return
        finally:
            self._pump_done.set()

    def _watch_sync(self) -> None:
        """Every WATCH seconds: a scheduler missing for LOST_AFTER seconds ends the run
        (raises); a task that failed for good is reported through the queue, after what it
        had sent already, as a "failed" mark."""
        import time

        down_since: float | None = None
        while not self._stop.wait(WATCH):
            if self.client.status != "running":
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since > LOST_AFTER:
                    raise ConnectionError(f"no scheduler for {LOST_AFTER:g}s")
                continue
            down_since = None
            with self._lock:
                failed = [(b, f) for b, f in self._futures.items() if f.status in ("error", "cancelled", "lost")]
                for batch_id, _ in failed:
                    del self._futures[batch_id]
            for batch_id, future in failed:
                try:
                    exc = future.exception(timeout=5)
                    why = f"{type(exc).__name__}: {exc}"
                except Exception as other:  # noqa: BLE001 - cancelled futures and the like
                    why = type(other).__name__
                self.queue.put(["failed", batch_id, f"batch failed on the cluster: {why}"])

    def _handle(self, messages: list[Any]) -> None:
        from distributed import Variable

        assert self._token is not None and self._dispatcher is not None
        answers = trio.from_thread.run_sync(self._deliver, messages, trio_token=self._token)
        for token, written in answers:
            Variable(f"tlscompat-{self.run}-skip-{token}", client=self.client).set(written)

    def _deliver(self, messages: list[Any]) -> list[tuple[str, list[int]]]:
        """In the trio thread: results to the dispatcher; what each starting task skips."""
        assert self._dispatcher is not None
        answers = []
        for message in messages:
            kind, batch_id = message[0], message[1]
            if kind == "done":
                for index, payload in message[2]:
                    self._dispatcher.result(batch_id, index, pickle.loads(payload))
            elif kind == "begin":
                answers.append((message[2], sorted(self._dispatcher.written(batch_id))))
            elif kind == "end":
                with self._lock:
                    self._futures.pop(batch_id, None)
                self._dispatcher.ended(batch_id)
            elif kind == "failed":
                self._dispatcher.ended(batch_id, message[2])
        return answers


def _why(exc: BaseException) -> str:
    """A short reason, without Dask's reprs of its connection objects."""
    cause = exc.__cause__ or exc.__context__
    return f"{type(exc).__name__}" + (f" after {type(cause).__name__}" if cause is not None else "")


def _quiet_dask() -> None:
    """Dask logs tracebacks on stderr when its scheduler goes away; tlscompat says what
    happened in one line instead (and `--verbose` is about endpoints, not Dask)."""
    for name in list(logging.root.manager.loggerDict):
        if name == "distributed" or name.startswith(("distributed.", "tornado")):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    logging.getLogger("distributed").setLevel(logging.CRITICAL + 1)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL + 1)


# -- on the workers -------------------------------------------------------------------------


# Ctrl-C in a terminal sends SIGINT to the whole foreground process group, the worker
# processes of `--cluster local:N` included, which then printed Dask's tracebacks over the
# summary. They must ignore it (the client sees it and closes the cluster): a process
# inherits an ignored signal across fork and exec, so the client ignores SIGINT while
# LocalCluster spawns them (about a second; a Ctrl-C then is lost, the next one works),
# and a worker a nanny starts again later ignores it from the preload hook below.


@contextlib.contextmanager
def _deaf_children(local: bool) -> Iterator[None]:
    """SIGINT ignored in this process for the block, when ``local`` and on the main thread
    (where signal dispositions can be set); the previous handler is put back after."""
    if not local or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def dask_setup(worker: Any) -> None:
    """Dask preload hook, run in each worker process of ``--cluster local:N`` as it starts
    (in its main thread): ignore SIGINT (see above)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ClusterSubnets:
    """The per-subnet limit of the whole cluster: one distributed.Semaphore per /24 or /64
    (named after the run and the network), a lease per connection open. A closed
    connection's lease is handed to ``give_back`` (release is called from a synchronous
    close) and returned to the scheduler at once; a new connection always asks the
    scheduler, so the workers take turns.

    Threads: each scheduler call blocks a thread. Within a worker, one connection per
    network at a time waits at the scheduler (the others wait on a local lock, no thread),
    and releases have threads of their own: with waiters and releases sharing trio's
    default thread pool, waiters filled it and the releases that would have woken them
    queued behind them (about 1.5 s per connection, seen in the cluster test)."""

    def __init__(self, run: str, per_subnet: int, worker: Any) -> None:
        self.run = run
        self.per_subnet = per_subnet
        self.worker = worker
        self._sems: dict[str, Any] = {}
        self._waiting: dict[str, trio.Lock] = {}
        self._closed, self._to_release = trio.open_memory_channel[str](math.inf)
        self._acquirers = trio.CapacityLimiter(64)  # networks asked about at once
        self._releasers = trio.CapacityLimiter(8)

    def _semaphore(self, net: str) -> Any:
        from distributed import Semaphore

        sem = self._sems.get(net)
        if sem is None:
            sem = self._sems[net] = Semaphore(
                max_leases=self.per_subnet, name=f"tlscompat-{self.run}-{net}",
                scheduler_rpc=self.worker.scheduler, loop=self.worker.loop,
            )
            self._waiting[net] = trio.Lock()
        return sem

    async def acquire(self, ip: str) -> Callable[[], None]:
        net = subnet_of(ip)
        # Every connection asks the scheduler, in turn with the other workers: a lease this
        # worker just stopped using is not kept for its own next connection, which would
        # starve the other workers' endpoints in the same network (seen as endpoint
        # deadlines in the tests).
        sem = self._semaphore(net)
        async with self._waiting[net]:
            # Short waits, so a cancelled scan stops waiting within one of them.
            while not await trio.to_thread.run_sync(
                lambda: sem.acquire(timeout=0.5), limiter=self._acquirers
            ):
                pass
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._closed.send_nowait(net)

        return release

    async def give_back(self) -> None:
        """Return each closed connection's lease to the scheduler as it comes; forever
        (cancel it)."""

        async def one(net: str) -> None:
            await trio.to_thread.run_sync(self._sems[net].release, limiter=self._releasers)

        async with trio.open_nursery() as nursery:
            async for net in self._to_release:
                nursery.start_soon(one, net)


class _ScanLoop:
    """The one trio loop of a worker process, in a thread of its own: every batch this
    worker runs (its task threads only wait for them) is scanned here, with one Engine per
    scan, so the worker's share of the limits holds across its batches and a batch's slow
    last endpoint leaves the worker free for the next batch."""

    _lock = threading.Lock()
    _instance: _ScanLoop | None = None

    def __init__(self) -> None:
        self.engines: dict[str, Engine] = {}
        ready = threading.Event()
        box: dict[str, Any] = {}

        async def main() -> None:
            box["token"] = trio.lowlevel.current_trio_token()
            async with trio.open_nursery() as nursery:
                box["nursery"] = nursery
                ready.set()
                await trio.sleep_forever()

        threading.Thread(target=trio.run, args=(main,), name="tlscompat-scan", daemon=True).start()
        ready.wait()
        self.token: trio.lowlevel.TrioToken = box["token"]
        self.nursery: trio.Nursery = box["nursery"]

    @classmethod
    def get(cls) -> _ScanLoop:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def engine(self, run: str, settings: FleetSettings, per_subnet: int | None, worker: Any) -> Engine:
        """In the loop's thread: this scan's Engine (made on its first batch here)."""
        engine = self.engines.get(run)
        if engine is None:
            subnets = ClusterSubnets(run, per_subnet, worker) if per_subnet else None
            engine = self.engines[run] = Engine(settings, subnets=subnets)
            if subnets is not None:
                self.nursery.start_soon(subnets.give_back)
            while len(self.engines) > 8:  # scans long over
                del self.engines[next(iter(self.engines))]
        return engine


def run_task(run: str, batch_id: int, payload: bytes, settings: FleetSettings, per_subnet: int | None) -> int:
    """One batch, on a Dask worker: ask what to skip, scan the rest in the worker's scan
    loop with the worker's share of the limits, put each endpoint's result on the run's
    queue, then an end mark."""
    from distributed import Queue, Variable, get_client, get_worker

    items: tuple[Item, ...] = pickle.loads(payload)
    client = get_client()
    worker = get_worker()
    queue = Queue(f"tlscompat-{run}-results", client=client)
    token = uuid.uuid4().hex
    queue.put(["begin", batch_id, token])
    answer = Variable(f"tlscompat-{run}-skip-{token}", client=client)
    skip = frozenset(answer.get(timeout=ANSWER_TIMEOUT))
    answer.delete()
    loop = _ScanLoop.get()

    async def batch() -> None:
        engine = loop.engine(run, settings, per_subnet, worker)
        targets = {index: target for index, target, _ in items}
        # Each endpoint's result leaves as it finishes; those finishing while the previous
        # put is on its way leave together (one scheduler round trip, not one each).
        send, recv = trio.open_memory_channel[list[Any]](math.inf)

        async def emit(index: int, results: Results) -> None:
            send.send_nowait([index, pickled_results(targets[index], results)])

        async def ship() -> None:
            async for first in recv:
                done = [first]
                while True:
                    try:
                        done.append(recv.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await trio.to_thread.run_sync(queue.put, ["done", batch_id, done])

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ship)  # ends when the channel is closed and drained
            async with send:
                await scan_batch(engine.scan, items, emit, skip=skip)

    trio.from_thread.run(batch, trio_token=loop.token)
    queue.put(["end", batch_id, token])
    return len(items) - len(skip)
