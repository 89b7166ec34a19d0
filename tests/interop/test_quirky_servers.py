"""Quirky real servers (issue 11): `openssl s_server` behind a front end that misbehaves in
one precise way. The truth is what `openssl s_client` (a mainstream client) gets through the
same front end, established in each test; the scan must report the same versions and
suites, and the intolerance as a finding with its trigger.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from handshakes import constants as c
from handshakes import registry as reg
from scanner.api import scan_endpoint
from scanner.lab.frontends import (
    FrontEnd,
    close_above_suites,
    forward_all,
    silent_in_length_window,
)
from scanner.options import Deadlines, ScanOptions, Target
from scanner.results import EndpointResult

DEADLINES = Deadlines(connect=5.0, read=3.0, endpoint=90.0)
_FLAGS = {c.TLS12: "-tls1_2", c.TLS13: "-tls1_3"}


def s_client(port: int, *args: str) -> bool:
    """Whether `openssl s_client` completes a handshake through the front end (3 s bound:
    a hello the front end never answers is a failure)."""
    name = () if "-noservername" in args else ("-servername", "localhost")
    argv = ["openssl", "s_client", "-brief", "-connect", f"127.0.0.1:{port}", *name, *args]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=3)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0 and "CONNECTION ESTABLISHED" in done.stderr


def truth_suites(port: int, version: int) -> set[int]:
    """The suites of `version` that s_client negotiates through the front end, one suite
    per handshake, over every suite OpenSSL here knows for that version."""
    flag = _FLAGS[version]
    listing = subprocess.run(
        ["openssl", "ciphers", "-s", flag, "ALL:@SECLEVEL=0" if version != c.TLS13 else "ALL"],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout.strip().split(":")
    out = set()
    for name in listing:
        suite = reg.cipher_suite_by_name(name)
        if suite is None or (version == c.TLS13) != (suite.code >> 8 == 0x13):
            continue
        option = ("-ciphersuites" if version == c.TLS13 else "-cipher", name)
        if s_client(port, flag, *option):
            out.add(suite.code)
    return out


async def scan(port: int, lab_pki, probes: frozenset[str] | None = None) -> EndpointResult:
    options = ScanOptions(
        deadlines=DEADLINES, ca_file=str(lab_pki.ca_path), use_system_store=False,
        **({"probes": probes} if probes is not None else {}),
    )
    return await scan_endpoint(Target(host="localhost", ip="127.0.0.1", port=port), options)


def suites_of(result: EndpointResult, version: int) -> set[int]:
    return {s.code for s in result.cipher_suites if s.version == version}


@pytest.fixture
def front_end(openssl_server) -> Iterator:
    started: list[FrontEnd] = []

    def make(quirk, *, swallow_alerts: bool = False, **server) -> FrontEnd:
        backend = openssl_server(**server)
        fe = FrontEnd(backend.address, quirk, swallow_alerts=swallow_alerts).start()
        started.append(fe)
        return fe

    yield make
    for fe in started:
        fe.stop()


async def test_hello_length_window(front_end, lab_pki) -> None:
    fe = front_end(silent_in_length_window(256, 511), max_version=c.TLS13)
    # The truth: s_client's TLS 1.3-only hello (under 256 bytes) gets through, its default
    # hello (256-511 bytes) gets no answer.
    assert s_client(fe.port, "-tls1_3")
    short = fe.hellos[-1].length
    assert not s_client(fe.port)
    long = fe.hellos[-1].length
    assert short < 256 <= long <= 511
    tls13 = truth_suites(fe.port, c.TLS13)
    tls12 = truth_suites(fe.port, c.TLS12)
    assert tls13 and tls12

    result = await scan(fe.port, lab_pki)
    assert c.TLS13 in result.supported_versions()
    assert suites_of(result, c.TLS13) == tls13
    assert suites_of(result, c.TLS12) == tls12
    ids = {f.id for f in result.findings}
    assert "sni.required" not in ids
    assert "intolerance.hello_length" in ids
    finding = next(f for f in result.findings if f.id == "intolerance.hello_length")
    (found,) = [i for i in result.intolerances if i.kind == "hello_length"]
    # Measured, not assumed (fresh-eyes point 2): the sizes seen failing, inside the window.
    assert found.low is not None and found.high is not None
    assert 256 <= found.low <= found.high <= 511
    assert f"ClientHello of {found.low}-{found.high} bytes gets no answer" in finding.evidence
    assert found.failed and found.worked
    # Fresh-eyes point 8: the rows of refused versions show the server's alert (what
    # s_client gets: its TLS 1.0 hello is under 256 bytes), not the first hello's silence.
    s_client_tls10 = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{fe.port}", "-tls1"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=5,
    )
    assert fe.hellos[-1].length < 256
    if "alert" in s_client_tls10.stderr:
        row = next(p for p in result.protocols if p.version == c.TLS10)
        assert row.outcome == "alert" and row.alert is not None


async def test_hello_length_window_is_measured(front_end, lab_pki) -> None:
    """Fresh-eyes point 2: a window of 300-400 bytes is reported from the sizes tried."""
    fe = front_end(silent_in_length_window(300, 400), max_version=c.TLS13)
    # The truth: s_client's TLS 1.3-only hello (under 300 bytes) gets through, its default
    # hello (300-400 bytes) gets no answer.
    assert s_client(fe.port, "-tls1_3")
    assert fe.hellos[-1].length < 300
    assert not s_client(fe.port)
    assert 300 <= fe.hellos[-1].length <= 400
    result = await scan(fe.port, lab_pki, frozenset({"protocols", "suites"}))
    assert c.TLS13 in result.supported_versions()
    (found,) = [i for i in result.intolerances if i.kind == "hello_length"]
    assert found.low is not None and found.high is not None
    assert 300 <= found.low <= found.high <= 400


async def test_hellos_over_511_bytes_get_no_answer(front_end, lab_pki) -> None:
    """Fresh-eyes point 1: no answer to hellos over 511 bytes is not 'no TLS': a short
    hello, as s_client sends, is tried before giving up."""
    from scanner.lab.frontends import silent_above_length

    fe = front_end(silent_above_length(511), max_version=c.TLS13)
    # The truth: s_client's short hellos connect; one with a large key share (ffdhe8192:
    # over 1 KB) gets no answer.
    assert s_client(fe.port, "-tls1_2")
    assert s_client(fe.port, "-tls1_3")
    assert not s_client(fe.port, "-tls1_3", "-groups", "ffdhe8192")
    assert fe.hellos[-1].length > 511
    tls13 = truth_suites(fe.port, c.TLS13)
    tls12 = truth_suites(fe.port, c.TLS12)
    result = await scan(fe.port, lab_pki, frozenset({"protocols", "suites"}))
    assert result.outcome == "ok"
    assert suites_of(result, c.TLS13) == tls13
    assert suites_of(result, c.TLS12) == tls12
    ids = {f.id for f in result.findings}
    assert "port.timeout" not in ids and "intolerance.hello_length" in ids
    found = [i for i in result.intolerances if i.kind == "hello_length"]
    assert found and all(i.low is not None and i.low > 511 and i.high is None for i in found)


async def test_suite_count_limit(front_end, lab_pki) -> None:
    fe = front_end(close_above_suites(100), max_version=c.TLS13)
    # The truth: s_client with every suite it has (PSK included: 150 suites) is closed on,
    # its default hello gets through.
    assert not s_client(fe.port, "-tls1_2", "-psk", "00", "-cipher", "ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    assert fe.hellos[-1].suites > 100
    assert s_client(fe.port, "-tls1_2")
    tls12 = truth_suites(fe.port, c.TLS12)
    assert tls12

    result = await scan(fe.port, lab_pki, frozenset({"protocols", "suites"}))
    assert c.TLS12 in result.supported_versions()
    assert suites_of(result, c.TLS12) == tls12
    assert {f.id for f in result.findings} >= {"intolerance.suite_count"}
    (found,) = [i for i in result.intolerances if i.kind == "suite_count"]
    assert found.low == 101
    # Every hello the scanner sent after learning the limit stayed within it.
    assert max(h.suites for h in fe.hellos[-5:]) <= 100


async def test_silent_refusals(front_end, lab_pki) -> None:
    fe = front_end(forward_all, swallow_alerts=True, max_version=c.TLS13)
    # The truth: a TLS 1.1 client and a TLS 1.2 client signalling a fallback are refused
    # with a bare close; the default client connects.
    assert not s_client(fe.port, "-tls1_1")
    assert not s_client(fe.port, "-tls1_2", "-fallback_scsv")
    assert s_client(fe.port)
    versions = {v for v in (c.TLS12, c.TLS13) if s_client(fe.port, _FLAGS[v])}

    result = await scan(fe.port, lab_pki)
    assert set(result.supported_versions()) == versions
    ids = {f.id for f in result.findings}
    assert "tls.fallback_scsv_missing" not in ids
    assert result.behaviours.fallback_scsv is None
    assert "refused without inappropriate_fallback (86)" in result.behaviours.fallback_detail
    assert result.intolerances == ()


async def test_adaptive_retry_costs_nothing_on_a_default_server(openssl_server, lab_pki) -> None:
    # A default s_server refuses TLS 1.0/1.1 with alerts that are not the shape's fault:
    # the whole default scan stays within its budget of 75 connections.
    server = openssl_server()
    result = await scan(server.port, lab_pki)
    assert result.intolerances == ()
    # Issue 11's budget covers the scan and the tolerance family; the vulnerability checks
    # have their own (issue 18: at most 15, tests/interop/test_vulns_interop.py).
    assert result.stats.connections - sum(v.connections for v in result.vulns) <= 75


async def test_alert_in_an_odd_record_means_sni_required(front_end, lab_pki) -> None:
    from scanner.explain import explain
    from scanner.lab.frontends import sni_required_odd_alert

    fe = front_end(sni_required_odd_alert(), max_version=c.TLS13)
    # The truth: s_client with a name connects, without one it is refused.
    assert s_client(fe.port)
    assert not s_client(fe.port, "-noservername")
    versions = {v for v in (c.TLS12, c.TLS13) if s_client(fe.port, _FLAGS[v])}

    with_name = await scan(fe.port, lab_pki)
    assert set(with_name.supported_versions()) == versions
    assert {f.id for f in with_name.findings if f.severity != "info"} == {"sni.required"}
    assert "handshake_failure (40) in a malformed record" in with_name.behaviours.sni_detail

    options = ScanOptions(deadlines=DEADLINES, ca_file=str(lab_pki.ca_path), use_system_store=False)
    by_ip = await scan_endpoint(Target(host="127.0.0.1", ip="127.0.0.1", port=fe.port), options)
    assert by_ip.outcome == "ok"  # an alert is TLS, however odd its record
    ids = {f.id for f in by_ip.findings}
    assert "sni.required" in ids
    assert not ids & {"port.not_tls", "handshake.rejected"}
    text = explain("15 00 00 00 02 02 28")
    assert "Not TLS" not in text
    assert "fatal, handshake_failure (40)" in text and "version 0x0000" in text


async def test_sni_required_by_address_when_ssl2_is_closed_on(front_end, lab_pki) -> None:
    """Fresh-eyes point 5: scanned by address (no SNI sent), every TLS hello refused with
    an alert and the SSL 2.0 hello closed on: sni.required with that evidence, not
    handshake.rejected."""
    from scanner.lab.frontends import sni_required_odd_alert

    fe = front_end(sni_required_odd_alert(close_other=True), max_version=c.TLS13)
    # The truth: s_client without a name is refused, with one it connects.
    assert not s_client(fe.port, "-noservername")
    assert s_client(fe.port)
    options = ScanOptions(
        deadlines=DEADLINES, ca_file=str(lab_pki.ca_path), use_system_store=False,
        probes=frozenset({"protocols", "suites"}),
    )
    by_ip = await scan_endpoint(Target(host="127.0.0.1", ip="127.0.0.1", port=fe.port), options)
    ids = {f.id for f in by_ip.findings}
    assert "sni.required" in ids
    assert "handshake.rejected" not in ids
    finding = next(f for f in by_ip.findings if f.id == "sni.required")
    assert "--sni NAME" in finding.evidence
    assert "malformed record (version 0x0000)" in finding.evidence



def _server_extensions(port: int, *args: str) -> str:
    argv = ["openssl", "s_client", "-tlsextdebug", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", *args]
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10).stdout


@pytest.mark.parametrize(
    ("cipher", "extra"),
    [(None, ()), ("ECDHE+AESGCM", ()), (None, ("-no_etm",)), (None, ("-serverpref",))],
    ids=["default", "aead-only", "no-etm", "server-order"],
)
async def test_encrypt_then_mac_is_asked_with_cbc_suites(openssl_server, lab_pki, cipher, extra) -> None:
    # The answer comes from the suite elimination's hello that chose the first CBC suite
    # when it has one (issue 16), else from the CBC-only hello: the same either way.
    server = openssl_server(max_version=c.TLS12, extra_args=extra, **({"cipher": cipher} if cipher else {}))
    # The truth: what s_server echoes to s_client offering one CBC suite (RFC 7366).
    cbc = _server_extensions(server.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA")
    result = await scan(server.port, lab_pki, frozenset({"protocols", "suites", "behaviours"}))
    if "Cipher is ECDHE-RSA-AES128-SHA" in cbc:
        assert result.behaviours.encrypt_then_mac is ("encrypt-then-mac" in cbc)
    else:
        assert result.behaviours.encrypt_then_mac is None
        assert result.behaviours.encrypt_then_mac_detail == "not applicable: no CBC suite is accepted"


CHACHA_12 = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"
CHACHA_13 = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"


def _negotiated(port: int, version: int, suites: list[str]) -> str | None:
    option = "-ciphersuites" if version == c.TLS13 else "-cipher"
    argv = ["openssl", "s_client", "-brief", "-connect", f"127.0.0.1:{port}", _FLAGS[version], option, ":".join(suites)]
    err = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10).stderr
    for line in err.splitlines():
        if line.startswith("Ciphersuite:"):
            return line.split(":", 1)[1].strip()
    return None


def _iana(name: str) -> int:
    suite = reg.cipher_suite_by_name(name)
    assert suite is not None, name
    return suite.code


async def test_chacha_priority_is_server_order(openssl_server, lab_pki) -> None:
    server = openssl_server(
        max_version=c.TLS13, cipher=CHACHA_12, ciphersuites=CHACHA_13, server_pref=True,
        extra_args=("-prioritize_chacha",),
    )
    truth: dict[int, list[int]] = {}
    for version, listed in ((c.TLS12, CHACHA_12), (c.TLS13, CHACHA_13)):
        names = listed.split(":")
        # The truth, from s_client: ChaCha20 listed first wins...
        chacha = [n for n in names if "CHACHA" in n]
        assert _iana(_negotiated(server.port, version, chacha + names[:2]) or "") == _iana(chacha[0])
        # ...and otherwise the server's order shows by elimination (its first among the
        # rest, offered in reverse with ChaCha20 last).
        order: list[int] = []
        left = list(names)
        while left:
            offer = [n for n in reversed(left) if "CHACHA" not in n] + [n for n in left if "CHACHA" in n]
            got = _negotiated(server.port, version, offer)
            assert got is not None
            order.append(_iana(got))
            left = [n for n in left if _iana(n) != _iana(got)]
        truth[version] = order

    result = await scan(server.port, lab_pki, frozenset({"protocols", "suites", "preference"}))
    assert dict(result.behaviours.server_preference) == {c.TLS13: True, c.TLS12: True}
    assert set(result.behaviours.chacha_priority) == {c.TLS13, c.TLS12}
    for version, order in truth.items():
        ranked = sorted((s for s in result.cipher_suites if s.version == version), key=lambda s: s.preference or 0)
        assert [s.code for s in ranked] == order
    assert "cipher.chacha_priority" in {f.id for f in result.findings}


# -- tolerance probes -------------------------------------------------------------------------


def _tolerance_probes(result: EndpointResult) -> list[str]:
    return [p.name for p in result.probes if p.name.startswith("tolerance:")]


async def test_tolerance_family_on_a_healthy_server(openssl_server, lab_pki) -> None:
    server = openssl_server()
    options = ScanOptions(
        deadlines=DEADLINES, ca_file=str(lab_pki.ca_path), use_system_store=False, verbose=True,
    )
    result = await scan_endpoint(Target(host="localhost", ip="127.0.0.1", port=server.port), options)
    assert 1 <= len(_tolerance_probes(result)) <= 10
    assert result.tolerance and all(t.tolerated for t in result.tolerance), result.tolerance
    pq = next(t for t in result.tolerance if t.name == "post-quantum key share")
    assert pq.detail.startswith(("accepted", "HelloRetryRequest"))
    assert result.intolerances == ()
    # Issue 11's budget covers the scan and the tolerance family; the vulnerability checks
    # have their own (issue 18: at most 15, tests/interop/test_vulns_interop.py).
    assert result.stats.connections - sum(v.connections for v in result.vulns) <= 75

    full = await scan_endpoint(
        Target(host="localhost", ip="127.0.0.1", port=server.port),
        ScanOptions(deadlines=DEADLINES, ca_file=str(lab_pki.ca_path), use_system_store=False, verbose=True,
                    probes=frozenset({"protocols", "suites", "tolerance-full"})),
    )
    assert len(_tolerance_probes(full)) > 10
    assert all(t.tolerated for t in full.tolerance), full.tolerance


async def test_post_quantum_key_share_intolerance(front_end, lab_pki) -> None:
    from scanner.lab.frontends import close_on_pq_key_share

    fe = front_end(close_on_pq_key_share(), max_version=c.TLS13)
    # The truth: size is not the cause (s_client with a large classical key share, ffdhe8192:
    # a hello over 1 KB, connects); the front end closes on a hybrid key share (its quirk).
    assert s_client(fe.port, "-tls1_3", "-groups", "ffdhe8192")
    assert fe.hellos[-1].length > 1024
    result = await scan(fe.port, lab_pki, frozenset({"protocols", "suites", "tolerance"}))
    assert c.TLS13 in result.supported_versions()
    pq = next(t for t in result.tolerance if t.name == "post-quantum key share")
    assert not pq.tolerated
    ids = {f.id for f in result.findings}
    assert "intolerance.pq_key_share" in ids
    assert "intolerance.hello_length" not in ids
    finding = next(f for f in result.findings if f.id == "intolerance.pq_key_share")
    assert "X25519MLKEM768" in finding.evidence
    assert "classical TLSv1.3 hello padded to" in finding.evidence


async def test_a_large_hello_refused_is_not_blamed_on_the_key_share(front_end, lab_pki) -> None:
    """Fresh-eyes point 4: a front end closing on any hello over 1 KB refuses the
    post-quantum hello for its size; one classical hello of the same size tells."""
    from scanner.lab.frontends import close_above_length

    fe = front_end(close_above_length(1024), max_version=c.TLS13)
    # The truth: s_client with a large classical key share (ffdhe8192: a hello over 1 KB)
    # is closed on, its default hello connects.
    assert not s_client(fe.port, "-tls1_3", "-groups", "ffdhe8192")
    assert fe.hellos[-1].length > 1024
    assert s_client(fe.port, "-tls1_3")
    result = await scan(fe.port, lab_pki, frozenset({"protocols", "suites", "tolerance"}))
    assert c.TLS13 in result.supported_versions()
    ids = {f.id for f in result.findings}
    assert "intolerance.pq_key_share" not in ids
    assert "intolerance.hello_length" in ids
    (found,) = [i for i in result.intolerances if i.kind == "hello_length"]
    assert found.low is not None and found.low > 1024
    pq = next(t for t in result.tolerance if t.name == "post-quantum key share")
    assert "the size, not the key share" in pq.detail


async def test_grease_intolerance(front_end, lab_pki) -> None:
    from scanner.lab.frontends import close_on_grease

    fe = front_end(close_on_grease(), max_version=c.TLS13)
    # s_client sends no GREASE and connects; the front end's configuration is the truth
    # that GREASE is refused.
    assert s_client(fe.port)
    result = await scan(fe.port, lab_pki, frozenset({"protocols", "suites", "tolerance"}))
    assert {c.TLS12, c.TLS13} <= set(result.supported_versions())
    grease = next(t for t in result.tolerance if t.name == "GREASE")
    assert not grease.tolerated
    assert "intolerance.grease" in {f.id for f in result.findings}
    assert [t.name for t in result.tolerance if not t.tolerated] == ["GREASE"]


async def test_unknown_extension_intolerance_names_extensions_in_grease(front_end, lab_pki) -> None:
    """Fresh-eyes point 9: a server refusing every unknown extension type fails the GREASE
    check for its extensions; the GREASE trigger says so."""
    from scanner.lab.frontends import KNOWN_EXTENSIONS, close_on_unknown_extension

    fe = front_end(close_on_unknown_extension(), max_version=c.TLS13)
    # The truth: s_client's hello (known extension types only) connects.
    assert s_client(fe.port)
    assert set(fe.hellos[-1].ext_types) <= KNOWN_EXTENSIONS
    result = await scan(fe.port, lab_pki, frozenset({"protocols", "suites", "tolerance"}))
    assert c.TLS13 in result.supported_versions()
    kinds = {i.kind: i for i in result.intolerances}
    assert "extension" in kinds and "grease" in kinds
    assert kinds["grease"].trigger.startswith("GREASE extension types")


async def test_an_unknown_name_is_not_a_broken_server(stdlib_ssl_server, lab_pki) -> None:
    import ssl

    known = "www.lab.example"
    cert = lab_pki.issue("quirky-sni-known-only", sans=(known,))

    def known_only(_ssl, server_name, _ctx):  # type: ignore[no-untyped-def]
        return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME if server_name not in (None, known) else None

    server = stdlib_ssl_server(cert=cert, sni_callback=known_only)
    # The truth: s_client naming localhost is refused, without a name it connects.
    assert not s_client(server.port)
    assert s_client(server.port, "-noservername")

    result = await scan(server.port, lab_pki)
    assert result.supported_versions() == ()
    ids = {f.id for f in result.findings}
    assert "sni.name_unknown" in ids
    assert not ids & {"handshake.rejected", "sni.required"}
    assert result.behaviours.sni_name_refused


# -- application-data record splitting (seed 001 scenario 6) ---------------------------------


def _stdlib_get(port: int, *, split: bool) -> bool:
    """Whether a stdlib `ssl` client gets an HTTP answer to GET / sent whole or as 1 + rest
    (each SSL_write is its own record)."""
    import socket
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        parts = (request[:1], request[1:]) if split else (request,)
        for part in parts:
            tls.sendall(part)
        try:
            return tls.recv(64).startswith(b"HTTP/")
        except (OSError, ssl.SSLError):
            return False


@pytest.mark.parametrize("first_record_only", [True, False], ids=["one-record-app", "healthy-app"])
async def test_record_splitting(stdlib_ssl_server, lab_pki, first_record_only) -> None:
    server = stdlib_ssl_server(alpn=("http/1.1",), first_record_only=first_record_only)
    # The truth, from a stdlib ssl client: the whole request is answered; the split one
    # only by the healthy application.
    assert _stdlib_get(server.port, split=False)
    split_works = _stdlib_get(server.port, split=True)
    assert split_works is not first_record_only

    options = ScanOptions(deadlines=DEADLINES, ca_file=str(lab_pki.ca_path), use_system_store=False, verbose=True)
    result = await scan_endpoint(Target(host="localhost", ip="127.0.0.1", port=server.port), options)
    found = [i for i in result.intolerances if i.kind == "record_splitting"]
    assert bool(found) is not split_works
    assert ("intolerance.record_splitting" in {f.id for f in result.findings}) is not split_works
    if found:
        assert "200" in found[0].worked[0]
    # The split request first; the whole one (the control) only when that got no answer.
    asked = [p.name for p in result.probes if p.name.startswith("record splitting")]
    assert asked == (["record splitting 1/n-1"] if split_works else ["record splitting 1/n-1", "record splitting whole"])


# -- Mid-enumeration faults: a close once, a server that stops answering ------------------------


def _openssl_tls12_rsa_suites(server) -> set[int]:
    """The TLS 1.2 suites `openssl s_server` accepts with an RSA certificate, per OpenSSL."""
    argv = server.argv
    cipher = argv[argv.index("-cipher") + 1] if "-cipher" in argv else "DEFAULT"
    listing = subprocess.run(
        ["openssl", "ciphers", "-v", "-s", "-tls1_2", cipher],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout
    out = set()
    for line in listing.splitlines():
        name, _, _, au = line.split()[:4]
        suite = reg.cipher_suite_by_name(name)
        if suite is not None and suite.code >> 8 != 0x13 and au.removeprefix("Au=") in {"RSA", "None", "any"}:
            out.add(suite.code)
    return out


def _after(count: int, action: str, *, once: bool):
    """A quirk: hellos offering several suites go through, except from the ``count``-th
    on (only that one, with ``once``), which get ``action`` ("close" or "drop")."""
    seen = [0]

    def quirk(info):
        if info.suites < 2:
            return "forward"
        seen[0] += 1
        hit = seen[0] == count if once else seen[0] >= count
        return action if hit else "forward"

    return quirk


async def test_a_close_in_the_middle_of_the_elimination_loses_no_suite(openssl_server, lab_pki) -> None:
    backend = openssl_server(min_version=c.TLS12, max_version=c.TLS12)
    truth = _openssl_tls12_rsa_suites(backend)
    assert len(truth) > 5
    fe = FrontEnd(backend.address, _after(4, "close", once=True)).start()
    try:
        options = ScanOptions(
            deadlines=DEADLINES, ca_file=str(lab_pki.ca_path), use_system_store=False,
            probes=frozenset({"protocols", "suites"}), versions=(c.TLS12,),
        )
        result = await scan_endpoint(Target(host="localhost", ip="127.0.0.1", port=fe.port), options)
    finally:
        fe.stop()
    assert suites_of(result, c.TLS12) == truth
    row = next(p for p in result.protocols if p.version == c.TLS12)
    assert row.supported and row.incomplete is None


async def test_a_server_that_stops_answering_is_said_to_have_stopped(openssl_server, lab_pki) -> None:
    backend = openssl_server(min_version=c.TLS12, max_version=c.TLS12)
    truth = _openssl_tls12_rsa_suites(backend)
    fe = FrontEnd(backend.address, _after(4, "drop", once=False)).start()
    try:
        options = ScanOptions(
            deadlines=Deadlines(connect=5.0, read=1.0, endpoint=60.0), ca_file=str(lab_pki.ca_path),
            use_system_store=False, probes=frozenset({"protocols", "suites"}), versions=(c.TLS12,),
        )
        result = await scan_endpoint(Target(host="localhost", ip="127.0.0.1", port=fe.port), options)
    finally:
        fe.stop()
    found = suites_of(result, c.TLS12)
    assert found and found < truth  # what was found is kept, and true
    row = next(p for p in result.protocols if p.version == c.TLS12)
    assert row.supported
    assert row.incomplete is not None and "stopped answering" in row.incomplete, row.incomplete


def _closing(rule):
    """A quirk: every ClientHello goes through unless ``rule(n)`` for the n-th (1-based),
    which gets a bare TCP close."""
    seen = [0]

    def quirk(info):
        seen[0] += 1
        return "close" if rule(seen[0]) else "forward"

    return quirk


def _tls12_scan_options(lab_pki) -> ScanOptions:
    return ScanOptions(
        deadlines=DEADLINES, ca_file=str(lab_pki.ca_path), use_system_store=False,
        probes=frozenset({"protocols", "suites"}), versions=(c.TLS12,),
    )


async def test_every_other_hello_closed_loses_no_suite(openssl_server, lab_pki) -> None:
    # Each close is asked again once, whatever how many there were before.
    backend = openssl_server(min_version=c.TLS12, max_version=c.TLS12)
    truth = _openssl_tls12_rsa_suites(backend)
    fe = FrontEnd(backend.address, _closing(lambda n: n >= 4 and n % 2 == 0)).start()
    try:
        result = await scan_endpoint(Target(host="localhost", ip="127.0.0.1", port=fe.port), _tls12_scan_options(lab_pki))
    finally:
        fe.stop()
    assert suites_of(result, c.TLS12) == truth


async def test_a_server_that_closes_everything_after_a_while_is_said_to_have_stopped(openssl_server, lab_pki) -> None:
    # Bare closes from the 5th hello on: not refusals of the batches (a hello the server
    # accepted before is closed too), so the version is incomplete, not complete and short.
    backend = openssl_server(min_version=c.TLS12, max_version=c.TLS12)
    truth = _openssl_tls12_rsa_suites(backend)
    fe = FrontEnd(backend.address, _closing(lambda n: n >= 5)).start()
    try:
        result = await scan_endpoint(Target(host="localhost", ip="127.0.0.1", port=fe.port), _tls12_scan_options(lab_pki))
    finally:
        fe.stop()
    found = suites_of(result, c.TLS12)
    assert found and found < truth
    row = next(p for p in result.protocols if p.version == c.TLS12)
    assert row.incomplete is not None and "stopped answering" in row.incomplete, row


@pytest.mark.parametrize("prioritize", [True, False], ids=["prioritize-chacha", "server-order"])
async def test_chacha_priority_with_the_default_lists(openssl_server, lab_pki, prioritize) -> None:
    # OpenSSL's default lists put AES-256-GCM first: the found suites reversed do not start
    # with ChaCha20, and the priority went unasked (chacha_priority [] for a server that
    # has it). The truth, from s_client: does ChaCha20 listed first win over the server's
    # own first choice?
    extra = ("-prioritize_chacha",) if prioritize else ()
    server = openssl_server(max_version=c.TLS13, server_pref=True, extra_args=extra)
    truth = set()
    for version, chacha, top in (
        (c.TLS13, "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_256_GCM_SHA384"),
        (c.TLS12, "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-AES256-GCM-SHA384"),
    ):
        assert _negotiated(server.port, version, [top, chacha]) == top  # its own order
        if _negotiated(server.port, version, [chacha, top]) == chacha:
            truth.add(version)
    assert truth == ({c.TLS13, c.TLS12} if prioritize else set())
    result = await scan(server.port, lab_pki, frozenset({"protocols", "suites", "preference"}))
    assert dict(result.behaviours.server_preference) == {c.TLS13: True, c.TLS12: True}
    assert set(result.behaviours.chacha_priority) == truth
