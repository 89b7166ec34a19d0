# Protocol versions and cipher suites, by elimination.
#
# For one version: offer every candidate suite not yet found (at most 128 per hello), record
# the suite the server chose, remove it, repeat until the server refuses; a refusal removes
# the whole batch it offered. The first answer also proves whether the version is
# supported, so versions and suites cost (accepted suites + batches) connections.
# Every ServerHello is checked: the suite must be one we offered and the version the one we
# asked for (RFC 5246 section 7.4.1.3, RFC 8446 section 4.1.3); a server that breaks this
# is recorded and the version is re-enumerated one suite per connection.
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import trio

from handshakes import constants as c
from handshakes import events as ev
from handshakes import registry as reg
from handshakes.client_hello import ClientHelloSpec
from scanner.engine import Connector, ProbeOutcome
from scanner.options import (
    ACCEPTED,
    CLOSED,
    DNS_ERROR,
    NOT_TLS,
    REFUSED,
    STARTTLS_OUTCOMES,
    TIMEOUT,
    UNREACHABLE,
)
from scanner.probes import adaptive
from scanner.probes.hello import HelloFactory, candidate_suites
from scanner.results import Intolerance

# Outcomes after which offering another batch to the same version is pointless: nothing
# listens, another protocol answers, or nothing answers within the deadline.
ENDS_VERSION = (REFUSED, UNREACHABLE, DNS_ERROR, NOT_TLS, TIMEOUT, *STARTTLS_OUTCOMES)


@dataclass(slots=True)
class Accepted:
    """One accepted hello: the suite and what came with it."""

    suite: int
    outcome: ProbeOutcome
    offered: tuple[int, ...] = ()  # what the server chose it from


@dataclass(slots=True)
class VersionScan:
    """What is known of one version, filled in as each probe finishes: the endpoint
    deadline may end the enumeration half-way, and what was found must survive it.
    ``complete`` is set only when the enumeration ran to its end."""

    version: int
    supported: bool = False
    first: ProbeOutcome | None = None  # the outcome that proves (un)support
    negotiated: int | None = None  # the version the server answered with
    accepted: list[Accepted] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    one_by_one: bool = False
    complete: bool = False
    chacha_priority: bool = False  # server order, but ChaCha20 first when the client wants it
    # issue 11: what the adaptive step found (scanner.probes.adaptive)
    intolerances: list[Intolerance] = field(default_factory=list)
    adapted: bool = False
    # Why the enumeration ended before its refusals, after the version was proven (the
    # server stopped answering); None when it ran to its end or to the endpoint deadline.
    stopped: str | None = None
    # Batches taken as refused although the server answered them with a bare TCP close
    # (twice), while it still accepted a hello it had accepted before (_after_close).
    closed_batches: int = 0
    # What the elimination's order hello (_order_offer) proved: True, the server imposes
    # its order; False, it follows the client's; None, not asked or not telling.
    order_seen: bool | None = None

    @property
    def suites(self) -> list[int]:
        return [a.suite for a in self.accepted]


def _check(out: ProbeOutcome, version: int, offered: tuple[int, ...]) -> tuple[int | None, str]:
    """(chosen suite, violation text) for an accepted outcome."""
    if version == c.SSL2:
        return None, ""
    sh = out.server_hello
    hrr = out.first(ev.HelloRetryRequest)
    suite = sh.cipher_suite if sh is not None else hrr.cipher_suite if isinstance(hrr, ev.HelloRetryRequest) else None
    if suite is None:
        return None, "accepted without a ServerHello"
    if suite not in offered:
        return suite, (
            f"chose {reg.cipher_suite_name(suite)} ({reg.hex_code(suite)}), which was not offered"
        )
    return suite, ""


def _stale(hello: HelloFactory, version: int, spec: ClientHelloSpec, offered: tuple[int, ...]) -> bool:
    """Whether ``spec`` (offering ``offered``) predates the shape the endpoint learned since:
    a padding or a suite limit it lacks. TLS 1.0-1.3 only (SSL hellos have no padding)."""
    if not c.TLS10 <= version <= c.TLS13:
        return False
    return spec.padding_to != hello.pad_to or len(offered) > hello.batch(version)


