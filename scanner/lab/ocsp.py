# A local OCSP responder and CRL server for the lab and the tests.
#
# One small HTTP server (stdlib http.server, in a thread, on 127.0.0.1 and a free port)
# speaks for one CA, given as plain `cryptography` objects (issuer certificate and key):
# - POST / (RFC 6960 Appendix A.1, "application/ocsp-request") and GET /<base64 request>
#   answer "good" or "revoked" for any serial, from the revoked set, which callers change at
#   run time with `revoke()` / `unrevoke()`. Responses are signed by the CA itself
#   (RFC 6960 §4.2.2.2: the issuer may sign directly), with thisUpdate = now and
#   nextUpdate = now + 1 day. A request for another CA gets "unauthorized" (RFC 6960 §2.3).
# - GET /crl.der (and /crl.pem) serve a CRL signed by the CA, listing the revoked serials
#   (RFC 5280 §5), rebuilt on every request so that changes show at once.
# - `behaviour` makes the responder misbehave the way real ones do: "try_later",
#   "http_error" (500), "garbage" (200 with bytes that are not OCSP or a CRL).
# Used as a context manager; leaving it stops the server promptly.

from __future__ import annotations

import base64
import datetime
import threading
import urllib.parse
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509 import ocsp

__all__ = ["Behaviour", "OcspResponder"]

CaKey: TypeAlias = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)
Behaviour: TypeAlias = Literal["answer", "try_later", "http_error", "garbage"]


class OcspResponder:
    """OCSP responder and CRL server for one CA. `url` is the OCSP URL to put in a
    certificate's AIA extension, `crl_url` the CRL distribution point."""

    def __init__(
        self,
        issuer: x509.Certificate,
        key: CaKey,
        *,
        revoked: Iterable[int] = (),
        behaviour: Behaviour = "answer",
    ) -> None:
        self.issuer = issuer
        self.key = key
        self.behaviour: Behaviour = behaviour
        self.requests = 0  # how many requests were answered, of any kind
        self._lock = threading.Lock()
        self._revoked: dict[int, tuple[datetime.datetime, x509.ReasonFlags]] = {}
        for serial in revoked:
            self.revoke(serial)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.crl_url = ""

    # --- the revoked set

    def revoke(
        self,
        serial: int,
        *,
        reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise,
        when: datetime.datetime | None = None,
    ) -> None:
        at = (when or datetime.datetime.now(datetime.UTC)).replace(microsecond=0)
        with self._lock:
            self._revoked[serial] = (at, reason)

    def unrevoke(self, serial: int) -> None:
        with self._lock:
            self._revoked.pop(serial, None)

    @property
    def revoked(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._revoked)

    def _count(self) -> None:
        with self._lock:
            self.requests += 1

    def _revocation(self, serial: int) -> tuple[datetime.datetime, x509.ReasonFlags] | None:
        with self._lock:
            return self._revoked.get(serial)

    # --- lifecycle

    def start(self) -> OcspResponder:
        responder = self

        class Handler(_Handler):
            owner = responder

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        port = server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/"
        self.crl_url = f"http://127.0.0.1:{port}/crl.der"
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"ocsp-responder-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OcspResponder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- answers

    def _hash_for_signing(self) -> hashes.SHA256 | None:
        # Ed25519 / Ed448 sign without a separate hash (RFC 8410 §6).
        if isinstance(self.key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
            return None
        return hashes.SHA256()

    def ocsp_response(self, request_der: bytes) -> bytes:
        """The DER OCSP response to a DER request (malformedRequest for garbage)."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            serial = request.serial_number
            algorithm = request.hash_algorithm
        except Exception:
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        if self.behaviour == "try_later":
            return _unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
        name_hash, key_hash = _issuer_hashes(self.issuer, algorithm)
        if (request.issuer_name_hash, request.issuer_key_hash) != (name_hash, key_hash):
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        revocation = self._revocation(serial)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=name_hash,
            issuer_key_hash=key_hash,
            serial_number=serial,
            algorithm=algorithm,
            cert_status=ocsp.OCSPCertStatus.REVOKED if revocation else ocsp.OCSPCertStatus.GOOD,
            this_update=now,
            next_update=now + datetime.timedelta(days=1),
            revocation_time=revocation[0] if revocation else None,
            revocation_reason=revocation[1] if revocation else None,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.issuer)
        response = builder.sign(self.key, self._hash_for_signing())
        return response.public_bytes(serialization.Encoding.DER)

    def crl(self) -> x509.CertificateRevocationList:
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.issuer.subject)
            .last_update(now)
            .next_update(now + datetime.timedelta(days=1))
        )
        with self._lock:
            entries = sorted(self._revoked.items())
        for serial, (at, reason) in entries:
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(at)
                .add_extension(x509.CRLReason(reason), critical=False)
                .build()
            )
            builder = builder.add_revoked_certificate(entry)
        return builder.sign(self.key, self._hash_for_signing())


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def _issuer_hashes(
    issuer: x509.Certificate, algorithm: hashes.HashAlgorithm
) -> tuple[bytes, bytes]:
    """RFC 6960 §4.1.1 CertID: hashes of the issuer's DN and of the value of the BIT STRING
    subjectPublicKey in its SubjectPublicKeyInfo (without tag, length and unused-bits byte)."""
    spki = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pos = _content_start(spki, 0)  # into the outer SEQUENCE
    pos = _content_start(spki, pos) + _length(spki, pos)  # past the AlgorithmIdentifier
    key_bits = spki[_content_start(spki, pos) + 1 :]
    name_digest = hashes.Hash(algorithm)
    name_digest.update(issuer.subject.public_bytes())
    key_digest = hashes.Hash(algorithm)
    key_digest.update(key_bits)
    return name_digest.finalize(), key_digest.finalize()


def _content_start(data: bytes, pos: int) -> int:
    first = data[pos + 1]
    return pos + 2 + (first & 0x7F if first & 0x80 else 0)


def _length(data: bytes, pos: int) -> int:
    first = data[pos + 1]
    if first & 0x80:
        return int.from_bytes(data[pos + 2 : pos + 2 + (first & 0x7F)], "big")
    return first


class _Handler(BaseHTTPRequestHandler):
    owner: OcspResponder
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: tests and the demo print their own story

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.owner._count()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _misbehave(self) -> bool:
        if self.owner.behaviour == "http_error":
            self._reply(500, "text/plain", b"internal error (lab)\n")
            return True
        if self.owner.behaviour == "garbage":
            self._reply(200, "application/octet-stream", b"<html>not what you asked</html>")
            return True
        return False

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if self._misbehave():
            return
        self._reply(200, "application/ocsp-response", self.owner.ocsp_response(body))

    def do_GET(self) -> None:
        if self._misbehave():
            return
        path = urllib.parse.urlsplit(self.path).path
        if path == "/crl.der":
            crl = self.owner.crl().public_bytes(serialization.Encoding.DER)
            self._reply(200, "application/pkix-crl", crl)
            return
        if path == "/crl.pem":
            crl = self.owner.crl().public_bytes(serialization.Encoding.PEM)
            self._reply(200, "application/x-pem-file", crl)
            return
        # RFC 6960 Appendix A.1: GET {url}/{url-encoding of base-64 encoding of the request}
        encoded = urllib.parse.unquote(path.lstrip("/"))
        try:
            request = base64.b64decode(encoded, validate=True) if encoded else b""
        except ValueError:
            request = b""
        if not request:
            self._reply(404, "text/plain", b"not found\n")
            return
        self._reply(200, "application/ocsp-response", self.owner.ocsp_response(request))
