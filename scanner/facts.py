# The compatibility scan of one endpoint: everything a TLS client needs to know to connect,
# with as few connections as the protocol allows.
#
# Order of work: one first contact (the TLS 1.2 elimination's first hello) tells a dead or
# non-TLS port apart in one connection; then every version is enumerated concurrently
# (bounded by the per-endpoint limiter), then preference, groups, certificates and
# behaviours, again concurrently. Results are return values gathered by this module.
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import trio

from handshakes import constants as c
from handshakes import events as ev
from handshakes import registry as reg
from scanner.engine import Connector, OpenStream, ProbeOutcome, open_tcp
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
from scanner.probes import groups as gp
from scanner.probes import suites as sp
from scanner.probes.hello import (
    MAX_SUITES_PER_HELLO,
    SIGALGS_ECDSA,
    SIGALGS_RSA,
    HelloFactory,
    candidate_suites,
    describe_offer,
)
from scanner.results import (
    Behaviours,
    ChainResult,
    ClientAuthResult,
    ClientCertAttempt,
    EndpointResult,
    GroupResult,
    Intolerance,
    ProbeLog,
    ProtocolResult,
    Stats,
    SuiteResult,
    ToleranceCheck,
)


@dataclass(slots=True)
class _Found:
    """What the probes of one endpoint gathered; turned into an EndpointResult at the end.

    An accumulator rather than return values, on purpose: the endpoint deadline may cancel
    the scan half-way, and the result must keep everything already found. It is owned by
    one endpoint scan; each task writes only its own keys, and it is read only after the
    nurseries (or the deadline) have ended.
    """

    versions: dict[int, sp.VersionScan] = field(default_factory=dict)
    order: dict[int, bool | None] = field(default_factory=dict)
    ranked: dict[int, list[int]] = field(default_factory=dict)
    groups: dict[int, list[int]] = field(default_factory=dict)
    group_order: dict[int, bool | None] = field(default_factory=dict)
    extra: dict[str, ProbeOutcome] = field(default_factory=dict)
    # Set by the client-authentication step (full handshakes) when it ran.
    client_auth: tuple[ClientAuthResult, ...] | None = None
    client_certificates: tuple[ClientCertAttempt, ...] = ()
    # issue 11: the tolerance probes' verdicts and the intolerances they found
    tolerance: tuple[ToleranceCheck, ...] = ()
    tolerance_intolerances: tuple[Intolerance, ...] = ()
    sni_name_refused: bool = False  # every version refused the name; without SNI: accepted
    split_intolerances: tuple[Intolerance, ...] = ()  # application-data record splitting


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
    hello = HelloFactory(server_name=target.server_name)
    found = _Found()
    with trio.move_on_after(options.deadlines.endpoint) as scope:
        await _run(conn, hello, target, options, found)
        if "client_auth" in options.probes:
            await _assess_client_auth(target, options, found, conn)
    result = _assemble(target, options, found, conn, started, time.perf_counter() - t0)
    if scope.cancelled_caught:
        result = replace(
            result,
            detail=(result.detail + "; " if result.detail else "")
            + f"endpoint deadline of {options.deadlines.endpoint:g}s reached, results are partial",
        )
    if result.certificates:
        result = replace(result, certificates=await _examine_chains(result, options))
    return result


