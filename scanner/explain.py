# `tlscompat explain`: decode TLS bytes a person copied out of Wireshark, Network Monitor or
# a log, the way one would by hand with the RFC open (seed 004: "15 03 01 00 02 02 2A" is a
# TLS 1.0 record holding a fatal bad_certificate (42) alert).
#
# Rules kept:
# - Never raise on what the user pastes: garbage, truncation and encrypted records are
#   described, not thrown. Parsers from handshakes.server_flight are reused and their
#   RemoteProtocolError becomes a sentence.
# - Names come from handshakes.registry; the numbers are always shown next to them.
# - A whole captured frame is accepted: Ethernet (+VLAN) / Linux cooked + IPv4/IPv6 + TCP
#   headers are peeled off (dpkt decodes them, as for capture files: scanner/capture/); failing that, the first offset where well-formed records start
#   is used, and the bytes skipped are reported.
from __future__ import annotations

import contextlib
import re
import struct
import warnings
from dataclasses import dataclass, replace

from handshakes import constants as c
from handshakes import registry as reg
from scanner.outcome_text import counted

__all__ = [
    "MessageExplanation",
    "RecordExplanation",
    "decode_records",
    "explain",
    "locate_records",
    "parse_hex",
]

_CONTENT_TYPES = {
    c.CHANGE_CIPHER_SPEC: "ChangeCipherSpec",
    c.ALERT: "Alert",
    c.HANDSHAKE: "Handshake",
    c.APPLICATION_DATA: "ApplicationData",
    c.HEARTBEAT: "Heartbeat",
}
_ALERT_LEVELS = {c.WARNING: "warning", c.FATAL: "fatal"}
_SSL2_MESSAGES = {
    0: "ERROR",
    1: "CLIENT-HELLO",
    2: "CLIENT-MASTER-KEY",
    3: "CLIENT-FINISHED",
    4: "SERVER-HELLO",
    5: "SERVER-VERIFY",
    6: "SERVER-FINISHED",
    7: "REQUEST-CERTIFICATE",
    8: "CLIENT-CERTIFICATE",
}
_SSL2_ERRORS = {
    1: "NO-CIPHER-ERROR",
    2: "NO-CERTIFICATE-ERROR",
    4: "BAD-CERTIFICATE-ERROR",
    6: "UNSUPPORTED-CERTIFICATE-TYPE-ERROR",
}
# RFC 8446 section 5.1 / RFC 5246 section 6.2.1: 2^14 plus the expansion a protected
# record may add.
_MAX_RECORD = 2**14 + 2048


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageExplanation:
    """One handshake message (or SSLv2 message) found in the records."""

    msg_type: int
    name: str
    length: int  # the body length the header declares
    summary: str = ""  # decoded facts, or why they could not be decoded
    complete: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordExplanation:
    """One record, as far as the bytes go. ``offset`` counts from the start of the input
    given to decode_records (plus its ``base``). ``length`` is what the header declares,
    ``available`` how many payload bytes were there. ``notes`` hold the decoded facts and
    the problems (truncation, encryption, not TLS), in reading order."""

    offset: int
    sslv2: bool = False
    content_type: int | None = None
    content_type_name: str = ""
    version: int | None = None
    version_name: str = ""
    length: int = 0
    available: int = 0
    header_complete: bool = True
    encrypted: bool = False
    not_tls: bool = False
    alert_level: int | None = None
    alert_description: int | None = None
    messages: tuple[MessageExplanation, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def truncated(self) -> bool:
        return not self.header_complete or self.available < self.length

    @property
    def missing(self) -> int:
        """Payload bytes the header promises that the input does not hold."""
        return max(self.length - self.available, 0)

    def headline(self) -> str:
        if self.not_tls:
            return f"byte {self.offset}: not a TLS record"
        if not self.header_complete:
            return f"byte {self.offset}: incomplete record header"
        kind = "SSLv2 record" if self.sslv2 else f"{self.content_type_name} record"
        parts = [kind]
        if not self.sslv2:
            parts.append(self.version_name)
        parts.append(f"length {self.length}")
        return f"byte {self.offset}: " + ", ".join(parts)

    def describe(self) -> str:
        out = [self.headline()]
        out.extend(f"  {n}" for n in self.notes)
        for m in self.messages:
            line = f"  {m.name} ({m.msg_type}), {m.length} bytes"
            if not m.complete:
                line += " [incomplete]"
            if m.summary:
                line += f": {m.summary}"
            out.append(line)
        return "\n".join(out)


# -- reading what the user pasted -----------------------------------------------------------

_HEXDUMP_LINE = re.compile(
    r"^\s*(?:0x)?([0-9a-fA-F]{4,8}):?[ \t]+((?:[0-9a-fA-F]{2}(?:[0-9a-fA-F]{2})?(?:[ \t]|$))+)"
)
_PREFIX = re.compile(r"(?:0[xX]|\\x)(?=[0-9a-fA-F])")
_SEPARATORS = re.compile(r"[\s:,;|]+")


def _hexdump(rows: list[str]) -> bytes | None:
    """The bytes of a hex dump with offsets (Wireshark "Copy as Hex Dump", xxd, od -Ax x1),
    or None when the rows are not one: the offsets must start at 0 and count the bytes."""
    out = bytearray()
    for row in rows:
        m = _HEXDUMP_LINE.match(row)
        if m is None or int(m.group(1), 16) != len(out):
            return None
        out += bytes.fromhex(re.sub(r"\s", "", m.group(2)))
    return bytes(out) if out else None


def parse_hex(text: str) -> bytes:
    """Bytes from hex text: spaces, colons, commas, newlines, "0x" / "\\x" prefixes, or a
    hex dump with offsets and an ASCII column. Raises ValueError naming what is not hex."""
    rows = [ln for ln in text.splitlines() if ln.strip()]
    dumped = _hexdump(rows)
    if dumped is not None:
        return dumped
    cleaned = _SEPARATORS.sub("", _PREFIX.sub("", text))
    bad = re.search(r"[^0-9a-fA-F]", cleaned)
    if bad:
        raise ValueError(
            f"{bad.group()!r} is not a hex digit (character {bad.start() + 1} once separators "
            "are removed)"
        )
    if len(cleaned) % 2:
        raise ValueError(f"an odd number of hex digits ({len(cleaned)}): a byte is cut in half")
    return bytes.fromhex(cleaned)


def _odd_alert_header(data: bytes, i: int) -> bool:
    """An alert record with version 0x0000 and length 2, as a large CDN sends its refusal
    (issue 11 case 4): malformed, yet a TLS alert."""
    return data[i : i + 5] == bytes((c.ALERT, 0, 0, 0, 2))


def _plausible_tls_header(data: bytes, i: int) -> bool:
    if i + 3 > len(data):
        return False
    if _odd_alert_header(data, i):
        return True
    if data[i] not in _CONTENT_TYPES or data[i + 1] != 3 or data[i + 2] > 4:
        return False
    if i + 5 <= len(data):
        length = (data[i + 3] << 8) | data[i + 4]
        return 0 < length <= _MAX_RECORD
    return True


def _plausible_sslv2_header(data: bytes, i: int) -> bool:
    if i + 3 > len(data) or not data[i] & 0x80:
        return False
    length = ((data[i] & 0x7F) << 8) | data[i + 1]
    return length > 0 and data[i + 2] in _SSL2_MESSAGES


def _walk(data: bytes, i: int) -> tuple[int, bool]:
    """(records read, ends exactly at the end of data) starting at offset i."""
    count = 0
    while i < len(data):
        if not _plausible_tls_header(data, i):
            return count, False
        if i + 5 > len(data):
            return count, False
        length = (data[i + 3] << 8) | data[i + 4]
        if i + 5 + length > len(data):
            return count + 1, False  # a truncated last record
        i += 5 + length
        count += 1
    return count, True


@dataclass(frozen=True, slots=True)
class _Located:
    start: int
    end: int
    how: str


def _tcp_payload(data: bytes) -> _Located | None:
    """Peel link, IP and TCP headers off a captured frame, if it is one (dpkt decodes them:
    Ethernet with or without VLAN tags, Linux cooked capture, or a bare IP packet)."""
    import dpkt

    from scanner.capture.packets import address_text

    candidates: list[tuple[str, object]] = []
    with contextlib.suppress(dpkt.UnpackError, dpkt.NeedData, ValueError, IndexError, struct.error):
        eth = dpkt.ethernet.Ethernet(data)
        vlan = " (VLAN)" if getattr(eth, "vlan_tags", None) else ""
        candidates.append((f"Ethernet{vlan}", eth.data))
    if len(data) >= 16 and data[14:16] in (b"\x08\x00", b"\x86\xdd"):
        with contextlib.suppress(dpkt.UnpackError, dpkt.NeedData, ValueError, IndexError, struct.error):
            candidates.append(("Linux cooked capture", dpkt.sll.SLL(data).data))
    if data and data[0] >> 4 in (4, 6):
        with contextlib.suppress(dpkt.UnpackError, dpkt.NeedData, ValueError, IndexError, struct.error):
            candidates.append(("", dpkt.ip6.IP6(data) if data[0] >> 4 == 6 else dpkt.ip.IP(data)))
    for link, ip in candidates:
        tcp = getattr(ip, "data", None)
        if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6) or not isinstance(tcp, dpkt.tcp.TCP):
            continue
        family = "IPv6" if isinstance(ip, dpkt.ip6.IP6) else "IPv4"
        payload = bytes(tcp.data)
        ip_start = _ip_offset(data, ip)
        if ip_start is None:
            continue
        header = (data[ip_start] & 0x0F) * 4 if family == "IPv4" else 40
        start = ip_start + header + tcp.off * 4
        end = start + len(payload)
        layers = " + ".join(x for x in (link, family, "TCP") if x)
        how = (
            f"{layers} headers ({start} bytes) peeled off: {address_text(bytes(ip.src))} port "
            f"{tcp.sport} -> {address_text(bytes(ip.dst))} port {tcp.dport}"
        )
        return _Located(start, end, how)
    return None


