# The offline negotiation model: hand-built server capabilities against built-in and
# hand-written client profiles, one test per rule and per failure reason.
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from handshakes import constants as c
from handshakes.keyshare import SECP256R1, SECP384R1, X25519
from scanner.profiles import ClientProfile, load_builtin_profiles, profile_from_yaml
from scanner.results import (
    Behaviours,
    CertificateInfo,
    ChainResult,
    EndpointResult,
    GroupResult,
    ProtocolResult,
    SuiteResult,
)
from scanner.simulate import (
    REASON_CODES,
    ServerCapabilities,
    Simulation,
    capabilities_from_result,
    simulate,
)

BY_ID = {p.id: p for p in load_builtin_profiles()}

AES128_SHA = 0x002F
AES256_SHA = 0x0035
DES_CBC3_SHA = 0x000A
RC4_SHA = 0x0005
DHE_RSA_AES128_SHA = 0x0033
ECDHE_RSA_AES128_GCM = 0xC02F
ECDHE_RSA_AES256_GCM = 0xC030
ECDHE_ECDSA_AES128_GCM = 0xC02B
ECDHE_RSA_CHACHA = 0xCCA8
TLS_AES_128_GCM = 0x1301
TLS_AES_256_GCM = 0x1302
TLS_CHACHA = 0x1303

# An old server: TLS 1.0 only, plain RSA suites, its own order.
TLS10_RSA = ServerCapabilities(
    versions=(c.TLS10,),
    suites={c.TLS10: (AES128_SHA, AES256_SHA, DES_CBC3_SHA, RC4_SHA)},
    server_preference={c.TLS10: True},
    cert_key_type="RSA",
    cert_key_bits=2048,
    cert_signature_hash="sha256",
)

# A modern server: TLS 1.2 (ECDHE + AEAD only) and TLS 1.3.
MODERN = ServerCapabilities(
    versions=(c.TLS12, c.TLS13),
    suites={
        c.TLS13: (TLS_AES_128_GCM, TLS_AES_256_GCM, TLS_CHACHA),
        c.TLS12: (ECDHE_RSA_AES128_GCM, ECDHE_RSA_AES256_GCM, ECDHE_RSA_CHACHA),
    },
    server_preference={c.TLS12: True, c.TLS13: False},
    groups={c.TLS13: (X25519, SECP256R1), c.TLS12: (X25519, SECP256R1)},
    cert_key_type="RSA",
    cert_key_bits=2048,
    cert_signature_hash="sha256",
)


def client(**fields: object) -> ClientProfile:
    data: dict[str, object] = {"id": "test", "versions": ["TLSv1.2"]}
    data.update(fields)
    return profile_from_yaml(data, source="test")


def check_fail(sim: Simulation, code: str, reason: str) -> None:
    assert not sim.ok
    assert sim.reason_code == code
    assert sim.reason == reason


def test_modern_clients_fail_on_a_tls10_server_with_the_exact_reason() -> None:
    for pid in ("chrome_101_win10", "firefox_100_win10", "java1703", "openssl_111d"):
        sim = simulate(BY_ID[pid], TLS10_RSA)
        check_fail(
            sim,
            "no_common_version",
            "no common protocol version (client: TLSv1.3..TLSv1.2, server: TLSv1.0)",
        )
        assert sim.profile_id == pid
        assert sim.version is None and sim.suite is None


def test_old_clients_succeed_on_a_tls10_server() -> None:
    ie8 = simulate(BY_ID["ie_8_xp"], TLS10_RSA)
    # IE 8 on XP has no AES: the server's first choice it offers is 3DES.
    assert ie8 == Simulation(
        profile_id="ie_8_xp",
        ok=True,
        version=c.TLS10,
        suite=DES_CBC3_SHA,
        group=None,
        reason="",
        reason_code="",
    )
    java6 = simulate(BY_ID["java_6u45"], TLS10_RSA)
    assert java6.ok and java6.version == c.TLS10 and java6.suite == AES128_SHA
    android = simulate(BY_ID["android_237"], TLS10_RSA)
    assert android.ok and android.suite == AES128_SHA


def test_client_preference_picks_the_clients_first_common_suite() -> None:
    server = dataclasses.replace(TLS10_RSA, server_preference={c.TLS10: False})
    # IE 8 XP offers RC4-MD5, RC4-SHA, 3DES...: RC4-MD5 is not accepted, RC4-SHA is.
    sim = simulate(BY_ID["ie_8_xp"], server)
    assert sim.ok and sim.suite == RC4_SHA
    # No server_preference entry at all means the client's order too.
    sim = simulate(BY_ID["ie_8_xp"], dataclasses.replace(TLS10_RSA, server_preference={}))
    assert sim.suite == RC4_SHA


