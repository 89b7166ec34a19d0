# A captured ClientHello, decoded: the parser behind the built-in client profiles
# (tools/gen_profiles.py) and behind a user's own capture (profile_from_client_hello_hex).
#
# Rules it keeps: sans-IO and pure (bytes in, a frozen value out); wire numbers stay ints;
# extension bodies are kept byte for byte, in the client's order, so the hello can be
# replayed; an unknown extension or suite is data. Bytes that do not parse raise ValueError
# saying where and why: the input comes from a person pasting a capture, not from a server.
from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from handshakes import constants as c
from handshakes import registry as reg

__all__ = [
    "CapturedHello",
    "bytes_from_hex_dump",
    "decode_alpn",
    "decode_key_share",
    "decode_u8_list",
    "decode_u16_list",
    "parse_client_hello",
    "versions_below",
]

# Versions from the newest down, for "legacy_version down to the lowest protocol".
_DESCENDING = (c.TLS12, c.TLS11, c.TLS10, c.SSL3, c.SSL2)


@dataclass(frozen=True, slots=True, kw_only=True)
class CapturedHello:
    """A ClientHello as the client sent it.

    ``record_version`` is the record header's version; it is ``SSL2`` (0x0002) for an
    SSLv2-framed hello and None when the capture held no record header.
    ``cipher_suites`` of an SSLv2-framed hello are its 3-byte cipher kinds (a TLS suite
    offered that way is 0x00XXXX, the same int as the TLS code).
    ``has_extensions_block``: False when the hello ends after the compression methods.
    """

    sslv2: bool
    record_version: int | None
    legacy_version: int
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: tuple[int, ...]
    extensions: tuple[tuple[int, bytes], ...]
    has_extensions_block: bool

    def extension(self, ext_type: int) -> bytes | None:
        for code, body in self.extensions:
            if code == ext_type:
                return body
        return None

    # Derived facts. A malformed body of a known extension raises ValueError naming it.

    def supported_versions(self) -> tuple[int, ...] | None:
        """RFC 8446 section 4.2.1, in the client's order (GREASE included); None if absent."""
        body = self.extension(c.EXT_SUPPORTED_VERSIONS)
        return None if body is None else decode_u16_list(body, 1, "supported_versions")

    def groups(self) -> tuple[int, ...]:
        """RFC 8446 section 4.2.7 / RFC 8422 section 5.1.1 (elliptic_curves), client order."""
        body = self.extension(c.EXT_SUPPORTED_GROUPS)
        return () if body is None else decode_u16_list(body, 2, "supported_groups")

    def signature_algorithms(self) -> tuple[int, ...]:
        """RFC 8446 section 4.2.3 / RFC 5246 section 7.4.1.4.1 (hash, signature) pairs."""
        body = self.extension(c.EXT_SIGNATURE_ALGORITHMS)
        return () if body is None else decode_u16_list(body, 2, "signature_algorithms")

    def ec_point_formats(self) -> tuple[int, ...]:
        body = self.extension(c.EXT_EC_POINT_FORMATS)
        return () if body is None else decode_u8_list(body, "ec_point_formats")

    def alpn(self) -> tuple[str, ...]:
        body = self.extension(c.EXT_ALPN)
        return () if body is None else decode_alpn(body)

    def key_share_groups(self) -> tuple[int, ...]:
        body = self.extension(c.EXT_KEY_SHARE)
        return () if body is None else tuple(g for g, _ in decode_key_share(body))

    def server_name(self) -> str | None:
        """The host_name of the server_name extension (RFC 6066 section 3), or None."""
        body = self.extension(c.EXT_SERVER_NAME)
        if body is None:
            return None
        reader = _Reader(body, "server_name")
        names = _Reader(reader.vec(2), "server_name")
        reader.end()
        host = ""
        while names.left():
            name_type = names.u8()
            name = names.vec(2)
            if name_type == 0 and not host:
                host = name.decode("ascii", "replace")
        return host

    def versions(self, lowest: int | None) -> tuple[int, ...]:
        """The protocol versions this client can speak, newest first.

        With a supported_versions extension, its known versions (RFC 8446 section 4.2.1:
        the list replaces legacy_version; GREASE and draft numbers are left out). Without
        it, legacy_version and every older version down to ``lowest`` (RFC 5246 appendix
        E.1: the client offers its highest version and accepts any it supports below);
        ``lowest`` None means only legacy_version.
        """
        listed = self.supported_versions()
        if listed is not None:
            known = {v for v in listed if v in reg.VERSIONS}
            return tuple(sorted(known, reverse=True))
        return versions_below(self.legacy_version, lowest)


def versions_below(highest: int, lowest: int | None) -> tuple[int, ...]:
    """``highest`` and the versions below it down to ``lowest`` (inclusive), newest first."""
    if highest not in _DESCENDING:
        return (highest,) if highest == c.TLS13 else ()
    out = []
    for v in _DESCENDING[_DESCENDING.index(highest) :]:
        out.append(v)
        if lowest is None or v == lowest:
            break
    return tuple(out)


