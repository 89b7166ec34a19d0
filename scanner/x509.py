# Everything the scanner needs to know about certificates: decoding what a server sent,
# and judging whether a client would accept it.
#
# Rules it keeps:
# - Evidence first: `decode_certificate` turns DER into a frozen `CertificateInfo` and never
#   interprets it. `validate_chain` is the one place that decides what a chain means.
# - Garbage is data: undecodable bytes raise `CertificateDecodeError` (a ValueError) with a
#   message naming what is wrong; one malformed extension is skipped, not fatal (cryptography
#   parses all extensions at once, so we cut the bad one out of a copy of the DER and retry).
# - Trust is judged per verifier family, as real clients do: a chain to a root of the system
#   store by the WebPKI profile (cryptography's verifier with its default policies: what
#   browsers enforce for public roots); a chain to a root given with --ca-file (a private
#   PKI) by RFC 5280 path validation (the same verifier with relaxed extension policies:
#   what OpenSSL, curl, Python, Java and SChannel do). `ChainValidation.profile` says which;
#   a WebPKI rule a private chain breaks is listed in `webpki_rules`, never a trust failure.
# - No Python repr reaches a message: the verifier's errors are rewritten to name the
#   certificate by its subject and the rule by its name and RFC section.
# - Every problem is listed, not just the first one the verifier trips on: the strict verdict
#   comes from `cryptography.x509.verification` (WebPKI policy, RFC 5280 path validation), and
#   each cause (root, missing intermediate, names, dates, usages, key and signature strength,
#   chain order) is checked independently on a lenient path built here.
# - The host name is judged apart from trust (Windows does the same: CERT_E_UNTRUSTEDROOT and
#   CERT_E_CN_NO_MATCH are separate errors), following RFC 6125 §6.4.

from __future__ import annotations

import datetime
import functools
import hashlib
import ipaddress
import os
import re
import ssl
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
    ObjectIdentifier,
)
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

__all__ = [
    "PROBLEM_CODES",
    "CertificateDecodeError",
    "CertificateInfo",
    "ChainValidation",
    "TrustStore",
    "TrustStoreError",
    "decode_certificate",
    "dn_to_string",
    "issuer_certificate",
    "load_trust_store",
    "match_hostname",
    "validate_chain",
]


class CertificateDecodeError(ValueError):
    """The bytes are not a certificate we can read."""


class TrustStoreError(ValueError):
    """A CA file the user named cannot be used (missing, unreadable, no certificate in it)."""


# --------------------------------------------------------------------------------------------
# Decoding


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateInfo:
    subject: str
    issuer: str
    common_names: tuple[str, ...]
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]
    serial: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    key_type: str
    key_bits: int
    key_curve: str | None
    signature_algorithm: str
    signature_hash: str | None
    key_usage: tuple[str, ...]
    extended_key_usage: tuple[str, ...]
    has_eku: bool
    is_ca: bool
    self_issued: bool
    self_signed: bool
    ocsp_urls: tuple[str, ...]
    ca_issuers_urls: tuple[str, ...]
    crl_urls: tuple[str, ...]
    sha256: str
    sha1: str
    must_staple: bool
    # Extensions whose value could not be parsed and were left out (dotted OIDs).
    broken_extensions: tuple[str, ...] = ()


_EKU_NAMES: dict[ObjectIdentifier, str] = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    ExtendedKeyUsageOID.SMARTCARD_LOGON: "smartcardLogon",
    ExtendedKeyUsageOID.KERBEROS_PKINIT_KDC: "pkInitKDC",
    ExtendedKeyUsageOID.IPSEC_IKE: "ipsecIKE",
    ExtendedKeyUsageOID.CERTIFICATE_TRANSPARENCY: "certificateTransparency",
}

# RFC 5280 §4.2.1.3 bit names, in bit order.
_KEY_USAGE_BITS = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)

# Used when cryptography cannot name the hash of a signature algorithm it does not support.
_SIGNATURE_HASH_BY_OID: dict[str, str | None] = {
    "1.2.840.113549.1.1.4": "md5",
    "1.2.840.113549.1.1.2": "md2",
    "1.2.840.113549.1.1.5": "sha1",
    "1.2.840.10040.4.3": "sha1",
    "1.2.840.10045.4.1": "sha1",
    "1.3.14.3.2.29": "sha1",
    "1.3.101.112": None,
    "1.3.101.113": None,
}


def decode_certificate(der: bytes) -> CertificateInfo:
    """Decode one certificate (DER; PEM is accepted too). Raises CertificateDecodeError."""
    try:
        return _decoded(der)
    except CertificateDecodeError:
        raise
    except Exception as exc:  # a field cryptography refuses to give us
        raise CertificateDecodeError(f"certificate fields cannot be read: {exc}") from exc


def _decoded(der: bytes) -> CertificateInfo:
    """A certificate's description (what _describe raises, raised as is)."""
    if isinstance(der, bytearray | memoryview):
        der = bytes(der)
    if not isinstance(der, bytes):
        _load_certificate(der)  # raises CertificateDecodeError, naming the type
    return _decoded_cached(der)


@functools.lru_cache(maxsize=64)
def _decoded_cached(der: bytes) -> CertificateInfo:
    """Once per distinct certificate: a fleet meets the same certificate on many
    endpoints, and each endpoint's chain is decoded twice (its description, its
    validation), about 1 ms of CPU each time (issue 16). The description is immutable;
    errors are not cached."""
    return _describe(_load_certificate(der))


def _load_certificate(data: bytes) -> x509.Certificate:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CertificateDecodeError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise CertificateDecodeError("empty input: no certificate")
    try:
        with warnings.catch_warnings():
            # A negative serial number is evidence, shown in CertificateInfo.serial.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            if data.lstrip().startswith(b"-----BEGIN"):
                return x509.load_pem_x509_certificate(data)
            return x509.load_der_x509_certificate(data)
    except Exception as exc:
        raise CertificateDecodeError(
            f"not an X.509 certificate ({len(data)} bytes, starting {_hex_preview(data)}): {exc}"
        ) from exc


def _hex_preview(data: bytes, limit: int = 16) -> str:
    return data[:limit].hex() + ("…" if len(data) > limit else "")


