# Formatting of audits and live simulations: tabulate text and JSON-ready plain dicts.
# Formatting only, no logic: the verdicts come from scanner.audit.whatif and .live.
# Text meets the terminal through scanner.report.terminal: colour only when the Style says
# so, tables kept within its width (long cells wrapped inside the cell), prose wrapped with
# a hanging indent; without a width (a file, a pipe) one row per line, never wrapped.
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handshakes import registry as reg
from scanner.audit.live import LiveSimulation
from scanner.audit.policy import ClientPolicy, Deviation, ServerPolicy
from scanner.audit.whatif import CHANGES, AuditReport, EndpointAudit, ProfileChange
from scanner.options import DNS_ERROR, NOT_TLS, REFUSED, STARTTLS_OUTCOMES, UNREACHABLE
from scanner.report.printable import counted, printable, printable_text
from scanner.report.terminal import GREEN, RED, YELLOW, Style
from scanner.simulate import Simulation

__all__ = [
    "audit_json",
    "live_json",
    "render_audit",
    "render_live",
    "simulation_json",
]


def _version(v: int | None) -> str | None:
    return reg.version_name(v) if v is not None else None


def _suite(code: int | None) -> str | None:
    return reg.cipher_suite_name(code) if code is not None else None


def _group(code: int | None) -> str | None:
    return reg.group_name(code) if code is not None else None


# -- JSON ------------------------------------------------------------------------------------


def simulation_json(sim: Simulation | LiveSimulation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "profile": sim.profile_id,
        "ok": sim.ok,
        "version": _version(sim.version),
        "suite": _suite(sim.suite),
        "suite_code": reg.hex_code(sim.suite) if sim.suite is not None else None,
        "group": _group(sim.group),
        "reason_code": sim.reason_code,
        "reason": sim.reason,
    }
    if isinstance(sim, LiveSimulation):
        out |= {
            "outcome": sim.outcome,
            "alert": reg.alert_name(sim.alert) if sim.alert is not None else None,
            "detail": sim.detail,
            "hello_retry": sim.hello_retry,
            "cert_key_type": sim.cert_key_type or None,
            "cert_key_bits": sim.cert_key_bits or None,
            "cert_signature_hash": sim.cert_signature_hash,
            "dh_bits": sim.dh_bits,
        }
    return out


def live_json(target: str, results: Sequence[LiveSimulation]) -> dict[str, Any]:
    return {"tool": "tlscompat", "target": target, "simulations": [simulation_json(r) for r in results]}


def _change_json(ch: ProfileChange) -> dict[str, Any]:
    return {
        "profile": ch.profile_id,
        "name": ch.profile_name,
        "change": ch.change,
        "before": simulation_json(ch.before),
        "after": simulation_json(ch.after),
    }


def _deviation_json(d: Deviation) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "message": d.message,
        "version": _version(d.version),
        "code": reg.hex_code(d.code) if d.code is not None else None,
    }


