# One TCP connection of a capture, read as TLS from both directions: the segments go through
# TCP reassembly (tcp.py), the bytes through the project's record and handshake readers
# (handshakes.records, handshakes.server_flight, scanner.profiles.hello), and what each side
# sent becomes a ConnectionReport: who spoke, what was offered and chosen, where the
# handshake stopped and who closed it how. With a key log, protected records are opened
# (handshakes.tls13 for TLS 1.3, handshakes.tls12 for TLS 1.0-1.2).
#
# Rules kept: nothing a capture holds raises out of here (bytes that do not parse become a
# note); memory per connection is bounded (partial records, at most _MAX_PLAIN bytes of
# plain text before TLS, at most _MAX_STEPS timeline steps); evidence only, the meaning is
# decided in diagnose.py.
from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from handshakes import constants as c
from handshakes import events as ev
from handshakes import registry as reg
from handshakes.errors import HandshakeError, LocalProtocolError
from handshakes.records import HandshakeBuffer, HandshakeMsg
from handshakes.server_flight import (
    identify_protocol,
    parse_certificate,
    parse_certificate_request,
    parse_server_hello,
)
from scanner.capture.keylog import KeyLog
from scanner.capture.packets import Segment, address_text
from scanner.capture.tcp import Reassembler
from scanner.outcome_text import counted

__all__ = ["AlertSeen", "CertSeen", "ConnectionReport", "ConnectionTracker", "HelloSeen", "Step"]

_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10
_CONTENT = frozenset((c.CHANGE_CIPHER_SPEC, c.ALERT, c.HANDSHAKE, c.APPLICATION_DATA, c.HEARTBEAT))
_MAX_PLAIN = 64 << 10  # plain text kept before TLS starts (STARTTLS dialogues are short)
_MAX_STEPS = 48
_MAX_ALERTS = 16
# A TLS 1.3 protected record holding an alert: 2 bytes, the inner type, a 16-byte tag
# (RFC 8446 section 5.2); without padding every AEAD suite gives 19.
_TLS13_ALERT_SIZE = 2 + 1 + 16

