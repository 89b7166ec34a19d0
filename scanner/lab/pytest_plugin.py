# pytest fixtures for real TLS peers on 127.0.0.1, shipped with tlscompat.
#
# Installed as the `tlscompat_lab` pytest11 entry point, so any test suite in an
# environment where tlscompat is installed can ask for these fixtures by name. Importing
# this module must stay cheap (pytest imports every plugin on every run): the lab
# modules are imported inside the fixtures, only when a test asks for one.
#
# Every factory fixture starts the server before returning it and stops it when the
# test ends, whatever happened. Factories block while the server starts (tens of
# milliseconds for s_server, less for the threaded ones), which is fine in trio tests
# too; for full control inside async code, use `async with OpenSSLServer(...)`.

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

import pytest

if TYPE_CHECKING:
    from scanner.lab.certs import IssuedCert, Pki
    from scanner.lab.run import RunningScenario
    from scanner.lab.servers import (
        OpenSSLServer,
        RawServer,
        StdlibSSLServer,
        TlsliteServer,
    )

__all__ = [
    "lab_cert",
    "lab_pki",
    "lab_scenario",
    "openssl_server",
    "raw_server",
    "stdlib_ssl_server",
    "tlslite_server",
]


_S = TypeVar("_S", bound="_Startable")


class _Startable(Protocol):
    def start(self) -> Self: ...

    def stop(self) -> None: ...


@contextlib.contextmanager
def _started_servers(make: Callable[..., _S]) -> Iterator[Callable[..., _S]]:
    """A factory that makes a server with `make`, starts it and returns it; every server
    it made is stopped when the block ends, the last one first."""
    started: list[_S] = []

    def factory(*args: Any, **kwargs: Any) -> _S:
        server = make(*args, **kwargs)
        started.append(server)
        return server.start()

    try:
        yield factory
    finally:
        for server in reversed(started):
            server.stop()


def _with_default_cert(
    server_class: Callable[..., _S], lab_cert: IssuedCert, *, unless_chain: bool
) -> Callable[..., _S]:
    """`server_class(config, **options)` with `cert=lab_cert` when neither a config nor a
    certificate is given (nor, with `unless_chain`, a `cert_chain` that holds the key)."""

    def make(config: Any = None, /, **options: Any) -> _S:
        if config is None and not (unless_chain and "cert_chain" in options):
            options.setdefault("cert", lab_cert)
        return server_class(config, **options)

    return make


@pytest.fixture(scope="session")
def lab_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A session-wide `scanner.lab.certs.Pki` in a temporary directory.

    It holds a root CA (`lab_pki.root`, file `lab_pki.ca_path`: give it to your client
    as its CA file), an intermediate CA and, made on first use, an untrusted root.
    Issue what your test needs; names must be unique within the session::

        def test_expired(lab_pki, openssl_server):
            cert = lab_pki.issue("expired-for-my-test", validity="expired")
            server = openssl_server(cert=cert)
    """
    from scanner.lab.certs import Pki

    return Pki(tmp_path_factory.mktemp("tlscompat-pki"))


@pytest.fixture(scope="session")
def lab_cert(lab_pki: Pki) -> IssuedCert:
    """The default server certificate: RSA 2048, for `localhost` and `127.0.0.1`,
    issued by `lab_pki`'s intermediate (so servers send a one-certificate chain)."""
    return lab_pki.issue("lab-default-server")


@pytest.fixture
def openssl_server(lab_cert: IssuedCert) -> Iterator[Callable[..., OpenSSLServer]]:
    """Factory: `openssl_server(**options) -> OpenSSLServer`, already accepting.

    Options are the fields of `scanner.lab.servers.OpenSSLServerConfig` (`cert=` takes
    an `IssuedCert` and defaults to `lab_cert`; `min_version=0x0301`, `cipher=`,
    `require_client_cert=True`, `www=True`...), or pass a ready config positionally.
    Connect to `server.address`; `server.argv` is the exact command line and
    `server.stderr_text()` what s_server logged. Stopped at teardown::

        def test_tls12_only(openssl_server):
            server = openssl_server(max_version=0x0303, www=True)
    """
    from scanner.lab.servers import OpenSSLServer

    with _started_servers(
        _with_default_cert(OpenSSLServer, lab_cert, unless_chain=False)
    ) as factory:
        yield factory


