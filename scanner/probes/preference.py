# Server preference: does the server impose its own order of cipher suites, and which?
# One connection per version (the found suites offered in reverse), plus a re-ranking
# among themselves when the suites came from several batches (scanner/probes/suites.py).
from __future__ import annotations

import trio

from scanner.probes import suites as sp
from scanner.probes.context import ProbeContext


async def run(ctx: ProbeContext, supported: list[int]) -> None:
    """Sets ``found.order[v]`` (True: server order) and, when needed, ``found.ranked[v]``
    for every supported version whose suites were enumerated."""
    if "suites" not in ctx.options.probes:
        return
    async with trio.open_nursery() as nursery:
        for v in supported:
            nursery.start_soon(_one, ctx, ctx.found.versions[v])


async def _one(ctx: ProbeContext, scan: sp.VersionScan) -> None:
    conn, hello, found = ctx.conn, ctx.hello, ctx.found
    order = await sp.server_order(conn, hello, scan)
    found.order[scan.version] = order
    if order and not sp.discovery_is_server_order(scan):
        # A suite the server prefers came in a later batch: rank the found suites again
        # among themselves.
        found.ranked[scan.version] = await sp.rank_by_server(conn, hello, scan)
