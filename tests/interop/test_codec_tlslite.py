"""The codec against tlslite-ng 0.8 servers: the only stack in the lab that speaks SSL 3.0.

tlslite-ng always imposes its own suite order (it walks its own table and takes the first
suite the client offered), negotiates down to its highest version when a client asks for
more (RFC 5246 appendix E.1), and answers a version below its minimum with
protocol_version. Each test asserts what tlslite-ng really sends, and the server's own
record of the connection where it helps to tell a parse error from a server refusal.
"""

from __future__ import annotations

import dataclasses

import pytest
from codec_helpers import assert_alert, chosen, der_chain, probe

from handshakes import constants as c
from handshakes import events as ev
from handshakes.client_hello import ClientHelloSpec, build_client_hello

RSA_AES128_SHA = 0x002F  # TLS_RSA_WITH_AES_128_CBC_SHA
RSA_AES256_SHA = 0x0035  # TLS_RSA_WITH_AES_256_CBC_SHA
RSA_3DES_SHA = 0x000A  # TLS_RSA_WITH_3DES_EDE_CBC_SHA
TLS_AES_128_GCM = 0x1301

VERSIONS = [c.SSL3, c.TLS10]
IDS = ["ssl3", "tls10"]


def only(version: int, **options):
    """Options for a tlslite-ng server speaking exactly `version` with plain RSA key exchange."""
    return dict(min_version=version, max_version=version, key_exchange_names=("rsa",), **options)


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
async def test_single_suite_and_the_configured_certificate(
    tlslite_server, hello, lab_cert, version
):
    server = tlslite_server(**only(version, cipher_names=("aes128",)))
    out = await probe(server, hello.spec(version, (RSA_AES256_SHA, RSA_3DES_SHA, RSA_AES128_SHA)))
    assert chosen(out) == (version, RSA_AES128_SHA)
    assert [type(e) for e in out.events] == [ev.ServerHello, ev.Certificate, ev.ServerHelloDone]
    cert = out.first(ev.Certificate)
    assert isinstance(cert, ev.Certificate) and cert.chain == der_chain(lab_cert)


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
async def test_server_imposes_its_own_order(tlslite_server, hello, version):
    # Configured as ("aes128", "aes256"), tlslite-ng still ranks by its own table, where
    # AES-256 comes first; the client's order does not matter.
    server = tlslite_server(**only(version, cipher_names=("aes128", "aes256")))
    for offer in ((RSA_AES128_SHA, RSA_AES256_SHA), (RSA_AES256_SHA, RSA_AES128_SHA)):
        out = await probe(server, hello.spec(version, offer))
        assert chosen(out) == (version, RSA_AES256_SHA)


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
async def test_suite_the_server_lacks_is_handshake_failure(tlslite_server, hello, version):
    server = tlslite_server(**only(version, cipher_names=("aes128",)))
    out = await probe(server, hello.spec(version, (RSA_AES256_SHA, RSA_3DES_SHA)))
    assert_alert(out, c.ALERT_HANDSHAKE_FAILURE)
    (record,) = server.wait_for_records(1)
    assert record.error == "TLSLocalAlert: handshake_failure: No mutual ciphersuite"


@pytest.mark.parametrize(
    ("server_version", "hello_version", "expected"),
    [
        (c.TLS10, c.SSL3, c.ALERT_PROTOCOL_VERSION),  # below its minimum
        (c.SSL3, c.TLS13, c.ALERT_PROTOCOL_VERSION),  # supported_versions holds only 1.3
        (c.TLS10, c.TLS13, c.ALERT_PROTOCOL_VERSION),
        (c.SSL3, c.TLS10, c.SSL3),  # negotiates down (RFC 5246 E.1)
        (c.SSL3, c.TLS12, c.SSL3),
        (c.TLS10, c.TLS12, c.TLS10),
    ],
    ids=["tls10-ssl3", "ssl3-tls13", "tls10-tls13", "ssl3-tls10", "ssl3-tls12", "tls10-tls12"],
)
async def test_other_versions(tlslite_server, hello, server_version, hello_version, expected):
    server = tlslite_server(**only(server_version, cipher_names=("aes128",)))
    suites = (TLS_AES_128_GCM,) if hello_version == c.TLS13 else (RSA_AES128_SHA,)
    out = await probe(server, hello.spec(hello_version, suites))
    if expected == c.ALERT_PROTOCOL_VERSION:
        assert_alert(out, c.ALERT_PROTOCOL_VERSION)
    else:
        assert chosen(out) == (expected, RSA_AES128_SHA)


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
async def test_certificate_request_names_the_configured_ca(tlslite_server, hello, lab_pki, version):
    server = tlslite_server(
        **only(version, cipher_names=("aes128",)),
        request_client_cert=True,
        client_ca_names=(lab_pki.root,),
    )
    out = await probe(server, hello.spec(version, (RSA_AES128_SHA,)))
    assert chosen(out) == (version, RSA_AES128_SHA)
    cr = out.first(ev.CertificateRequest)
    assert isinstance(cr, ev.CertificateRequest)
    assert cr.certificate_authorities == (lab_pki.root.cert.subject.public_bytes(),)
    assert cr.signature_algorithms == ()  # the field exists from TLS 1.2 on (RFC 5246 7.4.4)
    assert cr.certificate_types


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
async def test_sslv2_framed_hello_is_accepted(tlslite_server, lab_cert, version):
    server = tlslite_server(**only(version, cipher_names=("aes128",)))
    spec = ClientHelloSpec(
        sslv2=True, legacy_version=c.TLS10, cipher_suites=(RSA_3DES_SHA, RSA_AES128_SHA)
    )
    out = await probe(server, spec)
    # An SSL 3.0-only server answers the TLS 1.0 announcement with SSL 3.0.
    assert chosen(out) == (version, RSA_AES128_SHA)
    cert = out.first(ev.Certificate)
    assert isinstance(cert, ev.Certificate) and cert.chain == der_chain(lab_cert)


@pytest.mark.parametrize("max_fragment", [50, 1])
@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
async def test_fragmented_hello_is_accepted(tlslite_server, hello, version, max_fragment):
    server = tlslite_server(**only(version, cipher_names=("aes128",)))
    offer = (RSA_AES256_SHA, RSA_3DES_SHA, RSA_AES128_SHA)  # > 50 bytes even for SSL 3.0
    spec = dataclasses.replace(hello.spec(version, offer), max_fragment=max_fragment)
    wire = build_client_hello(spec)
    lengths = []
    while wire:  # every record holds at most max_fragment bytes
        assert wire[0] == c.HANDSHAKE
        lengths.append(int.from_bytes(wire[3:5], "big"))
        wire = wire[5 + lengths[-1] :]
    assert len(lengths) > 1 and max(lengths) == max_fragment
    out = await probe(server, spec)
    assert chosen(out) == (version, RSA_AES128_SHA)


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
async def test_grease_hello_is_accepted(tlslite_server, hello, version):
    server = tlslite_server(**only(version, cipher_names=("aes128",)))
    spec = dataclasses.replace(hello.spec(version, (RSA_AES128_SHA,)), grease=True)
    out = await probe(server, spec)
    assert chosen(out) == (version, RSA_AES128_SHA)
