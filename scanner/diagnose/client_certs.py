# Findings about the client certificates the user presented: why a server refused one.
#
# One documented function per finding decides whether it applies, from the evidence the
# probe recorded (ClientCertAttempt: alert, stage) and the certificate's own fields. Pure:
# no IO, no clock (the scan's start time, or ``now``, is the time a certificate is judged
# at). diagnose() calls client_cert_findings() next to the client_auth rules,
# which already cover "refused" and "issuer not accepted".
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography import x509

from handshakes import constants as c
from handshakes import registry as reg
from scanner.diagnose.client_auth import REFUSALS
from scanner.results import ClientAuthResult, ClientCertAttempt, EndpointResult, Finding
from scanner.x509 import CertificateDecodeError, CertificateInfo, decode_certificate

if TYPE_CHECKING:
    from scanner.clientauth.credentials import ClientCredential

__all__ = [
    "FINDING_IDS",
    "cert_expired",
    "cert_incomplete_chain",
    "cert_key_type",
    "cert_wrong_usage",
    "client_cert_findings",
]

FINDING_IDS = (
    "client_auth.cert_expired",
    "client_auth.cert_wrong_usage",
    "client_auth.cert_key_type",
    "client_auth.cert_incomplete_chain",
)

_MAX_LINES = 24


@dataclass(frozen=True, slots=True, kw_only=True)
class _Presented:
    """One credential with what the server made of it."""

    credential: ClientCredential
    info: CertificateInfo
    attempts: tuple[ClientCertAttempt, ...]

    @property
    def refused(self) -> tuple[ClientCertAttempt, ...]:
        return tuple(a for a in self.attempts if a.verdict in REFUSALS)

    @property
    def accepted(self) -> bool:
        return any(a.verdict == "accepted" for a in self.attempts)


def _lines(items: Iterable[str]) -> str:
    unique = list(dict.fromkeys(i for i in items if i))
    if len(unique) > _MAX_LINES:
        unique = [*unique[:_MAX_LINES], f"and {len(unique) - _MAX_LINES} more"]
    return "; ".join(unique)


def _dn_key(dn: str) -> str:
    """RFC 4514 strings compared as a client would: case and spacing do not matter."""
    return ",".join(part.strip().replace(" = ", "=").casefold() for part in dn.split(","))


def _verdict(a: ClientCertAttempt) -> str:
    version = reg.version_name(a.version) if a.version is not None else "?"
    where = f" {a.stage}" if a.stage else ""
    if a.verdict == "alert" and a.alert is not None:
        return f"{version}: alert {reg.alert_name(a.alert)} ({a.alert}){where}"
    if a.verdict in ("closed", "reset"):
        return f"{version}: connection {a.verdict} without an alert{where}"
    return f"{version}: {a.verdict}{where}"


def _cert_text(p: _Presented) -> str:
    return f"certificate {p.credential.label!r} (subject {p.info.subject!r}, issuer {p.info.issuer!r})"


def _outcome(p: _Presented) -> str:
    return ", ".join(_verdict(a) for a in p.attempts)


def _finding(
    finding_id: str, severity: str, title: str, evidence: list[str], cause: str, resolution: str,
    windows_error: str | None = None,
) -> Finding:
    return Finding(
        id=finding_id, severity=severity, title=title, evidence=_lines(evidence), cause=cause,
        resolution=resolution, windows_error=windows_error,
    )


def _scan_time(result: EndpointResult, now: datetime | None) -> datetime:
    if now is not None:
        return now if now.tzinfo else now.replace(tzinfo=UTC)
    if result.started:
        try:
            started = datetime.fromisoformat(result.started)
            return started if started.tzinfo else started.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


# -- one function per finding --------------------------------------------------------------


