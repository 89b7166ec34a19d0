"""Generate docs/findings.md from the finding catalogue, so the page never drifts from the code.

    python tools/gen_findings_doc.py           # rewrite docs/findings.md
    python tools/gen_findings_doc.py --check   # exit 1 if docs/findings.md is stale

Every finding's text comes from scanner/diagnose/catalogue.py, its "evidence shown" from the
docstring of the one function that decides it, and its example from running
scanner.diagnose.diagnose on the small hand-made EndpointResult below: the example output is
the real output of the code.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handshakes import constants as c  # noqa: E402
from scanner.diagnose import CATALOGUE, RULES, diagnose  # noqa: E402
from scanner.explain import explain  # noqa: E402
from scanner.options import ScanOptions  # noqa: E402
from scanner.results import (  # noqa: E402
    Behaviours,
    ChainResult,
    ClientAuthResult,
    ClientCertAttempt,
    EndpointResult,
    Finding,
    Intolerance,
    ProtocolResult,
    StartTLSResult,
    SuiteResult,
    VulnCheck,
)
from scanner.x509 import CertificateInfo, ChainValidation  # noqa: E402

DOC = ROOT / "docs" / "findings.md"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
OPTIONS = ScanOptions(now=NOW)
SEED_004_FRAME = (
    "00 1E 68 0F 3E 80 00 30 48 7E 1B 90 08 00 45 00 00 2F 13 9E 40 00 3D 06 D2 0E 0A F4 "
    "40 0F 0A 33 02 E7 15 43 04 4C A4 C5 13 A4 E8 46 34 BB 50 18 FA F0 2B B8 00 00 15 03 "
    "01 00 02 02 2A"
)


# -- example results ---------------------------------------------------------------------


def _proto(version: int, supported: bool, outcome: str = "", alert: int | None = None, detail: str = "") -> ProtocolResult:
    if not outcome:
        outcome = "accepted" if supported else "alert"
    if outcome == "alert" and alert is None and not supported:
        alert = 70
    return ProtocolResult(version=version, supported=supported, outcome=outcome, alert=alert,
                          detail=detail or ("ServerHello" if supported else outcome))


MODERN = (
    _proto(c.TLS13, True), _proto(c.TLS12, True), _proto(c.TLS11, False), _proto(c.TLS10, False),
    _proto(c.SSL3, False, "closed", detail="the server closed the connection without an alert"),
)
GOOD_SUITES = (
    SuiteResult(version=c.TLS13, code=0x1301), SuiteResult(version=c.TLS13, code=0x1302),
    SuiteResult(version=c.TLS12, code=0xC02F, group=0x001D), SuiteResult(version=c.TLS12, code=0xC030, group=0x001D),
)
GOOD_BEHAVIOURS = Behaviours(secure_renegotiation=True, extended_master_secret=True, fallback_scsv=True,
                             sni_required=False, sni_detail="without SNI the handshake succeeds")


def _info(subject: str, issuer: str, *, sans: tuple[str, ...] = (), cn: tuple[str, ...] = (),
          not_before: datetime = datetime(2025, 1, 1, tzinfo=UTC),
          not_after: datetime = datetime(2025, 12, 31, tzinfo=UTC), **kw: Any) -> CertificateInfo:
    fields: dict[str, Any] = dict(
        subject=subject, issuer=issuer, common_names=cn or (subject.removeprefix("CN=").split(",")[0],),
        san_dns=sans, san_ip=(), serial="0x1000", not_before=not_before, not_after=not_after,
        key_type="RSA", key_bits=2048, key_curve=None, signature_algorithm="sha256WithRSAEncryption",
        signature_hash="sha256", key_usage=("digitalSignature", "keyEncipherment"),
        extended_key_usage=("serverAuth",), has_eku=True, is_ca=False, self_issued=subject == issuer,
        self_signed=subject == issuer, ocsp_urls=("http://ocsp.example-ca.test",),
        ca_issuers_urls=("http://crt.example-ca.test/intermediate.der",),
        crl_urls=("http://crl.example-ca.test/intermediate.crl",), sha256="00" * 32, sha1="00" * 20,
        must_staple=False,
    )
    fields.update(kw)
    return CertificateInfo(**fields)


LEAF = _info("CN=www.example.test", "CN=Example Issuing CA", sans=("www.example.test", "example.test"))
INTERMEDIATE = _info("CN=Example Issuing CA", "CN=Example Root CA", is_ca=True, has_eku=False,
                     extended_key_usage=(), key_usage=("keyCertSign", "cRLSign"))


def _validation(problems: tuple[str, ...] = (), details: tuple[str, ...] = (), **kw: Any) -> ChainValidation:
    fields: dict[str, Any] = dict(
        trusted=not problems, hostname="www.example.test", hostname_ok="hostname_mismatch" not in problems,
        error=None if not problems else "validation failed", problems=problems, webpki_deviations=(),
        missing_issuer=None, missing_issuer_url=None, path=(), details=details,
    )
    fields.update(kw)
    return ChainValidation(**fields)


def _chain(*infos: CertificateInfo, validation: ChainValidation | None = None, sni: str | None = "www.example.test",
           revocation: Any = None) -> ChainResult:
    return ChainResult(versions=(c.TLS13, c.TLS12), sni=sni, key_type="RSA",
                       der=tuple(f"{i.subject}".encode() for i in infos), certificates=infos,
                       validation=validation or _validation(), revocation=revocation)


def _ok(**kw: Any) -> EndpointResult:
    fields: dict[str, Any] = dict(
        host="www.example.test", port=443, ip="192.0.2.10", sni="www.example.test", outcome="ok",
        protocols=MODERN, cipher_suites=GOOD_SUITES, behaviours=GOOD_BEHAVIOURS,
        certificates=(_chain(LEAF, INTERMEDIATE),),
    )
    fields.update(kw)
    return EndpointResult(**fields)


def _failed(outcome: str, detail: str, **kw: Any) -> EndpointResult:
    fields: dict[str, Any] = dict(host="www.example.test", port=443, ip="192.0.2.10", sni="www.example.test",
                                  outcome=outcome, detail=detail)
    fields.update(kw)
    return EndpointResult(**fields)


def _cert_case(problem: str, detail: str, *infos: CertificateInfo, **kw: Any) -> EndpointResult:
    v = _validation((problem,), (f"{problem}: {detail}",), **kw)
    return _ok(certificates=(_chain(*(infos or (LEAF, INTERMEDIATE)), validation=v),))


def _vuln_examples(o: ScanOptions) -> dict[str, tuple[EndpointResult, ScanOptions]]:
    """Issue 18: the vulnerability findings, the active ones with the verdict functions'
    own evidence for what the lab's vulnerable servers answer."""
    from scanner.probes.vulns import robot_verdict

    def active(check: str, evidence: str, **kw: Any) -> EndpointResult:
        return _ok(vulns=(VulnCheck(check=check, status=kw.pop("status", "vulnerable"), version=c.TLS12,
                                    evidence=evidence, **kw),))

    cbc = (SuiteResult(version=c.TLS12, code=0xC013), SuiteResult(version=c.TLS12, code=0x002F))
    answers = ["alert bad_record_mac (20)", "alert decrypt_error (51)", "alert bad_record_mac (20)",
               "alert bad_record_mac (20)", "alert bad_record_mac (20)"]
    robot = robot_verdict([answers, answers, answers], c.TLS12, 15)
    return {
        "vuln.heartbleed": (active("heartbleed", "a 19-byte heartbeat request declaring 64 payload bytes and carrying none "
                                   "was answered with an 83-byte heartbeat response (64 bytes more than sent; their "
                                   "content was not kept)"), o),
        "vuln.ccs_injection": (active("ccs_injection", "a ChangeCipherSpec sent right after ServerHelloDone, before any key "
                                      "exchange, was accepted: the record after it was read as encrypted and refused "
                                      "with alert bad_record_mac (20)"), o),
        "vuln.robot": (_ok(vulns=(robot,)), o),
        "vuln.client_renegotiation": (active("client_renegotiation", "after a completed TLS 1.2 handshake, a ClientHello "
                                             "asking to renegotiate (RFC 5746) was answered with a ServerHello: the server "
                                             "renegotiates whenever a client asks"), o),
        "vuln.ticketbleed": (active("ticketbleed", "a ClientHello resuming the session ticket with a 31-byte session ID got "
                                    "a 32-byte session ID back: the 31 bytes sent and 1 the client did not send (not kept)"), o),
        "vuln.zero_rtt": (_ok(vulns=(VulnCheck(check="zero_rtt", status="vulnerable", version=c.TLS13, connections=2,
                                               evidence="the TLS 1.3 session ticket offers 16384 bytes of early data; resuming "
                                               "it with early_data offered (none sent) got early_data in EncryptedExtensions: "
                                               "the server accepts 0-RTT data"),)), o),
        "vuln.inconclusive": (active("ccs_injection", "a ChangeCipherSpec sent right after ServerHelloDone, before any key "
                                     "exchange, got no fatal alert: no answer before the read deadline", status="inconclusive"), o),
        "vuln.sweet32": (_ok(cipher_suites=(*GOOD_SUITES, SuiteResult(version=c.TLS12, code=0x000A))), o),
        "vuln.rc4": (_ok(cipher_suites=(*GOOD_SUITES, SuiteResult(version=c.TLS12, code=0x0005))), o),
        "vuln.export": (_ok(cipher_suites=(*GOOD_SUITES, SuiteResult(version=c.TLS10, code=0x0003))), o),
        "vuln.null": (_ok(cipher_suites=(*GOOD_SUITES, SuiteResult(version=c.TLS12, code=0x003B))), o),
        "vuln.anon": (_ok(cipher_suites=(*GOOD_SUITES, SuiteResult(version=c.TLS12, code=0x00A6))), o),
        "vuln.poodle": (_ok(protocols=(*MODERN[:4], _proto(c.SSL3, True)),
                            cipher_suites=(*GOOD_SUITES, SuiteResult(version=c.SSL3, code=0x002F))), o),
        "vuln.beast": (_ok(protocols=(*MODERN[:3], _proto(c.TLS10, True)),
                           cipher_suites=(*GOOD_SUITES, SuiteResult(version=c.TLS10, code=0xC013))), o),
        "vuln.crime": (active("crime", "offered DEFLATE and null compression, the server chose method 1 (DEFLATE)"), o),
        "vuln.lucky13": (_ok(cipher_suites=(*GOOD_SUITES, *cbc)), o),
    }