async def _run(conn: Connector, hello: HelloFactory, target: Target, options: ScanOptions, found: _Found) -> None:
    probes = options.probes
    enumerate_suites = "suites" in probes
    versions = [v for v in options.versions]
    # First contact, alone: a refused, silent or non-TLS port is settled in one connection.
    first_version = c.TLS12 if c.TLS12 in versions else versions[0]
    first = await sp.scan_version(conn, hello, first_version, enumerate_suites=enumerate_suites)
    found.versions[first_version] = first
    if first.first is not None and first.first.outcome in sp.ENDS_VERSION:
        # Nothing listens, another protocol answers, or nothing answers at all: asking
        # again with other versions would only wait out more deadlines.
        return

    async def one(version: int) -> None:
        found.versions[version] = await sp.scan_version(conn, hello, version, enumerate_suites=enumerate_suites)

    async with trio.open_nursery() as nursery:
        for v in versions:
            if v != first_version:
                nursery.start_soon(one, v)

    supported = [v for v in versions if found.versions[v].supported]
    if target.server_name and not supported:  # issue 11, SNI semantics: try the other side
        from scanner.probes.sni import accepted_without_sni

        other = await accepted_without_sni(conn, hello, [found.versions[v].first for v in versions], versions)
        if other is not None:
            found.extra["no_sni"], found.sni_name_refused = other, True
    async with trio.open_nursery() as nursery:
        for v in supported:
            scan = found.versions[v]
            if "preference" in probes and enumerate_suites:
                nursery.start_soon(_preference, conn, hello, scan, found)
        if "groups" in probes:
            nursery.start_soon(_groups, conn, hello, found, supported)
        if "certificates" in probes:
            nursery.start_soon(_extra_certificates, conn, hello, target, found, supported)
        if "behaviours" in probes:
            nursery.start_soon(_behaviours, conn, hello, found, supported)
        if "tolerance" in probes or "tolerance-full" in probes:  # issue 11
            from scanner.probes.tolerance import tolerance

            async def tolerance_checks() -> None:
                accepted = {v: found.versions[v].suites for v in supported}
                found.tolerance, found.tolerance_intolerances = await tolerance(
                    conn, hello, accepted, full="tolerance-full" in probes
                )

            nursery.start_soon(tolerance_checks)
            from scanner.probes.record_split import is_https, record_splitting

            if "tolerance" in probes and is_https(target.port, [found.versions[v].first for v in supported]):

                async def split_check() -> None:
                    split = await record_splitting(conn, target.server_name, target.host)
                    if (found_split := split.intolerance()) is not None:
                        found.split_intolerances = (found_split,)

                nursery.start_soon(split_check)


async def _assess_client_auth(target: Target, options: ScanOptions, found: _Found, conn: Connector) -> None:
    """Required or optional, and the server's verdict on each certificate the user gave:
    full handshakes (scanner.clientauth), only where a server asked for a certificate."""
    requested = _client_auth(found)
    if not any(r.mode == "requested" for r in requested):
        return
    from scanner.clientauth.probe import assess

    found.client_auth, found.client_certificates = await assess(
        target, options, requested, limiter=conn.endpoint_limiter
    )


async def _preference(conn: Connector, hello: HelloFactory, scan: sp.VersionScan, found: _Found) -> None:
    order = await sp.server_order(conn, hello, scan)
    found.order[scan.version] = order
    if order and not sp.discovery_is_server_order(scan):
        # A suite the server prefers came in a later batch: rank the found suites again
        # among themselves.
        found.ranked[scan.version] = await sp.rank_by_server(conn, hello, scan)


async def _groups(conn: Connector, hello: HelloFactory, found: _Found, supported: list[int]) -> None:
    async with trio.open_nursery() as nursery:
        if c.TLS13 in supported:
            suites = found.versions[c.TLS13].suites or list(reg.TLS13_SUITES)

            async def tls13() -> None:
                groups = await gp.groups_tls13(conn, hello, suites)
                found.groups[c.TLS13] = groups
                found.group_order[c.TLS13] = await gp.group_order(conn, hello, c.TLS13, groups, suites)

            nursery.start_soon(tls13)
        legacy = [v for v in supported if c.TLS10 <= v <= c.TLS12]
        if legacy:
            top = max(legacy)
            ecdhe = [s for s in found.versions[top].suites if (info := reg.cipher_suite(s)) and info.kx == "ECDHE"]

            async def tls12() -> None:
                groups = await gp.groups_tls12(conn, hello, top, ecdhe)
                found.groups[top] = groups
                found.group_order[top] = await gp.group_order(conn, hello, top, groups, ecdhe)

            nursery.start_soon(tls12)


