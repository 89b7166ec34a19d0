# Real servers on 127.0.0.1 for the lab, the tests and the demo.
#
#   OpenSSLServer    `openssl s_server` as a subprocess (what most of the internet runs)
#   TlsliteServer    tlslite-ng in a thread: the only stack here that still speaks SSL 3.0
#   StdlibSSLServer  blocking stdlib `ssl` in a thread: sends the alert OpenSSL queues on a
#                    failed handshake (trio's SSLStream never does)
#   RawServer        plain TCP with a pluggable misbehaviour (reset, banner, garbage, drip...)
#
# Rules every server keeps:
# - Loopback only, on a free port chosen at start; `.host`, `.port`, `.address`.
# - A context manager, sync (`with`) and async (`async with`, for trio and pytest-trio),
#   that always cleans up: subprocesses live in their own process group and are
#   terminated, then killed; threads poll a stop event at least every 0.1 s and every
#   connection is shut down on stop. A server can be started once; make a new one to
#   start again. Anything still running when the interpreter exits is stopped.
# - One connection's failure never stops the server: handshake outcomes are recorded
#   (`records` / `received`) for tests to read, not raised.
# - Protocol versions are wire numbers: 0x0300 (SSL 3.0) .. 0x0304 (TLS 1.3).

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import random
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar, Self, TypeVar

import trio

from scanner.lab.certs import IssuedCert

__all__ = [
    "BEHAVIOURS",
    "Behaviour",
    "HandshakeRecord",
    "LabServerError",
    "OpenSSLServer",
    "OpenSSLServerConfig",
    "RawConnection",
    "RawServer",
    "StdlibSSLServer",
    "StdlibSSLServerConfig",
    "TlsliteServer",
    "TlsliteServerConfig",
    "alert",
    "close_immediately",
    "drip",
    "endless",
    "garbage",
    "http",
    "never_answer",
    "replay",
    "reset",
    "smtp_banner",
    "ssh_banner",
]

LOOPBACK = "127.0.0.1"
SSL3, TLS1_0, TLS1_1, TLS1_2, TLS1_3 = 0x0300, 0x0301, 0x0302, 0x0303, 0x0304
_VERSION_NAMES = {
    SSL3: "SSLv3",
    TLS1_0: "TLSv1",
    TLS1_1: "TLSv1.1",
    TLS1_2: "TLSv1.2",
    TLS1_3: "TLSv1.3",
}
_VERSION_BY_NAME = {name: number for number, name in _VERSION_NAMES.items()}

# How often threads look at the stop event: bounds how long stop() takes.
_POLL = 0.1


_T = TypeVar("_T")


