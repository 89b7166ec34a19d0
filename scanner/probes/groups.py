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


async def groups_tls13(conn: Connector, hello: HelloFactory, suites: list[int]) -> list[int]:
    remaining = list(ALL_GROUPS_TLS13)
    found: list[int] = []
    for _ in range(MAX_GROUP_ROUNDS):
        if not remaining:
            break
        spec = hello.spec(c.TLS13, suites, groups=tuple(remaining), shares=())
        out = await conn.probe(
            "TLSv1.3 groups", partial(hello.probe, spec, read_flight=False, answer_hrr=False)
        )
        if out.outcome != ACCEPTED:
            break
        hrr = out.first(ev.HelloRetryRequest)
        group = hrr.selected_group if isinstance(hrr, ev.HelloRetryRequest) else None
        if group is None or group not in remaining:
            break  # a server that answers an empty key_share without HRR: nothing to learn
        found.append(group)
        remaining.remove(group)
    return found


async def groups_tls12(conn: Connector, hello: HelloFactory, version: int, ecdhe_suites: list[int]) -> list[int]:
    if not ecdhe_suites:
        return []
    remaining = list(EC_GROUPS_TLS12)
    found: list[int] = []
    name = reg.version_name(version)
    for _ in range(MAX_GROUP_ROUNDS):
        if not remaining:
            break
        spec = hello.spec(version, ecdhe_suites, groups=tuple(remaining))
        out = await conn.probe(f"{name} curves", partial(hello.probe, spec))
        if out.outcome != ACCEPTED:
            break
        ske = out.first(ev.ServerKeyExchange)
        group = ske.group if isinstance(ske, ev.ServerKeyExchange) else None
        if group is None or group not in remaining:
            break
        found.append(group)
        remaining.remove(group)
    return found


async def group_order(conn: Connector, hello: HelloFactory, version: int, found: list[int], suites: list[int]) -> bool | None:
    """Does the server choose groups by its own preference? Offer the found groups
    reversed (one connection)."""
    if len(found) < 2:
        return None
    rev = tuple(reversed(found))
    if version == c.TLS13:
        spec = hello.spec(c.TLS13, suites, groups=rev, shares=())
        out = await conn.probe("TLSv1.3 group preference", lambda: hello.probe(spec, read_flight=False, answer_hrr=False))
        hrr = out.first(ev.HelloRetryRequest)
        chosen = hrr.selected_group if isinstance(hrr, ev.HelloRetryRequest) else None
    else:
        spec = hello.spec(version, suites, groups=rev)
        out = await conn.probe(f"{reg.version_name(version)} curve preference", lambda: hello.probe(spec))
        ske = out.first(ev.ServerKeyExchange)
        chosen = ske.group if isinstance(ske, ev.ServerKeyExchange) else None
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
                groups = await groups_tls13(conn, hello, suites)
                found.groups[c.TLS13] = groups
                found.group_order[c.TLS13] = await group_order(conn, hello, c.TLS13, groups, suites)

            nursery.start_soon(tls13)
        legacy = [v for v in supported if c.TLS10 <= v <= c.TLS12]
        if legacy:
            top = max(legacy)
            ecdhe = [s for s in found.versions[top].suites if (info := reg.cipher_suite(s)) and info.kx == "ECDHE"]

            async def tls12() -> None:
                groups = await groups_tls12(conn, hello, top, ecdhe)
                found.groups[top] = groups
                found.group_order[top] = await group_order(conn, hello, top, groups, ecdhe)

            nursery.start_soon(tls12)


def group_results(found: Found) -> tuple[GroupResult, ...]:
    """The groups found, per version, with their preference rank when ordered."""
    groups = []
    for v, codes in sorted(found.groups.items(), reverse=True):
        ordered = bool(found.group_order.get(v))
        for i, g in enumerate(codes):
            groups.append(GroupResult(version=v, code=g, preference=i + 1 if ordered else None))
    return tuple(groups)