def test_server_preference_versus_client_preference() -> None:
    profile = client(cipher_suites=["AES256-SHA", "AES128-SHA", "DES-CBC3-SHA"])
    server = ServerCapabilities(
        versions=(c.TLS12,),
        suites={c.TLS12: (AES128_SHA, DES_CBC3_SHA, AES256_SHA)},
        server_preference={c.TLS12: True},
        cert_key_type="RSA",
        cert_key_bits=2048,
    )
    assert simulate(profile, server).suite == AES128_SHA
    server = dataclasses.replace(server, server_preference={c.TLS12: False})
    assert simulate(profile, server).suite == AES256_SHA


def test_old_clients_fail_on_a_modern_server() -> None:
    check_fail(
        simulate(BY_ID["ie_8_xp"], MODERN),
        "no_common_version",
        "no common protocol version (client: TLSv1.0..SSLv3, server: TLSv1.2, TLSv1.3)",
    )
    check_fail(
        simulate(BY_ID["java_6u45"], MODERN),
        "no_common_version",
        "no common protocol version (client: TLSv1.0..SSLv2, server: TLSv1.2, TLSv1.3)",
    )
    assert simulate(BY_ID["android_237"], MODERN).reason_code == "no_common_version"


def test_modern_clients_negotiate_tls13_on_a_modern_server() -> None:
    for pid in ("chrome_101_win10", "firefox_100_win10"):
        sim = simulate(BY_ID[pid], MODERN)
        assert sim.ok, sim.reason
        assert sim.version == c.TLS13
        assert sim.suite == TLS_AES_128_GCM
        assert sim.group == X25519


def test_tls13_draft_client_falls_to_tls12() -> None:
    # Chrome 65 offered only TLS 1.3 draft 23: against a final TLS 1.3 server it gets 1.2.
    sim = simulate(BY_ID["chrome_65_win7"], MODERN)
    assert sim.ok and sim.version == c.TLS12 and sim.suite == ECDHE_RSA_AES128_GCM


def test_no_common_suite_names_both_sides() -> None:
    profile = client(cipher_suites=["AES128-SHA", "DES-CBC3-SHA"])
    sim = simulate(profile, MODERN)
    check_fail(
        sim,
        "no_common_suite",
        "no common cipher suite in TLSv1.2 (server offers only AEAD suites: "
        "ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-AES256-GCM-SHA384, "
        "ECDHE-RSA-CHACHA20-POLY1305; client offers no AEAD suites: AES128-SHA, DES-CBC3-SHA)",
    )
    assert sim.version == c.TLS12


def test_dh_prime_below_the_clients_minimum() -> None:
    profile = client(cipher_suites=["DHE-RSA-AES128-SHA"], min_dh_bits=2048)
    server = ServerCapabilities(
        versions=(c.TLS12,),
        suites={c.TLS12: (DHE_RSA_AES128_SHA,)},
        dh_bits=1024,
        cert_key_type="RSA",
        cert_key_bits=2048,
    )
    sim = simulate(profile, server)
    check_fail(sim, "dh_too_small", "DH prime 1024 bits is below the client's minimum 2048")
    assert sim.version == c.TLS12 and sim.suite == DHE_RSA_AES128_SHA
    assert simulate(profile, dataclasses.replace(server, dh_bits=2048)).ok
    # A built-in: Chrome 48 refuses DH primes under 1024 bits.
    chrome48 = BY_ID["chrome_48_osx"]
    assert chrome48.min_dh_bits == 1024
    dhe_only = ServerCapabilities(
        versions=(c.TLS12,),
        suites={c.TLS12: (DHE_RSA_AES128_SHA,)},
        dh_bits=768,
        cert_key_type="RSA",
        cert_key_bits=2048,
    )
    check_fail(
        simulate(chrome48, dhe_only),
        "dh_too_small",
        "DH prime 768 bits is below the client's minimum 1024",
    )


