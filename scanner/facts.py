# The facts about one endpoint: every probe the options ask for, under the endpoint
# deadline, then the certificates decoded, validated and checked for revocation. No
# interpretation here (scanner/diagnose turns the result into findings; scanner/api
# composes the two).
#
# Order of work: the versions probe first (its first contact, alone, tells a dead or
# non-TLS port apart in one connection; then every version concurrently), then the probes
# listed in AFTER_VERSIONS concurrently, then client authentication (full handshakes,
# only where a CertificateRequest came). Every probe is one module of scanner/probes/
# with one entry point; adding one adds a module and a line in AFTER_VERSIONS.
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import trio

from handshakes import registry as reg
from scanner.engine import Connector, OpenStream, open_tcp
from scanner.options import (
    ACCEPTED,
    ALERT,
    CLOSED,
    DNS_ERROR,
    NOT_TLS,
    PROTOCOL_ERROR,
    REFUSED,
    RESET,
    TIMEOUT,
    UNREACHABLE,
    ScanOptions,
    Target,
)
from scanner.probes import (
    behaviours,
    certificates,
    client_auth,
    groups,
    preference,
    versions,
    vulns,
)
from scanner.probes.context import Found, ProbeContext
from scanner.probes.hello import HelloFactory, describe_offer
from scanner.results import ChainResult, EndpointResult, ProbeLog, Stats

# The probes that run once the versions are known, concurrently: (name in --probes, entry
# point). Each entry point is ``async def run(ctx, supported) -> None``.
AFTER_VERSIONS: tuple[tuple[str, Callable[[ProbeContext, list[int]], Awaitable[None]]], ...] = (
    ("preference", preference.run),
    ("groups", groups.run),
    ("certificates", certificates.run),
    ("behaviours", behaviours.run),
    ("vulns", vulns.run),
)


async def gather(
    target: Target,
    options: ScanOptions,
    *,
    global_limiter: trio.CapacityLimiter | None = None,
    open_stream: OpenStream = open_tcp,
    rate: Callable[[], Awaitable[None]] | None = None,
) -> EndpointResult:
    """The facts about one endpoint address (``target.ip`` set): every probe the options
    ask for, under the endpoint deadline, then the certificates decoded and validated.
    The result has no findings yet (scanner.diagnose adds them). Never raises for what
    the network or the server does."""
    assert target.ip, "gather() scans one address; scanner.api resolves names"
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    conn = Connector(
        ip=target.ip,
        port=target.port,
        deadlines=options.deadlines,
        global_limiter=global_limiter or trio.CapacityLimiter(64),
        endpoint_limiter=trio.CapacityLimiter(options.per_endpoint),
        retries=options.retries,
        open_stream=open_stream,
        rate=rate,
    )
    ctx = ProbeContext(
        conn=conn, hello=HelloFactory(server_name=target.server_name), target=target,
        options=options, found=Found(),
    )
    with trio.move_on_after(options.deadlines.endpoint) as scope:
        await _run(ctx)
    result = _assemble(ctx, started, time.perf_counter() - t0)
    if scope.cancelled_caught:
        result = replace(
            result,
            detail=(result.detail + "; " if result.detail else "")
            + f"endpoint deadline of {options.deadlines.endpoint:g}s reached, results are partial",
        )
    if result.certificates:
        result = replace(result, certificates=await _examine_chains(result, options))
    return result


async def _run(ctx: ProbeContext) -> None:
    if not await versions.run(ctx):
        return
    probes = ctx.options.probes
    supported = [v for v in ctx.options.versions if ctx.found.versions[v].supported]
    async with trio.open_nursery() as nursery:
        for name, run in AFTER_VERSIONS:
            if name in probes:
                nursery.start_soon(run, ctx, supported)
    if "client_auth" in probes:
        await client_auth.run(ctx)


# -- assembling the result -----------------------------------------------------------------


