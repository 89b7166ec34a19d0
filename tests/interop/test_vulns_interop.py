"""The vulns probe family against real, patched TLS stacks: nothing may be reported
vulnerable, every check must reach a verdict, and the family stays within 15 connections.

Real positives where a real stack can be configured so: client-initiated renegotiation
(`s_server -client_renegotiation`, and gnutls-serv, confirmed by `gnutls-cli --rehandshake`)
and TLS 1.3 0-RTT (`s_server -early_data`, `gnutls-serv --earlydata`).

The truth comes from the servers' configurations: OpenSSL 3 has no heartbeat support at
all; tlslite-ng's HandshakeSettings.use_heartbeat_extension and gnutls-serv --heartbeat
negotiate heartbeats (so the malformed request really reaches their RFC 6520 checks); each
has RSA key exchange enabled, so ROBOT runs (what `openssl ciphers -v` / the settings say).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import trio

from handshakes import constants as c
from scanner.api import scan_endpoint
from scanner.lab.certs import IssuedCert
from scanner.options import Deadlines, ScanOptions, Target
from scanner.results import EndpointResult

OPTIONS = ScanOptions(
    probes=frozenset({"protocols", "suites", "vulns"}),
    use_system_store=False,
    deadlines=Deadlines(connect=10, read=10, endpoint=120),
    verbose=True,
)


async def scan(port: int) -> EndpointResult:
    with trio.fail_after(120):
        return await scan_endpoint(Target(host="127.0.0.1", port=port, ip="127.0.0.1"), OPTIONS)


def statuses(result: EndpointResult) -> dict[str, str]:
    return {v.check: v.status for v in result.vulns}


VULN_PROBES = ("Heartbleed", "CCS injection", "ROBOT", "client-initiated renegotiation", "Ticketbleed", "TLS 1.3")


def assert_healthy(
    result: EndpointResult, *, connections: int, renegotiation: str = "not_vulnerable",
    ticketbleed: str = "not_vulnerable", zero_rtt: str = "not_vulnerable",
) -> None:
    assert statuses(result) == {
        "heartbleed": "not_vulnerable", "crime": "not_vulnerable",
        "ccs_injection": "not_vulnerable", "robot": "not_vulnerable",
        "client_renegotiation": renegotiation, "ticketbleed": ticketbleed, "zero_rtt": zero_rtt,
    }, [v.evidence for v in result.vulns]
    used = [p for p in result.probes if p.name.startswith(VULN_PROBES)]
    assert len(used) == sum(v.connections for v in result.vulns) == connections <= 15
    found = {f.id for f in result.findings}
    assert not found & {"vuln.heartbleed", "vuln.ccs_injection", "vuln.robot", "vuln.inconclusive"}
    assert ("vuln.client_renegotiation" in found) == (renegotiation == "vulnerable")
    assert ("vuln.zero_rtt" in found) == (zero_rtt == "vulnerable")


def rsa_suites_accepted(result: EndpointResult) -> bool:
    from handshakes import registry as reg

    return any((i := reg.cipher_suite(s.code)) is not None and i.kx == "RSA" for s in result.cipher_suites)


async def test_openssl(openssl_server: Any) -> None:
    # DEFAULT:@SECLEVEL=0 keeps RSA key exchange (AES128-SHA ...) and TLS 1.0-1.3.
    server = openssl_server(min_version=c.TLS10, cipher="DEFAULT:@SECLEVEL=0")
    result = await scan(server.address[1])
    assert rsa_suites_accepted(result)
    # 1 Heartbleed (CCS injection on the same connection: no heartbeat, no compression)
    # + 5 ROBOT + 1 renegotiation + 1 Ticketbleed + 1 TLS 1.3 ticket.
    assert_healthy(result, connections=9)
    found = {v.check: v for v in result.vulns}
    assert found["ccs_injection"].connections == 0 and found["heartbleed"].connections == 1
    assert "does not accept the heartbeat extension" in found["heartbleed"].evidence
    assert "unexpected_message (10)" in found["ccs_injection"].evidence
    # OpenSSL 3 servers refuse client-initiated renegotiation unless told otherwise.
    assert "no_renegotiation (100)" in found["client_renegotiation"].evidence
    # OpenSSL issues TLS 1.2 tickets by default and echoes the session ID on resumption.
    assert "echoed exactly" in found["ticketbleed"].evidence
    # s_server's tickets allow no early data unless started with -early_data.
    assert "carries no early_data extension" in found["zero_rtt"].evidence


async def test_openssl_accepting_early_data(openssl_server: Any) -> None:
    # s_server -early_data sets max_early_data: a real 0-RTT positive (none is sent).
    server = openssl_server(min_version=c.TLS12, extra_args=("-early_data",))
    result = await scan(server.address[1])
    assert_healthy(result, connections=10, zero_rtt="vulnerable")
    z = next(v for v in result.vulns if v.check == "zero_rtt")
    assert "early_data in EncryptedExtensions" in z.evidence and z.connections == 2


async def test_openssl_allowing_client_renegotiation(openssl_server: Any) -> None:
    # s_server -client_renegotiation sets SSL_OP_ALLOW_CLIENT_RENEGOTIATION: a real positive.
    server = openssl_server(min_version=c.TLS12, extra_args=("-client_renegotiation",))
    result = await scan(server.address[1])
    assert_healthy(result, connections=9, renegotiation="vulnerable")


async def test_tlslite_ng_discards_the_malformed_heartbeat(tlslite_server: Any) -> None:
    seen: list[bool] = []

    def hook(settings: Any) -> None:
        seen.append(settings.use_heartbeat_extension)

    server = tlslite_server(min_version=c.TLS10, max_version=c.TLS12,
                            key_exchange_names=("rsa", "ecdhe_rsa"), settings_hook=hook)
    result = await scan(server.address[1])
    assert seen and all(seen)  # the server negotiates heartbeats
    assert rsa_suites_accepted(result)
    # tlslite-ng's server issues no TLS 1.2 session ticket: nothing to resume.
    assert_healthy(result, connections=8, ticketbleed="not_applicable", zero_rtt="not_applicable")
    hb = next(v for v in result.vulns if v.check == "heartbleed")
    assert "was discarded (RFC 6520 section 4)" in hb.evidence
    # Heartbeats negotiated: CCS injection has its own connection.
    assert next(v for v in result.vulns if v.check == "ccs_injection").connections == 1


@pytest.fixture
def gnutls_server(lab_cert: IssuedCert) -> Iterator[Any]:
    """Factory: gnutls_server(*extra_args) -> port; every server stopped at teardown."""
    exe = shutil.which("gnutls-serv")
    if exe is None:
        pytest.skip("gnutls-serv is not installed (Debian package gnutls-bin; .ci/run installs it)")
    procs: list[subprocess.Popen[bytes]] = []

    def start(*extra: str) -> int:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
        sock.close()
        proc = subprocess.Popen(
            [exe, "--heartbeat", "--echo", "-p", str(port), "--x509certfile", str(lab_cert.fullchain_path),
             "--x509keyfile", str(lab_cert.key_path), "--priority", "NORMAL:+RSA:+VERS-TLS1.0:+VERS-TLS1.1",
             *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gnutls-serv did not start")
                time.sleep(0.05)

    try:
        yield start
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def test_gnutls(gnutls_server: Any) -> None:
    port = gnutls_server()
    result = await scan(port)
    assert rsa_suites_accepted(result)
    # gnutls-serv allows safe client-initiated renegotiation: gnutls-cli, another client,
    # says so too ("ReHandshake was completed").
    cli = shutil.which("gnutls-cli")
    assert cli is not None
    rehandshake = subprocess.run(
        [cli, "--rehandshake", "--insecure", "-p", str(port), "127.0.0.1"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False,
    )
    assert "ReHandshake was completed" in rehandshake.stdout + rehandshake.stderr
    assert_healthy(result, connections=10, renegotiation="vulnerable")
    hb = next(v for v in result.vulns if v.check == "heartbleed")
    # GnuTLS negotiates heartbeats but refuses them before the handshake completes.
    assert "got no heartbeat response but alert" in hb.evidence


async def test_gnutls_accepting_early_data(gnutls_server: Any) -> None:
    # gnutls-serv --earlydata: a second real 0-RTT positive (no early data is sent).
    result = await scan(gnutls_server("--earlydata"))
    assert_healthy(result, connections=11, renegotiation="vulnerable", zero_rtt="vulnerable")


# -- issue 18's fresh-eyes report, against s_server -----------------------------------------

VULNS_ONLY = ScanOptions(
    probes=frozenset({"protocols", "vulns"}),
    use_system_store=False,
    deadlines=Deadlines(connect=10, read=10, endpoint=120),
    verbose=True,
)


async def test_without_suite_enumeration_robot_offers_the_rsa_suites_and_any_ec_group_works(
    openssl_server: Any,
) -> None:
    # Points 7 and 8: with --probes protocols,vulns the protocol probe saw only the ECDHE
    # suite, yet s_server accepts AES128-SHA (RSA key exchange, `openssl ciphers -v` says
    # Kx=RSA): ROBOT must run. -groups secp521r1: the renegotiation handshake and the
    # Ticketbleed resumption must still complete (secp521r1 is offered).
    server = openssl_server(max_version=c.TLS12, cipher="ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA",
                            groups="secp521r1")
    with trio.fail_after(120):
        result = await scan_endpoint(Target(host="127.0.0.1", port=server.address[1], ip="127.0.0.1"), VULNS_ONLY)
    found = {v.check: v for v in result.vulns}
    assert found["robot"].status == "not_vulnerable", found["robot"].evidence
    assert found["client_renegotiation"].status == "not_vulnerable", found["client_renegotiation"].evidence
    assert found["ticketbleed"].status == "not_vulnerable", found["ticketbleed"].evidence


async def test_zero_rtt_on_a_server_limited_to_secp384r1(openssl_server: Any) -> None:
    # Point 8: the 0-RTT handshakes offer the group the server chose, not x25519 alone.
    server = openssl_server(min_version=c.TLS13, groups="secp384r1", extra_args=("-early_data",))
    with trio.fail_after(120):
        result = await scan_endpoint(Target(host="127.0.0.1", port=server.address[1], ip="127.0.0.1"), VULNS_ONLY)
    z = next(v for v in result.vulns if v.check == "zero_rtt")
    assert z.status == "vulnerable", z.evidence


async def test_checks_not_run_are_not_tested_not_not_applicable(openssl_server: Any) -> None:
    # Point 9: TLS 1.2 with AES128-SHA only: the renegotiation check has no ECDHE AES-GCM
    # suite to complete a handshake with, so neither it nor Ticketbleed ran.
    # Without the suites probe the check offers them all and the server refuses them.
    server = openssl_server(max_version=c.TLS12, cipher="AES128-SHA")
    for options in (OPTIONS, VULNS_ONLY):
        with trio.fail_after(120):
            result = await scan_endpoint(Target(host="127.0.0.1", port=server.address[1], ip="127.0.0.1"), options)
        found = {v.check: v for v in result.vulns}
        for name in ("client_renegotiation", "ticketbleed"):
            assert found[name].status == "inconclusive", found[name]
            assert found[name].evidence.startswith("not tested: needs"), found[name]
        assert "no session ticket was issued" not in found["ticketbleed"].evidence
        assert found["robot"].status == "not_vulnerable"
