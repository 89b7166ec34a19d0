# Certificate decoding and chain judgement, with certificates made here by `cryptography`.
#
# Each defect a chain can have is produced on its own and must show up as its problem code;
# a chain with several defects must list all of them.

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.x509 import (
    CertificateDecodeError,
    TrustStoreError,
    decode_certificate,
    dn_to_string,
    issuer_certificate,
    load_trust_store,
    match_hostname,
    validate_chain,
)

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)
SERVER = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class Made:
    cert: x509.Certificate
    key: Key

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def pem_file(self, tmp_path: Path, name: str) -> str:
        path = tmp_path / name
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return str(path)


_EC_KEYS: list[Key] = []


def ec_key(slot: int) -> Key:
    while len(_EC_KEYS) <= slot:
        _EC_KEYS.append(ec.generate_private_key(ec.SECP256R1()))
    return _EC_KEYS[slot]


def name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlscompat tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make(
    cn: str,
    *,
    key: Key,
    issuer: Made | None = None,
    ca: bool = False,
    sans: Sequence[str] = ("example.test",),
    ips: Sequence[str] = (),
    eku: Sequence[x509.ObjectIdentifier] | None = (SERVER,),
    key_usage: dict[str, bool] | None = None,
    not_before: dt.datetime = NOW - DAY,
    not_after: dt.datetime = NOW + 30 * DAY,
    ca_issuers: Sequence[str] = (),
    ocsp: Sequence[str] = (),
    crl: Sequence[str] = (),
    must_staple: bool = False,
    serial: int | None = None,
) -> Made:
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.cert.subject if issuer else name(cn)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), False
        )
    )
    bits = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    if ca:
        bits.update(digital_signature=True, key_cert_sign=True, crl_sign=True)
        builder = builder.add_extension(x509.KeyUsage(**bits), critical=True)
    elif key_usage is not None:
        bits.update(key_usage)
        builder = builder.add_extension(x509.KeyUsage(**bits), critical=True)
    if not ca and (sans or ips):
        general: list[x509.GeneralName] = [x509.DNSName(s) for s in sans]
        general += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(general), critical=False)
    if not ca and eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    access = [
        x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u)
        )
        for u in ocsp
    ] + [
        x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(u)
        )
        for u in ca_issuers
    ]
    if access:
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), False)
    if crl:
        points = [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(u)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
            for u in crl
        ]
        builder = builder.add_extension(x509.CRLDistributionPoints(points), False)
    if must_staple:
        builder = builder.add_extension(
            x509.TLSFeature([x509.TLSFeatureType.status_request]), False
        )
    return Made(cert=builder.sign(signer_key, hashes.SHA256()), key=key)


@pytest.fixture(scope="module")
def pki() -> dict[str, Made]:
    root = make("Test Root", key=ec_key(0), ca=True, not_after=NOW + 3650 * DAY)
    inter = make("Test Intermediate", key=ec_key(1), issuer=root, ca=True)
    leaf = make(
        "example.test",
        key=ec_key(2),
        issuer=inter,
        sans=("example.test", "*.wild.test"),
        ips=("127.0.0.1",),
        ca_issuers=("http://127.0.0.1:9/int.der",),
        ocsp=("http://127.0.0.1:9/ocsp",),
        crl=("http://127.0.0.1:9/crl.der",),
        must_staple=True,
    )
    other_root = make("Other Root", key=ec_key(3), ca=True)
    return {"root": root, "inter": inter, "leaf": leaf, "other_root": other_root}


@pytest.fixture
def root_file(pki: dict[str, Made], tmp_path: Path) -> str:
    return pki["root"].pem_file(tmp_path, "root.pem")


def check(chain: Sequence[Made], root_file: str, hostname: str | None = "example.test", **kw):
    return validate_chain(
        [m.der for m in chain], hostname=hostname, ca_file=root_file, use_system_store=False, **kw
    )


# --- decoding


