"""STARTTLS benchmark (issue 13): full scans of a real postfix and slapd through the dialogue,
beside the same daemon's implicit-TLS port.

    .venv/bin/python bench/starttls.py [runs]

Needs root and the Debian packages of .ci/run (postfix, slapd). Starts each daemon once
(tests/interop/daemons.py), runs `runs` full scans (default 5) of each port one after the
other, and prints connections and wall time (median, min, max) per port.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.api import scan  # noqa: E402
from scanner.lab.certs import Pki  # noqa: E402
from scanner.options import ScanOptions, Target  # noqa: E402
from tests.interop import daemons as dm  # noqa: E402


def _measure(label: str, target: Target, options: ScanOptions, runs: int) -> None:
    times, conns = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        [result] = scan(target, options)
        times.append(time.perf_counter() - t0)
        conns.append(result.stats.connections)
        assert result.outcome == "ok", result.detail
    print(
        f"{label:<28} connections {min(conns)}..{max(conns)}  wall median {statistics.median(times):.3f} s "
        f"(min {min(times):.3f}, max {max(times):.3f})"
    )


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        pki = Pki(Path(tmp))
        cert = pki.issue("bench-starttls")
        options = ScanOptions(ca_file=str(pki.ca_path), use_system_store=False)
        with dm.running(dm.start_postfix(cert)) as pf:
            _measure("postfix SMTP STARTTLS", Target(host="localhost", ip="127.0.0.1", port=pf.ports["smtp"], starttls="smtp"), options, runs)
            _measure("postfix SMTPS (implicit)", Target(host="localhost", ip="127.0.0.1", port=pf.ports["smtps"], starttls="none"), options, runs)
        with dm.running(dm.start_slapd(cert)) as ld:
            _measure("slapd LDAP StartTLS", Target(host="localhost", ip="127.0.0.1", port=ld.ports["ldap"], starttls="ldap"), options, runs)
            _measure("slapd LDAPS (implicit)", Target(host="localhost", ip="127.0.0.1", port=ld.ports["ldaps"], starttls="none"), options, runs)


if __name__ == "__main__":
    main()