def flight_key(suite: int) -> tuple[str, str, int]:
    """What decides the rest of a server's flight for ``suite`` (its certificate, DH size or
    curve): the key exchange and authentication, and for finite-field DH the cipher's
    strength too: OpenSSL's automatic DH parameters follow it for anonymous and PSK suites
    (1024 bits for ADH-AES128-SHA, 3072 for ADH-AES256-SHA on OpenSSL 3.0, measured with
    s_client), so one DHE suite's size does not stand for another strength's."""
    info = reg.cipher_suite(suite)
    if info is None:
        return ("?", hex(suite), 0)
    return (info.kx, info.auth, info.bits if info.kx in ("DHE", "DHEPSK") else 0)


async def scan_version(
    conn: Connector,
    hello: HelloFactory,
    version: int,
    *,
    enumerate_suites: bool = True,
    ask_order: bool = False,
    into: VersionScan | None = None,
    on_first: Callable[[], None] | None = None,
) -> VersionScan:
    """Enumerate one version. ``ask_order``: make the second hello the order hello
    (_order_offer), for a scan that asks the server's preference. ``into``: the VersionScan
    to fill in place as each probe finishes (the caller keeps it, so a deadline that
    cancels this keeps what was found); its ``complete`` is set at the end. ``on_first``
    is called once the first answer is in ``first`` (or the scan ended without one)."""
    result = into if into is not None else VersionScan(version=version)
    try:
        await _scan_version(
            conn, hello, result, enumerate_suites=enumerate_suites, ask_order=ask_order, on_first=on_first,
        )
        result.complete = True
    finally:
        if on_first is not None and result.first is None:
            on_first()
    return result


async def _scan_version(
    conn: Connector, hello: HelloFactory, result: VersionScan, *, enumerate_suites: bool,
    ask_order: bool, on_first: Callable[[], None] | None,
) -> None:
    version = result.version
    remaining = list(candidate_suites(version))
    if version == c.SSL2:
        await _scan_sslv2(conn, hello, result, remaining)
        return
    name = reg.version_name(version)
    seen_kx: set[tuple[str, str, int]] = set()

    def new_kx(sh: ev.ServerHello) -> bool:
        """Read the rest of the flight only for a flight_key not seen yet in this version:
        that is what brings a new certificate, DH size or curve; for the other suites the
        ServerHello is all the elimination needs."""
        key = flight_key(sh.cipher_suite)
        if key in seen_kx:
            return False
        seen_kx.add(key)
        return True

    template = None  # the mainstream shape, when only that one is accepted (issue 11)
    redone = 0  # batches asked again through a shape learned meanwhile (bounded)
    asked_again: set[tuple[int, ...]] = set()  # batches asked twice after a bare close
    order_asked = not ask_order  # the order hello (_order_offer): once, once two are found
    while remaining:
        order_hello: tuple[int, ...] | None = None
        if not order_asked and len(result.accepted) == 2:
            order_asked = True
            if hello.batch(version) > 2:
                order_hello = _order_offer(
                    remaining[: hello.batch(version) - 2], result.accepted[0].suite, result.accepted[1].suite,
                )
            if order_hello is None and await _partition(conn, hello, result, remaining, new_kx):
                return
        offered = order_hello or tuple(remaining[: hello.batch(version)])
        if template is not None:
            spec = dataclasses.replace(template, cipher_suites=offered, random=os.urandom(32))
        else:
            spec = hello.spec(version, offered, compression=result.first is None)
        first_probe = result.first is None
        out = await conn.probe(
            f"{name} suites",
            partial(
                hello.probe,
                spec,
                read_flight=new_kx if version != c.TLS13 or first_probe else False,
                answer_hrr=first_probe,
            ),
        )
        if result.first is None:
            if not result.adapted and adaptive.worth_retrying(version, out):
                # issue 11: refused for its shape? Ask as a mainstream client would.
                result.adapted = True
                found = await adaptive.adapt(conn, hello, version, spec, out)
                if not found.refused:
                    if found.intolerance is not None:
                        result.intolerances.append(found.intolerance)
                    template = found.template
                    continue  # enumerate again from the start, through the working shape
                out = found.proof  # the most telling refusal (the retry's alert over silence)
            result.first = out
            if on_first is not None:
                on_first()
        elif redone < 2 and template is None and out.outcome in adaptive.SILENT and _stale(hello, version, spec, offered):
            # issue 11: built before the endpoint's working shape was learned (by another
            # version's scan): the same batch once more, through that shape.
            redone += 1
            continue
        if out.outcome in ENDS_VERSION:
            if result.supported:
                result.stopped = _cut_short(out)
            break
        if order_hello and out.outcome != ACCEPTED:
            # The order hello holds two suites accepted before: a refusal settles nothing
            # (no suite is dropped for it); the elimination goes on without it.
            continue
        if out.outcome != ACCEPTED:
            alert = out.alert
            if alert is not None and alert.description == c.ALERT_PROTOCOL_VERSION:
                break  # RFC 5246 appendix E.1: the version itself is refused, whatever the suites
            if result.supported and out.outcome == CLOSED:
                verdict = await _after_close(conn, hello, result, offered, asked_again)
                if verdict == "again":
                    continue
                if verdict == "stopped":
                    break
            _drop(remaining, offered)
            continue
        answered = out.answered_version
        if result.negotiated is None:
            result.negotiated = answered
        if answered != version:
            if result.supported:
                _changed_version(result, answered)
            elif answered is not None and answered > version:
                result.violations.append(
                    f"asked for {name}, the server answered {reg.version_name(answered)}"
                )
            # A lower version means this one is not supported (RFC 5246 appendix E.1).
            break
        suite, violation = _check(out, version, offered)
        if violation:
            result.violations.append(violation)
            result.supported = True
            await _one_by_one(conn, hello, result)
            return
        assert suite is not None
        result.supported = True
        if order_hello:
            result.order_seen = _order_seen(order_hello, suite, result.accepted[0].suite, result.accepted[1].suite)
            if result.order_seen is False:
                # A client-order server takes the first suite it has: the ones listed
                # before it are not accepted, as a refusal would have shown.
                _drop(remaining, order_hello[: order_hello.index(suite)])
            if suite not in remaining:
                # One of the two found: nothing new, but the order is known.
                if result.order_seen is False and await _partition(conn, hello, result, remaining, new_kx):
                    return
                continue
        result.accepted.append(Accepted(suite=suite, outcome=out, offered=offered))
        _note_repeats(result, out)
        remaining.remove(suite)
        if not enumerate_suites:
            break
        if order_hello and result.order_seen is False or len(result.accepted) == 2 and not ask_order:
            if await _partition(conn, hello, result, remaining, new_kx):
                return


