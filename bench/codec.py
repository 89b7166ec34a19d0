"""Codec benchmark (issue 2): build a ClientHello, parse a TLS 1.2 flight, decrypt a TLS 1.3 one.

    .venv/bin/python bench/codec.py

Captures real server flights from a local `openssl s_server` (a 3-certificate chain made by
the lab PKI), then times the sans-IO code alone on those bytes: no sockets in the timed
loops. Budgets: build <= 50 us (150 suites, usual extensions, key shares pre-generated),
TLS 1.2 flight (ServerHello, Certificate x3, ServerKeyExchange, ServerHelloDone) <= 100 us,
TLS 1.3 flight decrypt + parse <= 300 us.
"""

from __future__ import annotations

import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handshakes import registry as reg  # noqa: E402
from handshakes.client_hello import ClientHelloSpec, build_client_hello  # noqa: E402
from handshakes.keyshare import KeySharePool  # noqa: E402
from handshakes.server_flight import HandshakeProbe  # noqa: E402
from scanner.lab.certs import Pki  # noqa: E402
from scanner.lab.servers import OpenSSLServer  # noqa: E402
from scanner.probes.hello import SIGALGS_ALL  # noqa: E402


def capture(port: int, spec: ClientHelloSpec, pool: KeySharePool) -> bytes:
    """Send the hello, return every byte the server sent until its flight is complete."""
    probe = HandshakeProbe(spec, key_share_for=pool.get)
    data = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(probe.initiate())
        while not probe.terminal:
            chunk = sock.recv(65536)
            data += chunk
            probe.receive_data(chunk)
    return bytes(data)


def timeit(fn, n: int) -> float:
    """Median of 7 runs of n calls, in microseconds per call."""
    runs = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(runs)


def parse(spec: ClientHelloSpec, pool: KeySharePool, flight: bytes) -> None:
    probe = HandshakeProbe(spec, key_share_for=pool.get)
    probe.initiate()
    probe.receive_data(flight)
    assert probe.terminal, probe.state


def main() -> None:
    pool = KeySharePool()
    for g in (0x1D, 0x17):
        pool.get(g)
    suites = reg.suites_for_version(0x0303)[:150]
    spec150 = ClientHelloSpec(
        cipher_suites=suites, server_name="localhost", supported_versions=(0x0304, 0x0303),
        supported_groups=(0x1D, 0x17, 0x18, 0x19), ec_point_formats=(0,),
        signature_algorithms=SIGALGS_ALL, key_shares=(pool.get(0x1D), pool.get(0x17)),
        psk_key_exchange_modes=(1,), alpn=("h2", "http/1.1"), renegotiation_info=b"",
        extended_master_secret=True, status_request=True, session_ticket=b"",
    )
    build_us = timeit(lambda: build_client_hello(spec150), 2000)

    with tempfile.TemporaryDirectory() as tmp:
        pki = Pki(Path(tmp))
        # A 3-certificate chain on the wire: leaf, intermediate, root.
        leaf = pki.issue("bench-leaf")
        chain = Path(tmp) / "chain3.pem"
        chain.write_bytes(Path(leaf.chain_path).read_bytes() + pki.root.cert_pem())
        with OpenSSLServer(cert=leaf.cert_path, key=leaf.key_path, cert_chain=chain) as server:
            spec12 = ClientHelloSpec(
                cipher_suites=(0xC02F, 0xC030), server_name="localhost", random=b"\x01" * 32,
                supported_groups=(0x1D, 0x17), ec_point_formats=(0,),
                signature_algorithms=SIGALGS_ALL, renegotiation_info=b"",
            )
            flight12 = capture(server.port, spec12, pool)
            spec13 = ClientHelloSpec(
                cipher_suites=(0x1301,), server_name="localhost", random=b"\x02" * 32,
                session_id=b"\x5a" * 32, supported_versions=(0x0304,), supported_groups=(0x1D,),
                signature_algorithms=SIGALGS_ALL, key_shares=(pool.get(0x1D),),
                psk_key_exchange_modes=(1,),
            )
            flight13 = capture(server.port, spec13, pool)

    probe = HandshakeProbe(spec12)
    probe.initiate()
    kinds = [type(e).__name__ for e in probe.receive_data(flight12)]
    parse12_us = timeit(lambda: parse(spec12, pool, flight12), 2000)
    parse13_us = timeit(lambda: parse(spec13, pool, flight13), 1000)

    print(f"ClientHello build, 150 suites + extensions: {build_us:7.1f} us  (budget 50)")
    print(f"TLS 1.2 flight parse ({len(flight12)} bytes: {', '.join(kinds)}): {parse12_us:7.1f} us  (budget 100)")
    print(f"TLS 1.3 flight decrypt + parse ({len(flight13)} bytes): {parse13_us:7.1f} us  (budget 300)")


if __name__ == "__main__":
    main()
