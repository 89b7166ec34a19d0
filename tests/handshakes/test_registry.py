# Tests for handshakes.registry: facts checked against the reference file, unknown codes
# flowing through as hex, and the generated data being exactly what the generator writes.
from __future__ import annotations

from pathlib import Path

import pytest

from handshakes import registry as r
from handshakes.constants import SSL2, SSL3, TLS10, TLS11, TLS12, TLS13
from tests.generated import assert_regenerates

UP_TO_TLS12 = frozenset({SSL3, TLS10, TLS11, TLS12})
TLS1_UP = frozenset({TLS10, TLS11, TLS12})
ONLY_TLS12 = frozenset({TLS12})
EXPORT_VERSIONS = frozenset({SSL3, TLS10})


# --- versions ----------------------------------------------------------------------------


def test_versions() -> None:
    assert r.VERSIONS == (0x0002, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304)
    names = [r.version_name(v) for v in r.VERSIONS]
    assert names == ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    assert r.version_name(0x7F1C) == "0x7F1C"


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("TLSv1.2", TLS12),
        ("tls1.2", TLS12),
        ("TLS1.2", TLS12),
        ("TLS 1.2", TLS12),
        ("1.2", TLS12),
        ("tls12", TLS12),
        ("TLSv1", TLS10),
        ("TLSv1.0", TLS10),
        ("1.0", TLS10),
        ("TLSv1.1", TLS11),
        ("TLSv1.3", TLS13),
        (" tls1.3 ", TLS13),
        ("ssl3", SSL3),
        ("SSLv3", SSL3),
        ("3.0", SSL3),
        ("SSLv2", SSL2),
        ("ssl2", SSL2),
        ("0x0303", TLS12),
    ],
)
def test_version_from_name(text: str, version: int) -> None:
    assert r.version_from_name(text) == version


@pytest.mark.parametrize("text", ["", "TLSv1.4", "tls", "SSLv4", "0x7F1C", "0xZZ", "http/1.1"])
def test_version_from_name_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="unknown protocol version"):
        r.version_from_name(text)


def test_hex_code() -> None:
    assert r.hex_code(0xC02F) == "0xC02F"
    assert r.hex_code(0x0A) == "0x000A"
    assert r.hex_code(0x010080, 6) == "0x010080"
    assert r.hex_code(42, 2) == "0x2A"


# --- cipher suites -------------------------------------------------------------------------


def test_counts() -> None:
    # 370 lines in cipher-mapping.txt, one folded into an earlier code (SSLv2 0x00,0x00,0x00
    # is int 0, like TLS_NULL_WITH_NULL_NULL), plus the two SCSVs the file does not carry.
    assert len(r.CIPHER_SUITES) == 371
    assert sum(s.is_ssl2 for s in r.CIPHER_SUITES.values()) == 12
    assert sum(s.is_scsv for s in r.CIPHER_SUITES.values()) == 2
    assert len(r.suites_for_version(SSL2)) == 12
    assert len(r.suites_for_version(TLS13)) == 5
    assert r.TLS13_SUITES == (0x1301, 0x1302, 0x1303, 0x1304, 0x1305)


