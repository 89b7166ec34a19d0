"""The Python API of issue 3: scanner.scan(...) (synchronous) and await scanner.scan_endpoint(...)."""

from __future__ import annotations

import scanner
from handshakes import constants as c
from scanner.results import endpoint_json


def _options(lab_pki):
    return scanner.ScanOptions(
        ca_file=str(lab_pki.ca_path), use_system_store=False,
        probes=frozenset({"protocols", "suites", "certificates"}),
    )


def test_scan_is_synchronous_and_takes_strings(openssl_server, lab_pki):
    server = openssl_server(max_version=c.TLS12)
    (result,) = scanner.scan(f"127.0.0.1:{server.port}", _options(lab_pki))
    assert result.outcome == "ok"
    assert result.supported_versions() == (c.TLS12,)
    assert endpoint_json(result)["protocols"][1]["version"] == "TLSv1.2"


def test_scan_several_targets_keeps_their_order(openssl_server, lab_pki):
    a = openssl_server(max_version=c.TLS12)
    b = openssl_server(min_version=c.TLS13)
    results = scanner.scan([f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"], _options(lab_pki))
    assert [r.port for r in results] == [a.port, b.port]
    assert [r.supported_versions() for r in results] == [(c.TLS12,), (c.TLS13,)]


async def test_scan_endpoint_under_trio(openssl_server, lab_pki):
    server = openssl_server()
    target = scanner.Target(host="localhost", port=server.port, ip="127.0.0.1")
    result = await scanner.scan_endpoint(target, _options(lab_pki))
    assert result.sni == "localhost"
    assert set(result.supported_versions()) == {c.TLS12, c.TLS13}
    assert result.certificates and result.certificates[0].validation.trusted
