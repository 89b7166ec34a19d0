"""Client certificates against real servers: openssl s_server (-Verify / -verify with
-CAfile, -verify_return_error, -www) and tlslite-ng with request_client_cert, in TLS 1.3
and TLS 1.2. The alerts asserted here are what OpenSSL 3.0 really sends:

    no certificate, -Verify      TLS 1.3: certificate_required (116) after our Finished
                                 TLS 1.2: handshake_failure (40) after our Certificate flight
    issuer not trusted           unknown_ca (48)
    leaf without intermediate    unknown_ca (48)
    expired                      certificate_expired (45)
    no clientAuth EKU            unsupported_certificate (43)
    without -verify_return_error s_server logs the verify error and accepts the certificate

Also the round trip of our ClientHello codec through tlslite-ng's parser.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import trio

from handshakes import constants as c
from handshakes._tlslite import ClientHandshake, parse_client_hello
from handshakes.client_hello import ClientHelloSpec, encode_client_hello
from scanner.api import scan_endpoint
from scanner.clientauth import cli as ca_cli
from scanner.clientauth.credentials import ClientCredential, load_pem, load_pkcs12
from scanner.diagnose.client_certs import client_cert_findings
from scanner.engine import Connector
from scanner.lab.certs import IssuedCert, Pki
from scanner.options import Deadlines, ScanOptions, Target
from scanner.probes.client_auth import assess, full_handshake
from scanner.results import ClientAuthResult, ClientCertAttempt, EndpointResult

PASSWORD = "interop-Secret-9"
VERSIONS = (c.TLS13, c.TLS12)
OPTIONS = ScanOptions(
    probes=frozenset({"protocols", "client_auth"}),
    versions=VERSIONS,
    deadlines=Deadlines(connect=3, read=3, endpoint=20),
)


class Creds:
    def __init__(self, pki: Pki) -> None:
        self.good = pki.issue_client("cc-good")
        self.wrong_ca = pki.issue_client("cc-wrong-ca", issuer="untrusted")
        self.expired = pki.issue_client("cc-expired", validity="expired")
        self.no_eku = pki.issue_client("cc-no-eku", eku=("serverAuth",))
        self.ec = pki.issue_client("cc-ec", key="ecdsa-p256")


@pytest.fixture(scope="module")
def creds(lab_pki: Pki) -> Creds:
    return Creds(lab_pki)


def pem_cred(issued: IssuedCert, *, full: bool = True) -> ClientCredential:
    return load_pem(issued.fullchain_path if full else issued.cert_path, issued.key_path, password=None)


async def scan_and_assess(
    address: tuple[str, int],
    credentials: tuple[ClientCredential, ...] = (),
    *,
    add: tuple[ClientAuthResult, ...] = (),
) -> tuple[tuple[ClientAuthResult, ...], tuple[ClientCertAttempt, ...], EndpointResult]:
    """The scan with ``credentials``: it reads the CertificateRequest per version and runs
    the full handshakes itself; ``add``: "requested" entries the scan cannot see, assessed
    here with assess()."""
    host, port = address
    target = Target(host=host, port=port, ip=host)
    options = replace(OPTIONS, client_certs=credentials)
    with trio.fail_after(20):
        result = await scan_endpoint(target, options)
        modes, attempts = result.client_auth, result.client_certificates
        if add:
            assert all(r.mode == "requested" for r in add)
            more_modes, more_attempts = await assess(target, options, add, connector(target, options))
            modes, attempts = (*more_modes, *modes), (*more_attempts, *attempts)
        assert {r.version for r in modes} == set(VERSIONS)
    return modes, attempts, replace(result, client_auth=modes, client_certificates=attempts)


def connector(target: Target, options: ScanOptions) -> Connector:
    assert target.ip
    return Connector(
        ip=target.ip, port=target.port, deadlines=options.deadlines,
        global_limiter=trio.CapacityLimiter(4), endpoint_limiter=trio.CapacityLimiter(4),
    )


def by_version(items: tuple[Any, ...]) -> dict[int, Any]:
    return {i.version: i for i in items}


# -- modes -----------------------------------------------------------------------------------


async def test_required_without_certificate(openssl_server: Callable[..., Any], lab_pki: Pki) -> None:
    server = openssl_server(
        require_client_cert=True, ca_file=lab_pki.root, verify_return_error=True, www=True
    )
    modes, attempts, _ = await scan_and_assess(server.address)
    assert attempts == ()
    m = by_version(modes)
    root = lab_pki.root.cert.subject.rfc4514_string()
    assert root == "CN=tlscompat lab Root CA,O=tlscompat lab"
    for version in VERSIONS:
        assert m[version].mode == "required"
        assert m[version].certificate_authorities == (root,)
    assert "alert certificate_required (116) after Finished" in m[c.TLS13].detail
    assert "alert handshake_failure (40) after client Certificate" in m[c.TLS12].detail


async def test_optional_without_certificate(openssl_server: Callable[..., Any], lab_pki: Pki) -> None:
    server = openssl_server(verify_depth=5, ca_file=lab_pki.root, www=True)
    modes, _, _ = await scan_and_assess(server.address)
    for r in modes:
        assert r.mode == "optional", r
        assert "answered our request" in r.detail


async def test_full_handshake_no_certificate_alerts(openssl_server: Callable[..., Any], lab_pki: Pki) -> None:
    """The raw verdicts: TLS 1.3 completes on our side and the alert comes on the read."""
    server = openssl_server(require_client_cert=True, ca_file=lab_pki.root, www=True)
    conn = connector(Target(host="127.0.0.1", port=server.port, ip="127.0.0.1"), OPTIONS)

    async def shake(version: int) -> Any:
        hs = ClientHandshake(
            server_name=None, chain_der=None, private_key_pem=None, min_version=version,
            max_version=version, send_data=b"GET / HTTP/1.0\r\n\r\n",
        )
        with trio.fail_after(10):
            return await full_handshake(conn, hs, name="test", connect_timeout=3)

    v13 = await shake(c.TLS13)
    assert (v13.completed, v13.alert_description, v13.alert_from, v13.stage) == (
        True, 116, "server", "after Finished",
    )
    assert v13.server_certificate_request and v13.certificate_sent and not v13.answered
    v12 = await shake(c.TLS12)
    assert (v12.completed, v12.alert_description, v12.alert_from, v12.stage) == (
        False, 40, "server", "after client Certificate",
    )
    # Both connections came from the connector's factory and are in its log.
    assert [(name, o.connections, o.outcome) for name, _, o in conn.log] == [("test", 1, "alert")] * 2


# -- presented certificates ---------------------------------------------------------------------


async def test_presented_certificates(openssl_server: Callable[..., Any], lab_pki: Pki, creds: Creds) -> None:
    server = openssl_server(
        require_client_cert=True, ca_file=lab_pki.root, verify_return_error=True, www=True
    )
    good, wrong, expired, no_eku, leaf_only = credentials = (
        pem_cred(creds.good), pem_cred(creds.wrong_ca), pem_cred(creds.expired),
        pem_cred(creds.no_eku), pem_cred(creds.good, full=False),
    )
    modes, attempts, result = await scan_and_assess(server.address, credentials)
    assert len(attempts) == len(credentials) * 2
    seen = {(a.label, a.version): a for a in attempts}
    root = lab_pki.root.cert.subject.rfc4514_string()
    for version in VERSIONS:
        stage = "after Finished" if version == c.TLS13 else "after client Certificate"
        ok = seen[(good.label, version)]
        assert (ok.verdict, ok.alert, ok.stage) == ("accepted", None, "application data")
        assert ok.subject == "CN=cc-good,O=tlscompat lab"
        bad = seen[(wrong.label, version)]
        assert (bad.verdict, bad.alert, bad.stage) == ("alert", 48, stage)  # unknown_ca
        assert bad.issuer == "CN=tlscompat lab Untrusted Root CA,O=tlscompat lab"
        assert bad.issuer not in by_version(modes)[version].certificate_authorities == (root,)
        assert (seen[(expired.label, version)].verdict, seen[(expired.label, version)].alert) == ("alert", 45)
        assert (seen[(no_eku.label, version)].verdict, seen[(no_eku.label, version)].alert) == ("alert", 43)
        alone = seen[(leaf_only.label, version)]
        assert (alone.verdict, alone.alert) == ("alert", 48)

    findings = {f.id: f for f in client_cert_findings(result, credentials)}
    assert set(findings) == {
        "client_auth.cert_expired", "client_auth.cert_wrong_usage", "client_auth.cert_incomplete_chain",
    }
    f = findings["client_auth.cert_expired"]
    assert f.severity == "high" and "cc-expired" in f.evidence and "certificate_expired (45)" in f.evidence
    assert "cc-good" not in f.evidence
    f = findings["client_auth.cert_wrong_usage"]
    assert "cc-no-eku" in f.evidence and "lacks clientAuth" in f.evidence
    assert "unsupported_certificate (43)" in f.evidence
    f = findings["client_auth.cert_incomplete_chain"]
    assert "'cc-good.pem'" in f.evidence and "Intermediate CA" in f.evidence
    assert "cc-wrong-ca" not in f.evidence and "unknown_ca (48)" in f.evidence


async def test_without_verify_return_error_openssl_accepts_anything(
    openssl_server: Callable[..., Any], lab_pki: Pki, creds: Creds
) -> None:
    """s_server -Verify alone only logs a failed verification: a wrong-CA certificate is
    accepted (the scanner reports the server's verdict, not its own)."""
    server = openssl_server(require_client_cert=True, ca_file=lab_pki.root, www=True)
    wrong = pem_cred(creds.wrong_ca)
    modes, attempts, _ = await scan_and_assess(server.address, (wrong,))
    assert all(r.mode == "required" for r in modes)
    assert [a.verdict for a in attempts] == ["accepted", "accepted"]
    assert "unable to get local issuer certificate" in server.stderr_text()


async def test_pkcs12_and_encrypted_pem_from_env(
    openssl_server: Callable[..., Any], lab_pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = lab_pki.issue_client("cc-alice", password=PASSWORD.encode(), key="ecdsa-p256")
    assert alice.pkcs12_path is not None and alice.encrypted_key_path is not None
    monkeypatch.setenv("TLSCOMPAT_INTEROP_PW", PASSWORD)
    parser = argparse.ArgumentParser()
    ca_cli.add_arguments(parser)
    args = parser.parse_args([
        "--pkcs12", str(alice.pkcs12_path),
        "--client-cert", str(alice.fullchain_path), "--client-key", str(alice.encrypted_key_path),
        "--key-password-env", "TLSCOMPAT_INTEROP_PW",
    ])
    credentials = ca_cli.load_from_args(args)
    assert [cr.label for cr in credentials] == ["cc-alice.fullchain.pem", "cc-alice.p12"]
    assert credentials[1].chain_der == load_pkcs12(alice.pkcs12_path, password=PASSWORD.encode()).chain_der
    server = openssl_server(
        require_client_cert=True, ca_file=lab_pki.root, verify_return_error=True, www=True
    )
    _, attempts, _ = await scan_and_assess(server.address, credentials)
    assert [(a.label, a.version, a.verdict) for a in attempts] == [
        (label, v, "accepted") for label in ("cc-alice.fullchain.pem", "cc-alice.p12") for v in VERSIONS
    ]


async def test_tlslite_server_requests_certificate(
    tlslite_server: Callable[..., Any], lab_pki: Pki, creds: Creds
) -> None:
    """tlslite-ng asks for a certificate (naming the root) but does not insist: optional,
    and the certificates it got are ours. (ALPN is configured because tlslite-ng 0.8.2's
    TLS 1.3 server crashes on an ALPN-offering hello otherwise: see TlsliteServerConfig.)"""
    server = tlslite_server(
        request_client_cert=True, client_ca_names=(lab_pki.root,), alpn=("http/1.1",)
    )
    good, ec = pem_cred(creds.good), pem_cred(creds.ec)
    root = lab_pki.root.cert.subject.rfc4514_string()
    modes, attempts, _ = await scan_and_assess(server.address, (good, ec))
    for r in modes:
        # tlslite-ng 0.8.2 names the CAs in TLS 1.2 but sends no certificate_authorities
        # extension in its TLS 1.3 CertificateRequest (read here from the decrypted flight).
        names = () if r.version == c.TLS13 else (root,)
        assert (r.mode, r.certificate_authorities) == ("optional", names)
    assert [(a.label, a.version, a.verdict) for a in attempts] == [
        (cred.label, v, "accepted") for cred in (good, ec) for v in VERSIONS
    ]
    records = server.wait_for_records(len(attempts) + 2)
    presented = {r.client_cert for r in records if r.ok and r.client_cert}
    assert presented == {good.leaf_der, ec.leaf_der}
    assert {r.version for r in records if r.ok and r.client_cert} == set(VERSIONS)


@pytest.mark.parametrize("per_endpoint", [4, 1])
async def test_silent_server_bounded_by_caller_deadline(
    raw_server: Callable[..., Any], creds: Creds, per_endpoint: int
) -> None:
    """A server that never answers: the handshakes give up a little before the caller's
    deadline, the mode stays "requested" and the attempt is a timeout, in the version it
    was tried in. With one connection at a time, the handshakes that waited for their
    turn still end before the caller's deadline."""
    server = raw_server("never_answer")
    host, port = server.address
    target = Target(host=host, port=port, ip=host)
    requested = tuple(ClientAuthResult(version=v, mode="requested") for v in VERSIONS)
    options = replace(OPTIONS, client_certs=(pem_cred(creds.good),))
    conn = connector(target, options)
    conn.endpoint_limiter = trio.CapacityLimiter(per_endpoint)
    start = trio.current_time()
    with trio.move_on_after(1.0) as scope:
        modes, attempts = await assess(target, options, requested, conn)
    elapsed = trio.current_time() - start
    assert not scope.cancelled_caught and 0.7 < elapsed < 1.0
    assert [r.mode for r in modes] == ["requested", "requested"]
    assert all("inconclusive" in r.detail and "deadline" in r.detail for r in modes)
    assert [a.verdict for a in attempts] == ["timeout", "timeout"]
    assert [a.version for a in attempts] == list(VERSIONS)
    # One at a time, the credential's turn may come too late to start at all.
    stages = {"after ClientHello"} if per_endpoint > 1 else {"after ClientHello", "before ClientHello"}
    assert all(a.stage in stages for a in attempts)


# -- codec round trip through tlslite-ng's parser ----------------------------------------------


@pytest.mark.parametrize("grease", [False, True])
def test_client_hello_round_trip(grease: bool) -> None:
    spec = ClientHelloSpec(
        cipher_suites=(0x1301, 0xC02F, 0x009C),
        session_id=bytes(range(32)),
        random=bytes(range(32, 64)),
        server_name="example.test",
        supported_versions=(c.TLS13, c.TLS12),
        supported_groups=(0x001D, 0x0017),
        signature_algorithms=(0x0804, 0x0403, 0x0401),
        ec_point_formats=(0,),
        extended_master_secret=True,
        grease=grease,
    )
    msg = encode_client_hello(spec)
    parsed = parse_client_hello(msg)
    assert parsed.legacy_version == c.TLS12
    assert parsed.random == spec.random and parsed.session_id == spec.session_id
    suites = (0x0A0A, *spec.cipher_suites) if grease else spec.cipher_suites
    assert parsed.cipher_suites == suites
    assert parsed.server_name == "example.test"
    assert parsed.supported_versions is not None and parsed.supported_versions[-2:] == (c.TLS13, c.TLS12)
    assert parsed.supported_groups is not None and parsed.supported_groups[-2:] == (0x001D, 0x0017)
    assert parsed.signature_algorithms == (0x0804, 0x0403, 0x0401)
    assert c.EXT_EXTENDED_MASTER_SECRET in parsed.extension_types


def test_parse_client_hello_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_client_hello(b"\x01\x00\x00\x05\x03\x03\x00")
    with pytest.raises(ValueError):
        parse_client_hello(b"\x02\x00\x00\x00")


async def test_full_handshake_reads_a_bounded_amount(raw_server: Callable[..., Any]) -> None:
    """A server whose ServerHello claims 16 MiB and keeps sending: the full handshake stops
    after MAX_RECEIVED bytes with a verdict, instead of letting tlslite-ng buffer it all."""
    from scanner.lab.servers import endless
    from scanner.probes.client_auth import MAX_RECEIVED

    huge_hello = b"\x16\x03\x03\x40\x00" + b"\x02\xff\xff\xff" + bytes(0x4000 - 4)
    server = raw_server(endless(chunk=huge_hello))
    conn = connector(Target(host="127.0.0.1", port=server.port, ip="127.0.0.1"), OPTIONS)
    hs = ClientHandshake(
        server_name=None, chain_der=None, private_key_pem=None, min_version=c.TLS12,
        max_version=c.TLS12, send_data=b"GET / HTTP/1.0\r\n\r\n",
    )
    with trio.fail_after(10):
        verdict = await full_handshake(conn, hs, name="huge", connect_timeout=3)
    assert not verdict.completed and "more than 256 KiB" in verdict.detail
    ((_, _, logged),) = conn.log
    assert MAX_RECEIVED < logged.bytes_received <= MAX_RECEIVED + 65536
    assert logged.outcome == "protocol_error"
