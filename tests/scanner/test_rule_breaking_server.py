"""A server that breaks the rules (issue 3): it chooses a suite it was not offered. The scan
records it, gives the tls.server_violation finding, and falls back to one suite per
connection for that version, where nothing it answers is accepted either."""

from __future__ import annotations

import struct

from handshakes import constants as c
from scanner.api import scan_endpoint
from scanner.options import Deadlines, ScanOptions, Target

# A TLS 1.2 ServerHello that always chooses 0xC0FF (no such suite: never offered).
_BODY = (
    b"\x03\x03" + b"\x11" * 32  # legacy_version TLS 1.2, random
    + b"\x00"  # empty session id
    + b"\xc0\xff"  # cipher suite 0xC0FF
    + b"\x00"  # compression null
)
SERVER_HELLO = struct.pack(">BHH", c.HANDSHAKE, 0x0303, 4 + len(_BODY)) + (
    bytes((c.SERVER_HELLO,)) + len(_BODY).to_bytes(3, "big") + _BODY
)


async def test_a_suite_not_offered_is_a_violation_and_falls_back(raw_server):
    server = raw_server("replay", data=SERVER_HELLO)
    options = ScanOptions(
        probes=frozenset({"protocols", "suites"}),
        deadlines=Deadlines(connect=2, read=2, endpoint=60),
        per_endpoint=8,
    )
    result = await scan_endpoint(Target(host="127.0.0.1", port=server.port, ip="127.0.0.1"), options)
    assert any("0xC0FF" in a and "not offered" in a for a in result.anomalies), result.anomalies
    # One suite per connection for TLS 1.2: every candidate suite was tried alone, and
    # none is accepted since the server never chooses the suite it was offered.
    tls12 = next(p for p in result.protocols if p.version == c.TLS12)
    assert tls12.supported and not [s for s in result.cipher_suites if s.version == c.TLS12]
    assert result.stats.connections > 300
    # Asked for TLS 1.1, it answers TLS 1.2: that breaks the rules too (RFC 5246 E.1).
    assert any("TLSv1.1" in a and "answered TLSv1.2" in a for a in result.anomalies)
    assert "tls.server_violation" in {f.id for f in result.findings}
