# Is the server's certificate revoked? OCSP (RFC 6960) first, then CRLs (RFC 5280 §5).
#
# Rules it keeps:
# - A network failure is an outcome, not an exception: refused, timeout, HTTP error and
#   garbage are recorded in `detail`, and the result is "unreachable" only when no URL
#   answered at all (what Windows reports as CRYPT_E_REVOCATION_OFFLINE, 0x80092013).
# - Deadlines belong to the caller: wrap `check_revocation` in `trio.move_on_after(...)`.
#   One fetch is also bounded by FETCH_TIMEOUT, so that a URL that never answers is
#   recorded (and cached) as such instead of only being cancelled.
# - Bounded work: a body is read streamed and at most MAX_OCSP_BODY / MAX_CRL_BODY bytes
#   of it are kept (beyond: the verdict "too large", with the size seen); every fetch of
#   one trio run goes through one FetchCache (same URL and request: fetched once, even
#   when asked concurrently); a LookupBudget bounds the fetches of one endpoint.
# - An answer counts only if it is about this certificate and, when the issuer is known,
#   signed by the issuer or by a responder the issuer delegated to (RFC 6960 §4.2.2.2).
#   Without the issuer, OCSP cannot be asked (the request names the issuer's hashes,
#   RFC 6960 §4.1.1), and a CRL's signature cannot be checked: the detail says so.

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp

if TYPE_CHECKING:  # httpx (and what it imports) only once a URL is to be fetched
    import httpx
from cryptography.x509.oid import ExtendedKeyUsageOID

from scanner.x509 import CertificateDecodeError, decode_certificate

__all__ = [
    "MAX_CRL_BODY", "MAX_LOOKUPS_PER_ENDPOINT", "MAX_OCSP_BODY", "FetchCache", "LookupBudget",
    "RevocationResult", "check_revocation", "check_stapled", "run_cache",
]

# How far a responder's clock may run ahead of ours before its answer is refused.
_CLOCK_SKEW = datetime.timedelta(minutes=5)
# Safety net only: the caller's deadline (trio.move_on_after) is the real limit.
_SAFETY_TIMEOUT = 60.0  # seconds, every phase
# The most one fetch may take; a URL that has not answered by then is "timeout".
FETCH_TIMEOUT = 10.0
# Body caps (docs/design.md, "Guarantees"). An OCSP response is a few KB (RFC 6960
# section 4.2.1); the largest public CRLs are a few MB.
MAX_OCSP_BODY = 2**20
MAX_CRL_BODY = 8 * 2**20
# Fetches (cache hits excluded) for the chains of one endpoint.
MAX_LOOKUPS_PER_ENDPOINT = 8
# Bodies kept in a run's cache at most (failures are always kept: they are small).
_CACHE_BODY_BYTES = 32 * 2**20


@dataclass(frozen=True, slots=True)
class _Fetched:
    """One fetch: the body, or why there is none. ``answered``: the server did answer
    (a body too large is an answer, just not one we read)."""

    body: bytes | None
    failure: str = ""
    answered: bool = False


