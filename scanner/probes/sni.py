# SNI semantics (issue 11): before calling a server broken, try the other side. When every
# version refuses the hello that names the site, one mainstream-shaped hello without SNI
# tells "this name is unknown here" (the server works with none, or with another name)
# apart from "this server refuses everything". One connection, only in that case.
from __future__ import annotations

import dataclasses

from handshakes import constants as c
from handshakes import registry as reg
from scanner.engine import Connector, ProbeOutcome
from scanner.options import ACCEPTED, ALERT
from scanner.probes.adaptive import mainstream_spec
from scanner.probes.context import ProbeContext
from scanner.probes.hello import HelloFactory


async def without_sni(conn: Connector, hello: HelloFactory, version: int) -> ProbeOutcome:
    """A mainstream client's ``version`` hello with no server_name extension (RFC 6066
    section 3: a client may omit it; the server then serves its default)."""
    spec = dataclasses.replace(mainstream_spec(hello, version), server_name=None)
    return await conn.probe(f"{reg.version_name(version)} without SNI (the name was refused)", lambda: hello.probe(spec))


async def accepted_without_sni(
    conn: Connector, hello: HelloFactory, firsts: list[ProbeOutcome | None], versions: list[int]
) -> ProbeOutcome | None:
    """When every version's first hello (``firsts``, for ``versions``) got an answer that
    refuses it (an alert) and none was accepted: the hello without SNI, if the server
    accepts it; else None. At most one connection."""
    tls = [v for v in versions if c.TLS10 <= v <= c.TLS13]
    answered = [o for o in firsts if o is not None]
    if not tls or any(o.outcome == ACCEPTED for o in answered) or not any(o.outcome == ALERT for o in answered):
        return None
    out = await without_sni(conn, hello, max(tls))
    return out if out.outcome == ACCEPTED else None


async def other_side(ctx: ProbeContext) -> None:
    """When a name was sent and no version accepted it: the hello without SNI, recorded
    as ``found.extra["no_sni"]`` with ``found.sni_name_refused`` when the server accepts it."""
    if not ctx.target.server_name:
        return
    versions = list(ctx.options.versions)
    found = ctx.found
    other = await accepted_without_sni(ctx.conn, ctx.hello, [found.versions[v].first for v in versions], versions)
    if other is not None:
        found.extra["no_sni"], found.sni_name_refused = other, True
