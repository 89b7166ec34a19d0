"""Client credentials (loading, secrecy), the CLI options, the verdict -> mode/attempt
mapping of the probe, and the client-certificate findings. No network here: the real
servers are in tests/interop/test_client_certificates.py."""

from __future__ import annotations

import argparse
import logging
import pickle
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from handshakes import constants as c
from handshakes._tlslite import HandshakeVerdict
from scanner.clientauth import cli as ca_cli
from scanner.clientauth.credentials import (
    ClientCredential,
    CredentialError,
    load_pem,
    load_pkcs12,
    password_from,
)
from scanner.diagnose.client_certs import client_cert_findings
from scanner.lab.certs import IssuedCert, Pki
from scanner.probes.client_auth import _attempt, _upgrade, attempt_versions, http_request
from scanner.results import ClientAuthResult, ClientCertAttempt, EndpointResult, to_json

PASSWORD = b"Tr0ub4dor&3-unit"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("clientauth-unit"))


@pytest.fixture(scope="module")
def alice(pki: Pki) -> IssuedCert:
    return pki.issue_client("alice", password=PASSWORD)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def key_pem(issued: IssuedCert) -> bytes:
    return issued.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def assert_secret_free(text: str, issued: IssuedCert) -> None:
    assert PASSWORD.decode() not in text
    body = b"".join(key_pem(issued).splitlines()[1:-1]).decode()
    assert body[:40] not in text and "PRIVATE KEY" not in text


# -- loading -----------------------------------------------------------------------------


def test_load_pem_cert_and_key(alice: IssuedCert) -> None:
    cred = load_pem(alice.cert_path, alice.key_path, password=None)
    assert cred.label == "alice.pem"
    assert cred.chain_der == (der(alice.cert),)
    assert cred.subject == "CN=alice,O=tlscompat lab"
    assert cred.issuer == alice.cert.issuer.rfc4514_string()
    assert cred.key_type == "RSA"


def test_load_pem_chain_and_key_in_one_file_any_order(alice: IssuedCert, tmp_path: Path) -> None:
    # Intermediate first, then the key, then the leaf: the key picks the leaf.
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(
        alice.chain[0].public_bytes(serialization.Encoding.PEM) + key_pem(alice) + alice.cert_pem()
    )
    cred = load_pem(bundle, password=None)
    assert cred.label == "bundle.pem"
    assert cred.chain_der == (der(alice.cert), der(alice.chain[0]))