class _Reader:
    """Bounds-checked reads over one buffer; every failure names what was being read."""

    __slots__ = ("_data", "_pos", "_what")

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0
        self._what = what

    def left(self) -> int:
        return len(self._data) - self._pos

    def take(self, n: int, field: str = "") -> bytes:
        if n > self.left():
            where = f"{self._what}: {field}" if field else self._what
            raise ValueError(
                f"{where}: needs {n} bytes at offset {self._pos}, only {self.left()} left"
            )
        out = self._data[self._pos : self._pos + n]
        self._pos += n
        return out

    def u8(self, field: str = "") -> int:
        return self.take(1, field)[0]

    def u16(self, field: str = "") -> int:
        return int.from_bytes(self.take(2, field), "big")

    def vec(self, length_bytes: int, field: str = "") -> bytes:
        n = int.from_bytes(self.take(length_bytes, field), "big")
        return self.take(n, field)

    def end(self) -> None:
        if self.left():
            raise ValueError(f"{self._what}: {self.left()} unexpected bytes at the end")


def decode_u16_list(body: bytes, length_bytes: int, what: str) -> tuple[int, ...]:
    reader = _Reader(body, what)
    data = reader.vec(length_bytes)
    reader.end()
    if len(data) % 2:
        raise ValueError(f"{what}: odd list length {len(data)}")
    return struct.unpack(f">{len(data) // 2}H", data)


def decode_u8_list(body: bytes, what: str) -> tuple[int, ...]:
    reader = _Reader(body, what)
    data = reader.vec(1)
    reader.end()
    return tuple(data)


def decode_alpn(body: bytes) -> tuple[str, ...]:
    """RFC 7301 section 3.1: ProtocolNameList, each name a non-empty opaque<1..2^8-1>."""
    reader = _Reader(body, "application_layer_protocol_negotiation")
    names = _Reader(reader.vec(2), "application_layer_protocol_negotiation")
    reader.end()
    out = []
    while names.left():
        name = names.vec(1)
        if not name:
            raise ValueError("application_layer_protocol_negotiation: empty protocol name")
        out.append(name.decode("ascii", "backslashreplace"))
    return tuple(out)


def decode_key_share(body: bytes) -> tuple[tuple[int, bytes], ...]:
    """RFC 8446 section 4.2.8: KeyShareClientHello, as (group, key_exchange) pairs."""
    reader = _Reader(body, "key_share")
    entries = _Reader(reader.vec(2), "key_share")
    reader.end()
    out = []
    while entries.left():
        group = entries.u16("group")
        out.append((group, entries.vec(2, "key_exchange")))
    return tuple(out)


def _parse_body(body: bytes, *, record_version: int | None) -> CapturedHello:
    """The ClientHello body (RFC 5246 section 7.4.1.2, RFC 8446 section 4.1.2)."""
    r = _Reader(body, "ClientHello")
    legacy_version = r.u16("legacy_version")
    if legacy_version >> 8 != 3:
        raise ValueError(f"ClientHello: legacy_version 0x{legacy_version:04X} is not 3.x")
    r.take(32, "random")
    session_id = r.vec(1, "session_id")
    if len(session_id) > 32:
        raise ValueError(f"ClientHello: session_id of {len(session_id)} bytes (at most 32)")
    suites = r.vec(2, "cipher_suites")
    if len(suites) % 2 or not suites:
        raise ValueError(f"ClientHello: cipher_suites of {len(suites)} bytes")
    compression = r.vec(1, "compression_methods")
    if not compression:
        raise ValueError("ClientHello: no compression method")
    extensions: list[tuple[int, bytes]] = []
    has_block = bool(r.left())
    if has_block:
        block = _Reader(r.vec(2, "extensions"), "ClientHello extensions")
        seen: set[int] = set()
        while block.left():
            ext_type = block.u16("extension type")
            ext_body = block.vec(2, f"extension 0x{ext_type:04X}")
            # RFC 8446 section 4.2: no more than one extension of the same type.
            if ext_type in seen:
                raise ValueError(f"ClientHello: extension {reg.extension_name(ext_type)} twice")
            seen.add(ext_type)
            extensions.append((ext_type, ext_body))
    r.end()
    return CapturedHello(
        sslv2=False,
        record_version=record_version,
        legacy_version=legacy_version,
        session_id=session_id,
        cipher_suites=struct.unpack(f">{len(suites) // 2}H", suites),
        compression_methods=tuple(compression),
        extensions=tuple(extensions),
        has_extensions_block=has_block,
    )


def _parse_handshake(msg: bytes, *, record_version: int | None) -> CapturedHello:
    r = _Reader(msg, "handshake message")
    msg_type = r.u8()
    if msg_type != c.CLIENT_HELLO:
        raise ValueError(
            f"handshake message type {msg_type} ({reg.handshake_type_name(msg_type)}), "
            "not a ClientHello (1)"
        )
    length = int.from_bytes(r.take(3, "length"), "big")
    body = r.take(length, "ClientHello body")
    r.end()
    return _parse_body(body, record_version=record_version)


