# The renderings of a diff (scanner.compare.diff_scans): text and JSON, and the matrix and
# cell texts that markdown.py and html.py share for a scan and for a diff.
#
# Rules it keeps: formatting only. What changed, what each client would negotiate and the
# facts of an endpoint come from scanner.compare; this module only says them in words.
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handshakes import registry as reg
from scanner.compare import (
    ClientChange,
    EndpointDiff,
    ScanDiff,
    cell_state,
    certificate_facts,
    client_outcomes,
    endpoint_label,
    finding_for,
    select_profiles,
    suites_by_version,
    supported_versions,
)
from scanner.profiles import ClientProfile
from scanner.report.terminal import GREEN, RED, YELLOW, Style
from scanner.simulate import Simulation

__all__ = [
    "DIFF_STATES",
    "DIFF_SUMMARY_HEADERS",
    "FINDING_FIELDS",
    "REASON_LABELS",
    "SCAN_STATES",
    "SCAN_SUMMARY_HEADERS",
    "STATE_WORDS",
    "Cell",
    "Matrix",
    "cell_text",
    "cell_title",
    "change_title",
    "client_changes",
    "count",
    "diff_json",
    "diff_matrix",
    "diff_summary_row",
    "endpoint_facts",
    "new_findings",
    "reason_label",
    "render_diff",
    "scan_matrix",
    "scan_summary_row",
    "scanned_span",
    "simulation_text",
    "status_counts",
    "summary_cells",
    "write_diff_json",
]

# -- Rendering: text and JSON ----------------------------------------------------------------


def _sim_text(sim: Simulation | None) -> str:
    if sim is None:
        return "-"
    if sim.ok:
        parts = [reg.version_name(sim.version) if sim.version is not None else "?"]
        if sim.suite is not None:
            parts.append(reg.cipher_suite_name(sim.suite))
        if sim.group is not None:
            parts.append(reg.group_name(sim.group))
        return " ".join(parts)
    return sim.reason


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _plus_minus(added: int, removed: int) -> str:
    parts = ([f"+{added}"] if added else []) + ([f"-{removed}"] if removed else [])
    return " ".join(parts) or "-"


def summary_cells(d: EndpointDiff) -> dict[str, str]:
    """The summary row of one endpoint: short texts per column (shared by all formats)."""
    if d.status in ("added", "removed"):
        return {"protocols": "", "suites": "", "certificate": "", "findings": "", "clients": ""}
    protocols = " ".join(
        [f"+{v}" for v in d.protocols_enabled] + [f"-{v}" for v in d.protocols_disabled]
    )
    suites = _plus_minus(
        sum(len(s.added) for s in d.cipher_suites), sum(len(s.removed) for s in d.cipher_suites)
    )
    cert = (
        "changed"
        if any(c.field == "fingerprint" for c in d.certificate)
        else (", ".join(c.field for c in d.certificate) or "-")
    )
    findings = _plus_minus(len(d.findings_new), len(d.findings_resolved))
    gained, lost = len(d.clients_in("gained")), len(d.clients_in("lost"))
    clients = " ".join(([f"+{gained}"] if gained else []) + ([f"-{lost}"] if lost else [])) or "-"
    return {
        "protocols": protocols or "-",
        "suites": suites,
        "certificate": cert,
        "findings": findings,
        "clients": clients,
    }


def render_diff(diff: ScanDiff, *, color: bool = False, width: int | None = None) -> str:
    """The diff as text: a summary table, then what changed at each endpoint. ``color``:
    clients lost and new findings' severities in colour (ANSI); ``width``: a terminal's
    columns, tables kept within it (None: a file or a pipe, not wrapped)."""
    style = Style(color=color, width=width)
    head = [f"Before: {diff.before_source or '-'}", f"After:  {diff.after_source or '-'}"]
    counts = status_counts(diff)
    head.append(style.hanging("", (
        f"{count(len(diff.endpoints), 'endpoint')}: {counts['changed']} changed, "
        f"{counts['unchanged']} unchanged, {counts['removed']} only before, "
        f"{counts['added']} only after; client connectivity compared for "
        f"{count(len(diff.profiles), 'client profile')}"
    )))
    rows = [diff_summary_row(d) for d in diff.endpoints]
    parts = ["\n".join(head)]
    if rows:
        parts.append(style.table(rows, DIFF_SUMMARY_HEADERS))
    for d in diff.endpoints:
        if d.status != "changed":
            continue
        parts.append(_endpoint_text(d, style))
    return "\n\n".join(parts) + "\n"


