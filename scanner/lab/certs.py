# A small PKI for the lab, made on the fly with `cryptography`.
#
# A `Pki` owns a directory and creates in it a root CA, an intermediate CA and, on
# demand, leaf and CA certificates with whatever defect a scenario needs: wrong
# name, expired, weak key, SHA-1 signature, missing EKU, self-signed, issued by a
# root nobody trusts... Every item is written as PEM files and returned as a
# frozen `IssuedCert` holding both the paths and the `cryptography` objects.
#
# Rules it keeps:
# - Fast: private keys are cached per (key type, slot) inside a Pki. All leaves
#   of one key type share a key; every CA gets its own, so that a leaf signed by
#   the untrusted root never verifies under the trusted one.
# - Honest: what the certificate says is exactly what was asked for. Defaults
#   follow RFC 5280 and the CA/Browser Forum profile closely enough that
#   `cryptography.x509.verification` accepts the default leaf.
# - cryptography (>= 45) refuses to sign certificates with SHA-1 or MD5. For
#   those we let it build the certificate with SHA-256, then put the legacy
#   AlgorithmIdentifier in the TBSCertificate and sign that with the raw
#   primitive (RFC 5280 §4.1.1.2: the outer and inner identifiers must match).
#   MD5 exists only for RSA (RFC 3279 §2.2.1); asking for MD5 with ECDSA or
#   Ed25519 raises ValueError.
# - Revocation is data: `Pki.revoke()` records serials per issuer, and
#   `Pki.build_crl()` turns them into a signed CRL. Serving the CRL or answering
#   OCSP is left to whoever adds a responder on top.

from __future__ import annotations

import dataclasses
import datetime
import enum
import ipaddress
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from scanner.x509 import _der, _tlv  # the scanner's own DER reader and writer

__all__ = [
    "DEFAULT_SANS",
    "EKU",
    "IssuedCert",
    "Issuer",
    "KeyType",
    "Pki",
    "PrivateKey",
    "Revocation",
    "SignatureHash",
    "Validity",
]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class KeyType(enum.StrEnum):
    RSA1024 = "rsa1024"
    RSA2048 = "rsa2048"
    RSA3072 = "rsa3072"
    RSA4096 = "rsa4096"
    ECDSA_P256 = "ecdsa-p256"
    ECDSA_P384 = "ecdsa-p384"
    ED25519 = "ed25519"

    @property
    def is_rsa(self) -> bool:
        return self.value.startswith("rsa")

    @property
    def is_ecdsa(self) -> bool:
        return self.value.startswith("ecdsa")


class Validity(enum.StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"


class SignatureHash(enum.StrEnum):
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"
    SHA1 = "sha1"
    MD5 = "md5"


# Extended key usages by the names RFC 5280 §4.2.1.12 gives them.
EKU: dict[str, x509.ObjectIdentifier] = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "OCSPSigning": ExtendedKeyUsageOID.OCSP_SIGNING,
    "anyExtendedKeyUsage": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}

# Key usage bits by their RFC 5280 §4.2.1.3 names, mapped to x509.KeyUsage arguments.
_KEY_USAGE_ARGS: dict[str, str] = {
    "digitalSignature": "digital_signature",
    "contentCommitment": "content_commitment",
    "nonRepudiation": "content_commitment",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
    "encipherOnly": "encipher_only",
    "decipherOnly": "decipher_only",
}

DEFAULT_SANS: tuple[str, ...] = ("localhost", "127.0.0.1")

# "root" / "intermediate": this Pki's CAs; "untrusted": a second root that no
# client is told about; "self": the certificate signs itself; or any CA IssuedCert.
Issuer: TypeAlias = "Literal['root', 'intermediate', 'untrusted', 'self'] | IssuedCert"

_MODERN_HASHES: dict[SignatureHash, hashes.SHA256 | hashes.SHA384 | hashes.SHA512] = {
    SignatureHash.SHA256: hashes.SHA256(),
    SignatureHash.SHA384: hashes.SHA384(),
    SignatureHash.SHA512: hashes.SHA512(),
}
_LEGACY_HASHES: dict[SignatureHash, hashes.HashAlgorithm] = {
    SignatureHash.SHA1: hashes.SHA1(),
    SignatureHash.MD5: hashes.MD5(),
}