def test_load_encrypted_pem_with_password_from_env(
    alice: IssuedCert, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TLSCOMPAT_TEST_KEY_PW", PASSWORD.decode())
    password = password_from("TLSCOMPAT_TEST_KEY_PW", prompt=False)
    assert alice.encrypted_key_path is not None
    cred = load_pem(alice.fullchain_path, alice.encrypted_key_path, password=password)
    assert cred.chain_der[0] == der(alice.cert) and len(cred.chain_der) == 2
    assert cred.private_key.public_der() == alice.key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_load_pkcs12(alice: IssuedCert) -> None:
    assert alice.pkcs12_path is not None
    cred = load_pkcs12(alice.pkcs12_path, password=PASSWORD)
    assert cred.label == "alice.p12"
    assert cred.chain_der == (der(alice.cert), der(alice.chain[0]))


@pytest.mark.parametrize("kind", ["pem", "pkcs12"])
def test_wrong_password_names_the_file_never_the_password(
    alice: IssuedCert, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = b"not-the-Password-42"
    path = alice.encrypted_key_path if kind == "pem" else alice.pkcs12_path
    assert path is not None
    with pytest.raises(CredentialError) as info:
        if kind == "pem":
            load_pem(alice.cert_path, path, password=wrong)
        else:
            load_pkcs12(path, password=wrong)
    message = str(info.value)
    assert str(path) in message and "password" in message
    for text in (message, repr(info.value), caplog.text, repr(info.value.__cause__), repr(info.value.__context__)):
        assert wrong.decode() not in text
        assert PASSWORD.decode() not in text


def test_encrypted_key_without_password(alice: IssuedCert) -> None:
    assert alice.encrypted_key_path is not None
    with pytest.raises(CredentialError, match="is encrypted"):
        load_pem(alice.cert_path, alice.encrypted_key_path, password=None)
    with pytest.raises(CredentialError, match="alice.p12"):
        assert alice.pkcs12_path is not None
        load_pkcs12(alice.pkcs12_path, password=None)


def test_garbage_and_missing_files(alice: IssuedCert, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    with pytest.raises(CredentialError, match="garbage.key.*cannot be read"):
        load_pem(alice.cert_path, garbage, password=None)
    noise = tmp_path / "noise.bin"
    noise.write_bytes(bytes(range(256)))
    with pytest.raises(CredentialError, match="noise.bin"):
        load_pem(alice.cert_path, noise, password=None)
    with pytest.raises(CredentialError, match="noise.bin"):
        load_pem(noise, alice.key_path, password=None)
    with pytest.raises(CredentialError, match="noise.bin"):
        load_pkcs12(noise, password=PASSWORD)
    with pytest.raises(CredentialError, match="does not exist"):
        load_pem(tmp_path / "nope.pem", alice.key_path, password=None)
    with pytest.raises(CredentialError, match="holds no private key"):
        load_pem(alice.cert_path, password=None)


def test_key_that_does_not_match(pki: Pki, alice: IssuedCert) -> None:
    other = pki.issue_client("mallory", key="ecdsa-p256")
    with pytest.raises(CredentialError) as info:
        load_pem(alice.cert_path, other.key_path, password=None)
    assert "mallory.key.pem" in str(info.value) and "alice.pem" in str(info.value)
    assert "does not match" in str(info.value)


def test_key_never_shows(alice: IssuedCert, caplog: pytest.LogCaptureFixture) -> None:
    cred = load_pem(alice.cert_path, alice.key_path, password=None)
    logging.getLogger("tlscompat.test").warning("loaded %r / %s", cred, cred.private_key)
    for text in (repr(cred), str(cred), repr(cred.private_key), str(to_json(cred)), caplog.text):
        assert_secret_free(text, alice)
    assert "private_key" not in repr(cred)
    assert str(to_json(cred)["private_key"]) == "<private key RSA, hidden>"
    with pytest.raises(TypeError):
        pickle.dumps(cred.private_key)


def test_password_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TLSCOMPAT_UNSET_VAR", raising=False)
    with pytest.raises(CredentialError, match="TLSCOMPAT_UNSET_VAR"):
        password_from("TLSCOMPAT_UNSET_VAR", prompt=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt: "typed")
    assert password_from(None, prompt=True) == b"typed"
    assert password_from(None, prompt=False) is None


# -- CLI -----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tlscompat scan", exit_on_error=False)
    ca_cli.add_arguments(p)
    return p


def test_cli_loads_pairs_and_pkcs12(alice: IssuedCert, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLSCOMPAT_CLI_PW", PASSWORD.decode())
    assert alice.encrypted_key_path is not None and alice.pkcs12_path is not None
    args = parser().parse_args([
        "--client-cert", str(alice.fullchain_path), "--client-key", str(alice.encrypted_key_path),
        "--pkcs12", str(alice.pkcs12_path), "--key-password-env", "TLSCOMPAT_CLI_PW",
    ])
    creds = ca_cli.load_from_args(args)
    assert [cr.label for cr in creds] == ["alice.fullchain.pem", "alice.p12"]
    assert ca_cli.load_from_args(parser().parse_args([])) == ()


def test_cli_rejects_extra_keys_and_literal_passwords(alice: IssuedCert) -> None:
    args = parser().parse_args(["--client-key", str(alice.key_path)])
    with pytest.raises(CredentialError, match="--client-key"):
        ca_cli.load_from_args(args)
    with pytest.raises((argparse.ArgumentError, SystemExit)):
        parser().parse_args(["--key-password", "hunter2"])


def test_cli_same_file_twice_gets_distinct_labels(alice: IssuedCert) -> None:
    args = parser().parse_args(
        ["--client-cert", str(alice.cert_path), "--client-key", str(alice.key_path)] * 2
    )
    assert [cr.label for cr in ca_cli.load_from_args(args)] == ["alice.pem", "alice.pem (2)"]


# -- verdict -> mode / attempt --------------------------------------------------------------

REQ13 = ClientAuthResult(version=c.TLS13, mode="requested", certificate_authorities=("CN=CA",))
REQ12 = ClientAuthResult(version=c.TLS12, mode="requested", certificate_types=(1, 64))


def test_upgrade_to_required_on_alert() -> None:
    v = HandshakeVerdict(
        completed=True, version=c.TLS13, alert_description=116, alert_from="server",
        stage="after Finished", server_certificate_request=True,
    )
    up = _upgrade(REQ13, v)
    assert up.mode == "required" and "certificate_required (116) after Finished" in up.detail
    assert up.certificate_authorities == ("CN=CA",)


def test_upgrade_to_optional_when_answered_or_tls12_finished() -> None:
    answered = HandshakeVerdict(completed=True, version=c.TLS13, answered=True, stage="application data", server_certificate_request=True)
    assert _upgrade(REQ13, answered).mode == "optional"
    quiet12 = HandshakeVerdict(completed=True, version=c.TLS12, timeout=True, server_certificate_request=True)
    assert _upgrade(REQ12, quiet12).mode == "optional"
    closed13 = HandshakeVerdict(completed=True, version=c.TLS13, closed=True, stage="after Finished", server_certificate_request=True)
    assert _upgrade(REQ13, closed13).mode == "required"


def test_upgrade_inconclusive_keeps_requested() -> None:
    for v in (
        HandshakeVerdict(completed=False, timeout=True, detail="no TCP answer within 5s"),
        HandshakeVerdict(completed=False, alert_description=40, alert_from="local", stage="after ClientHello", server_certificate_request=True),
        HandshakeVerdict(completed=True, version=c.TLS13, answered=True, server_certificate_request=False),
    ):
        up = _upgrade(REQ13, v)
        assert up.mode == "requested" and up.detail


def test_attempt_verdicts(alice: IssuedCert) -> None:
    cred = load_pem(alice.cert_path, alice.key_path, password=None)
    alert = _attempt(cred, c.TLS12, HandshakeVerdict(
        completed=False, alert_description=48, alert_from="server", stage="after client Certificate",
        server_certificate_request=True,
    ))
    assert (alert.verdict, alert.alert, alert.stage, alert.version) == ("alert", 48, "after client Certificate", c.TLS12)
    assert (alert.label, alert.subject) == ("alice.pem", cred.subject)
    ok = _attempt(cred, c.TLS13, HandshakeVerdict(completed=True, version=c.TLS13, answered=True, stage="application data", server_certificate_request=True))
    assert ok.verdict == "accepted"
    refused = HandshakeVerdict(completed=False, reset=True, server_certificate_request=True)
    assert _attempt(cred, c.TLS13, refused).verdict == "reset"
    # A reset before the server asked for a certificate says nothing about ours.
    early = _attempt(cred, c.TLS13, HandshakeVerdict(completed=False, reset=True, stage="after ClientHello"))
    assert early.verdict == "error" and "inconclusive" in early.detail
    assert _attempt(cred, c.TLS13, HandshakeVerdict(completed=False, timeout=True)).verdict == "timeout"
    local = _attempt(cred, c.TLS13, HandshakeVerdict(completed=False, alert_description=80, alert_from="local"))
    assert local.verdict == "error" and "ours" in local.detail


def test_attempt_versions_and_request() -> None:
    def ca(v: int, mode: str = "required") -> ClientAuthResult:
        return ClientAuthResult(version=v, mode=mode)

    assert attempt_versions([ca(c.TLS13), ca(c.TLS12), ca(c.TLS11)]) == (c.TLS13, c.TLS12)
    assert attempt_versions([ca(c.TLS13, "none"), ca(c.TLS12)]) == (c.TLS12,)
    assert attempt_versions([ca(c.TLS10), ca(c.TLS11), ca(c.SSL3)]) == (c.TLS11,)
    assert attempt_versions([ca(c.SSL3)]) == ()
    assert http_request(None, "::1").startswith(b"GET / HTTP/1.0\r\nHost: [::1]\r\n")


# -- findings (pure) -------------------------------------------------------------------------


def endpoint(client_auth: tuple[ClientAuthResult, ...], attempts: tuple[ClientCertAttempt, ...]) -> EndpointResult:
    return EndpointResult(
        host="127.0.0.1", port=443, ip="127.0.0.1", sni=None, outcome="ok",
        client_auth=client_auth, client_certificates=attempts, started="2030-01-01T00:00:00+00:00",
    )


def refused(cred: ClientCredential, version: int, alert: int) -> ClientCertAttempt:
    return ClientCertAttempt(
        label=cred.label, version=version, subject=cred.subject, issuer=cred.issuer,
        verdict="alert", alert=alert, stage="after client Certificate",
    )


def test_findings_key_type(pki: Pki) -> None:
    ec_cert = pki.issue_client("ec-client", key="ecdsa-p384", password=None)
    cred = load_pem(ec_cert.cert_path, ec_cert.key_path, password=None)
    rsa_only = ClientAuthResult(
        version=c.TLS12, mode="required", certificate_types=(1,), signature_algorithms=(0x0804, 0x0401),
    )
    p256_only = ClientAuthResult(version=c.TLS13, mode="required", signature_algorithms=(0x0403, 0x0804))
    attempts = (refused(cred, c.TLS12, 40), refused(cred, c.TLS13, 40))
    findings = {f.id: f for f in client_cert_findings(endpoint((rsa_only, p256_only), attempts), (cred,))}
    f = findings["client_auth.cert_key_type"]
    assert "EC secp384r1" in f.evidence and "certificate_types lists rsa_sign" in f.evidence
    assert "TLSv1.3" in f.evidence and "ecdsa_secp256r1_sha256" in f.evidence
    assert "Client side" in f.resolution and "Server side" in f.resolution
    # The same key is fine where the server lists it.
    fine = ClientAuthResult(version=c.TLS13, mode="required", signature_algorithms=(0x0503,))
    ids = {f.id for f in client_cert_findings(endpoint((fine,), attempts[1:]), (cred,))}
    assert "client_auth.cert_key_type" not in ids


def test_findings_pure_and_quiet_for_unpresented(alice: IssuedCert) -> None:
    cred = load_pem(alice.cert_path, alice.key_path, password=None)
    result = endpoint((REQ12,), ())
    assert client_cert_findings(result, (cred,)) == ()
    attempts = (refused(cred, c.TLS12, 42),)
    r = endpoint((REQ12,), attempts)
    assert client_cert_findings(r, (cred,)) == client_cert_findings(r, (cred,))


def test_findings_expired_judged_at_scan_time(alice: IssuedCert) -> None:
    cred = load_pem(alice.cert_path, alice.key_path, password=None)
    r = endpoint((REQ12,), (refused(cred, c.TLS12, 45),))
    # result.started is in 2030: alice (90 days from now) has expired by then.
    (f,) = [f for f in client_cert_findings(r, (cred,)) if f.id == "client_auth.cert_expired"]
    assert f.severity == "high" and "certificate_expired (45)" in f.evidence
    assert "alice.pem" in f.evidence and "Client side" in f.resolution
    accepted = replace(r.client_certificates[0], verdict="accepted", alert=None)
    r2 = replace(r, client_certificates=(accepted,))
    (f2,) = [f for f in client_cert_findings(r2, (cred,)) if f.id == "client_auth.cert_expired"]
    assert f2.severity == "low"