def examples() -> dict[str, tuple[EndpointResult, ScanOptions]]:
    """One small result per finding id that makes that finding fire."""
    o = OPTIONS
    aborted = tuple(
        _proto(v, False, out, detail=d)
        for v, out, d in ((c.TLS13, "reset", "connection reset by peer"), (c.TLS12, "reset", "connection reset by peer"),
                          (c.TLS11, "reset", "connection reset by peer"), (c.TLS10, "closed", "the server closed the connection without an alert"))
    )
    self_signed = _info("CN=www.example.test", "CN=www.example.test", sans=("www.example.test",))
    wrong_usage = _info("CN=www.example.test", "CN=Example Issuing CA", sans=("www.example.test",),
                        extended_key_usage=("clientAuth",))
    revocation_offline = SimpleNamespace(
        status="unreachable", method="ocsp+crl", detail="connect timed out", revoked_at=None, reason=None,
        urls_tried=("http://ocsp.example-ca.test", "http://crl.example-ca.test/intermediate.crl"))
    revocation_big = SimpleNamespace(
        status="unknown", method="crl", revoked_at=None, reason=None,
        detail="CRL too large: http://crl.example-ca.test/intermediate.crl (more than 8388608 bytes sent; bodies over 8 MiB are not read)",
        urls_tried=("http://crl.example-ca.test/intermediate.crl",),
        too_large=("http://crl.example-ca.test/intermediate.crl (more than 8388608 bytes sent; bodies over 8 MiB are not read)",))
    revoked = SimpleNamespace(status="revoked", method="OCSP", detail="", reason="keyCompromise",
                              revoked_at=datetime(2025, 2, 14, 9, 30, tzinfo=UTC), urls_tried=())
    client_ca = "CN=Contoso Client CA,O=Contoso"
    out: dict[str, tuple[EndpointResult, ScanOptions]] = {
        "dns.unresolved": (_failed("dns_error", "cannot resolve www.example.test: [Errno -2] Name or service not known", ip=None), o),
        "port.closed": (_failed("refused", "connection refused"), o),
        "port.unreachable": (_failed("unreachable", "No route to host"), o),
        "port.timeout": (_failed("timeout", "TCP connects, but no TLS answer (no complete answer within 5s)"), o),
        "port.not_tls": (_failed("not_tls", 'not_tls (smtp: "220 mx.example.test ESMTP")', port=25), o),
        "starttls.not_offered": (_failed("starttls_not_offered", "STARTTLS not offered (EHLO lists: PIPELINING, SIZE, 8BITMIME)",
                                         port=25, starttls=StartTLSResult(protocol="smtp", outcome="starttls_not_offered",
                                         detail="STARTTLS not offered (EHLO lists: PIPELINING, SIZE, 8BITMIME)",
                                         reply="250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE\r\n250 8BITMIME\r\n")), o),
        "starttls.refused": (_failed("starttls_refused", "STARTTLS answered 454 4.7.0 TLS not available due to local problem",
                                     port=25, starttls=StartTLSResult(protocol="smtp", outcome="starttls_refused",
                                     detail="STARTTLS answered 454 4.7.0 TLS not available due to local problem",
                                     reply="454 4.7.0 TLS not available due to local problem\r\n")), o),
        "starttls.stalled": (_failed("starttls_timeout", "smtp: no complete answer within 15s while waiting for the server's greeting; received: 220-mx.example.test still thinking",
                                     port=25, starttls=StartTLSResult(protocol="smtp", outcome="timeout",
                                     detail="smtp: no complete answer within 15s while waiting for the server's greeting; received: 220-mx.example.test still thinking",
                                     reply="220-mx.example.test still thinking\r\n")), o),
        "starttls.protocol_error": (_failed("starttls_protocol_error", "smtp: a reply of more than 200 lines while waiting for the server's greeting",
                                            port=25, starttls=StartTLSResult(protocol="smtp", outcome="protocol_error",
                                            detail="smtp: a reply of more than 200 lines while waiting for the server's greeting")), o),
        "starttls.wrong_protocol": (_failed("starttls_wrong_protocol", "the greeting is IMAP, not SMTP: * OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.; to scan it: --starttls imap",
                                            port=143, starttls=StartTLSResult(protocol="smtp", outcome="wrong_protocol",
                                            detail="the greeting is IMAP, not SMTP: * OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.; to scan it: --starttls imap",
                                            reply="* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n")), o),
        "starttls.plaintext_auth": (_ok(port=143, starttls=StartTLSResult(
            protocol="imap", outcome="ok", plaintext_auth=("LOGIN", "PLAIN"))), o),
        "starttls.injection": (_ok(port=25, starttls=StartTLSResult(
            protocol="smtp", outcome="ok", injection="yes",
            injection_detail="the command pipelined after SMTP's request to start TLS was answered inside TLS: 250 2.0.0 Ok")), o),
        "starttls.throttled": (_ok(port=25, starttls=StartTLSResult(protocol="smtp", outcome="ok", throttled=3)), o),
        "scan.partial": (
            _ok(
                partial=True,
                detail="endpoint deadline of 8s reached, results are partial",
                protocols=(
                    ProtocolResult(
                        version=0x0303, supported=True, outcome="accepted", detail="ServerHello",
                        incomplete="enumeration incomplete: endpoint deadline of 8s reached",
                    ),
                ),
            ),
            o,
        ),
        "handshake.aborted": (_ok(protocols=aborted, cipher_suites=(), certificates=(), behaviours=Behaviours()), o),
        "handshake.rejected": (_ok(protocols=tuple(_proto(v, False, "alert", 40) for v in (c.TLS13, c.TLS12, c.TLS11, c.TLS10)),
                                   cipher_suites=(), certificates=(), behaviours=Behaviours()), o),
        "sni.required": (_ok(behaviours=Behaviours(secure_renegotiation=True, extended_master_secret=True, fallback_scsv=True,
                                                   sni_required=True, sni_detail="without SNI: alert unrecognized_name (112)")), o),
        "protocol.no_common_version": (_ok(
            protocols=(_proto(c.TLS12, False), _proto(c.TLS11, False), _proto(c.TLS10, True)),
            cipher_suites=(SuiteResult(version=c.TLS10, code=0xC014), SuiteResult(version=c.TLS10, code=0x002F)),
        ), ScanOptions(now=NOW, client_versions=(c.TLS11, c.TLS12))),
        "protocol.deprecated": (_ok(protocols=(_proto(c.TLS13, True), _proto(c.TLS12, True), _proto(c.TLS11, True), _proto(c.TLS10, True)),
                                    cipher_suites=(*GOOD_SUITES, SuiteResult(version=c.TLS11, code=0xC013), SuiteResult(version=c.TLS10, code=0xC013))), o),
        "cipher.no_common_suite": (_ok(), ScanOptions(now=NOW, client_suites=(0x009C, 0x002F, 0x0035))),
        "cipher.weak": (_ok(cipher_suites=(*GOOD_SUITES, SuiteResult(version=c.TLS12, code=0x0005), SuiteResult(version=c.TLS12, code=0x000A))), o),
        "dh.weak": (_ok(cipher_suites=(*GOOD_SUITES, SuiteResult(version=c.TLS12, code=0x009E, dh_bits=1024)), dh_bits=(1024,)), o),
        "tls.no_forward_secrecy": (_ok(protocols=(_proto(c.TLS13, False), _proto(c.TLS12, True)),
                                       cipher_suites=(SuiteResult(version=c.TLS12, code=0x009C), SuiteResult(version=c.TLS12, code=0x002F))), o),
        "tls.server_violation": (_ok(anomalies=("TLSv1.2: chose TLS_RSA_WITH_AES_128_CBC_SHA (0x002F), which was not offered",)), o),
        "tls.fallback_scsv_missing": (_ok(protocols=(_proto(c.TLS13, True), _proto(c.TLS12, True), _proto(c.TLS11, True)),
                                          behaviours=Behaviours(secure_renegotiation=True, extended_master_secret=True, fallback_scsv=False,
                                                                fallback_detail="accepted")), o),
        "tls.insecure_renegotiation": (_ok(behaviours=Behaviours(secure_renegotiation=False, extended_master_secret=True, fallback_scsv=True)), o),
        "tls.compression": (_ok(behaviours=Behaviours(secure_renegotiation=True, extended_master_secret=True, fallback_scsv=True, compression=(1,))), o),
        "tls.no_ems": (_ok(behaviours=Behaviours(secure_renegotiation=True, extended_master_secret=False, fallback_scsv=True)), o),
        "cert.untrusted_root": (_cert_case("untrusted_root", "the chain ends at 'CN=Example Root CA', not a trusted root",
                                           LEAF, INTERMEDIATE, error="candidates exhausted: all candidates exhausted with no interior errors"), o),
        "cert.self_signed": (_ok(certificates=(_chain(self_signed, validation=_validation(
            ("untrusted_root", "self_signed"),
            ("self_signed: the leaf is signed by its own key", "untrusted_root: the chain ends at 'CN=www.example.test', not a trusted root"))),)), o),
        "cert.incomplete_chain": (_cert_case(
            "incomplete_chain", "issuer 'CN=Example Issuing CA' of 'CN=www.example.test' was neither sent nor trusted (no certificate with that subject)",
            LEAF, missing_issuer="CN=Example Issuing CA", missing_issuer_url="http://crt.example-ca.test/intermediate.der"), o),
        "cert.hostname_mismatch": (_ok(host="mail.example.test", sni="mail.example.test", certificates=(_chain(LEAF, INTERMEDIATE, sni="mail.example.test", validation=_validation(
            ("hostname_mismatch",), ("hostname_mismatch: 'mail.example.test' is not in the leaf's names (www.example.test, example.test)",),
            trusted=True, hostname="mail.example.test", hostname_ok=False)),)), o),
        "cert.expired": (_cert_case("expired", "leaf expired 2025-01-31T00:00:00+00:00", _info(
            "CN=www.example.test", "CN=Example Issuing CA", sans=("www.example.test",), not_before=datetime(2024, 2, 1, tzinfo=UTC),
            not_after=datetime(2025, 1, 31, tzinfo=UTC)), INTERMEDIATE), o),
        "cert.not_yet_valid": (_cert_case("not_yet_valid", "leaf is valid from 2025-03-10T00:00:00+00:00", _info(
            "CN=www.example.test", "CN=Example Issuing CA", sans=("www.example.test",), not_before=datetime(2025, 3, 10, tzinfo=UTC)), INTERMEDIATE), o),
        "cert.wrong_usage": (_cert_case("wrong_usage", "the leaf's extendedKeyUsage (clientAuth) does not include serverAuth",
                                        wrong_usage, INTERMEDIATE), o),
        "cert.weak_key": (_cert_case("weak_key", "leaf has a 1024-bit RSA key", _info(
            "CN=www.example.test", "CN=Example Issuing CA", sans=("www.example.test",), key_bits=1024), INTERMEDIATE), o),
        "cert.weak_signature": (_cert_case("weak_signature", "leaf is signed with sha1WithRSAEncryption", _info(
            "CN=www.example.test", "CN=Example Issuing CA", sans=("www.example.test",), signature_algorithm="sha1WithRSAEncryption",
            signature_hash="sha1"), INTERMEDIATE), o),
        "cert.cn_only": (_cert_case("cn_only", "the leaf has no subjectAltName DNS or IP entry (the host name matched its CN only)",
                                    _info("CN=www.example.test", "CN=Example Issuing CA"), INTERMEDIATE), o),
        "cert.chain_order": (_ok(certificates=(_chain(LEAF, _info("CN=Example Root CA", "CN=Example Root CA", is_ca=True), INTERMEDIATE, validation=_validation(
            ("chain_order",), ("chain_order: the certificates are not sent leaf first, each followed by its issuer",), trusted=True)),)), o),
        "cert.extra_certs": (_ok(certificates=(_chain(LEAF, INTERMEDIATE, INTERMEDIATE, validation=_validation(
            ("extra_certs",), ("extra_certs: certificate #2 ('CN=Example Issuing CA') is sent twice",), trusted=True)),)), o),
        "cert.invalid": (_ok(certificates=(_chain(LEAF, INTERMEDIATE, validation=_validation(
            (), (), trusted=False, error="leaf certificate undecodable: error parsing asn1 value")),)), o),
        "cert.webpki_deviation": (_ok(certificates=(_chain(LEAF, INTERMEDIATE, validation=_validation(
            (), (), trusted=True, profile="rfc5280", webpki_deviations=("policy",),
            webpki_rules=("the leaf (CN=www.example.test) has no AuthorityKeyIdentifier (RFC 5280 4.2.1.1, CA/Browser Forum BR 7.1.2)",))),)),
            ScanOptions(now=NOW, ca_file="private-root.pem")),
        "cert.revoked": (_ok(certificates=(_chain(LEAF, INTERMEDIATE, revocation=revoked),)), o),
        "cert.revocation_unreachable": (_ok(certificates=(_chain(LEAF, INTERMEDIATE, revocation=revocation_offline),)), o),
        "cert.revocation_unreadable": (_ok(certificates=(_chain(LEAF, INTERMEDIATE, revocation=revocation_big),)), o),
        "client_auth.required": (_ok(client_auth=(ClientAuthResult(version=c.TLS12, mode="required", certificate_authorities=(client_ca,),
                                                                   signature_algorithms=(0x0804, 0x0401),
                                                                   detail="without a certificate: alert handshake_failure (40)"),)), o),
        "client_auth.optional": (_ok(client_auth=(ClientAuthResult(version=c.TLS12, mode="optional", certificate_authorities=(client_ca,)),)), o),
        "client_auth.requested": (_ok(client_auth=(ClientAuthResult(version=c.TLS13, mode="requested", certificate_authorities=(client_ca,)),)), o),
        "client_auth.cert_rejected": (_ok(
            client_auth=(ClientAuthResult(version=c.TLS10, mode="required", certificate_authorities=(client_ca,)),),
            client_certificates=(ClientCertAttempt(label="poster.pfx", version=c.TLS10, subject="CN=poster,O=Contoso", issuer=client_ca,
                                                   verdict="alert", alert=42, stage="after the client Certificate"),)), o),
        "client_auth.issuer_not_accepted": (_ok(
            client_auth=(ClientAuthResult(version=c.TLS12, mode="required", certificate_authorities=(client_ca,)),),
            client_certificates=(ClientCertAttempt(label="alice.p12", version=c.TLS12, subject="CN=alice", issuer="CN=Old Partner CA",
                                                   verdict="alert", alert=47, stage="after the client Certificate"),)), o),
        **_vuln_examples(o),
        "cipher.chacha_priority": (_ok(behaviours=Behaviours(secure_renegotiation=True, extended_master_secret=True,
                                                             fallback_scsv=True, server_preference=((c.TLS13, True), (c.TLS12, True)),
                                                             chacha_priority=(c.TLS13, c.TLS12))), o),
        "sni.name_unknown": (_ok(
            protocols=(_proto(c.TLS13, False, alert=112), _proto(c.TLS12, False, alert=112)), cipher_suites=(),
            behaviours=Behaviours(sni_required=False, sni_name_refused=True,
                                  sni_detail="with server_name 'www.example.test' every version was refused; "
                                  "without SNI: ServerHello (TLSv1.3)")), o),
        **_intolerance_examples(o),
    }
    missing = set(CATALOGUE) - set(out)
    assert not missing, f"no documentation example for {sorted(missing)}"
    return out


