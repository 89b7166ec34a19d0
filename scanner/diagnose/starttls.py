# Findings about the dialogue before TLS (STARTTLS and its cousins, issue 13): TLS not
# offered, refused, stalled, malformed, another protocol's greeting, authentication offered
# in plaintext, throttling met during the scan.
#
# Each function takes the scan result and options, returns one Finding or None, and says
# in its docstring exactly which evidence (EndpointResult.starttls) makes it fire.
from __future__ import annotations

from typing import TYPE_CHECKING

from scanner.diagnose.common import Rule, make
from scanner.outcome_text import counted
from scanner.results import EndpointResult, Finding

if TYPE_CHECKING:
    from scanner.options import ScanOptions


def _where(result: EndpointResult) -> str:
    assert result.starttls is not None
    return f"{result.starttls.protocol.upper()} on port {result.port}"


def not_offered(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """starttls.outcome is starttls_not_offered: the capability list has no STARTTLS (or
    STLS, AUTH TLS...), LDAP answered StartTLS with protocolError, PostgreSQL answered `N`,
    MySQL's greeting lacks CLIENT_SSL, RDP selected standard RDP security. Quotes the
    server's words."""
    st = result.starttls
    if st is None or st.outcome != "starttls_not_offered":
        return None
    return make("starttls.not_offered", f"{_where(result)}: {st.detail}")


def refused(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """starttls.outcome is starttls_refused: the server answered the request to start TLS
    (or its greeting) with something other than "go ahead", e.g. SMTP 454. Quotes it."""
    st = result.starttls
    if st is None or st.outcome != "starttls_refused":
        return None
    return make("starttls.refused", f"{_where(result)}: {st.detail}")


def stalled(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """starttls.outcome is timeout: no dialogue reached TLS, the first one got no complete
    reply within the dialogue's deadline. Quotes what the server did send (the greeting's
    start), or says it sent nothing."""
    st = result.starttls
    if st is None or st.outcome != "timeout":
        return None
    return make("starttls.stalled", f"{_where(result)}: {st.detail}")


def protocol_error(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """starttls.outcome is protocol_error: no dialogue reached TLS, the first one could not
    read the server's reply (a line over 8192 bytes, more than 200 lines...). Says why."""
    st = result.starttls
    if st is None or st.outcome != "protocol_error":
        return None
    return make("starttls.protocol_error", f"{_where(result)}: {st.detail}")


def wrong_protocol(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """starttls.outcome is wrong_protocol: the server's first bytes are recognisably another
    protocol than the dialogue's (handshakes.server_flight.identify_protocol), binary
    where a text greeting is due, or a TLS record. Names it and the --starttls to use."""
    st = result.starttls
    if st is None or st.outcome != "wrong_protocol":
        return None
    return make("starttls.wrong_protocol", f"{_where(result)}: {st.detail}")


def plaintext_auth(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """starttls.plaintext_auth is not empty: before TLS the server advertised
    authentication (SMTP AUTH, IMAP without LOGINDISABLED, POP3 USER/SASL, ManageSieve
    SASL, XMPP SASL mechanisms, NNTP AUTHINFO), offered a plaintext session (PostgreSQL
    `N`, MySQL without CLIENT_SSL), or (LDAP, with the behaviours probe) answered a simple
    bind with a made-up name and password sent without TLS by anything but
    confidentialityRequired / strongerAuthRequired. Lists what it offered."""
    st = result.starttls
    if st is None or not st.plaintext_auth:
        return None
    evidence = f"{_where(result)} offers before TLS: {', '.join(st.plaintext_auth)}"
    if st.plaintext_detail:
        evidence += f" ({st.plaintext_detail})"
    return make("starttls.plaintext_auth", evidence)


def throttled(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """starttls.throttled > 0 or starttls.outcome is throttled: the server turned
    connections away for load (SMTP 421, "too many connections", MySQL 1040, a close
    during the dialogue); the scan paused and retried. Severity medium when the scan could
    not get through (its results are partial), info otherwise."""
    st = result.starttls
    if st is None or (st.throttled == 0 and st.outcome != "throttled"):
        return None
    if st.outcome == "throttled" and "closed the connection" in st.detail:
        # Every attempt ended in a close part-way through the dialogue, never a word of
        # load (421, "too many"): once may be load, every time is a broken dialogue.
        return make(
            "starttls.throttled",
            f"{_where(result)} closed the connection part-way through the dialogue on every attempt "
            f"({st.detail}); {st.throttled} connection(s) closed, so this is more likely a broken "
            "dialogue or a server rejecting this client than load; results are partial",
            severity="medium",
        )
    if st.outcome == "throttled":
        return make(
            "starttls.throttled",
            f"{_where(result)} kept turning the scan away ({st.detail}); "
            f"{st.throttled} connection(s) refused for load, results are partial",
            severity="medium",
        )
    return make(
        "starttls.throttled",
        f"{_where(result)} turned {counted(st.throttled, 'connection')} away for load; the scan paused and retried them",
    )


def injection(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """starttls.injection is "yes": a harmless command (NOOP, DATE) pipelined right after
    the request to start TLS was answered inside the TLS session, before the client sent
    anything there (the check of scanner/probes/injection.py). Quotes the answer."""
    st = result.starttls
    if st is None or st.injection != "yes":
        return None
    return make("starttls.injection", f"{_where(result)}: {st.injection_detail}")


RULES: dict[str, Rule] = {
    "starttls.not_offered": not_offered,
    "starttls.refused": refused,
    "starttls.stalled": stalled,
    "starttls.protocol_error": protocol_error,
    "starttls.wrong_protocol": wrong_protocol,
    "starttls.plaintext_auth": plaintext_auth,
    "starttls.throttled": throttled,
    "starttls.injection": injection,
}