# Where a handshake stopped, in order (docs/capture.md).
STAGES = (
    "tcp",  # no TLS bytes
    "client_hello",
    "server_hello",
    "server_flight",
    "client_flight",
    "complete",
    "application_data",
)
STAGE_TEXT = {
    "tcp": "no TLS handshake started",
    "client_hello": "after the ClientHello: the server never answered it with a ServerHello",
    "server_hello": "after the ServerHello, inside the server's hello flight",
    "server_flight": "after the server's hello flight, before the client's answer",
    "client_flight": "after the client's second flight (its Certificate, key exchange, Finished)",
    "complete": "the handshake completed",
    "application_data": "the handshake completed and application data flowed",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class CertSeen:
    """One certificate as sent: subject, issuer and validity (ISO 8601 UTC) when it decodes."""

    subject: str
    issuer: str
    not_before: str
    not_after: str
    names: tuple[str, ...] = ()  # the SANs (DNS and IP), or the CNs when there is no SAN
    decoded: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class HelloSeen:
    """The client's (last) ClientHello. Codes stay ints; ``versions`` are the versions the
    client offers, newest first; ``extensions`` the extension types in the client's order."""

    legacy_version: int
    versions: tuple[int, ...]
    cipher_suites: tuple[int, ...]
    groups: tuple[int, ...]
    signature_algorithms: tuple[int, ...]
    extensions: tuple[int, ...]
    alpn: tuple[str, ...]
    sni: str | None
    ec_point_formats: tuple[int, ...]
    sslv2: bool = False
    ja3: str = ""
    ja3_hash: str = ""
    ja4: str = ""
    profile: str = ""  # "exact: NAME" / "closest: NAME (n%)" / ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSeen:
    """An alert record. ``level``/``description`` are None while it stays encrypted;
    ``after`` names the last handshake step before it (its position in the handshake)."""

    frame: int
    sender: str  # "client" | "server"
    level: int | None
    description: int | None
    encrypted: bool
    decrypted: bool
    length: int
    after: str

    def text(self) -> str:
        if self.description is None:
            return f"an encrypted alert ({self.length} bytes; its level and description need the keys)"
        level = {1: "warning", 2: "fatal"}.get(self.level or 0, f"level {self.level}")
        how = " (decrypted with the key log)" if self.decrypted else ""
        return f"{level} {reg.alert_name(self.description)} ({self.description}){how}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    frame: int
    sender: str
    what: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionReport:
    """Everything observed about one TCP connection (see docs/capture.md for each field)."""

    number: int
    first_frame: int
    last_frame: int
    start: float
    duration: float
    client: str
    client_port: int
    server: str
    server_port: int
    tls: bool
    starttls: str | None
    not_tls: str | None  # the protocol the server answered with instead of TLS
    starttls_refused: str | None  # the server's reply refusing STARTTLS (e.g. SMTP 454), quoted
    hello: HelloSeen | None
    hello_count: int
    retry_request: bool
    version: int | None
    cipher_suite: int | None
    group: int | None
    alpn: str | None
    server_certificates: tuple[CertSeen, ...]
    leaf_matches_sni: bool | None  # None: no SNI, or no server certificate seen
    certificate_request: bool
    acceptable_cas: tuple[str, ...]
    client_certificates: tuple[CertSeen, ...] | None  # None: no Certificate message seen
    client_certificate_hidden: bool  # TLS 1.3 without keys: a client Certificate may be inside
    stage: str
    alerts: tuple[AlertSeen, ...]
    closed_by: str | None  # "client" | "server" | None (the capture ends first)
    close: str  # "alert" | "fin" | "rst" | "silence"
    close_frame: int | None
    syn_only: bool  # a SYN never answered
    refused: bool  # SYN answered by RST
    keylog: str  # "none" (no --keylog), "missing" (no line for it), "used", "failed"
    steps: tuple[Step, ...]
    notes: tuple[str, ...]
    findings: tuple[Any, ...] = ()  # scanner.results.Finding, set by diagnose.py


@functools.lru_cache(maxsize=1024)
def _decode(der: bytes) -> Any:
    """scanner.x509's CertificateInfo, once per distinct certificate (a capture shows the same
    ones again and again), or None when it does not decode."""
    from scanner.x509 import decode_certificate

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return decode_certificate(der)
    except Exception:  # noqa: BLE001 - a broken certificate is data
        return None


def _cert_seen(der: bytes) -> CertSeen:
    info = _decode(der)
    if info is None:
        return CertSeen(subject="(undecodable)", issuer="", not_before="", not_after="", decoded=False)
    return CertSeen(
        subject=info.subject or "(empty subject)",
        issuer=info.issuer or "(empty issuer)",
        not_before=info.not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        not_after=info.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        names=(*info.san_dns, *info.san_ip) or info.common_names,
    )


def _dn(der: bytes) -> str:
    from scanner.x509 import dn_to_string

    try:
        return dn_to_string(der)
    except Exception:  # noqa: BLE001
        return der.hex()


def _plausible_header(buf: bytes | bytearray, i: int, kinds: tuple[int, ...]) -> bool:
    """A TLS record header at i whose first handshake byte (or alert length) fits ``kinds``
    (handshake types; 0 for "an alert record")."""
    if i + 6 > len(buf) or buf[i + 1] != 3 or buf[i + 2] > 4:
        return False
    length = (buf[i + 3] << 8) | buf[i + 4]
    if buf[i] == c.HANDSHAKE:
        return 0 < length <= c.MAX_RECORD_PAYLOAD and buf[i + 5] in kinds
    return buf[i] == c.ALERT and length == 2 and 0 in kinds


class _Side:
    """One direction: reassembly, then records."""

    __slots__ = (
        "reasm", "mode", "buf", "plain", "hs", "encrypted", "protect", "protect_next",
        "fin", "rst", "bytes", "records", "protected_records", "finished", "role",
    )

    def __init__(self) -> None:
        self.reasm = Reassembler()
        self.mode = "start"  # start | plain | tls | lost | other
        self.buf = bytearray()
        self.plain = bytearray()
        self.hs = HandshakeBuffer()
        self.encrypted = False
        self.protect: Any = None  # a decryptor for the current epoch
        self.protect_next: Any = None  # TLS 1.3: the application-traffic decryptor
        self.fin: int | None = None
        self.rst: int | None = None
        self.bytes = 0
        self.records = 0
        self.protected_records = 0
        self.finished = False
        self.role = ""


@dataclass(slots=True)
class _State:
    hello: Any = None  # CapturedHello
    hello_count: int = 0
    client_random: bytes = b""
    server_random: bytes = b""
    server_hello: Any = None
    retry: bool = False
    stage: int = 0
    server_certs: tuple[CertSeen, ...] = ()
    cert_request: bool = False
    cas: tuple[str, ...] = ()
    client_certs: tuple[CertSeen, ...] | None = None
    alerts: list[AlertSeen] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    starttls: str | None = None
    not_tls: str | None = None
    starttls_refused: str | None = None
    server_plain_frame: int = 0  # the last frame with plain text from the server
    server_plain_at_hello: int | None = None  # the server's plain text bytes when the ClientHello came
    server_after_hello_frame: int | None = None  # the first server plain text after it
    keylog: str = "none"
    hidden_client_flight: bool = False
    server_leaf: bytes = b""


class ConnectionTracker:
    """Feed the segments of one connection (``segment``), then ``report`` once."""

    def __init__(self, number: int, first: Segment, keylog: KeyLog | None) -> None:
        self.number = number
        self.first_frame = first.frame
        self.last_frame = first.frame
        self.start = first.ts
        self.end = first.ts
        self.a = (first.src, first.sport)
        self.b = (first.dst, first.dport)
        self.sides = {self.a: _Side(), self.b: _Side()}
        self.keylog = keylog
        self.st = _State(keylog="none" if keylog is None else "missing")
        self.client: tuple[bytes, int] | None = None
        self.syn_ack = False
        self.syn_seen = False
        if first.flags & _SYN and not first.flags & _ACK:
            self.client = self.a
        elif first.flags & _SYN and first.flags & _ACK:
            self.client = self.b

    @property
    def closed(self) -> bool:
        """Both directions finished (FIN each way) or one reset."""
        sa, sb = self.sides[self.a], self.sides[self.b]
        return sa.rst is not None or sb.rst is not None or (sa.fin is not None and sb.fin is not None)

    # -- segments ---------------------------------------------------------------------------

    def segment(self, seg: Segment) -> None:
        self.last_frame = seg.frame
        self.end = seg.ts
        key = (seg.src, seg.sport)
        side = self.sides.get(key)
        if side is None:
            return
        flags = seg.flags
        if flags & _SYN:
            side.reasm.syn(seg.seq)
            if flags & _ACK:
                self.syn_ack = True
            else:
                self.syn_seen = True
        if seg.payload:
            side.bytes += len(seg.payload)
            data = side.reasm.feed(seg.seq, seg.payload)
            if data:
                self._data(key, side, data, seg.frame)
        if flags & _FIN and side.fin is None:
            side.fin = seg.frame
            self._flush(key, side, seg.frame)
        if flags & _RST and side.rst is None:
            side.rst = seg.frame

    def _flush(self, key: tuple[bytes, int], side: _Side, frame: int) -> None:
        data, holes = side.reasm.flush()
        if holes:
            self.st.notes.append(f"{counted(holes, 'gap')} in the {self._role(key)}'s bytes: the capture lost segments")
        if data:
            self._data(key, side, data, frame)

    def _role(self, key: tuple[bytes, int]) -> str:
        if self.client is None:
            return "client" if key[1] > (self.b if key == self.a else self.a)[1] else "server"
        return "client" if key == self.client else "server"

    def _step(self, frame: int, sender: str, what: str) -> None:
        if len(self.st.steps) < _MAX_STEPS:
            self.st.steps.append(Step(frame=frame, sender=sender, what=what))
        elif len(self.st.steps) == _MAX_STEPS:
            self.st.steps.append(Step(frame=frame, sender="", what="(later steps not listed)"))

    def _advance(self, stage: str) -> None:
        self.st.stage = max(self.st.stage, STAGES.index(stage))

    # -- bytes of one direction ---------------------------------------------------------------

    def _data(self, key: tuple[bytes, int], side: _Side, data: bytes, frame: int) -> None:
        if side.mode in ("lost", "other"):
            return
        if side.mode == "start" and side.reasm.midstream:
            # The capture starts inside this direction's bytes: skip to the first whole
            # record followed by another record header (or by the end of what is here).
            side.plain += data
            at = _resync(bytes(side.plain))
            if at is None:
                if len(side.plain) > _MAX_PLAIN:
                    side.mode = "lost"
                    self.st.notes.append(f"the {self._role(key)}'s first bytes never reach a TLS record boundary")
                return  # wait for more: the record may end in a later segment
            if at:
                self.st.notes.append(f"frame {frame}: {at} bytes of the {self._role(key)}'s first bytes skipped to the first whole TLS record")
            data = bytes(side.plain[at:])
            side.plain = bytearray()
            side.mode = "tls"
        if side.mode == "start":
            probe = bytes(data[:6])
            if probe and probe[0] in _CONTENT and (len(probe) < 2 or probe[1] == 3):
                side.mode = "tls"
            elif probe and probe[0] & 0x80 and len(probe) > 2 and probe[2] == 1:
                side.mode = "tls"  # an SSLv2-framed ClientHello
            else:
                side.mode = "plain"
        if side.mode == "plain":
            self._plain(key, side, data, frame)
            return
        side.buf += data
        self._records(key, side, frame)

    def _plain(self, key: tuple[bytes, int], side: _Side, data: bytes, frame: int) -> None:
        """Plain text before TLS: a STARTTLS dialogue, or another protocol altogether."""
        start = len(side.plain)
        side.plain += data
        if self._role(key) == "server":
            self.st.server_plain_frame = frame
            if self.st.server_plain_at_hello is not None and self.st.server_after_hello_frame is None:
                self.st.server_after_hello_frame = frame
        if start == 0 and self.st.hello is not None and self._role(key) == "server":
            # The client spoke TLS first and the server answers in something else.
            proto = identify_protocol(bytes(data[:64]))
            self.st.not_tls = proto
            self._step(frame, "server", f"not TLS: {bytes(data[:8]).hex(' ')}" + (f" ({proto.upper()})" if proto != "unknown" else ""))
            side.mode = "other"
            return
        # The client's TLS starts with a ClientHello record, the server's with a ServerHello
        # or an alert; both at a line boundary for the text protocols (or anywhere for LDAP).
        kinds = (c.CLIENT_HELLO,) if self._role(key) == "client" or self.client is None else (c.SERVER_HELLO, 0)
        buf = side.plain
        for i in range(max(start - 5, 0), len(buf) - 5):
            if buf[i] in (c.HANDSHAKE, c.ALERT) and _plausible_header(buf, i, kinds):
                if self.client is None and buf[i + 5] == c.CLIENT_HELLO:
                    self.client = key
                text = bytes(buf[:i])
                other = bytes(self.sides[self._other(key)].plain[:256])
                # The server's greeting names most protocols; the commands name the rest.
                proto = "unknown"
                for said in (other, text):
                    if proto == "unknown" and said:
                        proto = identify_protocol(said)
                if proto in ("unknown", "smtp_or_ftp"):
                    proto = _starttls_name(other + b"\n" + text)
                if self.st.starttls is None:
                    self.st.starttls = proto
                    self._step(frame, self._role(key), f"STARTTLS ({proto}): {len(text)} bytes of plain text before TLS")
                    if self._role(key) == "client":
                        self._starttls_answer(self._other(key), text)
                side.mode = "tls"
                side.buf += buf[i:]
                side.plain = bytearray(text[:256])
                self._records(key, side, frame)
                return
        if len(buf) > _MAX_PLAIN:
            side.mode = "other"
            side.plain = bytearray(buf[:256])

    def _starttls_answer(self, server: tuple[bytes, int], client_text: bytes) -> None:
        """The client's ClientHello came after a plain-text dialogue: was the server's last
        reply before it a refusal (SMTP/FTP 4xx or 5xx, RFC 3207 section 4 and RFC 4217
        section 6; IMAP NO/BAD, RFC 9051 section 6.2.1; POP3 -ERR, RFC 2595 section 4; XMPP
        <failure/>, RFC 6120 section 5.4.2.2)? The client sent its ClientHello anyway."""
        plain = self.sides[server].plain
        self.st.server_plain_at_hello = len(plain)
        lines = [ln.strip() for ln in bytes(plain[-512:]).decode("latin-1").splitlines() if ln.strip()]
        said = client_text.strip().rsplit(b"\n", 1)[-1].upper()
        if not lines or not any(cmd in said for cmd in (b"STARTTLS", b"STLS", b"AUTH TLS", b"AUTH SSL")):
            return  # the client's last command was not the request to start TLS
        last = lines[-1]
        if _REFUSAL.match(last) or "<failure" in last:
            self.st.starttls_refused = _quote(last)
            self._step(self.st.server_plain_frame, "server", f"refused STARTTLS: {self.st.starttls_refused}")

    def _records(self, key: tuple[bytes, int], side: _Side, frame: int) -> None:
        buf = side.buf
        role = self._role(key)
        pos = 0
        while len(buf) - pos >= 5 or (buf and buf[0] & 0x80 and side.records == 0 and len(buf) >= 2):
            if side.records == 0 and buf[pos] & 0x80:
                length = ((buf[pos] & 0x7F) << 8) | buf[pos + 1]
                if len(buf) - pos < 2 + length:
                    break
                self._sslv2(key, bytes(buf[pos : pos + 2 + length]), frame)
                pos += 2 + length
                side.records += 1
                continue
            ctype, major = buf[pos], buf[pos + 1]
            length = (buf[pos + 3] << 8) | buf[pos + 4]
            if ctype not in _CONTENT or major != 3 or length > c.MAX_RECORD_PAYLOAD:
                self._lost(key, side, bytes(buf[pos : pos + 8]), frame)
                del buf[:pos]
                return
            if len(buf) - pos < 5 + length:
                break
            header = bytes(buf[pos : pos + 5])
            payload = bytes(buf[pos + 5 : pos + 5 + length])
            pos += 5 + length
            side.records += 1
            try:
                self._record(key, side, role, header, payload, frame)
            except (HandshakeError, ValueError, IndexError) as exc:
                self.st.notes.append(f"frame {frame}: the {role}'s record could not be read: {exc}")
                side.mode = "lost"
                side.buf = bytearray()
                return
        if pos:
            del buf[:pos]

    def _lost(self, key: tuple[bytes, int], side: _Side, head: bytes, frame: int) -> None:
        role = self._role(key)
        if side.records == 0:
            proto = identify_protocol(bytes(side.buf[:64]))
            if role == "server":
                self.st.not_tls = proto
            self._step(frame, role, f"not TLS: {head.hex(' ')}" + (f" ({proto.upper()})" if proto != "unknown" else ""))
        else:
            self.st.notes.append(
                f"frame {frame}: the {role}'s bytes stop being TLS records ({head.hex(' ')}): "
                "segments missing from the capture, or the stream was not TLS after all"
            )
        side.mode = "lost"

    def _sslv2(self, key: tuple[bytes, int], record: bytes, frame: int) -> None:
        from scanner.profiles.hello import parse_client_hello

        if self.client is None:
            self.client = key
        try:
            hello = parse_client_hello(record)
        except ValueError as exc:
            self.st.notes.append(f"frame {frame}: an SSLv2 record that is not a CLIENT-HELLO ({exc})")
            return
        self.st.hello = hello
        self.st.hello_count += 1
        self._advance("client_hello")
        self._step(frame, "client", "ClientHello (SSLv2-compatible framing)")

    # -- one record ----------------------------------------------------------------------------

    def _record(self, key: tuple[bytes, int], side: _Side, role: str, header: bytes, payload: bytes, frame: int) -> None:
        ctype = header[0]
        tls13 = self._version() == c.TLS13
        if ctype == c.CHANGE_CIPHER_SPEC:
            if tls13 or self.st.retry or (self.st.server_hello is None and self.st.hello is not None):
                # RFC 8446 appendix D.4: a compatibility record with no meaning (after a
                # HelloRetryRequest it comes before any ServerHello; in TLS 1.2 it never does).
                return
            side.encrypted = True
            self._step(frame, role, "ChangeCipherSpec")
            self._keys12(side, role)
            return
        if side.encrypted or (tls13 and ctype == c.APPLICATION_DATA):
            self._protected(key, side, role, header, payload, frame)
            return
        if ctype == c.ALERT:
            if len(payload) == 2:
                self._alert(role, payload[0], payload[1], frame, encrypted=False, decrypted=False, length=2)
            else:
                self._alert(role, None, None, frame, encrypted=True, decrypted=False, length=len(payload))
            return
        if ctype == c.HANDSHAKE:
            for msg in side.hs.feed(payload):
                self._handshake(key, side, role, msg, frame, encrypted=False)
            return
        if ctype == c.APPLICATION_DATA:
            self._advance("application_data")
            if self.st.steps and self.st.steps[-1].what.startswith("application data") and self.st.steps[-1].sender == role:
                return
            self._step(frame, role, "application data")

    def _version(self) -> int | None:
        sh = self.st.server_hello
        return sh.version if sh is not None else None

    def _handshake(self, key: tuple[bytes, int], side: _Side, role: str, msg: HandshakeMsg, frame: int, *, encrypted: bool) -> None:
        t = msg.msg_type
        name = reg.handshake_type_name(t)
        lock = " (decrypted)" if encrypted else ""
        version = self._version() or c.TLS12
        if t == c.CLIENT_HELLO:
            from scanner.profiles.hello import parse_client_hello

            if self.client is None:
                self.client = key
            role = "client"
            self.st.hello = parse_client_hello(msg.raw)
            self.st.client_random = msg.body[2:34]
            self.st.hello_count += 1
            self._advance("client_hello")
            sni = self.st.hello.server_name()
            self._step(frame, role, "ClientHello" + (f" (SNI {sni})" if sni else " (no SNI)"))
            return
        if t == c.SERVER_HELLO:
            if self.client is None:
                self.client = (self.b if key == self.a else self.a)
            role = "server"
            hello = parse_server_hello(msg.body)
            if isinstance(hello, ev.HelloRetryRequest):
                self.st.retry = True
                group = reg.group_name(hello.selected_group) if hello.selected_group is not None else "none"
                self._step(frame, role, f"HelloRetryRequest (wants a key share for {group})")
                return
            self.st.server_hello = hello
            self.st.server_random = hello.random
            self._advance("server_hello")
            self._step(
                frame, role,
                f"ServerHello: {reg.version_name(hello.version)}, {reg.cipher_suite_name(hello.cipher_suite)}",
            )
            if hello.version == c.TLS13:
                self._keys13()
            return
        if t == c.CERTIFICATE:
            cert = parse_certificate(msg.body, version == c.TLS13)
            seen = tuple(_cert_seen(d) for d in cert.chain)
            if role == "server":
                self.st.server_certs = seen
                self.st.server_leaf = cert.chain[0] if cert.chain else b""
                self._step(frame, role, f"Certificate{lock}: {counted(len(seen), 'certificate')}" + (f", {seen[0].subject!r}" if seen else ""))
            else:
                self.st.client_certs = seen
                self._advance("client_flight")
                self._step(frame, role, f"Certificate{lock}: " + (f"{counted(len(seen), 'certificate')}, {seen[0].subject!r}" if seen else "empty (no client certificate)"))
            return
        if t == c.CERTIFICATE_REQUEST:
            req = parse_certificate_request(msg.body, version)
            self.st.cert_request = True
            self.st.cas = tuple(_dn(d) for d in req.certificate_authorities)
            self._step(frame, role, f"CertificateRequest{lock}: {counted(len(self.st.cas), 'acceptable CA')}")
            return
        if t == c.SERVER_HELLO_DONE:
            self._advance("server_flight")
            self._step(frame, role, "ServerHelloDone")
            return
        if t == c.FINISHED:
            side.finished = True
            self._step(frame, role, f"Finished{lock}")
            if role == "server" and version == c.TLS13:
                self._advance("server_flight")
                if side.protect_next is not None:
                    side.protect, side.protect_next = side.protect_next, None
            elif role == "client":
                self._advance("client_flight")
                if version == c.TLS13 and side.protect_next is not None:
                    side.protect, side.protect_next = side.protect_next, None
            # TLS 1.2: both Finished, in either order (an abbreviated handshake has the
            # server's first, RFC 5246 section 7.3). TLS 1.3 is complete once the server
            # goes on after the client's Finished without an alert (_inner, _opaque13).
            if version != c.TLS13 and self.sides[self._other(key)].finished:
                self._advance("complete")
            return
        if t in (c.CLIENT_KEY_EXCHANGE, 15):  # 15: CertificateVerify
            if role == "client":
                self._advance("client_flight")
            self._step(frame, role, f"{name}{lock}")
            return
        if t == c.NEW_SESSION_TICKET and version == c.TLS13:
            self._advance("complete")
        if t != c.HELLO_REQUEST:
            self._step(frame, role, f"{name}{lock}")

    def _other(self, key: tuple[bytes, int]) -> tuple[bytes, int]:
        return self.b if key == self.a else self.a

    def _alert(self, role: str, level: int | None, desc: int | None, frame: int, *, encrypted: bool, decrypted: bool, length: int) -> None:
        after = self.st.steps[-1].what if self.st.steps else "the start of the connection"
        after_by = self.st.steps[-1].sender if self.st.steps else ""
        alert = AlertSeen(
            frame=frame, sender=role, level=level, description=desc, encrypted=encrypted,
            decrypted=decrypted, length=length, after=f"the {after_by}'s {after}" if after_by else after,
        )
        if len(self.st.alerts) < _MAX_ALERTS:
            self.st.alerts.append(alert)
        self._step(frame, role, "Alert: " + alert.text())

    # -- protected records ------------------------------------------------------------------

    def _keys13(self) -> None:
        if self.keylog is None or self.client is None:
            return
        cr = self.st.client_random
        suite = self.st.server_hello.cipher_suite
        from handshakes.tls13 import RecordProtection

        pairs = (
            ("client", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"),
            ("server", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"),
        )
        for role, hs_label, app_label in pairs:
            side = self.sides[self.client if role == "client" else self._other(self.client)]
            hs, app = self.keylog.secret(cr, hs_label), self.keylog.secret(cr, app_label)
            try:
                side.protect = RecordProtection(suite, hs) if hs else None
                side.protect_next = RecordProtection(suite, app) if app else None
            except HandshakeError as exc:
                self.st.notes.append(f"the key log cannot be used: {exc}")
                self.st.keylog = "failed"
                return
            if hs:
                self.st.keylog = "used"

    def _keys12(self, side: _Side, role: str) -> None:
        if self.keylog is None or self.st.server_hello is None:
            return
        ms = self.keylog.secret(self.st.client_random, "CLIENT_RANDOM")
        if ms is None:
            return
        from handshakes.tls12 import Tls12RecordDecryptor

        sh = self.st.server_hello
        try:
            side.protect = Tls12RecordDecryptor(
                version=sh.version, suite=sh.cipher_suite, master_secret=ms,
                client_random=self.st.client_random, server_random=self.st.server_random,
                client_side=role == "client", encrypt_then_mac=sh.encrypt_then_mac,
            )
            self.st.keylog = "used"
        except LocalProtocolError as exc:
            self.st.keylog = "failed"
            self.st.notes.append(f"the key log has the master secret, but {exc}")

    def _protected(self, key: tuple[bytes, int], side: _Side, role: str, header: bytes, payload: bytes, frame: int) -> None:
        side.protected_records += 1
        tls13 = self._version() == c.TLS13
        if side.protect is not None:
            opened = self._open(side, header, payload, tls13)
            if opened is not None:
                ctype, plain = opened
                self._inner(key, side, role, ctype, plain, frame)
                return
            self.st.keylog = "failed"
            self.st.notes.append(f"frame {frame}: a {role} record does not decrypt with the key log's secrets")
            side.protect = side.protect_next = None
        ctype = header[0]
        if tls13:
            self._opaque13(role, len(payload), frame)
            return
        if ctype == c.ALERT:
            self._alert(role, None, None, frame, encrypted=True, decrypted=False, length=len(payload))
        elif ctype == c.HANDSHAKE:
            self._step(frame, role, f"encrypted handshake message ({len(payload)} bytes: its Finished)")
            side.finished = True
            if role == "client":
                self._advance("client_flight")
            if self.sides[self._other(key)].finished:
                self._advance("complete")
        elif ctype == c.APPLICATION_DATA:
            self._advance("application_data")
            if not (self.st.steps and self.st.steps[-1].what == "application data" and self.st.steps[-1].sender == role):
                self._step(frame, role, "application data")

    def _open(self, side: _Side, header: bytes, payload: bytes, tls13: bool) -> tuple[int, bytes] | None:
        for attempt in range(2):
            try:
                if tls13:
                    ctype, plain = side.protect.decrypt(header, payload)
                    return int(ctype), bytes(plain)
                return header[0], bytes(side.protect.decrypt(header, payload))
            except HandshakeError:
                # TLS 1.3: the sender may have moved to its application keys already.
                if attempt or side.protect_next is None:
                    return None
                side.protect, side.protect_next = side.protect_next, None
        return None

    def _inner(self, key: tuple[bytes, int], side: _Side, role: str, ctype: int, plain: bytes, frame: int) -> None:
        if ctype == c.ALERT and len(plain) >= 2:
            self._alert(role, plain[0], plain[1], frame, encrypted=True, decrypted=True, length=len(plain))
        elif ctype == c.HANDSHAKE:
            buf = side.hs
            try:
                for msg in buf.feed(plain):
                    self._handshake(key, side, role, msg, frame, encrypted=True)
            except (HandshakeError, ValueError, IndexError) as exc:
                self.st.notes.append(f"frame {frame}: a decrypted {role} message could not be read: {exc}")
        elif ctype == c.APPLICATION_DATA:
            self._advance("application_data")
            if not (self.st.steps and self.st.steps[-1].what == "application data (decrypted)" and self.st.steps[-1].sender == role):
                self._step(frame, role, "application data (decrypted)")

    def _opaque13(self, role: str, length: int, frame: int) -> None:
        """A TLS 1.3 protected record without keys: its type is hidden (RFC 8446 section 5.2).
        The order tells most: the server's first ones are its flight, the client's first
        ones its Finished (and Certificate); after those, a 19-byte record is an alert's size."""
        side = self.sides[self.client] if role == "client" and self.client else None
        if role == "server" and self.st.stage < STAGES.index("server_flight"):
            self._advance("server_flight")
            self._step(frame, role, "encrypted handshake flight (EncryptedExtensions .. Finished)")
            return
        if role == "client" and side is not None and not side.finished:
            side.finished = True
            self.st.hidden_client_flight = True
            self._advance("client_flight")
            self._step(frame, role, "encrypted client flight (its Certificate if asked, Finished)")
            return
        if length == _TLS13_ALERT_SIZE:
            self._alert(role, None, None, frame, encrypted=True, decrypted=False, length=length)
            return
        last = self.st.steps[-1] if self.st.steps else None
        if last is not None and last.sender == role and last.what.startswith("encrypted") and "alert" not in last.what:
            return  # more records of the same flight
        if role == "server" and self.st.stage == STAGES.index("client_flight"):
            self._advance("complete")
        self._step(frame, role, "encrypted records (session tickets or application data)")

    # -- the end ----------------------------------------------------------------------------------

    def report(self) -> ConnectionReport:
        for key, side in self.sides.items():
            if side.fin is None and side.rst is None:
                self._flush(key, side, self.last_frame)
        st = self.st
        client = self.client or (self.a if self.a[1] > self.b[1] else self.b)
        server = self._other(client)
        cside, sside = self.sides[client], self.sides[server]
        # Who closed first: a fatal alert, a close_notify (RFC 8446 section 6.1, RFC 5246
        # section 7.2.1), an alert still encrypted (normally one of those two), a FIN or a RST,
        # whichever frame came first. The same with or without the key log: decrypting a
        # close_notify (a warning) must not hand the close to the other side's later FIN.
        events: list[tuple[int, str, str]] = []
        for a in st.alerts:
            if a.level == 2 or a.description == 0 or (a.level is None and a.sender):
                events.append((a.frame, a.sender, "alert"))
        for role, side in (("client", cside), ("server", sside)):
            if side.fin is not None:
                events.append((side.fin, role, "fin"))
            if side.rst is not None:
                events.append((side.rst, role, "rst"))
        events.sort(key=lambda e: (e[0], {"alert": 0, "fin": 1, "rst": 2}[e[2]]))
        if events:
            close_frame, closed_by, close = events[0]
        else:
            close_frame, closed_by, close = None, None, "silence"
        if closed_by is not None:
            for role, side in (("client", cside), ("server", sside)):
                if side.fin is not None:
                    self._step(side.fin, role, "FIN")
                if side.rst is not None:
                    self._step(side.rst, role, "RST")
        at = st.server_plain_at_hello
        if at is not None and sside.mode in ("plain", "other") and len(sside.plain) > at and st.not_tls is None:
            # The server answered the ClientHello in plain text (a STARTTLS it refused).
            after = bytes(sside.plain[at:])
            st.not_tls = identify_protocol(after[:64])
            first = after.decode("latin-1").strip().splitlines()[0] if after.strip() else ""
            self._step(st.server_after_hello_frame or self.last_frame, "server", f"not TLS: {_quote(first)}")
        if cside.reasm.midstream or sside.reasm.midstream:
            st.notes.append("the capture starts after the connection did (no SYN): earlier bytes are missing")
        hello = _hello_seen(st.hello) if st.hello is not None else None
        sh = st.server_hello
        tls = hello is not None or sh is not None or cside.mode == "tls" or sside.mode == "tls" or bool(cside.records or sside.records)
        steps = sorted(st.steps, key=lambda s: s.frame)
        return ConnectionReport(
            number=self.number,
            first_frame=self.first_frame,
            last_frame=self.last_frame,
            start=self.start,
            duration=max(self.end - self.start, 0.0),
            client=address_text(client[0]),
            client_port=client[1],
            server=address_text(server[0]),
            server_port=server[1],
            tls=tls,
            starttls=st.starttls,
            not_tls=st.not_tls,
            starttls_refused=st.starttls_refused,
            hello=hello,
            hello_count=st.hello_count,
            retry_request=st.retry,
            version=sh.version if sh is not None else None,
            cipher_suite=sh.cipher_suite if sh is not None else None,
            group=sh.selected_group if sh is not None else None,
            alpn=sh.alpn if sh is not None else None,
            server_certificates=st.server_certs,
            leaf_matches_sni=self._leaf_matches(hello),
            certificate_request=st.cert_request,
            acceptable_cas=st.cas,
            client_certificates=st.client_certs,
            client_certificate_hidden=st.hidden_client_flight and st.client_certs is None,
            stage=STAGES[st.stage],
            alerts=tuple(st.alerts),
            closed_by=closed_by,
            close=close,
            close_frame=close_frame,
            syn_only=self.syn_seen and not self.syn_ack and not (cside.bytes or sside.bytes),
            refused=self.syn_seen and not self.syn_ack and sside.rst is not None,
            keylog=st.keylog,
            steps=tuple(steps),
            notes=tuple(dict.fromkeys(st.notes)),
        )


    def _leaf_matches(self, hello: HelloSeen | None) -> bool | None:
        """Does the server's certificate name the SNI the client sent (RFC 6125 section 6.4,
        scanner.x509.match_hostname, as a scan checks it)?"""
        if hello is None or not hello.sni or not self.st.server_leaf:
            return None
        info = _decode(self.st.server_leaf)
        if info is None:
            return None
        from scanner.x509 import match_hostname

        return match_hostname(info, hello.sni)[0]


def _resync(data: bytes) -> int | None:
    """The first offset in ``data`` where a plausible TLS record header starts whose record
    ends exactly at another plausible header or at the end of ``data``; None if none does."""
    for i in range(min(len(data), c.MAX_RECORD_PAYLOAD + 5)):
        if i + 5 > len(data) or data[i] not in _CONTENT or data[i + 1] != 3 or data[i + 2] > 4:
            continue
        end = i + 5 + ((data[i + 3] << 8) | data[i + 4])
        if end == len(data) or (end + 3 <= len(data) and data[end] in _CONTENT and data[end + 1] == 3 and data[end + 2] <= 4):
            return i
    return None


# A reply refusing a request: SMTP/FTP 4xx or 5xx, an IMAP tagged NO/BAD, POP3 -ERR.
_REFUSAL = re.compile(r"^(?:[45]\d\d(?:[ -]|$)|-ERR\b|\S+ (?:NO|BAD)\b)")


def _quote(line: str) -> str:
    """A line of the peer's text, quoted for the user: printable, at most 120 characters."""
    text = "".join(ch if ch.isprintable() else "?" for ch in line)
    return repr(text[:120] + ("..." if len(text) > 120 else ""))


def _starttls_name(text: bytes) -> str:
    upper = text.upper()
    if b"STARTTLS" in upper and (b"EHLO" in upper or b"HELO" in upper):
        return "smtp"
    if b"STARTTLS" in upper:
        return "imap" if b"* OK" in upper or b"CAPABILITY" in upper else "starttls"
    if b"STLS" in upper:
        return "pop3"
    if b"AUTH TLS" in upper:
        return "ftp"
    if b"1.3.6.1.4.1.1466.20037" in text:
        return "ldap"
    if b"<starttls" in text:
        return "xmpp"
    return "unknown"


# (JA3, its hash, JA4, profile) by hello shape: everything but the random, session id, key
# shares and PSK, which one client repeats for every connection. Bounded: cleared when full.
_NAMES: dict[tuple[Any, ...], tuple[str, str, str, str]] = {}
_MAX_NAMES = 4096


def _names(hello: Any) -> tuple[str, str, str, str]:
    from scanner.capture.fingerprint import ja3, ja4, name_client

    shape = (
        hello.legacy_version, hello.cipher_suites,
        tuple((t, b) for t, b in hello.extensions if t not in (c.EXT_KEY_SHARE, c.EXT_PRE_SHARED_KEY, 21)),
        tuple(t for t, _ in hello.extensions),
    )
    found = _NAMES.get(shape)
    if found is None:
        if len(_NAMES) >= _MAX_NAMES:
            _NAMES.clear()
        j3, j3h = ja3(hello)
        found = _NAMES[shape] = (j3, j3h, ja4(hello), name_client(hello))
    return found


def _hello_seen(hello: Any) -> HelloSeen:
    sv = hello.supported_versions()
    versions = hello.versions(None) if sv is not None else (hello.legacy_version,)
    j3, j3h, j4, profile = _names(hello)
    return HelloSeen(
        legacy_version=hello.legacy_version,
        versions=tuple(versions),
        cipher_suites=hello.cipher_suites,
        groups=hello.groups(),
        signature_algorithms=hello.signature_algorithms(),
        extensions=tuple(t for t, _ in hello.extensions),
        alpn=hello.alpn(),
        sni=hello.server_name(),
        ec_point_formats=hello.ec_point_formats(),
        sslv2=hello.sslv2,
        ja3=j3,
        ja3_hash=j3h,
        ja4=j4,
        profile=profile,
    )

