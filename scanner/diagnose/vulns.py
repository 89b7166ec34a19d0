# Findings about named, classic TLS vulnerabilities (issue 18).
#
# Two kinds: the active checks (Heartbleed, CCS injection, ROBOT) quote the verdict and the
# evidence scanner/probes/vulns.py recorded in EndpointResult.vulns; the derived ones
# (SWEET32, RC4, export, NULL, anonymous, POODLE, BEAST, CRIME, LUCKY13) read what the scan
# already knows (accepted suites, versions, compression) and cost no connection. Each is
# worded for what was observed: a precondition is called a precondition (LUCKY13), a
# client-side attack says so (BEAST). Each function cites the advisory or paper it follows.
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

from handshakes import constants as c
from handshakes import registry as reg
from scanner.diagnose.common import Rule, lines, make
from scanner.results import EndpointResult, Finding, VulnCheck

if TYPE_CHECKING:
    from scanner.options import ScanOptions

# Block ciphers with a 64-bit block (SWEET32's precondition).
_64BIT_BLOCK = frozenset({"3DES", "DES", "RC2", "IDEA"})
# Block ciphers used in CBC mode when the suite is not AEAD.
_CBC_CIPHERS = frozenset({"AES", "CAMELLIA", "ARIA", "3DES", "DES", "SEED", "RC2", "IDEA"})


def _is_cbc(code: int) -> bool:
    info = reg.cipher_suite(code)
    return info is not None and info.enc in _CBC_CIPHERS and info.mac != "AEAD"


def _suites_where(result: EndpointResult, pred: Callable[[int], bool]) -> dict[int, list[str]]:
    """Accepted suites matching ``pred``, by version, as names."""
    out: dict[int, list[str]] = defaultdict(list)
    for s in result.cipher_suites:
        if pred(s.code):
            out[s.version].append(reg.cipher_suite_name(s.code))
    return out


def _listing(by_version: dict[int, list[str]]) -> str:
    return lines(
        f"{reg.version_name(v)}: " + ", ".join(dict.fromkeys(by_version[v]))
        for v in sorted(by_version, reverse=True)
    )


def _check(result: EndpointResult, name: str) -> VulnCheck | None:
    return next((v for v in result.vulns if v.check == name), None)


def _vuln(result: EndpointResult, name: str, finding_id: str, *, severity: str | None = None) -> Finding | None:
    check = _check(result, name)
    if check is None or check.status != "vulnerable":
        return None
    where = f"{reg.version_name(check.version)}: " if check.version is not None else ""
    return make(finding_id, where + check.evidence, severity=severity)


# -- active checks ---------------------------------------------------------------------------