# DER AlgorithmIdentifiers for the signatures cryptography no longer produces.
_LEGACY_ALG_IDS: dict[tuple[str, SignatureHash], bytes] = {
    # sha1WithRSAEncryption 1.2.840.113549.1.1.5, NULL parameters (RFC 3279 §2.2.1)
    ("rsa", SignatureHash.SHA1): bytes.fromhex("300d06092a864886f70d0101050500"),
    # md5WithRSAEncryption 1.2.840.113549.1.1.4, NULL parameters
    ("rsa", SignatureHash.MD5): bytes.fromhex("300d06092a864886f70d0101040500"),
    # ecdsa-with-SHA1 1.2.840.10045.4.1, parameters absent (RFC 3279 §2.2.3)
    ("ecdsa", SignatureHash.SHA1): bytes.fromhex("300906072a8648ce3d0401"),
}

_ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedCert:
    """A certificate and its key, in memory and on disk.

    `chain` holds the intermediates between this certificate and its trust anchor,
    issuer first, never the anchor itself (what a server should send after its own
    certificate). `anchor` is the root it chains to (itself for a root or a
    self-signed certificate). Paths: `cert_path` (this certificate), `key_path`
    (unencrypted PKCS#8), `chain_path` (the intermediates; empty file when there are
    none), `fullchain_path` (certificate then intermediates). When issued with a
    password, `encrypted_key_path` and `pkcs12_path` are written too.
    """

    name: str
    cert: x509.Certificate
    key: PrivateKey
    key_type: KeyType
    chain: tuple[x509.Certificate, ...]
    anchor: x509.Certificate
    is_ca: bool
    cert_path: Path
    key_path: Path
    chain_path: Path
    fullchain_path: Path
    encrypted_key_path: Path | None = None
    pkcs12_path: Path | None = None
    password: bytes | None = None

    @property
    def serial(self) -> int:
        return self.cert.serial_number

    @property
    def fullchain(self) -> tuple[x509.Certificate, ...]:
        return (self.cert, *self.chain)

    @property
    def is_self_signed(self) -> bool:
        return self.cert.issuer == self.cert.subject and self.anchor == self.cert

    def fingerprint(self, algorithm: hashes.HashAlgorithm | None = None) -> bytes:
        return self.cert.fingerprint(algorithm or hashes.SHA256())

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True, slots=True, kw_only=True)
class Revocation:
    """One revoked certificate, as a CRL entry or an OCSP `revoked` answer needs it."""

    serial: int
    issuer: x509.Name
    revoked_at: datetime.datetime
    reason: x509.ReasonFlags | None


@dataclass(slots=True)
class _KeyCache:
    keys: dict[tuple[KeyType, str], PrivateKey] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key_type: KeyType, slot: str) -> PrivateKey:
        with self.lock:
            key = self.keys.get((key_type, slot))
            if key is None:
                key = _generate_key(key_type)
                self.keys[(key_type, slot)] = key
            return key


def _generate_key(key_type: KeyType) -> PrivateKey:
    if key_type.is_rsa:
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type.value[3:]))
    if key_type is KeyType.ECDSA_P256:
        return ec.generate_private_key(ec.SECP256R1())
    if key_type is KeyType.ECDSA_P384:
        return ec.generate_private_key(ec.SECP384R1())
    return ed25519.Ed25519PrivateKey.generate()


def _now() -> datetime.datetime:
    # Whole seconds: UTCTime has no fractions, and equal dates compare equal.
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _validity_window(
    validity: Validity, lifetime: datetime.timedelta
) -> tuple[datetime.datetime, datetime.datetime]:
    now = _now()
    if validity is Validity.EXPIRED:
        return now - lifetime - 30 * _ONE_DAY, now - 30 * _ONE_DAY
    if validity is Validity.NOT_YET_VALID:
        return now + 30 * _ONE_DAY, now + 30 * _ONE_DAY + lifetime
    return now - _ONE_DAY, now - _ONE_DAY + lifetime


