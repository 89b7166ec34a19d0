# Certificates: the chains the server sends, with and without SNI, and for TLS 1.3 one per
# key type (the server picks its certificate by signature_algorithms, RFC 8446 section
# 4.4.2.2). Most chains come with the version probes' flights; this probe adds the hello
# without SNI and the TLS 1.3 key types not seen yet. chains() lists the distinct chains.
from __future__ import annotations

from typing import Any

import trio

from handshakes import constants as c
from handshakes import events as ev
from scanner.engine import ProbeOutcome
from scanner.options import Target
from scanner.probes.context import Found, ProbeContext
from scanner.probes.hello import MAX_SUITES_PER_HELLO, SIGALGS_ECDSA, SIGALGS_RSA, candidate_suites
from scanner.results import ChainResult


async def run(ctx: ProbeContext, supported: list[int]) -> None:
    """Sets ``found.extra["no_sni"]`` and ``found.extra["tls13_rsa" / "tls13_ecdsa"]``."""
    conn, hello, target, found = ctx.conn, ctx.hello, ctx.target, ctx.found
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
            seen = key_type(cert13.chain[0]) if isinstance(cert13, ev.Certificate) and cert13.chain else ""
            for label, algs in (("rsa", SIGALGS_RSA), ("ecdsa", SIGALGS_ECDSA)):
                if (label, seen) in (("rsa", "RSA"), ("ecdsa", "EC")):
                    continue
                spec13 = hello.spec(c.TLS13, found.versions[c.TLS13].suites, sigalgs=algs)

                async def by_type(label: str = label, spec13: Any = spec13) -> None:
                    found.extra[f"tls13_{label}"] = await conn.probe(
                        f"TLSv1.3 {label.upper()} certificate", lambda: hello.probe(spec13)
                    )

                nursery.start_soon(by_type)


# The most distinct certificate chains kept for one endpoint (docs/design.md, "Guarantees").
MAX_CHAINS = 8


def chains(found: Found, target: Target) -> tuple[tuple[ChainResult, ...], int]:
    """Distinct chains seen, with the versions and SNI they were seen with (at most
    MAX_CHAINS), and how many more distinct chains were seen and not kept."""
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
            staple = tls13_staple(cert.entry_extensions[0])
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
    kept = []
    for (der, sent_name), (versions, staple) in seen.items():
        if sent_name is None and sni is not None and der in with_name:
            continue
        kept.append(
            ChainResult(
                versions=tuple(sorted(versions, reverse=True)),
                sni=sent_name,
                key_type=key_type(der[0]),
                der=der,
                stapled_ocsp=staple,
            )
        )
    kept.sort(key=lambda ch: (ch.sni is None, -max(ch.versions or (0,)), ch.key_type))
    # Identical chains are one entry (the key above); distinct ones are capped, so a
    # server sending a new certificate per connection costs bounded memory and output.
    return tuple(kept[:MAX_CHAINS]), max(len(kept) - MAX_CHAINS, 0)


def tls13_staple(exts: ev.Extensions) -> bytes | None:
    for t, body in exts:
        if t == c.EXT_STATUS_REQUEST and len(body) > 4 and body[0] == 1:
            return body[4:]
    return None


def key_type(der: bytes) -> str:
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


