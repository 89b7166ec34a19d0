# The lab PKI: every variant has the property it was asked for, checked with
# cryptography (and its X.509 verifier) rather than with our own code.

import datetime
import ipaddress
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from scanner.lab.certs import IssuedCert, Pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


def verify(pki: Pki, leaf: IssuedCert, host: str = "localhost", roots=None) -> None:
    """Build and check the chain the way a client would; raises VerificationError."""
    store = Store(list(roots or [pki.root.cert]))
    builder = PolicyBuilder().store(store)
    name: x509.DNSName | x509.IPAddress
    try:
        name = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        name = x509.DNSName(host)
    verifier = builder.build_server_verifier(name)
    verifier.verify(leaf.cert, list(leaf.chain))


def ext(cert: x509.Certificate, cls):
    return cert.extensions.get_extension_for_class(cls).value


def test_default_leaf_verifies_through_the_intermediate(pki: Pki) -> None:
    leaf = pki.issue("default")
    assert leaf.chain == (pki.intermediate.cert,)
    assert leaf.anchor == pki.root.cert
    assert leaf.cert.issuer == pki.intermediate.cert.subject
    san = ext(leaf.cert, x509.SubjectAlternativeName)
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert leaf.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"
    assert list(ext(leaf.cert, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.SERVER_AUTH]
    verify(pki, leaf, "localhost")
    verify(pki, leaf, "127.0.0.1")


def test_files_hold_what_the_objects_hold(pki: Pki) -> None:
    leaf = pki.issue("files")
    assert x509.load_pem_x509_certificate(leaf.cert_path.read_bytes()) == leaf.cert
    assert x509.load_pem_x509_certificates(leaf.chain_path.read_bytes()) == [pki.intermediate.cert]
    assert x509.load_pem_x509_certificates(leaf.fullchain_path.read_bytes()) == [
        leaf.cert,
        pki.intermediate.cert,
    ]
    key = serialization.load_pem_private_key(leaf.key_path.read_bytes(), password=None)
    assert key.public_key() == leaf.cert.public_key()
    # a root-issued certificate has no intermediates: its chain file is empty
    direct = pki.issue("direct", issuer="root")
    assert direct.chain == () and direct.chain_path.read_bytes() == b""
    verify(pki, direct)


def test_hostname_mismatch_fails_verification(pki: Pki) -> None:
    other = pki.issue("other-name", sans=("www.example.test",))
    verify(pki, other, "www.example.test")
    with pytest.raises(VerificationError):
        verify(pki, other, "localhost")


def test_cn_only_certificate_has_no_san(pki: Pki) -> None:
    cn_only = pki.issue("cn-only", sans=(), cn="localhost")
    with pytest.raises(x509.ExtensionNotFound):
        cn_only.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    with pytest.raises(VerificationError):
        verify(pki, cn_only)


@pytest.mark.parametrize(
    ("key_type", "check"),
    [
        ("rsa1024", lambda k: isinstance(k, rsa.RSAPublicKey) and k.key_size == 1024),
        ("rsa2048", lambda k: isinstance(k, rsa.RSAPublicKey) and k.key_size == 2048),
        ("rsa3072", lambda k: isinstance(k, rsa.RSAPublicKey) and k.key_size == 3072),
        (
            "ecdsa-p256",
            lambda k: isinstance(k, ec.EllipticCurvePublicKey) and k.curve.name == "secp256r1",
        ),
        (
            "ecdsa-p384",
            lambda k: isinstance(k, ec.EllipticCurvePublicKey) and k.curve.name == "secp384r1",
        ),
        ("ed25519", lambda k: isinstance(k, ed25519.Ed25519PublicKey)),
    ],
)
def test_key_types(pki: Pki, key_type: str, check) -> None:
    leaf = pki.issue(f"key-{key_type}", key=key_type)
    assert check(leaf.cert.public_key())
    usage = ext(leaf.cert, x509.KeyUsage)
    assert usage.digital_signature
    assert usage.key_encipherment == key_type.startswith("rsa")


def test_keys_are_cached_per_type_but_cas_have_their_own(pki: Pki) -> None:
    a = pki.issue("cache-a", key="ecdsa-p256")
    b = pki.issue("cache-b", key="ecdsa-p256")
    assert a.cert.public_key() == b.cert.public_key()
    assert pki.root.cert.public_key() != pki.intermediate.cert.public_key()
    assert pki.untrusted_root.cert.public_key() != pki.root.cert.public_key()
    c = pki.issue("cache-c", key="ecdsa-p256", key_slot="other")
    assert c.cert.public_key() != a.cert.public_key()


def test_validity_windows(pki: Pki) -> None:
    now = datetime.datetime.now(datetime.UTC)
    expired = pki.issue("expired", validity="expired")
    assert expired.cert.not_valid_after_utc < now
    future = pki.issue("not-yet-valid", validity="not_yet_valid")
    assert future.cert.not_valid_before_utc > now
    valid = pki.issue("valid", validity="valid")
    assert valid.cert.not_valid_before_utc < now < valid.cert.not_valid_after_utc
    for bad in (expired, future):
        with pytest.raises(VerificationError):
            verify(pki, bad)
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    fixed = pki.issue("fixed-dates", not_before=start, not_after=start + datetime.timedelta(days=1))
    assert fixed.cert.not_valid_before_utc == start


@pytest.mark.parametrize(
    ("name", "key", "issuer", "sig_hash", "oid"),
    [
        ("sig-sha1-rsa", "rsa2048", "root", "sha1", "1.2.840.113549.1.1.5"),
        ("sig-md5-rsa", "rsa2048", "root", "md5", "1.2.840.113549.1.1.4"),
        ("sig-sha384", "rsa2048", "root", "sha384", "1.2.840.113549.1.1.12"),
    ],
)
def test_signature_hashes(pki: Pki, name, key, issuer, sig_hash, oid) -> None:
    leaf = pki.issue(name, key=key, issuer=issuer, hash=sig_hash)
    assert leaf.cert.signature_algorithm_oid.dotted_string == oid
    assert leaf.cert.signature_hash_algorithm.name == sig_hash
    # the legacy signature is real: the issuer's key verifies it
    pki.root.key.public_key().verify(
        leaf.cert.signature,
        leaf.cert.tbs_certificate_bytes,
        padding.PKCS1v15(),
        leaf.cert.signature_hash_algorithm,
    )
    if sig_hash != "sha384":
        # the verifier's profile refuses SHA-1 and MD5 signatures
        with pytest.raises(VerificationError):
            verify(pki, leaf)


def test_sha1_signature_by_an_ecdsa_ca(pki: Pki) -> None:
    ec_ca = pki.issue_ca("ec-ca", key="ecdsa-p256", issuer="root")
    leaf = pki.issue("sig-sha1-ecdsa", issuer=ec_ca, hash="sha1")
    assert leaf.cert.signature_algorithm_oid.dotted_string == "1.2.840.10045.4.1"
    ec_ca.key.public_key().verify(
        leaf.cert.signature, leaf.cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA1())
    )
    assert leaf.chain == (ec_ca.cert,)
    with pytest.raises(ValueError, match="md5"):
        pki.issue("sig-md5-ecdsa", issuer=ec_ca, hash="md5")


