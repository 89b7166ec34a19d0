# The elimination's order hello (scanner/probes/suites.py _order_offer) met by servers
# that misbehave on exactly that hello: the third TLS 1.2 hello of the scan (the first
# after two suites are found), when the preference probe runs. In-process servers (the hostile kit) under trio's
# autojump_clock; the truth is the handler's own configuration: the suites it has, and
# what it did to the second hello.
from __future__ import annotations

from handshakes import constants as c
from scanner.api import scan_endpoint
from scanner.lab import hostile as hk
from scanner.options import ScanOptions, Target

TARGET = Target(host="hostile.test", ip="127.0.0.1", port=443)
PROBES = frozenset({"protocols", "suites", "preference"})
SUITES = hk.TLS12_SUITES[:12]  # the server's suites, its own order
CHAIN = (hk.CertFactory().issue(),)


def third_hello(answer: str) -> hk.Handler:
    """A TLS 1.2-only server with its own order (SUITES) that answers its third TLS 1.2
    hello with ``answer``: "tls11" (a TLS 1.1 ServerHello of the suite it would choose,
    after accepting TLS 1.2 twice) or "alert" (a fatal handshake_failure, although it
    shares suites with that hello); with "repeat", every ServerHello it sends carries
    renegotiation_info twice."""
    seen = [0]

    async def handle(conn: hk.Conn) -> None:
        hello = await conn.read_hello()
        if hello is None:
            return
        if hk.max_version(hello) != c.TLS12:
            await conn.send(hk.alert(c.ALERT_PROTOCOL_VERSION, min(hk.max_version(hello), c.TLS12)))
            return
        seen[0] += 1
        chosen = next((s for s in SUITES if s in hello.cipher_suites), None)
        if chosen is None or (seen[0] == 3 and answer == "alert"):
            await conn.send(hk.alert(40))
            return
        if seen[0] == 3 and answer == "tls11":
            # RFC 5246 appendix E.1: a server answers with the version it negotiates.
            body = hk.server_hello(chosen, c.TLS11) + hk.certificate(CHAIN) + hk.hs(c.SERVER_HELLO_DONE, b"")
            await conn.send(hk.record(c.HANDSHAKE, body, c.TLS11))
        elif answer == "repeat":
            sh = hk.server_hello(chosen, exts=hk.RENEGOTIATION_INFO * 2)
            await conn.send(hk.record(c.HANDSHAKE, sh + hk.certificate(CHAIN) + hk.hs(c.SERVER_HELLO_DONE, b"")))
        else:
            await conn.send(hk.flight(chosen, CHAIN))
        await conn.hold()

    return handle


async def test_another_version_answered_to_the_order_hello_is_recorded(nursery, autojump_clock) -> None:
    # The server accepted TLS 1.2, then answered TLS 1.1 to a hello that offered only
    # TLS 1.2 and a suite it had accepted: the anomaly commit 7328cdc reports (and that a
    # scan without the preference probe still reports on the same server).
    endpoint = hk.Endpoint(nursery, third_hello("tls11"))
    result = await scan_endpoint(TARGET, ScanOptions(probes=PROBES), open_stream=endpoint)
    assert any("answered TLSv1.1 after accepting TLSv1.2" in a for a in result.anomalies), result.anomalies


async def test_another_version_answered_to_the_third_hello_without_preference(nursery, autojump_clock) -> None:
    # The same server scanned without the preference probe (no order hello): recorded.
    endpoint = hk.Endpoint(nursery, third_hello("tls11"))
    options = ScanOptions(probes=frozenset({"protocols", "suites"}))
    result = await scan_endpoint(TARGET, options, open_stream=endpoint)
    assert any("answered TLSv1.1 after accepting TLSv1.2" in a for a in result.anomalies), result.anomalies


async def test_an_alert_to_the_order_hello_loses_no_suite(nursery, autojump_clock) -> None:
    # An alert to the order hello drops no suite (it holds two accepted before); an alert
    # to an ordinary hello of the elimination drops its batch (a refusal).
    endpoint = hk.Endpoint(nursery, third_hello("alert"))
    result = await scan_endpoint(TARGET, ScanOptions(probes=PROBES), open_stream=endpoint)
    found = [s for s in result.cipher_suites if s.version == c.TLS12]
    assert {s.code for s in found} == set(SUITES)
    assert dict(result.behaviours.server_preference) == {c.TLS12: True}
    assert [s.code for s in sorted(found, key=lambda s: s.preference or 0)] == list(SUITES)


async def test_a_repeated_extension_in_the_server_hello_is_an_anomaly(nursery, autojump_clock) -> None:
    # RFC 5246 section 7.4.1.4: at most one extension of a type per block; a client aborts
    # such a handshake, so the scan keeps the suites and reports the violation.
    endpoint = hk.Endpoint(nursery, third_hello("repeat"))
    result = await scan_endpoint(TARGET, ScanOptions(probes=PROBES), open_stream=endpoint)
    assert {s.code for s in result.cipher_suites if s.version == c.TLS12} == set(SUITES)
    assert any("repeats an extension: renegotiation_info" in a for a in result.anomalies), result.anomalies
    assert "tls.server_violation" in {f.id for f in result.findings}
