# scanner.diagnose: hand-built EndpointResults, one per finding id, with real certificate
# chains (made here with cryptography, judged by scanner.x509.validate_chain). Each test
# asserts the exact set of ids and that the evidence quotes the values of the result.
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from handshakes import constants as c
from scanner.diagnose import CATALOGUE, RULES, diagnose
from scanner.diagnose.catalogue import entry
from scanner.options import ScanOptions
from scanner.results import (
    SEVERITIES,
    Behaviours,
    ChainResult,
    ClientAuthResult,
    ClientCertAttempt,
    EndpointResult,
    ProtocolResult,
    SuiteResult,
)
from scanner.x509 import decode_certificate, validate_chain

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
HOST = "www.example.test"
OPTIONS = ScanOptions(now=NOW)

# -- a small PKI ------------------------------------------------------------------------------

_KEYS: dict[str, Any] = {}


def _key(slot: str, kind: str = "ec") -> Any:
    if (slot, kind) not in _KEYS:
        if kind == "ec":
            _KEYS[slot, kind] = ec.generate_private_key(ec.SECP256R1())
        else:
            _KEYS[slot, kind] = rsa.generate_private_key(public_exponent=65537, key_size=int(kind.removeprefix("rsa")))
    return _KEYS[slot, kind]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: Any,
    issuer: str,
    issuer_key: Any,
    *,
    ca: bool = False,
    sans: tuple[str, ...] | None = None,
    eku: tuple[x509.ObjectIdentifier, ...] | None = (ExtendedKeyUsageOID.SERVER_AUTH,),
    not_before: dt.datetime = NOW - dt.timedelta(days=30),
    not_after: dt.datetime = NOW + dt.timedelta(days=300),
    aia: str | None = None,
) -> x509.Certificate:
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                          crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True,
        )
    else:
        b = b.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False,
                          crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True,
        )
        if eku is not None:
            b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    if aia:
        b = b.add_extension(
            x509.AuthorityInformationAccess(
                [x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(aia))]
            ),
            critical=False,
        )
    return b.sign(issuer_key, hashes.SHA256())


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    d = tmp_path_factory.mktemp("pki")
    root_key, int_key = _key("root"), _key("int")
    root = _cert("Example Root CA", root_key, "Example Root CA", root_key, ca=True)
    inter = _cert("Example Issuing CA", int_key, "Example Root CA", root_key, ca=True)
    other_key = _key("other")
    other = _cert("Other Root CA", other_key, "Other Root CA", other_key, ca=True)
    ca_file = d / "roots.pem"
    ca_file.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    other_file = d / "other.pem"
    other_file.write_bytes(other.public_bytes(serialization.Encoding.PEM))
    return SimpleNamespace(root=root, inter=inter, root_key=root_key, int_key=int_key,
                           ca_file=str(ca_file), other_file=str(other_file))


def _leaf(pki: SimpleNamespace, **kw: Any) -> x509.Certificate:
    kw.setdefault("sans", (HOST,))
    key = kw.pop("key", None) or _key("leaf")
    return _cert(HOST, key, "Example Issuing CA", pki.int_key, **kw)


def _chain(
    certs: list[x509.Certificate], ca_file: str, *, hostname: str = HOST, sni: str | None = HOST,
    revocation: Any = None,
) -> ChainResult:
    der = tuple(_der(x) for x in certs)
    validation = validate_chain(der, hostname=hostname, now=NOW, ca_file=ca_file, use_system_store=False)
    return ChainResult(
        versions=(c.TLS13, c.TLS12), sni=sni, key_type="EC", der=der,
        certificates=tuple(decode_certificate(d) for d in der), validation=validation,
        revocation=revocation,
    )


# -- results ----------------------------------------------------------------------------------


def _proto(version: int, supported: bool, outcome: str = "", alert: int | None = None, detail: str = "") -> ProtocolResult:
    outcome = outcome or ("accepted" if supported else "alert")
    if outcome == "alert" and alert is None and not supported:
        alert = 70
    return ProtocolResult(version=version, supported=supported, outcome=outcome, alert=alert,
                          detail=detail or ("ServerHello" if supported else ""))