def _general_name(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


def _key_usage(names: Iterable[str]) -> x509.KeyUsage:
    args = dict.fromkeys(set(_KEY_USAGE_ARGS.values()), False)
    for name in names:
        try:
            args[_KEY_USAGE_ARGS[name]] = True
        except KeyError:
            raise ValueError(
                f"unknown key usage {name!r}; known: {', '.join(_KEY_USAGE_ARGS)}"
            ) from None
    return x509.KeyUsage(**args)


def _eku(names: Iterable[str]) -> x509.ExtendedKeyUsage:
    oids = []
    for name in names:
        try:
            oids.append(EKU[name])
        except KeyError:
            raise ValueError(
                f"unknown extended key usage {name!r}; known: {', '.join(EKU)}"
            ) from None
    return x509.ExtendedKeyUsage(oids)


def _default_key_usage(key_type: KeyType) -> tuple[str, ...]:
    # RSA key exchange (TLS <= 1.2) encrypts the premaster secret to the
    # certificate's key, which needs keyEncipherment (RFC 5246 §7.4.2).
    if key_type.is_rsa:
        return ("digitalSignature", "keyEncipherment")
    return ("digitalSignature",)


def _sign_legacy(
    cert: x509.Certificate, key: PrivateKey, sig_hash: SignatureHash
) -> x509.Certificate:
    """Re-sign `cert` with SHA-1 or MD5, which cryptography's builder refuses."""
    family = "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ecdsa"
    if isinstance(key, ed25519.Ed25519PrivateKey) or (family, sig_hash) not in _LEGACY_ALG_IDS:
        raise ValueError(f"no {sig_hash} signature exists for {type(key).__name__} keys")
    alg_id = _LEGACY_ALG_IDS[(family, sig_hash)]
    tbs = cert.tbs_certificate_bytes
    # TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature, ... } (RFC 5280 §4.1)
    _, body_start, body_end = _tlv(tbs, 0)
    _, _, version_end = _tlv(tbs, body_start)
    _, _, serial_end = _tlv(tbs, version_end)
    _, _, alg_end = _tlv(tbs, serial_end)
    new_tbs = _der(0x30, tbs[body_start:serial_end] + alg_id + tbs[alg_end:body_end])
    algorithm = _LEGACY_HASHES[sig_hash]
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(new_tbs, padding.PKCS1v15(), algorithm)
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        signature = key.sign(new_tbs, ec.ECDSA(algorithm))
    der = _der(0x30, new_tbs + alg_id + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


class Pki:
    """A root CA, an intermediate CA and whatever certificates a scenario needs.

    Everything is written under `directory` (created if missing); names passed to
    `issue()` / `issue_ca()` become file names and must be unique in one Pki.
    The CAs default to RSA 2048, the key type every TLS client can verify.

        pki = Pki(tmp_path)
        leaf = pki.issue("www")                         # localhost + 127.0.0.1, via the intermediate
        old = pki.issue("old", validity="expired")
        weak = pki.issue("weak", key="rsa1024", hash="sha1", issuer="root")
        client = pki.issue_client("alice", password=b"secret")   # also .p12 and encrypted key
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        ca_key: KeyType | str = KeyType.RSA2048,
        organization: str = "tlscompat lab",
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.organization = organization
        self._ca_key = KeyType(ca_key)
        self._keys = _KeyCache()
        self._lock = threading.RLock()
        self._issued: dict[str, IssuedCert] = {}
        self._revoked: dict[int, Revocation] = {}
        self._untrusted: IssuedCert | None = None
        self.root = self.issue_ca(
            "root", issuer="self", cn=f"{organization} Root CA", path_length=None
        )
        self.intermediate = self.issue_ca(
            "intermediate", issuer="root", cn=f"{organization} Intermediate CA", path_length=0
        )

    # -- CAs ---------------------------------------------------------------------

    @property
    def untrusted_root(self) -> IssuedCert:
        """A second root CA that no client trusts (made on first use)."""
        with self._lock:
            if self._untrusted is None:
                self._untrusted = self.issue_ca(
                    "untrusted-root",
                    issuer="self",
                    cn=f"{self.organization} Untrusted Root CA",
                    path_length=None,
                )
            return self._untrusted

    @property
    def ca_path(self) -> Path:
        """PEM file holding the trusted root: pass it as a client's CA file."""
        return self.root.cert_path

    def issue_ca(
        self,
        name: str,
        *,
        issuer: Issuer = "root",
        cn: str | None = None,
        key: KeyType | str | None = None,
        validity: Validity | str = Validity.VALID,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
        hash: SignatureHash | str = SignatureHash.SHA256,
        path_length: int | None = 0,
        key_usage: Sequence[str] | None = ("keyCertSign", "cRLSign", "digitalSignature"),
        extensions: Sequence[x509.ExtensionType] = (),
    ) -> IssuedCert:
        """Create a CA certificate (BasicConstraints CA:TRUE) with its own key."""
        key_type = KeyType(key) if key is not None else self._ca_key
        return self._issue(
            name,
            subject=self._name(cn or name),
            key_type=key_type,
            key_slot=f"ca:{name}",
            issuer=issuer,
            validity=Validity(validity),
            lifetime=3650 * _ONE_DAY,
            not_before=not_before,
            not_after=not_after,
            sig_hash=SignatureHash(hash),
            is_ca=True,
            path_length=path_length,
            key_usage=key_usage,
            extensions=extensions,
        )

    # -- leaves ------------------------------------------------------------------

    def issue(
        self,
        name: str,
        *,
        cn: str | None = None,
        sans: Sequence[str] = DEFAULT_SANS,
        key: KeyType | str = KeyType.RSA2048,
        issuer: Issuer = "intermediate",
        validity: Validity | str = Validity.VALID,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
        hash: SignatureHash | str = SignatureHash.SHA256,
        eku: Sequence[str] | None = ("serverAuth",),
        key_usage: Sequence[str] | None | Literal["default"] = "default",
        ocsp_url: str | None = None,
        ca_issuers_url: str | None = None,
        crl_url: str | None = None,
        must_staple: bool = False,
        extensions: Sequence[x509.ExtensionType] = (),
        password: bytes | None = None,
        key_slot: str = "leaf",
    ) -> IssuedCert:
        """Create an end-entity certificate.

        `sans`: DNS names and IP addresses (an empty sequence omits the extension, so
        only the CN names the host). `cn` defaults to the first SAN, else `name`.
        `eku=None` and `key_usage=None` omit those extensions; the default key usage
        suits the key type. `password` also writes an encrypted PEM key and a
        PKCS#12 bundle. `key_slot` picks the cached key: leaves of one key type share
        one unless given different slots.
        """
        key_type = KeyType(key)
        return self._issue(
            name,
            subject=self._name(cn or (sans[0] if sans else name)),
            sans=tuple(sans),
            key_type=key_type,
            key_slot=key_slot,
            issuer=issuer,
            validity=Validity(validity),
            lifetime=90 * _ONE_DAY,
            not_before=not_before,
            not_after=not_after,
            sig_hash=SignatureHash(hash),
            is_ca=False,
            path_length=None,
            key_usage=_default_key_usage(key_type) if key_usage == "default" else key_usage,
            eku=eku,
            ocsp_url=ocsp_url,
            ca_issuers_url=ca_issuers_url,
            crl_url=crl_url,
            must_staple=must_staple,
            extensions=extensions,
            password=password,
        )

    def issue_client(
        self,
        name: str,
        *,
        cn: str | None = None,
        sans: Sequence[str] = (),
        eku: Sequence[str] | None = ("clientAuth",),
        password: bytes | None = b"tlscompat",
        **kwargs: object,
    ) -> IssuedCert:
        """A client certificate: clientAuth EKU, no SAN, PKCS#12 and encrypted key written."""
        return self.issue(
            name,
            cn=cn or name,
            sans=sans,
            eku=eku,
            password=password,
            **kwargs,  # type: ignore[arg-type]
        )

    def get(self, name: str) -> IssuedCert:
        """The item issued earlier under `name`."""
        return self._issued[name]

    # -- exports -----------------------------------------------------------------

    def write_pkcs12(self, issued: IssuedCert, password: bytes, path: Path | None = None) -> Path:
        """Write certificate, key and chain as a password-protected PKCS#12 file."""
        path = path or self.directory / f"{issued.name}.p12"
        data = pkcs12.serialize_key_and_certificates(
            issued.name.encode(),
            issued.key,
            issued.cert,
            list(issued.chain) or None,
            serialization.BestAvailableEncryption(password),
        )
        path.write_bytes(data)
        return path

    def write_encrypted_key(
        self, issued: IssuedCert, password: bytes, path: Path | None = None
    ) -> Path:
        """Write the private key as an encrypted PKCS#8 PEM (BEGIN ENCRYPTED PRIVATE KEY)."""
        path = path or self.directory / f"{issued.name}.key.enc.pem"
        path.write_bytes(
            issued.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(password),
            )
        )
        return path

    # -- revocation --------------------------------------------------------------

    def revoke(
        self,
        issued: IssuedCert,
        *,
        reason: x509.ReasonFlags | None = x509.ReasonFlags.key_compromise,
        revoked_at: datetime.datetime | None = None,
    ) -> Revocation:
        """Record `issued` as revoked by its issuer (for a CRL or an OCSP responder)."""
        entry = Revocation(
            serial=issued.serial,
            issuer=issued.cert.issuer,
            revoked_at=revoked_at or _now() - datetime.timedelta(hours=1),
            reason=reason,
        )
        with self._lock:
            self._revoked[issued.serial] = entry
        return entry

    @property
    def revoked(self) -> tuple[Revocation, ...]:
        with self._lock:
            return tuple(self._revoked.values())

    def revocation(self, serial: int) -> Revocation | None:
        """The revocation recorded for `serial`, or None while it is good."""
        with self._lock:
            return self._revoked.get(serial)

    def build_crl(
        self,
        issuer: Issuer = "intermediate",
        *,
        next_update: datetime.timedelta = 7 * _ONE_DAY,
        path: Path | None = None,
    ) -> x509.CertificateRevocationList:
        """A CRL signed by `issuer` listing the serials revoked under it (also written as DER)."""
        ca = self._resolve_issuer(issuer)
        if ca is None:
            raise ValueError("a CRL needs a CA issuer, not 'self'")
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.cert.subject)
            .last_update(now - datetime.timedelta(minutes=5))
            .next_update(now + next_update)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                critical=False,
            )
        )
        for entry in self.revoked:
            if entry.issuer != ca.cert.subject:
                continue
            revoked = (
                x509.RevokedCertificateBuilder()
                .serial_number(entry.serial)
                .revocation_date(entry.revoked_at)
            )
            if entry.reason is not None:
                revoked = revoked.add_extension(x509.CRLReason(entry.reason), critical=False)
            builder = builder.add_revoked_certificate(revoked.build())
        algorithm = None if isinstance(ca.key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        crl = builder.sign(ca.key, algorithm)
        (path or self.directory / f"{ca.name}.crl").write_bytes(
            crl.public_bytes(serialization.Encoding.DER)
        )
        return crl

    # -- internals ---------------------------------------------------------------

    def _name(self, cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ]
        )

    def _resolve_issuer(self, issuer: Issuer) -> IssuedCert | None:
        if isinstance(issuer, IssuedCert):
            if not issuer.is_ca:
                raise ValueError(f"{issuer.name!r} is not a CA certificate")
            return issuer
        if issuer == "self":
            return None
        if issuer == "root":
            return self.root
        if issuer == "intermediate":
            return self.intermediate
        if issuer == "untrusted":
            return self.untrusted_root
        raise ValueError(f"unknown issuer {issuer!r}")

    def _issue(
        self,
        name: str,
        *,
        subject: x509.Name,
        key_type: KeyType,
        key_slot: str,
        issuer: Issuer,
        validity: Validity,
        lifetime: datetime.timedelta,
        not_before: datetime.datetime | None,
        not_after: datetime.datetime | None,
        sig_hash: SignatureHash,
        is_ca: bool,
        path_length: int | None,
        key_usage: Sequence[str] | None,
        extensions: Sequence[x509.ExtensionType],
        # What only a leaf has (`issue`); a CA (`issue_ca`) leaves them out.
        sans: tuple[str, ...] = (),
        eku: Sequence[str] | None = None,
        ocsp_url: str | None = None,
        ca_issuers_url: str | None = None,
        crl_url: str | None = None,
        must_staple: bool = False,
        password: bytes | None = None,
    ) -> IssuedCert:
        with self._lock:
            if name in self._issued:
                raise ValueError(f"a certificate named {name!r} already exists in this Pki")
            ca = self._resolve_issuer(issuer)
            key = self._keys.get(key_type, key_slot)
            signing_key = ca.key if ca else key
            start, end = _validity_window(validity, lifetime)
            public_key = key.public_key()
            builder = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(ca.cert.subject if ca else subject)
                .public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(not_before or start)
                .not_valid_after(not_after or end)
                .add_extension(
                    x509.BasicConstraints(ca=is_ca, path_length=path_length if is_ca else None),
                    critical=True,
                )
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
                )
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                    critical=False,
                )
            )
            if key_usage is not None:
                builder = builder.add_extension(_key_usage(key_usage), critical=True)
            if eku is not None:
                builder = builder.add_extension(_eku(eku), critical=False)
            if sans:
                builder = builder.add_extension(
                    x509.SubjectAlternativeName([_general_name(s) for s in sans]), critical=False
                )
            access = []
            if ocsp_url:
                access.append(
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(ocsp_url),
                    )
                )
            if ca_issuers_url:
                access.append(
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(ca_issuers_url),
                    )
                )
            if access:
                builder = builder.add_extension(
                    x509.AuthorityInformationAccess(access), critical=False
                )
            if crl_url:
                point = x509.DistributionPoint(
                    full_name=[x509.UniformResourceIdentifier(crl_url)],
                    relative_name=None,
                    reasons=None,
                    crl_issuer=None,
                )
                builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
            if must_staple:
                # TLS Feature status_request (RFC 7633 §4.2.3.1)
                builder = builder.add_extension(
                    x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False
                )
            for extension in extensions:
                builder = builder.add_extension(extension, critical=False)

            if isinstance(signing_key, ed25519.Ed25519PrivateKey):
                cert = builder.sign(signing_key, None)
            elif sig_hash in (SignatureHash.SHA1, SignatureHash.MD5):
                cert = _sign_legacy(
                    builder.sign(signing_key, hashes.SHA256()), signing_key, sig_hash
                )
            else:
                cert = builder.sign(signing_key, _MODERN_HASHES[sig_hash])

            chain: tuple[x509.Certificate, ...] = ()
            anchor = cert
            if ca is not None:
                anchor = ca.anchor
                chain = () if ca.cert == ca.anchor else (ca.cert, *ca.chain)

            cert_path = self.directory / f"{name}.pem"
            key_path = self.directory / f"{name}.key.pem"
            chain_path = self.directory / f"{name}.chain.pem"
            fullchain_path = self.directory / f"{name}.fullchain.pem"
            cert_path.write_bytes(_pem(cert))
            key_path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            key_path.chmod(0o600)
            chain_path.write_bytes(_pem(*chain))
            fullchain_path.write_bytes(_pem(cert, *chain))
            issued = IssuedCert(
                name=name,
                cert=cert,
                key=key,
                key_type=key_type,
                chain=chain,
                anchor=anchor,
                is_ca=is_ca,
                cert_path=cert_path,
                key_path=key_path,
                chain_path=chain_path,
                fullchain_path=fullchain_path,
            )
            if password is not None:
                issued = dataclasses.replace(
                    issued,
                    encrypted_key_path=self.write_encrypted_key(issued, password),
                    pkcs12_path=self.write_pkcs12(issued, password),
                    password=password,
                )
            self._issued[name] = issued
            return issued
