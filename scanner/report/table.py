# Human-readable text for one endpoint (render_endpoint) and for a multi-endpoint run
# (render_summary), as tabulate tables.
#
# Rules it keeps: formatting only. Every fact shown is evidence from the result or a name
# looked up in handshakes.registry; what a result *means* is decided in scanner/diagnose and
# arrives here as Findings. Unknown codes are shown as hex, empty results render without
# crashing, every list is put in a fixed order, and colour (ANSI) appears only when asked.
from __future__ import annotations

import contextvars
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from handshakes import registry as reg
from scanner.outcome_text import clean_detail
from scanner.report.order import severity_rank as severity_rank  # re-exported
from scanner.report.order import version_order as version_order  # re-exported
from scanner.report.printable import counted, printable, printable_text
from scanner.report.terminal import GREEN, RED, RESET, SEVERITY_COLOURS, Style, fit_table
from scanner.report.vulnrows import HEADERS as VULN_HEADERS
from scanner.report.vulnrows import vuln_rows
from scanner.results import (
    Behaviours,
    ChainResult,
    ClientAuthResult,
    ClientCertAttempt,
    EndpointResult,
    Finding,
    ProbeLog,
    ProtocolResult,
    StartTLSResult,
    SuiteResult,
    to_json,
)

__all__ = [
    "days_left",
    "highest_version",
    "version_order",
    "render_endpoint",
    "render_summary",
    "severity_rank",
    "sorted_findings",
]

WEAK_MARKER = "!"
# The order of CipherSuite.weaknesses, for the legend.
_WEAKNESS_ORDER = ("null", "anonymous", "export", "rc4", "des", "3des", "md5")
_TABLE_FORMAT = "simple"
_SLOWEST = 5

# The colours are scanner.report.terminal's, shared by every command.
_ANSI_RESET = RESET
_SEVERITY_COLOURS = SEVERITY_COLOURS

# Compression methods (IANA TLS Compression Method Identifiers; RFC 3749, RFC 3943).
_COMPRESSION_NAMES = {0: "null", 1: "DEFLATE", 64: "LZS"}


# -- Small helpers shared with csvout ----------------------------------------------------


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (severity_rank(f.severity), f.id, f.title))


def highest_version(result: EndpointResult) -> int | None:
    """The newest known version supported (an unknown one only when nothing else is)."""
    versions = result.supported_versions()
    return min(versions, key=version_order) if versions else None


def days_left(not_after: datetime, now: datetime) -> int:
    """Whole days from `now` to `not_after` (negative once expired). Naive datetimes are UTC."""
    if not_after.tzinfo is None:
        not_after = not_after.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return (not_after - now).days


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


# The terminal width while render_endpoint runs (None: a file or a pipe, no wrapping).
_WIDTH: contextvars.ContextVar[int | None] = contextvars.ContextVar("table_width", default=None)


def _fit(rows: list[list[Any]], headers: Sequence[str] | None, tablefmt: str, indent: int = 2) -> str:
    """tabulate, kept within the terminal width of this render (when there is one)."""
    return fit_table(rows, headers, width=_WIDTH.get(), tablefmt=tablefmt, indent=indent)


