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

from handshakes import constants as c
from handshakes import events as ev
from handshakes import registry as reg
from scanner.engine import Connector
from scanner.options import ACCEPTED
from scanner.probes.hello import ALL_GROUPS_TLS13, EC_GROUPS_TLS12, HelloFactory

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
