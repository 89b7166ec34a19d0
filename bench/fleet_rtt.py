#!/usr/bin/env python3
# Fleet benchmark over a link with latency: the nginx farm of bench/fleet.py (one worker,
# TLS 1.2 + 1.3, the ssl_ciphers of issue 16) runs in a network namespace reached over a
# link that delays and drops packets: netem on a veth pair when the kernel has it, else
# bench/netlab.py's delay line between two TUN devices (--link tun, the default), or, to
# compare, the older TCP relay that delays what it carries and models loss (--link relay).
# A relay in the namespace logs every connection in any case. tlscompat and nmap's ssl-enum-ciphers
# scan the same endpoints one after the other at the same global concurrency, and the
# relay's log says where the time went: connections per endpoint, connections at once
# per endpoint, the longest chain of connections one after the other. Results go to
# docs/performance.md, "Fleet over a link with latency".
#
# Needs root (namespace, veth or TUN, nmap's default SYN scan) and `ip`; installs nmap and
# nginx with apt-get when missing (--no-install to refuse). Everything created is removed
# however the benchmark ends; traffic stays on this machine (10.199.0.0/16 on the link).
#
#   .venv/bin/python bench/fleet_rtt.py --rtt 50ms --loss 0.5%
#   .venv/bin/python bench/fleet_rtt.py --rtt 50ms --loss 0 --endpoints 50 --per-endpoint 4 --nmap default
from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from fleet import Farm, tree_cpu_s  # noqa: E402
from netlab import (  # noqa: E402
    Netlab,
    netem_available,
    parse_duration,
    parse_ratio,
    relay_config,
    service_addresses,
    start_relay,
    stop_process,
)

# The farm of issue 16: 20 suites over TLS 1.2 and 1.3.
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:ECDHE+AES:AES"
PORT = 443  # every endpoint is its own address, port 443, as in a real fleet
NMAP_PROBES = "protocols,suites,preference"  # what ssl-enum-ciphers also finds out


class NsFarm(Farm):
    """bench/fleet.py's nginx farm, started inside the namespace on its own 127.0.0.1
    (only the relay reaches it), with the issue's ssl_ciphers."""

    def __init__(self, count: int, workdir: Path, netlab: Netlab, *, install: bool) -> None:
        super().__init__(count, workdir, install=install)
        self.netlab = netlab

    label = "nginx (1 worker, TLS 1.2 + 1.3, issue 16's ssl_ciphers) in a network namespace"
    ciphers = CIPHERS

    def _command(self, argv: list[str]) -> list[str]:
        return self.netlab.wrap(argv)

    def _s_server(self, cert: object) -> None:
        raise RuntimeError("this benchmark needs nginx (apt-get install nginx-light, or leave --install on)")

    def _wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        wanted = {f"127.0.0.1:{p}" for p in self.ports}
        while time.monotonic() < deadline:
            listing = subprocess.run(self.netlab.wrap(["ss", "-Hltn"]), capture_output=True, text=True, check=False).stdout
            if wanted <= {line.split()[3] for line in listing.splitlines() if len(line.split()) > 3}:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the farm never listened on all {self.count} ports (see {self.dir}/error.log)")


def install_nmap(install: bool) -> str:
    nmap = shutil.which("nmap")
    if nmap is None and install and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing nmap with apt-get ...", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        command = ["apt-get", "install", "-y", "-q", "nmap"]
        if subprocess.run(command, check=False, stdout=subprocess.DEVNULL, env=env).returncode != 0:
            # A fresh machine may have no package lists yet.
            subprocess.run(["apt-get", "update", "-qq"], check=False, stdout=subprocess.DEVNULL, env=env)
            subprocess.run(command, check=False, stdout=subprocess.DEVNULL, env=env)
        nmap = shutil.which("nmap")
    if nmap is None:
        raise RuntimeError("nmap is not installed (apt-get install nmap)")
    return nmap