async def _extra_certificates(conn: Connector, hello: HelloFactory, target: Target, found: _Found, supported: list[int]) -> None:
    tls = [v for v in supported if v >= c.TLS10]
    if not tls:
        return
    top = max(tls)
    suites = found.versions[top].suites or list(candidate_suites(top))[: MAX_SUITES_PER_HELLO]
    async with trio.open_nursery() as nursery:
        if target.server_name:
            spec = hello.spec(top, suites, sni=False)

            async def no_sni() -> None:
                found.extra["no_sni"] = await conn.probe("certificate without SNI", lambda: hello.probe(spec))

            nursery.start_soon(no_sni)
        if c.TLS13 in supported:
            # TLS 1.3 picks the certificate by signature_algorithms (RFC 8446 section 4.4.2.2):
            # ask for each key type, but the first probe's (already read) is not asked again,
            # so a dual RSA/ECDSA server shows both.
            first13 = found.versions[c.TLS13].first
            cert13 = first13.first(ev.Certificate) if first13 is not None else None
            seen = _key_type(cert13.chain[0]) if isinstance(cert13, ev.Certificate) and cert13.chain else ""
            for label, algs in (("rsa", SIGALGS_RSA), ("ecdsa", SIGALGS_ECDSA)):
                if (label, seen) in (("rsa", "RSA"), ("ecdsa", "EC")):
                    continue
                spec13 = hello.spec(c.TLS13, found.versions[c.TLS13].suites, sigalgs=algs)

                async def by_type(label: str = label, spec13: Any = spec13) -> None:
                    found.extra[f"tls13_{label}"] = await conn.probe(
                        f"TLSv1.3 {label.upper()} certificate", lambda: hello.probe(spec13)
                    )

                nursery.start_soon(by_type)


async def _behaviours(conn: Connector, hello: HelloFactory, found: _Found, supported: list[int]) -> None:
    tls = [v for v in supported if v >= c.TLS10]
    if not tls:
        return
    async with trio.open_nursery() as nursery:
        below = sorted((v for v in supported if c.TLS10 <= v < max(tls)), reverse=True)
        if below:
            # RFC 7507 section 3: a client retrying with a lower version adds
            # TLS_FALLBACK_SCSV; a server supporting a higher version must answer
            # inappropriate_fallback (86).
            lower = below[0]
            suites = (found.versions[lower].suites or list(candidate_suites(lower)))
            spec = hello.spec(lower, (*suites[: MAX_SUITES_PER_HELLO - 1], c.TLS_FALLBACK_SCSV))

            async def fallback() -> None:
                found.extra["fallback_scsv"] = await conn.probe(
                    "TLS_FALLBACK_SCSV", lambda: hello.probe(spec, read_flight=False)
                )

            nursery.start_soon(fallback)
        legacy = [v for v in tls if v <= c.TLS12]
        if legacy:  # issue 11 case 5: encrypt_then_mac asked with CBC suites only
            etm_version = max(legacy)

            async def etm() -> None:
                from scanner.probes.etm import encrypt_then_mac

                out = await encrypt_then_mac(conn, hello, etm_version, found.versions[etm_version].suites)
                if out is not None:
                    found.extra["etm"] = out

            nursery.start_soon(etm)
        top = max(tls)
        first = found.versions[top].first
        sh = first.server_hello if first else None
        alpn = sh.alpn if sh else None
        if top == c.TLS13 and first is not None:
            ee = first.first(ev.EncryptedExtensions)
            alpn = ee.alpn if isinstance(ee, ev.EncryptedExtensions) else alpn
        if alpn == "h2":
            spec2 = hello.spec(top, found.versions[top].suites, alpn=("http/1.1",))

            async def http11() -> None:
                found.extra["alpn_http11"] = await conn.probe(
                    "ALPN http/1.1", lambda: hello.probe(spec2, read_flight=False)
                )

            nursery.start_soon(http11)


# -- assembling the result -----------------------------------------------------------------


def _protocol_result(scan: sp.VersionScan) -> ProtocolResult:
    out = scan.first
    if out is None:
        return ProtocolResult(version=scan.version, supported=False, outcome="not_probed")
    alert = out.alert
    detail = out.describe()
    if scan.negotiated is not None and scan.negotiated != scan.version:
        detail = f"the server answered {reg.version_name(scan.negotiated)}"
    elif scan.supported:
        detail = "ServerHello"
    return ProtocolResult(
        version=scan.version,
        supported=scan.supported,
        outcome=out.outcome,
        alert=alert.description if alert is not None and out.outcome == ALERT else None,
        detail=detail,
        negotiated=scan.negotiated,
    )


def _kx_details(out: ProbeOutcome) -> tuple[int | None, int | None]:
    ske = out.first(ev.ServerKeyExchange)
    if isinstance(ske, ev.ServerKeyExchange):
        return ske.group, ske.dh_prime_bits if ske.kind == "dhe" else None
    sh = out.server_hello
    if sh is not None and sh.selected_group is not None:
        return sh.selected_group, None
    hrr = out.first(ev.HelloRetryRequest)
    if isinstance(hrr, ev.HelloRetryRequest):
        return hrr.selected_group, None
    return None, None


