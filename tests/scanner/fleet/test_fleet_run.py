# The streaming runner: a mixed loopback fleet end to end, and the runner's own bounds on
# virtual time.
from __future__ import annotations

import time

import pytest
import trio

from scanner.fleet import run as fleet_run
from scanner.fleet.run import Completed, FleetSettings, run_fleet
from scanner.options import Deadlines, ScanOptions, Target
from scanner.results import EndpointResult

FAST = ScanOptions(deadlines=Deadlines(connect=1.0, read=1.5, endpoint=10.0))


def target(port: int, name: str) -> Target:
    return Target(host="127.0.0.1", port=port, ip="127.0.0.1", tags=(name,))


@pytest.mark.slow
async def test_mixed_fleet_every_target_once_with_its_outcome(
    openssl_server, raw_server, blackhole, closed_port
):
    servers = {
        "healthy": openssl_server().port,
        "healthy-tls12": openssl_server(max_version=0x0303).port,
        "refused": closed_port,
        "blackhole": blackhole,
        "silent": raw_server("never_answer").port,
        "reset": raw_server("reset").port,
        "drip": raw_server("drip", interval=1.0).port,
        "garbage": raw_server("garbage").port,
        "endless": raw_server("endless").port,
    }
    jobs = [(target(port, name), FAST) for name, port in servers.items()]
    written: list[Completed] = []
    started = time.monotonic()
    status = await run_fleet(jobs, FleetSettings(endpoints=16, connections=64), written.append)
    elapsed = time.monotonic() - started

    assert not status.interrupted and status.started == status.completed == len(jobs)
    # Within the deadlines: nothing waits for longer than one endpoint deadline (+ slack).
    assert elapsed < FAST.deadlines.endpoint + 3
    by_name: dict[str, EndpointResult] = {}
    for done in written:
        (result,) = done.results
        name = result.tags[0]
        assert name not in by_name, f"{name} written twice"
        by_name[name] = result
    assert set(by_name) == set(servers)
    outcomes = {name: r.outcome for name, r in by_name.items()}
    assert outcomes["healthy"] == outcomes["healthy-tls12"] == "ok"
    assert {"TLSv1.3", "TLSv1.2"} <= {_name(v) for v in by_name["healthy"].supported_versions()}
    assert {_name(v) for v in by_name["healthy-tls12"].supported_versions()} == {"TLSv1.2"}
    assert outcomes["refused"] == "refused"
    assert outcomes["blackhole"] == "timeout" and "no TCP answer" in by_name["blackhole"].detail
    assert outcomes["silent"] == "timeout" and "no TLS answer" in by_name["silent"].detail
    assert outcomes["drip"] == "timeout"
    assert outcomes["garbage"] == "not_tls"
    # A server that resets or streams junk supports nothing, and each probe says why.
    for name, probe_outcome in (("reset", "reset"), ("endless", "protocol_error")):
        r = by_name[name]
        assert r.supported_versions() == ()
        assert {p.outcome for p in r.protocols} == {probe_outcome}, name
    # Connections: the runner adds none to what the single-endpoint scan makes.
    assert by_name["refused"].stats.connections <= 3


async def test_reset_and_junk_endpoints_are_not_ok(raw_server):
    jobs = [(target(raw_server(kind).port, kind), FAST) for kind in ("reset", "endless")]
    written: list[Completed] = []
    await run_fleet(jobs, FleetSettings(), written.append)
    outcomes = {d.target.tags[0]: d.results[0].outcome for d in written}
    assert outcomes["reset"] == "reset"
    assert outcomes["endless"] in ("protocol_error", "not_tls")


def _name(v: int) -> str:
    from handshakes import registry as reg

    return reg.version_name(v)


async def test_endpoints_in_flight_are_bounded_and_slots_return_after_writing(autojump_clock, monkeypatch):
    state = {"now": 0, "peak": 0}

    async def fake_scan(self, t: Target, options: ScanOptions) -> list[EndpointResult]:
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await trio.sleep(1)
        state["now"] -= 1
        return [EndpointResult(host=t.host, port=t.port, ip=t.ip, sni=None, outcome="ok")]

    monkeypatch.setattr(fleet_run.Engine, "scan", fake_scan)
    jobs = ((Target(host=f"h{i}", port=443, ip="127.0.0.1"), FAST) for i in range(10))
    written: list[int] = []
    start = trio.current_time()
    status = await run_fleet(jobs, FleetSettings(endpoints=3), lambda d: written.append(d.index))
    assert trio.current_time() - start == 4.0  # ceil(10 / 3) rounds of one second
    assert state["peak"] == 3
    assert sorted(written) == list(range(10)) and status.completed == 10


async def test_a_crash_in_one_scan_is_that_endpoints_result(autojump_clock, monkeypatch):
    async def fake_scan(self, t: Target, options: ScanOptions) -> list[EndpointResult]:
        await trio.sleep(0.1)
        if t.host == "bad":
            raise RuntimeError("boom")
        return [EndpointResult(host=t.host, port=t.port, ip=t.ip, sni=None, outcome="ok")]

    monkeypatch.setattr(fleet_run.Engine, "scan", fake_scan)
    jobs = [(Target(host=h, port=443, ip="127.0.0.1"), FAST) for h in ("a", "bad", "c")]
    written: list[Completed] = []
    await run_fleet(jobs, FleetSettings(), written.append)
    outcomes = {d.target.host: (d.results[0].outcome, d.results[0].detail) for d in written}
    assert outcomes["a"] == outcomes["c"] == ("ok", "")
    assert outcomes["bad"] == ("error", "internal error: RuntimeError: boom")


async def test_unresolvable_name_is_a_result(monkeypatch):
    async def no_such_name(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    monkeypatch.setattr(fleet_run.en, "resolve", no_such_name)
    written: list[Completed] = []
    await run_fleet([(Target(host="nothing.invalid", port=443), FAST)], FleetSettings(), written.append)
    (result,) = written[0].results
    assert (result.outcome, result.ip) == ("dns_error", None)
    assert "cannot resolve nothing.invalid" in result.detail


def test_settings_share_divides_every_total():
    s = FleetSettings(endpoints=9, connections=10, per_subnet=5, rate=100.0, workers=2)
    a, b = s.share(2, 0), s.share(2, 1)
    assert (a.endpoints + b.endpoints, a.connections + b.connections, a.per_subnet + b.per_subnet) == (9, 10, 5)
    assert a.rate == b.rate == 50.0 and a.workers == b.workers == 1
