# Findings about client certificates: what the server asks for (ClientAuthResult, one per
# version) and its verdict on certificates the user presented (ClientCertAttempt).
from __future__ import annotations

from handshakes import registry as reg
from scanner.diagnose.common import Rule, lines, make, versions
from scanner.options import ScanOptions
from scanner.results import ClientAuthResult, ClientCertAttempt, EndpointResult, Finding

# The verdicts of a full handshake that refuse a certificate (scanner.probes.client_auth).
REFUSALS = ("alert", "closed", "reset")


def _dn_key(dn: str) -> str:
    """RFC 4514 strings compared as a client would: case and spacing do not matter."""
    return ",".join(part.strip().replace(" = ", "=").casefold() for part in dn.split(","))


def _request_evidence(modes: list[ClientAuthResult]) -> str:
    parts = [f"CertificateRequest in {versions(r.version for r in modes)}"]
    cas = list(dict.fromkeys(ca for r in modes for ca in r.certificate_authorities))
    parts.append(
        "acceptable CAs: " + " | ".join(repr(ca) for ca in cas)
        if cas
        else "the server names no acceptable CA (any issuer it trusts)"
    )
    sigs = list(dict.fromkeys(s for r in modes for s in r.signature_algorithms))
    if sigs:
        parts.append("signature algorithms: " + ", ".join(reg.signature_scheme_name(s) for s in sigs))
    parts.extend(f"{reg.version_name(r.version)}: {r.detail}" for r in modes if r.detail)
    return lines(parts)


def required(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Some version's ClientAuthResult.mode is "required": the handshake fails without a
    client certificate. Quotes the versions, the acceptable CA names and signature
    algorithms from the CertificateRequest."""
    modes = [r for r in result.client_auth if r.mode == "required"]
    return make("client_auth.required", _request_evidence(modes)) if modes else None


def optional(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Some version's mode is "optional": requested, but not needed to complete."""
    modes = [r for r in result.client_auth if r.mode == "optional"]
    return make("client_auth.optional", _request_evidence(modes)) if modes else None


def requested(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """Some version's mode is "requested": a CertificateRequest was seen, and whether the
    server goes on without a certificate was not tested."""
    modes = [r for r in result.client_auth if r.mode == "requested"]
    return make("client_auth.requested", _request_evidence(modes)) if modes else None


def _acceptable(result: EndpointResult, attempt: ClientCertAttempt) -> list[str]:
    """The CA names the server listed for the attempt's version (any version if unknown)."""
    same = [r for r in result.client_auth if attempt.version is None or r.version == attempt.version]
    source = same or list(result.client_auth)
    return list(dict.fromkeys(ca for r in source for ca in r.certificate_authorities))


def _issuer_refused(result: EndpointResult, attempt: ClientCertAttempt) -> bool:
    cas = _acceptable(result, attempt)
    return bool(cas) and _dn_key(attempt.issuer) not in {_dn_key(ca) for ca in cas}


def _verdict(attempt: ClientCertAttempt) -> str:
    where = f" ({attempt.stage})" if attempt.stage else ""
    if attempt.verdict == "alert" and attempt.alert is not None:
        text = (
            f"the server answered alert {reg.alert_name(attempt.alert)} ({attempt.alert}){where}: "
            f"{reg.alert_meaning(attempt.alert)}"
        )
    elif attempt.verdict == "closed":
        text = f"the server closed the connection without an alert{where}"
    elif attempt.verdict == "reset":
        text = f"the server reset the connection{where}"
    else:
        text = f"{attempt.verdict}{where}"
    return text + (f" [{attempt.detail}]" if attempt.detail else "")


def _presented(attempt: ClientCertAttempt) -> str:
    v = f" in {reg.version_name(attempt.version)}" if attempt.version is not None else ""
    return (
        f"certificate {attempt.label!r} (subject {attempt.subject!r}, issuer "
        f"{attempt.issuer!r}) presented{v}"
    )


def issuer_not_accepted(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A presented client certificate was refused (alert, close or reset) and its issuer
    is not among the acceptable CAs of the server's CertificateRequest. Names both."""
    parts = []
    for a in result.client_certificates:
        if a.verdict in REFUSALS and _issuer_refused(result, a):
            cas = " | ".join(repr(ca) for ca in _acceptable(result, a))
            parts.append(
                f"{_presented(a)}: {_verdict(a)}; the server expects an issuer among: {cas}"
            )
    return make("client_auth.issuer_not_accepted", lines(parts)) if parts else None


def cert_rejected(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A presented client certificate was refused (alert, close or reset) although its
    issuer is acceptable (or the server names no CA): the server objects to the
    certificate itself. Quotes the alert name, number and meaning and the certificate."""
    parts = [
        f"{_presented(a)}: {_verdict(a)}"
        for a in result.client_certificates
        if a.verdict in REFUSALS and not _issuer_refused(result, a)
    ]
    return make("client_auth.cert_rejected", lines(parts)) if parts else None



# finding id -> the one function that decides it.
RULES: dict[str, Rule] = {
    "client_auth.required": required,
    "client_auth.optional": optional,
    "client_auth.requested": requested,
    "client_auth.issuer_not_accepted": issuer_not_accepted,
    "client_auth.cert_rejected": cert_rejected,
}