@pytest.mark.parametrize(
    ("eku", "expected"),
    [
        (("clientAuth",), [ExtendedKeyUsageOID.CLIENT_AUTH]),
        (("codeSigning",), [ExtendedKeyUsageOID.CODE_SIGNING]),
        (
            ("serverAuth", "clientAuth"),
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        ),
    ],
)
def test_eku(pki: Pki, eku, expected) -> None:
    leaf = pki.issue(f"eku-{'-'.join(eku)}", eku=eku)
    assert list(ext(leaf.cert, x509.ExtendedKeyUsage)) == expected
    if ExtendedKeyUsageOID.SERVER_AUTH not in expected:
        with pytest.raises(VerificationError):
            verify(pki, leaf)


def test_no_eku_and_custom_key_usage(pki: Pki) -> None:
    leaf = pki.issue("no-eku", eku=None, key_usage=("keyEncipherment",))
    with pytest.raises(x509.ExtensionNotFound):
        leaf.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    usage = leaf.cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_encipherment and not usage.value.digital_signature
    sig_only = pki.issue("ku-digital-signature", key_usage=("digitalSignature",))
    assert not ext(sig_only.cert, x509.KeyUsage).key_encipherment
    bare = pki.issue("no-ku", key_usage=None)
    with pytest.raises(x509.ExtensionNotFound):
        bare.cert.extensions.get_extension_for_class(x509.KeyUsage)
    with pytest.raises(ValueError, match="unknown key usage"):
        pki.issue("bad-ku", key_usage=("everything",))


