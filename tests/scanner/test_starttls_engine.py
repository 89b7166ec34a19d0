# The STARTTLS connection factory in the engine (scanner/starttls.py): its own deadline,
# failures as outcomes, throttling with backoff. In-process servers on trio memory
# streams, virtual time (autojump_clock) with exact assertions.
from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from handshakes.server_flight import HandshakeProbe
from scanner.engine import Connector, run_probe
from scanner.options import (
    ALERT,
    STARTTLS_NOT_OFFERED,
    STARTTLS_TIMEOUT,
    THROTTLED,
    Deadlines,
    ScanOptions,
    Target,
    dialogue_for,
)
from scanner.probes.hello import HelloFactory
from scanner.starttls import StartTLSOpener, per_endpoint

ALERT_RECORD = bytes.fromhex("15030300020228")  # fatal handshake_failure

Server = Callable[[trio.abc.Stream, int], Awaitable[None]]


async def _line(stream: trio.abc.Stream) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = await stream.receive_some(1)
        if not chunk:
            break
        buf += chunk
    return buf


def _factory(nursery: trio.Nursery, server: Server) -> Callable[[str, int], Awaitable[trio.abc.Stream]]:
    count = 0

    async def open_stream(ip: str, port: int) -> trio.abc.Stream:
        nonlocal count
        count += 1
        client, srv = trio.testing.memory_stream_pair()
        nursery.start_soon(server, srv, count)
        return client

    return open_stream


async def _smtp_ok(stream: trio.abc.Stream, n: int, *, greeting_delay: float = 0.0) -> None:
    await trio.sleep(greeting_delay)
    await stream.send_all(b"220 mx ESMTP\r\n")
    await _line(stream)
    await stream.send_all(b"250-mx\r\n250 STARTTLS\r\n")
    await _line(stream)
    await stream.send_all(b"220 go ahead\r\n")
    await stream.receive_some(65536)  # the ClientHello
    await stream.send_all(ALERT_RECORD)


def _probe() -> HandshakeProbe:
    hello = HelloFactory(server_name="mx.example.test")
    return hello.probe(hello.spec(0x0303, [0xC02F]))


async def test_a_slow_greeting_is_not_cut_by_the_connect_deadline(autojump_clock: trio.testing.MockClock) -> None:
    """Issue 13: some mail servers wait 6 s or more before their greeting; the dialogue
    has its own deadline (15 s), the connect deadline (5 s) does not cut it short."""
    async with trio.open_nursery() as nursery:

        async def slow(stream: trio.abc.Stream, n: int) -> None:
            await _smtp_ok(stream, n, greeting_delay=8.0)

        opener = StartTLSOpener(protocol="smtp", inner=_factory(nursery, slow), connect=5.0, deadline=15.0)
        start = trio.current_time()
        out = await run_probe(_probe(), "192.0.2.1", 25, deadlines=Deadlines(), open_stream=opener)
        assert out.outcome == ALERT
        assert trio.current_time() - start == pytest.approx(8.0)
        assert opener.facts is not None and opener.facts.banner == "220 mx ESMTP"


