# A Markdown report of a scan, or of a diff between two scans, for a change ticket or a
# review board: a summary, the client compatibility matrix, and per endpoint its facts and
# findings (with evidence, cause and resolution). GitHub-flavoured Markdown (tables).
#
# Rules it keeps: formatting only, from the JSON shape of docs/json.md; the comparisons and
# the client simulations come from scanner.compare, the texts it shares with html.py from
# scanner.report.diff. Markdown has no colour, so severity
# and matrix outcomes carry a symbol as well as a word; every cell's text is escaped.
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scanner.compare import (
    EndpointDiff,
    ScanDiff,
    endpoint_label,
    severity_counts,
    sorted_finding_dicts,
)
from scanner.options import SEVERITIES
from scanner.profiles import ClientProfile
from scanner.report import diff as d
from scanner.report.printable import printable, printable_line
from scanner.report.vulnrows import HEADERS as VULN_HEADERS
from scanner.report.vulnrows import vuln_rows

__all__ = ["render_diff_markdown", "render_scan_markdown"]

SEVERITY_SYMBOLS = {
    "critical": "🟥",
    "high": "🟧",
    "medium": "🟨",
    "low": "🟦",
    "info": "⬜",
}
STATE_SYMBOLS = {
    "ok": "✅",
    "fail": "❌",
    "gained": "🟢",
    "lost": "🔻",
    "changed": "🔄",
    "absent": "➖",
}
_ESCAPED = "\\`*_[]<>|#"


def _esc(text: Any) -> str:
    """Free text made inert: no emphasis, links, HTML or table breaks, no control
    characters (scanner.report.printable)."""
    out = "".join("\\" + ch if ch in _ESCAPED else ch for ch in printable_line(text))
    return out


def _code(text: Any) -> str:
    body = printable_line(str(text).replace("`", "'"))
    return f"`{body}`" if body else ""


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _severity(severity: str) -> str:
    return f"{SEVERITY_SYMBOLS.get(severity, '')} {severity}".strip()


def _counts(endpoint: Mapping[str, Any]) -> str:
    counts = severity_counts(endpoint)
    shown = [f"{SEVERITY_SYMBOLS[s]} {n} {s}" for s in SEVERITIES if (n := counts[s])]
    return ", ".join(shown) or "none"


def _legend(states: Sequence[str]) -> str:
    return " · ".join(f"{STATE_SYMBOLS[s]} {d.STATE_WORDS[s]}" for s in states)


