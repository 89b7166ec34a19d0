# Formatting a capture's connection reports: a block of text per connection, one summary
# line per connection, and JSON (docs/capture.schema.json). Formatting only: every fact
# comes from the ConnectionReport, every meaning from its findings.
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handshakes import registry as reg
from scanner.capture.connection import STAGE_TEXT, CertSeen, ConnectionReport

__all__ = ["CAPTURE_SCHEMA_VERSION", "connection_json", "connection_summary", "connection_text"]

CAPTURE_SCHEMA_VERSION = 1


def _ep(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _close_text(r: ConnectionReport) -> str:
    if r.close == "silence":
        return "nobody closed it: the capture ends with the connection open"
    who = r.closed_by or "?"
    if r.close == "alert":
        alert = next(a for a in r.alerts if a.frame == r.close_frame and a.sender == r.closed_by)
        return f"by the {who} with {alert.text()}, frame {r.close_frame}, after {alert.after}"
    return f"by the {who} with a {'reset (RST)' if r.close == 'rst' else 'FIN'}, frame {r.close_frame}"


def _hint(r: ConnectionReport) -> str:
    """What an alert still encrypted most likely is, from its place in the handshake."""
    if r.close != "alert":
        return ""
    alert = next(a for a in r.alerts if a.frame == r.close_frame and a.sender == r.closed_by)
    if alert.description is not None:
        return ""
    if r.stage in ("complete", "application_data"):
        return "after a completed handshake an encrypted alert is normally close_notify (0); --keylog reads it"
    if r.closed_by == "server" and r.stage == "client_flight":
        return (
            "the server refused the client's second flight; in TLS 1.3 that is where a client "
            "certificate (or its absence) is rejected; give --keylog FILE to read the alert"
        )
    return "give --keylog FILE (SSLKEYLOGFILE) to read the alert"


def _certs_text(certs: tuple[CertSeen, ...]) -> str:
    return "; ".join(f"{c.subject!r} issued by {c.issuer!r} (valid {c.not_before} to {c.not_after})" for c in certs)


def connection_text(
    r: ConnectionReport, *, verbose: bool = False, severity: Callable[[str], str] | None = None
) -> str:
    """A block of text: the connection, what each side sent, where it stopped, findings.
    ``severity``: how a finding's severity is shown (the caller's terminal style, e.g.
    coloured: scanner.report.terminal.Style.severity, a layer above this one); as is by
    default."""
    shown = severity or str
    head = f"#{r.number}  {_ep(r.client, r.client_port)} -> {_ep(r.server, r.server_port)}  frames {r.first_frame}-{r.last_frame}"
    if r.starttls:
        head += f"  STARTTLS ({r.starttls})"
    out = [head]
    h = r.hello
    if h is not None:
        vs = ", ".join(reg.version_name(v) for v in h.versions) or "none"
        out.append(f"  client hello: SNI {h.sni!r}" if h.sni else "  client hello: no SNI")
        out.append(f"    offers {vs}; {len(h.cipher_suites)} cipher suites; groups: "
                   + (", ".join(reg.group_name(g) for g in h.groups if not reg.is_grease(g)) or "none"))
        if h.alpn:
            out.append(f"    ALPN: {', '.join(h.alpn)}")
        out.append(f"    JA3 {h.ja3_hash}  JA4 {h.ja4}" + (f"  client: {h.profile}" if h.profile else ""))
        if verbose:
            out.append("    suites: " + ", ".join(reg.cipher_suite_name(s) for s in h.cipher_suites))
            out.append("    extensions: " + ", ".join(reg.extension_name(t) for t in h.extensions))
    if r.version is not None and r.cipher_suite is not None:
        line = f"  server hello: {reg.version_name(r.version)}, {reg.cipher_suite_name(r.cipher_suite)} ({reg.hex_code(r.cipher_suite)})"
        if r.group is not None:
            line += f", key share {reg.group_name(r.group)}"
        out.append(line)
    if r.server_certificates:
        out.append(f"  server certificate: {_certs_text(r.server_certificates[:1])}")
    if r.certificate_request:
        out.append("  the server asks for a client certificate; acceptable CAs: " + (" | ".join(r.acceptable_cas) or "none named"))
    if r.client_certificates is not None:
        out.append("  client certificate: " + (_certs_text(r.client_certificates) if r.client_certificates else "none (an empty Certificate message)"))
    elif r.client_certificate_hidden:
        out.append("  client certificate: inside the encrypted TLS 1.3 flight (give --keylog to read it)")
    if r.starttls_refused:
        out.append(f"  STARTTLS refused: the server answered {r.starttls_refused}")
    if r.not_tls:
        out.append(f"  not TLS: the server answered with {r.not_tls.upper() if r.not_tls != 'unknown' else 'bytes that are not TLS'}")
    out.append(f"  handshake: {STAGE_TEXT[r.stage]}")
    out.append(f"  closed: {_close_text(r)}")
    hint = _hint(r)
    if hint:
        out.append(f"  hint: {hint}")
    if r.keylog == "missing" and r.version is not None:
        out.append("  key log: no secrets for this connection's client random")
    for a in r.alerts:
        if a.frame != r.close_frame:
            out.append(f"  alert from the {a.sender} in frame {a.frame}: {a.text()}, after {a.after}")
    if verbose:
        out.append("  timeline:")
        for s in r.steps:
            out.append(f"    frame {s.frame:>6}  {s.sender:<6}  {s.what}")
    for n in r.notes:
        out.append(f"  note: {n}")
    for f in r.findings:
        out.append(f"  [{shown(f.severity)}] {f.id}: {f.title}")
        out.append(f"      evidence: {f.evidence}")
        if verbose:
            out.append(f"      cause: {f.cause}")
            out.append(f"      fix: {f.resolution}")
            if f.windows_error:
                out.append(f"      Windows error: {f.windows_error}")
    return "\n".join(out)


def connection_summary(r: ConnectionReport) -> str:
    """One line: number, endpoints, SNI, version/suite, stage, close, finding ids."""
    parts = [f"#{r.number}", f"{_ep(r.client, r.client_port)} -> {_ep(r.server, r.server_port)}"]
    if r.hello is not None and r.hello.sni:
        parts.append(f"sni={r.hello.sni}")
    if r.version is not None and r.cipher_suite is not None:
        parts.append(f"{reg.version_name(r.version)} {reg.cipher_suite_name(r.cipher_suite)}")
    parts.append(f"stage={r.stage}")
    if r.close == "alert":
        alert = next(a for a in r.alerts if a.frame == r.close_frame and a.sender == r.closed_by)
        what = reg.alert_name(alert.description) if alert.description is not None else "encrypted-alert"
        parts.append(f"closed={r.closed_by}:alert:{what}")
    else:
        parts.append(f"closed={r.closed_by}:{r.close}" if r.closed_by else "closed=none")
    if r.findings:
        parts.append("findings=" + ",".join(f.id for f in r.findings))
    return "  ".join(parts)


def _cert_json(c: CertSeen) -> dict[str, Any]:
    return {"subject": c.subject, "issuer": c.issuer, "not_before": c.not_before, "not_after": c.not_after, "names": list(c.names)}


def connection_json(r: ConnectionReport) -> dict[str, Any]:
    """The JSON object of one connection (docs/capture.schema.json, "connection")."""
    h = r.hello
    return {
        "number": r.number,
        "first_frame": r.first_frame,
        "last_frame": r.last_frame,
        "start": r.start,
        "duration": round(r.duration, 6),
        "client": {"ip": r.client, "port": r.client_port},
        "server": {"ip": r.server, "port": r.server_port},
        "tls": r.tls,
        "starttls": r.starttls,
        "not_tls": r.not_tls,
        "starttls_refused": r.starttls_refused,
        "client_hello": None if h is None else {
            "sni": h.sni,
            "legacy_version": reg.version_name(h.legacy_version),
            "versions": [reg.version_name(v) for v in h.versions],
            "cipher_suites": [reg.hex_code(s) for s in h.cipher_suites],
            "groups": [reg.hex_code(g) for g in h.groups],
            "signature_algorithms": [reg.hex_code(s) for s in h.signature_algorithms],
            "extensions": list(h.extensions),
            "alpn": list(h.alpn),
            "sslv2": h.sslv2,
            "ja3": h.ja3,
            "ja3_hash": h.ja3_hash,
            "ja4": h.ja4,
            "client_profile": h.profile or None,
        },
        "client_hellos": r.hello_count,
        "hello_retry_request": r.retry_request,
        "server_hello": None if r.version is None or r.cipher_suite is None else {
            "version": reg.version_name(r.version),
            "cipher_suite": reg.cipher_suite_name(r.cipher_suite),
            "cipher_suite_code": reg.hex_code(r.cipher_suite),
            "group": reg.group_name(r.group) if r.group is not None else None,
            "alpn": r.alpn,
        },
        "server_certificates": [_cert_json(c) for c in r.server_certificates],
        "leaf_matches_sni": r.leaf_matches_sni,
        "certificate_request": r.certificate_request,
        "acceptable_cas": list(r.acceptable_cas),
        "client_certificates": None if r.client_certificates is None else [_cert_json(c) for c in r.client_certificates],
        "stage": r.stage,
        "alerts": [
            {
                "frame": a.frame, "sender": a.sender, "level": a.level, "description": a.description,
                "name": reg.alert_name(a.description) if a.description is not None else None,
                "encrypted": a.encrypted, "decrypted": a.decrypted, "length": a.length, "after": a.after,
            }
            for a in r.alerts
        ],
        "closed_by": r.closed_by,
        "close": r.close,
        "close_frame": r.close_frame,
        "keylog": r.keylog,
        "steps": [{"frame": s.frame, "sender": s.sender, "what": s.what} for s in r.steps],
        "notes": list(r.notes),
        "findings": [
            {
                "id": f.id, "severity": f.severity, "title": f.title, "evidence": f.evidence,
                "cause": f.cause, "resolution": f.resolution, "windows_error": f.windows_error,
            }
            for f in r.findings
        ],
    }
