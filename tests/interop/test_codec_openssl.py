"""The codec against `openssl s_server` (OpenSSL 3.0): ClientHellos built by
handshakes.client_hello, sent by the engine, and the server's answer as the probe parses it.

Each test configures the server so that exactly one answer is right (one suite, or an
imposed order), then checks that the parsed reply says so: version, suite, the very
certificate chain the server was given (DER), the CA names of a CertificateRequest. Where
a hello must fail, the test asserts the alert OpenSSL 3.0 really sends, which is not always
the one the RFC suggests (see test_default_server_refuses_tls10_with_internal_error).
"""

from __future__ import annotations

import dataclasses

import codec_helpers
import pytest
from codec_helpers import chosen, der_chain, probe

from handshakes import constants as c
from handshakes import events as ev
from handshakes.client_hello import ClientHelloSpec, build_client_hello
from scanner.engine import ProbeOutcome
from scanner.options import ACCEPTED

SECP256R1, SECP384R1, X25519 = 0x0017, 0x0018, 0x001D
ECDHE_RSA_AES128_GCM = 0xC02F  # ECDHE-RSA-AES128-GCM-SHA256
ECDHE_RSA_AES256_GCM = 0xC030  # ECDHE-RSA-AES256-GCM-SHA384
ECDHE_RSA_AES128_SHA = 0xC013  # ECDHE-RSA-AES128-SHA
ECDHE_RSA_AES256_SHA = 0xC014  # ECDHE-RSA-AES256-SHA
RSA_AES128_GCM = 0x009C  # AES128-GCM-SHA256
RSA_AES128_SHA = 0x002F  # AES128-SHA
RSA_AES256_SHA = 0x0035  # AES256-SHA
TLS_AES_128_GCM = 0x1301
TLS_AES_256_GCM = 0x1302
TLS_CHACHA20 = 0x1303


def assert_alert(out: ProbeOutcome, description: int) -> None:
    codec_helpers.assert_alert(out, description)
    assert out.server_hello is None


# -- TLS 1.2 only --------------------------------------------------------------------------


async def test_tls12_single_suite_and_the_configured_certificate(openssl_server, hello, lab_cert):
    server = openssl_server(
        min_version=c.TLS12, max_version=c.TLS12, cipher="ECDHE-RSA-AES128-GCM-SHA256"
    )
    spec = hello.spec(c.TLS12, (ECDHE_RSA_AES256_GCM, RSA_AES128_GCM, ECDHE_RSA_AES128_GCM))
    out = await probe(server, spec)
    assert chosen(out) == (c.TLS12, ECDHE_RSA_AES128_GCM)
    assert [type(e) for e in out.events] == [
        ev.ServerHello,
        ev.Certificate,
        ev.ServerKeyExchange,
        ev.ServerHelloDone,
    ]
    cert = out.first(ev.Certificate)
    assert isinstance(cert, ev.Certificate)
    assert cert.chain == der_chain(lab_cert)
    assert not cert.encrypted
    ske = out.first(ev.ServerKeyExchange)
    assert isinstance(ske, ev.ServerKeyExchange)
    assert ske.kind == "ecdhe" and ske.group == X25519  # first of the hello's groups


@pytest.mark.parametrize(
    ("server_pref", "expected"),
    [(True, RSA_AES256_SHA), (False, ECDHE_RSA_AES128_GCM)],
    ids=["serverpref", "client-order"],
)
async def test_tls12_server_order(openssl_server, hello, server_pref, expected):
    server = openssl_server(
        min_version=c.TLS12,
        max_version=c.TLS12,
        cipher="AES256-SHA:ECDHE-RSA-AES128-GCM-SHA256",
        server_pref=server_pref,
    )
    out = await probe(server, hello.spec(c.TLS12, (ECDHE_RSA_AES128_GCM, RSA_AES256_SHA)))
    assert chosen(out) == (c.TLS12, expected)


async def test_tls12_suite_the_server_lacks_is_handshake_failure(openssl_server, hello):
    server = openssl_server(
        min_version=c.TLS12, max_version=c.TLS12, cipher="ECDHE-RSA-AES128-GCM-SHA256"
    )
    out = await probe(server, hello.spec(c.TLS12, (ECDHE_RSA_AES256_GCM, RSA_AES128_SHA)))
    assert_alert(out, c.ALERT_HANDSHAKE_FAILURE)


