# The public scan API: resolve a target, gather the facts about each address
# (scanner.facts), then turn them into findings (scanner.diagnose). The one module that
# composes the two floors, so neither calls up into the other (docs/design.md, "Layers").
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import trio

from scanner import engine as en
from scanner.diagnose import diagnose
from scanner.engine import OpenStream, open_tcp
from scanner.facts import gather
from scanner.options import DNS_ERROR, ScanOptions, Target
from scanner.results import EndpointResult
from scanner.targets import parse_target


async def scan_target(
    target: Target,
    options: ScanOptions | None = None,
    *,
    global_limiter: trio.CapacityLimiter | None = None,
    open_stream: OpenStream = open_tcp,
    rate: Callable[[], Awaitable[None]] | None = None,
) -> list[EndpointResult]:
    """Scan a target: its first address, or all of them with ``options.all_addresses``.

    Returns one diagnosed EndpointResult per address scanned (a ``dns_error`` result when
    the name gives none). Never raises for what DNS, the network or the server does."""
    options = options or ScanOptions()
    if target.ip:
        ips = [target.ip]
    else:
        try:
            ips = await en.resolve(target.host, target.port)
        except OSError as exc:
            return [unresolved(target, f"cannot resolve {target.host}: {exc}", options)]
        if not ips:
            return [unresolved(target, f"{target.host} has no address", options)]
    if not options.all_addresses:
        ips = ips[:1]
    results = []
    for ip in ips:
        results.append(
            await scan_endpoint(
                replace(target, ip=ip), options, global_limiter=global_limiter,
                open_stream=open_stream, rate=rate,
            )
        )
    return results


async def scan_endpoint(
    target: Target,
    options: ScanOptions | None = None,
    *,
    global_limiter: trio.CapacityLimiter | None = None,
    open_stream: OpenStream = open_tcp,
    rate: Callable[[], Awaitable[None]] | None = None,
) -> EndpointResult:
    """Scan one endpoint address (the first address of ``target.host`` when ``target.ip``
    is not set) and diagnose it. Never raises for what the network or the server does."""
    options = options or ScanOptions()
    if not target.ip:
        results = await scan_target(target, options, global_limiter=global_limiter, open_stream=open_stream, rate=rate)
        return results[0]
    result = await gather(target, options, global_limiter=global_limiter, open_stream=open_stream, rate=rate)
    return replace(result, findings=diagnose(result, options))


def unresolved(target: Target, detail: str, options: ScanOptions) -> EndpointResult:
    """The diagnosed result for a target whose name gave no address."""
    result = EndpointResult(
        host=target.host, port=target.port, ip=None, sni=target.server_name,
        outcome=DNS_ERROR, detail=detail, tags=target.tags,
        started=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return replace(result, findings=diagnose(result, options))


def scan(
    targets: str | Target | Sequence[str | Target],
    options: ScanOptions | None = None,
) -> list[EndpointResult]:
    """Synchronous API: scan "host[:port]" strings or Targets; one result per address.

    Raises ValueError (TargetError for a target, TrustStoreError for ``options.ca_file``)
    before any packet when an input cannot be scanned as given."""
    items = [targets] if isinstance(targets, str | Target) else list(targets)
    parsed = [t if isinstance(t, Target) else parse_target(t) for t in items]
    if options is not None and options.ca_file:
        from scanner.x509 import load_trust_store

        load_trust_store(options.ca_file, False)  # a file with no certificate fails here

    async def main() -> list[EndpointResult]:
        limiter = trio.CapacityLimiter(64)
        out: list[list[EndpointResult]] = [[] for _ in parsed]

        async def one(i: int, t: Target) -> None:
            out[i] = await scan_target(t, options, global_limiter=limiter)

        async with trio.open_nursery() as nursery:
            for i, t in enumerate(parsed):
                nursery.start_soon(one, i, t)
        return [r for rs in out for r in rs]

    return trio.run(main)
