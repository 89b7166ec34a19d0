# Findings about what the server negotiates: protocol versions, cipher suites, key
# exchange parameters and the behaviours of its TLS stack (renegotiation, compression,
# downgrade protection, extended master secret, rule violations).
#
# "The stated client" is ScanOptions.client_versions / client_suites: the client the user
# says must connect. Each function returns one Finding or None.
from __future__ import annotations

from collections import defaultdict

from handshakes import constants as c
from handshakes import registry as reg
from scanner.diagnose.common import Rule, lines, make, outcome_text, versions
from scanner.options import ScanOptions
from scanner.results import EndpointResult, Finding, SuiteResult

# Key exchanges that give forward secrecy ("any" is TLS 1.3, always (EC)DHE).
_FORWARD_SECRET_KX = frozenset({"ECDHE", "DHE", "ECDHEPSK", "DHEPSK", "CECPQ1", "any"})
# Weaknesses that leave no real protection (the rest weaken it).
_BROKEN = frozenset({"null", "anonymous", "export", "rc4", "des"})
_DEPRECATED_SEVERITY = {c.SSL2: "critical", c.SSL3: "high", c.TLS10: "medium", c.TLS11: "medium"}
_COMPRESSION_NAMES = {1: "DEFLATE", 64: "LZS"}


def _suite(code: int) -> str:
    return f"{reg.cipher_suite_name(code)} ({reg.hex_code(code, 6 if code > 0xFFFF else 4)})"


def _by_version(suites: tuple[SuiteResult, ...]) -> dict[int, list[SuiteResult]]:
    out: dict[int, list[SuiteResult]] = defaultdict(list)
    for s in suites:
        out[s.version].append(s)
    return out


def _highest_legacy(result: EndpointResult) -> int | None:
    """The highest supported version that has a TLS 1.2-style ServerHello (SSL 3.0 to
    TLS 1.2): the one the behaviours probes read."""
    legacy = [v for v in result.supported_versions() if c.SSL3 <= v <= c.TLS12]
    return max(legacy) if legacy else None


def _unknown(result: EndpointResult, versions: set[int]) -> bool:
    """A partial result (endpoint deadline) left one of these versions unanswered."""
    answered = {p.version for p in result.protocols if p.outcome != "not_probed"}
    return result.partial and bool(versions - answered)


