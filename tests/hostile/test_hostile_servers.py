# Issue 12, proof: a scan of each hostile server ends within its endpoint deadline (virtual
# time, autojump_clock), keeps what it found, and stays under a memory bound (tracemalloc
# peak of Python allocations during the scan, asserted per case). The outcome each case
# must give is what a TLS client would conclude from the server's bytes, written down here
# from the kit's own definition of each server.
from __future__ import annotations

import pytest
import trio

from handshakes import constants as c
from scanner.api import scan_endpoint
from scanner.lab import hostile as hk
from scanner.options import Deadlines, ScanOptions, Target

TARGET = Target(host="hostile.test", ip="127.0.0.1", port=443)
PROBES = frozenset({"protocols", "suites", "preference", "groups", "certificates", "behaviours"})
DEADLINE = 30.0

CASES = {
    # name: (handler factory, outcome, memory bound in MB)
    "garbage": (hk.garbage, "not_tls", 20),
    "drip": (lambda: hk.drip(interval=1.0), "timeout", 20),
    "lying_length": (hk.lying_length, "protocol_error", 20),
    "endless_records": (hk.endless, "ok", 40),
    "bad_hrr": (hk.bad_hrr, "protocol_error", 20),
    "reset": (hk.reset_after_hello, "reset", 20),
    "half_close": (hk.half_close, "closed", 20),
    "silent": (hk.silent, "timeout", 20),
    "stalled_certificate": (hk.stalled_certificate, "ok", 6),
    "garbage_after_server_hello": (
        lambda: hk.tls12_server(suites=hk.TLS12_SUITES[:3], after=b"\x41" * 64), "ok", 30,
    ),
}

# Virtual seconds each scan takes, from the deadlines: a server that never completes an
# answer costs the first contact's read deadline twice (one retry, RESET and TIMEOUT are
# transient) plus the 0.25 s backoff, then once more for the adaptive step's mainstream
# hello and once more for its short, s_client-shaped hello (scanner/probes/adaptive.py:
# silence may be a refusal of the hello's shape or length), and ends the scan; a reset costs three rounds of
# backoff (the first contact, the other versions, the next batch); a stalled certificate
# costs a read deadline for every flight read, more than the endpoint deadline allows.
# Every other case is settled without waiting.
READ = 5.0
ELAPSED = {"drip": 4 * READ + 0.25, "silent": 4 * READ + 0.25, "reset": 3 * 0.25, "stalled_certificate": DEADLINE}


@pytest.mark.parametrize("name", sorted(CASES))
async def test_hostile_server_scan_is_bounded(name: str, nursery, autojump_clock, memory_bound) -> None:
    factory, outcome, limit_mb = CASES[name]
    endpoint = hk.Endpoint(nursery, factory())
    options = ScanOptions(deadlines=Deadlines(endpoint=DEADLINE), probes=PROBES)
    with memory_bound(limit_mb):
        t0 = trio.current_time()
        result = await scan_endpoint(TARGET, options, open_stream=endpoint)
        elapsed = trio.current_time() - t0
    assert elapsed <= DEADLINE
    assert elapsed == ELAPSED.get(name, 0.0)
    assert result.outcome == outcome, result.detail
    assert endpoint.connections <= 2000


async def test_endless_records_keep_the_server_hello(nursery, autojump_clock) -> None:
    """Past the byte limit the probe stops; the ServerHello read before is kept."""
    endpoint = hk.Endpoint(nursery, hk.endless())
    result = await scan_endpoint(TARGET, ScanOptions(probes=PROBES), open_stream=endpoint)
    assert result.outcome == "ok"
    assert any(p.version == c.TLS12 and p.supported for p in result.protocols)


async def test_verdict_does_not_depend_on_segmentation(nursery, autojump_clock) -> None:
    """The issue's case: a ServerHello followed by a garbage record, in one segment, or
    with the garbage 0.3 s later: the same result."""

    def server(split: float) -> hk.Handler:
        async def handle(conn: hk.Conn) -> None:
            hello = await conn.read_hello()
            if hello is None:
                return
            if hk.max_version(hello) != c.TLS12:
                await conn.send(hk.alert(c.ALERT_PROTOCOL_VERSION))
                return
            chosen = next((s for s in hk.TLS12_SUITES[:4] if s in hello.cipher_suites), None)
            if chosen is None:
                await conn.send(hk.alert(40))
                return
            sh = hk.record(c.HANDSHAKE, hk.server_hello(chosen))
            garbage = b"\x41\x42\x43\x44\x45" * 4
            if split:
                await conn.send(sh)
                await trio.sleep(split)
                await conn.send(garbage)
            else:
                await conn.send(sh + garbage)
            await conn.hold()

        return handle

    results = []
    for split in (0.0, 0.3):
        endpoint = hk.Endpoint(nursery, server(split))
        result = await scan_endpoint(TARGET, ScanOptions(probes=PROBES), open_stream=endpoint)
        results.append(
            (result.outcome, [(p.version, p.supported, p.outcome) for p in result.protocols],
             sorted(s.code for s in result.cipher_suites))
        )
    assert results[0] == results[1]
    assert results[0][0] == "ok" and results[0][2] == sorted(hk.TLS12_SUITES[:4])


async def test_unfinished_flights_are_not_kept(nursery, autojump_clock, memory_bound) -> None:
    """A server that leaves 120 KB of a Certificate unfinished on every flight: the scan
    keeps the outcome of each probe, not the bytes it was still waiting on (10 MB for 338
    connections when each finished probe kept its buffers)."""
    endpoint = hk.Endpoint(nursery, hk.stalled_certificate())
    with memory_bound(6):
        result = await scan_endpoint(TARGET, ScanOptions(), open_stream=endpoint)
    assert result.outcome == "ok" and endpoint.connections > 100