def _intolerance_examples(o: ScanOptions) -> dict[str, tuple[EndpointResult, ScanOptions]]:
    """Issue 11: one EndpointResult per intolerance kind, as the probes record them."""
    def one(**kw: Any) -> tuple[EndpointResult, ScanOptions]:
        return _ok(intolerances=(Intolerance(**kw),)), o

    return {
        "intolerance.hello_length": one(
            kind="hello_length", trigger="a ClientHello of 257-478 bytes gets no answer (217 and 512 bytes work)",
            versions=(c.TLS13,),
            failed=("TLSv1.3 hello of 378 bytes with 5 suites: timeout (no complete answer within 5s)",
                    "the same hello padded to 478 bytes: refused", "a short hello padded to 257 bytes: refused"),
            worked=("a mainstream client's TLSv1.3 hello of 512 bytes with 15 suites: accepted",
                    "the same TLSv1.3 hello padded to 512 bytes: accepted",
                    "a short TLSv1.3 hello of 217 bytes: accepted"),
            low=257, high=478),
        "intolerance.suite_count": one(
            kind="suite_count", trigger="a ClientHello with more than 100 cipher suites is refused", versions=(c.TLS12,),
            failed=("TLSv1.2 hello of 536 bytes with 128 suites: closed", "TLSv1.2 hello with 101 suites: refused"),
            worked=("TLSv1.2 hello with 100 suites: accepted",), low=101),
        "intolerance.hello_shape": one(
            kind="hello_shape", versions=(c.TLS13,),
            trigger="the scanner's TLSv1.3 hello is refused while a mainstream client's is accepted",
            failed=("TLSv1.3 hello of 520 bytes with 5 suites: alert handshake_failure (40)",),
            worked=("a mainstream client's TLSv1.3 hello of 512 bytes with 15 suites: accepted",)),
        "intolerance.record_splitting": one(
            kind="record_splitting",
            trigger="application data split into a 1-byte record and the rest (the 1/n-1 record split of "
            "MS12-006 and the browsers' BEAST countermeasure)",
            failed=("GET / split 1 + rest: closed without an HTTP answer",),
            worked=("GET / in one record: HTTP/1.1 200 OK",)),
        **{
            f"intolerance.{kind}": one(
                kind=kind, versions=(version,), trigger=trigger,
                failed=(f"{'TLSv1.3' if version == c.TLS13 else 'TLSv1.2'} hello of {size} bytes: closed "
                        "(the server closed the connection without an alert)",),
                worked=(f"the same {'TLSv1.3' if version == c.TLS13 else 'TLSv1.2'} hello without it: accepted "
                        "(the version scan)",))
            for kind, version, size, trigger in (
                ("pq_key_share", c.TLS13, 1530, "a ClientHello with an X25519MLKEM768 key share (1216 bytes; the hello "
                 "crosses a TCP segment), as current Chrome and Firefox send"),
                ("grease", c.TLS13, 399, "GREASE values (RFC 8701) in the suites, groups, key shares, versions and extensions"),
                ("version", c.TLS13, 383, "supported_versions announcing a future 0x0305 before TLS 1.3 (RFC 8446 section 4.2.1)"),
                ("extension", c.TLS12, 324, "an empty extension (extended_master_secret) as the last extension"),
                ("record_layer", c.TLS12, 519, "the ClientHello fragmented into records of 8 bytes (RFC 5246 section 6.2.1)"),
            )
        },
    }


