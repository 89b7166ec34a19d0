"""What a hostile tester found wrong after issue 16's second round (9490260..392242f),
against real servers: DH sizes of anonymous suites of two strengths (the order hello had
made the scan read the other one first), and the curves of an ECDSA-only server, which
takes a curve only while its certificate's is offered too (wrong before that round as
well).

The truth is `openssl s_client` (the DH size each anonymous suite gets) and the server's
configuration.
"""

from __future__ import annotations

import re
import subprocess

from handshakes import constants as c
from scanner.api import scan_endpoint
from scanner.options import Deadlines, ScanOptions, Target

DEADLINES = Deadlines(connect=10.0, read=10.0, endpoint=120.0)
# OpenSSL's automatic DH for anonymous suites follows the suite's strength (ssl_get_auto_dh:
# 256-bit ciphers get 3072-bit primes, the others 1024-bit), so one (DHE, anon) pair holds
# two sizes.
ADH_128 = "ADH-AES128-SHA"
ADH_256 = "ADH-AES256-SHA"


def _dh_bits(port: int, version_flag: str, cipher: str) -> int | None:
    """The DH size `openssl s_client` gets for ``cipher`` (its 'Server Temp Key' line)."""
    argv = [
        "openssl", "s_client", "-connect", f"127.0.0.1:{port}", version_flag, "-cipher", f"{cipher}:@SECLEVEL=0",
    ]
    out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"Server Temp Key: DH, (\d+) bits", out)
    return int(m.group(1)) if m else None


async def test_anonymous_dh_sizes_per_suite_with_the_preference_probe(openssl_server, lab_pki) -> None:
    server = openssl_server(min_version=c.TLS10, max_version=c.TLS10, cipher="ALL", seclevel=0)
    truth = {ADH_128: _dh_bits(server.port, "-tls1", ADH_128), ADH_256: _dh_bits(server.port, "-tls1", ADH_256)}
    assert truth == {ADH_128: 1024, ADH_256: 3072}, truth
    options = ScanOptions(
        ca_file=str(lab_pki.ca_path), use_system_store=False, deadlines=DEADLINES,
        probes=frozenset({"protocols", "suites", "preference"}),
    )
    result = await scan_endpoint(Target(host="127.0.0.1", port=server.port, ip="127.0.0.1"), options)
    assert result.outcome == "ok", result.detail
    got = {s.code: s.dh_bits for s in result.cipher_suites if s.version == c.TLS10}
    # The weak prime a client offering ADH-AES128-SHA gets is reported, with its finding.
    assert got[0x0034] == truth[ADH_128]
    assert 1024 in result.dh_bits
    assert "dh.weak" in {f.id for f in result.findings}


def _curve_taken(port: int, groups: str) -> str | None:
    """The TLS 1.2 curve `openssl s_client -groups groups` gets, or None (refused)."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2", "-groups", groups]
    out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"Server Temp Key: (?:ECDH, )?(\w+)", out)
    return m.group(1) if m else None


async def test_ecdsa_p256_server_curves_need_p256_offered(openssl_server, lab_pki) -> None:
    leaf = lab_pki.issue("merged-hostile-ecdsa", key="ecdsa-p256")
    server = openssl_server(cert=leaf, min_version=c.TLS12, max_version=c.TLS12)
    # The truth: every curve is taken when P-256 is listed after it, none alone.
    assert _curve_taken(server.port, "P-521") is None
    truth = {g for g in ("P-384", "P-521", "X448") if _curve_taken(server.port, f"{g}:P-256")}
    assert truth == {"P-384", "P-521", "X448"}, truth
    options = ScanOptions(
        ca_file=str(lab_pki.ca_path), use_system_store=False, deadlines=DEADLINES,
        probes=frozenset({"protocols", "suites", "groups"}),
    )
    result = await scan_endpoint(Target(host="127.0.0.1", port=server.port, ip="127.0.0.1"), options)
    assert result.outcome == "ok", result.detail
    curves = {g.code for g in result.groups if g.version == c.TLS12}
    assert curves == {0x001D, 0x0017, 0x0018, 0x0019, 0x001E}, sorted(hex(g) for g in curves)