def test_decode_fields(pki: dict[str, Made]) -> None:
    leaf = pki["leaf"]
    info = decode_certificate(leaf.der)
    assert info.subject == "CN=example.test,O=tlscompat tests"
    assert info.issuer == "CN=Test Intermediate,O=tlscompat tests"
    assert info.common_names == ("example.test",)
    assert info.san_dns == ("example.test", "*.wild.test")
    assert info.san_ip == ("127.0.0.1",)
    assert info.serial == format(leaf.cert.serial_number, "X")
    assert info.not_before == NOW - DAY and info.not_before.tzinfo is not None
    assert (info.key_type, info.key_bits, info.key_curve) == ("EC", 256, "secp256r1")
    assert info.signature_algorithm == "ecdsa-with-SHA256"
    assert info.signature_hash == "sha256"
    assert info.extended_key_usage == ("serverAuth",) and info.has_eku
    assert info.key_usage == ()
    assert not info.is_ca and not info.self_issued and not info.self_signed
    assert info.ocsp_urls == ("http://127.0.0.1:9/ocsp",)
    assert info.ca_issuers_urls == ("http://127.0.0.1:9/int.der",)
    assert info.crl_urls == ("http://127.0.0.1:9/crl.der",)
    assert info.sha256 == hashlib.sha256(leaf.der).hexdigest().upper()
    assert info.sha1 == leaf.cert.fingerprint(hashes.SHA1()).hex().upper()
    assert info.must_staple
    assert info.broken_extensions == ()

    root = decode_certificate(pki["root"].cert.public_bytes(serialization.Encoding.PEM))
    assert root.is_ca and root.self_issued and root.self_signed
    assert root.key_usage == ("digitalSignature", "keyCertSign", "cRLSign")
    assert not root.has_eku and root.extended_key_usage == ()


def test_decode_eku_names_and_rsa() -> None:
    odd = x509.ObjectIdentifier("1.3.6.1.4.1.99999.1")
    made = make(
        "eku.test",
        key=rsa.generate_private_key(public_exponent=65537, key_size=1024),
        eku=(CLIENT, ExtendedKeyUsageOID.CODE_SIGNING, odd),
        key_usage={"digital_signature": True, "key_encipherment": True},
    )
    info = decode_certificate(made.der)
    assert info.extended_key_usage == ("clientAuth", "codeSigning", "1.3.6.1.4.1.99999.1")
    assert info.key_usage == ("digitalSignature", "keyEncipherment")
    assert (info.key_type, info.key_bits, info.key_curve) == ("RSA", 1024, None)
    assert info.signature_algorithm == "sha256WithRSAEncryption"
    assert info.self_signed


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00", b"\x30\x82\xff\xff", b"hello world" * 10, b"-----BEGIN CERTIFICATE-----\nxx"],
)
def test_garbage_raises_decode_error(garbage: bytes) -> None:
    with pytest.raises(CertificateDecodeError, match="certificate"):
        decode_certificate(garbage)


_MUTANT_BASE = make(
    "mutant.test",
    key=ec_key(6),
    sans=("mutant.test",),
    ips=("::1",),
    ca_issuers=("http://127.0.0.1:9/i",),
    crl=("http://127.0.0.1:9/c",),
    key_usage={"digital_signature": True},
).der


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_only_raise_decode_error(data: bytes) -> None:
    try:
        decode_certificate(data)
    except CertificateDecodeError:
        pass
    assert isinstance(dn_to_string(data), str)


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(_MUTANT_BASE) - 1), value=st.integers(0, 255))
def test_mutated_certificate_only_raises_decode_error(index: int, value: int) -> None:
    mutant = bytearray(_MUTANT_BASE)
    mutant[index] = value
    judged = validate_chain([bytes(mutant)], hostname="mutant.test", use_system_store=False)
    assert not judged.trusted
    try:
        info = decode_certificate(bytes(mutant))
    except CertificateDecodeError:
        return
    assert len(info.sha256) == 64


def test_broken_extension_is_skipped() -> None:
    key = ec_key(4)
    bad_san = x509.UnrecognizedExtension(
        x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x03\x01\x02"
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("broken.test"))
        .issuer_name(name("broken.test"))
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .add_extension(bad_san, critical=False)
        .add_extension(x509.ExtendedKeyUsage([SERVER]), critical=False)
        .sign(key, hashes.SHA256())
    )
    info = decode_certificate(cert.public_bytes(serialization.Encoding.DER))
    assert info.broken_extensions == ("2.5.29.17",)
    assert info.extended_key_usage == ("serverAuth",)
    assert info.san_dns == ()
    assert info.self_signed  # the signature is checked on the original bytes


def test_dn_to_string() -> None:
    der = name("CA one").public_bytes()
    assert dn_to_string(der) == "CN=CA one,O=tlscompat tests"
    assert dn_to_string(x509.Name([]).public_bytes()) == ""
    assert dn_to_string(b"\x01\x02\x03").startswith("<undecodable name: 010203")
    assert dn_to_string(der + b"\x00").startswith("<undecodable name: ")
    assert dn_to_string(b"\x30\x03\x02\x01\x01").startswith("<undecodable name: ")