def no_common_version(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """The server accepts at least one version, none of which is in
    options.client_versions. Quotes both lists and how the server answered each of the
    client's versions."""
    supported = set(result.supported_versions())
    client = set(options.client_versions)
    if not supported or supported & client:
        return None
    if _unknown(result, client):
        return None  # a client version the deadline left unasked may be accepted
    answers = [outcome_text(p) for p in result.protocols if p.version in client]
    text = (
        f"the server accepts only {versions(supported)}; the client offers "
        f"{versions(client)}"
    )
    if answers:
        text += "; the server's answers to the client's versions: " + lines(answers)
    return make("protocol.no_common_version", text)


def deprecated_protocols(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """SSLv2, SSLv3, TLS 1.0 or TLS 1.1 is accepted. Severity: critical with SSLv2, high
    with SSLv3, medium for TLS 1.0/1.1 alone."""
    old = [v for v in result.supported_versions() if v in _DEPRECATED_SEVERITY]
    if not old:
        return None
    suites = _by_version(result.cipher_suites)
    parts = []
    for v in sorted(old, reverse=True):
        n = len(suites.get(v, ()))
        parts.append(f"{reg.version_name(v)} accepted" + (f" with {n} cipher suite(s)" if n else ""))
    order = ("critical", "high", "medium")
    severity = min((_DEPRECATED_SEVERITY[v] for v in old), key=order.index)
    return make("protocol.deprecated", lines(parts), severity=severity)


def no_common_suite(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """options.client_suites is given, the server and client share a version, the
    server's suites were enumerated for it, and no suite the server accepts in any shared
    version is among the client's. Versions whose suites were not enumerated are not
    judged."""
    if options.client_suites is None:
        return None
    client = set(options.client_suites)
    shared = sorted(set(result.supported_versions()) & set(options.client_versions), reverse=True)
    by_version = _by_version(result.cipher_suites)
    incomplete = {p.version for p in result.protocols if p.incomplete}
    judged = [v for v in shared if by_version.get(v) and v not in incomplete]
    if not judged:
        return None
    if any(s.code in client for v in judged for s in by_version[v]):
        return None
    offered = [reg.cipher_suite_name(code) for code in options.client_suites]
    parts = [f"the client offers {len(offered)} suite(s): " + ", ".join(offered[:12])
             + (f" and {len(offered) - 12} more" if len(offered) > 12 else "")]
    for v in judged:
        names = [reg.cipher_suite_name(s.code) for s in by_version[v]]
        parts.append(f"the server accepts in {reg.version_name(v)}: " + ", ".join(names))
    return make("cipher.no_common_suite", "; ".join(parts))


def weak_suites(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Any accepted suite has a weakness in the registry (NULL, anonymous, export, RC4,
    DES, 3DES, MD5). Listed per version. Severity high with NULL/anonymous/export/RC4/DES,
    medium when only 3DES or MD5 suites are found."""
    per_version: dict[int, list[str]] = defaultdict(list)
    found: set[str] = set()
    for s in result.cipher_suites:
        info = reg.cipher_suite(s.code)
        if info is None or not info.weaknesses:
            continue
        found.update(info.weaknesses)
        per_version[s.version].append(f"{_suite(s.code)} [{', '.join(info.weaknesses)}]")
    if not per_version:
        return None
    parts = [
        f"{reg.version_name(v)}: " + ", ".join(per_version[v])
        for v in sorted(per_version, reverse=True)
    ]
    severity = "high" if found & _BROKEN else "medium"
    return make("cipher.weak", "; ".join(parts), severity=severity)


def weak_dh(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A DHE prime below 2048 bits was seen (SuiteResult.dh_bits or EndpointResult.dh_bits).
    Severity high below 1024 bits, else medium."""
    seen = [s for s in result.cipher_suites if s.dh_bits is not None and s.dh_bits < 2048]
    bits = sorted({b for b in result.dh_bits if b < 2048} | {s.dh_bits for s in seen if s.dh_bits})
    if not bits:
        return None
    parts = [
        f"{reg.version_name(s.version)} {reg.cipher_suite_name(s.code)}: {s.dh_bits}-bit DH prime"
        for s in seen
    ] or [f"{b}-bit DH prime" for b in bits]
    return make("dh.weak", lines(parts), severity="high" if bits[0] < 1024 else "medium")


def no_forward_secrecy(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Versions are accepted, TLS 1.3 is not, the suites were enumerated, and none of them
    uses an ECDHE or DHE key exchange."""
    supported = result.supported_versions()
    if not supported or c.TLS13 in supported or not result.cipher_suites:
        return None
    if any(p.incomplete for p in result.protocols) or _unknown(result, {c.TLS13}):
        return None  # the deadline left suites or TLS 1.3 unasked: absence is not proven
    kx: dict[str, set[int]] = defaultdict(set)
    for s in result.cipher_suites:
        info = reg.cipher_suite(s.code)
        name = info.kx if info else "unknown"
        if name in _FORWARD_SECRET_KX:
            return None
        kx[name].add(s.version)
    parts = [f"{k} key exchange in {versions(vs)}" for k, vs in sorted(kx.items())]
    return make(
        "tls.no_forward_secrecy",
        "TLSv1.3 is not accepted and no ECDHE/DHE suite is; accepted: " + ", ".join(parts),
    )


def server_violation(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """EndpointResult.anomalies is not empty: the probes recorded a suite chosen that was
    not offered, a version answered that was not asked for, or a ServerHello extension
    sent twice."""
    if not result.anomalies:
        return None
    return make("tls.server_violation", lines(result.anomalies))


def fallback_scsv_missing(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Behaviours.fallback_scsv is False: a lower-version ClientHello carrying
    TLS_FALLBACK_SCSV was accepted instead of refused with inappropriate_fallback (86). A
    hello refused otherwise (another alert, a close, no answer) cannot be downgraded: that
    leaves fallback_scsv None, with "refused without inappropriate_fallback (86)" in
    fallback_detail, and no finding."""
    b = result.behaviours
    if b.fallback_scsv is not False:
        return None
    supported = [v for v in result.supported_versions() if v >= c.TLS10]
    top = max(supported) if supported else None
    lower = sorted((v for v in supported if c.TLS10 <= v < (top or 0)), reverse=True)
    text = "a ClientHello"
    if lower:
        text += f" for {reg.version_name(lower[0])}"
    text += " with TLS_FALLBACK_SCSV"
    if top is not None:
        text += f" (the server supports {reg.version_name(top)})"
    text += f" got: {b.fallback_detail or 'no inappropriate_fallback alert'}; expected alert inappropriate_fallback (86)"
    return make("tls.fallback_scsv_missing", text)


def insecure_renegotiation(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Behaviours.secure_renegotiation is False: the ServerHello of the highest SSL 3.0 to
    TLS 1.2 version has no renegotiation_info extension."""
    if result.behaviours.secure_renegotiation is not False:
        return None
    v = _highest_legacy(result)
    which = f"the {reg.version_name(v)} ServerHello" if v is not None else "the ServerHello"
    return make(
        "tls.insecure_renegotiation",
        f"{which} carries no renegotiation_info extension (RFC 5746) although the "
        "ClientHello offered it",
    )


def compression(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Behaviours.compression is not empty: the server chose a compression method other
    than null."""
    methods = result.behaviours.compression
    if not methods:
        return None
    names = ", ".join(f"{m} ({_COMPRESSION_NAMES.get(m, 'unknown')})" for m in methods)
    v = _highest_legacy(result)
    where = f" in {reg.version_name(v)}" if v is not None else ""
    return make("tls.compression", f"the server chose compression method {names}{where}")


def no_ems(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Behaviours.extended_master_secret is False for a supported TLS 1.0-1.2 version."""
    if result.behaviours.extended_master_secret is not False:
        return None
    v = _highest_legacy(result)
    if v is None:
        return None
    return make(
        "tls.no_ems",
        f"the {reg.version_name(v)} ServerHello carries no extended_master_secret extension "
        "although the ClientHello offered it",
    )



def chacha_priority(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Behaviours.chacha_priority is not empty: with its suites reversed the server took
    the ChaCha20 suite listed first, with ChaCha20 listed last it took its own first."""
    found = result.behaviours.chacha_priority
    if not found:
        return None
    return make(
        "cipher.chacha_priority",
        f"in {versions(found)} the server imposes its order, but chooses ChaCha20-Poly1305 for a "
        "client that lists it first",
    )


# finding id -> the one function that decides it.
RULES: dict[str, Rule] = {
    "protocol.no_common_version": no_common_version,
    "protocol.deprecated": deprecated_protocols,
    "cipher.no_common_suite": no_common_suite,
    "cipher.weak": weak_suites,
    "dh.weak": weak_dh,
    "tls.no_forward_secrecy": no_forward_secrecy,
    "tls.server_violation": server_violation,
    "tls.fallback_scsv_missing": fallback_scsv_missing,
    "tls.insecure_renegotiation": insecure_renegotiation,
    "tls.compression": compression,
    "tls.no_ems": no_ems,
    "cipher.chacha_priority": chacha_priority,
}