def connection_figures(log: Path, start: float, end: float) -> dict[str, object]:
    """From the relay's log: the connections opened in [start, end] (monotonic seconds),
    per endpoint: how many, how many at once at most, the longest chain of connections
    each opened after the previous one closed (a lower bound on the round trips that
    endpoint's scan needed one after the other), and first-open-to-last-close."""
    per: dict[str, list[tuple[float, float]]] = {}
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if start <= r["opened"] <= end:
                per.setdefault(r["endpoint"], []).append((r["opened"], r["closed"]))
    if not per:
        return {"endpoints_seen": 0}

    def peak(spans: list[tuple[float, float]]) -> int:
        events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans], key=lambda e: (e[0], e[1]))
        now = best = 0
        for _, step in events:
            now += step
            best = max(best, now)
        return best

    def chain(spans: list[tuple[float, float]]) -> int:
        # The most connections that ran strictly one after another: earliest end first
        # (the greedy choice is optimal for interval scheduling).
        count, free_at = 0, float("-inf")
        for a, b in sorted(spans, key=lambda s: s[1]):
            if a >= free_at:
                count, free_at = count + 1, b
        return count

    counts = [len(s) for s in per.values()]
    peaks = [peak(s) for s in per.values()]
    chains = [chain(s) for s in per.values()]
    spans = [max(b for _, b in s) - min(a for a, _ in s) for s in per.values()]
    durations = [b - a for s in per.values() for a, b in s]
    everything = [x for s in per.values() for x in s]
    return {
        "endpoints_seen": len(per),
        "connections": sum(counts),
        "connections_per_endpoint": {"median": statistics.median(counts), "max": max(counts), "min": min(counts)},
        "at_once_per_endpoint": {"median": statistics.median(peaks), "max": max(peaks)},
        "longest_chain": {"median": statistics.median(chains), "max": max(chains)},
        "endpoint_span_s": {"median": round(statistics.median(spans), 2), "max": round(max(spans), 2)},
        "connection_s": {"median": round(statistics.median(durations), 3), "max": round(max(durations), 3)},
        "at_once_whole_scan": peak(everything),
    }


def nmap_findings(xml_path: Path) -> dict[str, object]:
    """Endpoints where ssl-enum-ciphers reported something, and the suites it found
    per version (the most common count, to compare with tlscompat's)."""
    found = 0
    suites: dict[str, list[int]] = {}
    if xml_path.exists():
        for script in ET.parse(xml_path).getroot().iter("script"):
            if script.get("id") != "ssl-enum-ciphers":
                continue
            found += 1
            for version in script.findall("table"):
                ciphers = version.find("table[@key='ciphers']")
                if ciphers is not None:
                    suites.setdefault(version.get("key", "?"), []).append(len(ciphers.findall("table")))
    return {"endpoints_reported": found, "suites": {v: statistics.mode(c) for v, c in sorted(suites.items())}}


def tlscompat_findings(jsonl: Path) -> dict[str, object]:
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()] if jsonl.exists() else []
    outcomes: dict[str, int] = {}
    suites: dict[str, list[int]] = {}
    for r in records:
        outcomes[r.get("outcome", "?")] = outcomes.get(r.get("outcome", "?"), 0) + 1
        per_version: dict[str, int] = {}
        for suite in r.get("cipher_suites", []) or []:
            version = str(suite.get("version", "?"))
            per_version[version] = per_version.get(version, 0) + 1
        for version, n in per_version.items():
            suites.setdefault(version, []).append(n)
    return {
        "endpoints_written": len(records), "outcomes": outcomes,
        "suites": {v: statistics.mode(c) for v, c in sorted(suites.items())},
    }