def _cells(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    # Every cell through the one sanitizer (scanner.report.printable): a server string
    # cannot clear the screen or set the title from inside a table.
    return [[printable_text(c) if isinstance(c, str) else c for c in row] for row in rows]


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    return _fit(_cells(rows), headers, _TABLE_FORMAT)


def _fields(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column "name  value" block without headers."""
    return _fit(_cells(rows), None, "plain", indent=6)


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _section(title: str, body: str) -> str:
    return f"{title}\n{'-' * len(title)}\n{body}"


def _severity(severity: str, color: bool) -> str:
    code = _SEVERITY_COLOURS.get(severity) if color else None
    return f"{code}{severity}{_ANSI_RESET}" if code else severity


def _yes_no(value: bool | None, *, unknown: str = "not tested") -> str:
    if value is None:
        return unknown
    return "yes" if value else "no"


def _alert(code: int | None) -> str:
    return "" if code is None else f"{reg.alert_name(code)} ({code})"


def _join(items: Iterable[str], sep: str = ", ", empty: str = "-") -> str:
    text = sep.join(items)
    return text if text else empty


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    """Fields of values typed Any in results.py (decoded certificates, validation and
    revocation verdicts): read with getattr so that a missing field shows as absent.
    Text is made printable here: these fields hold what the server sent (names, errors)."""
    value = getattr(obj, name, default) if obj is not None else default
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
        return tuple(printable(v) for v in value)
    return value


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# -- One endpoint ------------------------------------------------------------------------


def render_endpoint(
    result: EndpointResult,
    *,
    verbose: bool = False,
    color: bool = False,
    now: datetime | None = None,
    width: int | None = None,
) -> str:
    """The whole report for one endpoint. `now` fixes the clock for "days left". `width`:
    the terminal's, to keep every table within it (None: no wrapping, for files/pipes)."""
    token = _WIDTH.set(width)
    try:
        return _render_endpoint(result, verbose=verbose, color=color, now=now)
    finally:
        _WIDTH.reset(token)


def _render_endpoint(result: EndpointResult, *, verbose: bool, color: bool, now: datetime | None) -> str:
    moment = _now(now)
    parts = [_header(result)]
    if result.starttls is not None:
        parts.append(_section("Before TLS", _starttls(result.starttls)))
    if result.protocols:
        parts.append(_section("Protocols", _protocols(result.protocols, color)))
    if result.cipher_suites:
        parts.append(_section("Cipher suites", _suites(result, color)))
    if result.groups or result.dh_bits:
        parts.append(_section("Key exchange groups", _groups(result)))
    if result.certificates:
        parts.append(_section("Certificates", _chains(result.certificates, moment)))
    if result.client_auth:
        parts.append(_section("Client authentication", _client_auth(result.client_auth)))
    if result.client_certificates:
        parts.append(
            _section("Client certificates tried", _client_certs(result.client_certificates))
        )
    if result.anomalies:
        parts.append(_section("Anomalies", "\n".join(f"- {a}" for a in result.anomalies)))
    if result.behaviours != Behaviours():
        parts.append(_section("Behaviours", _behaviours(result.behaviours)))
    if result.tolerance:
        parts.append(_section("Tolerance", _tolerance(result)))
    if result.vulns:
        parts.append(_section("Vulnerabilities", _vulns(result)))
    if result.findings:
        parts.append(_section("Findings", _findings(result.findings, verbose, color)))
    if verbose and result.probes:
        parts.append(_section("Probe log", _probes(result.probes)))
    return printable_text("\n\n".join(parts) + "\n")


def _header(result: EndpointResult) -> str:
    stats = result.stats
    line = _address(result)
    line += f"  ip {result.ip or '-'}  sni {result.sni or '-'}  outcome {result.outcome}"
    lines = [line]
    if result.detail:
        lines.append(f"detail: {printable(clean_detail(result.outcome, result.detail))}")
    lines.append(
        f"{counted(stats.connections, 'connection')}, {counted(stats.bytes_sent, 'byte')} sent, "
        f"{counted(stats.bytes_received, 'byte')} received, {stats.duration_s:.2f} s"
    )
    if result.started:
        lines.append(f"started {result.started}")
    if result.tags:
        lines.append("tags: " + ", ".join(sorted(result.tags)))
    return "\n".join(lines)


def _protocol_evidence(p: ProtocolResult) -> str:
    if p.negotiated is not None and p.negotiated != p.version:
        text = f"answered {reg.version_name(p.negotiated)} instead"
        if p.detail and p.detail.endswith(f"answered {reg.version_name(p.negotiated)}"):
            return f"{text} ({p.incomplete})" if p.incomplete else text  # the detail says it again
    elif p.alert is not None:
        text = f"alert {_alert(p.alert)}"
    else:
        text = p.outcome
    # Probes often repeat the outcome or the alert in the detail: show it once.
    detail = clean_detail(p.outcome, p.detail)
    text = f"{text}: {detail}" if detail and detail not in text else text
    return f"{text} ({p.incomplete})" if p.incomplete else text


# Colours by strength, as testssl.sh users read them: current versions green, deprecated
# ones red when offered (RFC 8996 deprecates TLS 1.0 and 1.1; RFC 7568 SSL 3.0).
_GREEN, _RED = GREEN, RED
_CURRENT_VERSIONS = (0x0304, 0x0303)


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_ANSI_RESET}" if color else text


def _protocols(protocols: Sequence[ProtocolResult], color: bool = False) -> str:
    def supported(p: ProtocolResult) -> str:
        if not p.supported:
            return "no"
        return _paint("yes", _GREEN if p.version in _CURRENT_VERSIONS else _RED, color)

    rows = [
        (reg.version_name(p.version), supported(p), _protocol_evidence(p))
        for p in sorted(protocols, key=lambda p: version_order(p.version))
    ]
    return _table(rows, ("Version", "Supported", "Evidence"))


def _server_order(behaviours: Behaviours) -> dict[int, bool]:
    return dict(behaviours.server_preference)


def _suite_key_exchange(suite: SuiteResult, info: reg.CipherSuite | None) -> str:
    kx = info.kx if info is not None else "?"
    if suite.group is not None:
        kx += f" {reg.group_name(suite.group)}"
    if suite.dh_bits is not None:
        kx += f" {suite.dh_bits} bits"
    return kx


def _suites(result: EndpointResult, color: bool = False) -> str:
    order = _server_order(result.behaviours)
    blocks: list[str] = []
    weak_seen: set[str] = set()
    for version in sorted({s.version for s in result.cipher_suites}, key=version_order):
        suites = sorted(
            (s for s in result.cipher_suites if s.version == version),
            key=lambda s: (s.preference is None, s.preference or 0, s.code),
        )
        rows = []
        for s in suites:
            info = reg.cipher_suite(s.code)
            weak = info.weaknesses if info is not None else ()
            weak_seen.update(weak)
            rows.append(
                (
                    "-" if s.preference is None else str(s.preference),
                    reg.hex_code(s.code, 6 if s.code > 0xFFFF else 4),
                    _paint(reg.cipher_suite_name(s.code), _RED, color) if weak else reg.cipher_suite_name(s.code),
                    _suite_key_exchange(s, info),
                    info.enc if info is not None else "?",
                    str(info.bits) if info is not None else "?",
                    f"{WEAK_MARKER} {' '.join(weak)}" if weak else "",
                )
            )
        imposes = order.get(version)
        if imposes is None:
            order_text = "server order not tested"
        elif imposes:
            order_text = "the server imposes its order"
        else:
            order_text = "the server follows the client's order"
        title = f"{reg.version_name(version)} ({_count(len(rows), 'suite')}; {order_text})"
        table = _table(rows, ("Pref", "Code", "Name", "Key exchange", "Encryption", "Bits", "Weak"))
        blocks.append(f"{title}\n{_indent(table)}")
    if weak_seen:
        kinds: list[str] = [w for w in _WEAKNESS_ORDER if w in weak_seen]
        kinds += sorted(weak_seen - set(kinds))
        blocks.append(f"{WEAK_MARKER} weak cipher suite ({', '.join(kinds)}); see the findings")
    return "\n\n".join(blocks)


def _groups(result: EndpointResult) -> str:
    parts: list[str] = []
    if result.groups:
        groups = sorted(
            result.groups,
            key=lambda g: (
                version_order(g.version),
                g.preference is None,
                g.preference or 0,
                g.code,
            ),
        )
        rows = [
            (
                reg.version_name(g.version),
                "-" if g.preference is None else str(g.preference),
                reg.group_name(g.code),
                reg.hex_code(g.code),
            )
            for g in groups
        ]
        parts.append(_table(rows, ("Version", "Pref", "Group", "Code")))
    if result.dh_bits:
        bits = ", ".join(str(b) for b in sorted(set(result.dh_bits)))
        parts.append(f"DHE parameters seen: {bits} bits")
    return "\n\n".join(parts)


# -- Certificates ------------------------------------------------------------------------


def _validity(cert: Any, now: datetime) -> str:
    not_before = _attr(cert, "not_before")
    not_after = _attr(cert, "not_after")
    if not isinstance(not_before, datetime) or not isinstance(not_after, datetime):
        return "-"
    span = f"{not_before:%Y-%m-%d} to {not_after:%Y-%m-%d}"
    if days_left(not_before, now) > 0:
        return f"{span} (not yet valid)"
    days = days_left(not_after, now)
    if days < 0:
        return f"{span} (expired {-days} days ago)"
    return f"{span} ({days} days left)"


def _key(cert: Any) -> str:
    text = f"{_attr(cert, 'key_type', '?')} {_attr(cert, 'key_bits', '?')} bits"
    curve = _attr(cert, "key_curve")
    return f"{text} ({curve})" if curve else text


def _certificate_rows(cert: Any, now: datetime) -> list[tuple[str, str]]:
    sans = [*(_attr(cert, "san_dns", ()) or ()), *(_attr(cert, "san_ip", ()) or ())]
    flags = [
        name
        for name, on in (
            ("CA", _attr(cert, "is_ca")),
            ("self-signed", _attr(cert, "self_signed")),
            ("must-staple", _attr(cert, "must_staple")),
        )
        if on
    ]
    rows = [
        ("Subject", _attr(cert, "subject", "?")),
        ("Issuer", _attr(cert, "issuer", "?")),
        ("SANs", _join(sans)),
        ("Validity", _validity(cert, now)),
        ("Key", _key(cert)),
        ("Signature", str(_attr(cert, "signature_algorithm", "?"))),
        ("Key usage", _join(_attr(cert, "key_usage", ()) or ())),
        ("EKU", _join(_attr(cert, "extended_key_usage", ()) or ())),
        ("OCSP", _join(_attr(cert, "ocsp_urls", ()) or ())),
        ("CA issuers", _join(_attr(cert, "ca_issuers_urls", ()) or ())),
        ("CRL", _join(_attr(cert, "crl_urls", ()) or ())),
        ("SHA-256", str(_attr(cert, "sha256", "?"))),
    ]
    if flags:
        rows.insert(2, ("Flags", ", ".join(flags)))
    broken = _attr(cert, "broken_extensions", ()) or ()
    if broken:
        rows.append(("Unparsed extensions", ", ".join(broken)))
    return rows


def _validation(validation: Any) -> list[tuple[str, str]]:
    if validation is None:
        return []
    trusted = _attr(validation, "trusted")
    hostname_ok = _attr(validation, "hostname_ok")
    hostname = _attr(validation, "hostname")
    matches = _yes_no(hostname_ok, unknown="not checked")
    verdict = _yes_no(trusted, unknown="unknown")
    profile = _attr(validation, "profile")
    if trusted and profile == "rfc5280":
        verdict += " (RFC 5280 path validation; root from --ca-file)"
    elif trusted and profile == "webpki":
        verdict += " (WebPKI profile; root from the system store)"
    rows = [
        ("Trusted", verdict),
        ("Hostname matches", f"{matches} ({hostname})" if hostname else matches),
    ]
    problems = _attr(validation, "problems", ()) or ()
    if problems:
        rows.append(("Problems", ", ".join(str(p) for p in problems)))
    details = _attr(validation, "details", ()) or ()
    if details:
        rows.append(("Details", "\n".join(str(d) for d in details)))
    error = _attr(validation, "error")
    if error:
        rows.append(("Error", str(error)))
    rules = _attr(validation, "webpki_rules", ()) or ()
    if rules:
        rows.append(("WebPKI", "strict WebPKI verifiers refuse it: " + "; ".join(str(r) for r in rules)))
    missing = _attr(validation, "missing_issuer")
    if missing:
        url = _attr(validation, "missing_issuer_url")
        text = str(missing) if missing is not True else "yes"
        rows.append(("Missing issuer", f"{text} (fetch from {url})" if url else text))
    return rows


def _revocation(revocation: Any) -> list[tuple[str, str]]:
    if revocation is None:
        return []
    status = str(_attr(revocation, "status", "?"))
    method = _attr(revocation, "method")
    detail = _attr(revocation, "detail")
    text = f"{status} ({method})" if method else status
    rows = [("Revocation", f"{text}: {detail}" if detail else text)]
    revoked_at = _attr(revocation, "revoked_at")
    if revoked_at is not None:
        reason = _attr(revocation, "reason")
        rows.append(("Revoked at", f"{revoked_at} ({reason})" if reason else str(revoked_at)))
    return rows


def _chains(chains: Sequence[ChainResult], now: datetime) -> str:
    blocks: list[str] = []
    for number, chain in enumerate(chains, 1):
        versions = _join(reg.version_name(v) for v in sorted(chain.versions, key=version_order))
        head = (
            f"Chain {number}: {versions}; SNI {chain.sni or '(none)'}; "
            f"{chain.key_type} key; {_count(len(chain.der), 'certificate')} sent"
        )
        lines = [head]
        summary = _validation(chain.validation) + _revocation(chain.revocation)
        if chain.stapled_ocsp is not None:
            summary.append(("Stapled OCSP", f"{len(chain.stapled_ocsp)} bytes"))
        if summary:
            lines.append(_indent(_fields(summary)))
        for index, cert in enumerate(chain.certificates):
            role = "leaf" if index == 0 else f"#{index}"
            lines.append(f"  Certificate {role}")
            lines.append(_indent(_fields(_certificate_rows(cert, now)), "    "))
        if not chain.certificates and chain.der:
            lines.append("  (certificates not decoded)")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# -- Client authentication ---------------------------------------------------------------


def _client_auth(entries: Sequence[ClientAuthResult]) -> str:
    rows = [
        (
            reg.version_name(c.version),
            c.mode,
            _join(sorted(printable(n) for n in c.certificate_authorities), sep="\n"),
            printable(c.detail),
        )
        for c in sorted(entries, key=lambda c: version_order(c.version))
    ]
    return _table(rows, ("Version", "Mode", "Acceptable CAs", "Detail"))


def _client_certs(attempts: Sequence[ClientCertAttempt]) -> str:
    ordered = sorted(
        attempts,
        key=lambda a: (a.label, a.version is None, version_order(a.version or 0), a.subject),
    )
    rows = [
        (
            a.label,
            reg.version_name(a.version) if a.version is not None else "-",
            printable(a.subject),
            a.verdict,
            _alert(a.alert),
            a.stage,
            printable(a.detail),
        )
        for a in ordered
    ]
    return _table(
        rows, ("Certificate", "Version", "Subject", "Verdict", "Alert", "Stage", "Detail")
    )


# -- Behaviours, findings, probes --------------------------------------------------------


def _with_detail(text: str, detail: str) -> str:
    return f"{text} ({detail})" if detail else text


def _behaviours(b: Behaviours) -> str:
    if not b.alpn_checked:
        alpn = "not tested"
    else:
        alpn = _join(b.alpn, empty="none accepted")
    compression = _join(
        (_COMPRESSION_NAMES.get(c) or reg.hex_code(c, 2)) for c in sorted(b.compression)
    )
    if not b.compression:
        compression = "none (null only)"
    order = [
        f"{reg.version_name(v)} {'yes' if imposes else 'no'}"
        for v, imposes in sorted(b.server_preference, key=lambda item: version_order(item[0]))
    ]
    rows = [
        ("ALPN", alpn),
        ("Secure renegotiation", _yes_no(b.secure_renegotiation)),
        ("Extended master secret", _yes_no(b.extended_master_secret)),
        ("Encrypt-then-MAC", _with_detail(_yes_no(b.encrypt_then_mac), b.encrypt_then_mac_detail)),
        ("Session tickets", _yes_no(b.session_ticket)),
        ("OCSP stapling", _yes_no(b.ocsp_stapling)),
        ("TLS_FALLBACK_SCSV honoured", _with_detail(_yes_no(b.fallback_scsv), b.fallback_detail)),
        ("Compression", compression),
        ("Server cipher order", _join(order, empty="not tested") + (
            f" (ChaCha20 first for clients that prefer it: {_join(reg.version_name(v) for v in b.chacha_priority)})"
            if b.chacha_priority else ""
        )),
        ("SNI required", _with_detail(_yes_no(b.sni_required), b.sni_detail)),
        ("TLS 1.3 downgrade sentinel", _yes_no(b.downgrade_sentinel)),
    ]
    return _fields(rows)


def _starttls(st: StartTLSResult) -> str:
    """The pre-TLS dialogue (issue 13): what the server announced, how it ended. The
    server's words are shown printable (escaped), never raw."""
    ended = "the server agreed to start TLS" if st.outcome == "ok" else f"{st.outcome}: {st.detail}"
    rows = [
        ("Dialogue", st.protocol),
        ("Result", _printable(ended)),
        ("Banner", _printable(st.banner) or "-"),
        ("Capabilities", _printable(", ".join(st.capabilities)) or "-"),
    ]
    if st.server_version:
        rows.append(("Server version", _printable(st.server_version)))
    rows.append(("Authentication before TLS", _printable(", ".join(st.plaintext_auth)) or "none offered"))
    if st.throttled:
        rows.append(("Throttled", f"{counted(st.throttled, 'connection')} turned away, retried after a pause"))
    return _fields(rows)


def _printable(text: str, limit: int = 300) -> str:
    """A server's words on one line (CR LF shown as " / "), escaped by the one sanitizer
    (scanner.report.printable), cut at ``limit`` characters."""
    out = printable(text.replace("\r\n", " / ").strip())
    return out if len(out) <= limit else out[: limit - 3] + "..."


def _tolerance(result: EndpointResult) -> str:
    """The tolerance probes' verdicts (issue 11): one row per check."""
    rows = [
        (t.name, reg.version_name(t.version), "ok" if t.tolerated else "FAILS", t.detail)
        for t in result.tolerance
    ]
    return _table(rows, ("Check", "Version", "Verdict", "What the server did"))


def _vulns(result: EndpointResult) -> str:
    """The active checks, one row each (scanner.report.vulnrows: sanitized there)."""
    return _table(vuln_rows(to_json(v) for v in result.vulns), VULN_HEADERS)


def _findings(findings: Sequence[Finding], verbose: bool, color: bool) -> str:
    ordered = sorted_findings(findings)
    rows = [(_severity(f.severity, color), f.id, f.title) for f in ordered]
    text = _table(rows, ("Severity", "ID", "Title"))
    if not verbose:
        return text
    blocks = [text]
    for f in ordered:
        details = [
            (label, text)
            for label, text in (
                ("Evidence", f.evidence),
                ("Cause", f.cause),
                ("Resolution", f.resolution),
                ("Windows error", f.windows_error or ""),
            )
            if text
        ]
        # The headline wrapped as prose on a terminal, under the start of the id.
        headline = Style(width=_WIDTH.get()).hanging(f"[{_severity(f.severity, color)}] ", f"{f.id}: {f.title}")
        blocks.append(headline + "\n" + _indent(_fields(details)))
    return "\n\n".join(blocks)


def _probes(probes: Sequence[ProbeLog]) -> str:
    rows = [
        (
            p.name,
            p.offered,
            p.outcome,
            printable(clean_detail(p.outcome, p.detail)),
            str(p.bytes_sent),
            str(p.bytes_received),
            f"{p.duration_s * 1000:.0f}",
        )
        for p in probes  # in the order they ran
    ]
    return _table(rows, ("Probe", "Offered", "Outcome", "Detail", "Sent", "Received", "ms"))


# -- Many endpoints ----------------------------------------------------------------------


def render_summary(results: Sequence[EndpointResult], *, color: bool = False) -> str:
    """Totals for a multi-endpoint run: outcomes, highest protocols, findings, slowest."""
    parts = [counted(len(results), "endpoint")]
    if not results:
        return parts[0] + "\n"

    outcomes = Counter(r.outcome for r in results)
    rows: list[tuple[str, ...]] = [
        (name, str(n)) for name, n in sorted(outcomes.items(), key=lambda i: (-i[1], i[0]))
    ]
    parts.append(_section("By outcome", _table(rows, ("Outcome", "Endpoints"))))

    highest = Counter(highest_version(r) for r in results)
    rows = [
        (reg.version_name(v) if v is not None else "none", str(n))
        for v, n in sorted(highest.items(), key=lambda i: (i[0] is None, version_order(i[0] or 0)))
    ]
    parts.append(_section("By highest protocol", _table(rows, ("Highest protocol", "Endpoints"))))

    # Each endpoint counts once per finding id, however many times it reported it.
    counts = Counter(pair for r in results for pair in {(f.severity, f.id) for f in r.findings})
    if counts:
        ordered = sorted(counts.items(), key=lambda i: (severity_rank(i[0][0]), -i[1], i[0][1]))
        rows = [(_severity(sev, color), fid, str(n)) for (sev, fid), n in ordered]
        parts.append(_section("Findings", _table(rows, ("Severity", "ID", "Endpoints"))))

    slowest = sorted(results, key=lambda r: (-r.stats.duration_s, r.host, r.port))[:_SLOWEST]
    rows = [
        (_address(r), r.outcome, f"{r.stats.duration_s:.2f}", str(r.stats.connections))
        for r in slowest
    ]
    parts.append(
        _section(
            "Slowest endpoints", _table(rows, ("Endpoint", "Outcome", "Seconds", "Connections"))
        )
    )
    return printable_text("\n\n".join(parts) + "\n")


def _address(result: EndpointResult) -> str:
    """host:port, with an IPv6 address in brackets ([::1]:443) so the port is unambiguous."""
    host = f"[{result.host}]" if ":" in result.host else result.host
    return f"{host}:{result.port}"
