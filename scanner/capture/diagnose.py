# Observed connection -> findings, with the finding ids and the fixed text (cause,
# resolution, Windows error) of a live scan: scanner.diagnose.common.make() reads the same
# catalogue. A live scan decides from many probes of one server (an EndpointResult); a
# capture shows one real client's attempt, so the deciding functions are these, one per
# id, each quoting what the capture shows (frames, alerts, certificates).
#
# Rules kept: one function per finding id, evidence quoted from the ConnectionReport only;
# no finding without the bytes that support it (an alert still encrypted is named as such).
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime

from handshakes import registry as reg
from scanner.capture.connection import STAGES, AlertSeen, ConnectionReport
from scanner.diagnose import sort_findings
from scanner.diagnose.common import alert_text, make, versions
from scanner.results import Finding

__all__ = ["RULES", "diagnose_connection", "intolerance"]

# RFC 8446 section 6.2 / RFC 5246 section 7.2.2 alert numbers used below.
_HANDSHAKE_FAILURE, _BAD_CERTIFICATE, _UNSUPPORTED_CERT, _CERT_REVOKED, _CERT_EXPIRED = 40, 42, 43, 44, 45
_CERT_UNKNOWN, _UNKNOWN_CA, _ACCESS_DENIED, _DECRYPT_ERROR = 46, 48, 49, 51
_PROTOCOL_VERSION, _INSUFFICIENT_SECURITY, _INTERNAL_ERROR, _UNRECOGNIZED_NAME = 70, 71, 80, 112
_CERTIFICATE_REQUIRED = 116
_CLIENT_CERT_ALERTS = frozenset(
    (_BAD_CERTIFICATE, _UNSUPPORTED_CERT, _CERT_REVOKED, _CERT_EXPIRED, _CERT_UNKNOWN, _UNKNOWN_CA, _ACCESS_DENIED, _DECRYPT_ERROR)
)


def _where(r: ConnectionReport) -> str:
    return f"connection #{r.number} {r.client}:{r.client_port} -> {r.server}:{r.server_port}"


def _first_fatal(r: ConnectionReport, sender: str) -> AlertSeen | None:
    for a in r.alerts:
        if a.sender == sender and (a.level == 2 or a.description is None):
            return a
    return None


def _stage(r: ConnectionReport) -> int:
    return STAGES.index(r.stage)


def _certs(certs: Iterable[object]) -> str:
    out = []
    for cert in certs:
        subject = getattr(cert, "subject", "?")
        issuer = getattr(cert, "issuer", "?")
        out.append(f"{subject!r} issued by {issuer!r}, valid {getattr(cert, 'not_before', '')} to {getattr(cert, 'not_after', '')}")
    return "; ".join(out)


def no_common_version(r: ConnectionReport) -> Finding | None:
    """The server answered the ClientHello with protocol_version (70), or the client refused
    the server's version with it."""
    for sender in ("server", "client"):
        a = _first_fatal(r, sender)
        if a is not None and a.description == _PROTOCOL_VERSION and _stage(r) <= STAGES.index("server_flight"):
            offered = versions(r.hello.versions) if r.hello else "unknown"
            chosen = f"; the server chose {reg.version_name(r.version)}" if r.version else ""
            return make(
                "protocol.no_common_version",
                f"{_where(r)}: the client offered {offered}{chosen}; the {sender} answered with "
                f"{alert_text(a.description)} in frame {a.frame}",
            )
    return None


def no_common_suite(r: ConnectionReport) -> Finding | None:
    """The server answered the ClientHello itself with handshake_failure (40) or
    insufficient_security (71): no suite (or key exchange) in common."""
    a = _first_fatal(r, "server")
    if a is None or a.description not in (_HANDSHAKE_FAILURE, _INSUFFICIENT_SECURITY) or r.version is not None:
        return None
    offered = ", ".join(reg.cipher_suite_name(s) for s in r.hello.cipher_suites if not reg.is_grease(s)) if r.hello else "unknown"
    return make(
        "cipher.no_common_suite",
        f"{_where(r)}: the server answered the ClientHello with {alert_text(a.description)} in frame "
        f"{a.frame}; the client offered {len(r.hello.cipher_suites) if r.hello else 0} suites ({offered})",
    )


def sni_required(r: ConnectionReport) -> Finding | None:
    """The server refused the name in the ClientHello (or its absence) with
    unrecognized_name (112)."""
    a = _first_fatal(r, "server")
    if a is None or a.description != _UNRECOGNIZED_NAME:
        return None
    sent = f"SNI {r.hello.sni!r}" if r.hello and r.hello.sni else "no SNI"
    return make("sni.required", f"{_where(r)}: the client sent {sent}; the server answered {alert_text(a.description)} in frame {a.frame}")


