# LDAP StartTLS (RFC 4511 section 4.14): the extended operation 1.3.6.1.4.1.1466.20037.
#
# Request (RFC 4511 section 4.12, BER per X.690):
#   LDAPMessage ::= SEQUENCE { messageID INTEGER, protocolOp ExtendedRequest }
#   ExtendedRequest ::= [APPLICATION 23] SEQUENCE { requestName [0] LDAPOID }
# The answer is an ExtendedResponse [APPLICATION 24] whose LDAPResult carries resultCode
# (0 success; 2 protocolError when StartTLS is unknown or not configured; 1
# operationsError when TLS is already on; 51 busy, 52 unavailable; RFC 4511 section 4.1.9,
# appendix A) and the server's diagnosticMessage. A Notice of Disconnection
# (messageID 0, section 4.4.1) is a refusal by load.
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from handshakes.errors import RemoteProtocolError
from handshakes.starttls._base import (
    NOT_OFFERED,
    REFUSED,
    THROTTLED,
    Dialogue,
    Script,
    Send,
    Stop,
    framed,
    printable,
    text,
)

STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
# RFC 4511 appendix A.
RESULT_NAMES = {
    0: "success", 1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded",
    7: "authMethodNotSupported", 8: "strongerAuthRequired", 12: "unavailableCriticalExtension",
    13: "confidentialityRequired", 32: "noSuchObject", 34: "invalidDNSyntax",
    48: "inappropriateAuthentication", 49: "invalidCredentials", 50: "insufficientAccessRights",
    51: "busy", 52: "unavailable", 53: "unwillingToPerform", 80: "other",
}
MAX_MESSAGE = 65536


def _tlv(tag: int, body: bytes) -> bytes:
    assert len(body) < 128  # short form lengths are all this request needs (X.690 8.1.3.4)
    return bytes((tag, len(body))) + body


def start_tls_request(message_id: int = 1) -> bytes:
    op = _tlv(0x77, _tlv(0x80, STARTTLS_OID))  # [APPLICATION 23] { [0] requestName }
    return _tlv(0x30, _tlv(0x02, bytes((message_id,))) + op)


def _read_tlv(data: bytes, at: int) -> tuple[int, bytes, int]:
    """(tag, value, next offset) of the BER element at ``at``; definite lengths only
    (RFC 4511 section 5.1 forbids the indefinite form)."""
    if at + 2 > len(data):
        raise RemoteProtocolError("LDAP: truncated element", data=data[at:])
    tag, first = data[at], data[at + 1]
    at += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or at + n > len(data):
            raise RemoteProtocolError("LDAP: bad length", data=data[at - 2 :])
        length = int.from_bytes(data[at : at + n], "big")
        at += n
    if at + length > len(data):
        raise RemoteProtocolError("LDAP: element longer than the message", data=data[at - 2 :])
    return tag, data[at : at + length], at + length


@dataclass(slots=True)
class LDAP(Dialogue):
    PROTOCOL: ClassVar[str] = "ldap"
    RFC: ClassVar[str] = "RFC 4511"

    def script(self) -> Script:
        yield Send(start_tls_request())
        self.waiting_for = "the answer to the StartTLS extended operation"
        message = yield from framed(message_length, head=2)
        _, body, _ = _read_tlv(message, 0)
        _, msgid, at = _read_tlv(body, 0)
        op_tag, op, _ = _read_tlv(body, at)
        if op_tag != 0x78:  # [APPLICATION 24] ExtendedResponse
            raise Stop(REFUSED, f"StartTLS answered with LDAP operation 0x{op_tag:02x}", message)
        _, code_bytes, at = _read_tlv(op, 0)
        _, matched, at = _read_tlv(op, at)
        _, diagnostic, at = _read_tlv(op, at)
        code = int.from_bytes(code_bytes, "big") if code_bytes else -1
        name = RESULT_NAMES.get(code, "unknown")
        self.facts["banner"] = f"resultCode {code} ({name})" + (f": {text(diagnostic)}" if diagnostic else "")
        if code == 0:
            return
        words = f"resultCode {code} {name}" + (f" ({printable(diagnostic)})" if diagnostic else "")
        if int.from_bytes(msgid, "big") == 0 or code in (51, 52):
            raise Stop(THROTTLED, f"StartTLS answered {words}", message)
        if code == 2:
            # OpenLDAP and others answer protocolError when no TLS is configured.
            raise Stop(NOT_OFFERED, f"StartTLS not offered: {words}", message)
        raise Stop(REFUSED, f"StartTLS answered {words}", message)