def _ip_offset(data: bytes, ip: object) -> int | None:
    """Where the IP header dpkt decoded starts in the frame: after Ethernet (14), a VLAN tag
    or two (18, 22), Linux cooked capture (16), or at 0 for a bare packet."""
    src = bytes(getattr(ip, "src", b""))
    for at in (14, 18, 22, 16, 0):
        if at + 40 > len(data) + 20 or at >= len(data):
            continue
        version = data[at] >> 4
        where = data[at + 12 : at + 16] if version == 4 else data[at + 8 : at + 24]
        if version in (4, 6) and where == src:
            return at
    return None


def locate_records(data: bytes) -> _Located | None:
    """Where the TLS records are in `data`: after a frame's TCP header, at 0, or at the
    first offset from which well-formed records run to the end. None: nowhere."""
    frame = _tcp_payload(data)
    if frame is not None:
        payload = data[frame.start : frame.end]
        if not payload:
            return _Located(frame.start, frame.end, frame.how + "; the TCP segment carries no data")
        if _plausible_tls_header(payload, 0) or _plausible_sslv2_header(payload, 0):
            return frame
        inner = locate_records(payload)
        if inner is not None:
            return _Located(frame.start + inner.start, frame.end, frame.how + "; " + inner.how if inner.how else frame.how)
    if _plausible_tls_header(data, 0) or _plausible_sslv2_header(data, 0) or (
        len(data) < 3 and data and data[0] in _CONTENT_TYPES
    ):
        return _Located(0, len(data), "")
    best: tuple[int, int] | None = None  # (records, offset) of the best partial run
    for i in range(1, len(data)):
        if not _plausible_tls_header(data, i):
            continue
        count, exact = _walk(data, i)
        if exact and count:
            return _Located(i, len(data), f"{i} bytes before the first record skipped")
        if count and (best is None or count > best[0]):
            best = (count, i)
    if best is not None:
        i = best[1]
        return _Located(i, len(data), f"{i} bytes before the first plausible record skipped")
    return None


