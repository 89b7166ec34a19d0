# A self-contained HTML report of a scan, or of a diff between two scans: the same content
# as markdown.py, for a browser or a printed change-approval pack. One file, viewable
# offline: the CSS is inline, and there are no scripts, fonts, images or other resources
# (a Content-Security-Policy of default-src 'none' makes any that slipped in fail to load).
#
# Rules it keeps: formatting only, from the JSON shape of docs/json.md, with comparisons
# and simulations from scanner.compare and the texts it shares with markdown.py from
# scanner.report.diff. Every text is escaped (html.escape); colour
# never carries meaning alone (each cell and badge also says it in words or a symbol).
from __future__ import annotations

import html
import re
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

__all__ = ["render_diff_html", "render_scan_html"]

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #1b1f24; margin: 24px; max-width: 1400px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 2px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 22px 0 6px; }
p.meta { color: #57606a; margin: 0 0 12px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       background: #f3f4f6; padding: 1px 4px; border-radius: 4px; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
table.facts th { width: 11em; }
.scroll { overflow-x: auto; }
table.matrix td, table.matrix th { white-space: nowrap; font-size: 13px; }
table.matrix th.client { position: sticky; left: 0; z-index: 1; }
.cell-ok { background: #dafbe1; color: #0f5323; }
.cell-fail { background: #ffebe9; color: #82071e; }
.cell-lost { background: #cf222e; color: #ffffff; font-weight: 600; }
.cell-gained { background: #1a7f37; color: #ffffff; font-weight: 600; }
.cell-changed { background: #fff8c5; color: #4d2d00; }
.cell-absent { background: #f6f8fa; color: #57606a; }
.legend span, span.state { display: inline-block; margin: 0 10px 4px 0; padding: 1px 8px;
       border: 1px solid #d0d7de; border-radius: 3px; white-space: nowrap; }
.sev { display: inline-block; min-width: 5.5em; text-align: center; padding: 1px 6px;
       border-radius: 10px; font-size: 12px; font-weight: 600; text-transform: uppercase; }
.sev-critical { background: #82071e; color: #ffffff; }
.sev-high { background: #cf222e; color: #ffffff; }
.sev-medium { background: #bf8700; color: #ffffff; }
.sev-low { background: #0969da; color: #ffffff; }
.sev-info { background: #eaeef2; color: #24292f; }
div.finding { border-left: 4px solid #d0d7de; padding: 2px 0 2px 12px; margin: 10px 0; }
div.finding.critical { border-color: #82071e; }
div.finding.high { border-color: #cf222e; }
div.finding.medium { border-color: #bf8700; }
div.finding.low { border-color: #0969da; }
div.finding p { margin: 3px 0; }
div.finding .title { font-weight: 600; }
ul.why li { margin: 2px 0; }
.added { color: #1a7f37; }
.removed { color: #cf222e; }
@media print { .scroll { overflow: visible; } body { margin: 8mm; } }
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'"

STATE_SYMBOLS = {
    "ok": "✓",
    "fail": "✗",
    "gained": "▲",
    "lost": "▼",
    "changed": "↻",
    "absent": "–",
}


def _e(text: Any) -> str:
    # HTML shows a newline as a space: say so (our own line breaks), and make a server's
    # CR LF and every other control visible (scanner.report.printable).
    return html.escape(printable_line(text), quote=True)


_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def _prose(text: Any) -> str:
    """Escaped text whose `backtick` spans (the catalogue's Markdown) become <code>."""
    return _CODE_SPAN.sub(r"<code>\1</code>", _e(text))


def _page(title: str, body: list[str]) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """Headers and cells are HTML already (escape before)."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _facts(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="facts"><tbody>{body}</tbody></table>'


def _badge(severity: str) -> str:
    return f'<span class="sev sev-{_e(severity)}">{_e(severity)}</span>'


def _codes(names: Sequence[str]) -> str:
    return ", ".join(f"<code>{_e(n)}</code>" for n in names)


def _counts(endpoint: Mapping[str, Any]) -> str:
    counts = severity_counts(endpoint)
    shown = [f"{_badge(s)} {n}" for s in SEVERITIES if (n := counts[s])]
    return " ".join(shown) or "none"


def _legend(states: Sequence[str]) -> str:
    items = "".join(
        f'<span class="cell-{s}">{STATE_SYMBOLS[s]} {_e(d.STATE_WORDS[s])}</span>' for s in states
    )
    return f'<p class="legend">{items}</p>'


def _matrix(matrix: d.Matrix, states: Sequence[str]) -> str:
    if not matrix.rows or not matrix.columns:
        return "<p>No client profile or no endpoint to show.</p>"
    head = '<th class="client">Client</th>' + "".join(f"<th>{_e(c)}</th>" for c in matrix.columns)
    rows = []
    for profile, cells in matrix.rows:
        tds = "".join(
            f'<td class="cell-{c.state}" title="{_e(c.title)}">{STATE_SYMBOLS[c.state]} {_e(c.text)}</td>'
            for c in cells
        )
        rows.append(
            f'<tr><th class="client" title="{_e(profile.id)}">{_e(profile.name)}</th>{tds}</tr>'
        )
    table = (
        f'<div class="scroll"><table class="matrix"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    parts = [_legend(states), table]
    reasons = matrix.reasons()
    if reasons:
        items = "".join(
            f"<li><b>{'Every client' if client is None else _e(client)}</b> → {_e(column)}: "
            f"{_e(reason)}</li>"
            for column, client, reason in reasons
        )
        parts.append(f'<h3>Why clients fail</h3><ul class="why">{items}</ul>')
    return "\n".join(parts)


def _finding(f: Mapping[str, Any]) -> str:
    severity = str(f.get("severity", ""))
    lines = [
        f'<p class="title">{_badge(severity)} {_e(f.get("title", ""))} '
        f"<code>{_e(f.get('id', ''))}</code></p>"
    ]
    for label, key in d.FINDING_FIELDS:
        if f.get(key):
            lines.append(f"<p><b>{label}:</b> {_prose(f[key])}</p>")
    return f'<div class="finding {_e(severity)}">{"".join(lines)}</div>'


def _endpoint_section(endpoint: Mapping[str, Any]) -> str:
    label = endpoint_label(endpoint)
    rows = [
        # One value each (a server's string among them): every line break escaped.
        (name, _e(printable(value)) if isinstance(value, str) else _codes(value))
        for name, value in d.endpoint_facts(endpoint)
    ]
    vulns = endpoint.get("vulns") or []
    checks = ""
    if vulns:
        # Each cell made printable by vuln_rows, then HTML-escaped here.
        table = _table([_e(h) for h in VULN_HEADERS], [[_e(cell) for cell in row] for row in vuln_rows(vulns)])
        checks = f"<h4>Vulnerabilities</h4>{table}"
    findings = sorted_finding_dicts(endpoint)
    body = "".join(_finding(f) for f in findings) if findings else "<p>No findings.</p>"
    return f"<section><h3>{_e(label)}</h3>{_facts(rows)}{checks}<h4>Findings</h4>{body}</section>"


def render_scan_html(
    endpoints: Sequence[Mapping[str, Any]],
    *,
    profiles: Sequence[ClientProfile],
    source: str = "",
    title: str = "TLS compatibility report",
) -> str:
    """The report of one scan as one HTML page. `profiles`: the rows of the matrix."""
    body = [f"<h1>{_e(title)}</h1>"]
    meta = f"{len(endpoints)} endpoint{'s' if len(endpoints) != 1 else ''}"
    if source:
        meta = f"Scan: <code>{_e(source)}</code> · {meta}"
    span = d.scanned_span(endpoints)
    if span:
        first, last = span
        meta += f" · scanned {_e(first)}" + (f" to {_e(last)}" if last != first else "")
    body.append(f'<p class="meta">{meta}</p>')
    body.append("<h2>Summary</h2>")
    rows = [[*map(_e, d.scan_summary_row(e)), _counts(e)] for e in endpoints]
    body.append(_table(d.SCAN_SUMMARY_HEADERS, rows))
    body.append("<h2>Client compatibility</h2>")
    body.append(
        f"<p>What each of {len(profiles)} client profiles would negotiate with each endpoint, "
        "computed from the scan (no client connected). Hover over a cell for the suite or "
        "the reason.</p>"
    )
    body.append(_matrix(d.scan_matrix(endpoints, profiles), d.SCAN_STATES))
    body.append("<h2>Endpoints</h2>")
    body += [_endpoint_section(e) for e in endpoints]
    return _page(title, body)


def _change_section(ed: EndpointDiff) -> str:
    title = d.change_title(ed)
    rows: list[tuple[str, str]] = []
    if ed.outcome:
        rows.append(("Outcome", f"{_e(ed.outcome.before)} → {_e(ed.outcome.after)}"))
    if ed.protocols_enabled:
        rows.append(
            (
                "Protocols enabled",
                f'<span class="added">{_e(", ".join(ed.protocols_enabled))}</span>',
            )
        )
    if ed.protocols_disabled:
        rows.append(
            (
                "Protocols disabled",
                f'<span class="removed">{_e(", ".join(ed.protocols_disabled))}</span>',
            )
        )
    for label, changes in (("Suites", ed.cipher_suites), ("Groups", ed.groups)):
        for s in changes:
            cells = []
            if s.added:
                cells.append(f'<span class="added">added:</span> {_codes(s.added)}')
            if s.removed:
                cells.append(f'<span class="removed">removed:</span> {_codes(s.removed)}')
            rows.append((f"{label} {s.version}", "<br>".join(cells)))
    for c in ed.certificate:
        rows.append((f"Certificate {c.field}", f"{_e(c.before or '-')} → {_e(c.after or '-')}"))
    if not ed.certificate:
        rows.append(("Certificate", "unchanged"))
    parts = [f"<section><h3>{_e(title)}</h3>", _facts(rows)]
    if ed.findings_new:
        parts.append("<h4>New findings</h4>")
        parts += [_finding(f) for f in d.new_findings(ed)]
    if ed.findings_resolved:
        items = "".join(
            f"<li>{_badge(f.severity)} {_e(f.title)} <code>{_e(f.id)}</code></li>"
            for f in ed.findings_resolved
        )
        parts.append(f"<h4>Resolved findings</h4><ul>{items}</ul>")
    rows2 = [
        [
            f'<span class="state cell-{c.state}">{STATE_SYMBOLS[c.state]} {c.state}</span>',
            _e(c.name),
            _e(d.simulation_text(c.before)),
            _e(d.simulation_text(c.after)),
        ]
        for c in d.client_changes(ed)
    ]
    if rows2:
        parts.append("<h4>Clients</h4>")
        parts.append(_table(["", "Client", "Before", "After"], rows2))
    parts.append("</section>")
    return "".join(parts)


def render_diff_html(
    diff: ScanDiff,
    *,
    profiles: Sequence[ClientProfile] | None = None,
    title: str = "TLS change report",
) -> str:
    """The report of a diff as one HTML page (see markdown.render_diff_markdown)."""
    body = [f"<h1>{_e(title)}</h1>"]
    body.append(
        f'<p class="meta">Before: <code>{_e(diff.before_source or "-")}</code><br>'
        f"After: <code>{_e(diff.after_source or '-')}</code></p>"
    )
    counts = d.status_counts(diff)
    body.append(
        f"<p>{d.count(len(diff.endpoints), 'endpoint')}: <b>{counts['changed']} changed</b>, "
        f"{counts['unchanged']} unchanged, {counts['removed']} only before, {counts['added']} "
        f"only after. Across {len(diff.profiles)} client profiles: <b>{counts['clients_lost']}</b> "
        f"client/endpoint pairs lost connectivity, <b>{counts['clients_gained']}</b> gained it.</p>"
    )
    body.append("<h2>Summary</h2>")
    rows = [[_e(text) for text in d.diff_summary_row(ed)] for ed in diff.endpoints]
    body.append(_table(d.DIFF_SUMMARY_HEADERS, rows))
    body.append("<h2>Client compatibility</h2>")
    body.append(_matrix(d.diff_matrix(diff, profiles), d.DIFF_STATES))
    changed = diff.by_status("changed")
    if changed:
        body.append("<h2>Changes</h2>")
        body += [_change_section(ed) for ed in changed]
    return _page(title, body)