class LabServerError(RuntimeError):
    """A lab server could not be configured or started (the message says why)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeRecord:
    """What a TLS server thread saw on one connection.

    `version` is the negotiated wire version, `cipher` the suite's name (IETF name
    from tlslite-ng, OpenSSL name from stdlib ssl), `cipher_suite` its code when the
    library tells it, `error` the library's reason on failure,
    `client_cert` the DER of the certificate the client presented, if any.
    """

    ok: bool
    version: int | None = None
    cipher: str | None = None
    cipher_suite: int | None = None
    error: str | None = None
    client_cert: bytes | None = None
    server_name: str | None = None
    alpn: str | None = None


# -- lifecycle shared by every server -------------------------------------------

# Started and not yet stopped: held strongly so that a forgotten server is still
# stopped at exit rather than leaving an s_server process behind.
_LIVE: set[_Lifecycle] = set()


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.stop()


class _Lifecycle:
    host: ClassVar[str] = LOOPBACK
    port: int

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        try:
            await trio.to_thread.run_sync(self.start)
        except BaseException:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self.stop)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(self.stop)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


# -- openssl s_server -----------------------------------------------------------


def _is_weak_cert(path: Path | None) -> bool:
    """True for certificates OpenSSL 3 refuses to load at its default security level."""
    if path is None:
        return False
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import dsa, rsa

    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return False
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey) and key.key_size < 2048:
        return True
    # SHA-1 and MD5 signatures ("ca md too weak" at security level >= 1)
    return cert.signature_algorithm_oid.dotted_string in {
        "1.2.840.113549.1.1.4",
        "1.2.840.113549.1.1.5",
        "1.2.840.10045.4.1",
        "1.2.840.10040.4.3",
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenSSLServerConfig:
    """Options for `openssl s_server`; each maps to the flag named in its comment.

    `min_version` / `max_version` are wire numbers (0x0301..0x0304), turned into
    `-no_tls1`... flags. `seclevel=None` picks 0 when TLS 1.0/1.1 is enabled or a
    certificate is weak (RSA < 2048, SHA-1/MD5 signature): OpenSSL 3 refuses both
    above level 0. Otherwise OpenSSL's default applies.
    """

    cert: Path | None  # -cert (None: -nocert, anonymous suites only)
    key: Path | None = None  # -key
    cert_chain: Path | None = None  # -cert_chain
    dcert: Path | None = None  # -dcert: a second certificate (e.g. ECDSA next to RSA)
    dkey: Path | None = None  # -dkey
    dcert_chain: Path | None = None  # -dcert_chain
    min_version: int | None = None
    max_version: int | None = None
    cipher: str | None = None  # -cipher (TLS <= 1.2)
    ciphersuites: str | None = None  # -ciphersuites (TLS 1.3)
    seclevel: int | None = None  # appended to -cipher as @SECLEVEL=n
    groups: str | None = None  # -groups
    server_pref: bool = False  # -serverpref
    verify_depth: int | None = None  # -verify n: ask for a client certificate
    require_client_cert: bool = False  # -Verify n: insist on one
    ca_file: Path | None = None  # -CAfile: trusted for client certificates, names sent
    verify_return_error: bool = False  # -verify_return_error: fail the handshake on a bad one
    status_file: Path | None = None  # -status_file: staple this DER OCSP response
    servername: str | None = None  # -servername: SNI name served with cert2/key2
    # -cert2. s_server has no chain option for it and does not use -chainCAfile for it
    # either: it completes cert2's chain only from -CAfile (give ca_file a PEM holding
    # the intermediates and the root), so a cert2 issued by a root is simplest.
    cert2: Path | None = None
    key2: Path | None = None  # -key2
    chain_ca_file: Path | None = None  # -chainCAfile: CAs to complete chains not given
    build_chain: bool = False  # -build_chain
    servername_fatal: bool = False  # -servername_fatal: fatal alert on SNI mismatch
    alpn: tuple[str, ...] = ()  # -alpn
    www: bool = False  # -www: answer "GET /" with a status page
    extra_args: tuple[str, ...] = ()

    def effective_seclevel(self) -> int | None:
        if self.seclevel is not None:
            return self.seclevel
        legacy = self.min_version is not None and self.min_version < TLS1_2
        if legacy or any(
            _is_weak_cert(p) for p in (self.cert, self.dcert, self.cert2, self.cert_chain)
        ):
            return 0
        return None

    def argv(self, port: int) -> list[str]:
        """The `s_server` arguments (without the program name) for `port`."""
        args = ["s_server", "-accept", f"{LOOPBACK}:{port}", "-quiet"]
        if self.cert is None:
            args.append("-nocert")
        else:
            args += ["-cert", str(self.cert)]
        for flag, value in (
            ("-key", self.key),
            ("-cert_chain", self.cert_chain),
            ("-dcert", self.dcert),
            ("-dkey", self.dkey),
            ("-dcert_chain", self.dcert_chain),
            ("-CAfile", self.ca_file),
            ("-status_file", self.status_file),
            ("-servername", self.servername),
            ("-cert2", self.cert2),
            ("-key2", self.key2),
            ("-chainCAfile", self.chain_ca_file),
            ("-groups", self.groups),
            ("-ciphersuites", self.ciphersuites),
        ):
            if value is not None:
                args += [flag, str(value)]
        args += _openssl_version_flags(self.min_version, self.max_version)
        cipher = self.cipher
        seclevel = self.effective_seclevel()
        if seclevel is not None and (cipher is None or "@SECLEVEL" not in cipher):
            cipher = f"{cipher or 'DEFAULT'}:@SECLEVEL={seclevel}"
        if cipher is not None:
            args += ["-cipher", cipher]
        if self.build_chain:
            args.append("-build_chain")
        if self.server_pref:
            args.append("-serverpref")
        if self.require_client_cert:
            args += ["-Verify", str(self.verify_depth or 5)]
        elif self.verify_depth is not None:
            args += ["-verify", str(self.verify_depth)]
        if self.verify_return_error:
            args.append("-verify_return_error")
        if self.servername_fatal:
            args.append("-servername_fatal")
        if self.alpn:
            args += ["-alpn", ",".join(self.alpn)]
        if self.www:
            args.append("-www")
        args += self.extra_args
        return args


def _openssl_version_flags(min_version: int | None, max_version: int | None) -> list[str]:
    low = min_version if min_version is not None else TLS1_0
    high = max_version if max_version is not None else TLS1_3
    if low > high:
        raise LabServerError(f"min_version {low:#06x} is above max_version {high:#06x}")
    if low < TLS1_0:
        # Distributions build OpenSSL 3 with no-ssl3; there is no -ssl3 switch.
        raise LabServerError("openssl s_server cannot serve SSL 3.0: use TlsliteServer")
    if high > TLS1_3:
        raise LabServerError(f"unknown max_version {high:#06x}")
    flags = {TLS1_0: "-no_tls1", TLS1_1: "-no_tls1_1", TLS1_2: "-no_tls1_2", TLS1_3: "-no_tls1_3"}
    return [flag for version, flag in flags.items() if not low <= version <= high]


def _expand_issued(options: dict[str, Any], cert: str, key: str, chain: str | None) -> None:
    """Let `cert=IssuedCert` stand for its certificate, key and chain paths."""
    issued = options.get(cert)
    if isinstance(issued, IssuedCert):
        options[cert] = issued.cert_path
        options.setdefault(key, issued.key_path)
        if chain is not None and issued.chain:
            options.setdefault(chain, issued.chain_path)


class OpenSSLServer(_Lifecycle):
    """`openssl s_server` on 127.0.0.1, serving connections one after another until stopped.

        with OpenSSLServer(cert=pki.issue("www"), max_version=0x0303) as server:
            connect_to(server.address)

    Pass an `OpenSSLServerConfig`, or its fields as keywords; `cert=`, `dcert=` and
    `cert2=` also take an `IssuedCert` (its key and chain are filled in). Note that
    s_server handles one connection at a time: a client that never finishes its
    handshake holds up the next one.
    """

    def __init__(
        self,
        config: OpenSSLServerConfig | None = None,
        /,
        *,
        openssl: str = "openssl",
        start_timeout: float = 10.0,
        **options: Any,
    ) -> None:
        if config is None:
            _expand_issued(options, "cert", "key", "cert_chain")
            _expand_issued(options, "dcert", "dkey", "dcert_chain")
            _expand_issued(options, "cert2", "key2", None)
            if isinstance(options.get("ca_file"), IssuedCert):
                options["ca_file"] = options["ca_file"].cert_path
            for name in ("alpn", "extra_args"):
                if name in options:
                    value = options[name]
                    options[name] = (value,) if isinstance(value, str) else tuple(value)
            config = OpenSSLServerConfig(**options)
        elif options:
            raise TypeError("pass either a config or keyword options, not both")
        self.config = config
        self.openssl = openssl
        self.start_timeout = start_timeout
        self.port = 0
        self.argv: list[str] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self._process

    @property
    def returncode(self) -> int | None:
        """None while running (or before start); the exit status once stopped."""
        return None if self._process is None else self._process.poll()

    def stderr_text(self) -> str:
        """What s_server wrote to stderr so far (errors of failed handshakes, mostly)."""
        if self._stderr is None or self._stderr.closed:
            return ""
        with self._lock:
            self._stderr.flush()
            self._stderr.seek(0)
            data = self._stderr.read()
            self._stderr.seek(0, os.SEEK_END)
        return data.decode(errors="replace")

    def start(self) -> Self:
        if self._process is not None:
            raise LabServerError("this OpenSSLServer was already started")
        last_error = ""
        for _attempt in range(5):
            port = _free_port()
            argv = [self.openssl, *self.config.argv(port)]
            stderr = tempfile.TemporaryFile(prefix="tlscompat-s_server-")
            try:
                process = subprocess.Popen(
                    argv,
                    # A pipe we never write: s_server selects on stdin during a
                    # connection, and an at-EOF stdin would make it spin.
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    start_new_session=True,
                )
            except OSError as exc:
                stderr.close()
                raise LabServerError(f"cannot run {self.openssl!r}: {exc}") from exc
            self.port, self.argv, self._process, self._stderr = port, argv, process, stderr
            _LIVE.add(self)
            try:
                if self._wait_ready(process, port):
                    return self
            except BaseException:
                self.stop()
                raise
            # Lost the race for the port to another process: try another one.
            last_error = self.stderr_text()
            self.stop()
            stderr.close()
            self._process, self._stderr = None, None
        raise LabServerError(f"openssl s_server found no free port: {last_error.strip()}")

    def _wait_ready(self, process: subprocess.Popen[bytes], port: int) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if process.poll() is not None:
                text = self.stderr_text()
                if "in use" in text or "bind" in text.lower():
                    return False
                raise LabServerError(
                    f"openssl s_server exited with status {process.returncode}: {text.strip()}\n"
                    f"command: {' '.join(self.argv)}"
                )
            try:
                with socket.create_connection((LOOPBACK, port), timeout=_POLL):
                    pass
            except OSError:
                pass
            else:
                # Whoever took the port first answers the connect too: make sure the
                # listener is s_server's; if not, s_server is about to fail its bind.
                if _owns_listener(process.pid, port) is not False:
                    return True
            if time.monotonic() > deadline:
                raise LabServerError(
                    f"openssl s_server did not accept on port {port} within "
                    f"{self.start_timeout} s: {self.stderr_text().strip()}"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        _LIVE.discard(self)

    def __repr__(self) -> str:
        return f"<OpenSSLServer {self.host}:{self.port} {' '.join(self.argv[1:])}>"


def _owns_listener(pid: int, port: int) -> bool | None:
    """Whether process `pid` holds the TCP socket listening on `port` (None: cannot tell,
    e.g. not Linux). Matches socket inodes of /proc/PID/fd against /proc/net/tcp."""
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        with open("/proc/net/tcp") as table:
            rows = table.read().splitlines()[1:]
    except OSError:
        return None
    for row in rows:
        fields = row.split()
        # fields: sl local_address rem_address st ... inode (10th); st 0A is LISTEN
        if len(fields) > 9 and fields[3] == "0A" and fields[9] in inodes:
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


# -- servers in threads ----------------------------------------------------------


class _ThreadedServer(_Lifecycle):
    """Accept loop in one thread, one thread per connection, all stopped by `stop()`."""

    io_timeout: float = 5.0

    def __init__(self) -> None:
        self.port = 0
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._accepter: threading.Thread | None = None
        self._cond = threading.Condition()
        # A duplicate of each connection's socket: shutting it down unblocks the
        # handler thread without closing a descriptor another thread is using.
        self._controls: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        self._records: list[HandshakeRecord] = []
        self._errors: list[BaseException] = []

    @property
    def records(self) -> tuple[HandshakeRecord, ...]:
        return self._snapshot(self._records)

    @property
    def errors(self) -> tuple[BaseException, ...]:
        """Unexpected exceptions raised by connection handlers (bugs, not peer failures)."""
        return self._snapshot(self._errors)

    def wait_for_records(self, count: int = 1, timeout: float = 5.0) -> tuple[HandshakeRecord, ...]:
        """Block until `count` connections were recorded (the client may finish first)."""
        return self._wait_for(self._records, count, timeout, "connections recorded")

    def _record(self, record: HandshakeRecord) -> None:
        self._append(self._records, record)

    # What handler threads collect (records, received flights) is read under `_cond`;
    # appending wakes whoever waits for a count.

    def _snapshot(self, items: list[_T]) -> tuple[_T, ...]:
        with self._cond:
            return tuple(items)

    def _append(self, items: list[_T], item: _T) -> None:
        with self._cond:
            items.append(item)
            self._cond.notify_all()

    def _wait_for(self, items: list[_T], count: int, timeout: float, what: str) -> tuple[_T, ...]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(items) >= count, timeout):
                raise TimeoutError(f"{len(items)} of {count} {what}")
            return tuple(items)

    def _prepare(self) -> None:
        """Build what every connection needs; raise LabServerError on a bad config."""

    def _handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        if self._listener is not None:
            raise LabServerError(f"this {type(self).__name__} was already started")
        self._prepare()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, 0))
        listener.listen(64)
        listener.settimeout(_POLL)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._accepter = threading.Thread(
            target=self._accept_loop, name=f"{type(self).__name__}:{self.port}", daemon=True
        )
        self._accepter.start()
        _LIVE.add(self)
        return self

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with self._cond:
                if self._stop.is_set():
                    conn.close()
                    return
                control = conn.dup()
                worker = threading.Thread(
                    target=self._serve,
                    args=(conn, control),
                    name=f"{type(self).__name__}:{self.port}:conn",
                    daemon=True,
                )
                self._controls.add(control)
                self._workers.add(worker)
            worker.start()

    def _serve(self, conn: socket.socket, control: socket.socket) -> None:
        try:
            self._handle(conn)
        except OSError:
            pass  # the peer went away, or stop() shut the connection down
        except Exception as exc:  # one connection's bug never kills the server
            with self._cond:
                self._errors.append(exc)
        finally:
            conn.close()
            with self._cond:
                self._controls.discard(control)
                self._workers.discard(threading.current_thread())
            control.close()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._accepter is not None:
            self._accepter.join(timeout)
        if self._listener is not None:
            self._listener.close()
        with self._cond:
            controls = list(self._controls)
            workers = list(self._workers)
        for control in controls:
            with contextlib.suppress(OSError):
                control.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        _LIVE.discard(self)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()


def _http_reply(status: str, body: str) -> bytes:
    payload = body.encode()
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + payload


# -- tlslite-ng ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsliteServerConfig:
    """A tlslite-ng server: versions as wire numbers, SSL 3.0 (0x0300) included.

    `cipher_names` use tlslite-ng's names ("aes128gcm", "aes256", "3des", "rc4"...),
    `key_exchange_names` too ("rsa", "ecdhe_rsa", "dhe_rsa"...). `request_client_cert`
    sends a CertificateRequest naming `client_ca_names` (DER-encoded names, PEM CA
    files or CA `IssuedCert`s); tlslite-ng does not verify what the client sends, it only records it.
    `settings_hook` may change the HandshakeSettings further before validation.
    For TLS 1.3 set `alpn` when clients offer ALPN (tlscompat's probes do): tlslite-ng 0.8.2's
    TLS 1.3 server crashes after its ServerHello when a client offers ALPN and it has none.
    """

    cert_chain: Path  # PEM: the server certificate, then intermediates
    key: Path
    min_version: int = TLS1_0
    max_version: int = TLS1_3
    cipher_names: tuple[str, ...] | None = None
    key_exchange_names: tuple[str, ...] | None = None
    request_client_cert: bool = False
    client_ca_names: tuple[bytes | Path | IssuedCert, ...] = ()
    alpn: tuple[str, ...] = ()
    settings_hook: Callable[[Any], None] | None = None


class TlsliteServer(_ThreadedServer):
    """tlslite-ng's TLSConnection.handshakeServer in a thread, on every connection.

    After a successful handshake it reads one request and answers an HTTP/1.1 200
    whose body names the version and cipher. `records` tells what each connection did.
    """

    def __init__(self, config: TlsliteServerConfig | None = None, /, **options: Any) -> None:
        super().__init__()
        if config is None:
            issued = options.pop("cert", None)
            if isinstance(issued, IssuedCert):
                options.setdefault("cert_chain", issued.fullchain_path)
                options.setdefault("key", issued.key_path)
            for name in ("cipher_names", "key_exchange_names", "client_ca_names", "alpn"):
                if options.get(name) is not None:
                    options[name] = tuple(options[name])
            config = TlsliteServerConfig(**options)
        self.config = config
        self._args: dict[str, Any] = {}

    def _prepare(self) -> None:
        with warnings.catch_warnings():
            # tlslite/__init__ imports its asyncore integration, deprecated since 3.11.
            warnings.simplefilter("ignore", DeprecationWarning)
            import tlslite  # noqa: F401
        from tlslite.handshakesettings import HandshakeSettings
        from tlslite.utils.keyfactory import parsePEMKey
        from tlslite.x509certchain import X509CertChain

        config = self.config
        low, high = config.min_version, config.max_version
        if not SSL3 <= low <= high <= TLS1_3:
            raise LabServerError(f"bad version range {low:#06x}..{high:#06x}")
        settings = HandshakeSettings()
        settings.minVersion = (3, low & 0xFF)
        settings.maxVersion = (3, high & 0xFF)
        # `versions` is what the server accepts from supported_versions (RFC 8446 §4.2.1)
        settings.versions = [(3, v) for v in range(high & 0xFF, (low & 0xFF) - 1, -1)]
        if (3, 3) not in settings.versions:
            # tlslite-ng refuses TLS 1.3-only settings that still enable groups
            # RFC 8446 §4.2.7 does not allow (the brainpool curves): drop them.
            from tlslite.handshakesettings import TLS13_PERMITTED_GROUPS

            settings.eccCurves = [c for c in settings.eccCurves if c in TLS13_PERMITTED_GROUPS]
        if config.cipher_names is not None:
            settings.cipherNames = list(config.cipher_names)
        if config.key_exchange_names is not None:
            settings.keyExchangeNames = list(config.key_exchange_names)
        if config.settings_hook is not None:
            config.settings_hook(settings)
        try:
            settings = settings.validate()
            chain = X509CertChain()
            chain.parsePemList(config.cert_chain.read_text())
            key = parsePEMKey(config.key.read_text(), private=True)
        except (ValueError, SyntaxError, OSError) as exc:
            raise LabServerError(f"bad tlslite-ng server configuration: {exc}") from exc
        ca_names = []
        for item in config.client_ca_names:
            if isinstance(item, IssuedCert):
                ca_names.append(bytearray(item.cert.subject.public_bytes()))
            elif isinstance(item, Path):
                from cryptography import x509

                for cert in x509.load_pem_x509_certificates(item.read_bytes()):
                    ca_names.append(bytearray(cert.subject.public_bytes()))
            else:
                ca_names.append(bytearray(item))
        self._args = {
            "certChain": chain,
            "privateKey": key,
            "settings": settings,
            "reqCert": config.request_client_cert,
            "reqCAs": ca_names or None,
            # tlslite-ng 0.8.2's TLS 1.3 server crashes (TypeError in `name in alpn`) when a
            # client offers ALPN and the server has none, and it refuses an empty list: for
            # TLS 1.3 against ALPN-offering clients (tlscompat's probes), set `alpn`.
            "alpn": [bytearray(p.encode()) for p in config.alpn] or None,
        }

    def _handle(self, conn: socket.socket) -> None:
        from tlslite.constants import CipherSuite
        from tlslite.errors import BaseTLSException
        from tlslite.tlsconnection import TLSConnection

        conn.settimeout(self.io_timeout)
        tls = TLSConnection(conn)
        try:
            tls.handshakeServer(**self._args)
        except (BaseTLSException, OSError) as exc:
            self._record(HandshakeRecord(ok=False, error=f"{type(exc).__name__}: {exc}"))
            return
        major, minor = tls.version
        session = tls.session
        client_cert = None
        if session.clientCertChain is not None and session.clientCertChain.x509List:
            client_cert = bytes(session.clientCertChain.x509List[0].writeBytes())
        version = major << 8 | minor
        suite = session.cipherSuite
        cipher = CipherSuite.ietfNames.get(suite, tls.getCipherName())
        self._record(
            HandshakeRecord(
                ok=True,
                version=version,
                cipher=cipher,
                cipher_suite=suite,
                client_cert=client_cert,
                server_name=session.serverName or None,
                alpn=bytes(session.appProto).decode() if session.appProto else None,
            )
        )
        try:
            if tls.read(max=16384):
                tls.write(_http_reply("200 OK", f"tlslite-ng {version:#06x} {cipher}\n"))
            tls.close()
        except (BaseTLSException, OSError):
            pass


# -- stdlib ssl --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StdlibSSLServerConfig:
    """A blocking stdlib `ssl` server.

    `verify_mode`: ssl.CERT_NONE / CERT_OPTIONAL / CERT_REQUIRED for client
    certificates, checked against `ca_file`. `sni_callback` is
    `ssl.SSLContext.sni_callback`. `seclevel=None` picks 0 when TLS 1.0/1.1 is
    enabled, as for OpenSSLServer. `context_hook` may change the context last.
    """

    cert_chain: Path  # PEM: the server certificate, then intermediates
    key: Path
    key_password: bytes | None = None
    min_version: int | None = None
    max_version: int | None = None
    ciphers: str | None = None
    seclevel: int | None = None
    options: int = 0
    verify_mode: ssl.VerifyMode = ssl.CERT_NONE
    ca_file: Path | None = None
    sni_callback: Callable[[ssl.SSLObject, str | None, ssl.SSLContext], int | None] | None = None
    alpn: tuple[str, ...] = ()
    context_hook: Callable[[ssl.SSLContext], None] | None = None
    # issue 11 (seed 001 scenario 6): the application reads one record only and answers
    # only a request whose head is whole in it (a 1/n-1 split request gets no answer).
    first_record_only: bool = False


class StdlibSSLServer(_ThreadedServer):
    """Stdlib `ssl` in a thread. Unlike trio's SSLStream, it sends OpenSSL's alert
    when a handshake fails, so a client sees e.g. `unknown_ca` or `handshake_failure`.

    After a successful handshake it reads one request and answers an HTTP/1.1 200.
    """

    def __init__(self, config: StdlibSSLServerConfig | None = None, /, **options: Any) -> None:
        super().__init__()
        if config is None:
            issued = options.pop("cert", None)
            if isinstance(issued, IssuedCert):
                options.setdefault("cert_chain", issued.fullchain_path)
                options.setdefault("key", issued.key_path)
            if options.get("alpn") is not None:
                options["alpn"] = tuple(options["alpn"])
            if isinstance(options.get("ca_file"), IssuedCert):
                options["ca_file"] = options["ca_file"].cert_path
            config = StdlibSSLServerConfig(**options)
        self.config = config
        self.context: ssl.SSLContext | None = None
        self._server_names: dict[int, str | None] = {}

    def _prepare(self) -> None:
        config = self.config
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        seclevel = config.seclevel
        if seclevel is None and config.min_version is not None and config.min_version < TLS1_2:
            seclevel = 0
        with warnings.catch_warnings():
            # TLS 1.0/1.1 are deprecated in `ssl`; serving them is the point here.
            warnings.simplefilter("ignore", DeprecationWarning)
            if config.min_version is not None:
                context.minimum_version = ssl.TLSVersion(config.min_version)
            if config.max_version is not None:
                context.maximum_version = ssl.TLSVersion(config.max_version)
        try:
            ciphers = config.ciphers
            if seclevel is not None and (ciphers is None or "@SECLEVEL" not in ciphers):
                ciphers = f"{ciphers or 'DEFAULT'}:@SECLEVEL={seclevel}"
            if ciphers is not None:
                context.set_ciphers(ciphers)
            context.load_cert_chain(config.cert_chain, config.key, password=config.key_password)
            if config.ca_file is not None:
                context.load_verify_locations(cafile=config.ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise LabServerError(f"bad stdlib ssl server configuration: {exc}") from exc
        context.options |= config.options
        context.verify_mode = config.verify_mode
        if config.alpn:
            context.set_alpn_protocols(list(config.alpn))
        user_callback = config.sni_callback

        def sni_callback(
            ssl_object: Any, server_name: str | None, ctx: ssl.SSLContext
        ) -> int | None:
            self._server_names[id(ssl_object)] = server_name
            return user_callback(ssl_object, server_name, ctx) if user_callback else None

        context.sni_callback = sni_callback
        if config.context_hook is not None:
            config.context_hook(context)
        self.context = context

    def _handle(self, conn: socket.socket) -> None:
        assert self.context is not None
        conn.settimeout(self.io_timeout)
        tls = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            self._server_names.pop(id(tls), None)
            reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
            self._record(HandshakeRecord(ok=False, error=str(reason)))
            tls.close()
            return
        version_name = tls.version()
        cipher = tls.cipher()
        self._record(
            HandshakeRecord(
                ok=True,
                version=_VERSION_BY_NAME.get(version_name or ""),
                cipher=cipher[0] if cipher else None,
                client_cert=tls.getpeercert(binary_form=True),
                server_name=self._server_names.pop(id(tls), None),
                alpn=tls.selected_alpn_protocol(),
            )
        )
        try:
            first = tls.recv(16384)
            if self.config.first_record_only and b"\r\n\r\n" not in first:
                return  # what broke sites after MS12-006: the request looked empty
            if first and b"GET ".startswith(first[:4]) and b"\r\n\r\n" not in first:
                # A request head split across records: read the rest (bounded), as a
                # correct application does, so that no unread data resets the close.
                tls.settimeout(0.5)
                with contextlib.suppress(ssl.SSLError, OSError):
                    while b"\r\n\r\n" not in first and len(first) < 16384:
                        more = tls.recv(16384)
                        if not more:
                            break
                        first += more
            if first:
                tls.sendall(_http_reply("200 OK", f"stdlib ssl {version_name} {cipher}\n"))
        except (ssl.SSLError, OSError):
            pass
        finally:
            tls.close()


# -- raw TCP behaviours -------------------------------------------------------------


@dataclass(slots=True)
class RawConnection:
    """What a `Behaviour` gets: the accepted socket and the server's stop event.

    The helpers never block longer than the poll interval without checking `stop`.
    Returning from the behaviour closes the connection.
    """

    sock: socket.socket
    stop: threading.Event
    _on_receive: Callable[[bytes], None]

    def read_hello(self, timeout: float = 5.0) -> bytes:
        """Read the client's first flight: one whole TLS (or SSLv2) record, or whatever
        non-TLS bytes arrive first. A ClientHello fragmented over several handshake
        records (RFC 5246 section 6.2.1 allows it; real servers reassemble it) is read
        whole and returned as one record, so the behaviours parse one record. Returns b""
        if the peer closed or nothing came."""
        self.sock.settimeout(_POLL)
        data = b""
        deadline = time.monotonic() + timeout
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            data += chunk
            if _first_record_complete(data) and _hello_complete(data):
                break
        if data:
            self._on_receive(data)
        return _coalesced(data)

    def send(self, data: bytes) -> bool:
        """Send everything unless the server stops or the peer goes; True if all went."""
        self.sock.settimeout(_POLL)
        view = memoryview(data)
        while view and not self.stop.is_set():
            try:
                sent = self.sock.send(view)
            except TimeoutError:
                continue
            except OSError:
                return False
            view = view[sent:]
        return not view

    def hold(self, timeout: float | None = None) -> None:
        """Read and discard until the peer closes, the server stops or `timeout` passes."""
        self.sock.settimeout(_POLL)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.stop.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                if not self.sock.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def finish(self, linger: float = 2.0) -> None:
        """Close politely: FIN first, then drain what the client still sends, so that
        the kernel does not answer unread data with a reset (RFC 9293 §3.6)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
        self.hold(linger)


def _handshake_records(data: bytes) -> tuple[bytes, bytes] | None:
    """(header of the first record, the payloads of the whole handshake records at the
    start of ``data`` joined) when ``data`` starts with TLS handshake records; else None."""
    pos, payload = 0, b""
    while len(data) >= pos + 5 and data[pos] == 22:
        end = pos + 5 + int.from_bytes(data[pos + 3 : pos + 5], "big")
        if len(data) < end:
            break
        payload += data[pos + 5 : end]
        pos = end
    return (data[:5], payload) if payload else None


def _hello_complete(data: bytes) -> bool:
    """The first handshake message (type, u24 length) is whole in the records read."""
    found = _handshake_records(data)
    if found is None:
        return True
    payload = found[1]
    return len(payload) >= 4 and len(payload) >= 4 + int.from_bytes(payload[1:4], "big")


def _coalesced(data: bytes) -> bytes:
    """A ClientHello fragmented over several records, as one record (same header)."""
    found = _handshake_records(data)
    if found is None or len(found[1]) == int.from_bytes(data[3:5], "big"):
        return data
    header, payload = found
    return header[:3] + len(payload).to_bytes(2, "big") + payload


def _first_record_complete(data: bytes) -> bool:
    if data[0] in (20, 21, 22, 23, 24):  # TLS record (RFC 5246 §6.2.1)
        return len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big")
    if data[0] & 0x80:  # SSLv2 two-byte header (RFC 6101 appendix E.1)
        return len(data) >= 2 and len(data) >= 2 + ((data[0] & 0x7F) << 8 | data[1])
    return True  # not TLS: whatever came is the "hello"


@dataclass(frozen=True, slots=True)
class Behaviour:
    """A named way for RawServer to treat each connection. `run` gets a RawConnection."""

    name: str
    run: Callable[[RawConnection], None]
    params: tuple[tuple[str, object], ...] = ()

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params)
        return f"{self.name}({args})"