# -- decoding -------------------------------------------------------------------------------


@dataclass(slots=True)
class _State:
    """What earlier records told us: the negotiated version and suite, and whether the
    sender has switched to encryption."""

    version: int | None = None
    suite: int | None = None
    encrypted: bool = False
    tls13: bool = False
    pending: bytearray | None = None


def _subjects(chain: tuple[bytes, ...]) -> str:
    from cryptography import x509

    parts = []
    for i, der in enumerate(chain):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cert = x509.load_der_x509_certificate(der)
                subject = cert.subject.rfc4514_string() or "(empty subject)"
                issuer = cert.issuer.rfc4514_string() or "(empty issuer)"
                until = cert.not_valid_after_utc.strftime("%Y-%m-%d")
            parts.append(f"#{i} {subject!r} issued by {issuer!r}, valid until {until}")
        except Exception as exc:  # noqa: BLE001 - a broken certificate is data
            parts.append(f"#{i} undecodable ({len(der)} bytes: {type(exc).__name__})")
    return "; ".join(parts)


def _dn(der: bytes) -> str:
    try:
        from scanner.x509 import dn_to_string

        return dn_to_string(der)
    except Exception:  # noqa: BLE001
        return der.hex()


def _client_hello(body: bytes) -> str:
    from handshakes.server_flight import parse_extensions

    i = 0
    version = (body[0] << 8) | body[1]
    i = 2 + 32
    sid = body[i]
    i += 1 + sid
    n = (body[i] << 8) | body[i + 1]
    suites = [(body[i + 2 + k] << 8) | body[i + 3 + k] for k in range(0, n, 2)]
    i += 2 + n
    i += 1 + body[i]
    parts = [f"client_version {reg.version_name(version)}", f"{len(suites)} cipher suites offered"]
    if i + 2 <= len(body):
        length = (body[i] << 8) | body[i + 1]
        exts = parse_extensions(body[i + 2 : i + 2 + length], "ClientHello extensions")
        names = []
        for t, data in exts:
            name = reg.extension_name(t)
            if t == c.EXT_SERVER_NAME and len(data) > 5:
                name += f" ({data[5:].decode('ascii', 'replace')})"
            elif t == c.EXT_SUPPORTED_VERSIONS and data:
                vs = [(data[k] << 8) | data[k + 1] for k in range(1, len(data) - 1, 2)]
                name += " (" + ", ".join(reg.version_name(v) for v in vs) + ")"
            names.append(name)
        parts.append("extensions: " + ", ".join(names))
    return "; ".join(parts)