class FetchCache:
    """The fetches of one trio run, by (URL, request body): a CRL or an OCSP answer is
    fetched once however many endpoints or chains name it, and a URL that does not answer
    costs its timeout once. Concurrent askers of the same key wait for the first."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, bytes | None], _Fetched] = {}
        self._pending: dict[tuple[str, bytes | None], trio.Event] = {}
        self._body_bytes = 0

    def cached(self, url: str, request: bytes | None) -> _Fetched | None:
        return self._done.get((url, request))

    def in_flight(self, url: str, request: bytes | None) -> bool:
        return (url, request) in self._pending

    async def fetch(self, client: httpx.AsyncClient, url: str, request: bytes | None, limit: int) -> _Fetched:
        key = (url, request)
        while key in self._pending:
            await self._pending[key].wait()
        if key in self._done:
            return self._done[key]
        event = self._pending[key] = trio.Event()
        try:
            with trio.move_on_after(FETCH_TIMEOUT):
                result = await _fetch(client, url, request, limit)
                if result.body is None or self._body_bytes + len(result.body) <= _CACHE_BODY_BYTES:
                    self._done[key] = result
                    self._body_bytes += len(result.body or b"")
                return result
            result = _Fetched(None, f"timeout (no answer within {FETCH_TIMEOUT:g}s)")
            self._done[key] = result
            return result
        finally:
            del self._pending[key]
            event.set()


_RUN_CACHE: trio.lowlevel.RunVar[FetchCache] = trio.lowlevel.RunVar("tlscompat_revocation_cache")


def run_cache() -> FetchCache:
    """The FetchCache of the current trio run (one scan, one fleet run)."""
    try:
        return _RUN_CACHE.get()
    except LookupError:
        cache = FetchCache()
        _RUN_CACHE.set(cache)
        return cache


@dataclass(slots=True)
class LookupBudget:
    """How many more fetches the chains of one endpoint may cause."""

    left: int = MAX_LOOKUPS_PER_ENDPOINT


@dataclass(frozen=True, slots=True, kw_only=True)
class RevocationResult:
    status: str  # "good" | "revoked" | "unknown" | "unreachable" | "not_checked"
    method: str  # "ocsp_stapled" | "ocsp" | "crl" | "none"
    detail: str
    revoked_at: datetime.datetime | None = None
    reason: str | None = None  # RFC 5280 §5.3.1 name: "keyCompromise", ...
    urls_tried: tuple[str, ...] = ()
    # The URLs whose body was over the cap, each with the size seen: "URL (Content-Length
    # 9000000 bytes; ...)". The server answered, but the answer could not be read.
    too_large: tuple[str, ...] = ()


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
    leaf_der: bytes,
    issuer_der: bytes | None,
    *,
    client: httpx.AsyncClient | None = None,
    cache: FetchCache | None = None,
    budget: LookupBudget | None = None,
    tried: list[str] | None = None,
) -> RevocationResult:
    """Ask the leaf's OCSP responders, then its CRL distribution points, until one gives a
    usable answer. Never raises for network or garbage problems. ``cache``: the run's
    FetchCache (default: run_cache()); ``budget``: the endpoint's fetches left (default:
    unbounded); a URL not fetched for want of budget is named in the detail. ``tried``:
    each URL is appended as it is asked, so that a caller whose deadline cancels the check
    can still say what was tried."""
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
    fetcher = _Fetcher(client=client, cache=cache or run_cache(), budget=budget or LookupBudget(left=10**9))
    try:
        return await _check(
            leaf, issuer, issuer_note, ocsp_urls, crl_urls, skipped, fetcher, [] if tried is None else tried
        )
    finally:
        if fetcher.own is not None:
            with trio.CancelScope(shield=True):
                await fetcher.own.aclose()


@dataclass(slots=True)
class _Fetcher:
    """Fetches through the run's cache, within the endpoint's budget; makes its own httpx
    client only when a fetch is really needed."""

    client: httpx.AsyncClient | None
    cache: FetchCache
    budget: LookupBudget
    own: httpx.AsyncClient | None = None

    async def __call__(self, url: str, request: bytes | None, limit: int) -> _Fetched:
        hit = self.cache.cached(url, request)
        if hit is not None:
            return hit
        if not self.cache.in_flight(url, request):
            # Waiting for a fetch another chain (or endpoint) started costs no budget.
            if self.budget.left <= 0:
                return _Fetched(None, f"not fetched: the limit of {MAX_LOOKUPS_PER_ENDPOINT} lookups per endpoint was reached")
            self.budget.left -= 1
        client = self.client
        if client is None:
            if self.own is None:
                import httpx

                self.own = httpx.AsyncClient(timeout=_SAFETY_TIMEOUT, follow_redirects=True)
            client = self.own
        return await self.cache.fetch(client, url, request, limit)


async def _check(
    leaf: x509.Certificate,
    issuer: x509.Certificate | None,
    issuer_note: str,
    ocsp_urls: tuple[str, ...],
    crl_urls: tuple[str, ...],
    skipped: list[str],
    fetch: _Fetcher,
    tried: list[str],
) -> RevocationResult:
    notes: list[str] = []
    too_large: list[str] = []
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
        limit = MAX_OCSP_BODY if method == "ocsp" else MAX_CRL_BODY
        for url in urls:
            tried.append(url)
            got = await fetch(url, request_body, limit)
            if got.body is None:
                if got.answered:
                    # Too large to read: an answer we cannot use (status unknown).
                    notes.append(f"{label} too large: {url} {got.failure}")
                    too_large.append(f"{url} {got.failure}")
                    answered_by.append(method)
                else:
                    notes.append(f"{label} {url} {got.failure}")
                continue
            verdict = judge(got.body, leaf, issuer, _now())
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
            status="unknown", method=answered_by[0], detail=detail, urls_tried=tuple(tried),
            too_large=tuple(too_large),
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
    client: httpx.AsyncClient, url: str, ocsp_request: bytes | None, limit: int
) -> _Fetched:
    """The body, or why there is none. POST for OCSP (RFC 6960 Appendix A.1). The body is
    read streamed, at most ``limit`` bytes of it (after content decoding, so a compressed
    bomb is bounded too); a longer one is an answer "too large" with the size seen."""
    import httpx

    if ocsp_request is not None:
        request = client.build_request(
            "POST",
            url,
            content=ocsp_request,
            headers={"Content-Type": "application/ocsp-request", "Accept": "application/ocsp-response"},
        )
    else:
        request = client.build_request("GET", url)
    try:
        response = await client.send(request, stream=True)
    except httpx.TimeoutException:
        return _Fetched(None, "timeout")
    except Exception as exc:  # connection refused, reset, DNS, bad URL...: an outcome
        return _Fetched(None, _describe_failure(exc))
    try:
        if response.status_code != 200:
            return _Fetched(None, f"HTTP {response.status_code} {response.reason_phrase}".rstrip())
        announced = response.headers.get("content-length", "")
        if announced.isdigit() and int(announced) > limit:
            return _Fetched(None, _too_large(limit, f"Content-Length {int(announced)} bytes"), answered=True)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                return _Fetched(None, _too_large(limit, f"more than {limit} bytes sent"), answered=True)
    except httpx.TimeoutException:
        return _Fetched(None, "timeout")
    except Exception as exc:  # reset mid-body, bad encoding...
        return _Fetched(None, _describe_failure(exc))
    finally:
        with trio.CancelScope(shield=True):
            await response.aclose()
    if not body:
        return _Fetched(None, "empty response")
    return _Fetched(bytes(body), answered=True)


def _too_large(limit: int, seen: str) -> str:
    return f"({seen}; bodies over {limit // 2**20} MiB are not read)"


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
        return _revoked(single.revocation_time_utc, reason, suffix)
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
    return _revoked(entry.revocation_date_utc, reason, suffix)


def _revoked(at: datetime.datetime | None, reason: str | None, suffix: str) -> _Verdict:
    """The verdict "revoked" (an OCSP response's or a CRL entry's): when, and why if said
    (RFC 5280 section 5.3.1 reason codes)."""
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