# -- rendering ---------------------------------------------------------------------------


def render_finding(f: Finding) -> str:
    """The plain-text form used in this page's examples."""
    out = [f"[{f.severity}] {f.id}: {f.title}", *textwrap.wrap("evidence: " + f.evidence, 96, subsequent_indent="    ", break_on_hyphens=False, break_long_words=False)]
    if f.windows_error:
        out.append(f"windows error: {f.windows_error}")
    return "\n".join(out)


def render() -> str:
    ex = examples()
    parts = [
        "# Findings",
        "",
        "<!-- GENERATED by `python tools/gen_findings_doc.py` from scanner/diagnose/catalogue.py: do not edit. -->",
        "",
        "Every scan ends with a list of findings: what is wrong (or worth knowing) about the endpoint, "
        "the evidence the server gave, why it happens and how you fix it. Findings are sorted by "
        "severity (critical, high, medium, low, info), then by id. Each id is stable: you can filter "
        "on it in the JSON output.",
        "",
        "Severity in one line: **critical** - no client like yours can connect; **high** - many clients "
        "fail or the connection is not really protected; **medium** - some clients fail or a known "
        "weakness is present; **low** and **info** - worth knowing, nothing breaks. A healthy modern "
        "endpoint (TLS 1.2 and 1.3, AEAD ECDHE suites, a trusted chain) gets nothing above low.",
        "",
        "The client whose view the scan takes is set with the scan options `client_versions` "
        "(default TLS 1.2 and TLS 1.3) and `client_suites` (default: not checked): "
        "`protocol.no_common_version` and `cipher.no_common_suite` compare the server with that client.",
        "",
        "## Contents",
        "",
    ]
    topics: dict[str, list[str]] = {}
    for fid, e in CATALOGUE.items():
        topics.setdefault(e.topic, []).append(fid)
    for topic, ids in topics.items():
        parts.append(f"- {topic}: " + ", ".join(f"[`{i}`](#{i.replace('.', '')})" for i in ids))
    parts.append("- [Decoding a capture with tlscompat explain](#decoding-a-capture-with-tlscompat-explain)")
    for topic, ids in topics.items():
        parts += ["", f"## {topic}"]
        for fid in ids:
            e = CATALOGUE[fid]
            result, options = ex[fid]
            finding = next(f for f in diagnose(result, options) if f.id == fid)
            doc = inspect.getdoc(RULES[fid]) or ""
            parts += ["", f"### {fid}", "", f"**{e.title}.** Severity: **{e.severity}**" + (f" ({e.severity_note})." if e.severity_note else ".")]
            parts += ["", f"*What it means.* {e.cause}"]
            parts += ["", f"*When it is reported, and the evidence shown.* {' '.join(doc.split())}"]
            parts += ["", f"*How to fix it.* {e.resolution}"]
            if e.windows_error:
                parts += ["", f"*Windows error.* {e.windows_error}"]
            parts += ["", "Example:", "", "```text", render_finding(finding), "```"]
    parts += [
        "",
        "## Decoding a capture with tlscompat explain",
        "",
        "When all you have is a packet capture, copy the bytes (in Wireshark: right-click the frame or the "
        "TLS record, *Copy > ...as Hex Stream* or *...as Hex Dump*) and let `explain` decode them. It accepts "
        "hex with or without spaces, colons, newlines and `0x` prefixes, a hex dump with offsets, a single "
        "record, several records in a row, or a whole frame with its Ethernet, IP and TCP headers (they are "
        "peeled off). It says what each record is (content type, version, length), decodes alerts "
        "(level, name, number and meaning), handshake messages (ServerHello version, suite and extensions; "
        "Certificate subjects; CertificateRequest acceptable CAs), says which records are encrypted, and what "
        "is missing when the capture is cut short. It never fails on what you paste: bytes that are not TLS are "
        "reported as such, with the reason.",
        "",
        "Or give `explain` the capture file itself (`tlscompat explain capture.pcapng`): it lists every TLS "
        "connection in it with the findings of this page; see [capture.md](capture.md).",
        "",
        "From Python:",
        "",
        "```console",
        "$ python -c 'from scanner.explain import explain; print(explain(\"15 03 01 00 02 02 2A\"))'",
        explain("15 03 01 00 02 02 2A"),
        "```",
        "",
        "The same alert inside the whole frame 32 of a Network Monitor capture (a server on port 5443 "
        "rejecting the client certificate a client presented):",
        "",
        "```text",
        *textwrap.wrap(SEED_004_FRAME, 90),
        "```",
        "",
        "```text",
        explain(SEED_004_FRAME),
        "```",
        "",
        "`bad_certificate (42)` sent by the server right after the client's Certificate means the server "
        "refused the client certificate itself: check it as `client_auth.cert_rejected` says. With "
        "`illegal_parameter (47)` or `unknown_ca (48)` at the same point, the server wanted a certificate "
        "from another issuer (`client_auth.issuer_not_accepted`).",
        "",
    ]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC} is stale: run python tools/gen_findings_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