def close_immediately(*, read_first: bool = False) -> Behaviour:
    """Accept, then close with a FIN and no data (after reading the ClientHello if asked)."""

    def run(conn: RawConnection) -> None:
        if read_first:
            conn.read_hello()
        conn.finish()

    return Behaviour("close_immediately", run, (("read_first", read_first),))


def reset(*, read_first: bool = True) -> Behaviour:
    """Answer with a TCP reset (SO_LINGER 0, then close), by default after the ClientHello."""

    def run(conn: RawConnection) -> None:
        if read_first:
            conn.read_hello()
        conn.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )

    return Behaviour("reset", run, (("read_first", read_first),))


def never_answer() -> Behaviour:
    """Accept, read everything, say nothing until the client gives up or the server stops."""

    def run(conn: RawConnection) -> None:
        conn.read_hello()
        conn.hold()

    return Behaviour("never_answer", run)


def http(*, status: str = "400 Bad Request") -> Behaviour:
    """A plain HTTP server: whatever arrives, answer an HTTP/1.1 error and close."""

    def run(conn: RawConnection) -> None:
        conn.read_hello()
        conn.send(_http_reply(status, "This is a plain HTTP server.\n"))
        conn.finish()

    return Behaviour("http", run, (("status", status),))


def ssh_banner(*, banner: bytes = b"SSH-2.0-OpenSSH_9.6\r\n") -> Behaviour:
    """An SSH server: banner first (RFC 4253 §4.2), then it rejects the ClientHello."""

    def run(conn: RawConnection) -> None:
        conn.send(banner)
        if conn.read_hello():
            conn.send(b"Invalid SSH identification string.\r\n")
        conn.finish()

    return Behaviour("ssh_banner", run, (("banner", banner),))


