# PostgreSQL 17's direct TLS (issue 13): not packaged on this Debian, so an openssl
# s_server that requires ALPN "postgresql" stands in (it answers any other ALPN with
# no_application_protocol, 120, as PostgreSQL 17 does).
from __future__ import annotations

from collections.abc import Callable

from scanner.api import scan
from scanner.lab.certs import Pki
from scanner.lab.servers import OpenSSLServer
from scanner.options import ScanOptions, Target


def test_postgres_direct_tls_offers_alpn_postgresql(openssl_server: Callable[..., OpenSSLServer], lab_pki: Pki) -> None:
    server = openssl_server(alpn=("postgresql",))
    options = ScanOptions(
        probes=frozenset({"protocols", "behaviours"}), ca_file=str(lab_pki.ca_path), use_system_store=False,
    )
    [direct] = scan(Target(host="localhost", ip="127.0.0.1", port=server.port), ScanOptions(
        probes=options.probes, ca_file=options.ca_file, use_system_store=False, starttls="postgres-direct",
    ))
    assert direct.outcome == "ok"
    assert direct.starttls is None  # no dialogue: TLS from the first byte
    assert direct.supported_versions()
    assert direct.behaviours.alpn == ("postgresql",)
    # Offered HTTP's ALPN (a plain TLS scan), the server refuses every handshake.
    [plain] = scan(Target(host="localhost", ip="127.0.0.1", port=server.port), options)
    assert not plain.supported_versions()
    assert 120 in {p.alert for p in plain.protocols}  # no_application_protocol for TLS 1.2 and 1.3
