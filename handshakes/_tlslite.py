# The one module that imports tlslite-ng. Everything that crosses this border is a plain
# value: wire numbers as ints, certificates as DER bytes, keys as PEM bytes in, and
# tlslite-ng's exceptions turned into a frozen HandshakeVerdict out.
#
# Why tlslite-ng here: our own codec only reads server flights; a full handshake that
# signs a CertificateVerify with the user's client key needs a complete TLS client, and
# tlslite-ng is a pure-Python one whose errors say which side sent which alert.
#
# Rules kept:
# - Sans-IO, like the rest of handshakes/: ClientHandshake runs tlslite-ng's TLSConnection
#   over an in-memory "socket" (bytes in with receive_data(), bytes out with
#   data_to_send()), driving its generator API (handshakeClientCert(async_=True),
#   writeAsync, readAsync), which yields 0 whenever it needs bytes we do not have yet.
#   The IO (connection, deadlines, limits) is the caller's: scanner/probes/client_auth.py.
# - Nothing the server does escapes as an exception: alerts, closes, resets and timeouts
#   are fields of the verdict. Only our own mistakes (bad arguments) raise.
# - Key material never reaches a message: details are tlslite-ng's text, scrubbed.
# - tlslite-ng's licence is mixed (LGPL parts): import it, never copy it.
from __future__ import annotations

import errno
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

with warnings.catch_warnings():
    # tlslite/__init__ imports its asyncore integration, deprecated since Python 3.11.
    warnings.simplefilter("ignore", DeprecationWarning)
    import tlslite  # noqa: F401

from tlslite.constants import AlertDescription, ContentType, HandshakeType
from tlslite.errors import (
    BaseTLSException,
    TLSAbruptCloseError,
    TLSLocalAlert,
    TLSRemoteAlert,
)
from tlslite.handshakesettings import HandshakeSettings
from tlslite.messages import ClientHello
from tlslite.tlsconnection import TLSConnection
from tlslite.utils.codec import Parser
from tlslite.utils.keyfactory import parsePEMKey
from tlslite.x509 import X509
from tlslite.x509certchain import X509CertChain

from handshakes import constants as c

__all__ = [
    "STAGE_AFTER_CERTIFICATE",
    "STAGE_AFTER_CLIENT_HELLO",
    "STAGE_AFTER_FINISHED",
    "STAGE_APPLICATION_DATA",
    "STAGE_CONNECT",
    "ClientHandshake",
    "HandshakeVerdict",
    "ParsedClientHello",
    "parse_client_hello",
    "tlslite_version",
]

# Where in the handshake a verdict came, named after the last client flight the server saw.
STAGE_CONNECT = "before ClientHello"
STAGE_AFTER_CLIENT_HELLO = "after ClientHello"
STAGE_AFTER_CERTIFICATE = "after client Certificate"  # TLS <= 1.2: the flight held Certificate
STAGE_AFTER_FINISHED = "after Finished"  # our Finished went out (TLS 1.3 client auth fails here)
STAGE_APPLICATION_DATA = "application data"  # the server answered our request

# The versions tlslite-ng can negotiate as a client (SSL 3.0 included, but see
# scanner/probes/client_auth.py).
_LOWEST, _HIGHEST = c.SSL3, c.TLS13

# RFC 8879 CompressedCertificate (never sent with the settings below, but recognised).
_COMPRESSED_CERTIFICATE = 25

# The largest single read after the handshake: one record's worth.
_READ_SIZE = 16384


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeVerdict:
    """How one full handshake ended.

    ``completed``: tlslite-ng finished the handshake on its side. That alone is not the
    server's acceptance: in TLS 1.3 the client's Certificate and Finished go in one flight
    and the server may abort with certificate_required or bad_certificate after reading
    them (RFC 8446 section 4.4.2.4), so ``answered`` (application data came back) or an
    alert on the first read decides. ``alert_from`` says who sent ``alert_description``.
    """

    completed: bool
    version: int | None = None
    cipher_suite: int | None = None
    alert_description: int | None = None
    alert_from: str | None = None  # "server" | "local" | None
    stage: str = STAGE_CONNECT
    closed: bool = False  # the server closed the TCP connection without an alert
    reset: bool = False
    timeout: bool = False  # the deadline passed while waiting for the server
    answered: bool = False  # application data came back after the handshake
    detail: str = ""
    server_certificate_request: bool = False
    certificate_sent: bool = False  # we sent a Certificate message (empty or not)