# The colour of a client's change (client_changes).
_STATE_COLOURS = {"lost": RED, "gained": GREEN, "changed": YELLOW}


def _endpoint_text(d: EndpointDiff, style: Style) -> str:
    title = change_title(d)
    lines = [title, "-" * len(title)]
    if d.outcome:
        lines.append(f"Outcome: {d.outcome.before} -> {d.outcome.after}")
    if d.protocols_enabled:
        lines.append("Protocols enabled:  " + ", ".join(d.protocols_enabled))
    if d.protocols_disabled:
        lines.append("Protocols disabled: " + ", ".join(d.protocols_disabled))
    for title_text, changes in (("Cipher suites", d.cipher_suites), ("Groups", d.groups)):
        for s in changes:
            for name in s.added:
                lines.append(f"{title_text} {s.version}: + {name}")
            for name in s.removed:
                lines.append(f"{title_text} {s.version}: - {name}")
    for c in d.certificate:
        lines.append(f"Certificate {c.field}: {c.before or '-'} -> {c.after or '-'}")
    if not d.certificate and certificate_facts(d.after or {}):
        lines.append("Certificate: unchanged")
    for f in d.findings_new:
        lines.append(style.hanging(f"New finding [{style.severity(f.severity)}] ", f"{f.id}: {f.title}"))
    for f in d.findings_resolved:
        lines.append(style.hanging(f"Resolved finding [{f.severity}] ", f"{f.id}: {f.title}"))
    rows = [
        (style.paint(c.state, _STATE_COLOURS.get(c.state, "")), c.name, _sim_text(c.before), _sim_text(c.after))
        for c in client_changes(d)
    ]
    if rows:
        lines.append("")
        lines.append(style.table(rows, ("Client", "Profile", "Before", "After")))
    return "\n".join(lines)


def _sim_json(sim: Simulation | None) -> dict[str, Any] | None:
    if sim is None:
        return None
    return {
        "ok": sim.ok,
        "version": reg.version_name(sim.version) if sim.version is not None else None,
        "suite": reg.cipher_suite_name(sim.suite) if sim.suite is not None else None,
        "group": reg.group_name(sim.group) if sim.group is not None else None,
        "reason": sim.reason,
        "reason_code": sim.reason_code,
    }