def rejected(r: ConnectionReport) -> Finding | None:
    """Any other fatal alert from the server in answer to the ClientHello."""
    a = _first_fatal(r, "server")
    if a is None or a.description is None or r.version is not None:
        return None
    if a.description in (_PROTOCOL_VERSION, _HANDSHAKE_FAILURE, _INSUFFICIENT_SECURITY, _UNRECOGNIZED_NAME, _INTERNAL_ERROR):
        return None
    return make("handshake.rejected", f"{_where(r)}: the server answered the ClientHello with {alert_text(a.description)} in frame {a.frame}")


def aborted(r: ConnectionReport) -> Finding | None:
    """The server reset or closed after the ClientHello, without a ServerHello or an
    alert (or with internal_error 80)."""
    if r.hello is None or r.version is not None or r.retry_request:
        return None
    a = _first_fatal(r, "server")
    if a is not None and a.description == _INTERNAL_ERROR:
        return make("handshake.aborted", f"{_where(r)}: the server answered the ClientHello with {alert_text(a.description)} in frame {a.frame}")
    if a is None and r.closed_by == "server" and r.close in ("fin", "rst") and r.not_tls is None:
        how = "reset the connection (RST)" if r.close == "rst" else "closed the connection (FIN) without an alert"
        return make("handshake.aborted", f"{_where(r)}: after the ClientHello the server {how} in frame {r.close_frame}")
    return None


def timeout(r: ConnectionReport) -> Finding | None:
    """A SYN never answered, or a ClientHello never answered while the capture lasted."""
    if r.syn_only and not r.refused:
        return make("port.timeout", f"{_where(r)}: the SYN was never answered while the capture ran")
    if r.hello is not None and r.stage == "client_hello" and r.close == "silence" and not r.alerts and r.not_tls is None:
        return make(
            "port.timeout",
            f"{_where(r)}: TCP connected, the ClientHello was sent, and the server sent nothing "
            f"more in the {r.duration:.1f} s the capture holds of this connection",
        )
    return None


def refused(r: ConnectionReport) -> Finding | None:
    """A SYN answered by a RST."""
    if not r.refused:
        return None
    return make("port.closed", f"{_where(r)}: the SYN was answered with a reset (RST)")


def not_tls(r: ConnectionReport) -> Finding | None:
    """The client sent a ClientHello and the server answered with something else."""
    if r.not_tls is None or r.hello is None or r.starttls_refused is not None:
        return None  # after a refused STARTTLS the refusal is the finding (starttls_refused)
    proto = r.not_tls.upper() if r.not_tls != "unknown" else "bytes that are not TLS"
    return make("port.not_tls", f"{_where(r)}: the server answered the ClientHello with {proto}")


def starttls_refused(r: ConnectionReport) -> Finding | None:
    """The server refused the plain-text request to start TLS (SMTP 454, IMAP NO, POP3 -ERR,
    ...); a client that sends its ClientHello anyway gets plain text back."""
    if r.starttls_refused is None:
        return None
    then = ""
    if r.not_tls is not None:
        proto = r.not_tls.upper() if r.not_tls != "unknown" else "plain text"
        then = f"; the client sent its ClientHello anyway and the server answered it with {proto}, not TLS"
    proto = (r.starttls or "starttls").upper()
    return make("starttls.refused", f"{_where(r)}: the server answered the {proto} request to start TLS with {r.starttls_refused}{then}")


def client_cert_required(r: ConnectionReport) -> Finding | None:
    """The server asked for a client certificate, the client sent none (an empty
    Certificate) and the server ended the handshake."""
    if not r.certificate_request or r.client_certificates is None or r.client_certificates:
        return None
    a = _first_fatal(r, "server")
    if a is None and not (r.closed_by == "server" and _stage(r) < STAGES.index("complete")):
        return None
    how = f"{alert_text(a.description)}" if a is not None and a.description is not None else (a.text() if a else f"a {r.close.upper()}")
    cas = " | ".join(r.acceptable_cas) or "none named"
    return make(
        "client_auth.required",
        f"{_where(r)}: the server asked for a client certificate (acceptable CAs: {cas}), the "
        f"client sent none, and the server ended the handshake with {how}",
    )


def client_cert_rejected(r: ConnectionReport) -> Finding | None:
    """The client sent a certificate and the server ended the handshake right after it:
    a certificate alert, an alert still encrypted, or a close."""
    if not r.client_certificates or _stage(r) >= STAGES.index("application_data"):
        return None
    a = _first_fatal(r, "server")
    if a is not None:
        if a.description is not None and a.description not in _CLIENT_CERT_ALERTS and a.description != _HANDSHAKE_FAILURE:
            return None
        how = f"{a.text()} in frame {a.frame}"
    elif r.closed_by == "server" and r.close in ("fin", "rst") and _stage(r) < STAGES.index("complete"):
        how = f"a {r.close.upper()} in frame {r.close_frame}, without an alert"
    else:
        return None
    return make(
        "client_auth.cert_rejected",
        f"{_where(r)}: the client presented {_certs(r.client_certificates)}; the server ended "
        f"the handshake after the client's Certificate with {how}",
    )