def test_aia_crl_and_must_staple(pki: Pki) -> None:
    leaf = pki.issue(
        "aia",
        ocsp_url="http://127.0.0.1:9/ocsp",
        ca_issuers_url="http://127.0.0.1:9/ca.der",
        crl_url="http://127.0.0.1:9/ca.crl",
        must_staple=True,
    )
    aia = {
        d.access_method.dotted_string: d.access_location.value
        for d in ext(leaf.cert, x509.AuthorityInformationAccess)
    }
    assert aia == {
        "1.3.6.1.5.5.7.48.1": "http://127.0.0.1:9/ocsp",
        "1.3.6.1.5.5.7.48.2": "http://127.0.0.1:9/ca.der",
    }
    (point,) = ext(leaf.cert, x509.CRLDistributionPoints)
    assert point.full_name[0].value == "http://127.0.0.1:9/ca.crl"
    assert leaf.cert.extensions.get_extension_for_oid(ExtensionOID.TLS_FEATURE)
    verify(pki, leaf)


def test_self_signed_and_untrusted_root(pki: Pki) -> None:
    selfie = pki.issue("self-signed", issuer="self")
    assert selfie.cert.issuer == selfie.cert.subject
    assert selfie.is_self_signed and selfie.chain == ()
    assert not ext(selfie.cert, x509.BasicConstraints).ca
    with pytest.raises(VerificationError):
        verify(pki, selfie)

    stranger = pki.issue("untrusted", issuer="untrusted")
    assert stranger.anchor == pki.untrusted_root.cert
    with pytest.raises(VerificationError):
        verify(pki, stranger)
    verify(pki, stranger, roots=[pki.untrusted_root.cert])


def test_ca_variants(pki: Pki) -> None:
    assert ext(pki.root.cert, x509.BasicConstraints).ca
    assert ext(pki.intermediate.cert, x509.BasicConstraints).path_length == 0
    expired_ca = pki.issue_ca("expired-ca", validity="expired")
    leaf = pki.issue("under-expired-ca", issuer=expired_ca)
    assert leaf.chain == (expired_ca.cert,)
    with pytest.raises(VerificationError):
        verify(pki, leaf)
    with pytest.raises(ValueError, match="not a CA"):
        pki.issue("under-a-leaf", issuer=leaf)


def test_client_certificate_exports(pki: Pki) -> None:
    client = pki.issue_client("alice", password=b"s3cret")
    assert list(ext(client.cert, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert client.pkcs12_path is not None and client.encrypted_key_path is not None
    key, cert, extra = pkcs12.load_key_and_certificates(client.pkcs12_path.read_bytes(), b"s3cret")
    assert cert == client.cert and extra == [pki.intermediate.cert]
    assert key is not None and key.public_key() == client.cert.public_key()
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(client.pkcs12_path.read_bytes(), b"wrong")
    pem = client.encrypted_key_path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, password=None)
    loaded = serialization.load_pem_private_key(pem, password=b"s3cret")
    assert loaded.public_key() == client.cert.public_key()


def test_revocation_is_recorded_and_listed_in_a_crl(pki: Pki) -> None:
    leaf = pki.issue("revoked")
    good = pki.issue("not-revoked")
    entry = pki.revoke(leaf)
    assert pki.revocation(leaf.serial) == entry
    assert pki.revocation(good.serial) is None
    crl = pki.build_crl("intermediate")
    assert crl.is_signature_valid(pki.intermediate.key.public_key())
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial) is not None
    assert crl.get_revoked_certificate_by_serial_number(good.serial) is None
    assert (pki.directory / "intermediate.crl").exists()


def test_duplicate_names_are_refused(pki: Pki) -> None:
    pki.issue("twice")
    with pytest.raises(ValueError, match="already exists"):
        pki.issue("twice")


def test_a_lab_of_twenty_certificates_builds_quickly(tmp_path) -> None:
    start = time.perf_counter()
    lab = Pki(tmp_path)
    kinds = ["rsa2048", "ecdsa-p256", "ecdsa-p384", "ed25519", "rsa1024"]
    for i in range(20):
        lab.issue(f"c{i}", key=kinds[i % len(kinds)], validity=("valid", "expired")[i % 2])
    lab.issue_client("client")
    assert time.perf_counter() - start < 2.0