@pytest.mark.parametrize(
    ("version", "alert"),
    [
        (c.TLS13, c.ALERT_PROTOCOL_VERSION),
        (c.TLS11, c.ALERT_PROTOCOL_VERSION),
        (c.TLS10, c.ALERT_PROTOCOL_VERSION),
        # OpenSSL 3 is built without SSL 3.0: "version too low", sent as handshake_failure.
        (c.SSL3, c.ALERT_HANDSHAKE_FAILURE),
    ],
    ids=["tls13", "tls11", "tls10", "ssl3"],
)
async def test_tls12_only_server_refuses_other_versions(openssl_server, hello, version, alert):
    server = openssl_server(min_version=c.TLS12, max_version=c.TLS12)
    suites = (TLS_AES_128_GCM,) if version == c.TLS13 else (ECDHE_RSA_AES128_SHA, RSA_AES128_SHA)
    out = await probe(server, hello.spec(version, suites))
    assert_alert(out, alert)


# -- TLS 1.3 only --------------------------------------------------------------------------


async def test_tls13_single_suite_and_the_decrypted_certificate(openssl_server, hello, lab_cert):
    server = openssl_server(
        min_version=c.TLS13, max_version=c.TLS13, ciphersuites="TLS_AES_256_GCM_SHA384"
    )
    spec = hello.spec(c.TLS13, (TLS_AES_128_GCM, TLS_CHACHA20, TLS_AES_256_GCM))
    out = await probe(server, spec)
    assert chosen(out) == (c.TLS13, TLS_AES_256_GCM)
    assert [type(e) for e in out.events] == [
        ev.ServerHello,
        ev.EncryptedExtensions,
        ev.Certificate,
        ev.CertificateVerify,
        ev.Finished,
    ]
    sh = out.server_hello
    assert sh is not None and sh.legacy_version == c.TLS12 and sh.selected_group == X25519
    cert = out.first(ev.Certificate)
    assert isinstance(cert, ev.Certificate)
    assert cert.encrypted
    assert cert.chain == der_chain(lab_cert)
    assert cert.request_context == b""


@pytest.mark.parametrize(
    ("server_pref", "expected"),
    [(True, TLS_CHACHA20), (False, TLS_AES_256_GCM)],
    ids=["serverpref", "client-order"],
)
async def test_tls13_server_order(openssl_server, hello, server_pref, expected):
    server = openssl_server(
        min_version=c.TLS13,
        max_version=c.TLS13,
        ciphersuites="TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
        server_pref=server_pref,
    )
    spec = hello.spec(c.TLS13, (TLS_AES_128_GCM, TLS_AES_256_GCM, TLS_CHACHA20))
    assert chosen(await probe(server, spec)) == (c.TLS13, expected)


async def test_tls13_suite_the_server_lacks_is_handshake_failure(openssl_server, hello):
    server = openssl_server(
        min_version=c.TLS13, max_version=c.TLS13, ciphersuites="TLS_AES_256_GCM_SHA384"
    )
    out = await probe(server, hello.spec(c.TLS13, (TLS_AES_128_GCM, TLS_CHACHA20)))
    assert_alert(out, c.ALERT_HANDSHAKE_FAILURE)


@pytest.mark.parametrize("version", [c.TLS12, c.TLS10])
async def test_tls13_only_server_refuses_older_versions(openssl_server, hello, version):
    server = openssl_server(min_version=c.TLS13, max_version=c.TLS13)
    out = await probe(server, hello.spec(version, (ECDHE_RSA_AES128_GCM, ECDHE_RSA_AES128_SHA)))
    assert_alert(out, c.ALERT_PROTOCOL_VERSION)


# -- TLS 1.0 -------------------------------------------------------------------------------


async def test_tls10_single_suite(openssl_server, hello, lab_cert):
    server = openssl_server(
        min_version=c.TLS10, max_version=c.TLS10, cipher="ECDHE-RSA-AES256-SHA:@SECLEVEL=0"
    )
    out = await probe(server, hello.spec(c.TLS10, (ECDHE_RSA_AES128_SHA, ECDHE_RSA_AES256_SHA)))
    assert chosen(out) == (c.TLS10, ECDHE_RSA_AES256_SHA)
    cert = out.first(ev.Certificate)
    assert isinstance(cert, ev.Certificate) and cert.chain == der_chain(lab_cert)
    ske = out.first(ev.ServerKeyExchange)
    # Before TLS 1.2 the signature carries no SignatureAndHashAlgorithm (RFC 4346 7.4.3).
    assert isinstance(ske, ev.ServerKeyExchange) and ske.signature_scheme is None


async def test_tls10_server_answers_a_tls12_hello_with_tls10(openssl_server, hello):
    # RFC 5246 appendix E.1: the server replies with the highest version both support.
    server = openssl_server(min_version=c.TLS10, max_version=c.TLS10, cipher="DEFAULT@SECLEVEL=0")
    out = await probe(server, hello.spec(c.TLS12, (ECDHE_RSA_AES128_GCM, ECDHE_RSA_AES128_SHA)))
    assert chosen(out) == (c.TLS10, ECDHE_RSA_AES128_SHA)


