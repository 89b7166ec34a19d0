# Findings about reaching the TLS service at all: DNS, TCP, another protocol on the port,
# a service that aborts or refuses every handshake, a service that needs SNI.
#
# Each function takes the scan result and options, returns one Finding or None, and says in
# its docstring exactly which evidence makes it fire.
from __future__ import annotations

import re

from handshakes import constants as c
from scanner.diagnose.common import (
    Rule,
    alert_text,
    cert_label,
    leaf,
    lines,
    make,
    outcome_text,
    probed,
)
from scanner.options import ScanOptions
from scanner.outcome_text import clean_detail
from scanner.results import EndpointResult, Finding, ProtocolResult

UNRECOGNIZED_NAME = 112
HANDSHAKE_FAILURE = 40
INTERNAL_ERROR = 80
_ABORTS = ("reset", "closed")


def _where(result: EndpointResult) -> str:
    addr = result.ip or result.host
    shown = f"[{addr}]" if ":" in addr else addr
    if result.ip and result.ip != result.host:
        return f"{result.host} ({shown}) port {result.port}"
    return f"{shown} port {result.port}"


def dns_unresolved(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """The scan's outcome is dns_error: the name gave no address."""
    if result.outcome != "dns_error":
        return None
    return make("dns.unresolved", f"{result.host!r} did not resolve: {result.detail or 'no address'}")


def port_closed(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """The scan's outcome is refused: the TCP SYN was answered with a reset."""
    if result.outcome != "refused":
        return None
    return make(
        "port.closed",
        f"TCP connection to {_where(result)} refused ({result.detail or 'connection refused'})",
    )


def port_unreachable(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """The scan's outcome is unreachable: the network reported no route."""
    if result.outcome != "unreachable":
        return None
    return make("port.unreachable", f"{_where(result)}: {result.detail or 'unreachable'}")


def timeout_kind(result: EndpointResult) -> str:
    """"tcp" (the connection was never answered), "tls" (TCP connected, the ClientHello was
    never answered) or "" (unknown), read from the engine's details."""
    texts = [result.detail, *(p.detail for p in result.protocols)]
    if any("no TCP answer" in t or "connect timed out" in t for t in texts):
        return "tcp"
    if any("TCP connects" in t or "no complete answer" in t for t in texts):
        return "tls"
    return ""


def port_timeout(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """The scan's outcome is timeout. The evidence says whether TCP itself got no answer
    or TCP connected and the ClientHello got none."""
    if result.outcome != "timeout":
        return None
    kind = timeout_kind(result)
    # The engine's detail may already say which; keep only what it adds.
    detail = re.sub(r"^(no TCP answer|TCP connects, but no TLS answer)\s*", "", result.detail or "")
    detail = clean_detail("timeout", detail) or "no answer"
    if kind == "tcp":
        text = f"no TCP answer from {_where(result)}: the connection attempt was never answered ({detail})"
    elif kind == "tls":
        text = (
            f"TCP connection to {_where(result)} accepted, but no TLS answer to the "
            f"ClientHello ({detail})"
        )
    else:
        text = f"{_where(result)}: timeout ({detail})"
    return make("port.timeout", text)


_NOT_TLS = re.compile(r"not_tls \((?P<proto>[^:()]+): (?P<first>.*)\)\s*$")


# The protocols the codec recognises in a reply (handshakes.server_flight.identify_protocol)
# that have a dialogue to TLS (scanner/starttls.py).
_DIALOGUE_OF = {
    "smtp": "smtp", "smtp_or_ftp": "smtp", "ftp": "ftp", "pop3": "pop3", "imap": "imap",
    "mysql": "mysql", "xmpp": "xmpp",
}


def _first_bytes(text: str) -> str:
    """The first bytes of a not_tls detail as quoted text. Already quoted by quote_bytes:
    as is (balancing parentheses would add a stray ")" to a banner cut inside one,
    `"+OK Dovecot (Deb"...`); a bytes repr is converted."""
    return text if text.startswith('"') else clean_detail("", text)


def port_not_tls(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """The scan's outcome is not_tls: the first reply was recognisably another protocol
    (or no TLS record). Quotes the protocol the codec recognised and the first bytes, and
    for a protocol with a dialogue to TLS the command that scans it with STARTTLS."""
    if result.outcome != "not_tls":
        return None
    texts = [result.detail, *(p.detail for p in result.protocols if p.outcome == "not_tls")]
    for t in texts:
        m = _NOT_TLS.search(t or "")
        if m:
            proto = m.group("proto")
            named = "an unrecognised protocol" if proto == "unknown" else proto.upper()
            evidence = (
                f"{_where(result)} answered the ClientHello with {named}, not TLS; "
                f"first bytes received: {_first_bytes(m.group('first'))}"
            )
            # A protocol with a dialogue before TLS: say how to scan it.
            dialogue = _DIALOGUE_OF.get(proto)
            if dialogue and result.starttls is None:
                host = f"[{result.host}]" if ":" in result.host else result.host
                evidence += f"; to scan it with STARTTLS: tlscompat scan --starttls {dialogue} {host}:{result.port}"
            return make("port.not_tls", evidence)
    return make(
        "port.not_tls",
        f"{_where(result)} answered, but not with TLS: {clean_detail('not_tls', result.detail) or 'no TLS record'}",
    )


def _aborted(p: ProtocolResult) -> bool:
    return p.outcome in _ABORTS or (p.outcome == "alert" and p.alert == INTERNAL_ERROR)


def _no_version(result: EndpointResult) -> list[ProtocolResult]:
    """The probed versions, when TCP was accepted and none was accepted (TLS spoken with
    alerts, or every hello reset / closed / answered with broken records); else []."""
    if result.outcome not in ("ok", "reset", "closed", "protocol_error") or any(
        p.supported for p in result.protocols
    ):
        return []
    return probed(result)


def _odd_sni_refusal(p: ProtocolResult) -> bool:
    """handshake_failure (40) in a malformed record (version 0x0000) to a hello without
    SNI: how a large CDN refuses a client that names no site (issue 11 case 4)."""
    return p.alert == HANDSHAKE_FAILURE and "malformed record" in p.detail


def _all_unrecognized_name(ps: list[ProtocolResult], no_sni: bool = False) -> bool:
    alerts = [p for p in ps if p.outcome == "alert"]
    return bool(alerts) and all(
        p.alert == UNRECOGNIZED_NAME or (no_sni and _odd_sni_refusal(p)) for p in alerts
    ) and all(p.outcome in ("alert", "timeout") for p in ps)


def _refused_without_sni(result: EndpointResult, ps: list[ProtocolResult]) -> bool:
    """No server_name was sent (a target given by IP address, or --sni '') and every TLS
    and SSL 3.0 hello was refused with an alert: likely a server that needs SNI (RFC 6066
    section 3 lets a server refuse a hello without it). SSL 2.0 is left out: its hello
    cannot carry the extension."""
    if result.sni is not None:
        return False
    tls = [p for p in ps if p.version != c.SSL2]
    return bool(tls) and all(p.outcome == "alert" for p in tls)


def handshake_aborted(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """TCP connects, no version is accepted, and every ClientHello that got an answer got
    a reset, a close without alert, or internal_error (80): the service cannot use its
    certificate (no private key, no certificate bound to the IP:port). Probes that got no
    answer at all (timeouts) neither prove nor disprove it; at least one abort is needed."""
    ps = _no_version(result)
    answered = [p for p in ps if p.outcome != "timeout"]
    if not answered or not all(_aborted(p) for p in answered):
        return None
    return make(
        "handshake.aborted",
        f"{_where(result)} accepts TCP, but every ClientHello was aborted: "
        + lines(outcome_text(p) for p in ps),
    )


def handshake_rejected(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """TLS is spoken but no version is accepted, and the answers are not all aborts
    (handshake.aborted) nor all unrecognized_name (sni.required), and a server_name was
    sent (with none sent and every TLS hello refused with an alert, it is sni.required):
    the server refuses what was offered. Quotes every version's alert."""
    ps = _no_version(result)
    answered = [p for p in ps if p.outcome != "timeout"]
    if not answered or all(_aborted(p) for p in answered):
        return None
    if _all_unrecognized_name(ps, no_sni=result.sni is None) or result.behaviours.sni_name_refused:
        return None
    if _refused_without_sni(result, ps):
        return None  # sni.required: scan by name first
    return make(
        "handshake.rejected",
        f"{_where(result)} refused every ClientHello: " + lines(outcome_text(p) for p in ps),
    )


def sni_required(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Fires when (a) the SNI probe recorded that a handshake without SNI fails
    (Behaviours.sni_required), (b) no version is accepted and every refusal is
    unrecognized_name (112) (no SNI sent, or a name the server does not know) or, with no
    SNI sent, handshake_failure (40) in a malformed record (version 0x0000), or no SNI was
    sent (a target given by address) and every TLS and SSL 3.0 hello was refused with an
    alert (the evidence says to scan by name or with --sni NAME), or (c) without SNI the server sends another leaf certificate that is not valid for the
    name (the chain seen with sni=None against the one seen with the scan's SNI)."""
    evidence: list[str] = []
    b = result.behaviours
    if b.sni_required and not b.sni_name_refused:
        evidence.append(b.sni_detail or "a handshake without SNI fails")
    ps = _no_version(result)
    if _all_unrecognized_name(ps, no_sni=result.sni is None) and not b.sni_name_refused:
        sent = (
            "no server_name was sent"
            if result.sni is None
            else f"the server_name {result.sni!r} was sent (a name the server does not know)"
        )
        how = (
            alert_text(UNRECOGNIZED_NAME)
            if all(p.alert == UNRECOGNIZED_NAME for p in ps if p.outcome == "alert")
            else f"{alert_text(UNRECOGNIZED_NAME)} or {alert_text(HANDSHAKE_FAILURE)} in a malformed record"
        )
        evidence.append(
            f"{sent} and every ClientHello was refused with {how}: "
            + lines(outcome_text(p) for p in ps)
        )
    elif _refused_without_sni(result, ps):
        evidence.append(
            "no server_name was sent (the target was given by address) and every ClientHello "
            "without SNI was refused: " + lines(outcome_text(p) for p in ps)
            + f"; the server likely requires SNI: scan it by name, or with --sni NAME "
            f"(tlscompat scan --sni NAME {result.host}:{result.port})"
        )
    if result.sni is not None and not b.sni_name_refused:  # that case: sni.name_unknown
        with_sni = [ch for ch in result.certificates if ch.sni == result.sni]
        without = [ch for ch in result.certificates if ch.sni is None]
        sni_leaves = {ch.der[0] for ch in with_sni if ch.der}
        for ch in without:
            if not ch.der or ch.der[0] in sni_leaves:
                continue
            validation = ch.validation
            if validation is not None and getattr(validation, "hostname_ok", None):
                continue
            other = leaf(ch)
            mine = next((leaf(x) for x in with_sni if leaf(x) is not None), None)
            text = "without SNI the server sends " + (
                cert_label(other) if other is not None else "another certificate"
            )
            if validation is not None and getattr(validation, "hostname_ok", None) is False:
                text += f", not valid for {result.sni!r}"
            if mine is not None:
                text += f"; with SNI {result.sni!r} it sends {cert_label(mine)}"
            evidence.append(text)
    if not evidence:
        return None
    return make("sni.required", lines(evidence))

def scan_partial(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """The result is partial (the endpoint deadline ended it) and TLS was spoken: the
    versions whose enumeration did not finish, and the deadline."""
    if not result.partial or result.outcome != "ok":
        return None
    from handshakes.registry import version_name

    unfinished = [version_name(p.version) for p in result.protocols if p.incomplete]
    text = f"{_where(result)}: {result.detail or 'endpoint deadline reached'}"
    if unfinished:
        text += "; enumeration incomplete for " + ", ".join(unfinished)
    return make("scan.partial", text)


def sni_name_unknown(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Behaviours.sni_name_refused: every version refused the hello naming the site (the
    scan's SNI), and a hello without SNI was accepted. Quotes every version's refusal and
    what the hello without SNI got (issue 11: try the other side before calling a server
    broken)."""
    b = result.behaviours
    if not b.sni_name_refused:
        return None
    refusals = lines(outcome_text(p) for p in probed(result))
    return make("sni.name_unknown", f"{b.sni_detail}; with the name: {refusals}")


# finding id -> the one function that decides it.
RULES: dict[str, Rule] = {
    "dns.unresolved": dns_unresolved,
    "port.closed": port_closed,
    "port.unreachable": port_unreachable,
    "port.timeout": port_timeout,
    "scan.partial": scan_partial,
    "port.not_tls": port_not_tls,
    "handshake.aborted": handshake_aborted,
    "handshake.rejected": handshake_rejected,
    "sni.required": sni_required,
    "sni.name_unknown": sni_name_unknown,
}