async def _partition(
    conn: Connector, hello: HelloFactory, result: VersionScan, remaining: list[int],
    read_flight: Callable[[ev.ServerHello], bool],
) -> bool:
    """Eliminate ``remaining`` in partitions (see below) when the endpoint is far and the
    server follows the client's order, as the order hello showed or (without it) one more
    hello shows. True when that finished the version."""
    if result.adapted or len(result.accepted) < 2:
        return False
    parts = _partitions(conn, result.version, remaining)
    if parts < 2:
        return False
    if result.order_seen is None and not await _takes_client_order(conn, hello, result):
        return False
    if result.order_seen:
        return False
    await _partitioned(conn, hello, result, remaining, parts, read_flight)
    return True


# Over a long round trip the elimination above, one connection after another, is what an
# endpoint's scan waits for (issue 16: 20 of 22 sequential connections per endpoint at
# 50 ms). Once two suites are found and the server is seen to take the client's order,
# the order of discovery says nothing the preference probe needs, so the rest of the
# candidates are dealt into as many partitions as the endpoint's connection limit allows
# and eliminated at once: (k - 1) more refusals for a chain about k times shorter. On a
# short round trip (the fastest connection under PARTITION_RTT) the extra refusals would
# be pure cost, and a server that imposes its order keeps the single chain, whose order
# is its ranking.
PARTITION_RTT = 0.020  # seconds: the fastest TCP connect of the endpoint, at least


def _partitions(conn: Connector, version: int, remaining: list[int]) -> int:
    """How many partitions to eliminate ``remaining`` in: 1 (one chain) unless the endpoint
    is far, the version is TLS 1.0-1.2, and the endpoint allows several connections."""
    if not c.TLS10 <= version <= c.TLS12:
        return 1
    if conn.fastest_connect is None or conn.fastest_connect < PARTITION_RTT:
        return 1
    k = int(conn.endpoint_limiter.total_tokens)
    return k if k > 1 and len(remaining) >= 2 * k else 1


