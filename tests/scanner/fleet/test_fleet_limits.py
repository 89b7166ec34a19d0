# The politeness limits on virtual time (autojump_clock): exact moments, no sleeps.
from __future__ import annotations

import pytest
import trio

from scanner.fleet.limits import (
    EndpointBackoff,
    EndpointGate,
    RateLimiter,
    SubnetLimiter,
    subnet_of,
)


def test_subnet_of_groups_ipv4_by_24_and_ipv6_by_64():
    assert subnet_of("127.0.0.1") == subnet_of("127.0.0.254") == "127.0.0.0/24"
    assert subnet_of("127.0.1.1") != subnet_of("127.0.0.1")
    assert subnet_of("2001:db8:0:1::5") == subnet_of("2001:db8:0:1:ffff::1") == "2001:db8:0:1::/64"
    assert subnet_of("2001:db8:0:2::5") != subnet_of("2001:db8:0:1::5")
    assert subnet_of("::ffff:127.0.0.9") == "127.0.0.0/24"


async def test_rate_limiter_spaces_connections_exactly(autojump_clock):
    rate = RateLimiter(4)  # one connection every 0.25 s, no burst
    start = trio.current_time()
    times = []
    for _ in range(5):
        await rate()
        times.append(trio.current_time() - start)
    assert times == [0.0, 0.25, 0.5, 0.75, 1.0]


async def test_rate_limiter_burst_then_steady_and_fifo(autojump_clock):
    rate = RateLimiter(2, burst=3)  # 3 at once, then one per 0.5 s
    start = trio.current_time()
    seen: list[tuple[int, float]] = []

    async def one(i: int) -> None:
        await rate()
        seen.append((i, trio.current_time() - start))

    async with trio.open_nursery() as nursery:
        for i in range(6):
            nursery.start_soon(one, i)
            await trio.sleep(0)  # start in order: callers are served in calling order
    assert seen == [(0, 0.0), (1, 0.0), (2, 0.0), (3, 0.5), (4, 1.0), (5, 1.5)]
    # After a quiet spell the burst is available again.
    await trio.sleep(10)
    t = trio.current_time()
    for _ in range(3):
        await rate()
    assert trio.current_time() == t


async def test_rate_limiter_cancelled_waiter_never_raises_the_rate(autojump_clock):
    rate = RateLimiter(1)
    await rate()
    with trio.move_on_after(0.1):
        await rate()  # reserved t=1, cancelled: that moment is lost
    start = trio.current_time()
    await rate()
    assert trio.current_time() - start == pytest.approx(1.9)


async def test_subnet_limiter_bounds_each_network_separately(autojump_clock):
    limiter = SubnetLimiter(2)
    start = trio.current_time()
    finished: dict[str, list[float]] = {"a": [], "b": []}

    async def connection(ip: str, group: str) -> None:
        release = await limiter.acquire(ip)
        try:
            await trio.sleep(1)
        finally:
            release()
        finished[group].append(trio.current_time() - start)

    async with trio.open_nursery() as nursery:
        for i in range(6):
            nursery.start_soon(connection, f"127.0.0.{i + 1}", "a")  # one /24
        for i in range(2):
            nursery.start_soon(connection, f"127.0.1.{i + 1}", "b")  # another /24
    # Two at a time into 127.0.0.0/24: three rounds of one second.
    assert sorted(finished["a"]) == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    # 127.0.1.0/24 never waited for the busy network.
    assert finished["b"] == [1.0, 1.0]
    # Idle networks are forgotten: memory does not grow with the networks scanned.
    assert limiter.busy() == {}


async def test_subnet_limiter_cancelled_waiter_leaves_no_state(autojump_clock):
    limiter = SubnetLimiter(1)
    release = await limiter.acquire("127.0.0.1")
    with trio.move_on_after(1):
        await limiter.acquire("127.0.0.2")
    assert limiter.busy() == {"127.0.0.0/24": 1}
    release()
    release()  # idempotent
    assert limiter.busy() == {}


async def test_backoff_only_after_the_endpoint_has_answered(autojump_clock):
    backoff = EndpointBackoff(base=0.5, cap=2.0)
    backoff.failure()  # never answered: a closed port is not slowed down
    start = trio.current_time()
    await backoff.wait()
    assert trio.current_time() == start

    backoff.success()
    backoff.failure()  # answered, now refuses: 0.5 s between connections
    backoff.failure()  # again: 1 s
    assert backoff.delay == 1.0
    times = []
    for _ in range(3):
        await backoff.wait()
        times.append(trio.current_time() - start)
    assert times == [1.0, 2.0, 3.0]
    backoff.failure()
    backoff.failure()
    assert backoff.delay == 2.0  # capped
    backoff.success()
    t = trio.current_time()
    await backoff.wait()
    assert trio.current_time() == t


class _FakeStream(trio.abc.Stream):
    def __init__(self, reply: bytes = b"x", reset: bool = False) -> None:
        self.reply, self.reset, self.closed = reply, reset, False

    async def send_all(self, data) -> None:
        await trio.lowlevel.checkpoint()

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes=None) -> bytes:
        await trio.lowlevel.checkpoint()
        if self.reset:
            raise trio.BrokenResourceError("reset") from ConnectionResetError(104, "reset")
        return self.reply

    async def aclose(self) -> None:
        self.closed = True
        await trio.lowlevel.checkpoint()


async def test_gate_holds_a_subnet_slot_per_connection_and_tracks_backoff(autojump_clock):
    subnets = SubnetLimiter(1)
    behaviour = {"refuse": False, "reset": False}

    async def opener(ip: str, port: int) -> trio.abc.Stream:
        await trio.lowlevel.checkpoint()
        if behaviour["refuse"]:
            raise ConnectionRefusedError(111, "refused")
        return _FakeStream(reset=behaviour["reset"])

    gate = EndpointGate("127.0.0.1", subnets=subnets, open_stream=opener)
    await gate.before_connect()
    stream = await gate.open_stream("127.0.0.1", 443)
    assert subnets.busy() == {"127.0.0.0/24": 1}
    assert await stream.receive_some() == b"x"
    assert gate.backoff.healthy
    await stream.aclose()
    assert subnets.busy() == {}

    behaviour["refuse"] = True
    await gate.before_connect()
    with pytest.raises(ConnectionRefusedError):
        await gate.open_stream("127.0.0.1", 443)
    assert subnets.busy() == {} and gate.backoff.failures == 1

    behaviour.update(refuse=False, reset=True)
    start = trio.current_time()
    await gate.before_connect()  # waits out the backoff first
    assert trio.current_time() - start == 0.5
    stream = await gate.open_stream("127.0.0.1", 443)
    with pytest.raises(trio.BrokenResourceError):
        await stream.receive_some()
    assert gate.backoff.failures == 2
    await stream.aclose()

    # A slot taken by before_connect and never used (cancelled scan) is returned by close().
    await gate.before_connect()
    assert subnets.busy() == {"127.0.0.0/24": 1}
    gate.close()
    assert subnets.busy() == {}
