"""Issue 3: no ClientHello the scan sends carries more than 128 cipher suites (SCSVs
included), whatever the version; checked on every probe of full scans."""

from __future__ import annotations

import pytest

import scanner.engine as engine
from handshakes import constants as c
from scanner.api import scan_endpoint
from scanner.options import ScanOptions, Target


@pytest.mark.parametrize("versions", [{}, {"min_version": c.TLS10, "max_version": c.TLS12}])
async def test_every_hello_has_at_most_128_suites(openssl_server, lab_pki, monkeypatch, versions):
    sizes: list[tuple[int, int]] = []
    real = engine.run_probe

    async def recording(probe, *args, **kwargs):
        spec = probe.spec
        sizes.append((spec.supported_versions[0] if spec.supported_versions else spec.legacy_version, len(spec.cipher_suites)))
        return await real(probe, *args, **kwargs)

    monkeypatch.setattr(engine, "run_probe", recording)
    server = openssl_server(**versions)
    options = ScanOptions(ca_file=str(lab_pki.ca_path), use_system_store=False)
    await scan_endpoint(Target(host="localhost", port=server.port, ip="127.0.0.1"), options)
    assert sizes and max(n for _, n in sizes) <= 128, sorted(sizes, key=lambda x: -x[1])[:5]
    assert c.SSL3 in {v for v, _ in sizes}  # the SSL 3.0 hello (with its SCSV) was among them