async def _takes_client_order(conn: Connector, hello: HelloFactory, result: VersionScan) -> bool:
    """Whether the server follows the client's order between the two suites found first
    (one connection): the second was on offer when the first was chosen, so a server with
    its own order takes the first again when it is listed last."""
    first, second = result.accepted[0], result.accepted[1]
    if second.suite not in first.offered:
        return False
    offer = (second.suite, first.suite)
    out = await conn.probe(
        f"{reg.version_name(result.version)} order",
        partial(hello.probe, hello.spec(result.version, offer), read_flight=False, answer_hrr=False),
    )
    if out.outcome != ACCEPTED or out.answered_version != result.version:
        return False
    chosen, _ = _check(out, result.version, offer)
    return chosen == second.suite


async def _partitioned(
    conn: Connector, hello: HelloFactory, result: VersionScan, remaining: list[int], parts: int,
    read_flight: Callable[[ev.ServerHello], bool],
) -> None:
    """Eliminate ``remaining`` in ``parts`` partitions at once (every parts-th suite each),
    each as the single chain does: offer, record the chosen suite, repeat until refused.
    A server choosing a suite it was not offered sends the version one by one."""
    version = result.version
    name = reg.version_name(version)
    broken: list[str] = []

    async def eliminate(part: list[int], label: str) -> None:
        asked_again: set[tuple[int, ...]] = set()
        while part and not broken:
            offered = tuple(part[: hello.batch(version)])
            out = await conn.probe(
                label,
                partial(hello.probe, hello.spec(version, offered), read_flight=read_flight, answer_hrr=False),
            )
            if out.outcome in ENDS_VERSION:
                result.stopped = result.stopped or _cut_short(out)
                return
            if out.outcome != ACCEPTED:
                if out.outcome == CLOSED:
                    verdict = await _after_close(conn, hello, result, offered, asked_again)
                    if verdict == "again":
                        continue
                    if verdict == "stopped":
                        return
                _drop(part, offered)
                continue
            answered = out.answered_version
            if answered != version:
                _changed_version(result, answered)
                return
            suite, violation = _check(out, version, offered)
            if violation:
                broken.append(violation)
                return
            assert suite is not None
            result.accepted.append(Accepted(suite=suite, outcome=out, offered=offered))
            _note_repeats(result, out)
            part.remove(suite)

    async with trio.open_nursery() as nursery:
        for i in range(parts):
            nursery.start_soon(eliminate, remaining[i::parts], f"{name} suites, part {i + 1}/{parts}")
    if broken:
        result.violations.append(broken[0])
        await _one_by_one(conn, hello, result)


async def _after_close(
    conn: Connector, hello: HelloFactory, result: VersionScan, offered: tuple[int, ...],
    asked: set[tuple[int, ...]],
) -> str:
    """What a bare TCP close (no alert) of ``offered`` means once the version is proven.
    Some servers refuse that way, but a close can also be a server or a middlebox shedding
    load, or a server that stopped serving, and dropping the batch would lose its suites
    without a word (resets and timeouts are retried by Connector.probe). So: "again" the
    first time (the batch is offered once more); the second time, one control hello
    offering a suite the server accepted before: accepted, the close was this batch's
    refusal ("refused", counted in ``closed_batches`` and said in the version's row);
    not accepted, "stopped" (the version is marked incomplete). Each batch is offered at
    most twice, so this at most doubles the connections of an elimination."""
    if offered not in asked:
        asked.add(offered)
        return "again"
    version = result.version
    control = (result.accepted[0].suite,)
    out = await conn.probe(
        f"{reg.version_name(version)} control",
        partial(hello.probe, hello.spec(version, control), read_flight=False, answer_hrr=False),
    )
    if out.outcome == ACCEPTED and out.answered_version == version:
        result.closed_batches += 1
        return "refused"
    result.stopped = result.stopped or _cut_short(out)
    return "stopped"


def _changed_version(result: VersionScan, answered: int | None) -> None:
    """A server that answered another version (or none) in the middle of an elimination
    whose version it had already accepted: an anomaly, and the enumeration stops there."""
    asked, now = reg.version_name(result.version), reg.version_name(answered) if answered else "no version"
    violation = f"asked for {asked}, the server answered {now} after accepting {asked}"
    if violation not in result.violations:
        result.violations.append(violation)
    result.stopped = result.stopped or f"the server changed its answer to {now}"