# code, iana, openssl, kx, auth, enc, bits, mac, versions
KNOWN_SUITES = [
    (0x1301, "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", "any", "any", "AESGCM", 128,
     "AEAD", frozenset({TLS13})),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "any", "any",
     "CHACHA20", 256, "AEAD", frozenset({TLS13})),
    (0x1305, "TLS_AES_128_CCM_8_SHA256", "TLS_AES_128_CCM_8_SHA256", "any", "any", "AESCCM8",
     128, "AEAD", frozenset({TLS13})),
    (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE",
     "RSA", "AESGCM", 128, "AEAD", ONLY_TLS12),
    (0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA", "ECDHE", "RSA", "AES",
     256, "SHA1", UP_TO_TLS12),
    (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305",
     "ECDHE", "ECDSA", "CHACHA20", 256, "AEAD", ONLY_TLS12),
    (0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE-RSA-AES256-GCM-SHA384", "DHE", "RSA",
     "AESGCM", 256, "AEAD", ONLY_TLS12),
    (0x00A5, "TLS_DH_DSS_WITH_AES_256_GCM_SHA384", "DH-DSS-AES256-GCM-SHA384", "DH", "DH",
     "AESGCM", 256, "AEAD", ONLY_TLS12),
    (0xC001, "TLS_ECDH_ECDSA_WITH_NULL_SHA", "ECDH-ECDSA-NULL-SHA", "ECDH", "ECDH", "NULL", 0,
     "SHA1", UP_TO_TLS12),
    (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA", "RSA", "RSA", "AES", 128, "SHA1",
     UP_TO_TLS12),
    (0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA", "RSA", "RSA", "3DES", 168, "SHA1",
     UP_TO_TLS12),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5", "RC4-MD5", "RSA", "RSA", "RC4", 128, "MD5",
     UP_TO_TLS12),
    (0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", "ADH-AES128-SHA", "DHE", "anon", "AES", 128,
     "SHA1", UP_TO_TLS12),
    (0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", "EXP-RC4-MD5", "RSA", "RSA", "RC4", 40, "MD5",
     EXPORT_VERSIONS),
    (0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", "EXP-EDH-RSA-DES-CBC-SHA", "DHE", "RSA",
     "DES", 40, "SHA1", EXPORT_VERSIONS),
    (0x00AF, "TLS_PSK_WITH_AES_256_CBC_SHA384", "PSK-AES256-CBC-SHA384", "PSK", "PSK", "AES",
     256, "SHA384", TLS1_UP),
    (0xC09C, "TLS_RSA_WITH_AES_128_CCM", "AES128-CCM", "RSA", "RSA", "AESCCM", 128, "AEAD",
     ONLY_TLS12),
    (0x0096, "TLS_RSA_WITH_SEED_CBC_SHA", "SEED-SHA", "RSA", "RSA", "SEED", 128, "SHA1",
     UP_TO_TLS12),
    (0x0081, "TLS_GOSTR341001_WITH_28147_CNT_IMIT", "GOST2001-GOST89-GOST89", "GOST", "GOST",
     "GOST89", 256, "GOST89MAC", UP_TO_TLS12),
    (0xFF85, "GOST2012256-GOST89-GOST89", "GOST2012256-GOST89-GOST89", "GOST", "GOST", "GOST89",
     256, "GOST89MAC", UP_TO_TLS12),
    (0x16B7, "TLS_CECPQ1_RSA_WITH_CHACHA20_POLY1305_SHA256", "", "CECPQ1", "RSA", "CHACHA20",
     256, "AEAD", ONLY_TLS12),
    (0x010080, "SSL_CK_RC4_128_WITH_MD5", "RC4-MD5", "RSA", "RSA", "RC4", 128, "MD5",
     frozenset({SSL2})),
    (0x0700C0, "SSL_CK_DES_192_EDE3_CBC_WITH_MD5", "DES-CBC3-MD5", "RSA", "RSA", "3DES", 168,
     "MD5", frozenset({SSL2})),
    (0x020080, "SSL_CK_RC4_128_EXPORT40_WITH_MD5", "EXP-RC4-MD5", "RSA", "RSA", "RC4", 40, "MD5",
     frozenset({SSL2})),
]


@pytest.mark.parametrize("fact", KNOWN_SUITES, ids=lambda f: r.hex_code(f[0]))
def test_known_suite(fact: tuple[object, ...]) -> None:
    code, iana, openssl, kx, auth, enc, bits, mac, versions = fact
    assert isinstance(code, int)
    suite = r.cipher_suite(code)
    assert suite is not None
    assert (suite.code, suite.iana, suite.openssl) == (code, iana, openssl)
    assert (suite.kx, suite.auth, suite.enc, suite.bits, suite.mac) == (kx, auth, enc, bits, mac)
    assert suite.versions == versions
    assert r.cipher_suite_name(code) == iana


def test_properties_and_weaknesses() -> None:
    def suite(code: int) -> r.CipherSuite:
        found = r.cipher_suite(code)
        assert found is not None
        return found

    assert suite(0xC02F).is_aead and suite(0xC02F).weaknesses == ()
    assert suite(0x000A).weaknesses == ("3des",)
    assert suite(0x0004).weaknesses == ("rc4", "md5")
    assert suite(0x0017).weaknesses == ("anonymous", "export", "rc4", "md5")  # EXP-ADH-RC4-MD5
    assert suite(0x0000).weaknesses == ("null", "anonymous")
    assert suite(0x0000).versions == frozenset()  # RFC 5246 A.5: never negotiated
    assert suite(0x0001).is_null and not suite(0x0001).is_anonymous
    assert suite(0x0009).weaknesses == ("des",)
    assert suite(0x010080).is_ssl2 and not suite(0x0004).is_ssl2
    for scsv in (0x00FF, 0x5600):
        assert suite(scsv).is_scsv and suite(scsv).versions == frozenset()
        assert suite(scsv).weaknesses == ()
        assert scsv not in r.suites_for_version(TLS12)
    assert r.cipher_suite_name(0x5600) == "TLS_FALLBACK_SCSV"