MODERN = (
    _proto(c.TLS13, True), _proto(c.TLS12, True), _proto(c.TLS11, False), _proto(c.TLS10, False),
    _proto(c.SSL3, False, "closed", detail="closed (the server closed the connection without an alert)"),
    _proto(c.SSL2, False, "closed", detail="closed (the server closed the connection without an alert)"),
)
GOOD_SUITES = (
    SuiteResult(version=c.TLS13, code=0x1301, group=0x001D),
    SuiteResult(version=c.TLS13, code=0x1302, group=0x001D),
    SuiteResult(version=c.TLS12, code=0xC02F, group=0x001D),
    SuiteResult(version=c.TLS12, code=0xC030, group=0x001D),
)
GOOD_BEHAVIOURS = Behaviours(
    secure_renegotiation=True, extended_master_secret=True, fallback_scsv=True, sni_required=False,
    sni_detail="without SNI the handshake succeeds", ocsp_stapling=True,
)


def healthy(pki: SimpleNamespace, **kw: Any) -> EndpointResult:
    fields: dict[str, Any] = dict(
        host=HOST, port=443, ip="127.0.0.1", sni=HOST, outcome="ok", protocols=MODERN,
        cipher_suites=GOOD_SUITES, behaviours=GOOD_BEHAVIOURS,
        certificates=(_chain([_leaf(pki), pki.inter], pki.ca_file),),
        client_auth=(ClientAuthResult(version=c.TLS13, mode="none"), ClientAuthResult(version=c.TLS12, mode="none")),
    )
    fields.update(kw)
    return EndpointResult(**fields)


def failed(outcome: str, detail: str, **kw: Any) -> EndpointResult:
    fields: dict[str, Any] = dict(host=HOST, port=8443, ip="192.0.2.7", sni=HOST, outcome=outcome, detail=detail)
    fields.update(kw)
    return EndpointResult(**fields)


def ids(result: EndpointResult, options: ScanOptions = OPTIONS) -> set[str]:
    return {f.id for f in diagnose(result, options)}


def finding(result: EndpointResult, fid: str, options: ScanOptions = OPTIONS) -> Any:
    return next(f for f in diagnose(result, options) if f.id == fid)


# -- the healthy endpoint ---------------------------------------------------------------------


def test_healthy_modern_endpoint_has_nothing_above_low(pki: SimpleNamespace) -> None:
    result = healthy(pki)
    assert result.certificates[0].validation.trusted, result.certificates[0].validation
    findings = diagnose(result, OPTIONS)
    assert [f for f in findings if SEVERITIES.index(f.severity) < SEVERITIES.index("low")] == []
    assert findings == ()


def test_catalogue_and_rules_cover_the_same_ids() -> None:
    assert set(RULES) == set(CATALOGUE)
    for e in CATALOGUE.values():
        assert e.severity in SEVERITIES
        assert e.cause and e.resolution and e.title
        assert RULES[e.id].__doc__, f"{e.id}: its rule must say when it fires"


# -- connectivity -----------------------------------------------------------------------------


def test_dns_unresolved() -> None:
    r = failed("dns_error", "cannot resolve nowhere.test: [Errno -2] Name or service not known", host="nowhere.test", ip=None)
    assert ids(r) == {"dns.unresolved"}
    assert "nowhere.test" in finding(r, "dns.unresolved").evidence
    assert "Name or service not known" in finding(r, "dns.unresolved").evidence


def test_port_closed() -> None:
    r = failed("refused", "connection refused")
    f = finding(r, "port.closed")
    assert ids(r) == {"port.closed"}
    assert "192.0.2.7" in f.evidence and "8443" in f.evidence
    assert "netstat -ano" in f.resolution and "ss -ltnp" in f.resolution


def test_port_unreachable() -> None:
    r = failed("unreachable", "No route to host")
    assert ids(r) == {"port.unreachable"}
    assert "No route to host" in finding(r, "port.unreachable").evidence


def test_port_timeout_says_tcp_or_tls() -> None:
    tcp = failed("timeout", "no TCP answer (no TCP answer within 5s)")
    tls = failed("timeout", "TCP connects, but no TLS answer (no complete answer within 5s)")
    assert ids(tcp) == ids(tls) == {"port.timeout"}
    assert finding(tcp, "port.timeout").evidence.startswith("no TCP answer from")
    assert "within 5s" in finding(tcp, "port.timeout").evidence
    assert "accepted, but no TLS answer" in finding(tls, "port.timeout").evidence
    assert "no complete answer within 5s" in finding(tls, "port.timeout").evidence


