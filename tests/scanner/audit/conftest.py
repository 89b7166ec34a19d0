# Lab servers with known configurations for the audit tests: openssl s_server on 127.0.0.1,
# scanned with scan_endpoint, and the profiles' real hellos sent with simulate_live.
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.lab.certs import IssuedCert, Pki
from scanner.lab.servers import OpenSSLServer
from scanner.options import Deadlines, ScanOptions, Target

DEADLINES = Deadlines(connect=3.0, read=3.0, endpoint=60.0)

# RFC 2409 section 6.2, the second Oakley group: the 1024-bit MODP prime, generator 2.
RFC2409_GROUP2 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
    16,
)

# The lab servers, by name: OpenSSLServer options (the certificate is added by the fixture).
SERVERS: dict[str, dict[str, Any]] = {
    # TLS 1.2 + 1.3, ECDHE with AEAD only.
    "modern": {"min_version": 0x0303, "max_version": 0x0304, "cipher": "ECDHE+AESGCM:ECDHE+CHACHA20"},
    # TLS 1.0 only, OpenSSL's default suites at security level 0.
    "tls10": {"min_version": 0x0301, "max_version": 0x0301, "seclevel": 0},
    # TLS 1.0 only, ECDHE suites only: the lab's tls10-only scenario.
    "tls10_ecdhe": {"min_version": 0x0301, "max_version": 0x0301, "cipher": "ECDHE+AES", "seclevel": 0},
    # TLS 1.2 only, DHE suites only, with the 1024-bit RFC 2409 group.
    "dhe1024": {"min_version": 0x0303, "max_version": 0x0303, "cipher": "DHE", "seclevel": 0, "dhparam": True},
    # TLS 1.0..1.2, DHE suites only, OpenSSL's automatic (2048-bit) DH parameters.
    "dhe2048": {"min_version": 0x0301, "max_version": 0x0303, "cipher": "DHE", "seclevel": 0},
    # A legacy server: TLS 1.0..1.2 with OpenSSL's default suites.
    "legacy": {"min_version": 0x0301, "max_version": 0x0303, "seclevel": 0},
    # The legacy server after "disable TLS 1.0 and 1.1", nothing else changed.
    "legacy_tls12": {"min_version": 0x0303, "max_version": 0x0303, "seclevel": 0},
    # TLS 1.2 only, CBC suites without AEAD.
    "cbc12": {
        "min_version": 0x0303,
        "max_version": 0x0303,
        "cipher": "ECDHE-RSA-AES128-SHA256:AES128-SHA:AES256-SHA",
    },
}


def dh1024_pem(directory: Path) -> Path:
    """The RFC 2409 group 2 as a PEM DH parameters file (no slow `openssl dhparam`)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.utils import CryptographyDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        from cryptography.hazmat.primitives.asymmetric import dh

        params = dh.DHParameterNumbers(RFC2409_GROUP2, 2).parameters()
        pem = params.parameter_bytes(serialization.Encoding.PEM, serialization.ParameterFormat.PKCS3)
    path = directory / "rfc2409-group2.pem"
    path.write_bytes(pem)
    return path


@pytest.fixture(scope="module")
def audit_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("audit-pki"))


@pytest.fixture(scope="module")
def audit_cert(audit_pki: Pki) -> IssuedCert:
    return audit_pki.issue("audit-server")


@pytest.fixture
def lab(
    audit_pki: Pki, audit_cert: IssuedCert, tmp_path: Path
) -> Iterator[Callable[..., tuple[OpenSSLServer, Target]]]:
    """Factory: lab("tls10") -> (server, target); stopped at teardown."""
    started: list[OpenSSLServer] = []

    def start(name: str, **overrides: Any) -> tuple[OpenSSLServer, Target]:
        options = dict(SERVERS[name], **overrides)
        if options.pop("dhparam", False):
            options["extra_args"] = ("-dhparam", str(dh1024_pem(tmp_path)))
        options.setdefault("cert", audit_cert)
        server = OpenSSLServer(**options)
        started.append(server)
        server.start()
        target = Target(host="127.0.0.1", port=server.address[1], ip="127.0.0.1", sni="localhost")
        return server, target

    try:
        yield start
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture(scope="module")
def scan_options(audit_pki: Pki) -> ScanOptions:
    return ScanOptions(
        deadlines=DEADLINES,
        ca_file=str(audit_pki.ca_path),
        use_system_store=False,
        probes=frozenset({"protocols", "suites", "preference", "groups", "certificates", "behaviours"}),
    )
