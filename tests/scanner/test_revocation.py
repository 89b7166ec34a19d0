# Revocation checks against the lab's OCSP responder and CRL server, all on 127.0.0.1.

from __future__ import annotations

import base64
import datetime as dt
import socket
from collections.abc import Iterator, Sequence

import httpx
import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from scanner.lab.ocsp import OcspResponder
from scanner.revocation import FetchCache, check_revocation, check_stapled

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


CA_KEY = ec.generate_private_key(ec.SECP256R1())
CA = (
    x509.CertificateBuilder()
    .subject_name(_name("Revocation Test CA"))
    .issuer_name(_name("Revocation Test CA"))
    .public_key(CA_KEY.public_key())
    .serial_number(1)
    .not_valid_before(NOW - DAY)
    .not_valid_after(NOW + 365 * DAY)
    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    .sign(CA_KEY, hashes.SHA256())
)
CA_DER = CA.public_bytes(serialization.Encoding.DER)
LEAF_KEY = ec.generate_private_key(ec.SECP256R1())


def leaf(*, ocsp_urls: Sequence[str] = (), crl_urls: Sequence[str] = ()) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("revoked.test"))
        .issuer_name(CA.subject)
        .public_key(LEAF_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 30 * DAY)
    )
    if ocsp_urls:
        access = [
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u)
            )
            for u in ocsp_urls
        ]
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), False)
    if crl_urls:
        points = [
            x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
            for u in crl_urls
        ]
        builder = builder.add_extension(x509.CRLDistributionPoints(points), False)
    return builder.sign(CA_KEY, hashes.SHA256())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def ocsp_request(cert: x509.Certificate) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, CA, hashes.SHA1())
    return builder.build().public_bytes(serialization.Encoding.DER)


@pytest.fixture
def responder() -> Iterator[OcspResponder]:
    with OcspResponder(CA, CA_KEY) as running:
        yield running