def test_port_not_tls_names_protocol_and_first_bytes() -> None:
    detail = "not_tls (ssh: b'SSH-2.0-OpenSSH_9')"
    r = failed("not_tls", detail, protocols=(_proto(c.TLS12, False, "not_tls", detail=detail),))
    f = finding(r, "port.not_tls")
    assert ids(r) == {"port.not_tls"}
    assert "SSH" in f.evidence and '"SSH-2.0-OpenSSH_9"' in f.evidence and "b'" not in f.evidence
    assert "netstat -ano" in f.resolution and "ss -ltnp" in f.resolution


def test_port_not_tls_keeps_a_banner_cut_inside_parentheses() -> None:
    """Report t1315 point 10a: no stray parenthesis after a banner cut inside one."""
    detail = 'not_tls (pop3: "+OK Dovecot (Deb"...)'
    r = failed("not_tls", detail, protocols=(_proto(c.TLS12, False, "not_tls", detail=detail),))
    evidence = finding(r, "port.not_tls").evidence
    assert 'first bytes received: "+OK Dovecot (Deb"...;' in evidence
    assert "--starttls pop3" in evidence


def test_handshake_aborted_seed_001_no_key_or_binding() -> None:
    protocols = (
        _proto(c.TLS13, False, "reset", detail="reset (connection reset by peer)"),
        _proto(c.TLS12, False, "reset", detail="reset (connection reset by peer)"),
        _proto(c.TLS11, False, "closed", detail="closed (the server closed the connection without an alert)"),
        _proto(c.TLS10, False, "alert", alert=80, detail="alert internal_error (80)"),
        _proto(c.SSL3, False, "timeout", detail="timeout (no complete answer within 5s)"),
    )
    r = EndpointResult(host=HOST, port=443, ip="127.0.0.1", sni=HOST, outcome="ok", protocols=protocols)
    f = finding(r, "handshake.aborted")
    assert ids(r) == {"handshake.aborted"}
    assert "TLSv1.3: reset (connection reset by peer)" in f.evidence
    assert "TLSv1.0: alert internal_error (80)" in f.evidence
    for text in ("certutil -repairstore", "MachineKeys", "netsh http show sslcert", "httpcfg query ssl",
                 "{00000000-0000-0000-0000-000000000000}"):
        assert text in f.resolution
    assert "36870" in (f.windows_error or "") and "0x80090016" in (f.windows_error or "")
    assert "0x8009001a" in (f.windows_error or "")


def test_handshake_rejected_when_every_version_gets_an_alert() -> None:
    protocols = tuple(_proto(v, False, "alert", alert=40) for v in (c.TLS13, c.TLS12, c.TLS11))
    r = EndpointResult(host=HOST, port=443, ip="127.0.0.1", sni=HOST, outcome="ok", protocols=protocols)
    assert ids(r) == {"handshake.rejected"}
    assert "TLSv1.2: alert handshake_failure (40)" in finding(r, "handshake.rejected").evidence


def test_sni_required_from_the_behaviour_probe(pki: SimpleNamespace) -> None:
    r = healthy(pki, behaviours=replace(GOOD_BEHAVIOURS, sni_required=True,
                                        sni_detail="without SNI: alert unrecognized_name (112)"))
    assert ids(r) == {"sni.required"}
    assert "unrecognized_name (112)" in finding(r, "sni.required").evidence


def test_sni_required_when_every_refusal_is_unrecognized_name() -> None:
    protocols = tuple(_proto(v, False, "alert", alert=112) for v in (c.TLS13, c.TLS12))
    r = EndpointResult(host="127.0.0.1", port=443, ip="127.0.0.1", sni=None, outcome="ok", protocols=protocols)
    assert ids(r) == {"sni.required"}
    assert "no server_name was sent" in finding(r, "sni.required").evidence


def test_sni_required_when_another_certificate_is_served_without_sni(pki: SimpleNamespace) -> None:
    default = _cert("default.invalid", _key("default"), "Example Issuing CA", pki.int_key, sans=("default.invalid",))
    with_sni = _chain([_leaf(pki), pki.inter], pki.ca_file)
    without = _chain([default, pki.inter], pki.ca_file, sni=None)
    r = healthy(pki, certificates=(with_sni, without))
    f = finding(r, "sni.required")
    assert ids(r) == {"sni.required"}
    assert "CN=default.invalid" in f.evidence and "SANs: default.invalid" in f.evidence
    assert f"CN={HOST}" in f.evidence


