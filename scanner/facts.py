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
from handshakes.keyshare import KeySharePool
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
    STARTTLS_OUTCOMES,
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
    sni,
    starttls_checks,
    tolerance,
    versions,
    vulns,
)
from scanner.probes.context import Found, ProbeContext
from scanner.probes.hello import HelloFactory, describe_offer
from scanner.probes.suites import ENDS_VERSION, VersionScan
from scanner.results import ChainResult, EndpointResult, ProbeLog, Stats
from scanner.starttls import alpn_for, opener_for, per_endpoint, with_starttls

# The probes that run once the versions are known, concurrently: (the --probes names that
# turn it on, entry point). Each entry point is ``async def run(ctx, supported) -> None``.
AFTER_VERSIONS: tuple[tuple[tuple[str, ...], Callable[[ProbeContext, list[int]], Awaitable[None]]], ...] = (
    (("preference",), preference.run),
    (("groups",), groups.run),
    (("certificates",), certificates.run),
    (("behaviours",), behaviours.run),
    (("vulns",), vulns.run),
    (("behaviours",), starttls_checks.run),
    (("tolerance", "tolerance-full"), tolerance.run),
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
    # A pre-TLS dialogue (STARTTLS, scanner/starttls.py) wraps the connection factory, so
    # every connection of the scan speaks it first.
    opener = opener_for(target, options, open_stream)
    if opener is not None:
        conn.open_stream = opener
        conn.endpoint_limiter = trio.CapacityLimiter(per_endpoint(opener.protocol, options))
    hello = HelloFactory(server_name=target.server_name, pool=_key_shares())
    alpn = alpn_for(target, options)
    if alpn is not ...:
        hello.alpn = alpn
    ctx = ProbeContext(conn=conn, hello=hello, target=target, options=options, found=Found())
    # One deadline for everything done for this endpoint, revocation lookups included.
    deadline_at = trio.current_time() + options.deadlines.endpoint
    with trio.CancelScope(deadline=deadline_at) as scope:
        await _run(ctx)
    # The accumulator keeps every finished probe's facts; a deadline makes the result
    # partial (outcome ok when TLS was spoken), not a timeout.
    deadline = (
        f"endpoint deadline of {options.deadlines.endpoint:g}s reached" if scope.cancelled_caught else None
    )
    result = _assemble(ctx, started, time.perf_counter() - t0, deadline=deadline)
    if opener is not None:
        result = with_starttls(result, opener, conn.throttled)
    if result.certificates:
        chains, cut = await _examine_chains(result, options, deadline_at)
        result = replace(result, certificates=chains)
        if cut and not result.partial:
            # The deadline came during the revocation lookups: partial, as a deadline
            # during the probes makes it (docs/cli.md, "--endpoint-timeout").
            note = (
                f"endpoint deadline of {options.deadlines.endpoint:g}s reached before the revocation "
                "check finished, results are partial"
            )
            result = replace(result, partial=True, detail=f"{result.detail}; {note}" if result.detail else note)
    return result


_POOL: trio.lowlevel.RunVar[KeySharePool] = trio.lowlevel.RunVar("tlscompat_key_shares")


def _key_shares() -> KeySharePool:
    """The key-share pool of this trio run, shared by every endpoint it scans: a fleet
    generated the same few key pairs again for each endpoint, 0.3 ms of CPU each (issue
    16). Reuse is safe across endpoints for the reason it is within one (KeySharePool: a
    probe never completes a key exchange); a new run gets new keys."""
    try:
        return _POOL.get()
    except LookupError:
        pool = KeySharePool()
        _POOL.set(pool)
        return pool


async def _run(ctx: ProbeContext) -> None:
    if not await versions.run(ctx):
        return
    probes = ctx.options.probes
    supported = [v for v in ctx.options.versions if ctx.found.versions[v].supported]
    if not supported:
        # Every version refused the hello: before calling the server broken, try the
        # other side of SNI (scanner/probes/sni.py).
        await sni.other_side(ctx)
    async with trio.open_nursery() as nursery:
        for names, run in AFTER_VERSIONS:
            if any(name in probes for name in names):
                nursery.start_soon(run, ctx, supported)
    if "client_auth" in probes:
        await client_auth.run(ctx)


# -- assembling the result -----------------------------------------------------------------


def _assemble(ctx: ProbeContext, started: datetime, duration: float, *, deadline: str | None = None) -> EndpointResult:
    """The EndpointResult of what ``ctx.found`` holds. ``deadline``: the endpoint deadline
    ended the probes (its description); the result is then partial, every fact a finished
    probe established kept, and a timeout only when no probe got an answer."""
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
    if deadline and any(s.first is not None and s.first.outcome not in ENDS_VERSION for s in found.versions.values()):
        # The server answers, but the deadline came before every version was asked: the
        # versions never asked are listed as not probed, with the reason.
        for v in options.versions:
            found.versions.setdefault(v, VersionScan(version=v))
    protocols = tuple(versions.protocol_result(found.versions[v], deadline) for v in sorted(found.versions, reverse=True))
    partial_detail = f"{deadline}, results are partial" if deadline else ""
    if not any(p.supported for p in protocols):
        outcome, detail = _endpoint_failure(found, log, getattr(ctx.conn.open_stream, "failure", None))
        if outcome != "ok":
            if deadline:
                detail = f"{detail}; {partial_detail}" if detail else partial_detail
            return EndpointResult(
                outcome=outcome, detail=detail, protocols=protocols, partial=bool(deadline), **base  # type: ignore[arg-type]
            )
    suites, dh_bits = versions.suite_results(found)
    chains, omitted = certificates.chains(found, target)
    return EndpointResult(
        outcome="ok",
        detail=partial_detail,
        partial=bool(deadline),
        certificates_omitted=omitted,
        protocols=protocols,
        cipher_suites=suites,
        suites_enumerated="suites" in options.probes,
        groups=groups.group_results(found),
        dh_bits=dh_bits,
        certificates=chains,
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
        # What the adaptive step of the version scans, the tolerance probes and the record
        # splitting check found.
        intolerances=tuple(
            i for _, scan in sorted(found.versions.items(), reverse=True) for i in scan.intolerances
        ) + found.tolerance_intolerances + found.split_intolerances,
        tolerance=found.tolerance,
        **base,  # type: ignore[arg-type]
    )


def _endpoint_failure(found: Found, log: list[Any] | None = None, failure: Any = None) -> tuple[str, str]:
    """Why no version worked: "ok" when TLS was spoken (an alert is TLS: the server just
    accepts nothing we offered), else the most telling outcome among the probes. ``log``
    (the Connector's) and ``failure`` (the dialogue's first failure, StartTLSOpener.failure):
    a probe the endpoint deadline cut during a pause (a throttling server's back-off)
    never reached its version's scan, but its dialogue said why."""
    outcomes = [s.first for s in found.versions.values() if s.first is not None]
    if not outcomes:
        outcomes = [o for _, _, o in log or () if o.outcome in STARTTLS_OUTCOMES]
    if not outcomes and failure is not None:
        return failure.kind, failure.detail
    if not outcomes:
        return TIMEOUT, "the endpoint deadline was reached before any probe finished"
    kinds = {o.outcome for o in outcomes}
    if kinds & {ALERT, ACCEPTED}:
        return "ok", ""
    for kind in (NOT_TLS, *STARTTLS_OUTCOMES, REFUSED, UNREACHABLE, DNS_ERROR):
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


async def _examine_chains(
    result: EndpointResult, options: ScanOptions, deadline_at: float
) -> tuple[tuple[ChainResult, ...], bool]:
    """Decode and validate every chain kept (local work, bounded by the chain cap), and
    check revocation within the endpoint deadline (``deadline_at``, trio time): identical
    leaves are checked once, the lookups go through the run's cache and the endpoint's
    lookup budget, concurrently. (the chains, whether the deadline cut a check short)."""
    from scanner.x509 import (
        CertificateDecodeError,
        decode_certificate,
        issuer_certificate,
        validate_chain,
    )

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
        out.append(replace(chain, certificates=tuple(infos), validation=validation))
    if "revocation" not in options.probes:
        return tuple(out), False
    # Only now: the revocation module (OCSP, CRLs, httpx) is not loaded by a scan without it.
    from scanner.revocation import LookupBudget, RevocationResult

    # One check per distinct (leaf, issuer), all inside the endpoint deadline. The issuer
    # is the one of the path: sent by the server, or else the root of --ca-file or of the
    # system store that signed the leaf (without it OCSP cannot be asked).
    wanted: dict[tuple[bytes, bytes | None], ChainResult] = {}
    keys: list[tuple[bytes, bytes | None] | None] = []
    for ch in out:
        key = None
        if ch.sni == result.sni:
            issuer = issuer_certificate(ch.der, ca_file=options.ca_file, use_system_store=options.use_system_store)
            key = (ch.der[0], issuer)
            wanted.setdefault(key, ch)
        keys.append(key)
    verdicts: dict[tuple[bytes, bytes | None], Any] = {}
    tried: dict[tuple[bytes, bytes | None], list[str]] = {key: [] for key in wanted}
    budget = LookupBudget()

    async def one(key: tuple[bytes, bytes | None], chain: ChainResult) -> None:
        verdicts[key] = await _revocation(chain, key[1], options, budget, tried[key])

    with trio.CancelScope(deadline=deadline_at):
        async with trio.open_nursery() as nursery:
            for key, chain in wanted.items():
                nursery.start_soon(one, key, chain)
    late = f"endpoint deadline of {options.deadlines.endpoint:g}s reached before the revocation check finished"
    chains = []
    for ch, key in zip(out, keys, strict=True):
        if key is None:
            chains.append(ch)
            continue
        verdict = verdicts.get(key)
        if verdict is None:
            urls = tuple(tried[key])
            verdict = RevocationResult(
                status="not_checked", method=_method_of(urls, ch), detail=late, urls_tried=urls
            )
        chains.append(replace(ch, revocation=verdict))
    return tuple(chains), len(verdicts) < len(wanted)


def _method_of(urls: tuple[str, ...], chain: ChainResult) -> str:
    """The method of the URLs asked: "ocsp" when an OCSP responder was among them."""
    if not urls:
        return "none"
    info = chain.certificates[0] if chain.certificates else None
    ocsp_urls = set(getattr(info, "ocsp_urls", ()) or ())
    return "ocsp" if any(u in ocsp_urls for u in urls) else "crl"


async def _revocation(
    chain: ChainResult, issuer: bytes | None, options: ScanOptions, budget: Any, tried: list[str]
) -> Any:
    from scanner.revocation import RevocationResult, check_revocation, check_stapled

    if chain.stapled_ocsp:
        stapled = check_stapled(chain.stapled_ocsp, chain.der[0], issuer)
        if stapled.status in ("good", "revoked"):
            return stapled
    with trio.move_on_after(min(options.deadlines.read * 2, 10)):
        return await check_revocation(chain.der[0], issuer, budget=budget, tried=tried)
    urls = tuple(tried)
    return RevocationResult(
        status="unreachable", method=_method_of(urls, chain), urls_tried=urls,
        detail="revocation check deadline reached: no answer from " + (", ".join(urls) or "any URL"),
    )
