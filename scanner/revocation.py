# Is the server's certificate revoked? OCSP (RFC 6960) first, then CRLs (RFC 5280 §5).
#
# Rules it keeps:
# - A network failure is an outcome, not an exception: refused, timeout, HTTP error and
#   garbage are recorded in `detail`, and the result is "unreachable" only when no URL
#   answered at all (what Windows reports as CRYPT_E_REVOCATION_OFFLINE, 0x80092013).
# - Deadlines belong to the caller: wrap `check_revocation` in `trio.move_on_after(...)`.
#   The httpx client made here has a generous timeout only as a safety net.
# - An answer counts only if it is about this certificate and, when the issuer is known,
#   signed by the issuer or by a responder the issuer delegated to (RFC 6960 §4.2.2.2).
#   Without the issuer, OCSP cannot be asked (the request names the issuer's hashes,
#   RFC 6960 §4.1.1), and a CRL's signature cannot be checked: the detail says so.

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from scanner.x509 import CertificateDecodeError, decode_certificate

if TYPE_CHECKING:  # httpx (and what it imports) only once a URL is to be fetched
    import httpx

__all__ = ["RevocationResult", "check_revocation", "check_stapled"]

# How far a responder's clock may run ahead of ours before its answer is refused.
_CLOCK_SKEW = datetime.timedelta(minutes=5)
# Safety net only: the caller's deadline (trio.move_on_after) is the real limit.
_SAFETY_TIMEOUT = 60.0  # seconds, every phase


@dataclass(frozen=True, slots=True, kw_only=True)
class RevocationResult:
    status: str  # "good" | "revoked" | "unknown" | "unreachable" | "not_checked"
    method: str  # "ocsp_stapled" | "ocsp" | "crl" | "none"
    detail: str
    revoked_at: datetime.datetime | None = None
    reason: str | None = None  # RFC 5280 §5.3.1 name: "keyCompromise", ...
    urls_tried: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Verdict:
    """What one OCSP response or CRL says. `answered` is False for garbage (not OCSP, not
    a CRL): for a fetched URL that counts as a failure to answer."""

    status: str  # "good" | "revoked" | "unknown"
    detail: str
    answered: bool = True
    revoked_at: datetime.datetime | None = None
    reason: str | None = None


# _judge_ocsp or _judge_crl: (body, leaf, issuer, now) -> what the body says.
_Judge = Callable[[bytes, x509.Certificate, x509.Certificate | None, datetime.datetime], _Verdict]


# --------------------------------------------------------------------------------------------
# Stapled OCSP (RFC 6066 §8, RFC 6961)


def check_stapled(ocsp_der: bytes, leaf_der: bytes, issuer_der: bytes | None) -> RevocationResult:
    """Judge the OCSP response a server stapled to its handshake."""
    try:
        leaf = _load(leaf_der)
    except CertificateDecodeError as exc:
        return RevocationResult(status="not_checked", method="none", detail=f"leaf: {exc}")
    issuer, issuer_note = _load_issuer(issuer_der)
    verdict = _judge_ocsp(bytes(ocsp_der), leaf, issuer, _now())
    detail = "stapled OCSP response: " + verdict.detail + issuer_note
    return RevocationResult(
        status=verdict.status,
        method="ocsp_stapled",
        detail=detail,
        revoked_at=verdict.revoked_at,
        reason=verdict.reason,
    )


# --------------------------------------------------------------------------------------------
# Fetching


async def check_revocation(
    leaf_der: bytes, issuer_der: bytes | None, *, client: httpx.AsyncClient | None = None
) -> RevocationResult:
    """Ask the leaf's OCSP responders, then its CRL distribution points, until one gives a
    usable answer. Never raises for network or garbage problems."""
    try:
        leaf = _load(leaf_der)
        info = decode_certificate(leaf_der)
    except CertificateDecodeError as exc:
        return RevocationResult(status="not_checked", method="none", detail=f"leaf: {exc}")
    ocsp_urls = tuple(u for u in info.ocsp_urls if _is_http(u))
    crl_urls = tuple(u for u in info.crl_urls if _is_http(u))
    skipped = [u for u in info.ocsp_urls + info.crl_urls if not _is_http(u)]
    if not ocsp_urls and not crl_urls:
        detail = "the certificate names no OCSP responder and no CRL distribution point"
        if skipped:
            detail = "no HTTP revocation URL (not fetched: " + ", ".join(skipped) + ")"
        return RevocationResult(status="not_checked", method="none", detail=detail)
    issuer, issuer_note = _load_issuer(issuer_der)
    if client is None:
        import httpx

        async with httpx.AsyncClient(timeout=_SAFETY_TIMEOUT, follow_redirects=True) as own:
            return await _check(leaf, issuer, issuer_note, ocsp_urls, crl_urls, skipped, own)
    return await _check(leaf, issuer, issuer_note, ocsp_urls, crl_urls, skipped, client)


