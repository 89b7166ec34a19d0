# SNI semantics (issue 11): before calling a server broken, try the other side. When every
# version refuses the hello that names the site, one mainstream-shaped hello without SNI
# tells "this name is unknown here" (the server works with none, or with another name)
# apart from "this server refuses everything". One connection, only in that case.
from __future__ import annotations

import dataclasses

from handshakes import registry as reg
from scanner.engine import Connector, ProbeOutcome
from scanner.probes.adaptive import mainstream_spec
from scanner.probes.hello import HelloFactory


async def without_sni(conn: Connector, hello: HelloFactory, version: int) -> ProbeOutcome:
    """A mainstream client's ``version`` hello with no server_name extension (RFC 6066
    section 3: a client may omit it; the server then serves its default)."""
    spec = dataclasses.replace(mainstream_spec(hello, version), server_name=None)
    return await conn.probe(f"{reg.version_name(version)} without SNI (the name was refused)", lambda: hello.probe(spec))
