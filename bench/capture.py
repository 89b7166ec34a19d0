"""Capture benchmark (issue 15): explain a 100 MB pcapng of 20,000+ TLS connections.

    .venv/bin/python bench/capture.py [--connections 20000] [--keep FILE]

Records real handshakes first (stdlib ssl, that is OpenSSL, over memory BIOs: TLS 1.3 and
TLS 1.2 sessions with a request and a response, a version mismatch, a rejected client
certificate), then writes them again and again as separate TCP connections (other client
ports and addresses) into one pcapng with scanner.capture.writer until the file holds the
connections asked for. Then runs `tlscompat explain FILE --format summary` in a child
process and reports its wall and CPU time and peak memory (ru_maxrss of the child).
Budgets: at most 10 s and 150 MB for 100 MB / 20,000 handshakes.
"""

from __future__ import annotations

import argparse
import resource
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.capture.writer import Conversation, PcapngWriter, ssl_conversation  # noqa: E402
from scanner.lab.certs import IssuedCert, Pki  # noqa: E402


def _contexts(pki: Pki, leaf: IssuedCert, version: ssl.TLSVersion) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(leaf.fullchain_path, leaf.key_path)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(pki.ca_path)
    client.maximum_version = version
    return client, server


def recordings() -> list[list[tuple[bool, bytes]]]:
    """Real conversations: [(from_client, bytes), ...] each."""
    with tempfile.TemporaryDirectory() as tmp:
        pki = Pki(Path(tmp))
        leaf = pki.issue("bench-server")
        out = []
        # The server's answer: a 2.4 kB page in one application-data record (its bytes do
        # not matter to the reader, only the record framing).
        body = 2400 + 22
        page = bytes((23, 3, 3)) + body.to_bytes(2, "big") + bytes(body)
        request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            client, server = _contexts(pki, leaf, version)
            flights = ssl_conversation(client, server, server_hostname="localhost", request=request, close=False)
            out.append([*flights, (False, page)])
        client, server = _contexts(pki, leaf, ssl.TLSVersion.TLSv1_2)
        server.minimum_version = ssl.TLSVersion.TLSv1_3
        out.append(ssl_conversation(client, server, server_hostname="localhost"))  # protocol_version
        # A client certificate from a root the server does not trust: refused (unknown_ca).
        client, server = _contexts(pki, leaf, ssl.TLSVersion.TLSv1_2)
        rogue = pki.issue_client("bench-rogue", issuer="untrusted", password=None)
        server.verify_mode = ssl.CERT_REQUIRED
        server.load_verify_locations(pki.ca_path)
        client.load_cert_chain(rogue.cert_path, rogue.key_path)
        out.append(ssl_conversation(client, server, server_hostname="localhost"))
        return out


def write_capture(path: Path, connections: int) -> int:
    convs = recordings()
    with path.open("wb") as f:
        out = PcapngWriter(f)
        ts = time.time()  # the lab certificates are valid now
        for i in range(connections):
            client = (f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255 or 1}", 1024 + i % 60000)
            conv = Conversation(out, client, ("192.0.2.10", 443), ts=ts, step=0.00001)
            conv.open()
            for from_client, data in convs[i % len(convs)]:
                conv.send(from_client, data)
            conv.close(True)
            ts = conv.ts
        return out.frames


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--connections", type=int, default=20000)
    p.add_argument("--keep", help="write the capture here and keep it")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep or Path(tmp) / "bench.pcapng")
        t0 = time.perf_counter()
        frames = write_capture(path, args.connections)
        size = path.stat().st_size
        print(f"wrote {path}: {size / 1e6:.1f} MB, {frames} frames, {args.connections} connections in {time.perf_counter() - t0:.1f} s")
        cli = [sys.executable, "-m", "scanner.cli", "explain", "--format", "summary", str(path)]
        t0 = time.perf_counter()
        done = subprocess.run(cli, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak = usage.ru_maxrss / 1024
        cpu = usage.ru_utime + usage.ru_stime
        lines = done.stdout.splitlines()
        listed = sum(1 for ln in lines if ln.startswith("#"))
        with_findings = sum(1 for ln in lines if "findings=" in ln)
        print(f"explain --format summary: exit {done.returncode}, {listed} connections listed, {with_findings} with findings")
        print(f"wall {wall:.2f} s, CPU {cpu:.2f} s (budget 10 s), peak RSS {peak:.0f} MB (budget 150 MB)")
        if done.returncode != 0 or listed != args.connections:
            print(done.stderr[-2000:], file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