async def _check(
    leaf: x509.Certificate,
    issuer: x509.Certificate | None,
    issuer_note: str,
    ocsp_urls: tuple[str, ...],
    crl_urls: tuple[str, ...],
    skipped: list[str],
    client: httpx.AsyncClient,
) -> RevocationResult:
    notes: list[str] = []
    tried: list[str] = []
    answered_by: list[str] = []  # methods that got an answer, even an unusable one

    # OCSP first, then the CRLs: the first answer that says good or revoked decides.
    asks: list[tuple[str, Sequence[str], bytes | None, _Judge]] = []
    if ocsp_urls and issuer is None:
        notes.append(
            "OCSP not asked: the issuer certificate was not sent, and a request must name "
            "the issuer's name and key hashes"
        )
    elif ocsp_urls and issuer is not None:
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(leaf, issuer, hashes.SHA1())  # SHA-1 CertID: RFC 5019 §2.1.1
            .build()
            .public_bytes(serialization.Encoding.DER)
        )
        asks.append(("ocsp", ocsp_urls, request, _judge_ocsp))
    asks.append(("crl", crl_urls, None, _judge_crl))

    for method, urls, request_body, judge in asks:
        label = method.upper()
        for url in urls:
            tried.append(url)
            body, failure = await _fetch(client, url, request_body)
            if body is None:
                notes.append(f"{label} {url} {failure}")
                continue
            verdict = judge(body, leaf, issuer, _now())
            notes.append(f"{label} {url} {verdict.detail}")
            if not verdict.answered:
                continue
            answered_by.append(method)
            if verdict.status in ("good", "revoked"):
                return _decided(verdict, method, notes, tried, issuer_note)

    if skipped:
        notes.append("not fetched (not HTTP): " + ", ".join(skipped))
    detail = "; ".join(notes) + issuer_note
    if answered_by:
        return RevocationResult(
            status="unknown", method=answered_by[0], detail=detail, urls_tried=tuple(tried)
        )
    if not tried:
        return RevocationResult(status="unknown", method="none", detail=detail)
    method = "ocsp" if any(u in ocsp_urls for u in tried) else "crl"
    return RevocationResult(
        status="unreachable", method=method, detail=detail, urls_tried=tuple(tried)
    )


def _decided(
    verdict: _Verdict, method: str, notes: list[str], tried: list[str], issuer_note: str
) -> RevocationResult:
    return RevocationResult(
        status=verdict.status,
        method=method,
        detail="; ".join(notes) + issuer_note,
        revoked_at=verdict.revoked_at,
        reason=verdict.reason,
        urls_tried=tuple(tried),
    )


async def _fetch(
    client: httpx.AsyncClient, url: str, ocsp_request: bytes | None
) -> tuple[bytes | None, str]:
    """(body, "") or (None, what went wrong). POST for OCSP (RFC 6960 Appendix A.1)."""
    import httpx

    try:
        if ocsp_request is not None:
            response = await client.post(
                url,
                content=ocsp_request,
                headers={
                    "Content-Type": "application/ocsp-request",
                    "Accept": "application/ocsp-response",
                },
            )
        else:
            response = await client.get(url)
    except httpx.TimeoutException:
        return None, "timeout"
    except Exception as exc:  # connection refused, reset, DNS, bad URL...: an outcome
        return None, _describe_failure(exc)
    if response.status_code != 200:
        return None, f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    if not response.content:
        return None, "empty response"
    return response.content, ""


def _describe_failure(exc: BaseException) -> str:
    # The OS error sits a few causes down, sometimes inside an exception group (anyio tries
    # every address of a host and groups the failures).
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, ConnectionResetError):
            return "connection reset"
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    text = str(exc) or type(exc).__name__
    import httpx

    if isinstance(exc, httpx.ConnectError):
        return f"connection failed ({text})"
    return f"{type(exc).__name__}: {text}"


# --------------------------------------------------------------------------------------------
# Judging an OCSP response


def _judge_ocsp(
    der: bytes, leaf: x509.Certificate, issuer: x509.Certificate | None, now: datetime.datetime
) -> _Verdict:
    try:
        response = ocsp.load_der_ocsp_response(der)
    except Exception as exc:
        return _Verdict(status="unknown", answered=False, detail=f"not an OCSP response ({exc})")
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return _Verdict(status="unknown", detail=f"responder said {response.response_status.name}")
    try:
        singles = list(response.responses)
    except Exception as exc:
        return _Verdict(status="unknown", answered=False, detail=f"unreadable response ({exc})")
    single = next((s for s in singles if _covers(s, leaf, issuer)), None)
    if single is None:
        return _Verdict(status="unknown", detail="the response does not cover this certificate")
    notes = []
    if issuer is not None:
        problem = _ocsp_signature_problem(response, issuer)
        if problem:
            return _Verdict(status="unknown", detail=problem)
    else:
        notes.append("signature not checked")
    if single.this_update_utc > now + _CLOCK_SKEW:
        return _Verdict(
            status="unknown", detail=f"thisUpdate {single.this_update_utc} is in the future"
        )
    if single.next_update_utc is not None and single.next_update_utc < now:
        return _Verdict(
            status="unknown", detail=f"stale: nextUpdate {single.next_update_utc} has passed"
        )
    suffix = f" ({', '.join(notes)})" if notes else ""
    status = single.certificate_status
    if status == ocsp.OCSPCertStatus.GOOD:
        return _Verdict(status="good", detail="good" + suffix)
    if status == ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason.value if single.revocation_reason else None
        at = single.revocation_time_utc
        return _Verdict(
            status="revoked",
            detail=f"revoked at {at}" + (f", {reason}" if reason else "") + suffix,
            revoked_at=at,
            reason=reason,
        )
    return _Verdict(status="unknown", detail="the responder does not know this certificate")


