"""Process start-up benchmark (issue 14, section 4): how long a user waits.

    .venv/bin/python bench/startup.py [--runs 10] [--sslyze /tmp/sslyze-venv/bin/sslyze]
                                      [--tree DIR]

Measures, as the median of N runs, the wall time of whole processes, started the way a
user starts them:
  * `python -c pass` (the interpreter alone, for reference);
  * `tlscompat --help` (budget 0.15 s);
  * `tlscompat scan --no-db 127.0.0.1:PORT`: a full scan (every probe) of a loopback
    `openssl s_server` with its default TLS 1.2 + 1.3 configuration and an RSA 2048 lab
    certificate (budget: half of sslyze's time on the same server);
  * `sslyze 127.0.0.1:PORT` on the same server, when sslyze is installed (it is not a
    dependency: install it in its own venv, `python3 -m venv /tmp/sslyze-venv &&
    /tmp/sslyze-venv/bin/pip install sslyze`).
The commands run round-robin (one of each, N times), so that a busy machine slows all of
them alike. `--tree DIR` runs the scanner from another source tree (e.g. an older commit
unpacked with `git archive`), for before/after figures. Results go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.lab.certs import Pki  # noqa: E402
from scanner.lab.servers import OpenSSLServer  # noqa: E402

ENTRY = "import sys; from scanner.cli import main; sys.exit(main())"


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user + system) of one process. It runs in / so that
    `python -c` (which puts the current directory first on sys.path) imports --tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        argv, env=env, cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300, check=False
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--sslyze", default="/tmp/sslyze-venv/bin/sslyze")
    ap.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": args.tree, "NO_COLOR": "1"}
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        pki = Pki(Path(tmp))
        leaf = pki.issue("bench", key="rsa2048")
        with OpenSSLServer(cert=leaf) as server:
            target = f"127.0.0.1:{server.port}"
            commands = {
                "python -c pass": [python, "-c", "pass"],
                "tlscompat --help": [python, "-c", ENTRY, "--help"],
                "tlscompat scan (full, loopback)": [python, "-c", ENTRY, "scan", "--no-db", target],
            }
            if Path(args.sslyze).exists():
                commands["sslyze (same server)"] = [args.sslyze, target]
            for argv in commands.values():  # warm the page cache and .pyc files
                timed(argv, env)
            times: dict[str, list[float]] = {name: [] for name in commands}
            cpu: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(args.runs):
                for name, argv in commands.items():
                    wall, used = timed(argv, env)
                    times[name].append(wall)
                    cpu[name].append(used)
    print(f"tree {args.tree}; medians of {args.runs} runs: wall (min-max), CPU user+system")
    for name, values in times.items():
        print(
            f"  {name:34} {statistics.median(values):6.3f} s  ({min(values):.3f}-{max(values):.3f})"
            f"  CPU {statistics.median(cpu[name]):6.3f} s"
        )
    scan, sslyze = "tlscompat scan (full, loopback)", "sslyze (same server)"
    if sslyze in times:
        ratio = statistics.median(times[scan]) / statistics.median(times[sslyze])
        ratio_cpu = statistics.median(cpu[scan]) / statistics.median(cpu[sslyze])
        print(f"  tlscompat scan / sslyze            {ratio:6.2f} wall, {ratio_cpu:.2f} CPU (budget 0.5)")


if __name__ == "__main__":
    main()
