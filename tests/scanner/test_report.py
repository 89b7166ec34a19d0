# The report layer: text tables, JSON / JSON Lines, CSV, and docs/schema.json, on results
# built by hand (a healthy TLS 1.2 + 1.3 endpoint with a real certificate chain, a DNS
# failure, an endpoint full of unknown codes). No network.
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import re
import typing
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from jsonschema import Draft202012Validator

from handshakes.constants import SSL3, TLS10, TLS11, TLS12, TLS13
from scanner import results
from scanner.report import (
    jsonl_line,
    render_endpoint,
    render_summary,
    write_csv,
    write_json,
    write_jsonl,
)
from scanner.results import (
    Behaviours,
    CertificateInfo,
    ChainResult,
    ClientAuthResult,
    ClientCertAttempt,
    EndpointResult,
    Finding,
    GroupResult,
    ProbeLog,
    ProtocolResult,
    Stats,
    SuiteResult,
    document_json,
    endpoint_json,
)
from scanner.revocation import RevocationResult
from scanner.x509 import ChainValidation, decode_certificate

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "schema.json"
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
NOT_BEFORE = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)  # 151 days after NOW


# -- Samples -----------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Report Test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _make_chain() -> tuple[bytes, bytes]:
    """A P-256 CA and an RSA-2048 leaf for example.test, DER, leaf first."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Report Test CA"))
        .issuer_name(_name("Report Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2034, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("example.test"))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(0x1234)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("example.test"), x509.DNSName("www.example.test")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier("http://ocsp.example.test"),
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier("http://ca.example.test/ca.der"),
                    ),
                ]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    der = serialization.Encoding.DER
    return leaf.public_bytes(der), ca.public_bytes(der)


@pytest.fixture(scope="module")
def chain_der() -> tuple[bytes, bytes]:
    return _make_chain()


def _healthy(chain_der: tuple[bytes, bytes]) -> EndpointResult:
    leaf_der, ca_der = chain_der
    validation = ChainValidation(
        trusted=True,
        hostname="example.test",
        hostname_ok=True,
        error=None,
        problems=(),
        webpki_deviations=(),
        missing_issuer=None,
        missing_issuer_url=None,
        path=("CN=example.test", "CN=Report Test CA"),
    )
    chain = ChainResult(
        versions=(TLS13, TLS12),
        sni="example.test",
        key_type="RSA",
        der=chain_der,
        certificates=(decode_certificate(leaf_der), decode_certificate(ca_der)),
        stapled_ocsp=bytes.fromhex("30030a0100"),
        validation=validation,
        revocation=RevocationResult(status="good", method="ocsp_stapled", detail="stapled"),
    )
    return EndpointResult(
        host="example.test",
        port=443,
        ip="127.0.0.1",
        sni="example.test",
        outcome="ok",
        protocols=(
            ProtocolResult(version=SSL3, supported=False, outcome="closed"),
            ProtocolResult(version=TLS10, supported=False, outcome="accepted", negotiated=TLS12),
            ProtocolResult(
                version=TLS11,
                supported=False,
                outcome="alert",
                alert=70,
                detail="alert protocol_version",  # shown once, not twice
            ),
            ProtocolResult(version=TLS12, supported=True, outcome="accepted", negotiated=TLS12),
            ProtocolResult(version=TLS13, supported=True, outcome="accepted", negotiated=TLS13),
        ),
        suites_enumerated=True,
        cipher_suites=(
            SuiteResult(version=TLS13, code=0x1302, group=29),
            SuiteResult(version=TLS13, code=0x1301, group=29),
            SuiteResult(version=TLS12, code=0x000A, preference=4),
            SuiteResult(version=TLS12, code=0xC030, preference=2, group=23),
            SuiteResult(version=TLS12, code=0xC02F, preference=1, group=23),
            SuiteResult(version=TLS12, code=0x009E, preference=3, dh_bits=2048),
        ),
        groups=(
            GroupResult(version=TLS13, code=23, preference=2),
            GroupResult(version=TLS13, code=29, preference=1),
            GroupResult(version=TLS12, code=23),
        ),
        dh_bits=(2048,),
        certificates=(chain,),
        behaviours=Behaviours(
            alpn=("h2", "http/1.1"),
            alpn_checked=True,
            secure_renegotiation=True,
            extended_master_secret=True,
            encrypt_then_mac=False,
            session_ticket=True,
            ocsp_stapling=True,
            fallback_scsv=True,
            server_preference=((TLS12, True), (TLS13, False)),
            sni_required=False,
            downgrade_sentinel=True,
        ),
        client_auth=(
            ClientAuthResult(
                version=TLS13,
                mode="optional",
                certificate_authorities=("CN=Client CA B,O=Report Test", "CN=Client CA A"),
                signature_algorithms=(0x0804, 0x0403),
                signature_algorithms_cert=(0x0804,),
                oid_filters=(("2.5.29.37", "300a06082b06010505070302"),),
            ),
            ClientAuthResult(version=TLS12, mode="none"),
        ),
        client_certificates=(
            ClientCertAttempt(
                label="wrong-ca.pem",
                version=TLS13,
                subject="CN=alice",
                issuer="CN=Other CA",
                verdict="alert",
                alert=48,
                stage="after Finished",
            ),
            ClientCertAttempt(
                label="alice.pem",
                version=TLS13,
                subject="CN=alice",
                issuer="CN=Client CA A",
                verdict="accepted",
            ),
        ),
        findings=(
            Finding(
                id="tls12-3des",
                severity="medium",
                title="3DES offered in TLS 1.2",
                evidence="TLS_RSA_WITH_3DES_EDE_CBC_SHA accepted",
                cause="The cipher list allows 3DES.",
                resolution="Remove 3DES from the cipher list.",
                windows_error="SEC_E_ALGORITHM_MISMATCH (0x80090331)",
            ),
            Finding(
                id="cert-expiring",
                severity="low",
                title="Certificate expires in 151 days",
                evidence="not_after 2025-06-01",
                cause="",
                resolution="Renew it.",
            ),
            Finding(
                id="alpn-h2",
                severity="info",
                title="HTTP/2 offered",
                evidence="h2",
                cause="",
                resolution="",
            ),
        ),
        probes=(
            ProbeLog(
                name="protocols",
                offered="TLSv1.3",
                outcome="accepted",
                detail="TLS_AES_256_GCM_SHA384",
                bytes_sent=517,
                bytes_received=1432,
                duration_s=0.0123,
            ),
            ProbeLog(
                name="protocols",
                offered="TLSv1.1",
                outcome="alert",
                detail="protocol_version",
                bytes_sent=220,
                bytes_received=7,
                duration_s=0.004,
            ),
        ),
        tags=("web", "prod"),
        stats=Stats(connections=42, bytes_sent=12345, bytes_received=67890, duration_s=3.25),
        started="2025-01-01T00:00:00+00:00",
    )


def _dns_error() -> EndpointResult:
    return EndpointResult(
        host="nowhere.invalid",
        port=443,
        ip=None,
        sni="nowhere.invalid",
        outcome="dns_error",
        detail="Name or service not known",
    )


def _hand_info() -> CertificateInfo:
    """results.CertificateInfo filled by hand (no decoder involved)."""
    return CertificateInfo(
        subject="CN=odd.test",
        issuer="CN=odd.test",
        common_names=("odd.test",),
        san_dns=(),
        san_ip=("192.0.2.7",),
        serial="01",
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2024, 12, 1, tzinfo=dt.UTC),  # expired 31 days before NOW
        key_type="EC",
        key_bits=256,
        key_curve="secp256r1",
        signature_algorithm="ecdsa-with-SHA256",
        signature_hash="sha256",
        key_usage=("digitalSignature",),
        extended_key_usage=(),
        has_eku=False,
        is_ca=False,
        self_issued=True,
        self_signed=True,
        ocsp_urls=(),
        ca_issuers_urls=(),
        crl_urls=("http://crl.odd.test/x.crl",),
        sha256="AB" * 32,
        sha1="CD" * 20,
        must_staple=False,
    )


def _unknown() -> EndpointResult:
    return EndpointResult(
        host="odd.test",
        port=8443,
        ip="192.0.2.7",
        sni=None,
        outcome="ok",
        protocols=(
            ProtocolResult(version=TLS12, supported=True, outcome="accepted", negotiated=TLS12),
            ProtocolResult(version=0x7F1C, supported=False, outcome="alert", alert=0x9F),
        ),
        suites_enumerated=True,
        cipher_suites=(
            SuiteResult(version=TLS12, code=0xC0FF, group=0x1234),
            SuiteResult(version=TLS12, code=0x0004),
        ),
        groups=(GroupResult(version=TLS12, code=0x1234),),
        certificates=(
            ChainResult(
                versions=(TLS12,),
                sni=None,
                key_type="EC",
                der=(b"\x30\x00",),
                certificates=(_hand_info(),),
                revocation=RevocationResult(
                    status="revoked",
                    method="crl",
                    detail="",
                    revoked_at=dt.datetime(2024, 7, 1, tzinfo=dt.UTC),
                    reason="keyCompromise",
                    urls_tried=("http://crl.odd.test/x.crl",),
                ),
            ),
            ChainResult(versions=(0x7F1C,), sni="x", key_type="?", der=(b"\x01",)),
        ),
        anomalies=("ServerHello chose 0xC0FF, which was not offered",),
        behaviours=Behaviours(compression=(1, 0x42), alpn_checked=True),
        client_auth=(
            ClientAuthResult(version=TLS12, mode="required", signature_algorithms=(0xFEFE,)),
        ),
        client_certificates=(
            ClientCertAttempt(
                label="x.pem",
                version=None,
                subject="",
                issuer="",
                verdict="alert",
                alert=0x9F,
            ),
        ),
        findings=(
            Finding(
                id="rc4",
                severity="high",
                title="RC4",
                evidence="0x0004",
                cause="c",
                resolution="r",
            ),
        ),
        stats=Stats(connections=3, bytes_sent=10, bytes_received=20, duration_s=9.5),
    )


@pytest.fixture
def samples(chain_der: tuple[bytes, bytes]) -> list[EndpointResult]:
    return [_healthy(chain_der), _dns_error(), _unknown()]


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def assert_row(text: str, *cells: str) -> None:
    """A line of a table holds exactly these cells, in this order, separated by spaces."""
    pattern = r"^\s*" + r"\s+".join(re.escape(c) for c in cells) + r"\s*$"
    assert re.search(pattern, text, re.MULTILINE), f"no row {cells!r} in:\n{text}"


# -- Text tables -------------------------------------------------------------------------


def test_header_and_protocols(chain_der: tuple[bytes, bytes]) -> None:
    text = render_endpoint(_healthy(chain_der), now=NOW)
    first = text.splitlines()[0]
    assert first.startswith("example.test:443")
    assert "ip 127.0.0.1" in first and "sni example.test" in first and "outcome ok" in first
    assert "42 connections, 12345 bytes sent, 67890 bytes received, 3.25 s" in text
    assert "tags: prod, web" in text
    assert_row(text, "TLSv1.3", "yes", "accepted")
    assert_row(text, "TLSv1.2", "yes", "accepted")
    assert_row(text, "TLSv1.1", "no", "alert protocol_version (70)")
    assert_row(text, "TLSv1.0", "no", "answered TLSv1.2 instead")
    assert_row(text, "SSLv3", "no", "closed")
    # Newest first.
    assert text.index("TLSv1.3  ") < text.index("TLSv1.1  ") < text.index("SSLv3  ")


def test_cipher_suites_order_and_weak_marker(chain_der: tuple[bytes, bytes]) -> None:
    text = render_endpoint(_healthy(chain_der), now=NOW)
    assert "TLSv1.2 (4 suites; the server imposes its order)" in text
    assert "TLSv1.3 (2 suites; the server follows the client's order)" in text
    assert_row(
        text,
        "1",
        "0xC02F",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE secp256r1",
        "AESGCM",
        "128",
    )
    assert_row(
        text, "3", "0x009E", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE 2048 bits", "AESGCM", "128"
    )
    assert_row(text, "4", "0x000A", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "RSA", "3DES", "168", "! 3des")
    assert_row(text, "-", "0x1301", "TLS_AES_128_GCM_SHA256", "any x25519", "AESGCM", "128")
    assert "! weak cipher suite (3des); see the findings" in text
    # Preference order within a version; without an order, by code.
    assert text.index("0xC02F") < text.index("0xC030") < text.index("0x009E") < text.index("0x000A")
    assert text.index("0x1301") < text.index("0x1302")


def test_groups_certificates_and_client_auth(chain_der: tuple[bytes, bytes]) -> None:
    text = render_endpoint(_healthy(chain_der), now=NOW)
    assert_row(text, "TLSv1.3", "1", "x25519", "0x001D")
    assert_row(text, "TLSv1.3", "2", "secp256r1", "0x0017")
    assert_row(text, "TLSv1.2", "-", "secp256r1", "0x0017")
    assert "DHE parameters seen: 2048 bits" in text

    assert "Chain 1: TLSv1.3, TLSv1.2; SNI example.test; RSA key; 2 certificates sent" in text
    assert_row(text, "Trusted", "yes")
    assert_row(text, "Hostname matches", "yes (example.test)")
    assert_row(text, "Revocation", "good (ocsp_stapled): stapled")
    assert_row(text, "Stapled OCSP", "5 bytes")
    assert "Certificate leaf" in text and "Certificate #1" in text
    assert re.search(r"Subject\s+.*CN=example\.test", text)
    assert_row(text, "SANs", "example.test, www.example.test")
    assert_row(text, "Validity", "2024-06-01 to 2025-06-01 (151 days left)")
    assert_row(text, "Key", "RSA 2048 bits")
    assert re.search(r"Key\s+EC 256 bits \(secp256r1\)", text)
    assert_row(text, "EKU", "serverAuth")
    assert_row(text, "OCSP", "http://ocsp.example.test")
    assert_row(text, "CA issuers", "http://ca.example.test/ca.der")
    fingerprint = decode_certificate(chain_der[0]).sha256
    assert_row(text, "SHA-256", fingerprint)

    assert_row(text, "TLSv1.3", "optional", "CN=Client CA A")
    assert_row(text, "CN=Client CA B,O=Report Test")  # second line of the same cell
    assert_row(text, "TLSv1.2", "none", "-")
    assert_row(text, "alice.pem", "TLSv1.3", "CN=alice", "accepted")
    assert_row(
        text, "wrong-ca.pem", "TLSv1.3", "CN=alice", "alert", "unknown_ca (48)", "after Finished"
    )


def test_behaviours_and_findings(chain_der: tuple[bytes, bytes]) -> None:
    text = render_endpoint(_healthy(chain_der), now=NOW)
    assert_row(text, "ALPN", "h2, http/1.1")
    assert_row(text, "Secure renegotiation", "yes")
    assert_row(text, "Encrypt-then-MAC", "no")
    assert_row(text, "TLS_FALLBACK_SCSV honoured", "yes")
    assert_row(text, "Compression", "none (null only)")
    assert_row(text, "Server cipher order", "TLSv1.3 no, TLSv1.2 yes")
    assert_row(text, "SNI required", "no")
    assert_row(text, "medium", "tls12-3des", "3DES offered in TLS 1.2")
    assert_row(text, "info", "alpn-h2", "HTTP/2 offered")
    assert text.index("tls12-3des") < text.index("cert-expiring") < text.index("alpn-h2")
    # Not verbose: no evidence, no probe log.
    assert "Remove 3DES" not in text
    assert "Probe log" not in text
    assert "\x1b[" not in text


def test_verbose_adds_evidence_and_probe_log(chain_der: tuple[bytes, bytes]) -> None:
    text = render_endpoint(_healthy(chain_der), verbose=True, now=NOW)
    assert "[medium] tls12-3des: 3DES offered in TLS 1.2" in text
    assert_row(text, "Evidence", "TLS_RSA_WITH_3DES_EDE_CBC_SHA accepted")
    assert_row(text, "Resolution", "Remove 3DES from the cipher list.")
    assert_row(text, "Windows error", "SEC_E_ALGORITHM_MISMATCH (0x80090331)")
    assert "Probe log" in text
    assert_row(
        text, "protocols", "TLSv1.3", "accepted", "TLS_AES_256_GCM_SHA384", "517", "1432", "12"
    )
    assert_row(text, "protocols", "TLSv1.1", "alert", "protocol_version", "220", "7", "4")


def test_colour_only_when_asked(chain_der: tuple[bytes, bytes]) -> None:
    coloured = render_endpoint(_healthy(chain_der), color=True, now=NOW)
    assert "\x1b[33mmedium\x1b[0m" in coloured
    assert "\x1b[2minfo\x1b[0m" in coloured
    summary = render_summary([_healthy(chain_der), _unknown()], color=True)
    assert "\x1b[31mhigh\x1b[0m" in summary
    assert "\x1b[" not in render_summary([_healthy(chain_der), _unknown()])


def test_dns_error_endpoint_renders() -> None:
    text = render_endpoint(_dns_error(), verbose=True, now=NOW)
    assert text.startswith("nowhere.invalid:443  ip -  sni nowhere.invalid  outcome dns_error")
    assert "detail: Name or service not known" in text
    assert "0 connections, 0 bytes sent, 0 bytes received, 0.00 s" in text
    for section in ("Protocols", "Cipher suites", "Certificates", "Behaviours", "Findings"):
        assert section not in text


def test_unknown_codes_render(chain_der: tuple[bytes, bytes]) -> None:
    text = render_endpoint(_unknown(), verbose=True, now=NOW)
    assert_row(text, "0x7F1C", "no", "alert 0x9F (159)")
    assert text.index("TLSv1.2    yes") < text.index("0x7F1C     no")  # unknown versions last
    assert_row(text, "-", "0xC0FF", "0xC0FF", "? 0x1234", "?", "?")
    assert_row(text, "-", "0x0004", "TLS_RSA_WITH_RC4_128_MD5", "RSA", "RC4", "128", "! rc4 md5")
    assert "! weak cipher suite (rc4, md5)" in text
    assert "server order not tested" in text
    assert_row(text, "TLSv1.2", "-", "0x1234", "0x1234")
    assert "Chain 1: TLSv1.2; SNI (none); EC key; 1 certificate sent" in text
    assert_row(text, "Validity", "2020-01-01 to 2024-12-01 (expired 31 days ago)")
    assert_row(text, "Flags", "self-signed")
    assert_row(text, "SANs", "192.0.2.7")
    assert "Chain 2: 0x7F1C; SNI x; ? key; 1 certificate sent" in text
    assert "(certificates not decoded)" in text
    assert_row(text, "Revocation", "revoked (crl)")
    assert_row(text, "Revoked at", "2024-07-01 00:00:00+00:00 (keyCompromise)")
    assert_row(text, "x.pem", "-", "alert", "0x9F (159)")
    assert_row(text, "Compression", "DEFLATE, 0x42")
    assert_row(text, "ALPN", "none accepted")
    assert_row(text, "TLSv1.2", "required", "-")
    assert "Anomalies\n---------\n- ServerHello chose 0xC0FF, which was not offered" in text


def test_odd_values_do_not_crash() -> None:
    """Certificates that are not CertificateInfo, validation objects missing fields."""
    chain = ChainResult(
        versions=(),
        sni=None,
        key_type="",
        der=(),
        certificates=(object(),),
        validation=object(),
        revocation=object(),
    )
    result = EndpointResult(
        host="h",
        port=1,
        ip=None,
        sni=None,
        outcome="ok",
        certificates=(chain,),
        protocols=(ProtocolResult(version=0x0A0A, supported=True, outcome="accepted"),),
        findings=(
            Finding(id="x", severity="weird", title="", evidence="", cause="", resolution=""),
        ),
    )
    text = render_endpoint(result, verbose=True, color=True)
    assert "Chain 1: -; SNI (none);" in text
    assert_row(text, "Trusted", "unknown")
    assert_row(text, "Revocation", "?")
    assert_row(text, "Subject", "?")
    assert_row(text, "Validity", "-")
    assert_row(text, "weird", "x")
    assert render_summary([result]).startswith("1 endpoint")


def test_summary(chain_der: tuple[bytes, bytes]) -> None:
    healthy = _healthy(chain_der)
    fast = dataclasses.replace(
        healthy, host="b.test", stats=Stats(duration_s=0.5), findings=healthy.findings[:1]
    )
    text = render_summary([healthy, _dns_error(), _unknown(), fast])
    assert text.startswith("4 endpoints\n")
    assert_row(text, "ok", "3")
    assert_row(text, "dns_error", "1")
    assert_row(text, "TLSv1.3", "2")
    assert_row(text, "TLSv1.2", "1")
    assert_row(text, "none", "1")
    assert_row(text, "high", "rc4", "1")
    assert_row(text, "medium", "tls12-3des", "2")
    assert_row(text, "low", "cert-expiring", "1")
    # By severity, then count.
    assert text.index("rc4") < text.index("tls12-3des") < text.index("cert-expiring")
    slowest = text[text.index("Slowest endpoints") :]
    assert_row(slowest, "odd.test:8443", "ok", "9.50", "3")
    order = [slowest.index(h) for h in ("odd.test:8443", "example.test:443", "b.test:443")]
    assert order == sorted(order)
    assert slowest.index("b.test:443") < slowest.index("nowhere.invalid:443")


def test_summary_of_nothing() -> None:
    assert render_summary([]) == "0 endpoints\n"


# -- JSON --------------------------------------------------------------------------------


def test_every_sample_validates(
    samples: list[EndpointResult], validator: Draft202012Validator
) -> None:
    for sample in samples:
        errors = list(validator.iter_errors(document_json([sample])))
        assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    validator.validate(document_json(samples))
    validator.validate(document_json([]))


def test_chacha_priority_is_version_names(chain_der: tuple[bytes, bytes], validator: Draft202012Validator) -> None:
    # Behaviours.chacha_priority holds versions: written as their names, as the schema
    # says (the ints went out raw, and report/diff then refused the scan's own file).
    sample = _healthy(chain_der)
    sample = dataclasses.replace(sample, behaviours=dataclasses.replace(sample.behaviours, chacha_priority=(TLS13, TLS12)))
    doc = document_json([sample])
    validator.validate(doc)
    assert doc["endpoints"][0]["behaviours"]["chacha_priority"] == ["TLSv1.3", "TLSv1.2"]


def test_write_json_is_the_document(
    samples: list[EndpointResult], validator: Draft202012Validator
) -> None:
    out = io.StringIO()
    write_json(samples, out)
    text = out.getvalue()
    assert text.endswith("}\n")
    assert text.startswith('{\n  "schema_version": 1,')
    data = json.loads(text)
    assert data == json.loads(json.dumps(document_json(samples)))
    validator.validate(data)
    unknown = data["endpoints"][2]
    assert unknown["cipher_suites"][0]["code"] == "0xC0FF"
    assert unknown["cipher_suites"][0]["name"] == "0xC0FF"
    assert unknown["protocols"][1] == {
        "version": "0x7F1C",
        "supported": False,
        "outcome": "alert",
        "alert": "0x9F",
        "detail": "",
        "negotiated": None,
        "incomplete": None,
    }


def test_jsonl_lines_equal_the_endpoint_objects(
    samples: list[EndpointResult], validator: Draft202012Validator
) -> None:
    document = json.loads(json.dumps(document_json(samples)))
    out = io.StringIO()
    write_jsonl(samples, out)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(samples)
    for line, sample, expected in zip(lines, samples, document["endpoints"], strict=True):
        assert line == jsonl_line(sample)
        assert "\n" not in line and ": " not in line.split('"')[0]
        assert json.loads(line) == expected
        assert json.loads(line) == json.loads(json.dumps(endpoint_json(sample)))
        validator.validate(
            {"schema_version": 1, "tool": "tlscompat", "endpoints": [json.loads(line)]}
        )


def test_schema_catches_drift(
    samples: list[EndpointResult], validator: Draft202012Validator
) -> None:
    def invalid(mutate: Any) -> bool:
        data = json.loads(json.dumps(document_json(samples)))
        mutate(data)
        return not validator.is_valid(data)

    assert invalid(lambda d: d["endpoints"][0].update(new_field=1))
    assert invalid(lambda d: d["endpoints"][0]["cipher_suites"][0].update(extra=True))
    assert invalid(lambda d: d["endpoints"][0]["findings"][0].update(severity="urgent"))
    assert invalid(lambda d: d["endpoints"][0]["findings"][0].pop("resolution"))
    assert invalid(lambda d: d["endpoints"][0]["stats"].pop("duration_s"))
    assert invalid(lambda d: d["endpoints"][0]["protocols"][0].update(version="TLSv9"))
    assert invalid(lambda d: d["endpoints"][0]["cipher_suites"][0].update(code="0xc02f"))
    assert invalid(lambda d: d["endpoints"][0]["behaviours"].update(alpn=None))
    assert invalid(lambda d: d.update(schema_version=2))


def test_documented_example_validates(validator: Draft202012Validator) -> None:
    text = (SCHEMA_PATH.parent / "json.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, re.DOTALL)
    assert len(blocks) == 1
    validator.validate(json.loads(blocks[0]))


# Which schema definition describes each result dataclass.
SCHEMA_DEFS: dict[type, str] = {
    EndpointResult: "endpoint",
    ProtocolResult: "protocol",
    SuiteResult: "suite",
    GroupResult: "group",
    ChainResult: "chain",
    CertificateInfo: "certificate",
    ClientAuthResult: "client_auth",
    ClientCertAttempt: "client_certificate",
    Behaviours: "behaviours",
    results.Intolerance: "intolerance",
    results.ToleranceCheck: "tolerance_check",
    Finding: "finding",
    ProbeLog: "probe",
    Stats: "stats",
    results.VulnCheck: "vuln_check",
    results.ChainValidation: "validation",
    results.RevocationResult: "revocation",
    results.StartTLSResult: "starttls",
}

OPTIONAL_FIELDS: set[tuple[type, str]] = set()


def _nested_dataclasses(tp: Any) -> set[type]:
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return {tp}
    found: set[type] = set()
    for arg in typing.get_args(tp):
        found |= _nested_dataclasses(arg)
    return found


def _reachable(cls: type) -> set[type]:
    seen = {cls}
    todo = [cls]
    while todo:
        # results re-exports the x509/revocation types lazily: name them for the hints.
        lazy = {n: getattr(results, n) for n in results.__all__}
        for tp in typing.get_type_hints(todo.pop(), localns=lazy).values():
            for nested in _nested_dataclasses(tp) - seen:
                seen.add(nested)
                todo.append(nested)
    return seen


def test_schema_has_every_dataclass_field() -> None:
    """Fails when a field is added to the result model without being added to the schema."""
    schema = json.loads(SCHEMA_PATH.read_text())
    defs = schema["$defs"]
    in_module = {
        obj
        # __all__ re-exports are imported lazily (PEP 562): ask for them by name.
        for obj in [*vars(results).values(), *(getattr(results, n) for n in results.__all__)]
        if isinstance(obj, type)
        and dataclasses.is_dataclass(obj)
        and (obj.__module__ == results.__name__ or obj.__name__ in results.__all__)
    }
    assert in_module == set(SCHEMA_DEFS), "a result dataclass has no schema definition"
    assert _reachable(EndpointResult) <= set(SCHEMA_DEFS)
    for cls, def_name in SCHEMA_DEFS.items():
        definition = defs[def_name]
        assert definition.get("additionalProperties") is False, def_name
        names = {f.name for f in dataclasses.fields(cls)}
        missing = names - set(definition["properties"])
        assert not missing, f"{cls.__name__} fields missing from $defs/{def_name}: {missing}"
        required = names - {f for c, f in OPTIONAL_FIELDS if c is cls}
        assert required <= set(definition["required"]), def_name


def test_schema_covers_the_types_behind_any() -> None:
    """ChainResult.certificates, .validation and .revocation hold scanner.x509 and
    scanner.revocation values (typed Any in results.py)."""
    from scanner import x509 as x509_module

    defs = json.loads(SCHEMA_PATH.read_text())["$defs"]
    for cls, def_name in (
        (x509_module.CertificateInfo, "certificate"),
        (x509_module.ChainValidation, "validation"),
        (RevocationResult, "revocation"),
    ):
        names = {f.name for f in dataclasses.fields(cls)}
        assert names <= set(defs[def_name]["properties"]), (def_name, names)


# -- CSV ---------------------------------------------------------------------------------


def test_csv_endpoint_rows(samples: list[EndpointResult]) -> None:
    out = io.StringIO()
    write_csv(samples, out, now=NOW)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 3
    healthy, dns, odd = rows
    assert healthy["host"] == "example.test" and healthy["port"] == "443"
    assert healthy["highest_protocol"] == "TLSv1.3"
    assert healthy["protocols"] == "TLSv1.3 TLSv1.2"
    assert healthy["suites"] == "6" and healthy["weak_suites"] == "1"
    assert "CN=example.test" in healthy["cert_subject"]
    assert healthy["cert_not_after"].startswith("2025-06-01T00:00:00")
    assert healthy["cert_days_left"] == "151"
    assert healthy["trusted"] == "yes"
    assert (healthy["critical"], healthy["high"], healthy["medium"], healthy["low"]) == (
        "0",
        "0",
        "1",
        "1",
    )
    assert healthy["info"] == "1"
    assert healthy["top_finding"] == "tls12-3des"
    assert dns == {
        **{k: "" for k in dns},
        "host": "nowhere.invalid",
        "port": "443",
        "sni": "nowhere.invalid",
        "outcome": "dns_error",  # no TLS: suites and weak_suites empty, not 0
        **{s: "0" for s in results.SEVERITIES},
    }
    assert odd["highest_protocol"] == "TLSv1.2"
    assert odd["suites"] == "2" and odd["weak_suites"] == "1"
    assert odd["cert_days_left"] == "-31"
    assert odd["trusted"] == ""
    assert odd["top_finding"] == "rc4"


def test_csv_finding_rows(samples: list[EndpointResult]) -> None:
    out = io.StringIO()
    write_csv(samples, out, findings=True)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [
        ["host", "port", "id", "severity", "title", "evidence"],
        [
            "example.test",
            "443",
            "tls12-3des",
            "medium",
            "3DES offered in TLS 1.2",
            "TLS_RSA_WITH_3DES_EDE_CBC_SHA accepted",
        ],
        [
            "example.test",
            "443",
            "cert-expiring",
            "low",
            "Certificate expires in 151 days",
            "not_after 2025-06-01",
        ],
        ["example.test", "443", "alpn-h2", "info", "HTTP/2 offered", "h2"],
        ["odd.test", "8443", "rc4", "high", "RC4", "0x0004"],
    ]


def test_empty_results() -> None:
    out = io.StringIO()
    write_csv([], out)
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["host", "port", "ip", "sni", "outcome", "highest_protocol", "protocols", "suites"]
        + ["weak_suites", "cert_subject", "cert_not_after", "cert_days_left", "trusted"]
        + list(results.SEVERITIES)
        + ["top_finding", "starttls", "starttls_outcome", "starttls_reply"]
        + [f"vuln_{check}" for check in results.VULN_CHECK_TITLES]
        + ["vuln_insecure_renegotiation"]
    ]
    out = io.StringIO()
    write_json([], out)
    assert json.loads(out.getvalue()) == {"schema_version": 1, "tool": "tlscompat", "endpoints": []}
    out = io.StringIO()
    write_jsonl([], out)
    assert out.getvalue() == ""
    bare = EndpointResult(host="", port=0, ip=None, sni=None, outcome="timeout")
    assert render_endpoint(bare).startswith(":0  ip -  sni -  outcome timeout")


def test_tables_keep_within_a_terminal_width_and_files_are_not_wrapped(chain_der: tuple[bytes, bytes]) -> None:
    result = _healthy(chain_der)
    unwrapped = render_endpoint(result, verbose=True, now=NOW)
    assert max(len(line) for line in unwrapped.splitlines()) > 80  # the probe log, the evidence
    wrapped = render_endpoint(result, verbose=True, now=NOW, width=80)
    tables = wrapped.splitlines()  # finding headlines ("[low] id: title") included
    # Within 80 columns, but for the cipher suite table: its names (37 characters) are
    # never split, so it cannot fit and is left wider.
    suites = [line for line in tables if "0x" in line or line.strip().startswith(("Pref", "----"))]
    assert max(len(line) for line in tables if line not in suites) <= 80
    assert max(len(line) for line in suites) <= 96  # as narrow as whole names allow

    def words(text: str) -> set[str]:
        return {w for w in text.split() if w.strip("-")}

    assert words(wrapped) == words(unwrapped)  # wrapped only between words
    assert render_endpoint(result, verbose=True, now=NOW, width=None) == unwrapped


def test_versions_and_weak_suites_are_coloured_only_when_asked(chain_der: tuple[bytes, bytes]) -> None:
    result = _healthy(chain_der)
    assert "\x1b[" not in render_endpoint(result, now=NOW)
    coloured = render_endpoint(result, now=NOW, color=True)
    assert "\x1b[32myes" in coloured  # a current version offered, in green
