#!/usr/bin/env python3
# tlscompat against nmap's ssl-enum-ciphers on the same farm, in the same run (issue 16,
# goals 1 and 3). Results go to docs/performance.md, "Fleet".
#
# The farm is bench/fleet.py's Farm with issue 16's nginx configuration: one worker,
# `ssl_protocols TLSv1.2 TLSv1.3`, `ssl_ciphers 'ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:
# ECDHE+AES:AES'`, 200 ports of 127.0.0.1. One after the other, --repeat times each (the
# tools taking turns), it runs
#   nmap -Pn -n -sT -p PORTS --script ssl-enum-ciphers 127.0.0.1
#   tlscompat scan -f farm.txt --probes protocols,suites,preference
#   tlscompat scan -f farm.txt                       (every probe, tolerance included)
# and measures for each: wall time, endpoints/s, CPU user+sys of the tool's whole process
# tree (os.wait4, through a small launcher: see LAUNCHER), CPU per endpoint, peak RSS
# (the rusage's ru_maxrss: the largest process of the tree), and
# connections per endpoint counted at the server for both tools alike (nginx's own
# `accepts` counter, read from a stub_status port before and after). Then the peak RSS of a
# 10,000-target fleet (the farm plus refused ports in 127.1.0.0/16; goal: at most 100 MB).
# It prints the best run of each and the ratios tlscompat / nmap.
#
#   .venv/bin/python bench/versus_nmap.py                  # 200 endpoints, best of 3
#   .venv/bin/python bench/versus_nmap.py --repeat 1 --memory 0 --json out.json
#   git archive b9ad975 scanner handshakes | tar -x -C /tmp/before
#   .venv/bin/python bench/versus_nmap.py --tree /tmp/before      # before and after, one run
#
# nmap is installed with apt-get when missing and --install-peers is on (the default,
# as root); nginx likewise (nginx-light). Every address is in 127.0.0.0/8; the farm is
# stopped and its files removed however the benchmark ends.
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import ROOT, Farm, free_ports, remove_at_exit, unreachable  # noqa: E402

# The children run as an installed tlscompat does: with bytecode caches (a shell that sets
# PYTHONDONTWRITEBYTECODE makes every start compile the whole scanner again, about 0.1 s of
# CPU per run). A warm-up run writes them before anything is measured.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:ECDHE+AES:AES"
NMAP_PROBES = "protocols,suites,preference"


class IssueFarm(Farm):
    """Farm with issue 16's cipher list and a stub_status port (nginx's accepted
    connection counter): connections are counted at the server, the same way for every
    tool."""

    def __init__(self, count: int, workdir: Path, *, install: bool) -> None:
        super().__init__(count, workdir, install=install)
        self.status_port = 0

    label = "nginx (1 worker, TLS 1.2 + 1.3, issue 16's ssl_ciphers)"
    ciphers = CIPHERS

    def _nginx(self, nginx: str, full: Path, key: Path) -> None:
        self.status_port = free_ports(1)[0]
        super()._nginx(nginx, full, key)

    def _extra_servers(self) -> str:
        return f"  server {{\n    listen 127.0.0.1:{self.status_port};\n    location / {{ stub_status; }}\n  }}\n"

    def accepts(self) -> int:
        """nginx's count of accepted TCP connections so far (this request included)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.status_port}/", timeout=5) as r:  # noqa: S310
            lines = r.read().decode().splitlines()
        return int(lines[2].split()[0])


def ensure_nmap(install: bool) -> str:
    nmap = shutil.which("nmap")
    if nmap is None and install and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing nmap with apt-get ...", file=sys.stderr)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "nmap"], check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL,
        )
        nmap = shutil.which("nmap")
    if nmap is None:
        raise SystemExit("nmap is not installed (apt-get install nmap, or run as root with --install-peers)")
    return nmap


# The tool runs under this small launcher, which forks it and reports its os.wait4 usage.
# Linux carries a process's peak RSS across fork and exec (the parent's high-water mark is
# copied into the child's), so a tool started straight from this benchmark's 60 MB process
# would report at least 60 MB; started from the launcher's fresh interpreter, the floor is
# the launcher's ~10 MB. CPU is the tool's whole process tree (wait4 includes every
# descendant it waited for), not the launcher's.
LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fp:
    json.dump({"wall": time.perf_counter() - started, "rc": os.waitstatus_to_exitcode(status),
               "user": ru.ru_utime, "sys": ru.ru_stime, "maxrss_kb": ru.ru_maxrss}, fp)
"""


