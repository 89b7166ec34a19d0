# The politeness of a fleet scan: how many connections go to one network at once, how
# many connections start per second, and how an endpoint that starts refusing or
# resetting connections is given room to recover.
#
# Rules kept: every limit is driven by trio's clock (so tests run on autojump_clock with
# exact times); nothing here sleeps to "smooth" load, it waits for a slot or a moment that
# was computed; a limiter never keeps state for a network that has no connection in
# flight, so memory stays flat however many networks a scan touches.
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import trio

# The networks one operator usually controls: a /24 for IPv4, a /64 for IPv6 (RFC 4291
# section 2.5.4: a /64 is one link).
IPV4_PREFIX = 24
IPV6_PREFIX = 64


def subnet_of(ip: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) holding ``ip``, as text: "192.0.2.0/24"."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    prefix = IPV4_PREFIX if addr.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


class Subnets(Protocol):
    """A per-network connection limit: ``acquire(ip)`` waits for a slot in the network of
    ``ip`` and returns the function that gives it back. SubnetLimiter in one trio loop;
    scanner.fleet.cluster's for a whole Dask cluster."""

    async def acquire(self, ip: str) -> Callable[[], None]: ...


class SubnetLimiter:
    """At most ``per_subnet`` connections at once into each /24 or /64.

    ``acquire(ip)`` waits for a slot and returns a release function. One CapacityLimiter
    per network with something in flight; it is dropped when the last slot is returned
    and nobody waits, so a scan of 10,000 networks holds only the busy ones."""

    def __init__(self, per_subnet: int) -> None:
        if per_subnet < 1:
            raise ValueError("per_subnet must be at least 1")
        self.per_subnet = per_subnet
        self._limiters: dict[str, trio.CapacityLimiter] = {}

    def busy(self) -> dict[str, int]:
        """Connections held per network (for tests and --verbose)."""
        return {k: v.borrowed_tokens for k, v in self._limiters.items()}

    async def acquire(self, ip: str) -> Callable[[], None]:
        key = subnet_of(ip)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = trio.CapacityLimiter(self.per_subnet)
        token = object()
        try:
            await limiter.acquire_on_behalf_of(token)
        except BaseException:
            self._forget_if_idle(key, limiter)
            raise
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                limiter.release_on_behalf_of(token)
                self._forget_if_idle(key, limiter)

        return release

    def _forget_if_idle(self, key: str, limiter: trio.CapacityLimiter) -> None:
        stats = limiter.statistics()
        if stats.borrowed_tokens == 0 and stats.tasks_waiting == 0 and self._limiters.get(key) is limiter:
            del self._limiters[key]