async def test_tls10_suite_the_server_lacks_is_handshake_failure(openssl_server, hello):
    server = openssl_server(
        min_version=c.TLS10, max_version=c.TLS10, cipher="ECDHE-RSA-AES256-SHA:@SECLEVEL=0"
    )
    out = await probe(server, hello.spec(c.TLS10, (ECDHE_RSA_AES128_SHA, RSA_AES128_SHA)))
    assert_alert(out, c.ALERT_HANDSHAKE_FAILURE)


@pytest.mark.parametrize(
    ("version", "alert"),
    [(c.TLS13, c.ALERT_PROTOCOL_VERSION), (c.SSL3, c.ALERT_HANDSHAKE_FAILURE)],
    ids=["tls13", "ssl3"],
)
async def test_tls10_only_server_refuses_other_versions(openssl_server, hello, version, alert):
    server = openssl_server(min_version=c.TLS10, max_version=c.TLS10, cipher="DEFAULT@SECLEVEL=0")
    suites = (TLS_AES_128_GCM,) if version == c.TLS13 else (ECDHE_RSA_AES128_SHA, RSA_AES128_SHA)
    assert_alert(await probe(server, hello.spec(version, suites)), alert)


async def test_tls10_disabled_at_seclevel0_is_protocol_version(openssl_server, hello):
    server = openssl_server(min_version=c.TLS11, max_version=c.TLS12, cipher="DEFAULT@SECLEVEL=0")
    out = await probe(server, hello.spec(c.TLS10, (ECDHE_RSA_AES128_SHA, RSA_AES128_SHA)))
    assert_alert(out, c.ALERT_PROTOCOL_VERSION)


async def test_default_server_refuses_tls10_with_internal_error(openssl_server, hello):
    # s_server with no version flags leaves TLS 1.0 "enabled", but at OpenSSL 3's default
    # security level no TLS 1.0 suite or signature is usable: it answers internal_error,
    # not protocol_version. A scan must not read this as "TLS 1.0 supported".
    server = openssl_server()
    out = await probe(server, hello.spec(c.TLS10, (ECDHE_RSA_AES128_SHA, RSA_AES128_SHA)))
    assert_alert(out, c.ALERT_INTERNAL_ERROR)


# -- CertificateRequest --------------------------------------------------------------------


@pytest.mark.parametrize("version", [c.TLS12, c.TLS13], ids=["tls12", "tls13"])
@pytest.mark.parametrize("require", [False, True], ids=["verify", "Verify"])
async def test_certificate_request_names_the_configured_ca(
    openssl_server, hello, lab_pki, version, require
):
    server = openssl_server(
        min_version=version,
        max_version=version,
        verify_depth=3,
        require_client_cert=require,
        ca_file=lab_pki.ca_path,
    )
    assert ("-Verify" if require else "-verify") in server.argv
    suites = (TLS_AES_128_GCM,) if version == c.TLS13 else (ECDHE_RSA_AES128_GCM,)
    out = await probe(server, hello.spec(version, suites))
    assert chosen(out)[0] == version
    cr = out.first(ev.CertificateRequest)
    assert isinstance(cr, ev.CertificateRequest)
    # The DistinguishedName is the CA certificate's subject, DER for DER.
    assert cr.certificate_authorities == (lab_pki.root.cert.subject.public_bytes(),)
    assert cr.encrypted is (version == c.TLS13)
    assert cr.signature_algorithms  # both versions carry signature_algorithms
    if version == c.TLS12:
        assert set(cr.certificate_types) >= {1, 64}  # rsa_sign, ecdsa_sign (RFC 8422 5.5)
    else:
        assert cr.request_context == b""  # RFC 8446 4.3.2: empty during the handshake


# -- framing -------------------------------------------------------------------------------


async def test_sslv2_framed_hello_is_accepted(openssl_server, lab_cert):
    # RFC 5246 appendix E.2: an SSLv2-compatible CLIENT-HELLO announcing TLS 1.0.
    server = openssl_server(min_version=c.TLS10, max_version=c.TLS12, cipher="DEFAULT@SECLEVEL=0")
    spec = ClientHelloSpec(
        sslv2=True, legacy_version=c.TLS10, cipher_suites=(RSA_AES256_SHA, RSA_AES128_SHA)
    )
    assert build_client_hello(spec)[0] & 0x80  # two-byte SSLv2 header
    out = await probe(server, spec)
    # The client's order wins (no -serverpref), which also shows that both 2-byte codes
    # went out as 00 XX XX cipher kinds.
    assert chosen(out) == (c.TLS10, RSA_AES256_SHA)
    cert = out.first(ev.Certificate)
    assert isinstance(cert, ev.Certificate) and cert.chain == der_chain(lab_cert)