def _pair(suite: int) -> tuple[str, str]:
    info = reg.cipher_suite(suite)
    return (info.kx, info.auth) if info else ("?", hex(suite))


def _chains(found: _Found, target: Target) -> tuple[ChainResult, ...]:
    """Distinct chains seen, with the versions and SNI they were seen with."""
    seen: dict[tuple[tuple[bytes, ...], str | None], tuple[set[int], bytes | None]] = {}

    def add(out: ProbeOutcome | None, version: int, sni: str | None) -> None:
        if out is None:
            return
        v2 = out.first(ev.SSLv2ServerHello)
        if isinstance(v2, ev.SSLv2ServerHello) and v2.certificate:
            v2key: tuple[tuple[bytes, ...], str | None] = ((v2.certificate,), sni)
            seen.setdefault(v2key, (set(), None))[0].add(c.SSL2)
            return
        cert = out.first(ev.Certificate)
        if not isinstance(cert, ev.Certificate) or not cert.chain:
            return
        status = out.first(ev.CertificateStatus)
        staple = status.ocsp_response if isinstance(status, ev.CertificateStatus) else None
        if staple is None and cert.entry_extensions:
            staple = _tls13_staple(cert.entry_extensions[0])
        key = (cert.chain, sni)
        versions, old = seen.setdefault(key, (set(), staple))
        sh = out.server_hello
        versions.add(sh.version if sh is not None else version)
        if staple and not old:
            seen[key] = (versions, staple)

    sni = target.server_name
    for version, scan in found.versions.items():
        add(scan.first, version, sni)
        for a in scan.accepted:
            add(a.outcome, version, sni)
    for name, out in found.extra.items():
        if name == "no_sni":
            sh = out.server_hello
            add(out, sh.version if sh else 0, None)
        elif name.startswith("tls13_"):
            add(out, c.TLS13, sni)
    # A chain seen without SNI that the server also sends for the name adds nothing: list
    # it once (Behaviours.sni_detail says it is the same); a different one is evidence.
    with_name = {der for (der, sent_name) in seen if sent_name is not None}
    chains = []
    for (der, sent_name), (versions, staple) in seen.items():
        if sent_name is None and sni is not None and der in with_name:
            continue
        chains.append(
            ChainResult(
                versions=tuple(sorted(versions, reverse=True)),
                sni=sent_name,
                key_type=_key_type(der[0]),
                der=der,
                stapled_ocsp=staple,
            )
        )
    chains.sort(key=lambda ch: (ch.sni is None, -max(ch.versions or (0,)), ch.key_type))
    return tuple(chains)


def _tls13_staple(exts: ev.Extensions) -> bytes | None:
    for t, body in exts:
        if t == c.EXT_STATUS_REQUEST and len(body) > 4 and body[0] == 1:
            return body[4:]
    return None


def _key_type(der: bytes) -> str:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

        key = x509.load_der_x509_certificate(der).public_key()
    except Exception:  # noqa: BLE001 - a broken certificate is data, not a crash
        return "unknown"
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA"
    return "unknown"


def _client_auth(found: _Found) -> tuple[ClientAuthResult, ...]:
    from scanner.x509 import dn_to_string

    out = []
    for version in sorted(found.versions, reverse=True):
        scan = found.versions[version]
        if not scan.supported or version == c.SSL2:
            continue
        outcomes = [scan.first, *[a.outcome for a in scan.accepted]]
        cr = None
        for o in outcomes:
            if o is not None and isinstance(found_cr := o.first(ev.CertificateRequest), ev.CertificateRequest):
                cr = found_cr
                break
        saw_flight = any(
            o is not None and (o.first(ev.ServerHelloDone) or o.first(ev.Finished)) for o in outcomes
        )
        if cr is None:
            if saw_flight:
                out.append(ClientAuthResult(version=version, mode="none"))
            continue
        out.append(
            ClientAuthResult(
                version=version,
                mode="requested",
                certificate_authorities=tuple(dn_to_string(d) for d in cr.certificate_authorities),
                certificate_types=cr.certificate_types,
                signature_algorithms=cr.signature_algorithms,
                signature_algorithms_cert=cr.signature_algorithms_cert,
                oid_filters=tuple((o.hex(), v.hex()) for o, v in cr.oid_filters),
            )
        )
    return tuple(out)