def _describe(cert: x509.Certificate) -> CertificateInfo:
    der = cert.public_bytes(serialization.Encoding.DER)
    extensions, broken = _tolerant_extensions(cert, der)
    by_oid = {ext.oid: ext.value for ext in extensions}

    san = by_oid.get(x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    san_dns: tuple[str, ...] = ()
    san_ip: tuple[str, ...] = ()
    if isinstance(san, x509.SubjectAlternativeName):
        san_dns = tuple(san.get_values_for_type(x509.DNSName))
        san_ip = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))

    key_usage: tuple[str, ...] = ()
    ku = by_oid.get(x509.oid.ExtensionOID.KEY_USAGE)
    if isinstance(ku, x509.KeyUsage):
        key_usage = _key_usage_names(ku)

    eku = by_oid.get(x509.oid.ExtensionOID.EXTENDED_KEY_USAGE)
    has_eku = isinstance(eku, x509.ExtendedKeyUsage)
    extended_key_usage: tuple[str, ...] = ()
    if isinstance(eku, x509.ExtendedKeyUsage):
        extended_key_usage = tuple(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku)

    bc = by_oid.get(x509.oid.ExtensionOID.BASIC_CONSTRAINTS)
    is_ca = isinstance(bc, x509.BasicConstraints) and bc.ca

    ocsp_urls: list[str] = []
    ca_issuers_urls: list[str] = []
    aia = by_oid.get(x509.oid.ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    if isinstance(aia, x509.AuthorityInformationAccess):
        for desc in aia:
            if not isinstance(desc.access_location, x509.UniformResourceIdentifier):
                continue
            if desc.access_method == AuthorityInformationAccessOID.OCSP:
                ocsp_urls.append(desc.access_location.value)
            elif desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
                ca_issuers_urls.append(desc.access_location.value)

    crl_urls: list[str] = []
    cdp = by_oid.get(x509.oid.ExtensionOID.CRL_DISTRIBUTION_POINTS)
    if isinstance(cdp, x509.CRLDistributionPoints):
        for point in cdp:
            for name in point.full_name or ():
                if isinstance(name, x509.UniformResourceIdentifier):
                    crl_urls.append(name.value)

    tls_feature = by_oid.get(x509.oid.ExtensionOID.TLS_FEATURE)
    must_staple = isinstance(tls_feature, x509.TLSFeature) and (
        x509.TLSFeatureType.status_request in tls_feature
    )

    key_type, key_bits, key_curve = _key_facts(cert)
    signature_algorithm = _oid_name(cert.signature_algorithm_oid)
    self_issued = cert.subject == cert.issuer
    with warnings.catch_warnings():
        # A non-positive serial breaks RFC 5280 section 4.1.2.2; it is the server's data.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        number = cert.serial_number
    serial = format(number, "X") if number >= 0 else "-" + format(-number, "X")
    return CertificateInfo(
        subject=_name_string(cert.subject),
        issuer=_name_string(cert.issuer),
        common_names=tuple(
            str(attr.value) for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ),
        san_dns=san_dns,
        san_ip=san_ip,
        serial=serial,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=key_type,
        key_bits=key_bits,
        key_curve=key_curve,
        signature_algorithm=signature_algorithm,
        signature_hash=_signature_hash(cert),
        key_usage=key_usage,
        extended_key_usage=extended_key_usage,
        has_eku=has_eku,
        is_ca=is_ca,
        self_issued=self_issued,
        self_signed=self_issued and _signed_by(cert, cert),
        ocsp_urls=tuple(ocsp_urls),
        ca_issuers_urls=tuple(ca_issuers_urls),
        crl_urls=tuple(crl_urls),
        sha256=hashlib.sha256(der).hexdigest().upper(),
        sha1=hashlib.sha1(der).hexdigest().upper(),
        must_staple=must_staple,
        broken_extensions=broken,
    )


def _name_string(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except Exception:
        return "<unprintable name: " + _hex_preview(name.public_bytes(), 32) + ">"


def _oid_name(oid: ObjectIdentifier) -> str:
    name = oid._name
    return oid.dotted_string if not name or name == "Unknown OID" else name


def _key_usage_names(ku: x509.KeyUsage) -> tuple[str, ...]:
    names = [label for attr, label in _KEY_USAGE_BITS if getattr(ku, attr)]
    if ku.key_agreement:  # the two bits below are only defined with keyAgreement
        if ku.encipher_only:
            names.append("encipherOnly")
        if ku.decipher_only:
            names.append("decipherOnly")
    return tuple(names)


def _key_facts(cert: x509.Certificate) -> tuple[str, int, str | None]:
    try:
        key = cert.public_key()
    except Exception:  # an algorithm cryptography does not know (GOST, ...)
        return "unknown", 0, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 448, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    return "unknown", 0, None


def _signature_hash(cert: x509.Certificate) -> str | None:
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:
        return _SIGNATURE_HASH_BY_OID.get(cert.signature_algorithm_oid.dotted_string)
    if algorithm is None:
        return None
    return algorithm.name.replace("-", "")  # "sha256", "sha1", "md5", "sha3256"...


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when `issuer` is named as cert's issuer and its key verifies cert's signature."""
    try:
        cert.verify_directly_issued_by(issuer)
    except ValueError:
        # Unsupported signature algorithm: cryptography no longer verifies SHA-1 or MD5
        # certificate signatures, but a scanner must still tell who signed what.
        return cert.issuer == issuer.subject and _legacy_signature_ok(cert, issuer)
    except Exception:
        return False
    return True


def _legacy_signature_ok(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        key = issuer.public_key()
        digest = cert.signature_hash_algorithm
        params = cert.signature_algorithm_parameters
        data, signature = cert.tbs_certificate_bytes, cert.signature
        if isinstance(key, rsa.RSAPublicKey) and digest is not None:
            if not isinstance(params, padding.PKCS1v15 | padding.PSS):
                return False
            key.verify(signature, data, params, digest)
        elif isinstance(key, ec.EllipticCurvePublicKey) and digest is not None:
            key.verify(signature, data, ec.ECDSA(digest))
        elif isinstance(key, dsa.DSAPublicKey) and digest is not None:
            key.verify(signature, data, digest)
        else:
            return False
    except Exception:
        return False
    return True


# --- DER surgery, so that one malformed extension does not hide all the others.


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, end) of the TLV at `pos`; single-byte tags (all X.509 needs)."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag, first = data[pos], data[pos + 1]
    start = pos + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("truncated DER")
    return tag, start, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, tlv start, content start, end) of every element in data[start:end]."""
    out = []
    pos = start
    while pos < end:
        tag, cstart, cend = _tlv(data, pos)
        out.append((tag, pos, cstart, cend))
        pos = cend
    return out


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def _decode_oid(content: bytes) -> str:
    if not content:
        return "?"
    first, rest = content[0], content[1:]
    arcs = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for byte in rest:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(str(a) for a in arcs)


def _split_extensions(der: bytes) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """Cut a certificate in pieces: (the other TBS fields, the extension TLVs,
    [signature algorithm, signature value])."""
    _, cstart, cend = _tlv(der, 0)
    top = _children(der, cstart, cend)
    if len(top) != 3:
        raise ValueError("a certificate has three parts")
    _, _, tbs_start, tbs_end = top[0]
    tbs_fields = _children(der, tbs_start, tbs_end)
    head: list[bytes] = []
    extensions: list[bytes] = []
    for tag, pos, cs, ce in tbs_fields:
        if tag == 0xA3:  # [3] EXPLICIT Extensions (RFC 5280 §4.1)
            _, seq_start, seq_end = _tlv(der, cs)
            extensions = [der[p:e] for _, p, _, e in _children(der, seq_start, seq_end)]
        else:
            head.append(der[pos:ce])
    tail = [der[p:e] for _, p, _, e in top[1:]]
    return head, extensions, tail


def _rebuild(head: list[bytes], extensions: list[bytes], tail: list[bytes]) -> bytes:
    tbs = b"".join(head)
    if extensions:
        tbs += _der(0xA3, _der(0x30, b"".join(extensions)))
    return _der(0x30, _der(0x30, tbs) + b"".join(tail))


def _tolerant_extensions(
    cert: x509.Certificate, der: bytes
) -> tuple[list[x509.Extension[x509.ExtensionType]], tuple[str, ...]]:
    try:
        return list(cert.extensions), ()
    except Exception:
        pass
    # cryptography parses the extensions as a whole: re-parse them one at a time in a copy
    # of the certificate that holds only that extension (its signature no longer matters).
    try:
        head, raw_extensions, tail = _split_extensions(der)
    except ValueError:
        return [], ("<extensions>",)
    good: list[x509.Extension[x509.ExtensionType]] = []
    broken: list[str] = []
    seen: set[ObjectIdentifier] = set()
    for raw in raw_extensions:
        try:
            copy = x509.load_der_x509_certificate(_rebuild(head, [raw], tail))
            parsed = list(copy.extensions)
        except Exception:
            broken.append(_raw_extension_oid(raw))
            continue
        for ext in parsed:
            if ext.oid not in seen:  # a duplicated extension: keep the first
                seen.add(ext.oid)
                good.append(ext)
    return good, tuple(broken)


def _raw_extension_oid(raw: bytes) -> str:
    try:
        _, cs, ce = _tlv(raw, 0)
        tag, _, ocs, oce = _children(raw, cs, ce)[0]
        return _decode_oid(raw[ocs:oce]) if tag == 0x06 else "?"
    except (ValueError, IndexError):
        return "?"


def dn_to_string(der_name: bytes) -> str:
    """A DER DistinguishedName (as in CertificateRequest.certificate_authorities, RFC 8446
    §4.2.4) as an RFC 4514 string; "<undecodable name: hex…>" when it is not one."""
    data = bytes(der_name)
    try:
        tag, _, end = _tlv(data, 0)
        if tag != 0x30 or end != len(data):
            raise ValueError("not one SEQUENCE")
        # cryptography has no public DER Name loader: wrap the name in a minimal CRL
        # (TBSCertList = signature AlgorithmIdentifier, issuer Name, thisUpdate).
        algorithm = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d01010b")) + b"\x05\x00")
        this_update = _der(0x17, b"250101000000Z")
        tbs = _der(0x30, algorithm + data + this_update)
        crl = x509.load_der_x509_crl(_der(0x30, tbs + algorithm + _der(0x03, b"\x00")))
        return crl.issuer.rfc4514_string()
    except Exception:
        return "<undecodable name: " + _hex_preview(data, 32) + ">"


# --------------------------------------------------------------------------------------------
# Trust store


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustStore:
    certificates: tuple[x509.Certificate, ...]
    sources: tuple[str, ...]  # the files and directories read
    store: Store | None = field(default=None, compare=False)  # None when empty
    # The roots of the CA file (a private PKI), judged by RFC 5280 rather than WebPKI.
    private: tuple[x509.Certificate, ...] = ()
    private_store: Store | None = field(default=None, compare=False)


def load_trust_store(ca_file: str | None, use_system_store: bool) -> TrustStore:
    """Roots from `ca_file` (PEM or DER, raising TrustStoreError when it is unusable) plus,
    when asked, OpenSSL's default CA file and directory. A missing system store is an empty
    store, not an error. Cached per (file, modification time)."""
    key: tuple[str, int, int] | None = None
    if ca_file is not None:
        try:
            st = os.stat(ca_file)
        except OSError as exc:
            raise TrustStoreError(f"CA file {ca_file} cannot be read: {exc.strerror or exc}") from exc
        key = (os.path.abspath(ca_file), st.st_mtime_ns, st.st_size)
    return _load_trust_store_cached(key, use_system_store)


@functools.lru_cache(maxsize=32)
def _load_trust_store_cached(
    ca_file: tuple[str, int, int] | None, use_system_store: bool
) -> TrustStore:
    certs: list[x509.Certificate] = []
    sources: list[str] = []
    private: list[x509.Certificate] = []
    if ca_file is not None:
        path = ca_file[0]
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise TrustStoreError(f"CA file {path} cannot be read: {exc.strerror or exc}") from exc
        found = _certificates_in(data)
        if not found:
            raise TrustStoreError(f"CA file {path} holds no certificate (PEM or DER)")
        certs.extend(found)
        private.extend(found)
        sources.append(path)
    if use_system_store:
        certs_before = len(certs)
        paths = ssl.get_default_verify_paths()
        for cafile in (paths.cafile, paths.openssl_cafile):
            if cafile and os.path.isfile(cafile):
                certs.extend(_certificates_in(_read_or_empty(cafile)))
                sources.append(cafile)
                break
        if len(certs) == certs_before:  # no bundle: read the hashed directory instead
            for capath in (paths.capath, paths.openssl_capath):
                if capath and os.path.isdir(capath):
                    for entry in sorted(os.listdir(capath)):
                        full = os.path.join(capath, entry)
                        if os.path.isfile(full):
                            certs.extend(_certificates_in(_read_or_empty(full)))
                    sources.append(capath)
                    break
    unique: dict[bytes, x509.Certificate] = {}
    for cert in certs:
        unique.setdefault(cert.fingerprint(hashes.SHA256()), cert)
    roots = tuple(unique.values())
    return TrustStore(
        certificates=roots, sources=tuple(sources), store=_store(roots),
        private=tuple(private), private_store=_store(private),
    )


def _store(roots: Sequence[x509.Certificate]) -> Store | None:
    if not roots:
        return None
    try:
        return Store(list(roots))
    except Exception:
        return None


def _read_or_empty(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _certificates_in(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle (one bad block is skipped) or a single DER."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return _certificates_in_quietly(data)


def _certificates_in_quietly(data: bytes) -> list[x509.Certificate]:
    if b"-----BEGIN" not in data:
        try:
            return [x509.load_der_x509_certificate(data)] if data else []
        except ValueError:
            return []
    out = []
    marker = b"-----END CERTIFICATE-----"
    for chunk in data.split(marker):
        begin = chunk.find(b"-----BEGIN CERTIFICATE-----")
        if begin < 0:
            continue
        try:
            out.append(x509.load_pem_x509_certificate(chunk[begin:] + marker + b"\n"))
        except ValueError:
            continue
    return out


# --------------------------------------------------------------------------------------------
# Host names (RFC 6125 §6.4)


def match_hostname(info: CertificateInfo, hostname: str) -> tuple[bool, bool]:
    """(matches, matched only through the subject CN). The CN is consulted only when the
    certificate has no dNSName and no iPAddress SAN (RFC 6125 §6.4.4); WebPKI clients never
    consult it, so a CN match is a deviation the caller must report."""
    host = hostname.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    ip = _parse_ip(host)
    has_san = bool(info.san_dns or info.san_ip)
    if ip is not None:
        if any(_parse_ip(s) == ip for s in info.san_ip):
            return True, False
        if not has_san and any(_parse_ip(cn.strip()) == ip for cn in info.common_names):
            return True, True
        return False, False
    name = _normalise_dns(host)
    if name is None:
        return False, False
    if any(_dns_matches(pattern, name) for pattern in info.san_dns):
        return True, False
    if not has_san and any(_dns_matches(cn, name) for cn in info.common_names):
        return True, True
    return False, False


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _normalise_dns(name: str) -> str | None:
    name = name.strip().rstrip(".").lower()
    if not name:
        return None
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return name


def _dns_matches(pattern: str, host: str) -> bool:
    """RFC 6125 §6.4.3, as browsers apply it: a wildcard is a whole left-most label, stands
    for exactly one label, and needs at least two labels after it."""
    normal = _normalise_dns(pattern)
    if normal is None:
        return False
    if "*" not in normal:
        return normal == host
    labels = normal.split(".")
    if labels[0] != "*" or "*" in ".".join(labels[1:]) or len(labels) < 3:
        return False
    host_labels = host.split(".")
    if len(host_labels) != len(labels) or not host_labels[0]:
        return False
    if _parse_ip(host) is not None:
        return False
    return host_labels[1:] == labels[1:]


# --------------------------------------------------------------------------------------------
# Validation

# The codes, in the order they are reported.
PROBLEM_CODES = (
    "untrusted_root",
    "incomplete_chain",
    "self_signed",
    "hostname_mismatch",
    "expired",
    "not_yet_valid",
    "wrong_usage",
    "weak_key",
    "weak_signature",
    "chain_order",
    "extra_certs",
    "cn_only",
)

# Problems a lenient client (OpenSSL with a user CA, old Java, curl --insecure-ish setups)
# would let through but a WebPKI client (browsers, cryptography's verifier) refuses.
_WEBPKI_RULES = ("self_signed", "wrong_usage", "weak_key", "weak_signature", "cn_only")

# Key usage a cipher suite's key exchange needs from the server key (RFC 5280 §4.2.1.3,
# RFC 5246 §7.4.2). Keys are handshakes.registry CipherSuite.kx values ("any" = TLS 1.3).
_KU_FOR_KX = {
    "RSA": "keyEncipherment",
    "RSAPSK": "keyEncipherment",
    "DHE": "digitalSignature",
    "ECDHE": "digitalSignature",
    "ANY": "digitalSignature",
    "TLS13": "digitalSignature",
    "DH": "keyAgreement",
    "ECDH": "keyAgreement",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainValidation:
    """What a chain means. `trusted` is the verdict of cryptography's verifier on the trust
    path only (the host name is judged in `hostname_ok`, apart from trust), under the
    `profile` that applies to the root reached: "webpki" for a root of the system store,
    "rfc5280" for a root of the CA file (None when not trusted). `webpki_rules` names each
    rule of the strict WebPKI profile that a chain trusted under RFC 5280 breaks ("the leaf
    has no AuthorityKeyIdentifier (RFC 5280 4.2.1.1, CA/Browser Forum)").
    `problems` lists every defect found, in PROBLEM_CODES order; `details` says, for each,
    which certificate and why ("code: text")."""

    trusted: bool
    hostname: str | None
    hostname_ok: bool | None
    error: str | None
    problems: tuple[str, ...]
    webpki_deviations: tuple[str, ...]
    missing_issuer: str | None
    missing_issuer_url: str | None
    path: tuple[str, ...]
    details: tuple[str, ...] = ()
    profile: str | None = None
    webpki_rules: tuple[str, ...] = ()


_Flag = Callable[[str, str], None]


@dataclass(slots=True)
class _Cert:
    cert: x509.Certificate
    info: CertificateInfo
    sent: bool  # came from the server (False: from the trust store)


def issuer_certificate(
    chain: Sequence[bytes], *, ca_file: str | None = None, use_system_store: bool = True
) -> bytes | None:
    """The DER of the certificate that issued the leaf (``chain[0]``): one the server sent,
    or else a root of the trust store (``ca_file``, the system store), the one whose
    subject is the leaf's issuer and whose key verifies the leaf's signature (RFC 5280
    section 6.1.3). None when neither holds it or the leaf is undecodable. Raises
    TrustStoreError only for an unusable ca_file. Found once per (chain, trust store):
    the answer depends on nothing else (_ISSUERS)."""
    trust = load_trust_store(ca_file, use_system_store)
    if not all(type(der) is bytes for der in chain):
        return _issuer_certificate(chain, trust)
    key = (tuple(chain), id(trust))
    cached = _ISSUERS.get(key)
    if cached is not None and cached[0] is trust:
        return cached[1]
    found = _issuer_certificate(chain, trust)
    if len(_ISSUERS) >= 256:
        _ISSUERS.clear()
    _ISSUERS[key] = (trust, found)
    return found


# issuer_certificate's answers, kept within a process: a fleet's endpoints send the same
# chain, and looking for the issuer compared the leaf's issuer with every root of the
# system store for each of them (issue 16). Key: (chain, id of the trust store); value:
# (trust store, the issuer's DER or None).
_ISSUERS: dict[tuple[tuple[bytes, ...], int], tuple[TrustStore, bytes | None]] = {}


def _issuer_certificate(chain: Sequence[bytes], trust: TrustStore) -> bytes | None:
    try:
        leaf = _load_certificate(chain[0])
    except Exception:
        return None
    candidates: list[x509.Certificate] = []
    for der in chain[1:]:
        try:
            candidates.append(_load_certificate(der))
        except Exception:
            continue
    candidates.extend(trust.certificates)
    for cert in candidates:
        if cert.subject != leaf.issuer:
            continue
        try:
            leaf.verify_directly_issued_by(cert)
        except Exception:
            continue
        return cert.public_bytes(serialization.Encoding.DER)
    return None


def validate_chain(
    chain: Sequence[bytes],
    *,
    hostname: str | None,
    now: datetime.datetime | None = None,
    ca_file: str | None = None,
    use_system_store: bool = True,
    key_exchange: str | None = None,
) -> ChainValidation:
    """Judge the certificates a server sent (leaf first). `key_exchange` is the negotiated
    suite's key exchange ("RSA", "ECDHE", "DHE", "any" for TLS 1.3...) when known: it decides
    which key usage bit the leaf needs. Raises TrustStoreError only for an unusable ca_file.

    Judged once per (chain, hostname, key exchange, trust store) while the time stays
    between the same validity bounds (_VALIDATIONS)."""
    when = now if now is not None else datetime.datetime.now(datetime.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    trust = load_trust_store(ca_file, use_system_store)
    key = None
    if all(type(der) is bytes for der in chain):
        key = (tuple(chain), hostname, key_exchange, id(trust))
        cached = _VALIDATIONS.get(key)
        if cached is not None and cached[0] is trust and cached[1] < when < cached[2]:
            return cached[3]
    validation = _validate_chain(chain, hostname, when, trust, key_exchange)
    if key is not None and (window := _time_window(chain, trust, when)) is not None:
        if len(_VALIDATIONS) >= 256:  # a fleet shares few chains; the DER held stays small
            _VALIDATIONS.clear()
        _VALIDATIONS[key] = (trust, window[0], window[1], validation)
    return validation


# The verdicts of validate_chain, kept within a process: a fleet's endpoints send the same
# chain again and again, and judging it (the lenient walk's signature checks, the
# verifier) was 3% of a fleet scan's CPU (issue 16). A verdict depends on the time only
# through the validity bounds of the certificates that can take part (RFC 5280 section
# 4.1.2.5, 6.1.3 (a)(2)): the ones sent, and the store's roots named as the issuer of one
# of them (a root ends a path, so the roots' own issuers never count). It is reused for a
# time strictly between the same two bounds. Key: (chain, hostname, key exchange, id of
# the trust store); value: (trust store, after, before, verdict).
_VALIDATIONS: dict[
    tuple[tuple[bytes, ...], str | None, str | None, int],
    tuple[TrustStore, datetime.datetime, datetime.datetime, ChainValidation],
] = {}
_NEVER = datetime.datetime.min.replace(tzinfo=datetime.UTC)
_FOREVER = datetime.datetime.max.replace(tzinfo=datetime.UTC)


def _time_window(
    chain: Sequence[bytes], trust: TrustStore, when: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime] | None:
    """(after, before): the nearest validity bounds around ``when`` of every certificate
    that can take part in judging ``chain``; None when one cannot be read or ``when`` is a
    bound itself (not cached then)."""
    infos: list[CertificateInfo | None] = []
    issuers: set[x509.Name] = set()
    for der in chain:
        try:
            cert = _load_certificate(der)
            infos.append(_decoded(der))
        except Exception:
            continue  # an undecodable certificate takes no part (validate_chain skips it)
        issuers.add(cert.issuer)
    index = _anchor_index(trust.certificates)
    for name in issuers:
        infos.extend(_describe_anchor(trust.certificates[p]) for p in index.get(name, ()))
    infos.extend(_describe_anchor(root) for root in trust.private if root.subject in issuers)
    after, before = _NEVER, _FOREVER
    for info in infos:
        if info is None:
            return None
        for bound in (info.not_before, info.not_after):
            if bound == when:
                return None
            if bound < when:
                after = max(after, bound)
            else:
                before = min(before, bound)
    return after, before


def _validate_chain(
    chain: Sequence[bytes], hostname: str | None, when: datetime.datetime, trust: TrustStore,
    key_exchange: str | None,
) -> ChainValidation:
    problems: list[str] = []
    details: list[str] = []

    def flag(code: str, text: str) -> None:
        problems.append(code)
        details.append(f"{code}: {text}")

    sent: list[_Cert] = []
    for index, der in enumerate(chain):
        try:
            # A certificate object of its own per position (the checks below tell the
            # sent certificates apart by identity); the description from the cache.
            cert = _load_certificate(der)
            sent.append(_Cert(cert=cert, info=_decoded(der), sent=True))
        except Exception as exc:
            if index == 0:
                return ChainValidation(
                    trusted=False,
                    hostname=hostname,
                    hostname_ok=None if hostname is None else False,
                    error=f"leaf certificate undecodable: {exc}",
                    problems=(),
                    webpki_deviations=(),
                    missing_issuer=None,
                    missing_issuer_url=None,
                    path=(),
                    details=(f"certificate #0 undecodable: {exc}",),
                )
            details.append(f"certificate #{index} undecodable, ignored: {exc}")
    if not sent:
        return ChainValidation(
            trusted=False,
            hostname=hostname,
            hostname_ok=None if hostname is None else False,
            error="no certificate",
            problems=(),
            webpki_deviations=(),
            missing_issuer=None,
            missing_issuer_url=None,
            path=(),
        )
    leaf = sent[0]
    anchors = trust.certificates

    # Host name, independently of trust.
    hostname_ok: bool | None = None
    via_cn = False
    if hostname is not None:
        hostname_ok, via_cn = match_hostname(leaf.info, hostname)
        if not hostname_ok:
            names = ", ".join(leaf.info.san_dns + leaf.info.san_ip) or (
                "no SAN; CN " + ", ".join(leaf.info.common_names)
            )
            flag("hostname_mismatch", f"{hostname!r} is not in the leaf's names ({names})")
    if not (leaf.info.san_dns or leaf.info.san_ip):
        flag(
            "cn_only",
            "the leaf has no subjectAltName DNS or IP entry"
            + (" (the host name matched its CN only)" if via_cn else ""),
        )

    # Lenient path: follow issuer names and signatures through what was sent and the store.
    path, anchored, end_reason = _walk(leaf, sent[1:], anchors)

    # The verdict, per verifier family: WebPKI for the system roots, RFC 5280 path
    # validation for the CA file's (see the module comment).
    subject = _verify_subject(leaf, hostname, hostname_ok)
    intermediates = [c.cert for c in sent[1:]]
    trusted, error, verified = _verify(trust.store, leaf.cert, intermediates, subject, when, None)
    profile: str | None = None
    webpki_rules: tuple[str, ...] = ()
    private = trust.private
    if trusted:
        profile = "rfc5280" if _is_among(verified[-1], private) else "webpki"
    elif trust.private_store is not None:
        ok, error_5280, built = _verify(
            trust.private_store, leaf.cert, intermediates, subject, when, _RFC5280_POLICIES
        )
        if ok:
            trusted, verified, profile = True, built, "rfc5280"
            webpki_rules = (error,) if error else ()
            error = None
        elif anchored and _is_among(path[-1].cert, private):
            error = error_5280  # what a client trusting the CA file would say
    error = _readable_error(error, sent) if error else error
    webpki_rules = tuple(_readable_error(r, sent) for r in webpki_rules)
    missing_issuer: str | None = None
    missing_issuer_url: str | None = None
    last = path[-1]
    if leaf.info.self_signed:
        flag("self_signed", "the leaf is signed by its own key")
    if not trusted and not anchored:
        if end_reason == "self_signed":
            flag("untrusted_root", f"the chain ends at {last.info.subject!r}, not a trusted root")
        elif last is not leaf and last.info.is_ca:
            # The server sent its chain up to a CA certificate, as RFC 8446 4.4.2 and RFC
            # 5246 7.4.2 let it (the root "MAY be omitted"): the unknown issuer of that CA is
            # most likely a root this trust store lacks (a private PKI scanned without
            # --ca-file), not an intermediate the server forgot. A chain that needs one
            # more intermediate looks the same from here, so the detail says both.
            missing_issuer = last.info.issuer
            flag(
                "untrusted_root",
                f"the chain sent ends at the CA {last.info.subject!r}, whose issuer "
                f"{last.info.issuer!r} is not in the trust store: an unknown or private root "
                "(or one more intermediate the server does not send)",
            )
        else:
            missing_issuer = last.info.issuer
            urls = last.info.ca_issuers_urls or leaf.info.ca_issuers_urls
            missing_issuer_url = urls[0] if urls else None
            flag(
                "incomplete_chain",
                f"issuer {missing_issuer!r} of {last.info.subject!r} was "
                f"neither sent nor trusted ({end_reason})",
            )

    for item in path:
        who = "leaf" if item is leaf else repr(item.info.subject)
        if item.info.not_after < when:
            flag("expired", f"{who} expired {item.info.not_after.isoformat()}")
        if item.info.not_before > when:
            flag("not_yet_valid", f"{who} is valid from {item.info.not_before.isoformat()}")

    _check_usage(leaf, path, key_exchange, flag)

    for item in path:
        who = "leaf" if item is leaf else repr(item.info.subject)
        info = item.info
        minimum = {"RSA": 2048, "DSA": 2048, "EC": 224}.get(info.key_type)
        if minimum is not None and info.key_bits < minimum:
            flag("weak_key", f"{who} has a {info.key_bits}-bit {info.key_type} key")
        # A self-signed root's own signature protects nothing (RFC 5280 §6.1: the trust
        # anchor is taken as given), so its hash is not held against it.
        if info.self_signed and item is last:
            continue
        if info.signature_hash in ("sha1", "md5", "md2"):
            flag("weak_signature", f"{who} is signed with {info.signature_algorithm}")

    _check_order(sent, path, flag)

    # A deviation is a WebPKI rule broken by a chain that does reach a trusted root (a lax
    # client or a user CA accepts it). "policy": the verifier refused it for a reason not
    # listed in PROBLEM_CODES (see `error`).
    deviations: tuple[str, ...] = ()
    dated = {"expired", "not_yet_valid"} & set(problems)
    if (trusted or anchored) and not dated:
        deviations = tuple(code for code in _WEBPKI_RULES if code in problems)
        if (not trusted or webpki_rules) and not deviations:
            deviations = ("policy",)

    ordered = tuple(code for code in PROBLEM_CODES if code in problems)
    return ChainValidation(
        trusted=trusted,
        hostname=hostname,
        hostname_ok=hostname_ok,
        error=error,
        problems=ordered,
        webpki_deviations=deviations,
        missing_issuer=missing_issuer,
        missing_issuer_url=missing_issuer_url,
        path=tuple(_name_string(c.subject) for c in verified) if trusted else (),
        details=tuple(dict.fromkeys(details)),
        profile=profile,
        webpki_rules=webpki_rules,
    )


@functools.lru_cache(maxsize=4096)
def _describe_anchor(cert: x509.Certificate) -> CertificateInfo | None:
    try:
        return _describe(cert)
    except Exception:
        return None


def _verify_subject(leaf: _Cert, hostname: str | None, hostname_ok: bool | None) -> DNSName | IPAddress:
    """A name the leaf holds, so that a wrong host name (reported apart) does not hide
    whether the chain itself is trusted."""
    subject: DNSName | IPAddress | None = None
    if hostname is not None and hostname_ok:
        ip = _parse_ip(hostname.strip("[]"))
        subject = IPAddress(ip) if ip is not None else DNSName(_normalise_dns(hostname) or "")
    elif leaf.info.san_dns:
        name = leaf.info.san_dns[0]
        subject = DNSName("wildcard" + name[1:] if name.startswith("*.") else name)
    elif leaf.info.san_ip:
        ip = _parse_ip(leaf.info.san_ip[0])
        subject = IPAddress(ip) if ip is not None else None
    return subject if subject is not None else DNSName("invalid")  # no SAN: refused, rightly


def _verify(
    store: Store | None,
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    subject: DNSName | IPAddress,
    when: datetime.datetime,
    policies: tuple[ExtensionPolicy, ExtensionPolicy] | None,
) -> tuple[bool, str | None, list[x509.Certificate]]:
    """cryptography's verifier: the WebPKI profile (``policies`` None) or the given (CA,
    end-entity) extension policies. (trusted, the verifier's message, the path built)."""
    if store is None:
        return False, "the trust store is empty", []
    try:
        builder = PolicyBuilder().store(store).time(when)
        if policies is not None:
            builder = builder.extension_policies(ca_policy=policies[0], ee_policy=policies[1])
        built = builder.build_server_verifier(subject).verify(leaf, intermediates)
    except VerificationError as exc:
        return False, str(exc), []
    except Exception as exc:  # a name the verifier cannot take, an unsupported key...
        return False, f"{type(exc).__name__}: {exc}", []
    return True, None, list(built)


def _is_among(cert: x509.Certificate, roots: Sequence[x509.Certificate]) -> bool:
    return any(cert == r or _same_key_and_name(cert, r) for r in roots)


# RFC 5280 path validation as OpenSSL, curl and Python's ssl do it (section 6.1), instead
# of the WebPKI profile: no AuthorityKeyIdentifier / SubjectKeyIdentifier requirements and
# a CA certificate in the leaf's place is allowed (a self-signed server certificate the
# user trusts directly). Kept: signatures, validity, a CA must be a CA (basicConstraints
# cA, RFC 5280 4.2.1.9) allowed to sign certificates (keyUsage keyCertSign, 4.2.1.3), and
# the server-purpose checks OpenSSL makes (extendedKeyUsage serverAuth when present,
# RFC 5280 4.2.1.12). cryptography requires subjectAltName of a server leaf.


def _ca_basic_constraints(policy: object, cert: x509.Certificate, ext: x509.BasicConstraints | None) -> None:
    # cryptography requires the extension of every CA (an X.509 v1 root is not supported).
    if ext is not None and not ext.ca:
        raise ValueError("a certificate that is not a CA (basicConstraints cA false) issued another (RFC 5280 4.2.1.9)")


def _ca_key_usage(policy: object, cert: x509.Certificate, ext: x509.KeyUsage | None) -> None:
    if ext is not None and not ext.key_cert_sign:
        raise ValueError("a CA certificate whose keyUsage lacks keyCertSign (RFC 5280 4.2.1.3)")


def _ee_eku(policy: object, cert: x509.Certificate, ext: x509.ExtendedKeyUsage | None) -> None:
    if ext is not None and not {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(ext):
        raise ValueError("the leaf's extendedKeyUsage does not allow serverAuth (RFC 5280 4.2.1.12)")


def _rfc5280_policies() -> tuple[ExtensionPolicy, ExtensionPolicy]:
    ca = (
        ExtensionPolicy.permit_all()
        .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, _ca_basic_constraints)
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _ca_key_usage)
    )
    ee = (
        ExtensionPolicy.permit_all()
        .require_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _ee_eku)
    )
    return ca, ee


_RFC5280_POLICIES = _rfc5280_policies()

# The verifier's messages, rewritten: which rule, by name and section, and which
# certificate, by subject. (cryptography appends a repr of the certificate.)
_EXTENSION_RULES = {
    "2.5.29.35": "AuthorityKeyIdentifier (RFC 5280 4.2.1.1, CA/Browser Forum BR 7.1.2)",
    "2.5.29.14": "SubjectKeyIdentifier (RFC 5280 4.2.1.2, CA/Browser Forum BR 7.1.2)",
    "2.5.29.15": "keyUsage (RFC 5280 4.2.1.3)",
    "2.5.29.17": "subjectAltName (RFC 5280 4.2.1.6)",
    "2.5.29.19": "basicConstraints (RFC 5280 4.2.1.9)",
    "2.5.29.30": "nameConstraints (RFC 5280 4.2.1.10)",
    "2.5.29.32": "certificatePolicies (RFC 5280 4.2.1.4)",
    "2.5.29.37": "extendedKeyUsage (RFC 5280 4.2.1.12)",
    "1.3.6.1.5.5.7.1.1": "authorityInfoAccess (RFC 5280 4.2.2.1)",
}
_PROCESSING = re.compile(r"\s*\(encountered processing <Certificate\(subject=<Name\((?P<name>.*?)\)>, \.\.\.\)>\)")
_MISSING = re.compile(r"invalid extension: (?P<oid>[0-9.]+): Certificate is missing required extension")
_BAD = re.compile(r"invalid extension: (?P<oid>[0-9.]+): (?P<text>.*)")


def _readable_error(message: str, sent: Sequence[_Cert]) -> str:
    """The verifier's message with the certificate named by its subject and the rule by
    its name and RFC section; never a Python repr."""
    who = "a certificate"
    found = _PROCESSING.search(message)
    if found:
        name = found.group("name")
        leaf_subject = sent[0].cert.subject.rfc4514_string() if sent else None
        who = f"the leaf ({name})" if name == leaf_subject else f"the CA certificate {name}"
        message = _PROCESSING.sub("", message)
    message = message.removeprefix("validation failed: ").strip()
    missing = _MISSING.search(message)
    if missing:
        rule = _EXTENSION_RULES.get(missing.group("oid"), missing.group("oid"))
        return f"{who} has no {rule}"
    bad = _BAD.search(message)
    if bad:
        rule = _EXTENSION_RULES.get(bad.group("oid"), bad.group("oid"))
        return f"{who}: {rule}: {bad.group('text')}"
    if "basicConstraints.cA must not be asserted in an EE certificate" in message:
        return f"{who} is marked as a CA (basicConstraints cA) but serves as the server certificate (RFC 5280 4.2.1.9, CA/Browser Forum BR 7.1.2.7)"
    if "<" in message and ">" in message:  # any other repr: cut it off
        message = re.sub(r"<[^<>]*>", "", message)
        message = re.sub(r"<[^<>]*>", "", message)
    return f"{message} ({who})" if found else message


def _same_key_and_name(a: x509.Certificate, b: x509.Certificate) -> bool:
    if a.subject != b.subject:
        return False
    try:
        return a.public_key() == b.public_key()
    except Exception:
        return a == b


def _walk(
    leaf: _Cert, sent: list[_Cert], anchors: Sequence[x509.Certificate]
) -> tuple[list[_Cert], bool, str]:
    """Build the path a lenient client would: (path, ends at a trust anchor, why it stops)."""
    path = [leaf]
    current = leaf
    from_store = []
    index = _anchor_index(anchors)
    for position in sorted({p for name in _issuers(leaf, sent) for p in index.get(name, ())}):
        anchor = anchors[position]
        info = _describe_anchor(anchor)
        if info is not None:
            from_store.append(_Cert(cert=anchor, info=info, sent=False))
    for _ in range(16):
        # _same_key_and_name needs the same subject: only those anchors are compared.
        if any(_same_key_and_name(current.cert, anchors[p]) for p in index.get(current.cert.subject, ())):
            return path, True, "anchor"
        if current.info.self_issued and current.info.self_signed:
            return path, False, "self_signed"
        used = {id(c.cert) for c in path}
        # What the server sent first: a sent root that is also in the store is then part of
        # the path (and is recognised as the anchor at the next step).
        named = [
            c
            for c in sent + from_store
            if c.cert.subject == current.cert.issuer and id(c.cert) not in used
        ]
        signer = next((c for c in named if _signed_by(current.cert, c.cert)), None)
        if signer is None:
            if current.info.self_issued:
                return path, False, "self_signed"  # self-issued but the signature is bad
            if named:
                return (
                    path,
                    False,
                    "certificates with that name were present but none verifies its signature",
                )
            return path, False, "no certificate with that subject"
        path.append(signer)
        current = signer
    return path, False, "path too long"


_ANCHOR_INDEX: dict[int, tuple[Sequence[x509.Certificate], dict[x509.Name, tuple[int, ...]]]] = {}


def _anchor_index(anchors: Sequence[x509.Certificate]) -> dict[x509.Name, tuple[int, ...]]:
    """Subject -> positions in ``anchors``, once per trust store (the stores are cached,
    so the same sequence comes back for every chain). Walking every root of the system
    store and building its subject for each chain was 7% of a fleet scan's CPU (issue 16)."""
    entry = _ANCHOR_INDEX.get(id(anchors))
    if entry is not None and entry[0] is anchors:
        return entry[1]
    index: dict[x509.Name, list[int]] = {}
    for position, anchor in enumerate(anchors):
        index.setdefault(anchor.subject, []).append(position)
    if len(_ANCHOR_INDEX) >= 64:
        _ANCHOR_INDEX.clear()
    frozen = {name: tuple(positions) for name, positions in index.items()}
    _ANCHOR_INDEX[id(anchors)] = (anchors, frozen)  # holds the sequence: its id stays its own
    return frozen


def _issuers(leaf: _Cert, sent: list[_Cert]) -> list[x509.Name]:
    return [leaf.cert.issuer] + [c.cert.issuer for c in sent]


def _check_usage(leaf: _Cert, path: list[_Cert], key_exchange: str | None, flag: _Flag) -> None:
    info = leaf.info
    if info.has_eku and not {"serverAuth", "anyExtendedKeyUsage"} & set(info.extended_key_usage):
        flag(
            "wrong_usage",
            "the leaf's extendedKeyUsage ("
            + ", ".join(info.extended_key_usage)
            + ") does not include serverAuth",
        )
    elif info.has_eku and "serverAuth" not in info.extended_key_usage:
        flag("wrong_usage", "the leaf allows anyExtendedKeyUsage but not serverAuth (WebPKI)")
    if info.key_usage:
        usage = set(info.key_usage)
        if key_exchange is not None:
            needed = _KU_FOR_KX.get(key_exchange.upper().replace("-", "").replace(".", ""))
            if needed is not None and needed not in usage:
                flag(
                    "wrong_usage",
                    f"{key_exchange} key exchange needs {needed}, the leaf's "
                    f"keyUsage is {', '.join(info.key_usage)}",
                )
        elif not usage & {"digitalSignature", "keyEncipherment", "keyAgreement"}:
            flag(
                "wrong_usage",
                "the leaf's keyUsage ("
                + ", ".join(info.key_usage)
                + ") allows no TLS key exchange",
            )
    for item in path[1:]:
        eku = item.info.extended_key_usage
        if item.info.has_eku and not {"serverAuth", "anyExtendedKeyUsage"} & set(eku):
            flag(
                "wrong_usage",
                f"CA {item.info.subject!r} restricts extendedKeyUsage to " + ", ".join(eku),
            )


def _check_order(sent: list[_Cert], path: list[_Cert], flag: _Flag) -> None:
    in_path = {id(c.cert) for c in path}
    fingerprints: set[str] = set()
    for index, item in enumerate(sent):
        if item.info.sha256 in fingerprints:
            flag("extra_certs", f"certificate #{index} ({item.info.subject!r}) is sent twice")
        elif index > 0 and id(item.cert) not in in_path:
            flag(
                "extra_certs",
                f"certificate #{index} ({item.info.subject!r}) is not part of the path",
            )
        fingerprints.add(item.info.sha256)
    # RFC 5246 §7.4.2: each certificate must certify the one immediately preceding it.
    # (RFC 8446 §4.4.2 relaxes this, but many clients still build from the sent order.)
    sent_order = [id(c.cert) for c in sent if id(c.cert) in in_path]
    path_order = [id(c.cert) for c in path if c.sent]
    if sent_order != path_order:
        flag("chain_order", "the certificates are not sent leaf first, each followed by its issuer")