def _note_repeats(result: VersionScan, out: ProbeOutcome) -> None:
    """An anomaly when the ServerHello carries an extension type twice: "There MUST NOT be
    more than one extension of the same type" (RFC 5246 section 7.4.1.4, RFC 8446 section
    4.2); a client must abort such a handshake, so clients fail where the scan goes on."""
    sh = out.server_hello
    if sh is None:
        return
    types = [t for t, _ in sh.extensions]
    if len(types) == len(set(types)):
        return
    repeated = sorted({t for t in types if types.count(t) > 1})
    names = ", ".join(f"{reg.extension_name(t)} ({t})" for t in repeated)
    text = f"the ServerHello repeats an extension: {names} (RFC 5246 section 7.4.1.4, RFC 8446 section 4.2)"
    if text not in result.violations:
        result.violations.append(text)


def _drop(remaining: list[int], offered: tuple[int, ...]) -> None:
    """Remove the suites of a refused hello from ``remaining`` (in place)."""
    gone = set(offered)
    remaining[:] = [s for s in remaining if s not in gone]


# Once two suites are found, the elimination's next hello also asks the server's order,
# so that a server that follows the client's order (most: OpenSSL's and nginx's default)
# needs no preference connection: the rest of the batch in reverse without ChaCha20, the
# second suite found, the ChaCha20 suites, and the first suite found last. A server that
# imposes its order takes the first found again (its choice from a superset of this
# offer). A server that follows the client's order takes the first suite it has: a new
# one, or the second found when it has none listed before it, which proves those refused
# as a refusal would; either way the hello is not lost to the elimination. ChaCha20 goes
# after the second found because a server that imposes its order may give ChaCha20
# priority to a client that lists it first (OpenSSL's -prioritize_chacha): listed
# first, it would pass for the client's order; the hello is not asked when one would
# still come first.
def _order_offer(batch: list[int], first: int, second: int) -> tuple[int, ...] | None:
    """The order hello's suites (``batch``: candidates not found yet, in offer order), or
    None when a ChaCha20 suite would lead it."""
    rest = [x for x in reversed(batch) if not _is_chacha(x)]
    chacha = [x for x in batch if _is_chacha(x)]
    offer = (*rest, second, *chacha, first)
    return None if _is_chacha(offer[0]) else offer


def _order_seen(offer: tuple[int, ...], choice: int, first: int, second: int) -> bool | None:
    """The verdict of the order hello: True (the server took ``first`` again: its own
    order), False (it took the second found or a suite listed before it: the client's),
    None (another suite: neither)."""
    if choice == first:
        return True
    return False if offer.index(choice) <= offer.index(second) else None


def _cut_short(out: ProbeOutcome) -> str:
    """Why an enumeration stopped after the version was proven: the answer that ended it."""
    return f"the server stopped answering ({out.outcome}: {out.describe()})"


async def _one_by_one(conn: Connector, hello: HelloFactory, result: VersionScan) -> None:
    """Fallback for servers that choose suites they were not offered: one suite per hello.
    The suites already accepted from an offer that held them stay (each was chosen from
    what we offered, so it is proven); only the others are asked one by one. An answer
    that ends a version (nothing listens any more, silence) stops it and marks the
    version incomplete, rather than waiting out every remaining hello."""
    result.one_by_one = True
    proven = {a.suite for a in result.accepted}
    name = reg.version_name(result.version)
    for suite in candidate_suites(result.version):
        if suite in proven:
            continue
        spec = hello.spec(result.version, (suite,))
        out = await conn.probe(f"{name} suite {reg.hex_code(suite)}", partial(hello.probe, spec))
        if out.outcome in ENDS_VERSION:
            result.stopped = result.stopped or _cut_short(out)
            return
        if out.outcome == ACCEPTED and out.answered_version == result.version:
            chosen, _ = _check(out, result.version, (suite,))
            if chosen == suite:
                result.accepted.append(Accepted(suite=suite, outcome=out))
                _note_repeats(result, out)


async def _scan_sslv2(conn: Connector, hello: HelloFactory, result: VersionScan, kinds: list[int]) -> VersionScan:
    # SSLv2 draft section 2.6: the SERVER-HELLO lists every cipher kind the server has in
    # common with the client, so one connection enumerates them all.
    spec = hello.spec(c.SSL2, tuple(kinds))
    out = await conn.probe("SSLv2", lambda: hello.probe(spec))
    result.first = out
    v2 = out.first(ev.SSLv2ServerHello)
    if isinstance(v2, ev.SSLv2ServerHello):
        result.negotiated = c.SSL2
        result.supported = bool(v2.cipher_kinds)
        result.accepted = [Accepted(suite=k, outcome=out) for k in v2.cipher_kinds]
    return result