def _assemble(ctx: ProbeContext, started: datetime, duration: float) -> EndpointResult:
    target, options, found, log = ctx.target, ctx.options, ctx.found, ctx.conn.log
    stats = Stats(
        connections=sum(o.connections for _, _, o in log),
        bytes_sent=sum(o.bytes_sent for _, _, o in log),
        bytes_received=sum(o.bytes_received for _, _, o in log),
        duration_s=round(duration, 4),
    )
    probes = tuple(
        ProbeLog(
            name=name,
            offered=describe_offer(probe.spec) if probe is not None else "full handshake (tlslite-ng)",
            outcome=o.outcome,
            detail=o.describe(),
            bytes_sent=o.bytes_sent,
            bytes_received=o.bytes_received,
            duration_s=round(o.duration_s, 5),
        )
        for name, probe, o in log
    ) if options.verbose else ()
    base = dict(
        host=target.host, port=target.port, ip=target.ip, sni=target.server_name, tags=target.tags,
        stats=stats, probes=probes, started=started.isoformat(timespec="seconds"),
    )
    protocols = tuple(versions.protocol_result(found.versions[v]) for v in sorted(found.versions, reverse=True))
    if not any(p.supported for p in protocols):
        outcome, detail = _endpoint_failure(found)
        if outcome != "ok":
            return EndpointResult(outcome=outcome, detail=detail, protocols=protocols, **base)  # type: ignore[arg-type]
    suites, dh_bits = versions.suite_results(found)
    return EndpointResult(
        outcome="ok",
        protocols=protocols,
        cipher_suites=suites,
        groups=groups.group_results(found),
        dh_bits=dh_bits,
        certificates=certificates.chains(found, target),
        behaviours=behaviours.behaviours(found, target),
        anomalies=tuple(
            f"{reg.version_name(v)}: {text}"
            for v, scan in sorted(found.versions.items(), reverse=True)
            for text in scan.violations
        ),
        client_auth=(
            found.client_auth if found.client_auth is not None else client_auth.requested_modes(found)
        ) if "client_auth" in options.probes else (),
        client_certificates=found.client_certificates,
        vulns=found.vulns,
        **base,  # type: ignore[arg-type]
    )


def _endpoint_failure(found: Found) -> tuple[str, str]:
    """Why no version worked: "ok" when TLS was spoken (an alert is TLS: the server just
    accepts nothing we offered), else the most telling outcome among the probes."""
    outcomes = [s.first for s in found.versions.values() if s.first is not None]
    if not outcomes:
        return TIMEOUT, "the endpoint deadline was reached before any probe finished"
    kinds = {o.outcome for o in outcomes}
    if kinds & {ALERT, ACCEPTED}:
        return "ok", ""
    for kind in (NOT_TLS, REFUSED, UNREACHABLE, DNS_ERROR):
        for o in outcomes:
            if o.outcome == kind:
                return kind, o.describe()
    if kinds == {TIMEOUT}:
        phase = outcomes[0].phase
        what = "no TCP answer" if phase == "connect" else "TCP connects, but no TLS answer"
        return TIMEOUT, f"{what} ({outcomes[0].detail})"
    # TCP is accepted but every ClientHello is reset, closed or answered with bytes that
    # are not valid TLS.
    for kind in (PROTOCOL_ERROR, RESET, CLOSED, TIMEOUT):
        for o in outcomes:
            if o.outcome == kind:
                return kind, o.describe()
    return "error", "no outcome"


async def _examine_chains(result: EndpointResult, options: ScanOptions) -> tuple[ChainResult, ...]:
    from scanner.x509 import CertificateDecodeError, decode_certificate, validate_chain

    out = []
    hostname = result.sni or result.host
    for chain in result.certificates:
        infos: list[Any] = []
        for der in chain.der:
            try:
                infos.append(decode_certificate(der))
            except CertificateDecodeError:
                infos.append(None)
        validation = validate_chain(
            chain.der, hostname=hostname, now=options.now, ca_file=options.ca_file,
            use_system_store=options.use_system_store,
        )
        revocation = None
        if "revocation" in options.probes and chain.sni == result.sni:
            revocation = await _revocation(chain, options)
        out.append(replace(chain, certificates=tuple(infos), validation=validation, revocation=revocation))
    return tuple(out)


async def _revocation(chain: ChainResult, options: ScanOptions) -> Any:
    from scanner.revocation import check_revocation, check_stapled

    issuer = chain.der[1] if len(chain.der) > 1 else None
    if chain.stapled_ocsp:
        stapled = check_stapled(chain.stapled_ocsp, chain.der[0], issuer)
        if stapled.status in ("good", "revoked"):
            return stapled
    with trio.move_on_after(min(options.deadlines.read * 2, 10)):
        return await check_revocation(chain.der[0], issuer)
    from scanner.revocation import RevocationResult

    return RevocationResult(status="unreachable", method="none", detail="revocation check deadline reached")