def test_export_suites_not_in_tls11() -> None:
    exports = [s for s in r.CIPHER_SUITES.values() if s.is_export]
    assert len(exports) == 23
    for s in exports:
        assert not s.versions & {TLS11, TLS12, TLS13}, s.iana
    for version in (TLS11, TLS12):
        assert not any(r.CIPHER_SUITES[c].is_export for c in r.suites_for_version(version))
    assert 0x0003 in r.suites_for_version(TLS10)
    assert 0x0003 not in r.suites_for_version(TLS11)


def test_suites_for_version() -> None:
    tls12 = r.suites_for_version(TLS12)
    assert 0xC02F in tls12 and 0x000A in tls12 and 0x1301 not in tls12
    assert len(tls12) == len(set(tls12))
    assert all(code > 0xFFFF for code in r.suites_for_version(SSL2))
    assert set(r.suites_for_version(TLS13)) == set(r.TLS13_SUITES)
    assert r.suites_for_version(0x7F1C) == ()
    # Reference-file order, not numeric order: the file opens with 0x1302.
    assert r.suites_for_version(TLS13)[0] == 0x1302
    for version in r.VERSIONS:
        for code in r.suites_for_version(version):
            assert version in r.CIPHER_SUITES[code].versions


def test_unknown_suite_flows_through() -> None:
    assert r.cipher_suite(0xC0FF) is None
    assert r.cipher_suite_name(0xC0FF) == "0xC0FF"
    assert r.cipher_suite_name(0x0A0A) == "0x0A0A"
    assert r.cipher_suite_name(0x123456) == "0x123456"


def test_cipher_suite_by_name() -> None:
    by_iana = r.cipher_suite_by_name("tls_ecdhe_rsa_with_aes_128_gcm_sha256")
    assert by_iana is not None and by_iana.code == 0xC02F
    by_openssl = r.cipher_suite_by_name("ECDHE-RSA-AES128-GCM-SHA256")
    assert by_openssl is by_iana
    # OpenSSL names shared by an SSLv2 kind and a TLS suite resolve to the TLS suite.
    rc4 = r.cipher_suite_by_name("rc4-md5")
    assert rc4 is not None and rc4.code == 0x0004
    ssl2 = r.cipher_suite_by_name("SSL_CK_RC4_128_WITH_MD5")
    assert ssl2 is not None and ssl2.code == 0x010080
    assert r.cipher_suite_by_name("DES-CBC3-MD5") is r.cipher_suite(0x0700C0)
    assert r.cipher_suite_by_name("no-such-suite") is None
    assert r.cipher_suite_by_name("") is None


def test_suite_codes_and_names_are_consistent() -> None:
    for code, suite in r.CIPHER_SUITES.items():
        assert suite.code == code
        assert suite.iana
        assert suite.bits >= 0
        assert (suite.bits == 0) == suite.is_null or suite.is_scsv
        if suite.is_ssl2:
            assert suite.versions == frozenset({SSL2})
        assert isinstance(suite.versions, frozenset)


# --- groups, signature schemes, extensions, handshake types ---------------------------------


def test_groups() -> None:
    x25519 = r.GROUPS[0x001D]
    assert (x25519.name, x25519.kind, x25519.bits, x25519.tls13) == ("x25519", "x", 255, True)
    p256 = r.GROUPS[0x0017]
    assert (p256.name, p256.kind, p256.bits, p256.tls13) == ("secp256r1", "ecdhe", 256, True)
    hybrid = r.GROUPS[0x11EC]
    assert (hybrid.name, hybrid.kind, hybrid.bits, hybrid.tls13) == (
        "X25519MLKEM768", "hybrid", 255, True,
    )
    assert r.group_name(0x11EB) == "SecP256r1MLKEM768"
    assert r.group_name(0x11ED) == "SecP384r1MLKEM1024"
    assert r.group_name(0x6399) == "X25519Kyber768Draft00"
    ffdhe = r.GROUPS[0x0100]
    assert (ffdhe.name, ffdhe.kind, ffdhe.bits, ffdhe.tls13) == ("ffdhe2048", "ffdhe", 2048, True)
    assert r.GROUPS[0x0104].bits == 8192
    assert not r.GROUPS[0x001A].tls13  # brainpoolP256r1: TLS 1.2 only (RFC 8446 4.2.7)
    assert r.GROUPS[0x001F].tls13  # brainpoolP256r1tls13 (RFC 8734)
    assert not r.GROUPS[0x0016].tls13  # secp256k1
    assert r.GROUPS[0xFF01].kind == "legacy"
    assert r.GROUPS[0x0029].kind == "sm2"
    assert r.GROUPS[0x0022].kind == "gost"
    assert r.group_name(0x001D) == "x25519"
    assert r.group_name(0x0000) == "0x0000"
    assert r.group_name(0x4242) == "0x4242"


