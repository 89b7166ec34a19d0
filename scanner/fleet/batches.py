# The batch-and-result mechanism shared by every way of scanning outside the client's own
# trio loop: `--workers N` (child processes, scanner.fleet.run) and `--cluster` (Dask,
# scanner.fleet.cluster). The client groups endpoints into batches, a backend runs each
# batch somewhere with `scan_batch`, and results come back one endpoint at a time.
#
# Rules kept:
# - The client writes each endpoint once: a result for an endpoint already written (a
#   batch run twice after a worker died) is dropped here, whatever the backend did.
# - A batch that is run again is first told which of its endpoints are written (`skip`),
#   and scans only the others.
# - Every endpoint of a batch gets a result: those a failed batch never reported become
#   "error" results naming the failure, so the output holds every target once.
# - Nothing here imports Dask or starts a process: a backend is a small protocol.
from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import trio

from scanner.options import ScanOptions, Target
from scanner.results import EndpointResult

# index in the run (the order given), the target, its options
Item = tuple[int, Target, ScanOptions]
Results = tuple[EndpointResult, ...]
Emit = Callable[[int, Results], Awaitable[None]]
Scan = Callable[[Target, ScanOptions], Awaitable[list[EndpointResult]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """Endpoints scanned together by one worker: one Dask task, or one message to a process."""

    id: int
    items: tuple[Item, ...]


async def scan_batch(scan: Scan, items: Iterable[Item], emit: Emit, *, skip: frozenset[int] = frozenset()) -> None:
    """Scan every item not in ``skip`` at once (the caller sized the batch to its limits),
    awaiting ``emit(index, results)`` as each endpoint finishes. Never raises for what one
    endpoint does: a bug becomes that endpoint's "error" result (scanner.fleet.run)."""
    async def one(index: int, target: Target, options: ScanOptions) -> None:
        await emit(index, await scan_safely(scan, target, options))

    async with trio.open_nursery() as nursery:
        for index, target, options in items:
            if index not in skip:
                nursery.start_soon(one, index, target, options)


def crashed(target: Target, exc: BaseException) -> EndpointResult:
    """A bug in the scan of one endpoint must not stop the fleet: it becomes that
    endpoint's result (outcome "error"); the traceback goes to stderr only with
    TLSCOMPAT_DEBUG=1 (no traceback reaches a user otherwise)."""
    if os.environ.get("TLSCOMPAT_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    return EndpointResult(
        host=target.host, port=target.port, ip=target.ip, sni=target.server_name, outcome="error",
        detail=f"internal error: {type(exc).__name__}: {exc}", tags=target.tags,
        started=datetime.now(UTC).isoformat(timespec="seconds"),
    )


async def scan_safely(scan: Callable[[Target, ScanOptions], Any], target: Target, options: ScanOptions) -> Results:
    try:
        return tuple(await scan(target, options))
    except Exception as exc:  # noqa: BLE001 - one endpoint's bug is that endpoint's result
        return (crashed(target, exc),)


def failed(target: Target, detail: str) -> EndpointResult:
    """The result of an endpoint whose batch was lost (worker gone for good, task error)."""
    return EndpointResult(
        host=target.host, port=target.port, ip=target.ip, sni=target.server_name, outcome="error",
        detail=detail, tags=target.tags, started=datetime.now(UTC).isoformat(timespec="seconds"),
    )


class Backend(Protocol):
    """Where batches run. ``start`` returns how many batches can run at once (slots);
    ``submit`` must not block; the backend reports through the Dispatcher it was given."""

    async def start(self, nursery: trio.Nursery, dispatcher: Dispatcher) -> int: ...

    def submit(self, batch: Batch) -> None: ...

    async def close(self, *, abandon: bool) -> None: ...


@dataclass(slots=True)
class _Open:
    batch: Batch
    unwritten: dict[int, Target] = field(default_factory=dict)


class Dispatcher:
    """The client's side: fills batches from the job stream, hands them to the backend,
    and turns what comes back into one ``deliver(index, target, results)`` per endpoint.

    A batch goes out when it holds ``size`` endpoints, or earlier when the backend runs
    short of work (fewer endpoints out than ``size`` per slot): the runner's in-flight
    limit frees slots one endpoint at a time, and batches of one would cost a task each.

    ``deliver`` must not block (the runner's channel has room: every endpoint in flight
    holds a slot of the runner's in-flight limiter until it is written)."""

    def __init__(
        self, backend: Backend, deliver: Callable[[int, Target, Results], None], size: int,
        *, on_lost: Callable[[str], None] | None = None,
    ) -> None:
        self.backend = backend
        self.deliver = deliver
        self.on_lost = on_lost
        self.size = max(1, size)
        self.slots = 1
        self.unwritten = 0  # endpoints submitted and not yet delivered
        self._pending: list[Item] = []
        self._open: dict[int, _Open] = {}
        self._next = 0
        self._feeding = True
        self.idle = trio.Event()

    # -- the runner's side
    def add(self, item: Item) -> None:
        self._pending.append(item)
        if len(self._pending) >= self.size:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        batch = Batch(id=self._next, items=tuple(self._pending))
        self._next += 1
        self._pending = []
        self._open[batch.id] = _Open(batch=batch, unwritten={i: t for i, t, _ in batch.items})
        self.unwritten += len(batch.items)
        self.backend.submit(batch)

    def starving(self) -> bool:
        """Fewer endpoints out than one batch per slot: a slot may be idle, so a partial
        batch goes out now rather than waiting to be filled."""
        return self.unwritten < self.size * self.slots

    def _refill(self) -> None:
        if self._pending and self.starving():
            self.flush()

    def done_feeding(self) -> None:
        self.flush()
        self._feeding = False
        self._check_idle()

    # -- the backend's side
    def result(self, batch_id: int, index: int, results: Results) -> None:
        entry = self._open.get(batch_id)
        if entry is None:
            return
        target = entry.unwritten.pop(index, None)
        if target is None:
            return  # written already: a batch run twice
        self.unwritten -= 1
        self.deliver(index, target, results)
        self._refill()

    def written(self, batch_id: int) -> frozenset[int]:
        """The endpoints of this batch already written: what a rerun must skip."""
        entry = self._open.get(batch_id)
        if entry is None:
            return frozenset()
        return frozenset(i for i, _, _ in entry.batch.items if i not in entry.unwritten)

    def remaining(self, batch_id: int) -> tuple[Item, ...]:
        entry = self._open.get(batch_id)
        if entry is None:
            return ()
        return tuple(item for item in entry.batch.items if item[0] in entry.unwritten)

    def ended(self, batch_id: int, error: str | None = None) -> None:
        """The batch is over; endpoints it never reported become "error" results."""
        entry = self._open.pop(batch_id, None)
        if entry is None:
            return
        for index, target in entry.unwritten.items():
            self.unwritten -= 1
            self.deliver(index, target, (failed(target, error or "the worker never reported this endpoint"),))
        self._refill()
        self._check_idle()

    def lost(self, message: str) -> None:
        """The backend is gone for good (a Dask scheduler that disappeared): the run ends
        with what was written."""
        if self.on_lost is not None:
            self.on_lost(message)

    def open_batches(self) -> list[int]:
        return list(self._open)

    def _check_idle(self) -> None:
        if not self._feeding and not self._open:
            self.idle.set()
