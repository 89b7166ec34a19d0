"""Hostile servers: how long a scan of each takes and how much memory it holds (issue 12).

    .venv/bin/python bench/hostile.py

Every server of the hostile kit (scanner/lab/hostile.py) runs in-process; the scan reaches
it through the engine's connection factory, under trio's MockClock with autojump, so the
"virtual" column is the time a real scan would wait (deadlines, delays) and "real" is the
CPU time it costs here. Memory is the peak of Python allocations (tracemalloc) during the
scan: what one endpoint holds. The tests (tests/hostile/) assert bounds; the figures go to
docs/performance.md.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import trio
import trio.testing

from scanner.api import scan_endpoint
from scanner.lab import hostile as hk
from scanner.options import Deadlines, ScanOptions, Target
from scanner.report.jsonout import jsonl_line

TARGET = Target(host="hostile.test", ip="127.0.0.1", port=443)
PROBES = frozenset({"protocols", "suites", "preference", "groups", "certificates", "behaviours", "revocation"})


def cases() -> dict[str, tuple[Callable[[], hk.Handler], float]]:
    big = hk.CertFactory().issue(padding=100_000)
    fresh = hk.CertFactory()
    return {
        "slow 0.4 s per answer, --endpoint-timeout 8": (lambda: hk.tls12_server(delay=0.4), 8),
        "picks suites not offered (one by one), default deadline": (
            lambda: hk.tls12_server(delay=0.4, pick=lambda offered: 0xC02F), 120),
        "garbage": (hk.garbage, 120),
        "drip, a byte a second": (lambda: hk.drip(interval=1.0), 120),
        "lying length": (hk.lying_length, 120),
        "endless warning-alert records": (hk.endless, 120),
        "bad HelloRetryRequest": (hk.bad_hrr, 120),
        "reset": (hk.reset_after_hello, 120),
        "half-close": (hk.half_close, 120),
        "120 KB Certificate left unfinished on every flight": (hk.stalled_certificate, 120),
        "100 KB certificate on every connection": (
            lambda: hk.tls12_server(chain=lambda conn: (big,)), 120),
        "new 100 KB certificate per connection": (
            lambda: hk.tls12_server(chain=lambda conn: (fresh.issue(padding=100_000),)), 120),
    }


def measure(handler: Callable[[], hk.Handler], deadline: float, endpoints: int = 1) -> dict[str, Any]:
    clock = trio.testing.MockClock(autojump_threshold=0)
    out: dict[str, Any] = {}

    async def main() -> None:
        options = ScanOptions(deadlines=Deadlines(endpoint=deadline), probes=PROBES - {"revocation"})
        results: list[Any] = []
        async with trio.open_nursery() as nursery:
            servers = [hk.Endpoint(nursery, handler()) for _ in range(endpoints)]
            t0 = trio.current_time()

            async def one(server: hk.Endpoint) -> None:
                results.append(await scan_endpoint(TARGET, options, open_stream=server))

            async with trio.open_nursery() as scans:
                for server in servers:
                    scans.start_soon(one, server)
            out["virtual_s"] = trio.current_time() - t0
            out["connections"] = sum(s.connections for s in servers)
            nursery.cancel_scope.cancel()
        out["outcome"] = results[0].outcome + (" (partial)" if results[0].partial else "")
        out["jsonl_kb"] = max(len(jsonl_line(r)) for r in results) / 1024

    tracemalloc.start()
    t0 = time.process_time()
    trio.run(main, clock=clock)
    out["cpu_s"] = time.process_time() - t0
    out["peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out


def main() -> None:
    print("| server | outcome | virtual time | CPU | connections | peak memory | JSONL line |")
    print("|---|---|---|---|---|---|---|")
    for name, (handler, deadline) in cases().items():
        m = measure(handler, deadline)
        print(
            f"| {name} | {m['outcome']} | {m['virtual_s']:.1f} s | {m['cpu_s']:.2f} s | {m['connections']} "
            f"| {m['peak_mb']:.1f} MB | {m['jsonl_kb']:.0f} KB |"
        )
    for name in ("100 KB certificate on every connection", "new 100 KB certificate per connection"):
        handler, deadline = cases()[name]
        m = measure(handler, deadline, endpoints=32)
        print(f"| {name}, 32 endpoints at once | {m['outcome']} | {m['virtual_s']:.1f} s | {m['cpu_s']:.2f} s "
              f"| {m['connections']} | {m['peak_mb']:.1f} MB | {m['jsonl_kb']:.0f} KB |")


if __name__ == "__main__":
    main()