def _server_hello(body: bytes, state: _State) -> tuple[str, str]:
    from handshakes import events as ev
    from handshakes.server_flight import parse_server_hello

    hello = parse_server_hello(body)
    exts = ", ".join(reg.extension_name(t) for t, _ in hello.extensions) or "none"
    suite = f"{reg.cipher_suite_name(hello.cipher_suite)} ({reg.hex_code(hello.cipher_suite)})"
    if isinstance(hello, ev.HelloRetryRequest):
        group = reg.group_name(hello.selected_group) if hello.selected_group is not None else "none"
        return "server_hello", f"a TLSv1.3 HelloRetryRequest: suite {suite}, key share wanted: {group}; extensions: {exts}"
    state.version = hello.version
    state.suite = hello.cipher_suite
    parts = [f"version {reg.version_name(hello.version)}"]
    if hello.legacy_version != hello.version:
        parts[0] += f" (legacy_version {reg.version_name(hello.legacy_version)})"
    parts.append(f"cipher suite {suite}")
    if hello.compression:
        parts.append(f"compression method {hello.compression}")
    if hello.selected_group is not None:
        parts.append(f"key share {reg.group_name(hello.selected_group)}")
    parts.append(f"extensions: {exts}")
    if hello.version == c.TLS13:
        state.tls13 = True
        parts.append("everything after this ServerHello is encrypted")
    return reg.handshake_type_name(c.SERVER_HELLO), "; ".join(parts)