def smtp_banner(*, banner: bytes = b"220 mail.example ESMTP\r\n") -> Behaviour:
    """An SMTP server without implicit TLS: greeting, a syntax error, then it waits."""

    def run(conn: RawConnection) -> None:
        conn.send(banner)
        if conn.read_hello():
            conn.send(b"500 5.5.2 Error: bad syntax\r\n")
        conn.hold()

    return Behaviour("smtp_banner", run, (("banner", banner),))


def garbage(*, size: int = 512, seed: int | None = None) -> Behaviour:
    """Answer the ClientHello with random bytes that cannot start a TLS or SSLv2 record."""

    def run(conn: RawConnection) -> None:
        conn.read_hello()
        data = bytearray(random.Random(seed).randbytes(size))
        if data:
            data[0] = 0x30 + data[0] % 0x40  # never 20..24 and never the SSLv2 high bit
        conn.send(bytes(data))
        conn.finish()

    return Behaviour("garbage", run, (("size", size), ("seed", seed)))


def drip(
    *,
    interval: float = 1.0,
    header: bytes = b"\x16\x03\x03\x00\x4a",
    body: bytes = b"\x02\x00\x00\x46\x03\x03",
) -> Behaviour:
    """Send a plausible handshake record header, then one byte every `interval` seconds
    (the `body` bytes, then zeros) until the client leaves or the server stops."""

    def run(conn: RawConnection) -> None:
        conn.read_hello()
        if not conn.send(header):
            return
        index = 0
        while not conn.stop.wait(interval):
            byte = body[index : index + 1] or b"\x00"
            index += 1
            if not conn.send(byte):
                return

    return Behaviour("drip", run, (("interval", interval), ("header", header)))


