# Policies: YAML loading (errors name the file and the field), the Mozilla data, the what-if
# on hand-built capabilities, the client-policy derivation, and compliance of a real server.
from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest
import yaml

from handshakes import constants as c
from handshakes import registry as reg
from scanner.api import scan_endpoint
from scanner.audit.mozilla import MOZILLA_POLICIES, mozilla_policy
from scanner.audit.policy import (
    CertificateRequirement,
    PolicyError,
    ServerPolicy,
    apply_client_policy,
    apply_server_policy,
    compliance,
    load_client_policy,
    load_server_policy,
)
from scanner.profiles import load_builtin_profiles
from scanner.simulate import ServerCapabilities

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "policies"
BY_ID = {p.id: p for p in load_builtin_profiles()}


def write(tmp_path: Path, data: object, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_the_example_policies_load() -> None:
    server = load_server_policy(EXAMPLES / "no-legacy-tls.yaml")
    assert (server.name, server.min_version, server.max_version) == ("no-legacy-tls", c.TLS12, c.TLS13)
    assert server.versions == (c.TLS13, c.TLS12)
    assert server.suites is None and server.groups is None and server.server_preference is None
    client = load_client_policy(EXAMPLES / "java8-aead.yaml")
    assert (client.base, client.min_version, client.aead_only, client.forward_secrecy) == (
        "java_8u161", c.TLS12, True, True,
    )


def test_a_full_server_policy(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "name": "ours",
            "min_version": "TLS 1.2",
            "max_version": "TLSv1.3",
            "cipher_suites": ["TLS_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "0xC030"],
            "groups": "X25519:prime256v1",
            "server_preference": True,
            "certificate": [{"type": "RSA", "min_bits": 3072}, {"type": "ECDSA", "curves": ["P-256"]}],
            "certificate_signatures": ["SHA256", "sha384"],
            "dh_bits": 2048,
        },
    )
    policy = load_server_policy(path)
    assert policy.suites == (0x1301, 0xC02F, 0xC030)
    assert policy.groups == (0x001D, 0x0017)
    assert policy.certificates == (
        CertificateRequirement(key_type="RSA", min_bits=3072),
        CertificateRequirement(key_type="EC", curves=("secp256r1",)),
    )
    assert policy.certificate_signatures == ("sha256", "sha384")
    assert policy.source == str(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"max_version": "TLSv1.3"}, "field 'min_version' is required (e.g. TLSv1.2)"),
        ({"min_version": "TLSv1.9"}, "field 'min_version': unknown protocol version"),
        ({"min_version": "TLSv1.3", "max_version": "TLSv1.2"}, "field 'min_version': TLSv1.3 is above max_version TLSv1.2"),
        ({"min_version": "TLSv1.2", "cipher_suites": ["AES128-SHA", "NOPE-SHA"]}, "field 'cipher_suites' entry 2: unknown cipher suite 'NOPE-SHA'"),
        ({"min_version": "TLSv1.2", "groups": []}, "field 'groups' must be a non-empty list"),
        ({"min_version": "TLSv1.2", "certificate": {"type": "DSA2"}}, "field 'certificate': 'type' must be one of"),
        ({"min_version": "TLSv1.2", "certificate": [{"type": "RSA", "curves": ["P-256"]}]}, "field 'certificate' entry 1: 'curves' applies to ECDSA keys only"),
        ({"min_version": "TLSv1.2", "dh_bits": "big"}, "field 'dh_bits' must be a positive number of bits"),
        ({"min_version": "TLSv1.2", "minimum": "TLSv1.2"}, "unknown field 'minimum'"),
        ("- just\n- a list\n", "a policy must be a mapping of fields, not list"),
        ("min_version: [TLSv1.2\n", "not valid YAML"),
    ],
)
def test_server_policy_errors_name_file_and_field(tmp_path: Path, data: object, message: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(PolicyError) as info:
        load_server_policy(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"min_version": "TLSv1.2"}, "field 'base' is required"),
        ({"base": "java_8u161", "cipher_suites": {"aead": True}}, "field 'cipher_suites': unknown key 'aead'"),
        ({"base": "java_8u161", "cipher_suites": {"aead_only": "yes"}}, "field 'cipher_suites': 'aead_only' must be true or false"),
        ({"base": "java_8u161", "min_rsa_bits": 0}, "field 'min_rsa_bits' must be a positive number of bits"),
    ],
)
def test_client_policy_errors_name_file_and_field(tmp_path: Path, data: object, message: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(PolicyError, match="^" + str(path).replace(".", r"\.")) as info:
        load_client_policy(path)
    assert message in str(info.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="nope.yaml: cannot read"):
        load_server_policy(tmp_path / "nope.yaml")


def test_mozilla_policies_are_the_guidelines_data() -> None:
    modern, intermediate, old = (MOZILLA_POLICIES[n] for n in ("mozilla-modern", "mozilla-intermediate", "mozilla-old"))
    assert modern.versions == (c.TLS13,)
    assert modern.suites == (0x1301, 0x1302, 0x1303)
    assert modern.groups == (0x001D, 0x0017, 0x0018)
    assert modern.server_preference is False
    assert modern.certificates == (CertificateRequirement(key_type="EC", curves=("secp256r1", "secp384r1")),)
    assert intermediate.versions == (c.TLS13, c.TLS12)
    names = [reg.cipher_suite(s).openssl for s in intermediate.suites or ()]  # type: ignore[union-attr]
    assert names[3:] == [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
    ]
    assert intermediate.dh_bits == 2048
    assert [r.describe() for r in intermediate.certificates] == ["RSA >= 2048", "ECDSA P-256/P-384"]
    assert old.versions == (c.TLS13, c.TLS12, c.TLS11, c.TLS10)
    assert old.server_preference is True and old.dh_bits == 1024
    assert old.suites is not None and len(old.suites) == 3 + 26 and old.suites[-1] == 0x000A  # DES-CBC3-SHA
    assert mozilla_policy("intermediate") is intermediate
    with pytest.raises(KeyError, match="unknown built-in policy"):
        mozilla_policy("mozilla-ancient")


LEGACY = ServerCapabilities(
    versions=(c.TLS12, c.TLS11, c.TLS10),
    suites=MappingProxyType(
        {
            c.TLS12: (0xC030, 0xC02F, 0xC013, 0x002F, 0x000A),
            c.TLS11: (0xC013, 0x002F, 0x000A),
            c.TLS10: (0xC013, 0x002F, 0x000A),
        }
    ),
    server_preference=MappingProxyType({c.TLS12: True, c.TLS11: True, c.TLS10: True}),
    groups=MappingProxyType({c.TLS12: (0x0017, 0x001D)}),
    dh_bits=1024,
    cert_key_type="RSA",
    cert_key_bits=1024,
    cert_signature_hash="sha1",
)


def test_apply_server_policy_only_takes_away_and_sets_what_it_says() -> None:
    after = apply_server_policy(LEGACY, mozilla_policy("intermediate"))
    assert after.versions == (c.TLS12,)  # TLS 1.3 is allowed, but the server has none today
    # Allowed suites only, in the server's order (intermediate leaves the order to clients).
    assert after.suites == {c.TLS12: (0xC030, 0xC02F)}
    assert after.server_preference == {c.TLS12: False}
    assert after.groups == {c.TLS12: (0x0017, 0x001D)}
    # RSA 1024 meets neither RSA >= 2048 nor ECDSA: the first requirement replaces it.
    assert (after.cert_key_type, after.cert_key_bits, after.cert_signature_hash) == ("RSA", 2048, "sha256")
    assert after.dh_bits == 2048

    # A policy that imposes its order reorders what is left.
    ordered = ServerPolicy(
        name="t", source="test", min_version=c.TLS10, max_version=c.TLS12,
        suites=(0x000A, 0x002F, 0xC02F), server_preference=True,
        certificates=(CertificateRequirement(key_type="EC", curves=("secp256r1",)),),
    )
    after = apply_server_policy(LEGACY, ordered)
    assert after.suites[c.TLS12] == (0x000A, 0x002F, 0xC02F)
    assert after.suites[c.TLS10] == (0x000A, 0x002F)
    assert (after.cert_key_type, after.cert_key_bits) == ("EC", 256)


def test_client_policy_derives_a_restricted_profile(tmp_path: Path) -> None:
    policy = load_client_policy(EXAMPLES / "java8-aead.yaml")
    base = BY_ID["java_8u161"]
    derived = apply_client_policy(base, policy)
    assert derived.id == "java8-aead"
    assert derived.versions == (c.TLS12,)
    real = [reg.cipher_suite(s) for s in derived.cipher_suites]
    assert real and all(i is not None for i in real)
    assert all(i.is_aead and i.kx in ("ECDHE", "DHE") for i in real if i is not None and not i.is_scsv)
    # Kept in the base's order; the renegotiation SCSV stays.
    assert list(derived.cipher_suites) == [s for s in base.cipher_suites if s in derived.cipher_suites]
    assert 0x00FF in derived.cipher_suites
    # A TLS 1.3 client cut down to TLS 1.2 stops sending supported_versions and key_share.
    chrome = apply_client_policy(
        BY_ID["chrome_101_win10"],
        load_client_policy(write(tmp_path, {"base": "chrome_101_win10", "max_version": "TLSv1.2"})),
    )
    sent = {t for t, _ in chrome.extensions}
    assert c.EXT_SUPPORTED_VERSIONS not in sent and c.EXT_KEY_SHARE not in sent
    assert chrome.versions == (c.TLS12,) and chrome.legacy_version == c.TLS12
    assert not any(s in reg.TLS13_SUITES for s in chrome.cipher_suites)
    with pytest.raises(PolicyError, match="no version of ie_8_xp is within"):
        apply_client_policy(
            BY_ID["ie_8_xp"],
            load_client_policy(write(tmp_path, {"base": "ie_8_xp", "min_version": "TLSv1.2"}, "ie.yaml")),
        )


async def test_compliance_of_a_lab_server_with_mozilla_policies(lab, audit_pki, scan_options) -> None:
    weak = audit_pki.issue("audit-weak-rsa1024", key="rsa1024")
    _, target = lab(
        "legacy",
        cert=weak,
        cipher="ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:AES128-SHA",
        server_pref=True,
        groups="X25519:P-256",
    )
    result = await scan_endpoint(target, scan_options)
    assert result.outcome == "ok"
    got = [(d.kind, d.message) for d in compliance(result, mozilla_policy("intermediate"))]
    assert got == [
        ("version_enabled", "TLSv1.1 enabled but the policy's minimum is TLSv1.2"),
        ("version_enabled", "TLSv1.0 enabled but the policy's minimum is TLSv1.2"),
        ("version_missing", "TLSv1.3 not enabled but the policy includes it"),
        ("suite_not_allowed", "suite TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA (ECDHE-RSA-AES128-SHA) accepted in TLSv1.2 but not allowed"),
        ("suite_not_allowed", "suite TLS_RSA_WITH_AES_128_CBC_SHA (AES128-SHA) accepted in TLSv1.2 but not allowed"),
        ("suite_missing", "missing required suite TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (ECDHE-RSA-AES256-GCM-SHA384)"),
        ("suite_missing", "missing required suite TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 (ECDHE-RSA-CHACHA20-POLY1305)"),
        ("suite_missing", "missing required suite TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 (DHE-RSA-AES128-GCM-SHA256)"),
        ("suite_missing", "missing required suite TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 (DHE-RSA-AES256-GCM-SHA384)"),
        ("suite_missing", "missing required suite TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256 (DHE-RSA-CHACHA20-POLY1305)"),
        ("group_missing", "group secp384r1 missing in TLSv1.2"),
        ("order", "the server imposes its own cipher order in TLSv1.2 but the policy leaves the choice to the client"),
        ("certificate_key", "certificate key RSA 1024 but policy requires RSA >= 2048 or ECDSA P-256/P-384"),
    ]
    modern = [d.message for d in compliance(result, mozilla_policy("modern"))]
    assert modern == [
        "TLSv1.2 enabled but the policy's minimum is TLSv1.3",
        "TLSv1.1 enabled but the policy's minimum is TLSv1.3",
        "TLSv1.0 enabled but the policy's minimum is TLSv1.3",
        "TLSv1.3 not enabled but the policy includes it",
        "certificate key RSA 1024 but policy requires ECDSA P-256/P-384",
    ]


async def test_a_compliant_lab_server_has_no_deviation(lab, audit_pki, scan_options) -> None:
    ecdsa = audit_pki.issue("audit-ecdsa", key="ecdsa-p256")
    _, target = lab(
        "modern",
        cert=ecdsa,
        cipher="ECDHE-ECDSA-AES128-GCM-SHA256",
        min_version=0x0304,
        groups="X25519:P-256:P-384",
    )
    result = await scan_endpoint(target, scan_options)
    assert compliance(result, mozilla_policy("modern")) == ()