def _handshake_summary(msg_type: int, body: bytes, state: _State, record_version: int) -> tuple[str, str]:
    """(name, summary) of one whole handshake message. Parse errors become the summary."""
    from handshakes.server_flight import (
        parse_certificate,
        parse_certificate_request,
        parse_server_key_exchange,
    )

    name = reg.handshake_type_name(msg_type)
    try:
        if msg_type == c.CLIENT_HELLO:
            return name, _client_hello(body)
        if msg_type == c.SERVER_HELLO:
            return _server_hello(body, state)
        if msg_type == c.CERTIFICATE:
            try:
                cert = parse_certificate(body, False)
            except Exception:  # noqa: BLE001 - maybe the TLS 1.3 layout
                cert = parse_certificate(body, True)
            if not cert.chain:
                return name, "no certificate (an empty list)"
            return name, f"{counted(len(cert.chain), 'certificate')}: {_subjects(cert.chain)}"
        if msg_type == c.SERVER_KEY_EXCHANGE:
            if state.suite is None:
                return name, "key exchange parameters (no ServerHello before it: suite unknown)"
            ske = parse_server_key_exchange(body, state.suite, state.version or record_version)
            if ske.kind == "ecdhe":
                facts = f"ECDHE, group {reg.group_name(ske.group) if ske.group is not None else 'explicit curve'}"
            elif ske.kind == "dhe":
                facts = f"DHE, {ske.dh_prime_bits}-bit prime"
            elif ske.kind == "rsa":
                facts = f"temporary RSA key of {ske.dh_prime_bits} bits (export)"
            else:
                facts = "parameters of an unknown kind"
            if ske.signature_scheme is not None:
                facts += f", signed with {reg.signature_scheme_name(ske.signature_scheme)}"
            return name, facts
        if msg_type == c.CERTIFICATE_REQUEST:
            req = parse_certificate_request(body, state.version or record_version)
            cas = " | ".join(repr(_dn(d)) for d in req.certificate_authorities)
            facts = "the server asks for a client certificate; acceptable CAs: " + (cas or "none named")
            if req.signature_algorithms:
                facts += f"; {len(req.signature_algorithms)} signature algorithms"
            return name, facts
        if msg_type == c.SERVER_HELLO_DONE:
            return name, "end of the server's hello flight"
        if msg_type == c.CERTIFICATE_STATUS:
            return name, f"stapled OCSP response of {max(len(body) - 4, 0)} bytes"
        if msg_type == c.CLIENT_KEY_EXCHANGE:
            return name, "the client's key exchange (its content is encrypted or public-key data)"
        if msg_type == c.HELLO_REQUEST:
            return name, "the server asks the client to renegotiate"
    except Exception as exc:  # noqa: BLE001 - a message we cannot read is described, not raised
        return name, f"could not be decoded: {exc}"
    return name, ""


def _alert_note(version_name: str, level: int, description: int) -> str:
    level_name = _ALERT_LEVELS.get(level, f"unknown level {level}")
    return (
        f"{version_name}, {level_name}, {reg.alert_name(description)} ({description}): "
        f"{reg.alert_meaning(description)}"
    )


