# Issue 12, section 2 end to end: everything done for an endpoint, revocation lookups
# included, ends within its deadline (exactly, on autojump_clock virtual time); identical
# chains are stored once, distinct ones capped with a count; memory stays bounded.
from __future__ import annotations

import trio

from scanner.api import scan_endpoint
from scanner.lab.hostile import CertFactory, Conn, Endpoint, HttpServer, tls12_server
from scanner.options import Deadlines, ScanOptions, Target
from scanner.probes.certificates import MAX_CHAINS
from scanner.report.jsonout import jsonl_line

TARGET = Target(host="hostile.test", ip="127.0.0.1", port=443)
PROBES = frozenset({"protocols", "suites", "certificates", "behaviours", "revocation"})


async def test_new_certificate_per_connection_with_black_hole_crl(nursery, autojump_clock, memory_bound) -> None:
    """The issue's case: 2 min 27 s with --endpoint-timeout 10; now exactly 10 s."""
    certs = CertFactory()
    with HttpServer("blackhole") as crl:

        def chain(conn: Conn) -> tuple[bytes, ...]:
            return (certs.issue(crl_url=crl.url),)

        # Each suite in its own (kx, auth) pair would read a flight; one-by-one makes it
        # one connection (and one new certificate) per suite.
        endpoint = Endpoint(nursery, tls12_server(chain=chain, pick=lambda offered: offered[-1]))
        options = ScanOptions(deadlines=Deadlines(endpoint=10), probes=PROBES)
        with memory_bound(60):
            t0 = trio.current_time()
            result = await scan_endpoint(TARGET, options, open_stream=endpoint)
            elapsed = trio.current_time() - t0
    assert elapsed == 10
    assert len(result.certificates) == MAX_CHAINS and result.certificates_omitted > 0
    for ch in result.certificates:
        assert ch.revocation is not None
        assert ch.revocation.status in ("not_checked", "unreachable")


async def test_huge_certificate_on_every_connection_is_stored_once(nursery, autojump_clock, memory_bound) -> None:
    big = CertFactory().issue(padding=60_000)
    assert len(big) > 60_000
    endpoint = Endpoint(nursery, tls12_server(chain=lambda conn: (big, big)))
    options = ScanOptions(probes=PROBES - {"revocation"})
    with memory_bound(40) as seen:
        result = await scan_endpoint(TARGET, options, open_stream=endpoint)
    assert result.outcome == "ok" and not result.partial
    assert len(result.certificates) == 1 and result.certificates_omitted == 0
    line = jsonl_line(result)
    assert len(line) < 400_000  # one chain of two 60 KB certificates, base64
    assert endpoint.connections > 10 and seen["peak_mb"] < 40
