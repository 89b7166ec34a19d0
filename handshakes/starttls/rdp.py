# RDP's TLS upgrade ([MS-RDPBCGR] sections 2.2.1.1 and 2.2.1.2; TPKT RFC 1006, X.224
# class 0 ISO 8073).
#
# An X.224 Connection Request carrying an RDP Negotiation Request (type 1) that asks for
# PROTOCOL_SSL (1); the server's Connection Confirm carries a Negotiation Response
# (type 2, the selected protocol) or a Negotiation Failure (type 3, a failure code). A
# server selecting standard RDP security (0) or answering without a negotiation block
# does not offer TLS.
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from handshakes.errors import RemoteProtocolError
from handshakes.starttls._base import NOT_OFFERED, REFUSED, Dialogue, Script, Send, Stop, framed

PROTOCOL_SSL = 1
PROTOCOLS = {0: "standard RDP security", 1: "TLS", 2: "CredSSP", 4: "RDSTLS", 8: "CredSSP early user auth"}
FAILURES = {
    1: "SSL_REQUIRED_BY_SERVER", 2: "SSL_NOT_ALLOWED_BY_SERVER", 3: "SSL_CERT_NOT_ON_SERVER",
    4: "INCONSISTENT_FLAGS", 5: "HYBRID_REQUIRED_BY_SERVER", 6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
}


def connection_request(protocols: int = PROTOCOL_SSL) -> bytes:
    neg = struct.pack("<BBHI", 1, 0, 8, protocols)  # RDP_NEG_REQ
    x224 = bytes((6 + len(neg), 0xE0, 0, 0, 0, 0, 0)) + neg  # LI, CR code, dst-ref, src-ref, class
    return struct.pack("!BBH", 3, 0, 4 + len(x224)) + x224  # TPKT version 3


def _tpkt_length(head: bytes) -> int:
    """The length of the TPKT (RFC 1006 section 6) that ``head`` begins, head included."""
    if head[0] != 3:
        raise RemoteProtocolError("RDP: not a TPKT", data=head)
    length: int = struct.unpack("!H", head[2:4])[0]
    if length < 11:
        raise RemoteProtocolError("RDP: a TPKT too short for a Connection Confirm", data=head)
    return length


@dataclass(slots=True)
class RDP(Dialogue):
    PROTOCOL: ClassVar[str] = "rdp"
    RFC: ClassVar[str] = "MS-RDPBCGR 2.2.1.1"

    def script(self) -> Script:
        yield Send(connection_request())
        self.waiting_for = "the X.224 Connection Confirm"
        words = yield from framed(_tpkt_length, head=4)
        body = words[4:]
        if len(body) < 7 or body[1] & 0xF0 != 0xD0:
            raise Stop(REFUSED, "the answer is not an X.224 Connection Confirm", words)
        neg = body[7:]
        if len(neg) < 8:
            self.facts["server_version"] = "standard RDP security"
            raise Stop(NOT_OFFERED, "the server answered without negotiation (standard RDP security only)", words)
        kind, _flags, _len, value = struct.unpack("<BBHI", neg[:8])
        if kind == 2:
            self.facts["server_version"] = PROTOCOLS.get(value, f"protocol {value}")
            if value in (1, 2, 8):  # TLS, or CredSSP which starts with TLS
                return
            raise Stop(NOT_OFFERED, f"the server selected {PROTOCOLS.get(value, value)}", words)
        if kind == 3:
            raise Stop(REFUSED, f"negotiation failure {value} ({FAILURES.get(value, 'unknown')})", words)
        raise Stop(REFUSED, f"negotiation block of type {kind}", words)