def _sslv2_record(offset: int, data: bytes) -> RecordExplanation:
    length = ((data[0] & 0x7F) << 8) | data[1]
    payload = data[2 : 2 + length]
    notes: list[str] = []
    messages: list[MessageExplanation] = []
    if payload:
        kind = payload[0]
        name = _SSL2_MESSAGES.get(kind, f"unknown message {kind}")
        summary = ""
        try:
            if kind == 0 and len(payload) >= 3:
                code = (payload[1] << 8) | payload[2]
                summary = f"error {reg.hex_code(code)} {_SSL2_ERRORS.get(code, 'unknown error')}"
            elif kind == 1 and len(payload) >= 9:
                version = (payload[1] << 8) | payload[2]
                specs = (payload[3] << 8) | payload[4]
                summary = f"offers up to {reg.version_name(version)}, {specs // 3} cipher specs"
                if version != c.SSL2:
                    summary += " (an SSLv2-compatible hello from a TLS client)"
            elif kind == 4:
                from handshakes import events as ev
                from handshakes.server_flight import parse_sslv2_record

                hello = parse_sslv2_record(payload)
                if isinstance(hello, ev.SSLv2ServerHello):
                    kinds = ", ".join(reg.cipher_suite_name(k) for k in hello.cipher_kinds)
                    summary = f"version {reg.version_name(hello.version)}; cipher kinds: {kinds or 'none'}"
                    if hello.certificate:
                        summary += f"; certificate: {_subjects((hello.certificate,))}"
            elif kind in (2, 3, 5, 6, 7, 8):
                summary = "encrypted or key material" if kind != 2 else "the client's master key (encrypted)"
        except Exception as exc:  # noqa: BLE001
            summary = f"could not be decoded: {exc}"
        messages.append(MessageExplanation(msg_type=kind, name=name, length=len(payload) - 1, summary=summary, complete=len(payload) == length))
    if len(payload) < length:
        notes.append(f"truncated: {length - len(payload)} of {length} bytes missing")
    return RecordExplanation(
        offset=offset, sslv2=True, content_type_name="SSLv2", version=c.SSL2, version_name="SSLv2",
        length=length, available=len(payload), messages=tuple(messages), notes=tuple(notes),
    )


def decode_records(data: bytes, *, base: int = 0) -> list[RecordExplanation]:
    """Explain every record in `data`, which must start at a record boundary (see
    locate_records). Never raises: bytes that are not a record end the list with a
    RecordExplanation whose ``not_tls`` is set, a short input ends it with a truncated one."""
    out: list[RecordExplanation] = []
    state = _State()
    i = 0
    while i < len(data):
        offset = base + i
        if data[i] & 0x80 and (not out or out[-1].sslv2) and _plausible_sslv2_header(data, i):
            rec = _sslv2_record(offset, data[i:])
            out.append(rec)
            i += 2 + rec.length
            continue
        if len(data) - i < 5:
            rest = data[i:]
            if rest[0] in _CONTENT_TYPES and (len(rest) < 2 or rest[1] == 3):
                ct = rest[0]
                version = (rest[1] << 8) | rest[2] if len(rest) >= 3 else None
                out.append(
                    RecordExplanation(
                        offset=offset, content_type=ct, content_type_name=_CONTENT_TYPES[ct],
                        version=version, version_name=reg.version_name(version) if version is not None else "",
                        header_complete=False,
                        notes=(f"only {len(rest)} of the 5 header bytes ({rest.hex(' ')}): "
                               f"a {_CONTENT_TYPES[ct]} record starts here, the rest is missing",),
                    )
                )
            else:
                out.append(_not_tls(offset, rest))
            break
        if not _plausible_tls_header(data, i):
            out.append(_not_tls(offset, data[i:]))
            break
        ct = data[i]
        version = (data[i + 1] << 8) | data[i + 2]
        length = (data[i + 3] << 8) | data[i + 4]
        payload = data[i + 5 : i + 5 + length]
        out.append(_tls_record(offset, ct, version, length, payload, state))
        i += 5 + length
    if state.pending and out:
        out[-1] = _ends_inside(out[-1], bytes(state.pending))
    return out