async def server_order(conn: Connector, hello: HelloFactory, scan: VersionScan) -> bool | None:
    """Whether the server imposes its own order: offer the found suites reversed; a server
    that still picks the first one found follows its own preference (one connection).

    issue 11: a server that gives ChaCha20 priority to clients that list it first (OpenSSL
    -prioritize_chacha, BoringSSL's equal-preference groups) takes a ChaCha20 suite listed
    first although it imposes its order, so when the reversed offer starts with ChaCha20,
    two offers settle it: the reversed one with the ChaCha20 suites last, then (only for a
    server that imposes its order) the reversed one as is. issue 16: in that order, not
    the other way round, a server that follows the client's order (most TLS 1.3 servers:
    OpenSSL's default) is settled by the first offer: one connection, not two."""
    suites = scan.suites
    if len(suites) < 2 or scan.version == c.SSL2 or scan.one_by_one:
        return None
    name = reg.version_name(scan.version)
    reversed_offer = tuple(reversed(suites[: hello.batch(scan.version)]))
    chacha = [x for x in reversed_offer if _is_chacha(x)]
    others = [x for x in reversed_offer if not _is_chacha(x)]
    seen = scan.order_seen
    if seen is not None:
        # Settled by the elimination's order hello. For a server that imposes its order
        # and whose own first choice is not ChaCha20, only the ChaCha20 priority is left
        # to ask: the ChaCha20 suites first, then the rest; taking ChaCha20 over its own
        # first choice is the priority (one connection).
        if not seen or not chacha or _is_chacha(suites[0]):
            return seen
        offer = (*chacha, *others)
        chosen = await _preferred(conn, hello, scan.version, offer, f"{name} ChaCha20 priority")
        scan.chacha_priority = chosen is not None and _is_chacha(chosen)
        return True
    if chacha and len(others) >= 2 and _is_chacha(reversed_offer[0]):
        again = (*others, *chacha)
        chosen2 = await _preferred(conn, hello, scan.version, again, f"{name} preference, ChaCha20 last")
        if chosen2 is None:
            return None
        # Every suite offered is one the server accepts, so a server that follows the
        # client's order must take the first; taking any other is the server's own
        # preference.
        if chosen2 == again[0]:
            return False
        # The server imposes its order: does it put ChaCha20 first for a client that does?
        chosen = await _preferred(conn, hello, scan.version, reversed_offer, f"{name} preference")
        if chosen is None:
            return None
        if chosen == reversed_offer[0]:
            scan.chacha_priority = True
        return True
    chosen = await _preferred(conn, hello, scan.version, reversed_offer, f"{name} preference")
    if chosen is None:
        return None
    return chosen != reversed_offer[0]


async def _preferred(
    conn: Connector, hello: HelloFactory, version: int, offer: tuple[int, ...], name: str
) -> int | None:
    """The suite the server picks from ``offer`` (one connection); None when it picks
    none of them or does not accept."""
    spec = hello.spec(version, offer)
    out = await conn.probe(name, lambda: hello.probe(spec, read_flight=False, answer_hrr=False))
    chosen, _ = _check(out, version, offer) if out.outcome == ACCEPTED else (None, "")
    if chosen is None or chosen not in offer:
        return None
    return chosen


def _is_chacha(code: int) -> bool:
    info = reg.cipher_suite(code)
    return info is not None and info.enc == "CHACHA20"


def discovery_is_server_order(scan: VersionScan) -> bool:
    """True when each suite was chosen while every suite found after it was also on
    offer: then the elimination order is the server's order."""
    found = scan.suites
    return all(
        set(found[i + 1 :]) <= set(a.offered) for i, a in enumerate(scan.accepted)
    )


async def rank_by_server(conn: Connector, hello: HelloFactory, scan: VersionScan) -> list[int]:
    """The server's full order among the found suites when the elimination ran over several
    batches (a later batch may hold a suite the server prefers): elimination again, over
    the found suites only."""
    left = scan.suites[: hello.batch(scan.version)]
    order: list[int] = []
    while len(left) > 1:
        spec = hello.spec(scan.version, tuple(left))
        out = await conn.probe(
            f"{reg.version_name(scan.version)} rank",
            partial(hello.probe, spec, read_flight=False, answer_hrr=False),
        )
        chosen, _ = _check(out, scan.version, tuple(left)) if out.outcome == ACCEPTED else (None, "")
        if chosen is None or chosen not in left:
            break
        order.append(chosen)
        left.remove(chosen)
    return order + left