def endless(*, chunk: bytes = b"\x16\x03\x03\x40\x00" + bytes(0x4000)) -> Behaviour:
    """After the ClientHello, repeat `chunk` forever (by default full-size handshake
    records of zeros) until the client leaves or the server stops."""

    def run(conn: RawConnection) -> None:
        conn.read_hello()
        while conn.send(chunk):
            pass

    return Behaviour("endless", run, (("chunk_size", len(chunk)),))


def replay(data: bytes, *, read_first: bool = True) -> Behaviour:
    """Answer with these exact bytes (a captured server flight, say), then close."""

    def run(conn: RawConnection) -> None:
        if read_first:
            conn.read_hello()
        conn.send(data)
        conn.finish()

    return Behaviour("replay", run, (("size", len(data)), ("read_first", read_first)))


def alert(level: int = 2, description: int = 40, version: int = TLS1_2) -> Behaviour:
    """Answer any ClientHello with one plaintext alert record (RFC 8446 §6), then close."""
    record = bytes([21]) + version.to_bytes(2, "big") + b"\x00\x02" + bytes([level, description])
    behaviour = replay(record)
    return dataclasses.replace(
        behaviour,
        name="alert",
        params=(("level", level), ("description", description), ("version", version)),
    )


BEHAVIOURS: dict[str, Callable[..., Behaviour]] = {
    "close_immediately": close_immediately,
    "reset": reset,
    "never_answer": never_answer,
    "http": http,
    "ssh_banner": ssh_banner,
    "smtp_banner": smtp_banner,
    "garbage": garbage,
    "drip": drip,
    "endless": endless,
    "replay": replay,
    "alert": alert,
}