def _ends_inside(last: RecordExplanation, pending: bytes) -> RecordExplanation:
    """The input stops inside a handshake message: say how much of it is missing."""
    if len(pending) < 4:
        text = f"the input ends inside a handshake message header ({len(pending)} of 4 bytes)"
        return replace(last, notes=(*last.notes, text))
    length = (pending[1] << 16) | (pending[2] << 8) | pending[3]
    have = len(pending) - 4
    text = f"{have} of {length} body bytes present, {length - have} missing: the input ends here"
    msgs = last.messages
    if msgs and not msgs[-1].complete:
        return replace(last, messages=(*msgs[:-1], replace(msgs[-1], summary=text)))
    name = reg.handshake_type_name(pending[0])
    return replace(last, notes=(*last.notes, f"the input ends inside a {name} message: {text}"))


def _not_tls(offset: int, rest: bytes) -> RecordExplanation:
    from handshakes.server_flight import identify_protocol

    head = rest[:8].hex(" ")
    why = f"{head} is not a TLS record header"
    if rest and rest[0] & 0x80:
        kind = f"{rest[2]}" if len(rest) > 2 else "missing"
        why += f" (nor an SSLv2 header: its message type would be 0-8, here it is {kind})"
    elif rest and rest[0] not in _CONTENT_TYPES:
        why += f" (content type {rest[0]} does not exist: 20-24 do)"
    elif len(rest) > 1 and rest[1] != 3:
        why += f" (a TLS version starts with 03, not {rest[1]:02x})"
    protocol = identify_protocol(rest)
    if protocol != "unknown":
        why += f"; it looks like {protocol.upper()}"
    return RecordExplanation(offset=offset, not_tls=True, content_type_name="not TLS", available=len(rest), notes=(why,))


def _tls_record(offset: int, ct: int, version: int, length: int, payload: bytes, state: _State) -> RecordExplanation:
    notes: list[str] = []
    messages: list[MessageExplanation] = []
    name = _CONTENT_TYPES[ct]
    vname = reg.version_name(version)
    encrypted = False
    alert_level = alert_description = None
    truncated = len(payload) < length
    if ct == c.CHANGE_CIPHER_SPEC:
        if state.tls13:
            notes.append("compatibility ChangeCipherSpec (RFC 8446 appendix D.4): no meaning in TLS 1.3")
        else:
            notes.append("the sender switches to the negotiated keys: its next records are encrypted")
            state.encrypted = True
    elif ct == c.ALERT:
        if version >> 8 != 3:
            notes.append(
                f"malformed record: version 0x{version:04x} (every TLS record version starts "
                "with 03), but a 2-byte alert: some CDNs and load balancers send their refusal so, often to a "
                "ClientHello without SNI (the server needs a server name)"
            )
        if length == 2 and len(payload) == 2:
            alert_level, alert_description = payload[0], payload[1]
            notes.append(_alert_note(vname, payload[0], payload[1]))
            if state.encrypted:
                notes.append("(2 bytes long, so readable: an encrypted alert carries a MAC or tag and is longer)")
        elif length == 2:
            notes.append("an alert whose bytes are cut off")
        else:
            encrypted = True
            notes.append(f"encrypted alert ({length} bytes): level and description cannot be read without the keys")
    elif ct == c.HANDSHAKE:
        if state.encrypted or state.tls13:
            encrypted = True
            notes.append(f"encrypted handshake message ({length} bytes; usually Finished)")
        else:
            encrypted = _handshake(payload, state, version, messages, notes)
    elif ct == c.APPLICATION_DATA:
        encrypted = True
        if state.tls13:
            notes.append(
                f"encrypted TLS 1.3 record ({length} bytes): its real type (handshake, alert or "
                "data) is inside the encryption"
            )
        else:
            notes.append(f"encrypted application data ({length} bytes)")
    elif ct == c.HEARTBEAT:
        if payload and not state.encrypted:
            kind = {1: "request", 2: "response"}.get(payload[0], f"type {payload[0]}")
            declared = (payload[1] << 8) | payload[2] if len(payload) >= 3 else None
            text = f"heartbeat {kind} (RFC 6520)"
            if declared is not None:
                text += f", payload_length {declared}"
                if declared + 3 + 16 > length:
                    text += ": longer than the record allows (Heartbleed-style over-read request)"
            notes.append(text)
        else:
            encrypted = True
            notes.append(f"encrypted heartbeat ({length} bytes)")
    if truncated:
        notes.append(f"truncated: {len(payload)} of {length} payload bytes present, {length - len(payload)} missing")
    return RecordExplanation(
        offset=offset, content_type=ct, content_type_name=name, version=version, version_name=vname,
        length=length, available=len(payload), encrypted=encrypted, alert_level=alert_level,
        alert_description=alert_description, messages=tuple(messages), notes=tuple(notes),
    )


