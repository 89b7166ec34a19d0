#!/usr/bin/env python3
# Fleet benchmark: a farm of TLS endpoints on loopback, a full scan of all of them with
# `tlscompat scan -f`, and peak memory for 1,000 and 10,000 targets (most of them
# refused ports on 127.0.0.0/8). Results go to docs/performance.md, "Fleet".
#
# The farm is nginx (one worker process, TLS 1.2 + 1.3, one server block listening on
# --endpoints ports) when nginx is installed (--install-nginx runs `apt-get install
# nginx-light` when it is not), else one `openssl s_server` per endpoint. Every address is
# in 127.0.0.0/8; the farm is stopped and its files removed however the benchmark ends.
#
#   .venv/bin/python bench/fleet.py                      # 200 endpoints, memory 1k and 10k
#   .venv/bin/python bench/fleet.py --endpoints 50 --memory 0
#   .venv/bin/python bench/fleet.py --workers 1,2 --cluster local:1,local:2 --memory 0
#       # the Dask path (docs/cluster.md) against the local one; the client's own peak
#       # memory at --cluster-memory targets (100,000 by default)
from __future__ import annotations

import argparse
import atexit
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.lab.certs import IssuedCert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_ports(count: int) -> list[int]:
    """Ports free on every address (bound together so they differ), released at once."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("0.0.0.0", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def remove_at_exit(farm: Farm, workdir: Path) -> None:
    """Stop ``farm`` and remove ``workdir`` however the benchmark ends (normal end, an
    exception, SIGTERM)."""

    def cleanup() -> None:
        farm.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


class Farm:
    """TLS endpoints on 127.0.0.1: nginx with many listen ports, or s_server processes."""

    def __init__(self, count: int, workdir: Path, *, install: bool) -> None:
        self.count = count
        self.dir = workdir
        self.install = install
        self.processes: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []
        self.kind = ""

    def start(self) -> Farm:
        from scanner.lab.certs import Pki

        pki = Pki(self.dir / "pki")
        cert = pki.issue("fleet-farm")
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
        if nginx is None and self.install and os.geteuid() == 0 and shutil.which("apt-get"):
            print("installing nginx-light with apt-get ...", file=sys.stderr)
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "nginx-light"], check=False,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL,
            )
            nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
        self.ports = free_ports(self.count)
        if nginx:
            self._nginx(nginx, cert.fullchain_path, cert.key_path)
        else:
            self._s_server(cert)
        self._wait_listening()
        return self

    # What a subclass changes of the nginx farm: its label, the server block's ssl_ciphers
    # (nginx's default when None), more server blocks, how nginx is started.
    label = "nginx (1 worker, TLS 1.2 + 1.3)"
    ciphers: str | None = None

    def _extra_servers(self) -> str:
        return ""

    def _command(self, argv: list[str]) -> list[str]:
        return argv

    def _nginx(self, nginx: str, full: Path, key: Path) -> None:
        self.kind = self.label
        listens = "\n".join(f"    listen 127.0.0.1:{p} ssl;" for p in self.ports)
        (self.dir / "tmp").mkdir()
        temp = "\n".join(f"  {k}_temp_path {self.dir}/tmp;" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        ciphers = f"\n    ssl_ciphers '{self.ciphers}';" if self.ciphers else ""
        conf = self.dir / "nginx.conf"
        conf.write_text(
            f"""daemon off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
{temp}
{self._extra_servers()}  server {{
{listens}
    ssl_certificate {full};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;{ciphers}
    return 200 "ok";
  }}
}}
""",
            encoding="utf-8",
        )
        self.processes.append(
            subprocess.Popen(
                self._command([nginx, "-c", str(conf), "-p", str(self.dir), "-e", str(self.dir / "error.log")]),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )
        )

    def _s_server(self, cert: IssuedCert) -> None:
        self.kind = "openssl s_server processes (nginx not installed)"
        from scanner.lab.servers import OpenSSLServerConfig

        config = OpenSSLServerConfig(cert=cert.cert_path, key=cert.key_path, cert_chain=cert.chain_path, min_version=0x0303)
        for port in self.ports:
            self.processes.append(
                subprocess.Popen(
                    ["openssl", *config.argv(port)], stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                )
            )

    def _wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.ports)
        while pending and time.monotonic() < deadline:
            for port in list(pending):
                with socket.socket() as s:
                    s.settimeout(0.2)
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        pending.discard(port)
            if pending:
                time.sleep(0.1)
        if pending:
            raise RuntimeError(f"{len(pending)} farm ports never listened ({self.kind})")

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.processes:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.processes.clear()


def tree_cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes and their children."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fp:
                    fields = fp.read().rsplit(") ", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents[int(entry)] = int(fields[1])
            times[int(entry)] = int(fields[11]) + int(fields[12])
    family = set(pids)
    grew = True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in family and child not in family:
                family.add(child)
                grew = True
    return sum(times.get(p, 0) for p in family) / ticks


def tree_memory_kb(pid: int) -> tuple[int, int]:
    """Memory of a process and all its descendants (kB): the sum of their RSS, and the
    sum of their PSS (shared pages divided among the processes sharing them: what the
    tree really uses)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fp:
                    parents[int(entry)] = int(fp.read().rsplit(") ", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    family = {pid}
    grew = True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in family and child not in family:
                family.add(child)
                grew = True
    rss = pss = 0
    for p in family:
        try:
            with open(f"/proc/{p}/smaps_rollup") as fp:
                for line in fp:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def process_memory_kb(pid: int) -> tuple[int, int]:
    """RSS and PSS (kB) of one process, without its children (the cluster client alone:
    a LocalCluster's workers are its children)."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fp:
            for line in fp:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


WINDOW: dict[str, float] = {}  # the last run_scan's first and last output growth (seconds)


def run_scan(args: list[str], *, sample: bool = True, client_only: bool = False, out: Path | None = None) -> tuple[float, tuple[int, int], str]:
    """Run `tlscompat scan ...`: wall seconds, peak (RSS, PSS) of the process tree (kB; of
    the scanning process alone with ``client_only``), stderr. With ``out``, WINDOW gets
    when the output file first and last grew (from the start, seconds): the scanning
    itself, without start-up and shut-down."""
    command = [sys.executable, "-m", "scanner.cli", "scan", *args]
    peak = (0, 0)
    WINDOW.clear()
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stop = threading.Event()

    def sampler() -> None:
        nonlocal peak
        size = 0
        while not stop.is_set():
            rss, pss = (process_memory_kb if client_only else tree_memory_kb)(process.pid)
            peak = (max(peak[0], rss), max(peak[1], pss))
            if out is not None and out.exists() and out.stat().st_size != size:
                size = out.stat().st_size
                WINDOW.setdefault("first", time.perf_counter() - started)
                WINDOW["last"] = time.perf_counter() - started
            stop.wait(0.05)

    thread = threading.Thread(target=sampler, daemon=True)
    if sample:
        thread.start()
    _, err = process.communicate()
    elapsed = time.perf_counter() - started
    stop.set()
    if sample:
        thread.join()
    if process.returncode not in (0, 1):
        raise RuntimeError(f"scan failed ({process.returncode}): {err.decode(errors='replace')[-2000:]}")
    return elapsed, peak, err.decode(errors="replace")


def unreachable(count: int, port: int) -> list[str]:
    """Addresses in 127.0.0.0/8 outside 127.0.0.0/16 (so not the farm's), closed port."""
    out: list[str] = []
    base = int(ipaddress.IPv4Address("127.1.0.0"))
    i = 0
    while len(out) < count:
        addr = ipaddress.IPv4Address(base + i)
        i += 1
        if addr.packed[3] in (0, 255):
            continue
        out.append(f"{addr}:{port}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoints", type=int, default=200, help="TLS endpoints in the farm")
    parser.add_argument("--workers", default="1,2", help="tlscompat --workers values to measure")
    parser.add_argument("--cluster", default="", help="tlscompat --cluster values to measure, e.g. local:1,local:2")
    parser.add_argument("--cluster-memory", default="10000,100000", help="target counts for the cluster client's memory runs ('0': none)")
    parser.add_argument("--repeat", type=int, default=1, help="full scans per mode, the modes taking turns")
    parser.add_argument("--concurrency", type=int, default=64, help="tlscompat --concurrency")
    parser.add_argument("--memory", default="1000,10000", help="target counts for the memory runs ('0': none)")
    parser.add_argument("--install-nginx", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", help="also write the figures here")
    opts = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tlscompat-fleet-bench-"))
    farm = Farm(opts.endpoints, workdir, install=opts.install_nginx)
    remove_at_exit(farm, workdir)
    figures: dict[str, object] = {}
    try:
        farm.start()
        figures["farm"] = f"{opts.endpoints} endpoints, {farm.kind}"
        figures["cpus"] = os.cpu_count()
        print(f"farm: {figures['farm']}", file=sys.stderr)
        targets = workdir / "farm.txt"
        targets.write_text("".join(f"127.0.0.1:{p}\n" for p in farm.ports), encoding="utf-8")
        scan_flags = ["--format", "jsonl", "--no-db", "--no-progress", "--per-subnet", "0"]

        # What one endpoint needs on its own.
        single = workdir / "single.jsonl"
        run_scan([f"127.0.0.1:{farm.ports[0]}", *scan_flags, "-o", str(single)], sample=False)
        need = json.loads(single.read_text().splitlines()[0])["stats"]["connections"]
        figures["single_endpoint_connections"] = need

        figures["full_scan"] = []
        modes = [["--workers", w] for w in opts.workers.split(",") if w] + [["--cluster", c] for c in opts.cluster.split(",") if c]
        # What each mode costs before scanning anything: one endpoint, start to exit.
        figures["one_endpoint"] = {}
        for mode in modes:
            one = workdir / "one.jsonl"
            before = os.times()
            elapsed, _, _ = run_scan([f"127.0.0.1:{farm.ports[0]}", *scan_flags, "-o", str(one), *mode], sample=False)
            after = os.times()
            cpu = (after.children_user + after.children_system) - (before.children_user + before.children_system)
            figures["one_endpoint"][" ".join(mode)] = {"seconds": round(elapsed, 2), "cpu_s": round(cpu, 2)}  # type: ignore[index]
        print(json.dumps(figures["one_endpoint"]), file=sys.stderr)
        for mode in [m for _ in range(opts.repeat) for m in modes]:
            out = workdir / "fleet.jsonl"
            fleet_args = ["-f", str(targets), *scan_flags, "-o", str(out), *mode, "--concurrency", str(opts.concurrency)]
            load_before = os.getloadavg()[0]
            farm_cpu = tree_cpu_s([p.pid for p in farm.processes])
            children = os.times()
            if out.exists():
                out.unlink()
            elapsed, peak, _ = run_scan(fleet_args, out=out)
            farm_cpu = tree_cpu_s([p.pid for p in farm.processes]) - farm_cpu
            after = os.times()
            scan_cpu = (after.children_user + after.children_system) - (children.children_user + children.children_system)
            records = [json.loads(line) for line in out.read_text().splitlines()]
            outcomes: dict[str, int] = {}
            for r in records:
                outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
            conns = [r["stats"]["connections"] for r in records]
            run = {
                "command": "tlscompat scan " + " ".join(fleet_args).replace(str(targets), "farm.txt").replace(str(out), "fleet.jsonl"),
                "endpoints": len(records),
                "outcomes": outcomes,
                "seconds": round(elapsed, 2),
                "endpoints_per_s": round(len(records) / elapsed, 1),
                # From the first endpoint written to the last: the scan without start-up.
                "steady_endpoints_per_s": round((len(records) - 1) / max(1e-9, WINDOW["last"] - WINDOW["first"]), 1),
                "first_endpoint_s": round(WINDOW["first"], 2),
                "peak_rss_mb": round(peak[0] / 1024, 1),
                "peak_pss_mb": round(peak[1] / 1024, 1),
                "connections_per_endpoint_max": max(conns),
                "connections_per_endpoint_min": min(conns),
                "connections_total": sum(conns),
                "loadavg_before": round(load_before, 2),
                "scanner_cpu_s": round(scan_cpu, 2),
                "farm_cpu_s": round(farm_cpu, 2),
            }
            figures["full_scan"].append(run)  # type: ignore[attr-defined]
            print(json.dumps(run, indent=2), file=sys.stderr)

        closed = free_ports(1)[0]
        memory = {}
        for workers, count in [(int(w), int(x)) for w in opts.workers.split(",") for x in opts.memory.split(",") if int(x) > 0]:
            path = workdir / f"mixed-{count}.txt"
            healthy = [f"127.0.0.1:{p}" for p in farm.ports][: min(len(farm.ports), count // 5)]
            lines = healthy + unreachable(count - len(healthy), closed)
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            mout = workdir / f"mixed-{count}.jsonl"
            elapsed, peak, _ = run_scan(
                ["-f", str(path), *scan_flags, "-o", str(mout), "--workers", str(workers), "--concurrency", str(opts.concurrency)]
            )
            written = sum(1 for _ in mout.open())
            key = f"{count} targets, {workers} worker(s)"
            memory[key] = {
                "healthy": len(healthy), "refused": count - len(healthy), "written": written,
                "seconds": round(elapsed, 2), "peak_rss_mb": round(peak[0] / 1024, 1),
                "peak_pss_mb": round(peak[1] / 1024, 1),
            }
            print(f"{key}: {memory[key]}", file=sys.stderr)
        clusters = [c for c in opts.cluster.split(",") if c]
        for count in [int(x) for x in opts.cluster_memory.split(",") if int(x) > 0] if clusters else []:
            path = workdir / f"mixed-{count}.txt"
            healthy = [f"127.0.0.1:{p}" for p in farm.ports][: min(len(farm.ports), count // 5)]
            path.write_text("\n".join(healthy + unreachable(count - len(healthy), closed)) + "\n", encoding="utf-8")
            mout = workdir / f"mixed-{count}.jsonl"
            spec = clusters[-1]
            before = os.times()
            elapsed, peak, _ = run_scan(
                ["-f", str(path), *scan_flags, "-o", str(mout), "--cluster", spec, "--concurrency", str(opts.concurrency)],
                client_only=True,
            )
            after = os.times()
            written = sum(1 for _ in mout.open())
            key = f"{count} targets, --cluster {spec}, client process alone"
            memory[key] = {
                "healthy": len(healthy), "refused": count - len(healthy), "written": written,
                "seconds": round(elapsed, 2), "peak_rss_mb": round(peak[0] / 1024, 1),
                "peak_pss_mb": round(peak[1] / 1024, 1),
                "cpu_s_all_processes": round(
                    (after.children_user + after.children_system) - (before.children_user + before.children_system), 2
                ),
            }
            print(f"{key}: {memory[key]}", file=sys.stderr)
        figures["memory"] = memory
    finally:
        farm.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    text = json.dumps(figures, indent=2)
    print(text)
    if opts.json:
        Path(opts.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