# --- host names


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("example.test", True),
        ("EXAMPLE.test.", True),
        ("a.wild.test", True),
        ("wild.test", False),
        ("a.b.wild.test", False),
        ("127.0.0.1", True),
        ("[127.0.0.1]", True),
        ("127.0.0.2", False),
        ("other.test", False),
    ],
)
def test_match_hostname(pki: dict[str, Made], host: str, ok: bool) -> None:
    assert match_hostname(decode_certificate(pki["leaf"].der), host) == (ok, False)


def test_wildcard_rules() -> None:
    made = make("x", key=ec_key(4), sans=("*.test", "f*o.example.test", "*.*.example.test"))
    info = decode_certificate(made.der)
    for host in ("a.test", "foo.example.test", "a.b.example.test"):
        assert match_hostname(info, host) == (False, False)


# --- validation


def test_good_chain(pki: dict[str, Made], root_file: str) -> None:
    result = check([pki["leaf"], pki["inter"]], root_file)
    assert result.trusted, result.error
    assert result.hostname_ok is True
    assert result.problems == () and result.webpki_deviations == ()
    assert result.error is None and result.missing_issuer is None
    assert result.path == (
        "CN=example.test,O=tlscompat tests",
        "CN=Test Intermediate,O=tlscompat tests",
        "CN=Test Root,O=tlscompat tests",
    )
    # The root may be sent too; an IP literal is a host name.
    both = check([pki["leaf"], pki["inter"], pki["root"]], root_file, hostname="127.0.0.1")
    assert both.trusted and both.hostname_ok and both.problems == ()
    assert check([pki["leaf"], pki["inter"]], root_file, hostname=None).hostname_ok is None


def test_untrusted_root(pki: dict[str, Made], tmp_path: Path) -> None:
    other = pki["other_root"].pem_file(tmp_path, "other.pem")
    result = check([pki["leaf"], pki["inter"], pki["root"]], other)
    assert not result.trusted and result.error
    assert result.problems == ("untrusted_root",)
    assert result.hostname_ok is True and result.path == ()


def test_incomplete_chain_reports_missing_issuer_and_url(
    pki: dict[str, Made], root_file: str
) -> None:
    result = check([pki["leaf"]], root_file)
    assert not result.trusted
    assert result.problems == ("incomplete_chain",)
    assert result.missing_issuer == "CN=Test Intermediate,O=tlscompat tests"
    assert result.missing_issuer_url == "http://127.0.0.1:9/int.der"


def test_self_signed_leaf(root_file: str) -> None:
    leaf = make("example.test", key=ec_key(5))
    result = check([leaf], root_file)
    assert not result.trusted
    assert result.problems == ("untrusted_root", "self_signed")


def test_hostname_mismatch_does_not_hide_trust(pki: dict[str, Made], root_file: str) -> None:
    result = check([pki["leaf"], pki["inter"]], root_file, hostname="www.other.test")
    assert result.trusted and result.hostname_ok is False
    assert result.problems == ("hostname_mismatch",)


def test_expired_and_not_yet_valid(pki: dict[str, Made], root_file: str) -> None:
    expired = make(
        "e", key=ec_key(2), issuer=pki["inter"], not_before=NOW - 90 * DAY, not_after=NOW - DAY
    )
    result = check([expired, pki["inter"]], root_file)
    assert not result.trusted and result.problems == ("expired",)
    future = make("f", key=ec_key(2), issuer=pki["inter"], not_before=NOW + DAY)
    result = check([future, pki["inter"]], root_file)
    assert not result.trusted and result.problems == ("not_yet_valid",)
    # The clock is the caller's: the good chain, judged a year from now.
    later = check([pki["leaf"], pki["inter"]], root_file, now=NOW + 365 * DAY)
    assert "expired" in later.problems and not later.trusted


def test_a_verdict_is_reused_only_between_the_same_validity_bounds(tmp_path: Path) -> None:
    # validate_chain keeps its verdicts (scanner.x509._VALIDATIONS): the same chain judged
    # again must give what a fresh judgement gives, on each side of every bound of the
    # certificates that take part, the root's included (it is not sent).
    root = make("Bounded Root", key=ec_key(3), ca=True, not_after=NOW + 60 * DAY)
    inter = make("Bounded Intermediate", key=ec_key(4), issuer=root, ca=True, not_after=NOW + 90 * DAY)
    leaf = make("example.test", key=ec_key(5), issuer=inter, not_after=NOW + 120 * DAY)
    root_pem = root.pem_file(tmp_path, "bounded-root.pem")
    times = [NOW, NOW + DAY, NOW + 59 * DAY, NOW + 61 * DAY, NOW + 62 * DAY, NOW + 91 * DAY,
             NOW + 121 * DAY, NOW + 2 * DAY, NOW - 2 * DAY]
    verdicts = [check([leaf, inter], root_pem, now=t) for t in times]
    assert [v.trusted for v in verdicts] == [True, True, True, False, False, False, False, True, False]
    assert verdicts[3].problems == ("expired",) and verdicts[6].problems.count("expired") == 1
    assert "not_yet_valid" in verdicts[8].problems
    # The same answers again, now from the kept verdicts where the bounds allow it.
    assert [check([leaf, inter], root_pem, now=t) for t in times] == verdicts
    # Another host name is another question.
    assert check([leaf, inter], root_pem, hostname="other.test", now=NOW).hostname_ok is False