# -- protocols and suites ---------------------------------------------------------------------


def test_no_common_version_seed_001_scenario_5() -> None:
    protocols = (_proto(c.TLS12, False), _proto(c.TLS11, False), _proto(c.TLS10, True), _proto(c.SSL3, False))
    r = EndpointResult(host=HOST, port=443, ip="127.0.0.1", sni=HOST, outcome="ok", protocols=protocols,
                       cipher_suites=(SuiteResult(version=c.TLS10, code=0x002F),))
    options = ScanOptions(now=NOW, client_versions=(c.TLS11, c.TLS12))
    f = finding(r, "protocol.no_common_version", options)
    assert ids(r, options) == {
        "protocol.no_common_version", "protocol.deprecated", "tls.no_forward_secrecy",
        "vuln.beast", "vuln.lucky13",  # issue 18: TLS 1.0 with a CBC suite
    }
    assert "accepts only TLSv1.0" in f.evidence and "offers TLSv1.2, TLSv1.1" in f.evidence
    assert "TLSv1.2: alert protocol_version (70)" in f.evidence
    assert r"HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols" in f.resolution
    assert "Enabled" in f.resolution
    for directive in ("ssl_protocols", "SSLProtocol", "MinProtocol"):
        assert directive in f.resolution
    # The default stated client (TLS 1.2 + 1.3) against the same server: still none in common.
    assert "protocol.no_common_version" in ids(r)


@pytest.mark.parametrize(
    ("version", "severity"),
    [(c.SSL2, "critical"), (c.SSL3, "high"), (c.TLS10, "medium"), (c.TLS11, "medium")],
)
def test_deprecated_protocol_severity_by_version(pki: SimpleNamespace, version: int, severity: str) -> None:
    r = healthy(pki, protocols=(*MODERN[:2], _proto(version, True)))
    f = finding(r, "protocol.deprecated")
    assert ids(r) == {"protocol.deprecated"}
    assert f.severity == severity
    assert f.evidence.startswith({c.SSL2: "SSLv2", c.SSL3: "SSLv3", c.TLS10: "TLSv1.0", c.TLS11: "TLSv1.1"}[version])


def test_no_common_suite(pki: SimpleNamespace) -> None:
    options = ScanOptions(now=NOW, client_suites=(0x009C, 0x002F))
    r = healthy(pki)
    f = finding(r, "cipher.no_common_suite", options)
    assert ids(r, options) == {"cipher.no_common_suite"}
    assert "TLS_RSA_WITH_AES_128_GCM_SHA256" in f.evidence
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in f.evidence
    assert ids(r, ScanOptions(now=NOW, client_suites=(0x009C, 0xC02F))) == set()


def test_weak_suites_listed_per_version(pki: SimpleNamespace) -> None:
    r = healthy(pki, cipher_suites=(*GOOD_SUITES, SuiteResult(version=c.TLS12, code=0x0005),
                                    SuiteResult(version=c.TLS12, code=0x000A)))
    f = finding(r, "cipher.weak")
    # issue 18: RC4 and 3DES are named vulnerabilities too (3DES is CBC: LUCKY13's precondition)
    assert ids(r) == {"cipher.weak", "vuln.rc4", "vuln.sweet32", "vuln.lucky13"}
    assert f.severity == "high"
    assert "TLSv1.2: TLS_RSA_WITH_RC4_128_SHA (0x0005) [rc4]" in f.evidence
    assert "TLS_RSA_WITH_3DES_EDE_CBC_SHA (0x000A) [3des]" in f.evidence
    only_3des = healthy(pki, cipher_suites=(*GOOD_SUITES, SuiteResult(version=c.TLS12, code=0x000A)))
    assert finding(only_3des, "cipher.weak").severity == "medium"


def test_weak_dh(pki: SimpleNamespace) -> None:
    r = healthy(pki, cipher_suites=(*GOOD_SUITES, SuiteResult(version=c.TLS12, code=0x009E, dh_bits=1024)),
                dh_bits=(1024,))
    f = finding(r, "dh.weak")
    assert ids(r) == {"dh.weak"}
    assert "1024-bit" in f.evidence and "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256" in f.evidence
    assert f.severity == "medium"
    assert finding(replace(r, dh_bits=(512,)), "dh.weak").severity == "high"