def cert_expired(presented: Sequence[_Presented], now: datetime) -> Finding | None:
    """client_auth.cert_expired: a presented certificate is outside its validity period
    (notAfter before, or notBefore after, the scan time). High when the server refused it
    (OpenSSL answers certificate_expired, 45), low when the server took it anyway."""
    hits = [p for p in presented if p.info.not_after < now or p.info.not_before > now]
    if not hits:
        return None
    evidence = []
    for p in hits:
        if p.info.not_after < now:
            days = (now - p.info.not_after).days
            when = f"expired {p.info.not_after.isoformat()} ({days} days before the scan)"
        else:
            when = f"not valid before {p.info.not_before.isoformat()}"
        evidence.append(f"{_cert_text(p)} {when}; {_outcome(p)}")
    refused = any(p.refused for p in hits)
    return _finding(
        "client_auth.cert_expired",
        "high" if refused else "low",
        "A client certificate you presented is expired (or not yet valid)",
        evidence,
        "A server checks the validity dates of a client certificate like those of any "
        "certificate (RFC 5280 section 6.1.3) and refuses one that is outside them, usually "
        "with alert certificate_expired (45)"
        + ("." if refused else "; this server accepted it anyway, but others will not."),
        "Client side: renew the certificate with its CA and install the new one with its "
        "private key (Windows: certlm.msc > Personal > Certificates for services, certmgr.msc "
        "for the user); remove the expired one so the client cannot pick it. Also check the "
        "client machine's clock.",
        windows_error="0x800B0101 (CERT_E_EXPIRED)",
    )


def cert_wrong_usage(presented: Sequence[_Presented]) -> Finding | None:
    """client_auth.cert_wrong_usage: the certificate has an extended key usage extension
    without clientAuth (or anyExtendedKeyUsage), or a key usage without digitalSignature
    (RFC 5280 sections 4.2.1.3 and 4.2.1.12). OpenSSL refuses it with
    unsupported_certificate (43) ("unsuitable certificate purpose")."""
    hits = []
    for p in presented:
        problems = []
        eku = set(p.info.extended_key_usage)
        if p.info.has_eku and not eku & {"clientAuth", "anyExtendedKeyUsage"}:
            problems.append(
                "extended key usage " + (", ".join(sorted(eku)) or "(empty)") + " lacks clientAuth"
            )
        if p.info.key_usage and "digitalSignature" not in p.info.key_usage:
            problems.append("key usage " + ", ".join(p.info.key_usage) + " lacks digitalSignature")
        if problems:
            hits.append((p, problems))
    if not hits:
        return None
    refused = any(p.refused for p, _ in hits)
    return _finding(
        "client_auth.cert_wrong_usage",
        "high" if refused else "low",
        "A client certificate you presented is not made for client authentication",
        [f"{_cert_text(p)}: {'; '.join(problems)}; {_outcome(p)}" for p, problems in hits],
        "A certificate with an extended key usage extension may only be used for the "
        "purposes it lists (RFC 5280 section 4.2.1.12); TLS client authentication needs "
        "id-kp-clientAuth (1.3.6.1.5.5.7.3.2) and a key usage allowing digitalSignature. "
        "Servers refuse it, OpenSSL with alert unsupported_certificate (43)"
        + ("." if refused else "; this server accepted it anyway, but others will not."),
        "Client side: request a certificate from a template meant for client authentication "
        "(Windows AD CS: 'User', 'Computer' or 'Workstation Authentication', which include "
        "Client Authentication in Application Policies) and present that one; a server "
        "certificate (serverAuth only) cannot be reused as a client certificate. Server side "
        "(only if you own the policy): OpenSSL-based servers check the purpose through "
        "X509_PURPOSE_SSL_CLIENT; do not disable it.",
        windows_error="0x800B0110 (CERT_E_WRONG_USAGE)",
    )


# TLS 1.2 ClientCertificateType (RFC 5246 section 7.4.4, RFC 8422 section 5.5).
_CERT_TYPES: dict[str, tuple[int, ...]] = {
    "RSA": (1, 3),  # rsa_sign, rsa_fixed_dh
    "DSA": (2, 4),  # dss_sign, dss_fixed_dh
    "EC": (64, 65, 66),  # ecdsa_sign, rsa_fixed_ecdh, ecdsa_fixed_ecdh
    "Ed25519": (64,),  # RFC 8422 section 5.5: EdDSA keys use ecdsa_sign
    "Ed448": (64,),
}
_CERT_TYPE_NAMES = {1: "rsa_sign", 2: "dss_sign", 3: "rsa_fixed_dh", 4: "dss_fixed_dh", 64: "ecdsa_sign", 65: "rsa_fixed_ecdh", 66: "ecdsa_fixed_ecdh"}
# TLS 1.3 ECDSA schemes are bound to one curve (RFC 8446 section 4.2.3).
_TLS13_ECDSA = {"secp256r1": 0x0403, "secp384r1": 0x0503, "secp521r1": 0x0603}
_RSA_SCHEMES = {0x0201, 0x0401, 0x0501, 0x0601, 0x0804, 0x0805, 0x0806}