def test_issuer_certificate_sent_or_from_the_store_and_kept_per_store(pki: dict[str, Made], tmp_path: Path) -> None:
    root_pem = pki["root"].pem_file(tmp_path, "issuer-root.pem")
    ask = {"ca_file": root_pem, "use_system_store": False}
    assert issuer_certificate([pki["leaf"].der, pki["inter"].der], **ask) == pki["inter"].der
    assert issuer_certificate([pki["inter"].der], **ask) == pki["root"].der  # from the store
    assert issuer_certificate([pki["inter"].der], **ask) == pki["root"].der  # the kept answer
    assert issuer_certificate([pki["leaf"].der], **ask) is None
    assert issuer_certificate([b"not a certificate"], **ask) is None
    # Another trust store is another question: a CA file without that root.
    other = make("Other Root", key=ec_key(6), ca=True).pem_file(tmp_path, "other-root.pem")
    assert issuer_certificate([pki["inter"].der], ca_file=other, use_system_store=False) is None


def test_wrong_usage_eku(pki: dict[str, Made], root_file: str) -> None:
    client_only = make("c", key=ec_key(2), issuer=pki["inter"], eku=(CLIENT,))
    result = check([client_only, pki["inter"]], root_file)
    assert not result.trusted
    assert result.problems == ("wrong_usage",)
    # The chain does build to a trusted root: a lax client would accept it.
    assert result.webpki_deviations == ("wrong_usage",)
    no_eku = make("n", key=ec_key(2), issuer=pki["inter"], eku=None)
    assert check([no_eku, pki["inter"]], root_file).problems == ()


def test_wrong_usage_key_usage_for_key_exchange(pki: dict[str, Made], root_file: str) -> None:
    rsa_kx_only = make(
        "k", key=ec_key(2), issuer=pki["inter"], key_usage={"key_encipherment": True}
    )
    chain = [rsa_kx_only, pki["inter"]]
    assert check(chain, root_file, key_exchange="RSA").problems == ()
    assert check(chain, root_file, key_exchange="ECDHE").problems == ("wrong_usage",)
    signing_only = make(
        "s", key=ec_key(2), issuer=pki["inter"], key_usage={"digital_signature": True}
    )
    chain = [signing_only, pki["inter"]]
    assert check(chain, root_file, key_exchange="RSA").problems == ("wrong_usage",)
    assert check(chain, root_file, key_exchange="any").problems == ()


def test_weak_key(pki: dict[str, Made], root_file: str) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    leaf = make("w", key=small, issuer=pki["inter"])
    result = check([leaf, pki["inter"]], root_file)
    # cryptography's verifier (50.x) lets a 1024-bit RSA leaf through; the CA/Browser Forum
    # rules do not, so the scanner flags it itself.
    assert result.problems == ("weak_key",)
    assert result.webpki_deviations == ("weak_key",)


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


SHA256_RSA = bytes.fromhex("06092a864886f70d01010b0500")
SHA1_RSA = bytes.fromhex("06092a864886f70d0101050500")