def test_no_forward_secrecy(pki: SimpleNamespace) -> None:
    r = healthy(pki, protocols=(_proto(c.TLS13, False), _proto(c.TLS12, True)),
                cipher_suites=(SuiteResult(version=c.TLS12, code=0x009C),))
    assert ids(r) == {"tls.no_forward_secrecy"}
    assert "RSA key exchange in TLSv1.2" in finding(r, "tls.no_forward_secrecy").evidence


def test_behaviour_findings(pki: SimpleNamespace) -> None:
    three = (_proto(c.TLS13, True), _proto(c.TLS12, True), _proto(c.TLS11, True))
    b = Behaviours(secure_renegotiation=False, extended_master_secret=False, fallback_scsv=False,
                   fallback_detail="accepted", compression=(1,))
    r = healthy(pki, protocols=three, behaviours=b,
                anomalies=("TLSv1.2: chose TLS_RSA_WITH_AES_128_CBC_SHA (0x002F), which was not offered",))
    assert ids(r) == {
        "protocol.deprecated", "tls.insecure_renegotiation", "tls.no_ems", "tls.fallback_scsv_missing",
        "tls.compression", "tls.server_violation",
    }
    assert "TLSv1.2" in finding(r, "tls.fallback_scsv_missing").evidence
    assert "inappropriate_fallback (86)" in finding(r, "tls.fallback_scsv_missing").evidence
    assert "1 (DEFLATE)" in finding(r, "tls.compression").evidence
    assert "0x002F" in finding(r, "tls.server_violation").evidence
    assert finding(r, "tls.no_ems").severity == "info"
    assert finding(r, "tls.fallback_scsv_missing").severity == "low"


# -- certificates -----------------------------------------------------------------------------


def test_untrusted_root(pki: SimpleNamespace) -> None:
    # The server sends its root too, and the client's store does not hold it.
    r2 = healthy(pki, certificates=(_chain([_leaf(pki), pki.inter, pki.root], pki.other_file),))
    options = ScanOptions(now=NOW, ca_file=pki.other_file, use_system_store=False)
    f = finding(r2, "cert.untrusted_root", options)
    assert ids(r2, options) == {"cert.untrusted_root"}
    assert "CN=Example Root CA" in f.evidence
    assert pki.other_file in f.evidence
    assert f.windows_error == "0x800b0109 (CERT_E_UNTRUSTEDROOT)"
    assert "LOCAL COMPUTER" in f.resolution and "serve a certificate from a CA the clients already trust" in f.resolution


def test_self_signed(pki: SimpleNamespace) -> None:
    key = _key("self")
    cert = _cert(HOST, key, HOST, key, sans=(HOST,))
    r = healthy(pki, certificates=(_chain([cert], pki.ca_file),))
    f = finding(r, "cert.self_signed")
    assert ids(r) == {"cert.self_signed"}
    assert f.severity == "high"
    assert f"CN={HOST}" in f.evidence and "not in the trust store" in f.evidence
    # The same certificate in the user's CA file: lenient clients accept it.
    pinned = Path(pki.ca_file).parent / "self.pem"
    pinned.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    r = healthy(pki, certificates=(_chain([cert], str(pinned)),))
    f = finding(r, "cert.self_signed")
    assert ids(r) == {"cert.self_signed"}
    assert f.severity == "low" and "the trust store holds it" in f.evidence


def test_incomplete_chain_names_issuer_and_aia_url(pki: SimpleNamespace) -> None:
    url = "http://crt.example.test/issuing.der"
    r = healthy(pki, certificates=(_chain([_leaf(pki, aia=url)], pki.ca_file),))
    f = finding(r, "cert.incomplete_chain")
    assert ids(r) == {"cert.incomplete_chain"}
    assert "CN=Example Issuing CA" in f.evidence and url in f.evidence


def test_hostname_mismatch(pki: SimpleNamespace) -> None:
    leaf = _leaf(pki, sans=("api.example.test", "*.example.net"))
    r = healthy(pki, certificates=(_chain([leaf, pki.inter], pki.ca_file),))
    f = finding(r, "cert.hostname_mismatch")
    assert ids(r) == {"cert.hostname_mismatch"}
    assert repr(HOST) in f.evidence and "api.example.test, *.example.net" in f.evidence
    assert f.windows_error == "0x800b010f (CERT_E_CN_NO_MATCH)"