def _covers(
    single: ocsp.OCSPSingleResponse, leaf: x509.Certificate, issuer: x509.Certificate | None
) -> bool:
    if single.serial_number != leaf.serial_number:
        return False
    if issuer is None:
        return True
    try:
        expected = (
            ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, single.hash_algorithm).build()
        )
    except Exception:
        return False
    return (single.issuer_name_hash, single.issuer_key_hash) == (
        expected.issuer_name_hash,
        expected.issuer_key_hash,
    )


def _ocsp_signature_problem(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> str:
    """ "" when the response is signed by the issuer or by a responder certificate the issuer
    signed for OCSP signing (RFC 6960 §4.2.2.2); otherwise what is wrong."""
    candidates: list[x509.Certificate] = [issuer]
    for cert in response.certificates:
        if _names_responder(response, cert) and _delegated(cert, issuer):
            candidates.append(cert)
    signer = next((c for c in candidates if _names_responder(response, c)), None)
    if signer is None:
        return "signed by a responder the issuer did not authorise"
    if not _signature_ok(
        signer, response.signature, response.tbs_response_bytes, response.signature_hash_algorithm
    ):
        return "the response signature does not verify"
    return ""


def _names_responder(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    key_hash = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    return response.responder_key_hash == key_hash


def _delegated(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except Exception:
        return False
    return ExtendedKeyUsageOID.OCSP_SIGNING in eku


def _signature_ok(
    signer: x509.Certificate,
    signature: bytes,
    data: bytes,
    digest: hashes.HashAlgorithm | None,
) -> bool:
    try:
        key = signer.public_key()
        if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        elif digest is None:
            return False
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(digest))
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(signature, data, digest)
        else:
            return False
    except Exception:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Judging a CRL


def _judge_crl(
    data: bytes, leaf: x509.Certificate, issuer: x509.Certificate | None, now: datetime.datetime
) -> _Verdict:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            crl = x509.load_pem_x509_crl(data)
        else:
            crl = x509.load_der_x509_crl(data)
    except Exception as exc:
        return _Verdict(status="unknown", answered=False, detail=f"not a CRL ({exc})")
    notes = []
    if crl.issuer != leaf.issuer:
        return _Verdict(status="unknown", detail="the CRL is issued by someone else")
    if issuer is not None:
        try:
            key = issuer.public_key()
            signing_key = (
                rsa.RSAPublicKey,
                ec.EllipticCurvePublicKey,
                dsa.DSAPublicKey,
                ed25519.Ed25519PublicKey,
                ed448.Ed448PublicKey,
            )
            valid = isinstance(key, signing_key) and crl.is_signature_valid(key)
        except Exception:
            valid = False
        if not valid:
            return _Verdict(status="unknown", detail="the CRL signature does not verify")
    else:
        notes.append("signature not checked")
    if crl.next_update_utc is not None and crl.next_update_utc < now:
        return _Verdict(status="unknown", detail=f"stale: nextUpdate {crl.next_update_utc}")
    suffix = f" ({', '.join(notes)})" if notes else ""
    try:
        entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    except Exception as exc:
        return _Verdict(status="unknown", answered=False, detail=f"unreadable CRL ({exc})")
    if entry is None:
        return _Verdict(status="good", detail=f"not listed ({len(crl)} entries)" + suffix)
    reason = _crl_reason(entry.extensions if _has_extensions(entry) else ())
    at = entry.revocation_date_utc
    return _Verdict(
        status="revoked",
        detail=f"revoked at {at}" + (f", {reason}" if reason else "") + suffix,
        revoked_at=at,
        reason=reason,
    )


def _has_extensions(entry: x509.RevokedCertificate) -> bool:
    try:
        entry.extensions  # noqa: B018 - parsing may fail on a broken entry
    except Exception:
        return False
    return True


def _crl_reason(extensions: Iterable[x509.Extension[x509.ExtensionType]]) -> str | None:
    for ext in extensions:
        if isinstance(ext.value, x509.CRLReason):
            return ext.value.reason.value
    return None


# --------------------------------------------------------------------------------------------


def _load(der: bytes) -> x509.Certificate:
    data = bytes(der)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except Exception as exc:
        raise CertificateDecodeError(f"not an X.509 certificate ({exc})") from exc


def _load_issuer(der: bytes | None) -> tuple[x509.Certificate | None, str]:
    if der is None:
        return None, " [issuer certificate not available]"
    try:
        return _load(der), ""
    except CertificateDecodeError as exc:
        return None, f" [issuer certificate undecodable: {exc}]"


def _is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