async def test_sslv2_framed_hello_cannot_get_ecdhe(openssl_server):
    # An SSLv2 hello carries no supported_groups extension, and OpenSSL 3 will not pick
    # ECDHE without one (the same holds for a TLS hello without it): handshake_failure.
    server = openssl_server(min_version=c.TLS10, max_version=c.TLS12, cipher="DEFAULT@SECLEVEL=0")
    spec = ClientHelloSpec(
        sslv2=True, legacy_version=c.TLS10, cipher_suites=(ECDHE_RSA_AES128_SHA,)
    )
    assert_alert(await probe(server, spec), c.ALERT_HANDSHAKE_FAILURE)


@pytest.mark.parametrize("max_fragment", [50, 1])
@pytest.mark.parametrize("version", [c.TLS12, c.TLS13], ids=["tls12", "tls13"])
async def test_fragmented_hello_is_accepted(openssl_server, hello, max_fragment, version):
    server = openssl_server(min_version=c.TLS12, max_version=c.TLS13)
    suites = (TLS_AES_128_GCM,) if version == c.TLS13 else (ECDHE_RSA_AES128_GCM,)
    spec = dataclasses.replace(hello.spec(version, suites), max_fragment=max_fragment)
    wire = build_client_hello(spec)
    records = 0
    i = 0
    while i < len(wire):  # every record holds at most max_fragment bytes
        length = int.from_bytes(wire[i + 3 : i + 5], "big")
        assert wire[i] == c.HANDSHAKE and 1 <= length <= max_fragment
        i += 5 + length
        records += 1
    assert records > 1
    out = await probe(server, spec)
    assert chosen(out) == (version, suites[0])


@pytest.mark.parametrize("version", [c.TLS12, c.TLS13], ids=["tls12", "tls13"])
async def test_grease_hello_is_accepted(openssl_server, hello, version):
    server = openssl_server(min_version=c.TLS12, max_version=c.TLS13)
    suites = (TLS_AES_128_GCM,) if version == c.TLS13 else (ECDHE_RSA_AES128_GCM,)
    spec = dataclasses.replace(hello.spec(version, suites), grease=True)
    out = await probe(server, spec)
    assert chosen(out) == (version, suites[0])
    assert out.first(ev.Finished if version == c.TLS13 else ev.ServerHelloDone) is not None


# -- HelloRetryRequest ---------------------------------------------------------------------


@pytest.mark.parametrize("max_fragment", [None, 1])
async def test_hello_retry_request_is_answered_and_the_flight_decrypted(
    openssl_server, hello, lab_cert, max_fragment
):
    server = openssl_server(min_version=c.TLS13, max_version=c.TLS13, groups="secp384r1")
    spec = hello.spec(
        c.TLS13, (TLS_AES_128_GCM, TLS_AES_256_GCM), groups=(X25519, SECP384R1), shares=(X25519,)
    )
    spec = dataclasses.replace(spec, max_fragment=max_fragment)
    assert [ks.group for ks in spec.key_shares or ()] == [X25519]
    first_hello = len(build_client_hello(spec))
    out = await probe(server, spec)
    assert chosen(out) == (c.TLS13, TLS_AES_128_GCM)
    assert [type(e) for e in out.events] == [
        ev.HelloRetryRequest,
        ev.ServerHello,
        ev.EncryptedExtensions,
        ev.Certificate,
        ev.CertificateVerify,
        ev.Finished,
    ]
    hrr = out.first(ev.HelloRetryRequest)
    assert isinstance(hrr, ev.HelloRetryRequest)
    assert hrr.selected_group == SECP384R1 and hrr.cipher_suite == TLS_AES_128_GCM
    sh = out.server_hello
    assert sh is not None and sh.selected_group == SECP384R1
    cert = out.first(ev.Certificate)
    assert isinstance(cert, ev.Certificate) and cert.chain == der_chain(lab_cert)
    # Two ClientHellos went out: the second carries a P-384 share (97 bytes) instead.
    assert out.bytes_sent > first_hello + 97


async def test_hello_retry_request_not_answered_when_asked_not_to(openssl_server, hello):
    server = openssl_server(min_version=c.TLS13, max_version=c.TLS13, groups="secp384r1")
    spec = hello.spec(c.TLS13, (TLS_AES_128_GCM,), groups=(X25519, SECP384R1), shares=(X25519,))
    out = await probe(server, spec, answer_hrr=False)
    assert out.outcome == ACCEPTED
    assert [type(e) for e in out.events] == [ev.HelloRetryRequest]
    assert out.bytes_sent == len(build_client_hello(spec))
