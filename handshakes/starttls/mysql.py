# MySQL / MariaDB TLS (MySQL client/server protocol, "Protocol::HandshakeV10" and
# "Protocol::SSLRequest"; no RFC).
#
# The server speaks first: a packet (3-byte little-endian length, sequence id) holding
# protocol version 10, the server version (NUL-terminated), the connection id, salt and
# the capability flags. CLIENT_SSL (0x800) says TLS is offered; the client then sends an
# SSLRequest (its capabilities with CLIENT_SSL, max packet size, character set, 23 zero
# bytes) as packet 1 and starts TLS. An error packet (0xFF, code, message) instead of a
# greeting is the server refusing us, e.g. 1040 "Too many connections" or 1129 "Host is
# blocked because of many connection errors".
from __future__ import annotations

import struct
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

CLIENT_LONG_PASSWORD = 0x1
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000
THROTTLING_ERRORS = (1040, 1129, 1203, 1226)  # too many connections, host blocked, limits


def ssl_request(charset: int = 33) -> bytes:
    caps = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH
    payload = struct.pack("<IIB", caps, 1 << 24, charset) + bytes(23)
    return len(payload).to_bytes(3, "little") + b"\x01" + payload


def _packet_length(head: bytes) -> int:
    return 4 + int.from_bytes(head[:3], "little")  # a 3-byte little-endian length, a sequence id


@dataclass(slots=True)
class MySQL(Dialogue):
    PROTOCOL: ClassVar[str] = "mysql"
    RFC: ClassVar[str] = "MySQL protocol HandshakeV10 / SSLRequest"

    def script(self) -> Script:
        packet = yield from framed(_packet_length, head=4)
        payload = packet[4:]
        if payload[:1] == b"\xff":
            code = int.from_bytes(payload[1:3], "little") if len(payload) >= 3 else -1
            message = payload[3:]
            if message.startswith(b"#"):
                message = message[6:]
            detail = f"error {code}: {printable(message)}"
            self.facts["banner"] = text(message)
            kind = THROTTLED if code in THROTTLING_ERRORS else REFUSED
            raise Stop(kind, f"greeting replaced by {detail}", packet)
        if payload[:1] != b"\x0a":
            raise RemoteProtocolError("MySQL: the greeting is not protocol version 10", data=payload)
        end = payload.find(b"\x00", 1)
        if end < 0:
            raise RemoteProtocolError("MySQL: no end to the server version", data=payload)
        version = text(payload[1:end])
        self.facts["server_version"] = version
        self.facts["banner"] = version
        at = end + 1 + 4 + 8 + 1  # connection id, auth-plugin-data part 1, filler
        if at + 2 > len(payload):
            raise RemoteProtocolError("MySQL: a greeting too short for its capabilities", data=payload)
        caps = int.from_bytes(payload[at : at + 2], "little")
        if at + 7 <= len(payload):
            caps |= int.from_bytes(payload[at + 5 : at + 7], "little") << 16
        self.facts["capabilities"] = (f"0x{caps:08x}",)
        if not caps & CLIENT_SSL:
            self.facts["plaintext_auth"] = ("plaintext session",)
            raise Stop(NOT_OFFERED, f"the greeting of {version} has no CLIENT_SSL capability", packet)
        yield Send(ssl_request())
