# Issue 11: the client simulation and the audit use the intolerances a scan found. A
# profile whose hello falls in the server's failing window, or that sends a post-quantum
# key share to a server that breaks on it, fails with reason_code "intolerance" and a
# reason naming the client's number and the trigger; a profile outside it is unaffected.
from __future__ import annotations

from handshakes import constants as c
from handshakes.client_hello import ClientHelloSpec, encode_client_hello
from handshakes.keyshare import KeySharePool
from scanner.audit.whatif import endpoint_from_json
from scanner.profiles import ClientProfile, load_builtin_profiles
from scanner.profiles.model import live_hello_size, profile_from_client_hello_hex, spec_for_profile
from scanner.results import (
    EndpointResult,
    Intolerance,
    ProtocolResult,
    SuiteResult,
    endpoint_json,
)
from scanner.simulate import capabilities_from_result, hello_size, simulate

BY_ID = {p.id: p for p in load_builtin_profiles()}

F5 = Intolerance(
    kind="hello_length", trigger="ClientHello of 256-511 bytes gets no answer",
    failed=("TLSv1.3 hello of 378 bytes: timeout",), worked=("padded to 512 bytes: accepted",),
    versions=(c.TLS13,), low=256, high=511,
)
PQ = Intolerance(
    kind="pq_key_share", trigger="a ClientHello with an X25519MLKEM768 key share",
    failed=("TLSv1.3 hello of 1530 bytes: closed",), versions=(c.TLS13,),
)


def _server(*intolerances: Intolerance) -> EndpointResult:
    return EndpointResult(
        host="www.example.test", port=443, ip="192.0.2.1", sni="www.example.test", outcome="ok",
        protocols=(
            ProtocolResult(version=c.TLS13, supported=True, outcome="accepted"),
            ProtocolResult(version=c.TLS12, supported=True, outcome="accepted"),
        ),
        cipher_suites=(
            SuiteResult(version=c.TLS13, code=0x1301),
            SuiteResult(version=c.TLS13, code=0x1302),
            SuiteResult(version=c.TLS12, code=0xC02F),
            SuiteResult(version=c.TLS12, code=0xC030),
        ),
        intolerances=intolerances,
    )


def _mlkem_profile() -> ClientProfile:
    pool = KeySharePool()
    spec = ClientHelloSpec(
        legacy_version=c.TLS12, cipher_suites=(0x1301, 0x1302, 0xC02F), server_name="www.example.test",
        supported_versions=(c.TLS13, c.TLS12), supported_groups=(0x11EC, 0x001D, 0x0017),
        signature_algorithms=(0x0403, 0x0804, 0x0401), key_shares=(pool.get(0x11EC), pool.get(0x001D)),
        psk_key_exchange_modes=(1,), random=bytes(32),
    )
    return profile_from_client_hello_hex(encode_client_hello(spec).hex(), id="pq_client")


def test_a_hello_in_the_length_window_fails_with_that_reason() -> None:
    caps = capabilities_from_result(_server(F5))
    in_window = BY_ID["openssl_303"]
    assert 256 <= hello_size(in_window) <= 511
    sim = simulate(in_window, caps)
    assert not sim.ok and sim.reason_code == "intolerance"
    live = live_hello_size(in_window, "www.example.test")
    assert f"{live} bytes" in sim.reason and F5.trigger in sim.reason
    padded = BY_ID["android_12"]
    assert live_hello_size(padded, "www.example.test") >= 512
    assert simulate(padded, caps).ok
    # Without the intolerance the same client connects.
    assert simulate(in_window, capabilities_from_result(_server())).ok


def test_a_post_quantum_key_share_fails_where_the_server_breaks_on_it() -> None:
    pq_client = _mlkem_profile()
    assert hello_size(pq_client) > 1216
    sim = simulate(pq_client, capabilities_from_result(_server(PQ)))
    assert sim.reason_code == "intolerance"
    assert "X25519MLKEM768 key share" in sim.reason
    # A classical client is not affected, and the PQ client connects where nothing breaks.
    assert simulate(BY_ID["android_12"], capabilities_from_result(_server(PQ))).ok
    assert simulate(pq_client, capabilities_from_result(_server())).ok


def test_the_audit_reads_intolerances_back_from_a_scan_file() -> None:
    # `tlscompat audit` works from scan files: the intolerances survive the JSON.
    back = endpoint_from_json(endpoint_json(_server(F5, PQ)))
    assert back.intolerances == (F5, PQ)
    sim = simulate(_mlkem_profile(), capabilities_from_result(back))
    assert sim.reason_code == "intolerance"


def test_the_length_intolerance_measures_the_hello_as_sent_live() -> None:
    """Fresh-eyes point 3: the size compared with a measured failing range is that of the
    hello a live simulation sends to this endpoint (its SNI, no pre_shared_key), for every
    built-in profile; the truth is the encoder that sends it."""
    pool = KeySharePool()
    for profile in BY_ID.values():
        if profile.sslv2_hello:
            continue
        for name in ("www.example.test", None):
            sent = encode_client_hello(spec_for_profile(profile, name, key_shares=pool))
            assert live_hello_size(profile, name) == len(sent), (profile.id, name)


def test_a_client_just_outside_a_measured_range_is_not_failed() -> None:
    """Only measured sizes fail: a range of 300-400 bytes leaves a 283-byte hello alone."""
    window = Intolerance(kind="hello_length", trigger="a ClientHello of 300-400 bytes gets no answer",
                         versions=(c.TLS13,), low=300, high=400)
    caps = capabilities_from_result(_server(window))
    for profile in BY_ID.values():
        size = live_hello_size(profile, "www.example.test")
        failed = simulate(profile, caps).reason_code == "intolerance"
        if not profile.sslv2_hello:
            assert failed is (300 <= size <= 400), (profile.id, size)
