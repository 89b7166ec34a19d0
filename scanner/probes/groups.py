# Supported groups, by elimination.
#
# TLS 1.3: offer the remaining groups in supported_groups with an EMPTY key_share. A server
# that supports one of them must answer with a HelloRetryRequest naming the group it
# wants (RFC 8446 section 4.1.4 / 4.2.8), so one connection finds one group without any key
# pair: this is also how post-quantum hybrids (X25519MLKEM768) are detected.
# TLS 1.2: offer only ECDHE suites and the remaining curves; the ServerKeyExchange names the
# curve chosen (RFC 8422 section 5.4); a server with no common curve refuses or picks a
# non-ECDHE suite, which ends the elimination.
from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

import trio

from handshakes import constants as c
from handshakes import events as ev
from handshakes import registry as reg
from scanner.engine import Connector
from scanner.options import ACCEPTED
from scanner.probes.context import Found, ProbeContext
from scanner.probes.hello import ALL_GROUPS_TLS13, EC_GROUPS_TLS12, HelloFactory
from scanner.results import GroupResult

MAX_GROUP_ROUNDS = 40

# The server's order is proven inside the elimination (issue 16): once two groups are
# found (g1, then g2, each the server's choice among what was on offer), the next hello
# offers the remaining groups with g2 and g1 appended last. g1 was chosen over every other
# group, so a server that imposes its order takes g1 again; one that follows the client's
# list takes the first it supports: a new group (that hello was the elimination's next
# step anyway) or g2. On a client-order server the separate preference hello is saved;
# on a server-order one that hello costs what the preference hello did. Every group the
# plain elimination would find is still found, in the same order (the next plain hello
# offers what it would have offered). A server that answers that hello otherwise gets the
# plain elimination and the preference hello after it (group_order), as before.

Ask = Callable[[tuple[int, ...], str], Awaitable[int | None]]


async def _eliminate(
    ask: Ask, candidates: tuple[int, ...], label: str, *, pin: bool = False,
) -> tuple[list[int], bool | None]:
    """The groups ``ask`` finds by elimination over ``candidates`` (one connection each,
    the server's choices in order), and whether the server imposes its order when the
    elimination proved it (None: not proven, group_order decides). ``pin``: a refusal may
    mean the server lacks the curve its certificate is on (see the note after this function); then the groups
    found so far are listed last in every later offer."""
    remaining = list(candidates)
    found: list[int] = []
    order: bool | None = None
    tested = False
    pinned: tuple[int, ...] = ()
    for _ in range(MAX_GROUP_ROUNDS):
        if not remaining:
            break
        if len(found) == 2 and not tested:
            tested = True
            first, second = found
            chosen = await ask((*remaining, second, first), label)
            if chosen == first:
                order = True
            elif chosen == second:
                order = False
            elif chosen in remaining:
                order = False
                found.append(chosen)
                remaining.remove(chosen)
            continue
        group = await ask((*remaining, *pinned), label)
        if group is None and pin and found and not pinned:
            pinned = tuple(found)  # once: the same offer, the curves found listed last
            continue
        if group is None or group not in remaining:
            break  # refused, or (pinned) a curve found before: none of the rest is taken
        found.append(group)
        remaining.remove(group)
        if pinned:
            pinned = tuple(found)
    return found, order


# RFC 8422 section 5.1 (and RFC 4492 before it): in TLS 1.0-1.2 the client's
# supported_groups also bounds the curve of an ECDSA certificate, so a server whose ECDHE
# suites all authenticate with ECDSA refuses every hello that leaves out its certificate's
# curve, whatever other curves it has (OpenSSL with a P-256 key: P-384 alone refused,
# P-384 with P-256 after it taken). The elimination drops each curve it finds, so once it
# has dropped that one, its next refusal says nothing about the rest: asked again with the
# curves found listed last, a server that follows the client's list takes a new curve
# first; one that imposes its order may take a found one again, which ends the
# elimination as a refusal would.


def _tls13_ask(conn: Connector, hello: HelloFactory, suites: list[int]) -> Ask:
    async def ask(groups: tuple[int, ...], label: str) -> int | None:
        spec = hello.spec(c.TLS13, suites, groups=groups, shares=())
        out = await conn.probe(label, partial(hello.probe, spec, read_flight=False, answer_hrr=False))
        if out.outcome != ACCEPTED:
            return None
        # RFC 8446 section 4.1.4: the HelloRetryRequest names the group the server wants
        # (a server that answers an empty key_share without one: nothing to learn).
        hrr = out.first(ev.HelloRetryRequest)
        return hrr.selected_group if isinstance(hrr, ev.HelloRetryRequest) else None

    return ask