def _behaviours_result(found: _Found, target: Target) -> Behaviours:
    legacy = [v for v in sorted(found.versions, reverse=True) if c.TLS10 <= v <= c.TLS12 and found.versions[v].supported]
    sh = None
    first = None
    if legacy:
        first = found.versions[legacy[0]].first
        sh = first.server_hello if first else None
    tls13 = found.versions.get(c.TLS13)
    kw: dict[str, Any] = {}
    alpn: list[str] = []
    for scan in found.versions.values():
        if scan.first is None:
            continue
        s = scan.first.server_hello
        if s is not None and s.alpn:
            alpn.append(s.alpn)
        ee = scan.first.first(ev.EncryptedExtensions)
        if isinstance(ee, ev.EncryptedExtensions) and ee.alpn:
            alpn.append(ee.alpn)
    http11 = found.extra.get("alpn_http11")
    if http11 is not None:
        s = http11.server_hello
        if s is not None and s.alpn:
            alpn.append(s.alpn)
    kw["alpn"] = tuple(dict.fromkeys(alpn))
    kw["alpn_checked"] = any(s.supported for s in found.versions.values())
    if sh is not None:
        kw["secure_renegotiation"] = sh.renegotiation_info is not None
        kw["extended_master_secret"] = sh.extended_master_secret
        kw["encrypt_then_mac"] = sh.encrypt_then_mac
        # issue 11 case 5: the CBC-only probe decides; no CBC suite accepted: not applicable
        etm = found.extra.get("etm")
        if etm is not None and etm.server_hello is not None:
            kw["encrypt_then_mac"] = etm.server_hello.encrypt_then_mac
        elif etm is None and found.versions[legacy[0]].suites:
            kw["encrypt_then_mac"] = None
            kw["encrypt_then_mac_detail"] = "not applicable: no CBC suite is accepted"
        kw["session_ticket"] = sh.session_ticket
        kw["compression"] = (sh.compression,) if sh.compression else ()
        if tls13 is not None and tls13.supported and legacy[0] == c.TLS12:
            kw["downgrade_sentinel"] = sh.downgrade_sentinel == c.TLS12
    elif found.versions.get(c.SSL3) is not None and found.versions[c.SSL3].supported:
        s3 = found.versions[c.SSL3].first
        sh3 = s3.server_hello if s3 else None
        if sh3 is not None:
            kw["secure_renegotiation"] = sh3.renegotiation_info is not None
            kw["compression"] = (sh3.compression,) if sh3.compression else ()
    stapled = False
    for scan in found.versions.values():
        for o in [scan.first, *[a.outcome for a in scan.accepted]]:
            if o is None:
                continue
            if o.first(ev.CertificateStatus) is not None:
                stapled = True
            cert = o.first(ev.Certificate)
            if isinstance(cert, ev.Certificate) and cert.entry_extensions and _tls13_staple(cert.entry_extensions[0]):
                stapled = True
    kw["ocsp_stapling"] = stapled if any(s.supported for s in found.versions.values()) else None
    fb = found.extra.get("fallback_scsv")
    if fb is not None:
        alert = fb.alert
        # issue 11: only an accepted downgrade is missing protection (RFC 7507 section 3); a
        # hello refused otherwise (another alert, a close, silence) cannot be downgraded.
        if fb.outcome == ALERT and alert is not None and alert.description == 86:
            kw["fallback_scsv"] = True
            kw["fallback_detail"] = fb.describe()
        elif fb.outcome == ACCEPTED:
            kw["fallback_scsv"] = False
            kw["fallback_detail"] = fb.describe()
        else:
            kw["fallback_detail"] = f"refused without inappropriate_fallback (86): {fb.describe()}"
    kw["server_preference"] = tuple(
        (v, bool(o)) for v, o in sorted(found.order.items(), reverse=True) if o is not None
    )
    # issue 11 case 3: versions whose server order yields to a client that prefers ChaCha20
    kw["chacha_priority"] = tuple(v for v, sc in sorted(found.versions.items(), reverse=True) if sc.chacha_priority)
    no_sni = found.extra.get("no_sni")
    if found.sni_name_refused and no_sni is not None:  # issue 11: the name, not SNI, is refused
        sh = no_sni.server_hello
        kw["sni_name_refused"] = True
        kw["sni_required"] = False
        kw["sni_detail"] = (
            f"with server_name {target.server_name!r} every version was refused; without SNI: "
            f"ServerHello ({reg.version_name(sh.version) if sh else 'accepted'})"
        )
    elif no_sni is not None:
        if no_sni.outcome != ACCEPTED:
            kw["sni_required"] = True
            kw["sni_detail"] = f"without SNI: {no_sni.describe()}"
        else:
            kw["sni_required"] = False
            cert = no_sni.first(ev.Certificate)
            chain = cert.chain if isinstance(cert, ev.Certificate) else ()
            same = any(
                isinstance(c13 := o.first(ev.Certificate), ev.Certificate) and c13.chain == chain
                for scan in found.versions.values()
                for o in (scan.first, *[a.outcome for a in scan.accepted])
                if o is not None
            )
            kw["sni_detail"] = "without SNI the handshake succeeds" + (
                " with the same certificate chain" if same else " with a different certificate chain"
            ) if chain else "without SNI the handshake succeeds"
    return Behaviours(**kw)