def test_expired_and_not_yet_valid(pki: SimpleNamespace) -> None:
    old = _leaf(pki, not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=10))
    r = healthy(pki, certificates=(_chain([old, pki.inter], pki.ca_file),))
    f = finding(r, "cert.expired")
    assert ids(r) == {"cert.expired"}
    assert "expired on 2025-05-22 12:00:00 UTC (10 day(s) before 2025-06-01 12:00:00 UTC)" in f.evidence
    future = _leaf(pki, not_before=NOW + dt.timedelta(days=3))
    r = healthy(pki, certificates=(_chain([future, pki.inter], pki.ca_file),))
    f = finding(r, "cert.not_yet_valid")
    assert ids(r) == {"cert.not_yet_valid"}
    assert "valid from 2025-06-04 12:00:00 UTC (3 day(s) after" in f.evidence


def test_wrong_usage(pki: SimpleNamespace) -> None:
    leaf = _leaf(pki, eku=(ExtendedKeyUsageOID.CLIENT_AUTH,))
    r = healthy(pki, certificates=(_chain([leaf, pki.inter], pki.ca_file),))
    f = finding(r, "cert.wrong_usage")
    assert ids(r) == {"cert.wrong_usage"}
    assert "clientAuth" in f.evidence
    assert f.windows_error == "0x800b0110 (CERT_E_WRONG_USAGE)"
    assert "Enable all purposes for this certificate" in f.resolution and "Server Authentication" in f.resolution


def test_weak_key_and_signature(pki: SimpleNamespace) -> None:
    leaf = _leaf(pki, key=_key("weak", "rsa1024"))
    r = healthy(pki, certificates=(_chain([leaf, pki.inter], pki.ca_file),))
    assert ids(r) == {"cert.weak_key"}
    assert "1024-bit RSA key" in finding(r, "cert.weak_key").evidence
    sha1, inter = _sha1_leaf(pki)
    r = healthy(pki, certificates=(_chain([sha1, inter], pki.ca_file),))
    assert ids(r) == {"cert.weak_signature"}
    assert "sha1WithRSAEncryption" in finding(r, "cert.weak_signature").evidence


_SHA256_RSA = bytes.fromhex("2a864886f70d01010b")  # 1.2.840.113549.1.1.11
_SHA1_RSA = bytes.fromhex("2a864886f70d010105")  # 1.2.840.113549.1.1.5


def _sha1_leaf(pki: SimpleNamespace) -> tuple[x509.Certificate, x509.Certificate]:
    """cryptography refuses to build SHA-1 certificates: build a SHA-256 one, swap the
    algorithm OID (same length) in the TBS and outside it, and sign the new TBS with SHA-1."""
    int_rsa = _key("int-rsa", "rsa2048")
    inter = _cert("Example Issuing CA", int_rsa, "Example Root CA", pki.root_key, ca=True)
    good = _cert(HOST, _key("leaf"), "Example Issuing CA", int_rsa, sans=(HOST,))
    der = _der(good).replace(_SHA256_RSA, _SHA1_RSA)
    # outer SEQUENCE (4-byte header: 30 82 LL LL), then the TBS SEQUENCE
    assert der[0] == 0x30 and der[1] == 0x82 and der[4] == 0x30 and der[5] == 0x82
    tbs = der[4 : 8 + int.from_bytes(der[6:8], "big")]
    signature = int_rsa.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    der = der[: -len(signature)] + signature
    return x509.load_der_x509_certificate(der), inter


def test_revocation(pki: SimpleNamespace) -> None:
    offline = SimpleNamespace(status="unreachable", method="ocsp", detail="connect timed out", revoked_at=None,
                              reason=None, urls_tried=("http://ocsp.example.test", "http://crl.example.test/i.crl"))
    r = healthy(pki, certificates=(_chain([_leaf(pki), pki.inter], pki.ca_file, revocation=offline),))
    f = finding(r, "cert.revocation_unreachable")
    assert ids(r) == {"cert.revocation_unreachable"}
    assert "http://ocsp.example.test" in f.evidence and "http://crl.example.test/i.crl" in f.evidence
    assert f.windows_error == "0x80092013 (CRYPT_E_REVOCATION_OFFLINE)"
    assert "Ensure the revocation server can be reached" in f.resolution
    revoked = SimpleNamespace(status="revoked", method="OCSP", detail="", reason="keyCompromise",
                              revoked_at=dt.datetime(2025, 5, 1, tzinfo=dt.UTC), urls_tried=())
    r = healthy(pki, certificates=(_chain([_leaf(pki), pki.inter], pki.ca_file, revocation=revoked),))
    f = finding(r, "cert.revoked")
    assert ids(r) == {"cert.revoked"}
    assert "keyCompromise" in f.evidence and "2025-05-01" in f.evidence