class _MemorySocket:
    """What tlslite-ng sees as its socket: two byte buffers. A recv with nothing buffered
    raises EWOULDBLOCK, which tlslite-ng's generators turn into "yield 0" (want read)."""

    def __init__(self) -> None:
        self.incoming = bytearray()
        self.outgoing = bytearray()
        self.eof = False

    def recv(self, size: int) -> bytes:
        if self.incoming:
            data = bytes(self.incoming[:size])
            del self.incoming[:size]
            return data
        if self.eof:
            return b""
        raise BlockingIOError(errno.EWOULDBLOCK, "no data yet")

    def send(self, data: bytes) -> int:
        self.outgoing += data
        return len(data)

    def sendall(self, data: bytes) -> None:
        self.outgoing += data

    def settimeout(self, value: float | None) -> None:
        pass

    def gettimeout(self) -> float | None:
        return None

    def setsockopt(self, *args: Any) -> None:
        pass

    def shutdown(self, how: int) -> None:
        pass

    def close(self) -> None:
        pass

    def getpeername(self) -> tuple[str, int]:
        return ("0.0.0.0", 0)

    def getsockname(self) -> tuple[str, int]:
        return ("0.0.0.0", 0)


class _TracingConnection(TLSConnection):  # type: ignore[misc]
    """TLSConnection that notes the handshake messages it sends and receives, so a
    failure can say at which stage it came (tlslite-ng's exceptions do not)."""

    def __init__(self, sock: Any) -> None:
        super().__init__(sock)
        self.sent_types: list[int] = []
        self.flight: list[int] = []  # handshake types of our last flight
        self.received_types: list[int] = []
        self._server_spoke = False  # a server message came since our last send

    def _sendMsg(self, msg: Any, randomizeFirstBlock: bool = True, update_hashes: bool = True) -> Any:  # noqa: N802, N803
        if msg.contentType == ContentType.handshake:
            types = _handshake_types(bytes(msg.write()))
            if self._server_spoke:
                self.flight = []
            self.flight.extend(types)
            self.sent_types.extend(types)
            self._server_spoke = False
        yield from super()._sendMsg(msg, randomizeFirstBlock, update_hashes)

    def _getMsg(self, expectedType: Any, secondaryType: Any = None, constructorType: Any = None) -> Any:  # noqa: N802, N803
        for result in super()._getMsg(expectedType, secondaryType, constructorType):
            if not isinstance(result, int):
                kind = getattr(result, "handshakeType", None)
                if isinstance(kind, int):
                    self.received_types.append(kind)
                    self._server_spoke = True
            yield result


def _handshake_types(buf: bytes) -> list[int]:
    """The message types in a buffer of whole handshake messages (type, u24 length, body)."""
    out = []
    pos = 0
    while pos + 4 <= len(buf):
        out.append(buf[pos])
        pos += 4 + int.from_bytes(buf[pos + 1 : pos + 4], "big")
    return out


def _settings(min_version: int, max_version: int) -> Any:
    if not _LOWEST <= min_version <= max_version <= _HIGHEST:
        raise ValueError(f"bad version range {min_version:#06x}..{max_version:#06x}")
    settings = HandshakeSettings()
    settings.minVersion = (3, min_version & 0xFF)
    settings.maxVersion = (3, max_version & 0xFF)
    settings.versions = [(3, v) for v in range(max_version & 0xFF, (min_version & 0xFF) - 1, -1)]
    if (3, 3) not in settings.versions:
        from tlslite.handshakesettings import TLS13_PERMITTED_GROUPS

        settings.eccCurves = [g for g in settings.eccCurves if g in TLS13_PERMITTED_GROUPS]
    # No certificate compression (RFC 8879). tlslite-ng 0.8.2 as a TLS 1.3 client decides
    # to compress its own Certificate from its ClientHello's compress_certificate
    # extension instead of the server's CertificateRequest (RFC 8879 section 3 says the
    # latter), and a server without RFC 8879 (OpenSSL 3.0) answers unexpected_message.
    settings.certificate_compression_send = []
    settings.certificate_compression_receive = []
    return settings.validate()