def _when(iso: str) -> datetime | None:
    try:
        return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def hostname_mismatch(r: ConnectionReport) -> Finding | None:
    """The server's certificate does not name the SNI the client asked for."""
    if r.leaf_matches_sni is not False or r.hello is None:
        return None
    leaf = r.server_certificates[0]
    return make(
        "cert.hostname_mismatch",
        f"{_where(r)}: the client asked for {r.hello.sni!r} (SNI); the server sent {leaf.subject!r}, "
        f"valid for {', '.join(leaf.names) or 'no name'}",
    )


def expired(r: ConnectionReport) -> Finding | None:
    """The server's certificate had expired when the connection was captured."""
    if not r.server_certificates:
        return None
    leaf = r.server_certificates[0]
    until = _when(leaf.not_after)
    at = datetime.fromtimestamp(r.start, UTC)
    if until is None or until >= at:
        return None
    return make("cert.expired", f"{_where(r)}: the server sent {leaf.subject!r}, valid until {leaf.not_after}; the connection was captured at {at:%Y-%m-%dT%H:%M:%SZ}")


def not_yet_valid(r: ConnectionReport) -> Finding | None:
    """The server's certificate was not valid yet when the connection was captured."""
    if not r.server_certificates:
        return None
    leaf = r.server_certificates[0]
    since = _when(leaf.not_before)
    at = datetime.fromtimestamp(r.start, UTC)
    if since is None or since <= at:
        return None
    return make("cert.not_yet_valid", f"{_where(r)}: the server sent {leaf.subject!r}, valid from {leaf.not_before}; the connection was captured at {at:%Y-%m-%dT%H:%M:%SZ}")


def untrusted_by_client(r: ConnectionReport) -> Finding | None:
    """The client answered the server's certificate with unknown_ca (48): it does not trust
    the root the chain leads to."""
    a = _first_fatal(r, "client")
    if a is None or a.description != _UNKNOWN_CA or _stage(r) < STAGES.index("server_hello"):
        return None
    leaf = r.server_certificates[0] if r.server_certificates else None
    sent = f"the server sent {leaf.subject!r} issued by {leaf.issuer!r}; " if leaf else ""
    return make("cert.untrusted_root", f"{_where(r)}: {sent}the client refused it with {alert_text(a.description)} in frame {a.frame}")


RULES: dict[str, Callable[[ConnectionReport], Finding | None]] = {
    "cert.hostname_mismatch": hostname_mismatch,
    "cert.expired": expired,
    "cert.not_yet_valid": not_yet_valid,
    "cert.untrusted_root": untrusted_by_client,
    "port.closed": refused,
    "port.timeout": timeout,
    "port.not_tls": not_tls,
    "starttls.refused": starttls_refused,
    "protocol.no_common_version": no_common_version,
    "cipher.no_common_suite": no_common_suite,
    "sni.required": sni_required,
    "handshake.rejected": rejected,
    "handshake.aborted": aborted,
    "client_auth.required": client_cert_required,
    "client_auth.cert_rejected": client_cert_rejected,
}


def diagnose_connection(r: ConnectionReport) -> ConnectionReport:
    """The report with its findings (most severe first, then by id)."""
    found = [f for rule in RULES.values() if (f := rule(r)) is not None]
    return replace(r, findings=sort_findings(found))


def intolerance(failed: ConnectionReport, retry: ConnectionReport) -> str | None:
    """A note when a failed handshake was followed, from the same client to the same server,
    by a smaller or older ClientHello that succeeded (a client's version fallback)."""
    if failed.hello is None or retry.hello is None or _stage(retry) < STAGES.index("complete"):
        return None
    if _stage(failed) >= STAGES.index("server_flight"):
        return None
    older = max(retry.hello.versions, default=0) < max(failed.hello.versions, default=0)
    fewer = len(retry.hello.extensions) < len(failed.hello.extensions) or len(retry.hello.cipher_suites) < len(failed.hello.cipher_suites)
    if not (older or fewer):
        return None
    what = "an older version" if older else "a smaller ClientHello"
    return (
        f"connection #{failed.number} failed after the ClientHello; connection #{retry.number} from the same "
        f"client retried with {what} and succeeded: a sign of version or ClientHello intolerance"
    )
