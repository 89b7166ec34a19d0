# What every finding function shares: building a Finding from the catalogue and the few
# ways of quoting evidence (version lists, alerts, protocol outcomes). Nothing here decides
# what a result means.
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from handshakes import registry as reg
from scanner.diagnose.catalogue import entry
from scanner.options import ScanOptions
from scanner.results import EndpointResult, Finding, ProtocolResult

Rule = Callable[[EndpointResult, "ScanOptions"], "Finding | None"]

# The most evidence lines one finding quotes; the rest are counted, not dropped silently.
MAX_LINES = 24


def make(finding_id: str, evidence: str, *, severity: str | None = None) -> Finding:
    """A Finding with the catalogue's fixed text and this scan's evidence."""
    e = entry(finding_id)
    return Finding(
        id=e.id,
        severity=severity or e.severity,
        title=e.title,
        evidence=evidence,
        cause=e.cause,
        resolution=e.resolution,
        windows_error=e.windows_error,
    )


def lines(items: Iterable[str], limit: int = MAX_LINES) -> str:
    """Evidence lines joined with "; ", duplicates removed, the overflow counted."""
    unique = list(dict.fromkeys(i for i in items if i))
    if len(unique) > limit:
        unique = [*unique[:limit], f"and {len(unique) - limit} more"]
    return "; ".join(unique)


def versions(codes: Iterable[int]) -> str:
    """"TLSv1.3, TLSv1.2": highest first, each once."""
    return ", ".join(reg.version_name(v) for v in sorted(set(codes), reverse=True)) or "none"


def alert_text(code: int) -> str:
    return f"{reg.alert_name(code)} ({code})"


def outcome_text(p: ProtocolResult) -> str:
    """How the server answered a ClientHello for one version, as the scan recorded it."""
    from scanner.outcome_text import render_outcome

    if p.outcome == "alert" and p.alert is not None:
        text = f"alert {alert_text(p.alert)}"
        odd = " in a malformed record"  # a clue (issue 11: how some servers refuse no SNI)
        if odd in p.detail:
            text += p.detail[p.detail.index(odd):]
    elif p.outcome == "accepted" or p.supported:
        text = p.detail or p.outcome
    else:
        text = render_outcome(p.outcome, p.detail)
    return f"{reg.version_name(p.version)}: {text}"


def probed(result: EndpointResult) -> list[ProtocolResult]:
    """The versions actually offered to the server (not skipped)."""
    return [p for p in result.protocols if p.outcome != "not_probed"]


def now(options: ScanOptions) -> datetime:
    when = options.now or datetime.now(UTC)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def leaf(chain: object) -> Any:
    """The decoded leaf (a CertificateInfo) of a ChainResult, when it could be decoded."""
    certs = getattr(chain, "certificates", ())
    return certs[0] if certs and certs[0] is not None else None


def names_of(info: object) -> str:
    """"SANs: a, b" or "no SAN; CN: x": the names a client matches against."""
    sans = (*getattr(info, "san_dns", ()), *getattr(info, "san_ip", ()))
    if sans:
        return "SANs: " + ", ".join(sans)
    cns = getattr(info, "common_names", ())
    return "no SAN; CN: " + (", ".join(cns) or "none")


def cert_label(info: object) -> str:
    """"'CN=x,O=y' (SANs: ...)": how evidence names one certificate."""
    return f"{getattr(info, 'subject', '?')!r} ({names_of(info)})"


def chain_label(chain: object, result: EndpointResult) -> str:
    """Which chain, when the server sends several: versions, key type and SNI."""
    sni = getattr(chain, "sni", None)
    vs = versions(getattr(chain, "versions", ()))
    key = getattr(chain, "key_type", "")
    sent = f"SNI {sni!r}" if sni else "no SNI"
    return f"{key} chain ({vs}, {sent})" if key else f"chain ({vs}, {sent})"