def _chain(chain_der: tuple[bytes, ...]) -> Any:
    certs = []
    for der in chain_der:
        cert = X509()
        cert.parseBinary(bytearray(der))
        certs.append(cert)
    return X509CertChain(certs)


_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S)
_LONG_BLOB = re.compile(r"[A-Za-z0-9+/=]{64,}|(?:[0-9a-fA-F]{2}[ :]?){48,}")


def _scrub(text: str) -> str:
    """tlslite-ng's message, made safe to show: no PEM blocks, no long blobs, one line."""
    text = _PEM_BLOCK.sub("<PEM>", text)
    text = _LONG_BLOB.sub("<data>", text)
    text = " ".join(text.split())
    return text[:300]


def _alert_name(code: int) -> str:
    name = AlertDescription.toStr(code)
    return name if isinstance(name, str) else str(code)


def _stage(tls: _TracingConnection, completed: bool, answered: bool) -> str:
    if answered:
        return STAGE_APPLICATION_DATA
    if completed:
        return STAGE_AFTER_FINISHED
    if not tls.sent_types:
        return STAGE_CONNECT
    if tls.flight and tls.flight[-1] == HandshakeType.client_hello:
        return STAGE_AFTER_CLIENT_HELLO
    if HandshakeType.certificate in tls.flight or _COMPRESSED_CERTIFICATE in tls.flight:
        return STAGE_AFTER_CERTIFICATE
    if HandshakeType.finished in tls.flight:
        return STAGE_AFTER_FINISHED
    return STAGE_AFTER_CLIENT_HELLO


# The phases of a ClientHandshake, in order.
_HANDSHAKE, _WRITE, _READ, _DONE = "handshake", "write", "read", "done"