def _assemble(target: Target, options: ScanOptions, found: _Found, conn: Connector, started: datetime, duration: float) -> EndpointResult:
    log = conn.log
    stats = Stats(
        connections=sum(o.connections for _, _, o in log),
        bytes_sent=sum(o.bytes_sent for _, _, o in log),
        bytes_received=sum(o.bytes_received for _, _, o in log),
        duration_s=round(duration, 4),
    )
    probes = tuple(
        ProbeLog(
            name=name,
            offered=describe_offer(probe.spec),
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
    protocols = tuple(_protocol_result(found.versions[v]) for v in sorted(found.versions, reverse=True))
    if not any(p.supported for p in protocols):
        outcome, detail = _endpoint_failure(found)
        if outcome != "ok":
            return EndpointResult(outcome=outcome, detail=detail, protocols=protocols, **base)  # type: ignore[arg-type]
    suites: list[SuiteResult] = []
    dh_bits: set[int] = set()
    for v in sorted(found.versions, reverse=True):
        scan = found.versions[v]
        order = found.order.get(v)
        ranked = found.ranked.get(v) or scan.suites
        # The flight was read for the first suite of each (key exchange, authentication)
        # pair only; its curve / DH size hold for the pair's other suites too.
        by_pair: dict[tuple[str, str], tuple[int | None, int | None]] = {}
        for a in scan.accepted:
            details = _kx_details(a.outcome)
            if details != (None, None):
                by_pair.setdefault(_pair(a.suite), details)
        for a in scan.accepted:
            group, bits = _kx_details(a.outcome)
            if (group, bits) == (None, None):
                group, bits = by_pair.get(_pair(a.suite), (None, None))
            if bits:
                dh_bits.add(bits)
            pref = ranked.index(a.suite) + 1 if order and a.suite in ranked else None
            suites.append(SuiteResult(version=v, code=a.suite, preference=pref, group=group, dh_bits=bits))
    suites.sort(key=lambda s: (-s.version, s.preference or 0, 0))
    groups = []
    for v, codes in sorted(found.groups.items(), reverse=True):
        ordered = bool(found.group_order.get(v))
        for i, g in enumerate(codes):
            groups.append(GroupResult(version=v, code=g, preference=i + 1 if ordered else None))
    return EndpointResult(
        outcome="ok",
        protocols=protocols,
        cipher_suites=tuple(suites),
        groups=tuple(groups),
        dh_bits=tuple(sorted(dh_bits)),
        certificates=_chains(found, target),
        behaviours=_behaviours_result(found, target),
        anomalies=tuple(
            f"{reg.version_name(v)}: {text}"
            for v, scan in sorted(found.versions.items(), reverse=True)
            for text in scan.violations
        ),
        # issue 11: intolerances found by the adaptive step of the version scans
        intolerances=tuple(
            i for _, scan in sorted(found.versions.items(), reverse=True) for i in scan.intolerances
        ) + found.tolerance_intolerances + found.split_intolerances,
        tolerance=found.tolerance,
        client_auth=(
            found.client_auth if found.client_auth is not None else _client_auth(found)
        ) if "client_auth" in options.probes else (),
        client_certificates=found.client_certificates,
        **base,  # type: ignore[arg-type]
    )


def _endpoint_failure(found: _Found) -> tuple[str, str]:
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