def resign_sha1(cert: x509.Certificate, issuer_key: rsa.RSAPrivateKey) -> x509.Certificate:
    """cryptography (>= 45) refuses to sign a certificate with SHA-1, so build it with
    SHA-256, swap the AlgorithmIdentifier inside the TBS (same length) and sign those bytes
    with the raw RSA primitive (RFC 5280 §4.1.1.2: inner and outer identifiers match)."""
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(SHA256_RSA) == 1
    tbs = tbs.replace(SHA256_RSA, SHA1_RSA)
    signature = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    algorithm = _der(0x30, SHA1_RSA[:-2] + b"\x05\x00")
    der = _der(0x30, tbs + algorithm + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def test_weak_signature_but_not_the_roots_own(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sha1_root = make("SHA-1 Root", key=rsa_key, ca=True)
    sha1_root = Made(cert=resign_sha1(sha1_root.cert, rsa_key), key=rsa_key)
    assert decode_certificate(sha1_root.der).signature_hash == "sha1"
    assert decode_certificate(sha1_root.der).self_signed
    ca_file = sha1_root.pem_file(tmp_path, "sha1root.pem")

    good_leaf = make("example.test", key=ec_key(2), issuer=sha1_root)
    assert check([good_leaf], ca_file).problems == ()

    leaf = make("example.test", key=ec_key(2), issuer=sha1_root)
    leaf = Made(cert=resign_sha1(leaf.cert, rsa_key), key=leaf.key)
    info = decode_certificate(leaf.der)
    assert (info.signature_algorithm, info.signature_hash) == ("sha1WithRSAEncryption", "sha1")
    result = check([leaf], ca_file)
    assert not result.trusted
    assert result.problems == ("weak_signature",)
    assert result.webpki_deviations == ("weak_signature",)


def test_every_problem_is_listed(root_file: str) -> None:
    bad = make(
        "self.test",
        key=ec_key(5),
        sans=("self.test",),
        not_before=NOW - 90 * DAY,
        not_after=NOW - DAY,
    )
    result = check([bad], root_file, hostname="example.test")
    assert {"self_signed", "expired", "hostname_mismatch"} <= set(result.problems)
    assert not result.trusted and result.hostname_ok is False
    assert len(result.details) >= 3


def test_chain_order_and_extra_certs(pki: dict[str, Made], root_file: str) -> None:
    reordered = check([pki["leaf"], pki["root"], pki["inter"]], root_file)
    assert reordered.trusted  # the verifier builds the path whatever the order
    assert reordered.problems == ("chain_order",)
    extra = check([pki["leaf"], pki["inter"], pki["other_root"]], root_file)
    assert extra.trusted and extra.problems == ("extra_certs",)
    twice = check([pki["leaf"], pki["inter"], pki["inter"]], root_file)
    assert twice.problems == ("extra_certs",)


def test_cn_only_is_a_webpki_deviation(pki: dict[str, Made], root_file: str) -> None:
    leaf = make("example.test", key=ec_key(2), issuer=pki["inter"], sans=())
    result = check([leaf, pki["inter"]], root_file)
    assert result.hostname_ok is True
    assert result.problems == ("cn_only",)
    assert not result.trusted  # WebPKI requires a subjectAltName
    assert result.webpki_deviations == ("cn_only",)
    assert any("matched its CN only" in d for d in result.details)


def test_undecodable_leaf_and_intermediate(pki: dict[str, Made], root_file: str) -> None:
    result = validate_chain(
        [b"junk"], hostname="example.test", ca_file=root_file, use_system_store=False
    )
    assert not result.trusted and result.error and "undecodable" in result.error
    result = validate_chain(
        [pki["leaf"].der, b"junk", pki["inter"].der],
        hostname="example.test",
        ca_file=root_file,
        use_system_store=False,
    )
    assert result.trusted and any("#1 undecodable" in d for d in result.details)


def test_trust_store(tmp_path: Path, root_file: str) -> None:
    with pytest.raises(TrustStoreError, match="nothing.pem"):
        load_trust_store(str(tmp_path / "nothing.pem"), False)
    empty = tmp_path / "empty.pem"
    empty.write_text("no certificates here\n")
    with pytest.raises(TrustStoreError, match="no certificate"):
        load_trust_store(str(empty), False)
    mine = load_trust_store(root_file, False)
    assert len(mine.certificates) == 1 and mine.store is not None
    assert load_trust_store(root_file, False) is mine  # cached
    system = load_trust_store(None, True)  # may be empty on a bare machine: never an error
    assert (system.store is None) == (system.certificates == ())
    nothing = load_trust_store(None, False)
    assert nothing.certificates == () and nothing.store is None


def test_empty_store_is_untrusted_not_an_error(pki: dict[str, Made]) -> None:
    result = validate_chain(
        [pki["leaf"].der, pki["inter"].der], hostname="example.test", use_system_store=False
    )
    assert not result.trusted and result.error == "the trust store is empty"
    # The server sent its chain up to a CA: the missing issuer is a root the store lacks
    # (a private PKI scanned without --ca-file), not an intermediate the server forgot.
    assert result.problems == ("untrusted_root",)
    assert result.missing_issuer == "CN=Test Root,O=tlscompat tests"


def test_a_leaf_sent_alone_whose_issuer_is_unknown_is_an_incomplete_chain(pki: dict[str, Made]) -> None:
    result = validate_chain([pki["leaf"].der], hostname="example.test", use_system_store=False)
    assert not result.trusted
    assert result.problems == ("incomplete_chain",)
    assert result.missing_issuer == pki["leaf"].cert.issuer.rfc4514_string()