def _where(endpoint: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if endpoint is None:
        return None
    return {k: endpoint.get(k) for k in ("host", "port", "ip", "sni", "outcome")}


def diff_json(diff: ScanDiff) -> dict[str, Any]:
    """The diff as JSON-ready data (documented in docs/reports.md)."""
    counts = status_counts(diff)
    endpoints = []
    for d in diff.endpoints:
        endpoints.append(
            {
                "endpoint": d.label,
                "status": d.status,
                "before": _where(d.before),
                "after": _where(d.after),
                "outcome": None
                if d.outcome is None
                else {"before": d.outcome.before, "after": d.outcome.after},
                "protocols": {
                    "enabled": list(d.protocols_enabled),
                    "disabled": list(d.protocols_disabled),
                },
                "cipher_suites": [
                    {"version": s.version, "added": list(s.added), "removed": list(s.removed)}
                    for s in d.cipher_suites
                ],
                "groups": [
                    {"version": s.version, "added": list(s.added), "removed": list(s.removed)}
                    for s in d.groups
                ],
                "certificate": [
                    {"field": c.field, "before": c.before, "after": c.after} for c in d.certificate
                ],
                "findings": {
                    "new": [
                        {"id": f.id, "severity": f.severity, "title": f.title}
                        for f in d.findings_new
                    ],
                    "resolved": [
                        {"id": f.id, "severity": f.severity, "title": f.title}
                        for f in d.findings_resolved
                    ],
                },
                "clients": {
                    state: [
                        {
                            "profile": c.profile_id,
                            "name": c.name,
                            "before": _sim_json(c.before),
                            "after": _sim_json(c.after),
                        }
                        for c in d.clients_in(state)
                    ]
                    for state in ("gained", "lost", "changed")
                },
            }
        )
    return {
        "tool": "tlscompat",
        "kind": "diff",
        "before": diff.before_source,
        "after": diff.after_source,
        "match": diff.match,
        "profiles": [p.id for p in diff.profiles],
        "summary": {
            "changed": counts["changed"],
            "unchanged": counts["unchanged"],
            "only_before": counts["removed"],
            "only_after": counts["added"],
            "clients_lost": counts["clients_lost"],
            "clients_gained": counts["clients_gained"],
        },
        "endpoints": endpoints,
    }


def write_diff_json(diff: ScanDiff, fp: Any) -> None:
    json.dump(diff_json(diff), fp, indent=2, ensure_ascii=False)
    fp.write("\n")


# -- Texts shared by the Markdown and HTML reports -------------------------------------------

# Short words for scanner.simulate's reason codes, for matrix cells; the full reason goes in
# the cell's tooltip and in the list of failures under the matrix.
REASON_LABELS = {
    "no_common_version": "no common version",
    "no_common_suite": "no common suite",
    "no_common_group": "no common group",
    "dh_too_small": "DH too small",
    "dh_too_large": "DH too large",
    "rsa_too_small": "RSA key too small",
    "rsa_too_large": "RSA key too large",
    "ecdsa_too_small": "ECDSA key too small",
    "sha1_signature": "SHA-1 certificate",
    "cert_type": "certificate type",
    "client_cert_required": "needs a client certificate",
    "intolerance": "server intolerance",
    "unreachable": "unreachable",
}
STATE_WORDS = {
    "ok": "connects",
    "fail": "fails",
    "gained": "connects now (failed before)",
    "lost": "fails now (connected before)",
    "changed": "connects, with another version or suite",
    "absent": "endpoint not in this scan",
}


SCAN_STATES = ("ok", "fail")
DIFF_STATES = ("ok", "changed", "gained", "lost", "fail", "absent")
SCAN_SUMMARY_HEADERS = ("Endpoint", "Outcome", "Protocols", "Certificate expires", "Findings")
DIFF_SUMMARY_HEADERS = (
    "Endpoint",
    "Status",
    "Protocols",
    "Suites",
    "Certificate",
    "Findings",
    "Clients",
)
# (label, key) of the finding fields a report shows under its title, when present.
FINDING_FIELDS = (
    ("Evidence", "evidence"),
    ("Cause", "cause"),
    ("Resolution", "resolution"),
    ("Windows error", "windows_error"),
)
# (key, label) of certificate_facts() shown in an endpoint's facts.
_CERTIFICATE_LABELS = (
    ("subject", "Subject"),
    ("issuer", "Issuer"),
    ("not_after", "Expires"),
    ("key", "Key"),
    ("trusted", "Trusted"),
    ("fingerprint", "SHA-256"),
)


def status_counts(diff: ScanDiff) -> dict[str, int]:
    """Endpoints per status (changed, unchanged, removed, added), and the client/endpoint
    pairs that lost (clients_lost) or gained (clients_gained) connectivity."""
    counts = {s: len(diff.by_status(s)) for s in ("changed", "unchanged", "removed", "added")}
    counts["clients_lost"] = sum(len(e.clients_in("lost")) for e in diff.endpoints)
    counts["clients_gained"] = sum(len(e.clients_in("gained")) for e in diff.endpoints)
    return counts


def diff_summary_row(d: EndpointDiff) -> list[str]:
    """The texts of one endpoint's row under DIFF_SUMMARY_HEADERS."""
    cells = summary_cells(d)
    status = {"removed": "only before", "added": "only after"}.get(d.status, d.status)
    return [
        d.label,
        status,
        cells["protocols"],
        cells["suites"],
        cells["certificate"],
        cells["findings"],
        cells["clients"],
    ]


def scan_summary_row(endpoint: Mapping[str, Any]) -> list[str]:
    """The texts of one endpoint's row under SCAN_SUMMARY_HEADERS, but for the last column
    (the findings counts, which each format shows its own way: severity_counts)."""
    return [
        endpoint_label(endpoint),
        str(endpoint.get("outcome", "")),
        ", ".join(supported_versions(endpoint)) or "none",
        certificate_facts(endpoint).get("not_after") or "-",
    ]


def scanned_span(endpoints: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """When the first and the last endpoint were scanned (None when no time is known)."""
    started = sorted(str(e["started"]) for e in endpoints if e.get("started"))
    return (started[0], started[-1]) if started else None


def endpoint_facts(endpoint: Mapping[str, Any]) -> list[tuple[str, str | list[str]]]:
    """(label, text) of an endpoint's facts, in the order a report shows them; for the
    cipher suites of each version, (label, suite names) to show as code."""
    rows: list[tuple[str, str | list[str]]] = [
        ("Outcome", str(endpoint.get("outcome", ""))),
        ("Address", str(endpoint.get("ip") or "-")),
        ("SNI", str(endpoint.get("sni") if endpoint.get("sni") is not None else "(none)")),
        ("Protocols", ", ".join(supported_versions(endpoint)) or "none"),
    ]
    if endpoint.get("detail"):
        rows.append(("Detail", str(endpoint["detail"])))
    starttls = endpoint.get("starttls")
    if isinstance(starttls, Mapping):  # issue 13: the dialogue before TLS
        ended = "agreed to start TLS" if starttls.get("outcome") == "ok" else str(starttls.get("outcome", ""))
        rows.append(("Before TLS", f"{starttls.get('protocol', '')}: {ended}"))
    for version, names in suites_by_version(endpoint):
        rows.append((f"Suites {version}", names))
    facts = certificate_facts(endpoint)
    rows += [(label, facts[key]) for key, label in _CERTIFICATE_LABELS if facts.get(key)]
    return rows


def change_title(d: EndpointDiff) -> str:
    """The endpoint's label, and the earlier one when the match paired another label."""
    if d.before is not None and endpoint_label(d.before) != d.label:
        return f"{d.label} (was {endpoint_label(d.before)})"
    return d.label


def new_findings(d: EndpointDiff) -> list[Mapping[str, Any]]:
    """The whole finding objects (evidence, cause, resolution) of the findings new in `d`."""
    return [
        finding_for(d.after, ref.id) or {"id": ref.id, "severity": ref.severity, "title": ref.title}
        for ref in d.findings_new
    ]


def client_changes(d: EndpointDiff) -> list[ClientChange]:
    """The clients whose outcome changed: those that lost, then gained, then changed."""
    return [c for state in ("lost", "gained", "changed") for c in d.clients_in(state)]


def reason_label(sim: Simulation) -> str:
    return REASON_LABELS.get(sim.reason_code, sim.reason_code or "fails")


def cell_text(state: str, before: Simulation | None, after: Simulation | None) -> str:
    """The words in a matrix cell (without any symbol or colour)."""
    now = after if after is not None else before
    if state == "absent" or now is None:
        return "-"
    version = reg.version_name(now.version) if now.version is not None else "?"
    if state == "ok":
        return version
    if state == "fail":
        return reason_label(now)
    if state == "gained":
        return f"gained {version}"
    if state == "lost":
        return f"lost: {reason_label(now)}"
    assert before is not None
    was = reg.version_name(before.version) if before.version is not None else "?"
    return f"{was} → {version}" if was != version else f"{version} (suite)"


def cell_title(state: str, before: Simulation | None, after: Simulation | None) -> str:
    """The tooltip of a matrix cell: what was negotiated, or the full reason."""
    if state == "absent":
        return STATE_WORDS["absent"]
    if state in ("ok", "fail"):
        return _sim_text(after if after is not None else before)
    return f"before: {_sim_text(before)}; after: {_sim_text(after)}"


def simulation_text(sim: Simulation | None) -> str:
    """ "TLSv1.3 TLS_AES_128_GCM_SHA256 x25519", or the reason it fails."""
    return _sim_text(sim)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    state: str  # ok | fail | gained | lost | changed | absent (cell_state)
    text: str
    title: str
    before: Simulation | None
    after: Simulation | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Matrix:
    """Client profiles (rows) by endpoints (columns)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[ClientProfile, tuple[Cell, ...]], ...]

    def failures(self) -> list[tuple[str, ClientProfile, Cell]]:
        """(column, profile, cell) of every failing or lost cell, column by column; the
        columns of unreachable endpoints are left to unreachable()."""
        out = []
        skip = {column for column, _ in self.unreachable()}
        for i, column in enumerate(self.columns):
            for profile, cells in self.rows:
                if cells[i].state in ("fail", "lost") and column not in skip:
                    out.append((column, profile, cells[i]))
        return out

    def reasons(self) -> list[tuple[str, str | None, str]]:
        """(column, client name, reason) of why clients fail, for the list under a matrix:
        first each unreachable endpoint (client name None: every client), then failures()."""
        out: list[tuple[str, str | None, str]] = [
            (column, None, reason) for column, reason in self.unreachable()
        ]
        out += [
            (column, profile.name, cell.after.reason if cell.after is not None else "")
            for column, profile, cell in self.failures()
        ]
        return out

    def unreachable(self) -> list[tuple[str, str]]:
        """(column, reason) of the endpoints no client reaches because the scan did not
        reach TLS there (one reason for the whole column)."""
        out = []
        for i, column in enumerate(self.columns):
            sims = [cells[i].after for _, cells in self.rows]
            if sims and all(s is not None and s.reason_code == "unreachable" for s in sims):
                first = sims[0]
                assert first is not None
                out.append((column, first.reason))
        return out


def _cell(before: Simulation | None, after: Simulation | None) -> Cell:
    state = cell_state(before, after)
    return Cell(
        state=state,
        text=cell_text(state, before, after),
        title=cell_title(state, before, after),
        before=before,
        after=after,
    )


def scan_matrix(
    endpoints: Sequence[Mapping[str, Any]], profiles: Sequence[ClientProfile]
) -> Matrix:
    outcomes = client_outcomes(endpoints, profiles)
    rows = tuple((p, tuple(_cell(None, sims.get(p.id)) for sims in outcomes)) for p in profiles)
    return Matrix(columns=tuple(endpoint_label(e) for e in endpoints), rows=rows)


def diff_matrix(diff: ScanDiff, profiles: Sequence[ClientProfile] | None = None) -> Matrix:
    """The matrix of a diff: `profiles` default to the default selection (those of the
    diff's profiles that are in it)."""
    if profiles is None:
        wanted = {p.id for p in select_profiles("default")}
        profiles = [p for p in diff.profiles if p.id in wanted] or list(diff.profiles)
    rows = []
    for p in profiles:
        cells = []
        for d in diff.endpoints:
            before = d.outcomes_before.get(p.id) if d.before is not None else None
            after = d.outcomes_after.get(p.id) if d.after is not None else None
            if d.status == "removed":
                cells.append(
                    Cell(
                        state="absent",
                        text="removed",
                        title="only in the earlier scan",
                        before=before,
                        after=None,
                    )
                )
            else:
                cells.append(_cell(before, after))
        rows.append((p, tuple(cells)))
    return Matrix(columns=tuple(d.label for d in diff.endpoints), rows=tuple(rows))