@pytest.fixture
def dead_url() -> str:
    """An URL on which nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


async def test_ocsp_good(responder: OcspResponder) -> None:
    cert = leaf(ocsp_urls=[responder.url])
    result = await check_revocation(der(cert), CA_DER)
    assert (result.status, result.method) == ("good", "ocsp")
    assert result.urls_tried == (responder.url,)
    assert result.revoked_at is None and result.reason is None


async def test_ocsp_revoked_with_reason_and_date(responder: OcspResponder) -> None:
    cert = leaf(ocsp_urls=[responder.url])
    when = NOW - 3 * DAY
    responder.revoke(cert.serial_number, reason=x509.ReasonFlags.superseded, when=when)
    result = await check_revocation(der(cert), CA_DER)
    assert (result.status, result.method) == ("revoked", "ocsp")
    assert result.reason == "superseded"
    assert result.revoked_at == when
    # The set is live: the next answer follows it (in a new run: within one, an answer is
    # cached per URL and request).
    responder.unrevoke(cert.serial_number)
    assert (await check_revocation(der(cert), CA_DER)).status == "revoked"
    assert (await check_revocation(der(cert), CA_DER, cache=FetchCache())).status == "good"


async def test_responder_down_is_unreachable(dead_url: str) -> None:
    cert = leaf(ocsp_urls=[dead_url], crl_urls=[dead_url + "crl.der"])
    result = await check_revocation(der(cert), CA_DER)
    assert (result.status, result.method) == ("unreachable", "ocsp")
    assert result.urls_tried == (dead_url, dead_url + "crl.der")
    assert f"OCSP {dead_url} connection refused" in result.detail
    assert f"CRL {dead_url}crl.der connection refused" in result.detail


async def test_crl_lists_the_serial_after_ocsp_fails(
    responder: OcspResponder, dead_url: str
) -> None:
    cert = leaf(ocsp_urls=[dead_url], crl_urls=[responder.crl_url])
    responder.revoke(cert.serial_number, reason=x509.ReasonFlags.key_compromise, when=NOW)
    result = await check_revocation(der(cert), CA_DER)
    assert (result.status, result.method) == ("revoked", "crl")
    assert result.reason == "keyCompromise" and result.revoked_at == NOW
    assert "connection refused" in result.detail
    other = leaf(crl_urls=[responder.crl_url])
    assert (await check_revocation(der(other), CA_DER)).status == "good"


async def test_unknown_issuer(responder: OcspResponder) -> None:
    only_ocsp = leaf(ocsp_urls=[responder.url])
    result = await check_revocation(der(only_ocsp), None)
    assert (result.status, result.method) == ("unknown", "none")
    assert "issuer" in result.detail and result.urls_tried == ()
    # With a CRL, the check goes on (the signature cannot be checked, and says so).
    both = leaf(ocsp_urls=[responder.url], crl_urls=[responder.crl_url])
    result = await check_revocation(der(both), None)
    assert (result.status, result.method) == ("good", "crl")
    assert "signature not checked" in result.detail


@pytest.mark.parametrize(
    ("behaviour", "status"),
    [("try_later", "unknown"), ("http_error", "unreachable"), ("garbage", "unreachable")],
)
async def test_misbehaving_responder(responder: OcspResponder, behaviour: str, status: str) -> None:
    responder.behaviour = behaviour  # type: ignore[assignment]
    cert = leaf(ocsp_urls=[responder.url])
    result = await check_revocation(der(cert), CA_DER)
    assert result.status == status, result.detail
    assert result.method == "ocsp"


async def test_no_urls_is_not_checked() -> None:
    result = await check_revocation(der(leaf()), CA_DER)
    assert (result.status, result.method) == ("not_checked", "none")
    assert (await check_revocation(b"junk", CA_DER)).status == "not_checked"


async def test_caller_deadline_and_shared_client() -> None:
    # A server that accepts the connection (kernel backlog) but never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        cert = leaf(ocsp_urls=[url])
        async with httpx.AsyncClient() as client:
            with trio.move_on_after(0.3) as scope:
                await check_revocation(der(cert), CA_DER, client=client)
    assert scope.cancelled_caught


def test_stapled_response(responder: OcspResponder) -> None:
    cert = leaf(ocsp_urls=[responder.url])
    stapled = responder.ocsp_response(ocsp_request(cert))
    result = check_stapled(stapled, der(cert), CA_DER)
    assert (result.status, result.method) == ("good", "ocsp_stapled")
    responder.revoke(cert.serial_number, reason=x509.ReasonFlags.cessation_of_operation)
    result = check_stapled(responder.ocsp_response(ocsp_request(cert)), der(cert), CA_DER)
    assert result.status == "revoked" and result.reason == "cessationOfOperation"
    # Without the issuer the answer is read but its signature cannot be checked.
    result = check_stapled(stapled, der(cert), None)
    assert result.status == "good" and "signature not checked" in result.detail


def test_stapled_response_that_does_not_count(responder: OcspResponder) -> None:
    cert = leaf()
    someone_else = responder.ocsp_response(ocsp_request(leaf()))
    assert check_stapled(someone_else, der(cert), CA_DER).status == "unknown"
    assert check_stapled(b"\x30\x03garbage", der(cert), CA_DER).status == "unknown"
    genuine = responder.ocsp_response(ocsp_request(cert))
    forged = genuine[:-1] + bytes([genuine[-1] ^ 0x01])  # the signature is the last field
    result = check_stapled(forged, der(cert), CA_DER)
    assert result.status == "unknown" and "does not verify" in result.detail
    malformed = responder.ocsp_response(b"not a request")
    assert check_stapled(malformed, der(cert), CA_DER).status == "unknown"


def test_responder_get_and_crl_formats(responder: OcspResponder) -> None:
    cert = leaf()
    responder.revoke(cert.serial_number)
    encoded = base64.b64encode(ocsp_request(cert)).decode()
    with httpx.Client() as client:
        answer = client.get(responder.url + encoded)
        assert answer.status_code == 200
        assert ocsp.load_der_ocsp_response(answer.content).certificate_status == (
            ocsp.OCSPCertStatus.REVOKED
        )
        crl = x509.load_der_x509_crl(client.get(responder.crl_url).content)
        assert crl.is_signature_valid(CA_KEY.public_key())
        assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
        pem = client.get(responder.url + "crl.pem").content
        assert x509.load_pem_x509_crl(pem).issuer == CA.subject
        assert client.get(responder.url + "nothing-here!").status_code == 404
    assert responder.requests == 4
    assert responder.revoked == {cert.serial_number}
