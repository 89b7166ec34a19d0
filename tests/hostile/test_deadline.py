# Issue 12, section 1: the endpoint deadline keeps what was found. In-process servers
# (hostile_kit) under trio's autojump_clock: the scan ends exactly at its deadline, the
# outcome is ok with the partial flag, and every fact a finished probe established is in
# the result. The truth about what the server supports is its configuration (the kit's
# suite list), not the scanner's code.
from __future__ import annotations

import trio

from handshakes import constants as c
from scanner.api import scan_endpoint
from scanner.lab.hostile import TLS12_SUITES, Endpoint, tls12_server
from scanner.options import Deadlines, ScanOptions, Target

TARGET = Target(host="hostile.test", ip="127.0.0.1", port=443)
PROBES = frozenset({"protocols", "suites", "preference", "certificates", "behaviours"})


async def test_slow_server_partial_result_at_the_deadline(nursery, autojump_clock, memory_bound) -> None:
    """The issue's case: 0.4 s per answer, --endpoint-timeout 8."""
    endpoint = Endpoint(nursery, tls12_server(delay=0.4))
    options = ScanOptions(deadlines=Deadlines(endpoint=8), probes=PROBES)
    with memory_bound(40):
        t0 = trio.current_time()
        result = await scan_endpoint(TARGET, options, open_stream=endpoint)
        elapsed = trio.current_time() - t0
    assert elapsed == 8
    assert result.outcome == "ok" and result.partial
    assert "endpoint deadline of 8s reached" in result.detail
    tls12 = next(p for p in result.protocols if p.version == c.TLS12)
    assert tls12.supported and tls12.incomplete == "enumeration incomplete: endpoint deadline of 8s reached"
    found = [s.code for s in result.cipher_suites if s.version == c.TLS12]
    # Every suite listed is one the server has, and the 8 s bought more than a few.
    assert set(found) <= set(TLS12_SUITES) and len(found) >= 10
    assert len(found) == len(set(found))
    # The other versions were answered (protocol_version) and are not marked incomplete.
    tls11 = next(p for p in result.protocols if p.version == c.TLS11)
    assert not tls11.supported and tls11.outcome == "alert" and tls11.incomplete is None
    ids = {f.id for f in result.findings}
    assert "scan.partial" in ids and "port.timeout" not in ids
    assert result.certificates  # the chain read by a finished probe is kept


async def test_server_choosing_unoffered_suites_keeps_what_it_found(nursery, autojump_clock) -> None:
    """A server that always picks ECDHE-RSA-AES128-GCM, offered or not: the version is
    asked one suite per connection, and the default deadline of 120 s ends it."""
    endpoint = Endpoint(nursery, tls12_server(delay=0.4, pick=lambda offered: 0xC02F))
    options = ScanOptions(probes=PROBES)
    t0 = trio.current_time()
    result = await scan_endpoint(TARGET, options, open_stream=endpoint)
    assert trio.current_time() - t0 == 120
    assert result.outcome == "ok" and result.partial
    tls12 = next(p for p in result.protocols if p.version == c.TLS12)
    assert tls12.supported and tls12.incomplete
    assert [s.code for s in result.cipher_suites] == [0xC02F]
    assert any("which was not offered" in a for a in result.anomalies)


async def test_complete_scan_is_not_partial(nursery, autojump_clock) -> None:
    endpoint = Endpoint(nursery, tls12_server(delay=0.01, suites=TLS12_SUITES[:4]))
    result = await scan_endpoint(TARGET, ScanOptions(probes=PROBES), open_stream=endpoint)
    assert result.outcome == "ok" and not result.partial and result.detail == ""
    assert all(p.incomplete is None for p in result.protocols)
    assert [s.code for s in result.cipher_suites] == list(TLS12_SUITES[:4])


async def test_deadline_before_any_answer_is_a_timeout(nursery, autojump_clock) -> None:
    endpoint = Endpoint(nursery, tls12_server(delay=30))
    options = ScanOptions(deadlines=Deadlines(endpoint=3, read=10), probes=PROBES)
    t0 = trio.current_time()
    result = await scan_endpoint(TARGET, options, open_stream=endpoint)
    assert trio.current_time() - t0 == 3
    assert result.outcome == "timeout" and result.partial
    assert "port.timeout" in {f.id for f in result.findings}


def test_partial_result_claims_no_absence() -> None:
    """Findings that conclude from what a server does NOT accept hold back when the
    deadline left the question unasked."""
    from scanner.diagnose import diagnose
    from scanner.results import EndpointResult, ProtocolResult, SuiteResult

    why = "enumeration incomplete: endpoint deadline of 8s reached"
    partial = EndpointResult(
        host="h.test", port=443, ip="127.0.0.1", sni="h.test", outcome="ok", partial=True,
        detail="endpoint deadline of 8s reached, results are partial",
        protocols=(
            ProtocolResult(version=c.TLS13, supported=False, outcome="not_probed", incomplete=why),
            ProtocolResult(version=c.TLS12, supported=True, outcome="accepted", incomplete=why),
        ),
        cipher_suites=(SuiteResult(version=c.TLS12, code=0x002F),),
    )
    ids = {f.id for f in diagnose(partial)}
    assert "scan.partial" in ids and "tls.no_forward_secrecy" not in ids
    complete = EndpointResult(
        host="h.test", port=443, ip="127.0.0.1", sni="h.test", outcome="ok",
        protocols=(
            ProtocolResult(version=c.TLS13, supported=False, outcome="alert"),
            ProtocolResult(version=c.TLS12, supported=True, outcome="accepted"),
        ),
        cipher_suites=(SuiteResult(version=c.TLS12, code=0x002F),),
    )
    ids = {f.id for f in diagnose(complete)}
    assert "tls.no_forward_secrecy" in ids and "scan.partial" not in ids