class RateLimiter:
    """A token bucket for new connections: ``rate`` per second on average, at most
    ``burst`` at once after a quiet spell.

    Written as GCRA (the "theoretical arrival time" form of a token bucket): each caller
    reserves the next free moment and sleeps until it, so callers are served in the order
    they called, with no lock and no polling. A caller cancelled while waiting leaves its
    moment unused: the rate can only come out lower, never higher."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self.interval = 1.0 / rate
        self._tat: float | None = None  # when the bucket will be full again

    async def __call__(self) -> None:
        now = trio.current_time()
        tat = now if self._tat is None else max(self._tat, now)
        start = tat - (self.burst - 1) * self.interval
        self._tat = tat + self.interval
        if start > now:
            await trio.sleep_until(start)
        else:
            await trio.lowlevel.checkpoint()


@dataclass(slots=True)
class EndpointBackoff:
    """Room for an endpoint that starts refusing or resetting connections.

    An endpoint that has answered before and then refuses or resets is taken to be under
    load: its next connections are spaced ``base`` seconds apart, doubling with every
    further failure up to ``cap``, and back to full speed after one good exchange. An
    endpoint that has never answered (a closed port, a server that always resets) is not
    slowed down: that is how it behaves, not a sign of distress, and the scan of such an
    endpoint ends after a few connections anyway."""

    base: float = 0.5
    cap: float = 8.0
    failures: int = 0
    healthy: bool = False
    _next: float = field(default=float("-inf"))

    @property
    def delay(self) -> float:
        if self.failures == 0:
            return 0.0
        return float(min(self.cap, self.base * 2.0 ** (self.failures - 1)))

    def success(self) -> None:
        self.healthy = True
        self.failures = 0
        self._next = float("-inf")

    def failure(self) -> None:
        if not self.healthy:
            return
        self.failures += 1
        self._next = max(self._next, trio.current_time() + self.delay)

    async def wait(self) -> None:
        """Before a connection: while failing, connections go one per ``delay``."""
        if self.failures == 0:
            return
        now = trio.current_time()
        start = max(now, self._next)
        self._next = start + self.delay
        if start > now:
            await trio.sleep_until(start)


class EndpointGate:
    """The politeness of one endpoint address, plugged into ``scan_endpoint``:
    ``before_connect`` is its ``rate`` hook and ``open_stream`` its ``open_stream``.

    The engine awaits ``rate`` before it takes the global and per-endpoint slots (a
    connection waiting for its turn holds no slot), outside the connect deadline, and then
    opens the stream. So ``before_connect`` waits out the backoff, then the global rate,
    then a slot in the endpoint's /24 or /64, and queues that slot for the next
    ``open_stream``; the stream it returns gives the slot back when closed. ``close()`` returns any slot still held
    (a cancelled scan), so an abandoned endpoint never leaks its network's slots."""

    def __init__(
        self,
        ip: str,
        *,
        subnets: Subnets | None = None,
        rate: RateLimiter | None = None,
        backoff: EndpointBackoff | None = None,
        open_stream: Callable[[str, int], object] | None = None,
    ) -> None:
        from scanner.engine import open_tcp

        self.ip = ip
        self.subnets = subnets
        self.rate = rate
        self.backoff = backoff or EndpointBackoff()
        self._open = open_stream or open_tcp
        self._pending: list[Callable[[], None]] = []
        self._held: set[Callable[[], None]] = set()
        self.connections = 0

    async def before_connect(self) -> None:
        await self.backoff.wait()
        if self.rate is not None:
            await self.rate()
        if self.subnets is not None:
            self._pending.append(await self.subnets.acquire(self.ip))

    async def open_stream(self, ip: str, port: int) -> trio.abc.Stream:
        release = self._pending.pop() if self._pending else _noop
        self._held.add(release)
        self.connections += 1

        def done() -> None:
            self._held.discard(release)
            release()

        try:
            stream = await self._open(ip, port)  # type: ignore[misc]
        except ConnectionRefusedError:
            done()
            self.backoff.failure()
            raise
        except BaseException:
            done()
            raise
        return _GatedStream(stream, done, self.backoff)

    def close(self) -> None:
        for release in [*self._pending, *self._held]:
            release()
        self._pending.clear()
        self._held.clear()


def _noop() -> None:
    pass


def _is_reset(exc: BaseException) -> bool:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return isinstance(cause, ConnectionResetError)


class _GatedStream(trio.abc.Stream):
    """A connection that returns its subnet slot when closed and tells the endpoint's
    backoff whether the server answered or reset."""

    def __init__(self, inner: trio.abc.Stream, done: Callable[[], None], backoff: EndpointBackoff) -> None:
        self._inner = inner
        self._done = done
        self._backoff = backoff
        self._answered = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        try:
            await self._inner.send_all(data)
        except (trio.BrokenResourceError, OSError) as exc:
            if _is_reset(exc):
                self._backoff.failure()
            raise

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        try:
            data = await self._inner.receive_some(max_bytes)
        except (trio.BrokenResourceError, OSError) as exc:
            if _is_reset(exc):
                self._backoff.failure()
            raise
        if data and not self._answered:
            self._answered = True
            self._backoff.success()
        return data

    def close(self) -> None:
        """Synchronous close, as the engine's own streams have (no scheduler round trip)."""
        try:
            close = getattr(self._inner, "close", None)
            if callable(close):
                close()
        finally:
            self._done()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._done()
