# Behaviours: ALPN, secure renegotiation, extended master secret, encrypt-then-MAC,
# session tickets, compression, OCSP stapling, TLS_FALLBACK_SCSV, the downgrade sentinel
# and what happens without SNI. Most are read from the version probes' ServerHellos; this
# probe adds the TLS_FALLBACK_SCSV hello and, for an h2 server, an ALPN http/1.1 hello.
from __future__ import annotations

from typing import Any

import trio

from handshakes import constants as c
from handshakes import events as ev
from handshakes import registry as reg
from scanner.options import ACCEPTED, ALERT, Target
from scanner.probes.certificates import tls13_staple
from scanner.probes.context import Found, ProbeContext
from scanner.probes.etm import cbc_suites, encrypt_then_mac, seen_in_elimination
from scanner.probes.hello import MAX_SUITES_PER_HELLO, candidate_suites
from scanner.results import Behaviours


async def run(ctx: ProbeContext, supported: list[int]) -> None:
    """Sets ``found.extra["fallback_scsv"]`` and ``found.extra["alpn_http11"]``."""
    conn, hello, found = ctx.conn, ctx.hello, ctx.found
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
        if legacy:  # encrypt_then_mac asked with CBC suites only (RFC 7366 applies to CBC)
            etm_version = max(legacy)
            seen = seen_in_elimination(found.versions[etm_version])
            if seen is not None:
                found.extra["etm"] = seen
            else:

                async def etm() -> None:
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


def behaviours(found: Found, target: Target) -> Behaviours:
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
        # The CBC-only probe decides; no CBC suite accepted: not applicable.
        etm = found.extra.get("etm")
        if etm is not None and etm.server_hello is not None:
            kw["encrypt_then_mac"] = etm.server_hello.encrypt_then_mac
        elif etm is None and found.versions[legacy[0]].suites:
            # RFC 7366 applies to CBC suites only: without the CBC-only hello there is no answer.
            kw["encrypt_then_mac"] = None
            kw["encrypt_then_mac_detail"] = (
                "not asked: the behaviours probe asks it with the accepted CBC suites"
                if cbc_suites(found.versions[legacy[0]].suites)
                else "not applicable: no CBC suite is accepted"
            )
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
            if isinstance(cert, ev.Certificate) and cert.entry_extensions and tls13_staple(cert.entry_extensions[0]):
                stapled = True
    kw["ocsp_stapling"] = stapled if any(s.supported for s in found.versions.values()) else None
    fb = found.extra.get("fallback_scsv")
    if fb is not None:
        alert = fb.alert
        # Only an accepted downgrade is missing protection (RFC 7507 section 3); a hello
        # refused otherwise (another alert, a close, silence) cannot be downgraded.
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
    # Versions whose server order yields to a client that prefers ChaCha20.
    kw["chacha_priority"] = tuple(v for v, sc in sorted(found.versions.items(), reverse=True) if sc.chacha_priority)
    no_sni = found.extra.get("no_sni")
    if found.sni_name_refused and no_sni is not None:  # the name, not SNI, is refused
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
