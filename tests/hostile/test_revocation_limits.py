# Issue 12, section 2: revocation lookups are bounded. A body is read streamed and capped
# ("CRL too large" with the size seen), each URL is fetched once per run, a URL that never
# answers costs its timeout once, and the lookups of one endpoint are bounded in number.
from __future__ import annotations

import trio

from scanner.lab.hostile import CertFactory, HttpServer
from scanner.revocation import (
    FETCH_TIMEOUT,
    MAX_CRL_BODY,
    MAX_LOOKUPS_PER_ENDPOINT,
    LookupBudget,
    check_revocation,
)


async def test_endless_crl_body_is_too_large_and_bounded(memory_bound) -> None:
    with HttpServer("endless", cap=256 * 2**20) as server:
        leaf = CertFactory().issue(crl_url=server.url)
        with memory_bound(3 * MAX_CRL_BODY / 2**20):
            result = await check_revocation(leaf, None)
        sent = server.sent
    assert result.status == "unknown" and result.method == "crl"
    assert "CRL too large" in result.detail and f"more than {MAX_CRL_BODY} bytes" in result.detail
    # Reading stopped near the cap, not at the end of the stream.
    assert sent < 64 * 2**20


async def test_announced_length_over_the_cap_is_not_read() -> None:
    with HttpServer("huge", cap=1_500_000_000) as server:
        result = await check_revocation(CertFactory().issue(crl_url=server.url), None)
    assert result.status == "unknown"
    assert "CRL too large" in result.detail and "Content-Length 1500000000 bytes" in result.detail


async def test_one_fetch_per_url_per_run() -> None:
    with HttpServer("huge", cap=10 * MAX_CRL_BODY) as server:
        certs = CertFactory()
        leaves = [certs.issue(crl_url=server.url) for _ in range(5)]
        async with trio.open_nursery() as nursery:
            for leaf in leaves:
                nursery.start_soon(check_revocation, leaf, None)
        assert server.requests == 1


async def test_black_hole_url_costs_its_timeout_once(autojump_clock) -> None:
    with HttpServer("blackhole") as server:
        certs = CertFactory()
        t0 = trio.current_time()
        first = await check_revocation(certs.issue(crl_url=server.url), None)
        assert trio.current_time() - t0 == FETCH_TIMEOUT
        second = await check_revocation(certs.issue(crl_url=server.url), None)
        assert trio.current_time() - t0 == FETCH_TIMEOUT  # cached: no second wait
    assert first.status == second.status == "unreachable"
    assert "timeout" in first.detail


async def test_lookups_per_endpoint_are_bounded() -> None:
    budget = LookupBudget()
    with HttpServer("huge", cap=10 * MAX_CRL_BODY) as server:
        certs = CertFactory()
        results = [
            await check_revocation(certs.issue(crl_url=f"{server.url}?{i}"), None, budget=budget)
            for i in range(MAX_LOOKUPS_PER_ENDPOINT + 3)
        ]
        assert server.requests == MAX_LOOKUPS_PER_ENDPOINT
    assert all("too large" in r.detail for r in results[:MAX_LOOKUPS_PER_ENDPOINT])
    assert all("limit of 8 lookups per endpoint" in r.detail for r in results[MAX_LOOKUPS_PER_ENDPOINT:])
