# Protocol versions and their cipher suites: the first probe of every scan. One first
# contact alone (a refused, silent or non-TLS port is settled in one connection), then
# every other version concurrently, by elimination (scanner/probes/suites.py).
from __future__ import annotations

from functools import partial

import trio

from handshakes import constants as c
from handshakes import events as ev
from handshakes import registry as reg
from scanner.engine import ProbeOutcome
from scanner.options import ALERT
from scanner.probes import suites as sp
from scanner.probes.context import Found, ProbeContext
from scanner.probes.hello import candidate_suites
from scanner.results import ProtocolResult, SuiteResult


async def run(ctx: ProbeContext) -> bool:
    """Sets ``found.versions[v]`` for every version of ``options.versions``. Each VersionScan
    is registered before it starts and filled in as it goes, so the endpoint deadline
    keeps what was found. The other versions start as soon as the first contact is
    answered (not after the first version's whole enumeration), so a deadline does not
    leave them unasked. Returns False when the first contact settled the endpoint
    (nothing listens, another protocol answers, or nothing answers): asking again with
    other versions would only wait out more deadlines."""
    conn, hello, found = ctx.conn, ctx.hello, ctx.found
    enumerate_suites = "suites" in ctx.options.probes
    # The elimination asks the server's order on the way when the preference probe will
    # need it (scanner/probes/suites.py _order_offer): for a client-order server that
    # saves the preference connection; otherwise it would cost one more.
    ask_order = enumerate_suites and "preference" in ctx.options.probes
    versions = list(ctx.options.versions)
    first_version = c.TLS12 if c.TLS12 in versions else versions[0]
    first = found.versions[first_version] = sp.VersionScan(version=first_version)
    answered = trio.Event()

    async def one(version: int) -> None:
        scan = found.versions[version] = sp.VersionScan(version=version)
        await sp.scan_version(
            conn, hello, version, enumerate_suites=enumerate_suites, ask_order=ask_order, into=scan,
        )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(
            sp.scan_version, conn, hello, first_version, enumerate_suites=enumerate_suites,
            ask_order=ask_order, into=first, on_first=answered.set,
        ))
        await answered.wait()
        if first.first is not None and first.first.outcome in sp.ENDS_VERSION:
            return False
        for v in versions:
            if v != first_version:
                nursery.start_soon(one, v)
    return True


def protocol_result(scan: sp.VersionScan, deadline: str | None = None) -> ProtocolResult:
    """One version's row: supported or not, with the outcome that proves it. ``deadline``:
    why an incomplete enumeration stopped (the endpoint deadline's description)."""
    if not scan.complete:
        incomplete: str | None = f"enumeration incomplete: {deadline or 'interrupted'}"
    else:
        incomplete = f"enumeration incomplete: {scan.stopped}" if scan.stopped else None
    out = scan.first
    if out is None:
        return ProtocolResult(
            version=scan.version, supported=False, outcome="not_probed", incomplete=incomplete
        )
    alert = out.alert
    detail = out.describe()
    if scan.negotiated is not None and scan.negotiated != scan.version:
        detail = f"the server answered {reg.version_name(scan.negotiated)}"
    elif scan.supported:
        detail = "ServerHello"
        if scan.closed_batches:
            detail += (
                f"; {scan.closed_batches} {'batch' if scan.closed_batches == 1 else 'batches'} of suites"
                " answered twice with a bare TCP close"
                " (no alert) while the server still accepted a known suite, taken as refused"
            )
    return ProtocolResult(
        version=scan.version,
        supported=scan.supported,
        outcome=out.outcome,
        alert=alert.description if alert is not None and out.outcome == ALERT else None,
        detail=detail,
        negotiated=scan.negotiated,
        incomplete=incomplete,
    )


def _kx_details(out: ProbeOutcome) -> tuple[int | None, int | None]:
    ske = out.first(ev.ServerKeyExchange)
    if isinstance(ske, ev.ServerKeyExchange):
        return ske.group, ske.dh_prime_bits if ske.kind == "dhe" else None
    sh = out.server_hello
    if sh is not None and sh.selected_group is not None:
        return sh.selected_group, None
    hrr = out.first(ev.HelloRetryRequest)
    if isinstance(hrr, ev.HelloRetryRequest):
        return hrr.selected_group, None
    return None, None


def suite_results(found: Found) -> tuple[tuple[SuiteResult, ...], tuple[int, ...]]:
    """Every accepted suite per version with its preference rank (when the server orders)
    and its key exchange group or DH size; and the DH sizes seen, sorted."""
    suites: list[SuiteResult] = []
    dh_bits: set[int] = set()
    for v in sorted(found.versions, reverse=True):
        scan = found.versions[v]
        order = found.order.get(v)
        ranked = found.ranked.get(v) or scan.suites
        # The flight was read for the first suite of each suites.flight_key only; its
        # curve / DH size hold for the other suites of that key too.
        by_pair: dict[tuple[str, str, int], tuple[int | None, int | None]] = {}
        for a in scan.accepted:
            details = _kx_details(a.outcome)
            if details != (None, None):
                by_pair.setdefault(sp.flight_key(a.suite), details)
        accepted = scan.accepted
        if not order and scan.order_seen is False:
            # A server that follows the client's order: listed in the order offered (the
            # order hello took one out of turn), as the elimination alone would find them.
            rank = {s: i for i, s in enumerate(candidate_suites(v))}
            accepted = sorted(accepted, key=lambda a: rank.get(a.suite, len(rank)))
        for a in accepted:
            group, bits = _kx_details(a.outcome)
            if (group, bits) == (None, None):
                group, bits = by_pair.get(sp.flight_key(a.suite), (None, None))
            if bits:
                dh_bits.add(bits)
            pref = ranked.index(a.suite) + 1 if order and a.suite in ranked else None
            suites.append(SuiteResult(version=v, code=a.suite, preference=pref, group=group, dh_bits=bits))
    suites.sort(key=lambda s: (-s.version, s.preference or 0, 0))
    return tuple(suites), tuple(sorted(dh_bits))