async def test_a_silent_server_times_out_at_the_dialogue_deadline(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:

        async def silent(stream: trio.abc.Stream, n: int) -> None:
            await trio.sleep(100)

        opener = StartTLSOpener(protocol="smtp", inner=_factory(nursery, silent), connect=5.0, deadline=15.0)
        start = trio.current_time()
        out = await run_probe(_probe(), "192.0.2.1", 25, deadlines=Deadlines(), open_stream=opener)
        assert out.outcome == STARTTLS_TIMEOUT
        assert out.phase == "starttls"
        assert "no complete answer within 15s while waiting for the greeting; nothing received" in out.detail
        assert opener.result().outcome == "timeout"  # not not_reached: the dialogue ran
        assert trio.current_time() - start == pytest.approx(15.0)
        nursery.cancel_scope.cancel()


async def test_not_offered_is_an_outcome_with_the_servers_words() -> None:
    async with trio.open_nursery() as nursery:

        async def plain(stream: trio.abc.Stream, n: int) -> None:
            await stream.send_all(b"220 mx ESMTP\r\n")
            await _line(stream)
            await stream.send_all(b"250-mx\r\n250 PIPELINING\r\n")
            await trio.sleep(1)

        opener = StartTLSOpener(protocol="smtp", inner=_factory(nursery, plain), connect=5.0, deadline=15.0)
        out = await run_probe(_probe(), "192.0.2.1", 25, deadlines=Deadlines(), open_stream=opener)
        assert out.outcome == STARTTLS_NOT_OFFERED
        assert out.detail == "STARTTLS not offered (EHLO lists: PIPELINING)"
        assert out.error_bytes == b"250-mx\r\n250 PIPELINING\r\n"
        assert out.bytes_sent == 0  # no ClientHello was sent
        nursery.cancel_scope.cancel()


async def test_throttling_backs_off_with_jitter_then_resumes(autojump_clock: trio.testing.MockClock) -> None:
    """Two 421s, then the server lets us in: two pauses of 2 s and 4 s, each scaled by
    the jitter (seeded here), and the count recorded."""
    async with trio.open_nursery() as nursery:

        async def busy_twice(stream: trio.abc.Stream, n: int) -> None:
            if n <= 2:
                await stream.send_all(b"421 4.7.0 mx Error: too many connections\r\n")
                await stream.aclose()
                return
            await _smtp_ok(stream, n)

        opener = StartTLSOpener(protocol="smtp", inner=_factory(nursery, busy_twice), connect=5.0, deadline=15.0)
        conn = Connector(
            ip="192.0.2.1", port=25, deadlines=Deadlines(), global_limiter=trio.CapacityLimiter(10),
            endpoint_limiter=trio.CapacityLimiter(2), open_stream=opener, jitter=random.Random(7),
        )
        expected = random.Random(7)
        waits = [2.0 * expected.uniform(0.5, 1.5), 4.0 * expected.uniform(0.5, 1.5)]
        start = trio.current_time()
        out = await conn.probe("first", _probe)
        assert out.outcome == ALERT
        assert conn.throttled == 2
        assert out.connections == 3
        assert trio.current_time() - start == pytest.approx(sum(waits))


async def test_a_server_that_keeps_throttling_ends_throttled(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:

        async def always_busy(stream: trio.abc.Stream, n: int) -> None:
            await stream.send_all(b"421 too many connections\r\n")
            await stream.aclose()

        opener = StartTLSOpener(protocol="smtp", inner=_factory(nursery, always_busy), connect=5.0, deadline=15.0)
        conn = Connector(
            ip="192.0.2.1", port=25, deadlines=Deadlines(), global_limiter=trio.CapacityLimiter(10),
            endpoint_limiter=trio.CapacityLimiter(2), open_stream=opener,
        )
        out = await conn.probe("first", _probe)
        assert out.outcome == THROTTLED
        assert conn.throttled == 1 + conn.throttle_retries
        result = opener.result(conn.throttled)
        assert result.outcome == THROTTLED
        assert result.reply == "421 too many connections\r\n"


def test_choosing_the_dialogue() -> None:
    o = ScanOptions()
    assert dialogue_for(Target(host="mx.example", port=25), o) == "smtp"
    assert dialogue_for(Target(host="mx.example", port=465), o) is None  # implicit TLS
    assert dialogue_for(Target(host="mx.example", port=25), ScanOptions(starttls="none")) is None
    assert dialogue_for(Target(host="db.example", port=6000), ScanOptions(starttls="postgres")) == "postgres"
    assert dialogue_for(Target(host="x", port=25, starttls="imap"), ScanOptions(starttls="none")) == "imap"


def test_smtp_is_polite_by_default() -> None:
    assert per_endpoint("smtp", ScanOptions()) == 2
    assert per_endpoint("imap", ScanOptions()) == 4
    assert per_endpoint("smtp", ScanOptions(starttls_per_endpoint=1)) == 1


def test_schemes_choose_the_dialogue_and_port() -> None:
    from scanner.targets import parse_target

    assert parse_target("smtp://mx.example.com") == Target(host="mx.example.com", port=25, starttls="smtp")
    assert parse_target("submission://mx.example.com").port == 587
    assert parse_target("xmpp-server://chat.example.com").starttls == "xmpp-server"
    assert parse_target("postgres://db.example.com:6432").port == 6432
    # An implicit-TLS scheme on a STARTTLS port: the scheme wins.
    assert parse_target("https://mx.example.com:25").starttls == "none"


def test_targets_file_starttls_keys(tmp_path: object) -> None:
    from pathlib import Path

    from scanner.fleet.targets_file import TargetsFileError, load_targets

    d = Path(str(tmp_path))
    f = d / "t.yaml"
    f.write_text(
        "defaults:\n  starttls: smtp\n  timeouts: {starttls: 30}\ntargets:\n"
        "  - mx.example.com:2525\n  - host: chat.example.com\n    starttls: xmpp\n    xmpp_domain: example.com\n"
        "  - host: www.example.com:25\n    starttls: none\n"
    )
    with load_targets([str(f)]) as plan:
        got = [(t.host, o.starttls, o.xmpp_domain, o.deadlines.starttls) for t, o in plan]
    assert got == [
        ("mx.example.com", "smtp", None, 30.0),
        ("chat.example.com", "xmpp", "example.com", 30.0),
        ("www.example.com", "none", None, 30.0),
    ]
    bad = d / "bad.yaml"
    bad.write_text("targets:\n  - host: mx.example.com\n    starttls: smtps\n")
    with pytest.raises(TargetsFileError, match=r"bad.yaml:3: 'starttls' must be one of smtp"):
        load_targets([str(bad)])


def test_cli_rejects_an_unknown_dialogue(capsys: pytest.CaptureFixture[str]) -> None:
    from scanner.cli import main

    # argparse's errors: exit 2 and one line naming the option.
    for argv in (["--starttls", "smtps"], ["--starttls", "smtp", "--starttls-timeout", "0"]):
        with pytest.raises(SystemExit) as exc:
            main(["scan", *argv, "mx.example.com"])
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--starttls" in err
    assert "--starttls-timeout" in err and "above 0" in err and len(err.strip().splitlines()) == 2


def test_reports_show_the_dialogue() -> None:
    from scanner.report.diff import endpoint_facts
    from scanner.report.table import render_endpoint
    from scanner.results import EndpointResult, StartTLSResult, endpoint_json

    result = EndpointResult(
        host="mx.example.test", port=25, ip="192.0.2.1", sni="mx.example.test", outcome="starttls_refused",
        detail="STARTTLS answered 454 4.7.0 TLS not available",
        starttls=StartTLSResult(
            protocol="smtp", outcome="starttls_refused", detail="STARTTLS answered 454 4.7.0 TLS not available",
            reply="454 4.7.0 TLS not available\r\n", banner="220 mx ESMTP\x1b[2J",
        ),
    )
    rows = dict(endpoint_facts(endpoint_json(result)))
    assert rows["Before TLS"] == "smtp: starttls_refused"
    table = render_endpoint(result)
    assert "Before TLS" in table and "220 mx ESMTP\\x1b[2J" in table and "\x1b" not in table
    assert endpoint_json(result)["starttls"]["reply"] == "454 4.7.0 TLS not available\r\n"  # exact in JSON