def _parse_records(data: bytes) -> CapturedHello:
    """One or more handshake records (RFC 5246 section 6.2.1) holding one ClientHello."""
    r = _Reader(data, "TLS record")
    payload = b""
    record_version = None
    while r.left():
        content_type = r.u8("content type")
        if content_type != c.HANDSHAKE:
            raise ValueError(f"TLS record: content type {content_type}, not handshake (22)")
        version = r.u16("record version")
        if version >> 8 != 3:
            raise ValueError(f"TLS record: version 0x{version:04X} is not 3.x")
        record_version = version if record_version is None else record_version
        payload += r.vec(2, "record payload")
    return _parse_handshake(payload, record_version=record_version)


def _parse_sslv2(data: bytes) -> CapturedHello:
    """An SSL 2.0 CLIENT-HELLO with a 2-byte header (SSLv2 draft section 2.5; RFC 5246
    appendix E.2 for the version-3.x hellos that SSL 3.0 and TLS servers accept)."""
    r = _Reader(data, "SSLv2 CLIENT-HELLO")
    length = r.u16() & 0x7FFF
    msg = _Reader(r.take(length, "record"), "SSLv2 CLIENT-HELLO")
    r.end()
    if msg.u8("msg type") != 1:
        raise ValueError("SSLv2 record: not a CLIENT-HELLO (type 1)")
    version = msg.u16("version")
    specs_len, session_len, challenge_len = msg.u16(), msg.u16(), msg.u16()
    if specs_len % 3 or not specs_len:
        raise ValueError(f"SSLv2 CLIENT-HELLO: cipher specs of {specs_len} bytes")
    specs = msg.take(specs_len, "cipher specs")
    session_id = msg.take(session_len, "session id")
    msg.take(challenge_len, "challenge")
    msg.end()
    kinds = tuple(int.from_bytes(specs[i : i + 3], "big") for i in range(0, specs_len, 3))
    return CapturedHello(
        sslv2=True,
        record_version=c.SSL2,
        legacy_version=version,
        session_id=session_id,
        cipher_suites=kinds,
        compression_methods=(0,),
        extensions=(),
        has_extensions_block=False,
    )


def _whole_message(data: bytes) -> bool:
    return len(data) >= 4 and int.from_bytes(data[1:4], "big") == len(data) - 4


def parse_client_hello(data: bytes) -> CapturedHello:
    """Decode a ClientHello given as TLS record(s) (16 03 ..), an SSLv2-framed hello
    (80 xx 01 ..), a bare handshake message (01 00 ..) or just its body (03 0x ..)."""
    if not data:
        raise ValueError("no bytes: expected a ClientHello")
    first = data[0]
    if first in (c.CHANGE_CIPHER_SPEC, c.ALERT, c.HANDSHAKE, c.APPLICATION_DATA):
        hello = _parse_records(data)
    elif first & 0x80 and len(data) > 2 and data[2] == 1:
        hello = _parse_sslv2(data)
    elif first == c.CLIENT_HELLO or (
        first != 3 and first in reg.HANDSHAKE_TYPE_NAMES and _whole_message(data)
    ):
        # Another handshake message (a ServerHello pasted by mistake) fails by name there.
        hello = _parse_handshake(data, record_version=None)
    elif first == 3:
        hello = _parse_body(data, record_version=None)
    else:
        raise ValueError(
            f"first byte 0x{first:02X}: expected a handshake record (0x16), an SSLv2 record "
            "(0x80..), a ClientHello message (0x01) or a ClientHello body (0x03)"
        )
    # Decode every extension whose body a profile reads, so a malformed one fails here.
    hello.supported_versions()
    hello.groups()
    hello.signature_algorithms()
    hello.ec_point_formats()
    hello.alpn()
    hello.key_share_groups()
    hello.server_name()
    return hello


# A Wireshark "Hex + ASCII dump" line: an offset, the bytes, then the ASCII column.
_DUMP_LINE = re.compile(r"^\s*[0-9A-Fa-f]{4,8}\s{2,}(\S.*)$")
_PREFIX = re.compile(r"(?<![0-9A-Fa-f])0[xX]|\\x")
_SEPARATORS = re.compile(r"[\s:,;.\-]+")


def bytes_from_hex_dump(text: str) -> bytes:
    """Bytes from hex as people paste it: a hex stream, bytes separated by spaces, colons,
    commas or newlines, 0x or \\x prefixes, or Wireshark's offset + hex + ASCII dump."""
    lines = []
    for line in text.splitlines():
        m = _DUMP_LINE.match(line)
        if m:
            # The ASCII column sits after a gap of three or more spaces.
            line = re.split(r"\s{3,}|\t", m.group(1))[0]
        lines.append(line)
    digits = _SEPARATORS.sub("", _PREFIX.sub("", "\n".join(lines)))
    if not digits:
        raise ValueError("no hex digits found")
    bad = re.search(r"[^0-9A-Fa-f]", digits)
    if bad:
        raise ValueError(f"not hex: unexpected character {bad.group()!r}")
    if len(digits) % 2:
        raise ValueError(f"odd number of hex digits ({len(digits)}): a byte is cut in half")
    return bytes.fromhex(digits)
