# Revocation checks against the lab's OCSP responder and CRL server, all on 127.0.0.1; the
# CA and its leaves are the shared lab_ca fixture (tests/conftest.py).

from __future__ import annotations

import base64
import datetime as dt
import socket
from collections.abc import Iterator

import httpx
import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from scanner.lab.ocsp import OcspResponder
from scanner.revocation import FetchCache, check_revocation, check_stapled
from tests.lab_ca import LabCa

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def ocsp_request(cert: x509.Certificate, ca: LabCa) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.cert, hashes.SHA1())
    return builder.build().public_bytes(serialization.Encoding.DER)


@pytest.fixture
def responder(lab_ca: LabCa) -> Iterator[OcspResponder]:
    with OcspResponder(lab_ca.cert, lab_ca.key) as running:
        yield running


@pytest.fixture
def dead_url() -> str:
    """An URL on which nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


async def test_ocsp_good(lab_ca: LabCa, responder: OcspResponder) -> None:
    cert = lab_ca.leaf(ocsp_url=responder.url)
    result = await check_revocation(der(cert), lab_ca.der)
    assert (result.status, result.method) == ("good", "ocsp")
    assert result.urls_tried == (responder.url,)
    assert result.revoked_at is None and result.reason is None


async def test_ocsp_revoked_with_reason_and_date(lab_ca: LabCa, responder: OcspResponder) -> None:
    cert = lab_ca.leaf(ocsp_url=responder.url)
    when = NOW - 3 * DAY
    responder.revoke(cert.serial_number, reason=x509.ReasonFlags.superseded, when=when)
    result = await check_revocation(der(cert), lab_ca.der)
    assert (result.status, result.method) == ("revoked", "ocsp")
    assert result.reason == "superseded"
    assert result.revoked_at == when
    # The set is live: the next answer follows it (in a new run: within one, an answer is
    # cached per URL and request).
    responder.unrevoke(cert.serial_number)
    assert (await check_revocation(der(cert), lab_ca.der)).status == "revoked"
    assert (await check_revocation(der(cert), lab_ca.der, cache=FetchCache())).status == "good"


async def test_responder_down_is_unreachable(lab_ca: LabCa, dead_url: str) -> None:
    cert = lab_ca.leaf(ocsp_url=dead_url, crl_url=dead_url + "crl.der")
    result = await check_revocation(der(cert), lab_ca.der)
    assert (result.status, result.method) == ("unreachable", "ocsp")
    assert result.urls_tried == (dead_url, dead_url + "crl.der")
    assert f"OCSP {dead_url} connection refused" in result.detail
    assert f"CRL {dead_url}crl.der connection refused" in result.detail


async def test_crl_lists_the_serial_after_ocsp_fails(lab_ca: LabCa, responder: OcspResponder, dead_url: str) -> None:
    cert = lab_ca.leaf(ocsp_url=dead_url, crl_url=responder.crl_url)
    responder.revoke(cert.serial_number, reason=x509.ReasonFlags.key_compromise, when=NOW)
    result = await check_revocation(der(cert), lab_ca.der)
    assert (result.status, result.method) == ("revoked", "crl")
    assert result.reason == "keyCompromise" and result.revoked_at == NOW
    assert "connection refused" in result.detail
    other = lab_ca.leaf(crl_url=responder.crl_url)
    assert (await check_revocation(der(other), lab_ca.der)).status == "good"


async def test_unknown_issuer(lab_ca: LabCa, responder: OcspResponder) -> None:
    only_ocsp = lab_ca.leaf(ocsp_url=responder.url)
    result = await check_revocation(der(only_ocsp), None)
    assert (result.status, result.method) == ("unknown", "none")
    assert "issuer" in result.detail and result.urls_tried == ()
    # With a CRL, the check goes on (the signature cannot be checked, and says so).
    both = lab_ca.leaf(ocsp_url=responder.url, crl_url=responder.crl_url)
    result = await check_revocation(der(both), None)
    assert (result.status, result.method) == ("good", "crl")
    assert "signature not checked" in result.detail


@pytest.mark.parametrize(
    ("behaviour", "status"),
    [("try_later", "unknown"), ("http_error", "unreachable"), ("garbage", "unreachable")],
)
async def test_misbehaving_responder(lab_ca: LabCa, responder: OcspResponder, behaviour: str, status: str) -> None:
    responder.behaviour = behaviour  # type: ignore[assignment]
    cert = lab_ca.leaf(ocsp_url=responder.url)
    result = await check_revocation(der(cert), lab_ca.der)
    assert result.status == status, result.detail
    assert result.method == "ocsp"


async def test_no_urls_is_not_checked(lab_ca: LabCa) -> None:
    result = await check_revocation(der(lab_ca.leaf()), lab_ca.der)
    assert (result.status, result.method) == ("not_checked", "none")
    assert (await check_revocation(b"junk", lab_ca.der)).status == "not_checked"


async def test_caller_deadline_and_shared_client(lab_ca: LabCa) -> None:
    # A server that accepts the connection (kernel backlog) but never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        cert = lab_ca.leaf(ocsp_url=url)
        async with httpx.AsyncClient() as client:
            with trio.move_on_after(0.3) as scope:
                await check_revocation(der(cert), lab_ca.der, client=client)
    assert scope.cancelled_caught


def test_stapled_response(lab_ca: LabCa, responder: OcspResponder) -> None:
    cert = lab_ca.leaf(ocsp_url=responder.url)
    stapled = responder.ocsp_response(ocsp_request(cert, lab_ca))
    result = check_stapled(stapled, der(cert), lab_ca.der)
    assert (result.status, result.method) == ("good", "ocsp_stapled")
    responder.revoke(cert.serial_number, reason=x509.ReasonFlags.cessation_of_operation)
    result = check_stapled(responder.ocsp_response(ocsp_request(cert, lab_ca)), der(cert), lab_ca.der)
    assert result.status == "revoked" and result.reason == "cessationOfOperation"
    # Without the issuer the answer is read but its signature cannot be checked.
    result = check_stapled(stapled, der(cert), None)
    assert result.status == "good" and "signature not checked" in result.detail


def test_stapled_response_that_does_not_count(lab_ca: LabCa, responder: OcspResponder) -> None:
    cert = lab_ca.leaf()
    someone_else = responder.ocsp_response(ocsp_request(lab_ca.leaf(), lab_ca))
    assert check_stapled(someone_else, der(cert), lab_ca.der).status == "unknown"
    assert check_stapled(b"\x30\x03garbage", der(cert), lab_ca.der).status == "unknown"
    genuine = responder.ocsp_response(ocsp_request(cert, lab_ca))
    forged = genuine[:-1] + bytes([genuine[-1] ^ 0x01])  # the signature is the last field
    result = check_stapled(forged, der(cert), lab_ca.der)
    assert result.status == "unknown" and "does not verify" in result.detail
    malformed = responder.ocsp_response(b"not a request")
    assert check_stapled(malformed, der(cert), lab_ca.der).status == "unknown"


def test_responder_get_and_crl_formats(lab_ca: LabCa, responder: OcspResponder) -> None:
    cert = lab_ca.leaf()
    responder.revoke(cert.serial_number)
    encoded = base64.b64encode(ocsp_request(cert, lab_ca)).decode()
    with httpx.Client() as client:
        answer = client.get(responder.url + encoded)
        assert answer.status_code == 200
        assert ocsp.load_der_ocsp_response(answer.content).certificate_status == (
            ocsp.OCSPCertStatus.REVOKED
        )
        crl = x509.load_der_x509_crl(client.get(responder.crl_url).content)
        assert crl.is_signature_valid(lab_ca.key.public_key())
        assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
        pem = client.get(responder.url + "crl.pem").content
        assert x509.load_pem_x509_crl(pem).issuer == lab_ca.cert.subject
        assert client.get(responder.url + "nothing-here!").status_code == 404
    assert responder.requests == 4
    assert responder.revoked == {cert.serial_number}