class ClientHandshake:
    """One full TLS client handshake, sans-IO: tlslite-ng does the TLS, the caller moves
    the bytes. After the handshake it sends ``send_data`` and reads once (one record's
    worth at most, 16 KiB).

    Use: ``data_to_send()`` after construction and after every ``receive_data(bytes)``
    (``b""`` means the peer closed); stop when ``done``; ``verdict`` says how it ended.
    ``completed`` turns true once the handshake is finished on our side: the caller may
    then shorten its deadline, since a server that rejects the client certificate does
    so at once (RFC 8446 section 4.4.2.4). ``deadline_reached()``, ``reset()`` end it from
    outside.

    ``chain_der`` None presents no certificate: when the server asks for one, tlslite-ng
    answers with an empty Certificate message (RFC 5246 section 7.4.6, RFC 8446 section
    4.4.2). Raises ValueError for bad arguments only (a version range tlslite-ng cannot
    speak, a chain without its key, a key tlslite-ng cannot read).
    """

    def __init__(
        self,
        *,
        server_name: str | None,
        chain_der: tuple[bytes, ...] | None,
        private_key_pem: bytes | None,
        min_version: int,
        max_version: int,
        send_data: bytes,
    ) -> None:
        settings = _settings(min_version, max_version)
        chain = key = None
        if chain_der:
            if private_key_pem is None:
                raise ValueError("a certificate chain needs its private key")
            chain = _chain(chain_der)
            try:
                key = parsePEMKey(private_key_pem.decode("ascii"), private=True)
            except (SyntaxError, ValueError) as exc:
                # tlslite-ng's message names the PEM type, never its content.
                raise ValueError(f"tlslite-ng cannot use this private key: {type(exc).__name__}") from None
        self._sock = _MemorySocket()
        self._tls = _TracingConnection(self._sock)
        self._send_data = send_data
        self._phase = _HANDSHAKE
        self._gen: Iterator[Any] = self._tls.handshakeClientCert(
            certChain=chain, privateKey=key, settings=settings, serverName=server_name, async_=True
        )
        self._verdict: HandshakeVerdict | None = None
        self.version: int | None = None
        self.cipher_suite: int | None = None
        self._advance()

    @property
    def completed(self) -> bool:
        return self._phase in (_WRITE, _READ) or (self._verdict is not None and self._verdict.completed)

    @property
    def done(self) -> bool:
        return self._verdict is not None

    @property
    def verdict(self) -> HandshakeVerdict:
        if self._verdict is None:
            raise RuntimeError("the handshake has not ended")  # a caller's bug
        return self._verdict

    def data_to_send(self) -> bytes:
        out = bytes(self._sock.outgoing)
        self._sock.outgoing.clear()
        return out

    def receive_data(self, data: bytes) -> None:
        if self.done:
            return
        if data:
            self._sock.incoming += data
        else:
            self._sock.eof = True
        self._advance()

    def deadline_reached(self) -> None:
        if not self.done:
            self._end(timeout=True, detail="no answer before the deadline")

    def reset(self) -> None:
        if not self.done:
            self._end(reset=True, detail="connection reset by the server")

    def abort(self, detail: str) -> None:
        """End the exchange for a reason of the caller's (e.g. too many bytes)."""
        if not self.done:
            self._end(detail=detail)

    def _advance(self) -> None:
        """Run tlslite-ng until it needs bytes we do not have, or the exchange ends."""
        tls = self._tls
        while self._verdict is None:
            try:
                result = next(self._gen)
            except StopIteration:
                if self._phase == _HANDSHAKE:
                    major, minor = tls.version
                    self.version = major << 8 | minor
                    self.cipher_suite = tls.session.cipherSuite
                    self._phase = _WRITE
                    self._gen = tls.writeAsync(bytearray(self._send_data))
                elif self._phase == _WRITE:
                    # RFC 8446 section 4.4.2.4: a TLS 1.3 server that wanted a certificate
                    # may abort only now, after our Finished. Read before calling this
                    # acceptance.
                    self._phase = _READ
                    self._gen = tls.readAsync(max=_READ_SIZE)
                else:
                    self._end(closed=True, detail="the server closed the connection (close_notify) without answering")
                continue
            except TLSRemoteAlert as exc:
                self._end(
                    alert=int(exc.description), alert_from="server",
                    detail=f"the server sent alert {_alert_name(exc.description)} ({exc.description})",
                )
            except TLSLocalAlert as exc:
                self._end(
                    alert=int(exc.description), alert_from="local",
                    detail=f"tlslite-ng sent alert: {_scrub(str(exc))}",
                )
            except TLSAbruptCloseError:
                detail = "the server closed the TCP connection without an alert"
                self._end(closed=True, detail=detail)
            except BaseTLSException as exc:
                self._end(detail=f"{type(exc).__name__}: {_scrub(str(exc))}")
            except (ValueError, TypeError, AssertionError, AttributeError, IndexError, KeyError, OSError) as exc:
                # tlslite-ng raises plain Python errors on some malformed server messages.
                self._end(detail=f"tlslite-ng failed: {type(exc).__name__}: {_scrub(str(exc))}")
            else:
                if result == 0 and not self._sock.incoming and not self._sock.eof:
                    return  # wants bytes: the caller reads
                if self._phase == _READ and not isinstance(result, int):
                    if result:
                        self._end(answered=True, detail=f"{len(result)} bytes of application data")
                    else:
                        self._end(closed=True, detail="the server closed the connection (close_notify) without answering")

    def _end(self, **kw: Any) -> None:
        self._phase = _DONE if self._phase != _HANDSHAKE else self._phase
        self._verdict = _verdict(self._tls, self._phase != _HANDSHAKE, self.version, self.cipher_suite, **kw)