def measure(command: list[str], farm: IssueFarm | None, endpoints: int, cwd: Path = ROOT) -> dict[str, object]:
    """Run one tool to its end: wall, CPU of its process tree, peak RSS (of its largest
    process), connections (accepted by nginx, when ``farm`` is given)."""
    before = farm.accepts() if farm else 0
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        process = subprocess.run(
            [sys.executable, "-c", LAUNCHER, report.name, *command],
            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV, check=False,
        )
        usage = json.loads(Path(report.name).read_text() or "{}")
    if process.returncode != 0 or usage.get("rc") not in (0, 1):
        raise RuntimeError(f"{command[0]} failed ({usage.get('rc')}): {process.stderr.decode(errors='replace')[-2000:]}")
    # The status request itself is one accepted connection.
    conns = (farm.accepts() - before - 1) if farm else 0
    cpu = usage["user"] + usage["sys"]
    wall = usage["wall"]
    return {
        "seconds": round(wall, 2),
        "endpoints_per_s": round(endpoints / wall, 1),
        "cpu_user_s": round(usage["user"], 2),
        "cpu_sys_s": round(usage["sys"], 2),
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_endpoint": round(cpu / endpoints * 1000, 1),
        "connections_per_endpoint": round(conns / endpoints, 1),
        "peak_rss_mb": round(usage["maxrss_kb"] / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoints", type=int, default=200, help="TLS endpoints in the farm")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool (the best is kept)")
    parser.add_argument("--concurrency", type=int, default=64, help="tlscompat --concurrency")
    parser.add_argument("--memory", type=int, default=10000, help="targets of the memory run (0: none)")
    parser.add_argument("--install-peers", action=argparse.BooleanOptionalAction, default=True,
                        help="apt-get install nmap and nginx-light when missing (as root)")
    parser.add_argument("--tree", type=Path, help="also time the tlscompat of this source tree (scanner/ and handshakes/, "
                        "e.g. a `git archive` of an older commit), in the same run, with this checkout's venv")
    parser.add_argument("--json", help="also write the figures here")
    opts = parser.parse_args()

    nmap = ensure_nmap(opts.install_peers)
    workdir = Path(tempfile.mkdtemp(prefix="tlscompat-versus-nmap-"))
    farm = IssueFarm(opts.endpoints, workdir, install=opts.install_peers)
    remove_at_exit(farm, workdir)
    figures: dict[str, object] = {}
    try:
        farm.start()
        if not farm.status_port:
            raise SystemExit("this benchmark needs nginx (its stub_status counts the connections)")
        n = opts.endpoints
        targets = workdir / "farm.txt"
        targets.write_text("".join(f"127.0.0.1:{p}\n" for p in farm.ports), encoding="utf-8")
        out = workdir / "out.jsonl"
        flags = ["--format", "jsonl", "--no-db", "--no-progress", "--per-subnet", "0",
                 "--workers", "1", "--concurrency", str(opts.concurrency), "-o", str(out)]
        tlscompat = [sys.executable, "-m", "scanner.cli", "scan", "-f", str(targets), *flags]
        tools = {
            "nmap ssl-enum-ciphers": [
                nmap, "-Pn", "-n", "-sT", "-p", ",".join(map(str, farm.ports)),
                "--script", "ssl-enum-ciphers", "-oN", os.devnull, "127.0.0.1",
            ],
            f"tlscompat --probes {NMAP_PROBES}": [*tlscompat, "--probes", NMAP_PROBES],
            "tlscompat full scan": tlscompat,
        }
        where = {name: ROOT for name in tools}
        if opts.tree:
            for name in list(tools)[1:]:
                tools[f"{name} (--tree)"] = tools[name]
                where[f"{name} (--tree)"] = opts.tree.resolve()
        figures["farm"] = f"{n} endpoints, {farm.kind}, ssl_ciphers '{CIPHERS}'"
        figures["cpus"] = os.cpu_count()
        figures["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
        figures["commands"] = {
            "nmap ssl-enum-ciphers": "nmap -Pn -n -sT -p PORTS --script ssl-enum-ciphers -oN /dev/null 127.0.0.1",
            f"tlscompat --probes {NMAP_PROBES}": "tlscompat scan -f farm.txt " + " ".join(flags[:-2]) + f" -o out.jsonl --probes {NMAP_PROBES}",
            "tlscompat full scan": "tlscompat scan -f farm.txt " + " ".join(flags[:-2]) + " -o out.jsonl",
        }
        print(f"farm: {figures['farm']}", file=sys.stderr)
        runs: dict[str, list[dict[str, object]]] = {name: [] for name in tools}
        # Warm-up: one endpoint, which also writes the bytecode caches.
        for tree in {*where.values()}:
            measure([sys.executable, "-m", "scanner.cli", "scan", f"127.0.0.1:{farm.ports[0]}", "--no-db", "--format", "json"], None, 1, tree)
        for i in range(opts.repeat):
            for name, command in tools.items():
                run = measure(command, farm, n, where[name])
                if name.startswith("tlscompat"):
                    records = [json.loads(line) for line in out.read_text().splitlines()]
                    ok = sum(1 for r in records if r["outcome"] == "ok")
                    run["endpoints_ok"] = ok
                    run["tlscompat_connections_per_endpoint"] = round(sum(r["stats"]["connections"] for r in records) / n, 1)
                    if ok != n:
                        print(f"warning: {name}: {ok} of {n} endpoints ok", file=sys.stderr)
                runs[name].append(run)
                print(f"run {i + 1} {name}: {json.dumps(run)}", file=sys.stderr)
        best = {name: min(rs, key=lambda r: r["cpu_s"]) for name, rs in runs.items()}  # type: ignore[arg-type, return-value]
        figures["runs"] = runs
        figures["best"] = best
        nm = best["nmap ssl-enum-ciphers"]
        ratios = {}
        for name in list(tools)[1:]:
            ratios[name] = {
                k: round(float(best[name][k]) / float(nm[k]), 2)  # type: ignore[arg-type]
                for k in ("cpu_ms_per_endpoint", "seconds", "connections_per_endpoint", "peak_rss_mb")
            }
        figures["ratios_to_nmap"] = ratios

        if opts.memory > 0:
            count = opts.memory
            path = workdir / f"mixed-{count}.txt"
            healthy = [f"127.0.0.1:{p}" for p in farm.ports][: min(len(farm.ports), count // 5)]
            closed = free_ports(1)[0]
            path.write_text("\n".join(healthy + unreachable(count - len(healthy), closed)) + "\n", encoding="utf-8")
            mem = measure([sys.executable, "-m", "scanner.cli", "scan", "-f", str(path), *flags], None, count)
            figures["memory"] = {"targets": count, "healthy": len(healthy), "seconds": mem["seconds"],
                                 "peak_rss_mb": mem["peak_rss_mb"], "goal_mb": 100}
    finally:
        farm.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    text = json.dumps(figures, indent=2)
    if opts.json:
        Path(opts.json).write_text(text + "\n", encoding="utf-8")
    print(f"\n{figures['farm']}; load average before: {figures['loadavg_before']}")
    header = f"{'best of ' + str(opts.repeat):<48} {'wall s':>7} {'ep/s':>6} {'CPU s':>6} {'CPU ms/ep':>9} {'conn/ep':>8} {'RSS MB':>7}"
    print(header)
    for name, r in best.items():
        print(f"{name:<48} {r['seconds']:>7} {r['endpoints_per_s']:>6} {r['cpu_s']:>6} "
              f"{r['cpu_ms_per_endpoint']:>9} {r['connections_per_endpoint']:>8} {r['peak_rss_mb']:>7}")
    for name, ratio in ratios.items():
        print(f"{name} / nmap: CPU per endpoint {ratio['cpu_ms_per_endpoint']}, wall {ratio['seconds']}, "
              f"connections {ratio['connections_per_endpoint']}, peak RSS {ratio['peak_rss_mb']}")
    if "memory" in figures:
        m = figures["memory"]
        print(f"peak RSS, {m['targets']} targets: {m['peak_rss_mb']} MB (goal: at most 100 MB)")  # type: ignore[index]
    return 0


if __name__ == "__main__":
    sys.exit(main())