@pytest.fixture
def tlslite_server(lab_cert: IssuedCert) -> Iterator[Callable[..., TlsliteServer]]:
    """Factory: `tlslite_server(**options) -> TlsliteServer`, a tlslite-ng server in a
    thread, already accepting. The only lab server that speaks SSL 3.0.

    Options are the fields of `scanner.lab.servers.TlsliteServerConfig`
    (`min_version=0x0300`, `cipher_names=("aes128",)`, `request_client_cert=True`...);
    `cert=` takes an `IssuedCert` and defaults to `lab_cert`. After the client is done,
    `server.wait_for_records(1)` tells what each handshake negotiated or why it failed.
    """
    from scanner.lab.servers import TlsliteServer

    with _started_servers(
        _with_default_cert(TlsliteServer, lab_cert, unless_chain=True)
    ) as factory:
        yield factory


@pytest.fixture
def stdlib_ssl_server(lab_cert: IssuedCert) -> Iterator[Callable[..., StdlibSSLServer]]:
    """Factory: `stdlib_ssl_server(**options) -> StdlibSSLServer`, a blocking stdlib
    `ssl` server in a thread, already accepting.

    Use it when your test needs the alert OpenSSL sends on a failed handshake (trio's
    SSLStream never sends it). Options are the fields of
    `scanner.lab.servers.StdlibSSLServerConfig` (`min_version=`, `ciphers=`,
    `verify_mode=ssl.CERT_REQUIRED` with `ca_file=`, `sni_callback=`...); `cert=` takes
    an `IssuedCert` and defaults to `lab_cert`. `server.wait_for_records(n)` returns
    what each connection negotiated or the OpenSSL reason it failed.
    """
    from scanner.lab.servers import StdlibSSLServer

    with _started_servers(
        _with_default_cert(StdlibSSLServer, lab_cert, unless_chain=True)
    ) as factory:
        yield factory


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    """Factory: `raw_server(behaviour, **params) -> RawServer`, plain TCP misbehaving on
    purpose, already accepting.

    `behaviour` is a name from `scanner.lab.servers.BEHAVIOURS` with its parameters
    (`raw_server("reset")`, `raw_server("drip", interval=0.5)`,
    `raw_server("alert", level=2, description=40)`) or a `Behaviour` object
    (`raw_server(replay(captured_bytes))`). `server.received` holds what clients sent.
    """
    from scanner.lab.servers import RawServer

    with _started_servers(RawServer) as factory:
        yield factory


@pytest.fixture
def lab_scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], RunningScenario]]:
    """Factory: `lab_scenario(name) -> RunningScenario`, a scenario of the lab catalogue
    (`scanner.lab.scenarios.SCENARIOS`; `tlscompat demo` lists them) already listening.

    The result holds `.target` (a `scanner.options.Target` on 127.0.0.1), `.options` (the
    `ScanOptions` to scan it with: the lab's root as the only trust anchor, generous
    deadlines, the scenario's overrides) and `.scenario` (its `expected` finding ids).
    Works in plain and in trio tests; every server is stopped at teardown::

        from scanner.api import scan_endpoint

        async def test_expired_certificate_is_reported(lab_scenario):
            running = lab_scenario("expired")
            result = await scan_endpoint(running.target, running.options)
            assert "cert.expired" in {f.id for f in result.findings}

    Each call starts a separate lab (its own Pki in a temporary directory).
    """
    from scanner.lab.run import lab_in_thread
    from scanner.lab.scenarios import by_name

    with contextlib.ExitStack() as stack:

        def factory(name: str) -> RunningScenario:
            scenario = by_name(name)
            directory = tmp_path_factory.mktemp(f"tlscompat-lab-{name}")
            lab = stack.enter_context(lab_in_thread([scenario], directory=directory))
            return lab.running[0]

        yield factory