def _handshake(
    payload: bytes, state: _State, version: int, messages: list[MessageExplanation], notes: list[str]
) -> bool:
    """Feed one handshake record; returns True when it looks encrypted instead."""
    buf = state.pending if state.pending is not None else bytearray()
    if not buf and payload:
        declared = (payload[1] << 16) | (payload[2] << 8) | payload[3] if len(payload) >= 4 else 0
        if payload[0] not in reg.HANDSHAKE_TYPE_NAMES or declared > c.MAX_HANDSHAKE_MESSAGE:
            notes.append(
                f"encrypted handshake message ({len(payload)} bytes): the bytes do not start "
                "a handshake message (the capture probably began after ChangeCipherSpec)"
            )
            return True
    continuing = bool(buf)
    if continuing and len(buf) >= 4:
        want = ((buf[1] << 16) | (buf[2] << 8) | buf[3]) + 4
        notes.append(
            f"continues a {reg.handshake_type_name(buf[0])} message from an earlier record "
            f"({len(buf)} of {want} bytes before this one)"
        )
    buf += payload
    while len(buf) >= 4:
        length = (buf[1] << 16) | (buf[2] << 8) | buf[3]
        if len(buf) < 4 + length:
            break
        msg_type = buf[0]
        body = bytes(buf[4 : 4 + length])
        del buf[: 4 + length]
        name, summary = _handshake_summary(msg_type, body, state, version)
        messages.append(MessageExplanation(msg_type=msg_type, name=name, length=length, summary=summary))
    if buf:
        if len(buf) >= 4:
            length = (buf[1] << 16) | (buf[2] << 8) | buf[3]
            messages.append(
                MessageExplanation(
                    msg_type=buf[0], name=reg.handshake_type_name(buf[0]), length=length,
                    summary=f"{len(buf) - 4} of {length} body bytes so far; the rest follows in the next record(s)",
                    complete=False,
                )
            )
        state.pending = buf
    else:
        state.pending = None
    return False


# -- the whole story ------------------------------------------------------------------------


def explain(hex_text: str) -> str:
    """A person-readable explanation of hex-encoded TLS bytes (one or more records, or a
    whole captured frame). Never raises: what is not TLS is said to be not TLS, and why."""
    try:
        data = parse_hex(hex_text)
    except ValueError as exc:
        return f"Not TLS: the input is not hex: {exc}."
    if not data:
        return "Not TLS: the input holds no bytes."
    lines = [f"{len(data)} bytes."]
    where = locate_records(data)
    if where is None:
        rec = _not_tls(0, data)
        return "\n".join([*lines, "Not TLS: no TLS or SSLv2 record header anywhere in the input; " + rec.notes[0] + "."])
    if where.how:
        lines.append(where.how.rstrip(".") + ".")
    if where.start >= where.end:
        return "\n".join([*lines, "No TLS bytes to decode."])
    records = decode_records(data[where.start : where.end], base=where.start)
    tls = [r for r in records if not r.not_tls]
    count = counted(len(tls), "record") if tls else "no record"
    lines.append(f"{count} from byte {where.start}:")
    for r in records:
        lines.append(r.describe())
    if where.end < len(data):
        lines.append(f"{len(data) - where.end} trailing bytes after the TCP payload ignored (frame padding).")
    return "\n".join(lines)
