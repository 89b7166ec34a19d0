# Issue 12, proof: a fleet of hostile targets gives the same outcome class per target
# (ok / refused / timeout / not TLS / protocol error / reset / closed) whether it is
# scanned one endpoint at a time or 16 at once. In-process servers, virtual time.
from __future__ import annotations

import trio

from scanner.fleet.run import Completed, FleetSettings, run_fleet
from scanner.lab import hostile as hk
from scanner.options import Deadlines, ScanOptions, Target

OPTIONS = ScanOptions(
    deadlines=Deadlines(connect=2, read=2, endpoint=12),
    probes=frozenset({"protocols", "suites", "preference", "certificates", "behaviours"}),
)

# port -> (handler factory or None for a refused port, outcome class expected)
MIX: dict[int, tuple[object, str]] = {
    1001: (lambda: hk.tls12_server(suites=hk.TLS12_SUITES[:5]), "ok"),
    1002: (lambda: hk.tls12_server(delay=1.0), "ok"),  # partial at the deadline
    1003: (None, "refused"),
    1004: (hk.silent, "timeout"),
    1005: (hk.garbage, "not_tls"),
    1006: (hk.lying_length, "protocol_error"),
    1007: (hk.reset_after_hello, "reset"),
    1008: (hk.half_close, "closed"),
    1009: (hk.endless, "ok"),
    1010: (lambda: hk.drip(interval=0.5), "timeout"),
    1011: (hk.bad_hrr, "protocol_error"),
    1012: (lambda: hk.tls12_server(suites=hk.TLS12_SUITES[:3], after=b"\x41" * 40), "ok"),
}


async def _run(nursery: trio.Nursery, concurrency: int) -> dict[int, tuple[str, bool]]:
    endpoints = {
        port: hk.Endpoint(nursery, factory())  # type: ignore[operator]
        for port, (factory, _) in MIX.items()
        if factory is not None
    }

    async def open_stream(ip: str, port: int) -> trio.abc.Stream:
        if port not in endpoints:
            await trio.lowlevel.checkpoint()
            raise ConnectionRefusedError(111, "Connection refused")
        return await endpoints[port](ip, port)

    jobs = [(Target(host=f"h{port}.test", ip="127.0.0.1", port=port), OPTIONS) for port in MIX]
    written: list[Completed] = []
    settings = FleetSettings(endpoints=concurrency, connections=64)
    status = await run_fleet(jobs, settings, written.append, open_stream=open_stream)
    assert status.completed == len(MIX)
    return {done.target.port: (done.results[0].outcome, done.results[0].partial) for done in written}


async def test_same_outcome_class_at_two_concurrencies(nursery, autojump_clock) -> None:
    one_at_a_time = await _run(nursery, 1)
    many = await _run(nursery, 16)
    assert one_at_a_time == many
    assert {port: outcome for port, (outcome, _) in many.items()} == {p: o for p, (_, o) in MIX.items()}
    assert many[1002] == ("ok", True)  # the slow server: what was found, marked partial
