#!/usr/bin/env python3
# EXPERIMENT, not the engine: `tlscompat scan` with one version's suite elimination split
# into as many partitions as --per-endpoint allows, eliminated at once. It measures an
# engine change before anyone makes it (docs/performance.md, "Fleet over a link with
# latency"); `make bench` does not run it, and it replaces a private function of
# scanner/probes/suites.py, so it breaks silently when that function changes.
#
#   .venv/bin/python bench/fleet_rtt.py --experiment bench/experiment_partitioned_suites.py
#   .venv/bin/python bench/experiment_partitioned_suites.py scan HOST:PORT --per-endpoint 4 -v
#
# What it does, per TLS 1.0-1.2 version: the engine's own loop until the first accepted
# hello (that proves the version and runs the adaptive steps of issue 11); then the
# candidates not yet found are dealt into k partitions (every k-th suite), and each
# partition is eliminated on its own (offer it, remove the suite chosen, repeat until a
# refusal), the k at once under the endpoint's limiter. A server that chooses a suite it
# was not offered ends its partition (the engine proper would re-enumerate one by one).
# Cost: up to k - 1 more refusals per version; gain: the longest chain of connections
# one after the other drops from (accepted + refused batches) to about accepted / k + 1.
from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handshakes import constants as c  # noqa: E402
from handshakes import registry as reg  # noqa: E402
from scanner.options import ACCEPTED  # noqa: E402
from scanner.probes import suites  # noqa: E402
from scanner.probes.hello import candidate_suites  # noqa: E402

PARTITIONS = int(sys.argv[sys.argv.index("--per-endpoint") + 1]) if "--per-endpoint" in sys.argv else 4
_engine_loop = suites._scan_version


async def _partitioned(conn, hello, result, *, enumerate_suites, on_first):  # type: ignore[no-untyped-def]
    version = result.version
    if PARTITIONS <= 1 or not enumerate_suites or version in (c.SSL2, c.TLS13):
        return await _engine_loop(conn, hello, result, enumerate_suites=enumerate_suites, on_first=on_first)
    await _engine_loop(conn, hello, result, enumerate_suites=False, on_first=on_first)
    if not result.supported or result.one_by_one or result.adapted or not result.accepted:
        return None
    name = reg.version_name(version)
    found = set(result.suites)
    remaining = [s for s in candidate_suites(version) if s not in found]

    async def eliminate(part: list[int]) -> None:
        while part:
            offered = tuple(part[: hello.batch(version)])
            spec = hello.spec(version, offered)
            out = await conn.probe(f"{name} suites", partial(hello.probe, spec, read_flight=True))
            if out.outcome in suites.ENDS_VERSION:
                return
            if out.outcome != ACCEPTED:
                del part[: len(offered)]
                continue
            suite, violation = suites._check(out, version, offered)
            if violation or suites._answered_version(out) != version or suite is None:
                return
            result.accepted.append(suites.Accepted(suite=suite, outcome=out, offered=offered))
            part.remove(suite)

    async with trio.open_nursery() as nursery:
        for i in range(PARTITIONS):
            nursery.start_soon(eliminate, remaining[i::PARTITIONS])
    return None


suites._scan_version = _partitioned  # type: ignore[assignment]

from scanner.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