def heartbleed(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """CVE-2014-0160 (OpenSSL advisory 2014-04-07): the heartbleed check is vulnerable: a
    heartbeat request declaring more payload than it carried was answered with more bytes
    than were sent."""
    return _vuln(result, "heartbleed", "vuln.heartbleed")


def ccs_injection(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """CVE-2014-0224 (OpenSSL advisory 2014-06-05): a ChangeCipherSpec sent before any key
    exchange was accepted (the next record was refused as undecryptable instead of the CCS
    being refused with unexpected_message)."""
    return _vuln(result, "ccs_injection", "vuln.ccs_injection")


def robot(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """ROBOT (Böck, Somorovsky, Young, USENIX Security 2018): the RSA key exchange answers
    differ by PKCS#1 padding, consistently over two runs. Severity high for a strong
    oracle, medium for a weak one."""
    check = _check(result, "robot")
    if check is None or check.status != "vulnerable":
        return None
    finding = _vuln(result, "robot", "vuln.robot", severity="high" if check.oracle == "strong" else "medium")
    if finding is None:
        return None
    from dataclasses import replace

    return replace(finding, evidence=f"{check.oracle} oracle; {finding.evidence}")


def client_renegotiation(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """CVE-2011-1473 (THC-SSL-DOS): after a completed TLS 1.2 handshake, a renegotiating
    ClientHello (RFC 5746 section 3.5) was answered with a ServerHello."""
    return _vuln(result, "client_renegotiation", "vuln.client_renegotiation")


def ticketbleed(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """CVE-2016-9244 (F5 K05121675): resuming the session ticket with a 31-byte session ID
    got back a longer session ID that starts with the one sent."""
    return _vuln(result, "ticketbleed", "vuln.ticketbleed")


def zero_rtt(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """RFC 8446 section 8: a TLS 1.3 session ticket offers early data and resuming it with
    early_data offered (no early data sent) got early_data in EncryptedExtensions."""
    return _vuln(result, "zero_rtt", "vuln.zero_rtt")


def inconclusive(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """An active check ran and could not decide (no answer, an unexpected answer, or
    ROBOT's answers differing between two runs): says which and what was seen."""
    parts = [
        f"{v.check}: {v.evidence}" for v in result.vulns if v.status == "inconclusive"
    ]
    if not parts:
        return None
    return make("vuln.inconclusive", lines(parts))


# -- derived from the scan, no connection ----------------------------------------------------


def sweet32(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """SWEET32, CVE-2016-2183 (Bhargavan and Leurent, CCS 2016): a suite with a 64-bit
    block cipher (3DES, DES, RC2, IDEA) is accepted."""
    found = _suites_where(result, lambda s: (i := reg.cipher_suite(s)) is not None and i.enc in _64BIT_BLOCK)
    return make("vuln.sweet32", "64-bit block cipher suites accepted: " + _listing(found)) if found else None


def rc4(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """RC4 biases, CVE-2013-2566 and CVE-2015-2808; RFC 7465 prohibits RC4 suites."""
    found = _suites_where(result, lambda s: (i := reg.cipher_suite(s)) is not None and i.enc == "RC4")
    return make("vuln.rc4", "RC4 suites accepted: " + _listing(found)) if found else None


def export(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Export-grade suites accepted: FREAK (CVE-2015-0204) for RSA export, Logjam
    (CVE-2015-4000) for DHE export."""
    found = _suites_where(result, lambda s: (i := reg.cipher_suite(s)) is not None and i.is_export)
    return make("vuln.export", "export-grade suites accepted: " + _listing(found)) if found else None


def null_suites(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """NULL-encryption suites accepted (RFC 5246 appendix F.1: no confidentiality)."""
    found = _suites_where(result, lambda s: (i := reg.cipher_suite(s)) is not None and i.is_null)
    return make("vuln.null", "suites without encryption accepted: " + _listing(found)) if found else None


def anonymous(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Anonymous (unauthenticated) key exchange suites accepted (RFC 5246 appendix
    F.1.1.1: open to a man in the middle)."""
    found = _suites_where(result, lambda s: (i := reg.cipher_suite(s)) is not None and i.is_anonymous)
    return make("vuln.anon", "anonymous suites accepted: " + _listing(found)) if found else None


def poodle(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """POODLE, CVE-2014-3566 (Möller, Duong, Kotowicz, 2014): SSL 3.0 accepted with a CBC
    suite. SSL 3.0's CBC padding is not covered by the MAC (RFC 7568)."""
    found = {v: s for v, s in _suites_where(result, _is_cbc).items() if v == c.SSL3}
    if found:
        return make("vuln.poodle", "SSL 3.0 CBC suites accepted: " + _listing(found))
    return None


def beast(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """BEAST, CVE-2011-3389 (Duong and Rizzo, 2011): CBC suites accepted in TLS 1.0 or SSL
    3.0 (predictable IV). The attack runs against clients; current clients split records
    (1/n-1) and are not affected. Worded as a client-side precondition."""
    found = {v: s for v, s in _suites_where(result, _is_cbc).items() if v in (c.TLS10, c.SSL3)}
    if not found:
        return None
    return make(
        "vuln.beast",
        "CBC suites accepted in " + _listing(found)
        + " (a client-side attack: only clients without record splitting are exposed)",
    )


def crime(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """CRIME, CVE-2012-4929 (Rizzo and Duong, 2012): the vulns family's Heartbleed hello
    offered DEFLATE and null compression, and the server chose DEFLATE (no extra
    connection: the same hello)."""
    return _vuln(result, "crime", "vuln.crime")


def lucky13(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """LUCKY13, CVE-2013-0169 (AlFardan and Paterson, IEEE S&P 2013): CBC suites are
    accepted in TLS. This is the attack's precondition only; whether the server's MAC
    check leaks timing cannot be told by a scan, so this is never a verdict."""
    found = {v: s for v, s in _suites_where(result, _is_cbc).items() if v >= c.TLS10}
    if not found:
        return None
    return make("vuln.lucky13", "CBC suites offered (a precondition, not a verdict): " + _listing(found))


RULES: dict[str, Rule] = {
    "vuln.heartbleed": heartbleed,
    "vuln.ccs_injection": ccs_injection,
    "vuln.robot": robot,
    "vuln.client_renegotiation": client_renegotiation,
    "vuln.ticketbleed": ticketbleed,
    "vuln.zero_rtt": zero_rtt,
    "vuln.inconclusive": inconclusive,
    "vuln.sweet32": sweet32,
    "vuln.rc4": rc4,
    "vuln.export": export,
    "vuln.null": null_suites,
    "vuln.anon": anonymous,
    "vuln.poodle": poodle,
    "vuln.beast": beast,
    "vuln.crime": crime,
    "vuln.lucky13": lucky13,
}