class RawServer(_ThreadedServer):
    """Plain TCP on 127.0.0.1 doing one `Behaviour` on every connection.

        with RawServer("reset") as server: ...
        with RawServer(alert(2, 40)) as server: ...
        with RawServer("drip", interval=0.5) as server: ...

    `received` holds the first flight read from each client (ClientHellos, mostly).
    """

    def __init__(self, behaviour: Behaviour | str, /, **params: Any) -> None:
        super().__init__()
        if isinstance(behaviour, str):
            try:
                factory = BEHAVIOURS[behaviour]
            except KeyError:
                raise LabServerError(
                    f"unknown raw behaviour {behaviour!r}; known: {', '.join(BEHAVIOURS)}"
                ) from None
            behaviour = factory(**params)
        elif params:
            raise TypeError("parameters go to the behaviour factory, not to RawServer")
        self.behaviour = behaviour
        self._received: list[bytes] = []

    @property
    def config(self) -> Behaviour:
        return self.behaviour

    @property
    def received(self) -> tuple[bytes, ...]:
        return self._snapshot(self._received)

    def wait_for_received(self, count: int = 1, timeout: float = 5.0) -> tuple[bytes, ...]:
        return self._wait_for(self._received, count, timeout, "flights received")

    def _on_receive(self, data: bytes) -> None:
        self._append(self._received, data)

    def _handle(self, conn: socket.socket) -> None:
        self.behaviour.run(RawConnection(conn, self._stop, self._on_receive))
