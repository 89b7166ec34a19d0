"""The group elimination with the server's order proven inside it (issue 16) finds what the
plain elimination followed by the reversed-groups preference hello found: the same groups,
in the same order, the same verdict on the order, for every kind of server choice (client
order, server order, OpenSSL 3.5's tuples with client order inside a tuple, a single
group, none), and never spends more connections.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from scanner.probes import groups as gp

Choice = Callable[[tuple[int, ...]], int | None]
OFFER = (1, 2, 3, 4, 5, 6)


def client_order(supported: set[int]) -> Choice:
    return lambda offer: next((g for g in offer if g in supported), None)


def server_order(ranking: list[int]) -> Choice:
    return lambda offer: next((g for g in ranking if g in offer), None)


def tuples(ranked: list[list[int]]) -> Choice:
    # OpenSSL 3.5 group tuples: the first tuple holding an offered group, then the
    # client's order inside it.
    def choose(offer: tuple[int, ...]) -> int | None:
        for tup in ranked:
            inside = [g for g in offer if g in tup]
            if inside:
                return inside[0]
        return None

    return choose


async def old(choose: Choice) -> tuple[list[int], bool | None, int]:
    """The elimination, then the reversed-groups preference hello (9490260)."""
    remaining, found, spent = list(OFFER), [], 0
    while remaining:
        spent += 1
        g = choose(tuple(remaining))
        if g is None or g not in remaining:
            break
        found.append(g)
        remaining.remove(g)
    if len(found) < 2:
        return found, None, spent
    rev = tuple(reversed(found))
    chosen = choose(rev)
    return found, None if chosen is None else chosen == found[0] and chosen != rev[0], spent + 1


async def new(choose: Choice) -> tuple[list[int], bool | None, int]:
    spent = 0

    async def ask(offer: tuple[int, ...], label: str) -> int | None:
        nonlocal spent
        spent += 1
        return choose(offer)

    found, order = await gp._eliminate(ask, OFFER, "groups")
    if order is None and len(found) >= 2:
        rev = tuple(reversed(found))
        spent += 1
        chosen = choose(rev)
        order = None if chosen is None else chosen == found[0] and chosen != rev[0]
    return found, order, spent


SERVERS: list[tuple[str, Choice]] = [
    ("none", client_order(set())),
    ("one group", client_order({4})),
    ("client order, two", client_order({2, 5})),
    ("client order, four", client_order({1, 3, 4, 6})),
    ("server order, one", server_order([3])),
    *[(f"server order {p}", server_order(list(p))) for p in itertools.permutations((2, 4, 5))],
    ("tuples {1,2} {3}", tuples([[1, 2], [3]])),
    ("tuples {3} {1,2}", tuples([[3], [1, 2]])),
    ("tuples {2,5} {4,1}", tuples([[2, 5], [4, 1]])),
    ("tuples {6} {1,5} {3}", tuples([[6], [1, 5], [3]])),
]


@pytest.mark.parametrize("choose", [c for _, c in SERVERS], ids=[n for n, _ in SERVERS])
async def test_same_groups_order_and_verdict_never_more_connections(choose: Choice) -> None:
    found, order, spent = await new(choose)
    old_found, old_order, old_spent = await old(choose)
    assert (found, order) == (old_found, old_order)
    assert spent <= old_spent


async def test_a_client_order_server_with_three_groups_saves_the_preference_hello() -> None:
    assert (await new(client_order({1, 3, 4, 6})))[2] == (await old(client_order({1, 3, 4, 6})))[2] - 1 == 5