def measure(label: str, argv: list[str], *, count: int, log: Path, watch: list[int]) -> dict[str, object]:
    """Run one scan to the end: wall time, endpoints/s, CPU of the scanner and of the
    `watch` processes (relay, farm, delay line), and the relay's connection figures."""
    load = os.getloadavg()[0]
    before = os.times()
    watched = tree_cpu_s(watch)
    start = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    end = time.monotonic()
    after = os.times()
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{label} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-1500:]}")
    time.sleep(0.5)  # the relay logs a connection when it sees its close
    wall = end - start
    figures: dict[str, object] = {
        "label": label,
        "seconds": round(wall, 2),
        "endpoints_per_s": round(count / wall, 2),
        "scanner_cpu_s": round((after.children_user + after.children_system) - (before.children_user + before.children_system), 2),
        "link_and_farm_cpu_s": round(tree_cpu_s(watch) - watched, 2),
        "loadavg_before": round(load, 2),
    }
    figures.update(connection_figures(log, start, end))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description="fleet benchmark over a link with latency (root)")
    parser.add_argument("--rtt", default="50ms", help="round-trip time added to every connection (default 50ms)")
    parser.add_argument("--loss", default="0.5%", help="packet loss, e.g. 0.5%% (default 0.5%%)")
    parser.add_argument("--endpoints", type=int, default=200, help="TLS endpoints in the farm (default 200)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="endpoints scanned at once, both tools (tlscompat --concurrency, nmap --min/--max-hostgroup)")
    parser.add_argument("--max-connections", type=int, default=0,
                        help="connections at once, whole scan, both tools (tlscompat --max-connections, "
                        "nmap --max-parallelism; default 4 x --concurrency)")
    parser.add_argument("--per-endpoint", default="1,2,4,8", help="tlscompat --per-endpoint values (default 1,2,4,8)")
    parser.add_argument("--probes", default=NMAP_PROBES, help=f"tlscompat --probes (default {NMAP_PROBES}: what nmap also does)")
    parser.add_argument("--full", action=argparse.BooleanOptionalAction, default=True,
                        help="also a full default scan at --per-endpoint 4")
    parser.add_argument("--nmap", default="plain,default,T4",
                        help="nmap runs: plain (nmap's own defaults), default and T4 (at the same concurrency)")
    parser.add_argument("--install", action=argparse.BooleanOptionalAction, default=True,
                        help="apt-get install nmap and nginx-light when missing")
    parser.add_argument("--experiment", type=Path,
                        help="a Python file run as `python FILE scan ...` instead of `tlscompat scan ...`, "
                        "once per --per-endpoint value: a change to the engine measured before it is made")
    parser.add_argument("--link", choices=("tun", "relay"), default="tun",
                        help="without netem: tun (a packet-level delay line, default) or relay "
                        "(the TCP relay delays, and models loss; connect() does not wait)")
    parser.add_argument("--seed", type=int, default=16, help="the delay line's or relay's random seed (losses)")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--relay-log", type=Path, help="keep the relay's log of every connection here (JSON lines)")
    opts = parser.parse_args()
    try:
        rtt = parse_duration(opts.rtt)
        loss = parse_ratio(opts.loss)
        addresses = service_addresses(opts.endpoints)
        per_endpoint = [int(x) for x in opts.per_endpoint.split(",") if x]
        nmap_runs = [x for x in opts.nmap.split(",") if x]
        if any(x not in ("plain", "default", "T4") for x in nmap_runs) or opts.concurrency < 1 or min(per_endpoint, default=1) < 1:
            raise ValueError("--nmap takes plain,default,T4; --concurrency and --per-endpoint at least 1")
    except ValueError as exc:
        print(f"fleet_rtt: {exc}", file=sys.stderr)
        return 2
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("fleet_rtt: needs root and iproute2 (network namespace and veth pair)", file=sys.stderr)
        return 2
    connections = opts.max_connections or 4 * opts.concurrency
    nmap = install_nmap(opts.install) if nmap_runs else ""

    for stale in Path(tempfile.gettempdir()).glob("tlscompat-fleet-rtt-*-*"):
        # The files of a run killed with SIGKILL (its pid is in the name); its namespace
        # and processes go in Netlab.up.
        owner = stale.name.split("-")[3]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            shutil.rmtree(stale, ignore_errors=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"tlscompat-fleet-rtt-{os.getpid()}-"))
    os.chmod(workdir, 0o755)  # nginx's worker (nobody) reads nothing here, but may need to traverse
    netem = netem_available()
    by_relay = opts.link == "relay" and not netem
    netlab = Netlab(link="tun" if not netem and not by_relay else "veth", rtt=rtt, loss=loss, seed=opts.seed)
    farm = NsFarm(opts.endpoints, workdir / "farm", netlab, install=opts.install)
    relay: subprocess.Popen[bytes] | None = None

    def cleanup() -> None:
        if relay is not None:
            stop_process(relay)
        if opts.relay_log and (workdir / "relay.log").exists():
            shutil.copyfile(workdir / "relay.log", opts.relay_log)
        farm.stop()
        netlab.down()
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(cleanup)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _: sys.exit(128 + signum))
    figures: dict[str, object] = {"cpus": os.cpu_count(), "rtt_ms": rtt * 1000, "loss": loss}
    try:
        (workdir / "farm").mkdir()
        netlab.up(addresses)
        if netem:
            netlab.netem(rtt / 2, loss)
        figures["delay_by"] = (
            "netem on both ends of the veth pair" if netem
            else "the userspace TCP relay (no netem here)" if by_relay
            else "the packet-level delay line between two TUN devices (no netem here)"
        )
        farm.start()
        log = workdir / "relay.log"
        routes = [((a, PORT), ("127.0.0.1", p)) for a, p in zip(addresses, farm.ports, strict=True)]
        config = relay_config(routes, rtt=rtt if by_relay else 0, loss=loss if by_relay else 0, log=log, seed=opts.seed)
        relay = start_relay(config, workdir, wrap=netlab.wrap([]))
        watch = [relay.pid, *(p.pid for p in farm.processes), *([netlab.line.pid] if netlab.line else [])]
        figures["farm"] = f"{opts.endpoints} endpoints, {farm.kind}"
        figures["concurrency"] = {"endpoints_at_once": opts.concurrency, "connections_at_once": connections}
        print(f"farm: {figures['farm']}; delay by {figures['delay_by']}", file=sys.stderr)

        targets = workdir / "targets.txt"
        targets.write_text("".join(f"{a}:{PORT}\n" for a in addresses), encoding="utf-8")
        hosts = workdir / "hosts.txt"
        hosts.write_text("".join(f"{a}\n" for a in addresses), encoding="utf-8")
        out = workdir / "scan.jsonl"
        base = [sys.executable, "-m", "scanner.cli", "scan", "-f", str(targets), "--format", "jsonl", "--no-db",
                "--no-progress", "--per-subnet", "0", "-o", str(out), "--concurrency", str(opts.concurrency),
                "--max-connections", str(connections)]
        runs: list[tuple[str, list[str], str]] = []
        for k in per_endpoint:
            runs.append((f"tlscompat --probes {opts.probes} --per-endpoint {k}",
                         [*base, "--probes", opts.probes, "--per-endpoint", str(k)], "tlscompat"))
        if opts.experiment:
            for k in per_endpoint:
                runs.append((f"experiment {opts.experiment.name} --probes {opts.probes} --per-endpoint {k}",
                             [sys.executable, str(opts.experiment.resolve()), *base[3:], "--probes", opts.probes,
                              "--per-endpoint", str(k)], "tlscompat"))
        if opts.full:
            runs.append(("tlscompat full scan --per-endpoint 4", [*base, "--per-endpoint", "4"], "tlscompat"))
        xml = workdir / "nmap.xml"
        nmap_base = [nmap, "-Pn", "-n", "-p", str(PORT), "--script", "ssl-enum-ciphers", "-iL", str(hosts), "-oX", str(xml)]
        aligned = ["--min-hostgroup", str(opts.concurrency), "--max-hostgroup", str(opts.concurrency),
                   "--max-parallelism", str(connections)]
        for mode in nmap_runs:
            if mode == "plain":
                runs.append(("nmap --script ssl-enum-ciphers (nmap's own defaults)", nmap_base, "nmap"))
            else:
                timing = ["-T4"] if mode == "T4" else []
                runs.append((f"nmap --script ssl-enum-ciphers {'-T4' if timing else 'default timing'}, same concurrency",
                             [*nmap_base, *aligned, *timing], "nmap"))

        results = []
        for label, argv, tool in runs:
            out.unlink(missing_ok=True)
            xml.unlink(missing_ok=True)
            run = measure(label, argv, count=opts.endpoints, log=log, watch=watch)
            run["command"] = " ".join(argv).replace(sys.executable + " -m scanner.cli", "tlscompat").replace(
                str(workdir) + "/", "")
            run["found"] = tlscompat_findings(out) if tool == "tlscompat" else nmap_findings(xml)
            results.append(run)
            print(json.dumps(run), file=sys.stderr)
        figures["runs"] = results
        nmap_rates = [r["endpoints_per_s"] for r in results if str(r["label"]).startswith("nmap") and "same concurrency" in str(r["label"])]
        if nmap_rates:
            best_nmap = max(nmap_rates)  # type: ignore[type-var]
            figures["ratio_to_best_aligned_nmap"] = {
                str(r["label"]): round(float(r["endpoints_per_s"]) / float(best_nmap), 2)  # type: ignore[arg-type]
                for r in results if not str(r["label"]).startswith("nmap")
            }
    finally:
        cleanup()
        atexit.unregister(cleanup)
    if netlab.counts:
        figures["line_packets"] = netlab.counts  # the delay line's: passed, dropped (both ways, whole run)
    text = json.dumps(figures, indent=2)
    print(text)
    if opts.json:
        Path(opts.json).write_text(text + "\n", encoding="utf-8")
    print(table(figures), file=sys.stderr)
    return 0


def table(figures: dict[str, object]) -> str:
    """The runs as a Markdown table (what docs/performance.md shows)."""
    lines = [
        "| run | wall | endpoints/s | connections per endpoint | at once per endpoint (median / max) | longest chain (median) "
        "| endpoint span (median) | scanner CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in figures.get("runs", []):  # type: ignore[attr-defined]
        cpe = r.get("connections_per_endpoint", {})
        lines.append(
            f"| {r['label']} | {r['seconds']} s | {r['endpoints_per_s']} | {cpe.get('median', '-')} "
            f"| {r.get('at_once_per_endpoint', {}).get('median', '-')} / {r.get('at_once_per_endpoint', {}).get('max', '-')} | {r.get('longest_chain', {}).get('median', '-')} "
            f"| {r.get('endpoint_span_s', {}).get('median', '-')} s | {r['scanner_cpu_s']} s |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as exc:  # a step that failed (ip, nginx, the relay, a scan): one line
        print(f"fleet_rtt: {exc}", file=sys.stderr)
        sys.exit(1)
