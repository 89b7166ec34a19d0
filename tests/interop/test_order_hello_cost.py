"""What the preference probe costs when few suites are accepted.

The elimination asks the server's order on the way (scanner/probes/suites.py
_order_offer), once two suites are found. A version with one suite has no order to ask,
and a server with AES-GCM and ChaCha20 only (a common modern configuration) that follows
the client's order must cost no connection more than the scan without the preference probe: a first design asked
the order with the second hello and, for these servers, paid for it and for the
preference probe's own connection (a hostile tester's finding).

The truth is the servers' configuration (one suite, or two; -serverpref or not), checked
against `openssl s_client` for the order.
"""

from __future__ import annotations

import subprocess

import pytest

from handshakes import constants as c
from scanner.api import scan_endpoint
from scanner.options import Deadlines, ScanOptions, Target
from scanner.results import EndpointResult

DEADLINES = Deadlines(connect=10.0, read=10.0, endpoint=120.0)
AES128_13 = "TLS_AES_128_GCM_SHA256"
CHACHA_13 = "TLS_CHACHA20_POLY1305_SHA256"


async def _scan(server, lab_pki, probes: set[str]) -> EndpointResult:
    options = ScanOptions(
        ca_file=str(lab_pki.ca_path), use_system_store=False, probes=frozenset(probes), deadlines=DEADLINES,
    )
    result = await scan_endpoint(Target(host="127.0.0.1", port=server.port, ip="127.0.0.1"), options)
    assert result.outcome == "ok", result.detail
    return result


def _chosen13(port: int, offer: list[str]) -> str | None:
    """The TLS 1.3 suite the server picks from ``offer`` (s_client's order), per OpenSSL."""
    argv = ["openssl", "s_client", "-brief", "-connect", f"127.0.0.1:{port}", "-tls1_3", "-ciphersuites", ":".join(offer)]
    err = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10).stderr
    return next((ln.split(":", 1)[1].strip() for ln in err.splitlines() if ln.startswith("Ciphersuite:")), None)


@pytest.mark.parametrize("server_pref", [False, True], ids=["client-order", "serverpref"])
async def test_a_single_suite_costs_no_preference_connection(openssl_server, lab_pki, server_pref) -> None:
    # One suite: there is no order to ask, so the preference probe must cost nothing.
    server = openssl_server(min_version=c.TLS12, max_version=c.TLS12, cipher="AES128-SHA", server_pref=server_pref)
    plain = await _scan(server, lab_pki, {"protocols", "suites"})
    ordered = await _scan(server, lab_pki, {"protocols", "suites", "preference"})
    assert [s.code for s in ordered.cipher_suites] == [0x002F]
    assert ordered.stats.connections == plain.stats.connections


@pytest.mark.parametrize("server_pref", [False, True], ids=["client-order", "serverpref"])
async def test_aes_gcm_and_chacha_cost_one_preference_connection(openssl_server, lab_pki, server_pref) -> None:
    # TLS 1.3 with AES-128-GCM and ChaCha20 only.
    server = openssl_server(
        min_version=c.TLS13, max_version=c.TLS13, ciphersuites=f"{AES128_13}:{CHACHA_13}", server_pref=server_pref,
    )
    # The truth, from s_client: the order the server applies.
    assert _chosen13(server.port, [CHACHA_13, AES128_13]) == (AES128_13 if server_pref else CHACHA_13)
    plain = await _scan(server, lab_pki, {"protocols", "suites"})
    ordered = await _scan(server, lab_pki, {"protocols", "suites", "preference"})
    assert {s.code for s in ordered.cipher_suites} == {0x1301, 0x1303}
    assert dict(ordered.behaviours.server_preference) == {c.TLS13: server_pref}
    assert ordered.behaviours.chacha_priority == ()  # s_client: ChaCha20 listed first loses
    # A client-order server: nothing more. A server-order one: the order hello, and the
    # question whether ChaCha20 listed first wins over its own first choice.
    assert ordered.stats.connections <= plain.stats.connections + (2 if server_pref else 0)