def _tls12_ask(conn: Connector, hello: HelloFactory, version: int, ecdhe_suites: list[int]) -> Ask:
    async def ask(groups: tuple[int, ...], label: str) -> int | None:
        spec = hello.spec(version, ecdhe_suites, groups=groups)
        out = await conn.probe(label, partial(hello.probe, spec))
        if out.outcome != ACCEPTED:
            return None
        # RFC 8422 section 5.4: the ServerKeyExchange names the curve.
        ske = out.first(ev.ServerKeyExchange)
        return ske.group if isinstance(ske, ev.ServerKeyExchange) else None

    return ask


async def groups_tls13(conn: Connector, hello: HelloFactory, suites: list[int]) -> tuple[list[int], bool | None]:
    """TLS 1.3 groups by elimination: (groups in the order found, imposed order when proven)."""
    return await _eliminate(_tls13_ask(conn, hello, suites), ALL_GROUPS_TLS13, "TLSv1.3 groups")


async def groups_tls12(
    conn: Connector, hello: HelloFactory, version: int, ecdhe_suites: list[int]
) -> tuple[list[int], bool | None]:
    """TLS 1.0-1.2 curves by elimination: (curves in the order found, imposed order when
    proven); nothing to ask without an ECDHE suite."""
    if not ecdhe_suites:
        return [], None
    name = reg.version_name(version)
    ecdsa_only = all((info := reg.cipher_suite(s)) is not None and info.auth == "ECDSA" for s in ecdhe_suites)
    return await _eliminate(
        _tls12_ask(conn, hello, version, ecdhe_suites), EC_GROUPS_TLS12, f"{name} curves", pin=ecdsa_only,
    )


async def group_order(conn: Connector, hello: HelloFactory, version: int, found: list[int], suites: list[int]) -> bool | None:
    """Does the server choose groups by its own preference? Offer the found groups
    reversed (one connection); None with fewer than two groups or no answer."""
    if len(found) < 2:
        return None
    rev = tuple(reversed(found))
    if version == c.TLS13:
        chosen = await _tls13_ask(conn, hello, suites)(rev, "TLSv1.3 group preference")
    else:
        name = reg.version_name(version)
        chosen = await _tls12_ask(conn, hello, version, suites)(rev, f"{name} curve preference")
    if chosen is None:
        return None
    return chosen == found[0] and chosen != rev[0]


async def run(ctx: ProbeContext, supported: list[int]) -> None:
    """The named groups of TLS 1.3 and of the highest TLS 1.0-1.2 version, with whether
    the server imposes its order: ``found.groups[v]``, ``found.group_order[v]``."""
    conn, hello, found = ctx.conn, ctx.hello, ctx.found
    async with trio.open_nursery() as nursery:
        if c.TLS13 in supported:
            suites = found.versions[c.TLS13].suites or list(reg.TLS13_SUITES)

            async def tls13() -> None:
                groups, order = await groups_tls13(conn, hello, suites)
                found.groups[c.TLS13] = groups
                if order is None:
                    order = await group_order(conn, hello, c.TLS13, groups, suites)
                found.group_order[c.TLS13] = order

            nursery.start_soon(tls13)
        legacy = [v for v in supported if c.TLS10 <= v <= c.TLS12]
        if legacy:
            top = max(legacy)
            ecdhe = [s for s in found.versions[top].suites if (info := reg.cipher_suite(s)) and info.kx == "ECDHE"]

            async def tls12() -> None:
                groups, order = await groups_tls12(conn, hello, top, ecdhe)
                found.groups[top] = groups
                if order is None:
                    order = await group_order(conn, hello, top, groups, ecdhe)
                found.group_order[top] = order

            nursery.start_soon(tls12)


def group_results(found: Found) -> tuple[GroupResult, ...]:
    """The groups found, per version, with their preference rank when ordered."""
    groups = []
    for v, codes in sorted(found.groups.items(), reverse=True):
        ordered = bool(found.group_order.get(v))
        for i, g in enumerate(codes):
            groups.append(GroupResult(version=v, code=g, preference=i + 1 if ordered else None))
    return tuple(groups)