def _matrix(matrix: d.Matrix, states: Sequence[str]) -> str:
    if not matrix.rows or not matrix.columns:
        return "_No client profile or no endpoint to show._"
    headers = ["Client", *(_esc(c) for c in matrix.columns)]
    rows = [
        [_esc(profile.name), *(f"{STATE_SYMBOLS[c.state]} {_esc(c.text)}" for c in cells)]
        for profile, cells in matrix.rows
    ]
    parts = [_legend(states), _table(headers, rows)]
    reasons = matrix.reasons()
    if reasons:
        lines = ["Why clients fail:", ""]
        for column, client, reason in reasons:
            who = "every client" if client is None else _esc(client)
            lines.append(f"- {_esc(column)}, {who}: {_esc(reason)}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _finding_block(f: Mapping[str, Any], heading: str = "####") -> str:
    lines = [
        f"{heading} {_severity(str(f.get('severity', '')))}: {_esc(f.get('title', ''))} "
        f"({_code(f.get('id', ''))})",
        "",
    ]
    for label, key in d.FINDING_FIELDS:
        if f.get(key):
            lines.append(f"- **{label}:** {_esc(f[key])}")
    return "\n".join(lines)


def _endpoint_section(endpoint: Mapping[str, Any]) -> str:
    parts = [f"### {_esc(endpoint_label(endpoint))}"]
    rows = [
        # One value each (a server's string among them): every line break escaped.
        [label, _esc(printable(value)) if isinstance(value, str) else ", ".join(_code(n) for n in value)]
        for label, value in d.endpoint_facts(endpoint)
    ]
    parts.append(_table(["", ""], rows))
    vulns = endpoint.get("vulns") or []
    if vulns:
        # Each cell made printable by vuln_rows, then inert for Markdown here.
        parts.append("**Vulnerabilities**")
        parts.append(_table(list(VULN_HEADERS), [[_esc(cell) for cell in row] for row in vuln_rows(vulns)]))
    findings = sorted_finding_dicts(endpoint)
    if findings:
        parts.append("**Findings**")
        parts += [_finding_block(f) for f in findings]
    else:
        parts.append("No findings.")
    return "\n\n".join(parts)


def render_scan_markdown(
    endpoints: Sequence[Mapping[str, Any]],
    *,
    profiles: Sequence[ClientProfile],
    source: str = "",
    title: str = "TLS compatibility report",
) -> str:
    """The report of one scan. `profiles`: the rows of the compatibility matrix."""
    parts = [f"# {_esc(title)}"]
    intro = f"{len(endpoints)} endpoint{'s' if len(endpoints) != 1 else ''}"
    if source:
        intro = f"Scan: {_code(source)} · {intro}"
    span = d.scanned_span(endpoints)
    if span:
        first, last = span
        intro += f" · scanned {first}" + (f" to {last}" if last != first else "")
    parts.append(intro)
    parts.append("## Summary")
    rows = [[*map(_esc, d.scan_summary_row(e)), _counts(e)] for e in endpoints]
    parts.append(_table(d.SCAN_SUMMARY_HEADERS, rows))
    parts.append("## Client compatibility")
    parts.append(
        f"What each of {len(profiles)} client profiles would negotiate with each endpoint, "
        "computed from the scan (no client connected)."
    )
    parts.append(_matrix(d.scan_matrix(endpoints, profiles), d.SCAN_STATES))
    parts.append("## Endpoints")
    parts += [_endpoint_section(e) for e in endpoints]
    return "\n\n".join(parts) + "\n"


def _change_section(ed: EndpointDiff) -> str:
    parts = [f"### {_esc(d.change_title(ed))}"]
    items = []
    if ed.outcome:
        items.append(f"- **Outcome:** {_esc(ed.outcome.before)} → {_esc(ed.outcome.after)}")
    if ed.protocols_enabled:
        items.append("- **Protocols enabled:** " + ", ".join(_esc(v) for v in ed.protocols_enabled))
    if ed.protocols_disabled:
        items.append(
            "- **Protocols disabled:** " + ", ".join(_esc(v) for v in ed.protocols_disabled)
        )
    for label, changes in (("Cipher suites", ed.cipher_suites), ("Groups", ed.groups)):
        for s in changes:
            if s.added:
                items.append(
                    f"- **{label} {s.version} added:** " + ", ".join(_code(n) for n in s.added)
                )
            if s.removed:
                items.append(
                    f"- **{label} {s.version} removed:** " + ", ".join(_code(n) for n in s.removed)
                )
    for c in ed.certificate:
        items.append(
            f"- **Certificate {c.field}:** {_esc(c.before or '-')} → {_esc(c.after or '-')}"
        )
    if not ed.certificate:
        items.append("- **Certificate:** unchanged")
    parts.append("\n".join(items))
    if ed.findings_new:
        parts.append("**New findings**")
        parts += [_finding_block(f) for f in d.new_findings(ed)]
    if ed.findings_resolved:
        parts.append("**Resolved findings**")
        parts.append(
            "\n".join(
                f"- {_severity(f.severity)}: {_esc(f.title)} ({_code(f.id)})"
                for f in ed.findings_resolved
            )
        )
    rows = [
        [
            f"{STATE_SYMBOLS[c.state]} {c.state}",
            _esc(c.name),
            _esc(d.simulation_text(c.before)),
            _esc(d.simulation_text(c.after)),
        ]
        for c in d.client_changes(ed)
    ]
    if rows:
        parts.append("**Clients**")
        parts.append(_table(["", "Client", "Before", "After"], rows))
    return "\n\n".join(parts)


def render_diff_markdown(
    diff: ScanDiff,
    *,
    profiles: Sequence[ClientProfile] | None = None,
    title: str = "TLS change report",
) -> str:
    """The report of a diff. `profiles`: the rows of the matrix (default selection when
    None); the per-endpoint client changes cover every profile the diff compared."""
    parts = [f"# {_esc(title)}"]
    parts.append(
        f"Before: {_code(diff.before_source or '-')}  \nAfter: {_code(diff.after_source or '-')}"
    )
    counts = d.status_counts(diff)
    parts.append(
        f"{d.count(len(diff.endpoints), 'endpoint')}: **{counts['changed']} changed**, {counts['unchanged']} "
        f"unchanged, {counts['removed']} only before, {counts['added']} only after. "
        f"Across {len(diff.profiles)} client profiles: {counts['clients_lost']} client/endpoint "
        f"pairs lost connectivity, {counts['clients_gained']} gained it."
    )
    parts.append("## Summary")
    rows = [[_esc(text) for text in d.diff_summary_row(ed)] for ed in diff.endpoints]
    parts.append(_table(d.DIFF_SUMMARY_HEADERS, rows))
    parts.append("## Client compatibility")
    parts.append(_matrix(d.diff_matrix(diff, profiles), d.DIFF_STATES))
    changed = diff.by_status("changed")
    if changed:
        parts.append("## Changes")
        parts += [_change_section(ed) for ed in changed]
    return "\n\n".join(parts) + "\n"