def _policy_json(policy: ServerPolicy | ClientPolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    return {"name": policy.name, "source": policy.source, "description": policy.description}


def audit_json(report: AuditReport) -> dict[str, Any]:
    """The audit as plain data (the shape docs/audit.md describes)."""
    endpoints = []
    for e in report.endpoints:
        endpoints.append(
            {
                "endpoint": e.label,
                "host": e.host,
                "port": e.port,
                "ip": e.ip,
                "outcome": e.outcome,
                "compliant": not e.deviations,
                "deviations": [_deviation_json(d) for d in e.deviations],
                "summary": {name: len(e.by_change(name)) for name in CHANGES},
                "changes": [_change_json(ch) for ch in e.changes],
                "client_policy": _change_json(e.client) if e.client is not None else None,
            }
        )
    return {
        "tool": "tlscompat",
        "policy": _policy_json(report.policy),
        "client_policy": _policy_json(report.client_policy),
        "profiles": list(report.profile_ids),
        "endpoints": endpoints,
    }


# -- Text ------------------------------------------------------------------------------------


def _negotiated(sim: Simulation, style: Style | None = None) -> str:
    if not sim.ok:
        return (style or Style()).paint(f"FAIL ({sim.reason_code})", RED)
    parts = [_version(sim.version) or "?", _suite(sim.suite) or "?"]
    if sim.group is not None:
        parts.append(_group(sim.group) or "")
    return " ".join(parts)


# The colour of each kind of change in an audit (scanner.audit.whatif.CHANGES).
_CHANGE_COLOURS = {"lost": RED, "changed": YELLOW, "gained": GREEN}


NOT_REACHED = (REFUSED, UNREACHABLE, DNS_ERROR, NOT_TLS, *STARTTLS_OUTCOMES)


def _same_for(n: int) -> str:
    if n == 1:
        return ""
    return " (the same for both clients)" if n == 2 else f" (the same for all {n} clients)"


def render_live(
    target: str, results: Sequence[LiveSimulation], *, color: bool = False, width: int | None = None
) -> str:
    """The live simulation as a table; ``color``: ok in green, FAIL in red (ANSI);
    ``width``: a terminal's columns, long cells wrapped to fit (None: not wrapped)."""
    style = Style(color=color, width=width)
    ok_text, fail_text = style.paint("ok", GREEN), style.paint("FAIL", RED)
    reasons = {(r.outcome, r.reason) for r in results}
    if len(reasons) == 1 and not any(r.ok for r in results) and results[0].outcome in NOT_REACHED:
        # Nothing TLS was reached (refused, no route, no such name, another protocol, a
        # STARTTLS dialogue that failed): one line, not a row per client saying the same.
        reason = printable(results[0].reason or results[0].outcome)
        return printable_text(f"Client simulation against {target}: no client connects: {reason}{_same_for(len(results))}\n")
    rows = []
    for r in results:
        rows.append(
            (
                r.profile_id,
                ok_text if r.ok else fail_text,
                _version(r.version) or "-",
                _suite(r.suite) or "-",
                _group(r.group) or "-",
                printable(r.reason or ""),
            )
        )
    ok = sum(r.ok for r in results)
    clients = "1 client connects" if len(results) == 1 else f"{len(results)} clients connect"
    head = f"Client simulation against {target}: {ok} of {clients}"
    table = style.table(rows, ("Client", "Result", "Version", "Suite", "Group", "Reason"))
    return printable_text(f"{head}\n\n{table}\n")


def _endpoint_text(e: EndpointAudit, report: AuditReport, verbose: bool, style: Style) -> str:
    lines = [f"== {e.label}" + (f" ({e.ip})" if e.ip and e.ip != e.host else "")]
    if e.outcome != "ok":
        lines.append(style.hanging("   not scanned successfully: ", printable(e.outcome)))
    if report.policy is not None:
        if e.deviations:
            count = style.paint(counted(len(e.deviations), "deviation"), YELLOW)
            lines.append(f"   Compliance with {report.policy.name}: {count}")
            lines += [style.hanging("     - ", d.message) for d in e.deviations]
        elif e.outcome == "ok":
            lines.append(f"   Compliance with {report.policy.name}: {style.paint('compliant', GREEN)}")
    if e.changes:
        counts = ", ".join(f"{len(e.by_change(c))} {c}" for c in CHANGES)
        lines.append(f"   After the change: {counts}")
        shown = [ch for ch in e.changes if verbose or ch.change in ("lost", "changed", "gained")]
        if shown:
            rows = [
                (ch.profile_id, style.paint(ch.change, _CHANGE_COLOURS.get(ch.change, "")),
                 _negotiated(ch.before, style), _negotiated(ch.after, style),
                 ch.after.reason if not ch.after.ok else "")
                for ch in sorted(shown, key=lambda ch: (CHANGES.index(ch.change), ch.profile_id))
            ]
            table = style.table(rows, ("Client", "Change", "Today", "After", "Why it fails after"), indent=3)
            lines += ["   " + line for line in table.splitlines()]
    if e.client is not None:
        ch = e.client
        verdict = {
            "lost": style.paint("would FAIL here", RED),
            "gained": style.paint("would connect here (the base client does not)", GREEN),
            "changed": style.paint("connects, with another version or suite", YELLOW),
            "unchanged": "no change" if ch.after.ok else "fails here already today",
        }[ch.change]
        lines.append(f"   Client policy {ch.profile_id}: {verdict}")
        lines.append(
            style.hanging("     ", f"today: {_negotiated(ch.before, style)}; with the policy: {_negotiated(ch.after, style)}")
        )
        if not ch.after.ok:
            lines.append(style.hanging("     why: ", ch.after.reason))
    return "\n".join(lines)


def render_audit(report: AuditReport, *, verbose: bool = False, color: bool = False, width: int | None = None) -> str:
    """The audit as text: per endpoint, compliance, then the clients lost, changed and
    gained (every client with ``verbose``), then the client policy's verdict. ``color``:
    lost and FAIL in red, changed in yellow, gained in green (ANSI); ``width``: a
    terminal's columns, tables and prose kept within it (None: not wrapped)."""
    style = Style(color=color, width=width)
    head = []
    if report.policy is not None:
        desc = f": {report.policy.description}" if report.policy.description else ""
        head.append(style.hanging("", f"Server policy {report.policy.name} ({report.policy.source}){desc}"))
    if report.client_policy is not None:
        cp = report.client_policy
        desc = f": {cp.description}" if cp.description else ""
        head.append(style.hanging("", f"Client policy {cp.name} (base {cp.base}, {cp.source}){desc}"))
    head.append(f"{counted(len(report.profile_ids), 'client profile')}, {counted(len(report.endpoints), 'endpoint')}")
    body = [_endpoint_text(e, report, verbose, style) for e in report.endpoints]
    summary = []
    if report.policy is not None:
        lost = report.lost()
        total = sum(len(v) for v in lost.values())
        summary.append(
            f"Summary: the change loses {counted(total, 'client connection')} on {counted(len(lost), 'endpoint')}"
        )
    if report.client_policy is not None:
        failing = [e.label for e in report.endpoints if e.client is not None and e.client.change == "lost"]
        summary.append(style.hanging(
            "",
            f"Client policy {report.client_policy.name} would fail to reach "
            f"{counted(len(failing), 'endpoint')} the base client reaches" + (f": {', '.join(failing)}" if failing else ""),
        ))
    return printable_text("\n".join(head) + "\n\n" + "\n\n".join(body) + "\n\n" + "\n".join(summary) + "\n")