def simple_bind_request(name: bytes, password: bytes, message_id: int = 1) -> bytes:
    """A BindRequest (RFC 4511 section 4.2) with simple authentication: version 3,
    ``name`` (a DN), ``password`` ([0] simple). Short-form lengths only (under 128 bytes)."""
    bind = _tlv(0x02, b"\x03") + _tlv(0x04, name) + _tlv(0x80, password)
    return _tlv(0x30, _tlv(0x02, bytes((message_id,))) + _tlv(0x60, bind))  # [APPLICATION 0]


def message_length(head: bytes) -> int | None:
    """The total length of the LDAPMessage starting with ``head`` (at least 2 bytes), or
    None when more bytes are needed to know. Raises RemoteProtocolError for a message that
    is not a SEQUENCE or is longer than MAX_MESSAGE."""
    if len(head) < 2:
        return None
    if head[0] != 0x30:
        raise RemoteProtocolError("LDAP: not an LDAPMessage", data=head)
    if head[1] < 0x80:
        return 2 + head[1]
    n = head[1] & 0x7F
    if n == 0 or n > 4:
        raise RemoteProtocolError("LDAP: bad message length", data=head)
    if len(head) < 2 + n:
        return None
    length = int.from_bytes(head[2 : 2 + n], "big")
    if length > MAX_MESSAGE:
        raise RemoteProtocolError(f"LDAP: a message of {length} bytes", data=head)
    return 2 + n + length


def result_of(message: bytes) -> tuple[int, int, bytes]:
    """(protocolOp tag, resultCode, diagnosticMessage) of a response LDAPMessage
    (RFC 4511 section 4.1.9). Raises RemoteProtocolError."""
    _, body, _ = _read_tlv(message, 0)
    _, _msgid, at = _read_tlv(body, 0)
    op_tag, op, _ = _read_tlv(body, at)
    _, code_bytes, at = _read_tlv(op, 0)
    _, _matched, at = _read_tlv(op, at)
    _, diagnostic, _ = _read_tlv(op, at)
    return op_tag, int.from_bytes(code_bytes, "big") if code_bytes else -1, diagnostic


def root_dse_request(message_id: int = 1) -> bytes:
    """A SearchRequest (RFC 4511 section 4.5.1) of the root DSE (base "", scope
    baseObject, filter (objectClass=*)) for its namingContexts (RFC 4512 section 5.1)."""
    body = (
        _tlv(0x04, b"") + _tlv(0x0A, b"\x00") + _tlv(0x0A, b"\x00") + _tlv(0x02, b"\x00")
        + _tlv(0x02, b"\x00") + _tlv(0x01, b"\x00") + _tlv(0x87, b"objectClass")
        + _tlv(0x30, _tlv(0x04, b"namingContexts"))
    )
    return _tlv(0x30, _tlv(0x02, bytes((message_id,))) + _tlv(0x63, body))


def entry_values(message: bytes, attribute: bytes) -> list[bytes] | None:
    """The values of ``attribute`` in a SearchResultEntry message ([APPLICATION 4]); None
    when the message is another operation. Raises RemoteProtocolError."""
    _, body, _ = _read_tlv(message, 0)
    _, _msgid, at = _read_tlv(body, 0)
    op_tag, op, _ = _read_tlv(body, at)
    if op_tag != 0x64:
        return None
    _, _name, at = _read_tlv(op, 0)
    _, attrs, _ = _read_tlv(op, at)
    out: list[bytes] = []
    at = 0
    while at < len(attrs):
        _, pa, at = _read_tlv(attrs, at)
        _, kind, inner = _read_tlv(pa, 0)
        _, vals, _ = _read_tlv(pa, inner)
        if kind.lower() == attribute.lower():
            v_at = 0
            while v_at < len(vals):
                _, value, v_at = _read_tlv(vals, v_at)
                out.append(value)
    return out