def test_dh_prime_above_java6s_maximum() -> None:
    server = ServerCapabilities(
        versions=(c.TLS10,),
        suites={c.TLS10: (DHE_RSA_AES128_SHA,)},
        dh_bits=2048,
        cert_key_type="RSA",
        cert_key_bits=2048,
    )
    check_fail(
        simulate(BY_ID["java_6u45"], server),
        "dh_too_large",
        "DH prime 2048 bits is above the client's maximum 1024",
    )
    # The DH limit does not apply when a non-DHE suite is chosen.
    server = dataclasses.replace(server, suites={c.TLS10: (AES128_SHA, DHE_RSA_AES128_SHA)})
    assert simulate(BY_ID["java_6u45"], server).ok


def test_rsa_key_limits() -> None:
    profile = client(cipher_suites=["AES128-SHA"], min_rsa_bits=2048, max_rsa_bits=4096)
    server = ServerCapabilities(
        versions=(c.TLS12,),
        suites={c.TLS12: (AES128_SHA,)},
        cert_key_type="RSA",
        cert_key_bits=1024,
    )
    check_fail(
        simulate(profile, server),
        "rsa_too_small",
        "RSA key 1024 bits is below the client's minimum 2048",
    )
    check_fail(
        simulate(profile, dataclasses.replace(server, cert_key_bits=8192)),
        "rsa_too_large",
        "RSA key 8192 bits is above the client's maximum 4096",
    )


def test_ecdsa_key_limit() -> None:
    profile = client(
        cipher_suites=["ECDHE-ECDSA-AES128-GCM-SHA256"], groups=["secp256r1"], min_ecdsa_bits=256
    )
    server = ServerCapabilities(
        versions=(c.TLS12,),
        suites={c.TLS12: (ECDHE_ECDSA_AES128_GCM,)},
        groups={c.TLS12: (SECP256R1,)},
        cert_key_type="EC",
        cert_key_bits=224,
    )
    check_fail(
        simulate(profile, server),
        "ecdsa_too_small",
        "ECDSA key 224 bits is below the client's minimum 256",
    )
    assert simulate(profile, dataclasses.replace(server, cert_key_bits=256)).ok


def test_sha1_signature_refused_by_a_sha2_client() -> None:
    server = dataclasses.replace(MODERN, cert_signature_hash="SHA1")
    sim = simulate(BY_ID["chrome_101_win10"], server)
    check_fail(
        sim,
        "sha1_signature",
        "client requires SHA-2 certificate signatures; the certificate is signed with SHA1",
    )
    assert sim.version == c.TLS13
    # A client without the requirement does not care.
    assert simulate(BY_ID["chrome_70_win10"], server).ok


def test_ecdhe_without_a_common_curve_moves_to_the_next_suite() -> None:
    profile = client(
        cipher_suites=["ECDHE-RSA-AES128-GCM-SHA256", "AES128-SHA"], groups=["secp256r1"]
    )
    server = ServerCapabilities(
        versions=(c.TLS12,),
        suites={c.TLS12: (ECDHE_RSA_AES128_GCM, AES128_SHA)},
        server_preference={c.TLS12: True},
        groups={c.TLS12: (SECP384R1,)},
        cert_key_type="RSA",
        cert_key_bits=2048,
    )
    sim = simulate(profile, server)
    assert sim.ok and sim.suite == AES128_SHA and sim.group is None
    # Without a fallback suite, the group is the reason.
    only_ecdhe = dataclasses.replace(server, suites={c.TLS12: (ECDHE_RSA_AES128_GCM,)})
    check_fail(
        simulate(profile, only_ecdhe),
        "no_common_group",
        "no common group for ECDHE in TLSv1.2 (server: secp384r1; client: secp256r1)",
    )
    # With a common curve, the ECDHE suite and its group.
    both = dataclasses.replace(server, groups={c.TLS12: (SECP384R1, SECP256R1)})
    sim = simulate(profile, both)
    assert sim.suite == ECDHE_RSA_AES128_GCM and sim.group == SECP256R1


def test_group_preference_follows_the_server_preference_flag() -> None:
    profile = client(cipher_suites=["ECDHE-RSA-AES128-GCM-SHA256"], groups=["x25519", "secp256r1"])
    server = ServerCapabilities(
        versions=(c.TLS12,),
        suites={c.TLS12: (ECDHE_RSA_AES128_GCM,)},
        server_preference={c.TLS12: True},
        groups={c.TLS12: (SECP256R1, X25519)},
        cert_key_type="RSA",
        cert_key_bits=2048,
    )
    assert simulate(profile, server).group == SECP256R1
    assert simulate(profile, dataclasses.replace(server, server_preference={})).group == X25519