# -- client certificates ----------------------------------------------------------------------

CLIENT_CA = "CN=Contoso Client CA,O=Contoso"


@pytest.mark.parametrize("mode", ["required", "optional", "requested"])
def test_client_auth_modes(pki: SimpleNamespace, mode: str) -> None:
    r = healthy(pki, client_auth=(ClientAuthResult(version=c.TLS12, mode=mode, certificate_authorities=(CLIENT_CA,),
                                                   signature_algorithms=(0x0804,)),))
    f = finding(r, f"client_auth.{mode}")
    assert ids(r) == {f"client_auth.{mode}"}
    assert repr(CLIENT_CA) in f.evidence and "TLSv1.2" in f.evidence and "rsa_pss_rsae_sha256" in f.evidence
    assert f.windows_error == "12044 (ERROR_WINHTTP_CLIENT_AUTH_CERT_NEEDED)"


def test_client_cert_rejected_seed_004(pki: SimpleNamespace) -> None:
    attempt = ClientCertAttempt(label="poster.pfx", version=c.TLS10, subject="CN=poster", issuer=CLIENT_CA,
                                verdict="alert", alert=42, stage="after the client Certificate")
    r = healthy(pki, client_auth=(ClientAuthResult(version=c.TLS10, mode="required", certificate_authorities=(CLIENT_CA,)),),
                client_certificates=(attempt,))
    f = finding(r, "client_auth.cert_rejected")
    assert ids(r) == {"client_auth.cert_rejected", "client_auth.required"}
    assert "bad_certificate (42)" in f.evidence and "'poster.pfx'" in f.evidence and "CN=poster" in f.evidence


def test_client_cert_issuer_not_accepted_seed_003(pki: SimpleNamespace) -> None:
    attempt = ClientCertAttempt(label="alice.p12", version=c.TLS12, subject="CN=alice", issuer="CN=Old Partner CA",
                                verdict="alert", alert=47)
    r = healthy(pki, client_auth=(ClientAuthResult(version=c.TLS12, mode="required", certificate_authorities=(CLIENT_CA,)),),
                client_certificates=(attempt,))
    f = finding(r, "client_auth.issuer_not_accepted")
    assert ids(r) == {"client_auth.issuer_not_accepted", "client_auth.required"}
    assert "illegal_parameter (47)" in f.evidence
    assert "CN=Old Partner CA" in f.evidence and CLIENT_CA in f.evidence
    # the same issuer spelt with other spacing and case is accepted: then it is the cert itself
    ok_issuer = replace(attempt, issuer="cn=Contoso Client CA, o=Contoso")
    assert "client_auth.cert_rejected" in ids(replace(r, client_certificates=(ok_issuer,)))


# -- ordering and determinism -----------------------------------------------------------------


def test_findings_sorted_by_severity_then_id_and_deterministic(pki: SimpleNamespace) -> None:
    leaf = _leaf(pki, sans=("other.example.test",), not_after=NOW - dt.timedelta(days=1),
                 not_before=NOW - dt.timedelta(days=90))
    r = healthy(pki, certificates=(_chain([leaf, pki.inter], pki.ca_file),),
                protocols=(*MODERN[:2], _proto(c.TLS10, True)),
                behaviours=replace(GOOD_BEHAVIOURS, extended_master_secret=False))
    first = diagnose(r, OPTIONS)
    assert first == diagnose(r, OPTIONS)
    keys = [(SEVERITIES.index(f.severity), f.id) for f in first]
    assert keys == sorted(keys)
    assert [f.id for f in first] == ["cert.expired", "cert.hostname_mismatch", "protocol.deprecated", "tls.no_ems"]


def test_findings_text_comes_from_the_catalogue(pki: SimpleNamespace) -> None:
    r = failed("refused", "connection refused")
    f = finding(r, "port.closed")
    e = entry("port.closed")
    assert (f.title, f.cause, f.resolution, f.severity) == (e.title, e.cause, e.resolution, e.severity)


# -- the generated documentation --------------------------------------------------------------


def test_docs_findings_md_is_generated_from_the_catalogue() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_findings_doc.py"), "--check"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    for fid in CATALOGUE:
        assert f"### {fid}" in text