def _scheme_fits(info: CertificateInfo, scheme: int, version: int) -> bool:
    """Whether a key of this certificate can sign with ``scheme`` (RFC 8446 section 4.2.3,
    RFC 5246 section 7.4.1.4.1 hash/signature pairs)."""
    kind = info.key_type
    if kind == "RSA":
        if version >= c.TLS13:
            return scheme in (0x0804, 0x0805, 0x0806)  # rsa_pss_rsae_*: no PKCS#1 v1.5 in 1.3
        return scheme in _RSA_SCHEMES or (scheme >> 8 in range(1, 7) and scheme & 0xFF == 1)
    if kind == "EC":
        if version >= c.TLS13:
            return scheme == _TLS13_ECDSA.get(info.key_curve or "")
        return scheme & 0xFF == 3 and scheme >> 8 in range(1, 7) or scheme in (0x081A, 0x081B, 0x081C)
    if kind == "Ed25519":
        return scheme == 0x0807
    if kind == "Ed448":
        return scheme == 0x0808
    if kind == "DSA":
        return version <= c.TLS12 and scheme & 0xFF == 2
    return False


def cert_key_type(presented: Sequence[_Presented], client_auth: Sequence[ClientAuthResult]) -> Finding | None:
    """client_auth.cert_key_type: the certificate's key type is not among what the
    server's CertificateRequest allows for that version: certificate_types (TLS <= 1.2)
    or signature_algorithms (every version). Only for refused or failed attempts."""
    evidence = []
    for p in presented:
        for a in p.attempts:
            if a.verdict == "accepted" or a.version is None:
                continue
            request = next((r for r in client_auth if r.version == a.version), None)
            if request is None:
                continue
            problems = []
            allowed_types = _CERT_TYPES.get(p.info.key_type, ())
            if a.version <= c.TLS12 and request.certificate_types and not set(request.certificate_types) & set(allowed_types):
                listed = ", ".join(_CERT_TYPE_NAMES.get(t, str(t)) for t in request.certificate_types)
                problems.append(f"certificate_types lists {listed}")
            if request.signature_algorithms and not any(
                _scheme_fits(p.info, s, a.version) for s in request.signature_algorithms
            ):
                listed = ", ".join(reg.signature_scheme_name(s) for s in request.signature_algorithms)
                problems.append(f"signature_algorithms lists {listed}")
            if problems:
                key = p.info.key_type + (f" {p.info.key_curve}" if p.info.key_curve else f" {p.info.key_bits}")
                evidence.append(
                    f"{_cert_text(p)} has a {key} key, but the server's CertificateRequest in "
                    f"{reg.version_name(a.version)}: {'; '.join(problems)}; {_verdict(a)}"
                )
    if not evidence:
        return None
    return _finding(
        "client_auth.cert_key_type",
        "high",
        "A client certificate you presented has a key type the server does not accept",
        evidence,
        "The CertificateRequest says which key types and signature algorithms the server can "
        "verify (RFC 5246 section 7.4.4, RFC 8446 section 4.3.2); a client whose key cannot "
        "produce one of them either sends no certificate or one the server refuses. In TLS "
        "1.3 an ECDSA key must also be on the curve its scheme names (ecdsa_secp256r1_sha256 "
        "needs P-256).",
        "Client side: get a client certificate with a key type the server lists (most often "
        "RSA 2048 or ECDSA P-256). Server side: allow the client's key type, e.g. add ECDSA "
        "schemes to the server's client signature algorithms (OpenSSL "
        "-client_sigalgs / SSL_CTX_set1_client_sigalgs_list; Windows: "
        "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Cryptography\\Configuration\\Local\\SSL\\00010003 "
        "functions list).",
    )


def _name_key(name: x509.Name) -> str:
    return _dn_key(name.rfc4514_string())