def _verdict(
    tls: _TracingConnection,
    completed: bool,
    version: int | None,
    suite: int | None,
    *,
    alert: int | None = None,
    alert_from: str | None = None,
    closed: bool = False,
    reset: bool = False,
    timeout: bool = False,
    answered: bool = False,
    detail: str = "",
) -> HandshakeVerdict:
    # tlslite-ng sets a version for its ClientHello's record before any answer: only a
    # ServerHello's counts.
    if version is None and HandshakeType.server_hello in tls.received_types and tls.version != (0, 0):
        major, minor = tls.version
        version = major << 8 | minor
    return HandshakeVerdict(
        completed=completed,
        version=version,
        cipher_suite=suite,
        alert_description=alert,
        alert_from=alert_from,
        stage=_stage(tls, completed, answered),
        closed=closed,
        reset=reset,
        timeout=timeout,
        answered=answered,
        detail=detail,
        server_certificate_request=HandshakeType.certificate_request in tls.received_types,
        certificate_sent=(
            HandshakeType.certificate in tls.sent_types or _COMPRESSED_CERTIFICATE in tls.sent_types
        ),
    )


# -- codec round trips -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedClientHello:
    """A ClientHello as tlslite-ng's parser reads it (for round-trip tests of our codec)."""

    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: tuple[int, ...]
    extension_types: tuple[int, ...]
    server_name: str | None
    supported_versions: tuple[int, ...] | None
    supported_groups: tuple[int, ...] | None
    signature_algorithms: tuple[int, ...] | None


def parse_client_hello(message: bytes) -> ParsedClientHello:
    """Parse a ClientHello handshake message (type byte, u24 length, body) with tlslite-ng.
    Raises ValueError when tlslite-ng cannot parse it."""
    if not message or message[0] != c.CLIENT_HELLO:
        raise ValueError("not a ClientHello handshake message")
    try:
        hello = ClientHello().parse(Parser(bytearray(message[1:])))
    except (SyntaxError, ValueError, IndexError, AssertionError) as exc:
        raise ValueError(f"tlslite-ng cannot parse the ClientHello: {type(exc).__name__}: {exc}") from None
    from tlslite.extensions import (
        SignatureAlgorithmsExtension,
        SNIExtension,
        SupportedGroupsExtension,
        SupportedVersionsExtension,
    )

    sni = hello.getExtension(c.EXT_SERVER_NAME)
    versions = hello.getExtension(c.EXT_SUPPORTED_VERSIONS)
    groups = hello.getExtension(c.EXT_SUPPORTED_GROUPS)
    sigalgs = hello.getExtension(c.EXT_SIGNATURE_ALGORITHMS)
    return ParsedClientHello(
        legacy_version=hello.client_version[0] << 8 | hello.client_version[1],
        random=bytes(hello.random),
        session_id=bytes(hello.session_id),
        cipher_suites=tuple(int(s) for s in hello.cipher_suites),
        compression_methods=tuple(int(m) for m in hello.compression_methods),
        extension_types=tuple(int(e.extType) for e in (hello.extensions or ())),
        server_name=(
            bytes(sni.hostNames[0]).decode("ascii")
            if isinstance(sni, SNIExtension) and sni.hostNames
            else None
        ),
        supported_versions=(
            tuple(v[0] << 8 | v[1] for v in versions.versions)
            if isinstance(versions, SupportedVersionsExtension) and versions.versions is not None
            else None
        ),
        supported_groups=(
            tuple(int(g) for g in groups.groups)
            if isinstance(groups, SupportedGroupsExtension) and groups.groups is not None
            else None
        ),
        signature_algorithms=(
            tuple(a[0] << 8 | a[1] for a in sigalgs.sigalgs)
            if isinstance(sigalgs, SignatureAlgorithmsExtension) and sigalgs.sigalgs is not None
            else None
        ),
    )


def tlslite_version() -> str:
    """The tlslite-ng version in use (for --version and bug reports)."""
    return str(getattr(tlslite, "__version__", "unknown"))