def test_client_without_supported_groups_lets_the_server_choose() -> None:
    # RFC 8422 section 4: without the extension the server may pick any curve.
    profile = client(cipher_suites=["ECDHE-RSA-AES128-GCM-SHA256"])
    assert profile.groups == ()
    server = ServerCapabilities(
        versions=(c.TLS12,),
        suites={c.TLS12: (ECDHE_RSA_AES128_GCM,)},
        groups={c.TLS12: (SECP384R1,)},
        cert_key_type="RSA",
        cert_key_bits=2048,
    )
    sim = simulate(profile, server)
    assert sim.ok and sim.group == SECP384R1


def test_tls13_needs_a_common_group() -> None:
    server = dataclasses.replace(MODERN, groups={c.TLS13: (0x0104,), c.TLS12: (X25519,)})
    sim = simulate(BY_ID["chrome_101_win10"], server)
    check_fail(
        sim,
        "no_common_group",
        "no common group in TLSv1.3 (server: ffdhe8192; client: x25519, secp256r1, secp384r1)",
    )
    assert sim.version == c.TLS13


def test_certificate_type_must_fit_the_suite() -> None:
    profile = client(cipher_suites=["ECDHE-ECDSA-AES128-GCM-SHA256"], groups=["secp256r1"])
    server = ServerCapabilities(
        versions=(c.TLS12,),
        suites={c.TLS12: (ECDHE_ECDSA_AES128_GCM,)},
        groups={c.TLS12: (SECP256R1,)},
        cert_key_type="RSA",
        cert_key_bits=2048,
    )
    check_fail(
        simulate(profile, server),
        "cert_type",
        "the server's RSA certificate does not fit the common ECDSA-authenticated suites in TLSv1.2",
    )
    # An RSA suite later in the list is chosen instead.
    profile = client(
        cipher_suites=["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256"],
        groups=["secp256r1"],
    )
    server = dataclasses.replace(
        server, suites={c.TLS12: (ECDHE_ECDSA_AES128_GCM, ECDHE_RSA_AES128_GCM)}
    )
    assert simulate(profile, server).suite == ECDHE_RSA_AES128_GCM


def test_tls13_certificate_needs_a_matching_signature_scheme() -> None:
    profile = client(
        versions=["TLSv1.3"],
        cipher_suites=["TLS_AES_128_GCM_SHA256"],
        groups=["x25519"],
        signature_algorithms=["ecdsa_secp256r1_sha256"],
    )
    ec_server = dataclasses.replace(MODERN, cert_key_type="EC", cert_key_bits=256)
    assert simulate(profile, ec_server).ok
    sim = simulate(profile, MODERN)
    check_fail(
        sim,
        "cert_type",
        "the client offers no TLSv1.3 signature scheme for the server's RSA certificate",
    )
    assert sim.suite == TLS_AES_128_GCM and sim.group == X25519


def test_every_builtin_profile_simulates_without_error() -> None:
    for profile in BY_ID.values():
        for server in (TLS10_RSA, MODERN):
            sim = simulate(profile, server)
            assert sim.reason_code in REASON_CODES
            assert sim.ok == (sim.reason == "") == (sim.reason_code == "")
    current_ok = [p.id for p in BY_ID.values() if p.current and simulate(p, MODERN).ok]
    assert len(current_ok) >= 25


# -- From a scan result ----------------------------------------------------------------------


def leaf(key_type: str, bits: int, sig_hash: str) -> CertificateInfo:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return CertificateInfo(
        subject="CN=scan.example",
        issuer="CN=Test CA",
        common_names=("scan.example",),
        san_dns=("scan.example",),
        san_ip=(),
        serial="01",
        not_before=when,
        not_after=when,
        key_type=key_type,
        key_bits=bits,
        key_curve=None,
        signature_algorithm=f"{sig_hash}WithRSAEncryption",
        signature_hash=sig_hash,
        key_usage=(),
        extended_key_usage=(),
        has_eku=False,
        is_ca=False,
        self_issued=False,
        self_signed=False,
        ocsp_urls=(),
        ca_issuers_urls=(),
        crl_urls=(),
        sha256="00",
        sha1="00",
        must_staple=False,
    )