def cert_incomplete_chain(
    presented: Sequence[_Presented],
    client_auth: Sequence[ClientAuthResult],
    known: Sequence[x509.Certificate],
) -> Finding | None:
    """client_auth.cert_incomplete_chain: a refused certificate's issuer is not among the
    acceptable CA names, but its issuer's issuer is, and the issuer certificate was not
    sent: the server cannot build the path to the CA it trusts (OpenSSL: "unable to get
    local issuer certificate", alert unknown_ca 48). The issuer certificate is looked for
    in ``known`` (the credential's file, the server's own chains, extra certificates)."""
    evidence = []
    for p in presented:
        refused = p.refused
        if not refused:
            continue
        sent = []
        for der in p.credential.chain_der:
            try:
                sent.append(x509.load_der_x509_certificate(der))
            except ValueError:
                continue
        if not sent:
            continue
        leaf = sent[0]
        sent_subjects = {_name_key(s.subject) for s in sent[1:]}
        for a in refused:
            names = [ca for r in client_auth if r.version == a.version for ca in r.certificate_authorities]
            if not names:
                continue
            acceptable = {_dn_key(n) for n in names}
            issuer = _name_key(leaf.issuer)
            if issuer in acceptable or issuer in sent_subjects:
                continue
            intermediate = next(
                (k for k in known if _name_key(k.subject) == issuer and _name_key(k.issuer) in acceptable),
                None,
            )
            if intermediate is None:
                continue
            evidence.append(
                f"{_cert_text(p)} was sent alone ({len(sent)} certificate"
                f"{'s' if len(sent) != 1 else ''}); the server accepts CAs "
                + " | ".join(repr(n) for n in dict.fromkeys(names))
                + f"; the missing intermediate {intermediate.subject.rfc4514_string()!r} is issued by "
                f"{intermediate.issuer.rfc4514_string()!r}; {_verdict(a)}"
            )
    if not evidence:
        return None
    return _finding(
        "client_auth.cert_incomplete_chain",
        "high",
        "A client certificate was sent without the intermediate CA the server needs",
        evidence,
        "The server names the CA it trusts (the root or a higher CA), but the client "
        "certificate was issued by an intermediate CA and the client did not send that "
        "intermediate after it (RFC 8446 section 4.4.2, RFC 5246 section 7.4.6: the "
        "sender's certificate comes first, each following one certifies the one before). "
        "The server cannot build a path and refuses the certificate, OpenSSL with alert "
        "unknown_ca (48).",
        "Client side: send the chain: put the intermediate CA certificate after the client "
        "certificate in the PEM file (or export the PKCS#12 with 'Include all certificates "
        "in the certification path'); on Windows install the intermediate in the "
        "Intermediate Certification Authorities store of the client so Schannel sends it. "
        "Server side: add the intermediate to the server's client CA file (OpenSSL/Apache: "
        "SSLCACertificateFile / -CAfile) so it can complete the path itself.",
        windows_error="0x800B010A (CERT_E_CHAINING)",
    )


# -- entry point ---------------------------------------------------------------------------


def client_cert_findings(
    result: EndpointResult,
    credentials: Sequence[ClientCredential],
    *,
    now: datetime | None = None,
    extra_certificates: Sequence[bytes] = (),
) -> tuple[Finding, ...]:
    """The findings about the client certificates presented in ``result`` (matched to
    ``credentials`` by label). ``now`` defaults to the scan's start; ``extra_certificates``
    (DER) are more CA certificates the user has (e.g. from --ca-file) for the chain check."""
    when = _scan_time(result, now)
    presented = []
    known: list[x509.Certificate] = []
    for cred in credentials:
        attempts = tuple(a for a in result.client_certificates if a.label == cred.label)
        for der in cred.chain_der[1:]:
            _add_certificate(known, der)
        if not attempts:
            continue
        try:
            info = decode_certificate(cred.leaf_der)
        except CertificateDecodeError:
            continue
        presented.append(_Presented(credential=cred, info=info, attempts=attempts))
    if not presented:
        return ()
    for chain in result.certificates:
        for der in chain.der:
            _add_certificate(known, der)
    for der in extra_certificates:
        _add_certificate(known, der)
    out = [
        cert_expired(presented, when),
        cert_wrong_usage(presented),
        cert_key_type(presented, result.client_auth),
        cert_incomplete_chain(presented, result.client_auth, known),
    ]
    return tuple(f for f in out if f is not None)


def _add_certificate(known: list[x509.Certificate], der: bytes) -> None:
    try:
        known.append(x509.load_der_x509_certificate(der))
    except ValueError:
        pass