def test_signature_schemes() -> None:
    assert r.signature_scheme_name(0x0804) == "rsa_pss_rsae_sha256"
    assert r.signature_scheme_name(0x0403) == "ecdsa_secp256r1_sha256"
    assert r.signature_scheme_name(0x0807) == "ed25519"
    assert r.signature_scheme_name(0x0201) == "rsa_pkcs1_sha1"
    assert r.signature_scheme_name(0x0202) == "dsa_sha1"
    assert r.signature_scheme_name(0x0303) == "ecdsa_sha224"
    assert r.signature_scheme_name(0x0101) == "rsa_md5"
    assert r.signature_scheme_name(0x0905) == "mldsa65"
    assert r.SIGNATURE_SCHEMES[0x0601].name == "rsa_pkcs1_sha512"
    assert r.signature_scheme_name(0xFEFE) == "0xFEFE"


def test_extensions_and_handshake_types() -> None:
    assert r.extension_name(0) == "server_name"
    assert r.extension_name(51) == "key_share"
    assert r.extension_name(43) == "supported_versions"
    assert r.extension_name(0xFF01) == "renegotiation_info"
    assert r.extension_name(0x3374) == "next_protocol_negotiation"
    assert r.extension_name(0x4469) == "application_settings"
    assert r.extension_name(0x2A2A) == "GREASE"
    assert r.extension_name(0xBEEF) == "0xBEEF"
    assert r.handshake_type_name(2) == "server_hello"
    assert r.handshake_type_name(11) == "certificate"
    assert r.HANDSHAKE_TYPE_NAMES[254] == "message_hash"
    assert r.handshake_type_name(99) == "0x63"


# --- alerts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name", "words"),
    [
        (42, "bad_certificate", "corrupt"),
        (47, "illegal_parameter", "inconsistent"),
        (70, "protocol_version", "not supported"),
        (112, "unrecognized_name", "server_name"),
        (116, "certificate_required", "client certificate"),
    ],
)
def test_alerts(code: int, name: str, words: str) -> None:
    assert r.alert_name(code) == name
    meaning = r.alert_meaning(code)
    assert words in meaning
    assert meaning.endswith(".") and meaning[0].isupper()
    assert r.ALERTS[code].code == code


def test_alert_registry() -> None:
    assert r.alert_meaning(42) == (
        "A certificate was corrupt, contained signatures that did not verify correctly, etc."
    )
    rfc8446 = {0, 10, 20, 21, 22, 30, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 60, 70,
               71, 80, 86, 90, 100, 109, 110, 111, 112, 113, 114, 115, 116, 120}
    assert rfc8446 | {121} == set(r.ALERTS)
    for code in (21, 30, 41, 60, 100, 111, 114):
        assert "legacy" in r.alert_meaning(code).lower(), code
    assert r.alert_name(40) == "handshake_failure"
    assert r.alert_name(86) == "inappropriate_fallback"
    assert r.alert_name(200) == "0xC8"
    assert r.alert_meaning(200) == "Unknown alert description (not in the IANA registry)."


# --- GREASE ---------------------------------------------------------------------------------


def test_grease() -> None:
    assert r.GREASE_VALUES[0] == 0x0A0A and r.GREASE_VALUES[-1] == 0xFAFA
    assert len(r.GREASE_VALUES) == 16
    assert all(r.is_grease(v) for v in r.GREASE_VALUES)
    grease = [v for v in range(0x10000) if r.is_grease(v)]
    assert tuple(grease) == r.GREASE_VALUES
    assert not r.is_grease(0x0A1A) and not r.is_grease(0x1301)


# --- the generated data ---------------------------------------------------------------------


def test_generated_data_is_reproducible(tmp_path: Path) -> None:
    assert_regenerates("tools/gen_registry.py", "handshakes/_registry_data.py", "cipher-mapping.txt", "make registry", tmp_path)
