"""Single-endpoint scan benchmark (issue 3).

    .venv/bin/python bench/scan.py [--runs N]

Reference server: `openssl s_server` with its default TLS 1.2 + 1.3 configuration and an
RSA 2048 certificate, on loopback. Measures, as the median of N runs (fresh scanner state
each run, same process):
  * versions + cipher suites: connections (budget: accepted suites + 2 per version probed)
    and wall time (budget 0.25 s);
  * the full scan (preference, groups, certificates, behaviours): connections (budget 60)
    and wall time (budget 0.6 s);
  * the vulns family on top of the full scan: its connections (budget 15) and the wall time;
  * the probe path alone (500 probes one after another, ClientHello to ServerHello):
    CPU per probe;
  * scanner CPU per probe: this process's CPU time (CLOCK_PROCESS_CPUTIME_ID) summed over
    all runs / all probes (budget 300 us), and its split (getrusage, tick-granular) into
    user time (our code, trio, cryptography) and kernel time (on loopback the kernel runs
    the whole TCP path of both ends in the sender's system calls, so kernel time here
    includes work that on a real network happens in the server's kernel).
Revocation checks are left out (they talk to the CA's servers, not to the endpoint).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trio  # noqa: E402

from scanner.api import scan_endpoint  # noqa: E402
from scanner.engine import run_probe  # noqa: E402
from scanner.lab.certs import Pki  # noqa: E402
from scanner.lab.servers import OpenSSLServer  # noqa: E402
from scanner.options import (  # noqa: E402
    Deadlines,  # noqa: E402
    ScanOptions,
    Target,
)
from scanner.probes.hello import HelloFactory, candidate_suites  # noqa: E402

VERSIONS_AND_SUITES = frozenset({"protocols", "suites"})
FULL = frozenset({"protocols", "suites", "preference", "groups", "certificates", "behaviours"})
VULNS = FULL | {"vulns"}  # issue 18: the classic vulnerability checks on top (budget 15)


async def one(port: int, probes: frozenset[str], ca: Path) -> tuple[float, float, object]:
    options = ScanOptions(
        probes=probes, deadlines=Deadlines(connect=5, read=5, endpoint=60), ca_file=str(ca),
        use_system_store=False,
    )
    target = Target(host="localhost", port=port, ip="127.0.0.1")
    before, cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time(), time.perf_counter()
    result = await scan_endpoint(target, options)
    cpu, after = time.process_time() - cpu0, resource.getrusage(resource.RUSAGE_SELF)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return time.perf_counter() - t0, (cpu, user, system), result


async def probe_path(port: int, count: int) -> tuple[float, float]:
    """CPU per probe of the probe path alone (ClientHello of 128 suites, connect, send,
    ServerHello parsed, close), sequentially: (TLS 1.2, TLS 1.3) in microseconds."""
    hello = HelloFactory(server_name="localhost")
    out = []
    for version in (0x0303, 0x0304):
        suites = candidate_suites(version)[:128]
        deadlines = Deadlines()
        for _ in range(20):  # warm-up
            await run_probe(hello.probe(hello.spec(version, suites), read_flight=False), "127.0.0.1", port, deadlines=deadlines)
        cpu0 = time.process_time()
        for _ in range(count):
            probe = hello.probe(hello.spec(version, suites), read_flight=False, answer_hrr=False)
            await run_probe(probe, "127.0.0.1", port, deadlines=deadlines)
        out.append((time.process_time() - cpu0) / count * 1e6)
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=25)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pki = Pki(Path(tmp))
        leaf = pki.issue("bench", key="rsa2048")
        with OpenSSLServer(cert=leaf) as server:
            # Warm-up: imports, key-share generation, trust store.
            trio.run(one, server.port, FULL, pki.ca_path)
            tls12, tls13 = trio.run(probe_path, server.port, 500)
            print(
                f"probe path         CPU/probe TLS 1.2 {tls12:4.0f} us, TLS 1.3 {tls13:4.0f} us"
                " (budget 300; one probe at a time, ServerHello only)"
            )
            for label, probes, conn_budget, time_budget in (
                ("versions + suites", VERSIONS_AND_SUITES, None, 0.25),
                ("full scan", FULL, 60, 0.6),
                # issue 11: the default tolerance family adds at most 10 connections
                ("full + tolerance", FULL | {"tolerance"}, 75, 0.6),
            ):
                walls, cpus, conns = [], [], []
                result = None
                for _ in range(args.runs):
                    wall, cpu, result = trio.run(one, server.port, probes, pki.ca_path)
                    walls.append(wall)
                    cpus.append(cpu)  # (user, system) seconds
                    conns.append(result.stats.connections)
                assert result is not None
                accepted = len(result.cipher_suites)
                probed = len(result.protocols)
                budget = conn_budget if conn_budget is not None else accepted + 2 * probed
                print(
                    f"{label:18s} connections {statistics.median(conns):4.0f} (budget {budget}:"
                    f" {accepted} accepted suites, {probed} versions probed)  wall"
                    f" {statistics.median(walls) * 1000:6.1f} ms (budget {time_budget * 1000:.0f})"
                    f"  CPU/probe {sum(c for c, _, _ in cpus) / sum(conns) * 1e6:4.0f} us (budget 300;"
                    f" user {sum(u for _, u, _ in cpus) / sum(conns) * 1e6:4.0f},"
                    f" kernel {sum(k for _, _, k in cpus) / sum(conns) * 1e6:4.0f})"
                )
            # issue 18: what the vulns family adds to the full scan.
            vconns, vwalls = [], []
            for _ in range(args.runs):
                wall, _cpu, result = trio.run(one, server.port, VULNS, pki.ca_path)
                vconns.append(sum(v.connections for v in result.vulns))  # type: ignore[attr-defined]
                vwalls.append(wall)
            print(
                f"vulns family       connections {statistics.median(vconns):4.0f} (budget 15)"
                f"  full scan + vulns wall {statistics.median(vwalls) * 1000:6.1f} ms"
            )


if __name__ == "__main__":
    main()