def test_capabilities_from_result() -> None:
    result = EndpointResult(
        host="scan.example",
        port=443,
        ip="127.0.0.1",
        sni="scan.example",
        outcome="ok",
        protocols=(
            ProtocolResult(version=c.TLS10, supported=True, outcome="accepted"),
            ProtocolResult(version=c.TLS11, supported=False, outcome="alert", alert=70),
            ProtocolResult(version=c.TLS12, supported=True, outcome="accepted"),
        ),
        cipher_suites=(
            SuiteResult(version=c.TLS12, code=AES128_SHA, preference=3),
            SuiteResult(version=c.TLS12, code=ECDHE_RSA_AES128_GCM, preference=1, group=SECP256R1),
            SuiteResult(version=c.TLS12, code=DHE_RSA_AES128_SHA, preference=2, dh_bits=1024),
            SuiteResult(version=c.TLS10, code=AES128_SHA, group=None),
            SuiteResult(version=c.TLS10, code=RC4_SHA, group=None),
        ),
        groups=(
            GroupResult(version=c.TLS12, code=SECP384R1, preference=2),
            GroupResult(version=c.TLS12, code=SECP256R1, preference=1),
        ),
        dh_bits=(1024,),
        certificates=(
            ChainResult(
                versions=(c.TLS12,),
                sni=None,
                key_type="EC",
                der=(b"x",),
                certificates=(leaf("EC", 256, "sha256"),),
            ),
            ChainResult(
                versions=(c.TLS12,),
                sni="scan.example",
                key_type="RSA",
                der=(b"y",),
                certificates=(leaf("RSA", 2048, "sha1"),),
            ),
        ),
        behaviours=Behaviours(alpn=("h2",), server_preference=((c.TLS12, True), (c.TLS10, False))),
    )
    caps = capabilities_from_result(result)
    assert caps.versions == (c.TLS12, c.TLS10)
    assert caps.suites[c.TLS12] == (ECDHE_RSA_AES128_GCM, DHE_RSA_AES128_SHA, AES128_SHA)
    assert caps.suites[c.TLS10] == (AES128_SHA, RC4_SHA)
    assert caps.server_preference == MappingProxyType({c.TLS12: True, c.TLS10: False})
    assert caps.groups[c.TLS12] == (SECP256R1, SECP384R1)
    assert caps.dh_bits == 1024
    assert (caps.cert_key_type, caps.cert_key_bits, caps.cert_signature_hash) == (
        "RSA",
        2048,
        "sha1",
    )
    assert caps.alpn == ("h2",)

    sim = simulate(BY_ID["java_8u161"], caps)
    assert sim.ok and sim.version == c.TLS12 and sim.suite == ECDHE_RSA_AES128_GCM
    assert sim.group == SECP256R1
    assert simulate(BY_ID["chrome_101_win10"], caps).reason_code == "sha1_signature"
    ie8 = simulate(BY_ID["ie_8_xp"], caps)  # client order at TLS 1.0: RC4-MD5 no, RC4-SHA yes
    assert ie8.ok and ie8.version == c.TLS10 and ie8.suite == RC4_SHA


def test_empty_result_gives_empty_capabilities() -> None:
    caps = capabilities_from_result(
        EndpointResult(host="h", port=443, ip=None, sni=None, outcome="refused")
    )
    assert caps.versions == ()
    check_fail(
        simulate(BY_ID["chrome_101_win10"], caps),
        "no_common_version",
        "no common protocol version (client: TLSv1.3..TLSv1.2, server: none)",
    )


@pytest.mark.parametrize("pid", ["openssl_102e", "java_8u161", "safari_154_osx_1231"])
def test_mid_era_clients_get_tls12_ecdhe_on_a_tls12_only_server(pid: str) -> None:
    server = dataclasses.replace(MODERN, versions=(c.TLS12,))
    sim = simulate(BY_ID[pid], server)
    assert sim.ok, sim.reason
    assert sim.version == c.TLS12
    assert sim.group in (X25519, SECP256R1)


def test_ie11_on_windows7_finds_no_suite_on_an_ecdhe_rsa_gcm_only_server() -> None:
    # Windows 7's SChannel pairs AES-GCM only with DHE-RSA or ECDHE-ECDSA.
    sim = simulate(BY_ID["ie_11_win7"], dataclasses.replace(MODERN, versions=(c.TLS12,)))
    assert sim.reason_code == "no_common_suite"
    assert sim.reason.startswith(
        "no common cipher suite in TLSv1.2 (server offers only AEAD suites: "
        "ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-AES256-GCM-SHA384, "
        "ECDHE-RSA-CHACHA20-POLY1305; client offers suites: ECDHE-RSA-AES256-SHA384, "
    )
