# What a scan found: frozen values holding tuples. Evidence only; interpretation lives in
# scanner/diagnose. One function (to_json) turns any of them into JSON-ready data, so the
# schema has exactly one definition in code (and docs/schema.json describes it).
from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from handshakes import registry as reg
from scanner.options import SEVERITIES as SEVERITIES  # re-exported: results carry severities

if TYPE_CHECKING:
    from scanner.revocation import RevocationResult
    from scanner.x509 import CertificateInfo, ChainValidation

# Re-exported: certificates are decoded and judged in scanner.x509 / scanner.revocation.
# Imported when first asked for (PEP 562): reading results (report, diff, audit) needs
# neither cryptography's X.509 nor httpx (docs/performance.md, "Start-up").
__all__ = ["CertificateInfo", "ChainValidation", "RevocationResult"]
_LAZY = {
    "CertificateInfo": "scanner.x509",
    "ChainValidation": "scanner.x509",
    "RevocationResult": "scanner.revocation",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'scanner.results' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)



@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolResult:
    """Whether one protocol version is supported, and the outcome that proves it."""

    version: int
    supported: bool
    outcome: str  # an engine outcome: accepted, alert, closed, reset, timeout, ...
    alert: int | None = None
    detail: str = ""
    negotiated: int | None = None  # the version the server answered with, when it answered
    # Why the cipher suite enumeration of this version did not finish (the endpoint
    # deadline); None when it did. Suites found before it are kept.
    incomplete: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteResult:
    version: int
    code: int
    preference: int | None = None  # 1 = most preferred, when the server imposes its order
    group: int | None = None  # ECDHE group / TLS 1.3 key share group seen with it
    dh_bits: int | None = None  # DHE prime size seen with it


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupResult:
    version: int
    code: int
    preference: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainResult:
    """One certificate chain as the server sent it, and in which circumstances."""

    versions: tuple[int, ...]  # versions in which this exact chain was seen
    sni: str | None  # the server_name sent (None: no SNI)
    key_type: str  # the leaf's key type: RSA, EC, ...
    der: tuple[bytes, ...]  # leaf first, as sent
    certificates: tuple[CertificateInfo | None, ...] = ()  # None: an entry that cannot be decoded
    stapled_ocsp: bytes | None = None
    validation: ChainValidation | None = None
    revocation: RevocationResult | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientAuthResult:
    """What the server asks of a client certificate, per version."""

    version: int
    mode: str  # none | requested | optional | required
    certificate_authorities: tuple[str, ...] = ()  # RFC 4514 strings
    certificate_types: tuple[int, ...] = ()
    signature_algorithms: tuple[int, ...] = ()
    signature_algorithms_cert: tuple[int, ...] = ()
    oid_filters: tuple[tuple[str, str], ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientCertAttempt:
    """The server's verdict on one client certificate presented in a full handshake."""

    label: str  # what the user called the certificate (file name), never key material
    version: int | None
    subject: str
    issuer: str
    verdict: str  # accepted | alert | closed | reset | timeout | error
    alert: int | None = None
    stage: str = ""  # where in the handshake the verdict came
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Behaviours:
    alpn: tuple[str, ...] = ()
    alpn_checked: bool = False
    secure_renegotiation: bool | None = None
    extended_master_secret: bool | None = None
    encrypt_then_mac: bool | None = None
    encrypt_then_mac_detail: str = ""  # why None: "not applicable: no CBC suite is accepted"
    session_ticket: bool | None = None
    ocsp_stapling: bool | None = None
    fallback_scsv: bool | None = None  # True: inappropriate_fallback sent as it should
    fallback_detail: str = ""
    compression: tuple[int, ...] = ()  # methods the server accepted other than null
    server_preference: tuple[tuple[int, bool], ...] = ()  # (version, imposes its order)
    chacha_priority: tuple[int, ...] = ()  # versions: server order, but ChaCha20 first if the client wants it
    sni_required: bool | None = None
    sni_detail: str = ""
    sni_name_refused: bool = False  # the name sent is refused, a hello without SNI is accepted
    downgrade_sentinel: bool | None = None


# The active checks' names for people (reports), by VulnCheck.check.
VULN_CHECK_TITLES = {
    "heartbleed": "Heartbleed (CVE-2014-0160)",
    "crime": "CRIME, TLS compression (CVE-2012-4929)",
    "ccs_injection": "CCS injection (CVE-2014-0224)",
    "robot": "ROBOT",
    "client_renegotiation": "Client-initiated renegotiation (CVE-2011-1473)",
    "ticketbleed": "Ticketbleed (CVE-2016-9244)",
    "zero_rtt": "TLS 1.3 0-RTT replay",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class VulnCheck:
    """One active vulnerability check (scanner/probes/vulns.py) and what it observed.

    ``check``: heartbleed | crime | ccs_injection | robot | client_renegotiation |
    ticketbleed | zero_rtt (VULN_CHECK_TITLES). ``status``: vulnerable | not_vulnerable |
    inconclusive (also a check that could not be run: evidence "not tested: ...") |
    not_applicable (the server lacks what the flaw needs). ``evidence``: what was sent and
    what the server answered, in words (never bytes a server leaked). ``oracle``: for
    ROBOT, strong or weak when vulnerable. ``connections``: what the check cost.
    """

    check: str
    status: str
    evidence: str
    version: int | None = None
    oracle: str | None = None
    connections: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Intolerance:
    """A ClientHello shape the server fails on while a nearby one works (issue 11).

    ``kind``: hello_length, suite_count, hello_shape (scanner.probes.adaptive) or a
    tolerance probe's kind (scanner.probes.tolerance). ``trigger``: the exact difference,
    in words. ``failed`` / ``worked``: the hellos tried and how each ended, in words.
    ``low`` / ``high``: the failing range of the measured quantity (bytes of the
    ClientHello handshake message for hello_length, suites for suite_count; measured: the
    smallest and largest hello seen failing; None: open),
    so a client simulation can tell whether a given hello falls in it.
    """

    kind: str
    trigger: str
    failed: tuple[str, ...] = ()
    worked: tuple[str, ...] = ()
    versions: tuple[int, ...] = ()
    low: int | None = None
    high: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToleranceCheck:
    """One tolerance probe (scanner.probes.tolerance): the hello the endpoint accepts with
    one difference (``trigger``), asked in ``version``; ``tolerated`` when the server still
    answered as it must; ``detail`` what it did (for the post-quantum key share: the group
    chosen, or the HelloRetryRequest)."""

    name: str
    trigger: str
    version: int
    tolerated: bool
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    id: str
    severity: str
    title: str
    evidence: str
    cause: str
    resolution: str
    windows_error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeLog:
    """One probe for --verbose and for the JSON: what was offered, what came back."""

    name: str
    offered: str
    outcome: str
    detail: str
    bytes_sent: int
    bytes_received: int
    duration_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Stats:
    connections: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StartTLSResult:
    """The pre-TLS dialogue of an endpoint (STARTTLS and its cousins): what the server
    announced before TLS and how the dialogue ended. ``outcome``: "ok" (the server
    agreed), starttls_not_offered, starttls_refused, throttled, timeout, protocol_error, wrong_protocol,
    not_reached (no dialogue ended);
    ``reply``: the server's words when it did not agree, exact."""

    protocol: str  # smtp, imap, pop3, ftp, ldap, xmpp, postgres, mysql, ...
    outcome: str
    detail: str = ""
    reply: str = ""
    banner: str = ""
    capabilities: tuple[str, ...] = ()
    server_version: str = ""
    plaintext_auth: tuple[str, ...] = ()  # authentication offered before TLS
    plaintext_detail: str = ""  # how that was found when it took a check (LDAP simple bind)
    throttled: int = 0  # connections turned away for load, retried after a pause
    # STARTTLS command injection (CVE-2011-0411 class): "yes" (a command pipelined after
    # STARTTLS was answered inside TLS), "no", "untested" (the check could not finish),
    # "not_run" (not asked for, or not a text protocol).
    injection: str = "not_run"
    injection_detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointResult:
    host: str
    port: int
    ip: str | None
    sni: str | None
    outcome: str  # ok (TLS spoken), or why not: dns_error, refused, timeout, not_tls, ...
    detail: str = ""
    # True when the endpoint deadline ended the scan before every probe finished: the
    # facts below are what the finished probes established; ``detail`` names the deadline.
    partial: bool = False
    protocols: tuple[ProtocolResult, ...] = ()
    cipher_suites: tuple[SuiteResult, ...] = ()
    # True when the suites probe ran: cipher_suites then holds every suite each supported
    # version accepts; False (--quick, --probes without suites): only the suites negotiated.
    suites_enumerated: bool = False
    groups: tuple[GroupResult, ...] = ()
    dh_bits: tuple[int, ...] = ()
    certificates: tuple[ChainResult, ...] = ()
    # Distinct chains seen beyond the ones kept in ``certificates`` (facts.MAX_CHAINS).
    certificates_omitted: int = 0
    behaviours: Behaviours = dataclasses.field(default_factory=Behaviours)
    client_auth: tuple[ClientAuthResult, ...] = ()
    client_certificates: tuple[ClientCertAttempt, ...] = ()
    vulns: tuple[VulnCheck, ...] = ()  # the active checks, when the vulns family ran
    anomalies: tuple[str, ...] = ()  # rules the server broke (suite not offered, wrong version)
    intolerances: tuple[Intolerance, ...] = ()  # hello shapes the server fails on (issue 11)
    tolerance: tuple[ToleranceCheck, ...] = ()  # the tolerance probes' verdicts (issue 11)
    findings: tuple[Finding, ...] = ()
    probes: tuple[ProbeLog, ...] = ()
    tags: tuple[str, ...] = ()
    stats: Stats = dataclasses.field(default_factory=Stats)
    started: str = ""  # ISO 8601 UTC
    starttls: StartTLSResult | None = None  # None: plain TLS from the first byte

    def supported_versions(self) -> tuple[int, ...]:
        return tuple(p.version for p in self.protocols if p.supported)


# -- JSON ------------------------------------------------------------------------------------

SCHEMA_VERSION = 1

# Fields holding wire codes, and how each is shown in JSON.
_VERSION_FIELDS = {"version", "negotiated", "versions"}


def _code_repr(name: str, value: int, owner: object) -> Any:
    if name in _VERSION_FIELDS:
        return reg.version_name(value)
    if name == "code" and isinstance(owner, SuiteResult):
        return reg.hex_code(value, 6 if value > 0xFFFF else 4)
    if name == "code" and isinstance(owner, GroupResult):
        return reg.hex_code(value)
    if name == "alert":
        return reg.alert_name(value)
    return value


# Field names per dataclass type, and the names whose ints are wire codes (_code_repr):
# to_json runs some 300 times per endpoint of a fleet scan, so it looks a type up once
# instead of asking dataclasses.fields() and a ladder of isinstance checks each time
# (issue 16). The output is the same value for value.
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_CODED = _VERSION_FIELDS | {"code", "alert"}
_PLAIN = frozenset((str, bool, float, type(None)))


def to_json(value: Any, *, owner: object = None, name: str = "") -> Any:
    """The JSON form of any result value. Codes become names/hex strings, bytes become hex
    (DER becomes base64 PEM-free text), datetimes ISO 8601."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is int:
        return _code_repr(name, value, owner) if name in _CODED else value
    if kind is tuple or kind is list:
        return [to_json(v, owner=owner, name=name) for v in value]
    names = _FIELD_NAMES.get(kind)
    if names is not None:
        out: dict[str, Any] = {}
        for field_name in names:
            item = getattr(value, field_name)
            item_kind = type(item)
            if item_kind in _PLAIN or (item_kind is int and field_name not in _CODED):
                out[field_name] = item
            else:
                out[field_name] = to_json(item, owner=value, name=field_name)
        _enrich(value, out)
        return out
    return _to_json_other(value, owner, name)


def _to_json_other(value: Any, owner: object, name: str) -> Any:
    """to_json for the types without a fast path (subclasses included), and the first
    sight of each dataclass type."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return _code_repr(name, value, owner)
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode() if name == "der" else value.hex()
    if isinstance(value, datetime):
        # RFC 3339 needs an offset; certificate times are UTC (RFC 5280 section 4.1.2.5).
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        _FIELD_NAMES[type(value)] = tuple(f.name for f in dataclasses.fields(value))
        return to_json(value, owner=owner, name=name)
    if isinstance(value, tuple | list):
        return [to_json(v, owner=owner, name=name) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v, owner=owner, name=str(k)) for k, v in value.items()}
    return str(value)


def _enrich(value: object, out: dict[str, Any]) -> None:
    """Names next to codes, so a reader of the JSON needs no registry."""
    if isinstance(value, SuiteResult):
        info = reg.cipher_suite(value.code)
        out["name"] = reg.cipher_suite_name(value.code)
        out["openssl_name"] = info.openssl if info else None
        out["kx"] = info.kx if info else None
        out["auth"] = info.auth if info else None
        out["encryption"] = info.enc if info else None
        out["bits"] = info.bits if info else None
        out["group"] = reg.group_name(value.group) if value.group is not None else None
    elif isinstance(value, GroupResult):
        out["name"] = reg.group_name(value.code)
    elif isinstance(value, ProtocolResult):
        out["alert"] = reg.alert_name(value.alert) if value.alert is not None else None
    elif isinstance(value, ClientAuthResult):
        out["signature_algorithms"] = [reg.signature_scheme_name(s) for s in value.signature_algorithms]
        out["signature_algorithms_cert"] = [
            reg.signature_scheme_name(s) for s in value.signature_algorithms_cert
        ]
    elif isinstance(value, Behaviours):
        out["server_preference"] = [
            {"version": reg.version_name(v), "server_order": b} for v, b in value.server_preference
        ]
        out["chacha_priority"] = [reg.version_name(v) for v in value.chacha_priority]


def endpoint_json(result: EndpointResult) -> dict[str, Any]:
    data = to_json(result)
    assert isinstance(data, dict)
    return data


def document_json(results: Sequence[EndpointResult]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "tlscompat",
        "endpoints": [endpoint_json(r) for r in results],
    }
