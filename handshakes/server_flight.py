# HandshakeProbe: send one ClientHello, read the server's answer, emit frozen events.
#
#     probe = HandshakeProbe(spec)
#     send(probe.initiate())
#     while not probe.terminal:
#         events = probe.receive_data(recv())      # b"" means the peer closed
#         send(probe.data_to_send())               # the second ClientHello after an HRR
#
# It never completes a key exchange: for TLS 1.3 it uses its own key share and the
# RFC 8446 section 7 key schedule to decrypt the server's flight (EncryptedExtensions ..
# Finished) and stops there. Alerts are events. Bytes that cannot be parsed raise
# RemoteProtocolError (and the probe is then in state FAILED).
from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from handshakes import constants as c
from handshakes import events as ev
from handshakes.client_hello import ClientHelloSpec, encode_client_hello, frame_records
from handshakes.client_hello import build_client_hello as _build
from handshakes.errors import LocalProtocolError, RemoteProtocolError
from handshakes.records import HandshakeBuffer, HandshakeMsg, Record, RecordReader, looks_like_tls

if TYPE_CHECKING:
    from handshakes.keyshare import KeyShare
    from handshakes.tls13 import RecordProtection


class ProbeState(enum.Enum):
    IDLE = "idle"
    WAIT_SERVER_HELLO = "wait_server_hello"
    WAIT_FLIGHT = "wait_flight"  # TLS <= 1.2, until ServerHelloDone
    WAIT_ENCRYPTED_FLIGHT = "wait_encrypted_flight"  # TLS 1.3, until Finished
    COMPLETE = "complete"  # we have what we asked for
    FAILED = "failed"  # fatal alert, not TLS, or unparseable bytes
    CLOSED = "closed"  # the peer closed the connection

    @property
    def terminal(self) -> bool:
        return self in (ProbeState.COMPLETE, ProbeState.FAILED, ProbeState.CLOSED)


# ProbeState.terminal as a tuple test: the hot loops ask it several times per connection,
# and an attribute of an enum member goes through a property call (issue 16).
_TERMINAL = (ProbeState.COMPLETE, ProbeState.FAILED, ProbeState.CLOSED)


class _Cur:
    """A bounds-checked cursor over a message body: a short read is a decode_error."""

    __slots__ = ("b", "i", "what")

    def __init__(self, b: bytes, what: str) -> None:
        self.b = b
        self.i = 0
        self.what = what

    def _need(self, n: int) -> None:
        if self.i + n > len(self.b):
            raise RemoteProtocolError(
                f"truncated {self.what}", alert=c.ALERT_DECODE_ERROR, data=self.b[self.i : self.i + 32]
            )

    def u8(self) -> int:
        self._need(1)
        v = self.b[self.i]
        self.i += 1
        return v

    def u16(self) -> int:
        self._need(2)
        v = (self.b[self.i] << 8) | self.b[self.i + 1]
        self.i += 2
        return v

    def u24(self) -> int:
        self._need(3)
        b, i = self.b, self.i
        self.i += 3
        return (b[i] << 16) | (b[i + 1] << 8) | b[i + 2]

    def take(self, n: int) -> bytes:
        self._need(n)
        v = self.b[self.i : self.i + n]
        self.i += n
        return v

    def vec8(self) -> bytes:
        return self.take(self.u8())

    def vec16(self) -> bytes:
        return self.take(self.u16())

    def vec24(self) -> bytes:
        return self.take(self.u24())

    @property
    def left(self) -> int:
        return len(self.b) - self.i

    def end(self) -> None:
        if self.i != len(self.b):
            raise RemoteProtocolError(
                f"{len(self.b) - self.i} trailing bytes in {self.what}",
                alert=c.ALERT_DECODE_ERROR,
                data=self.b[self.i : self.i + 32],
            )


def parse_extensions(data: bytes, what: str) -> ev.Extensions:
    """(type, body) pairs of an extensions block; RemoteProtocolError when it is cut short."""
    # The common case, a well-formed block, without a cursor object (issue 16: this runs
    # for every ServerHello); a malformed one goes through _parse_extensions for its error.
    out = []
    i, n = 0, len(data)
    while i + 4 <= n:
        j = i + 4 + ((data[i + 2] << 8) | data[i + 3])
        if j > n:
            break
        out.append(((data[i] << 8) | data[i + 1], data[i + 4 : j]))
        i = j
    if i == n:
        return tuple(out)
    return _parse_extensions(data, what)


def _parse_extensions(data: bytes, what: str) -> ev.Extensions:
    cur = _Cur(data, what)
    out = []
    while cur.left:
        t = cur.u16()
        out.append((t, cur.vec16()))
    return tuple(out)


def _u16s(data: bytes, what: str) -> tuple[int, ...]:
    if len(data) % 2:
        raise RemoteProtocolError(f"odd length list in {what}", alert=c.ALERT_DECODE_ERROR, data=data)
    return tuple((data[i] << 8) | data[i + 1] for i in range(0, len(data), 2))


def _dn_list(data: bytes, what: str) -> tuple[bytes, ...]:
    cur = _Cur(data, what)
    out = []
    while cur.left:
        out.append(cur.vec16())
    return tuple(out)


def _alpn(data: bytes) -> str:
    # RFC 7301 section 3.1: the server's list holds exactly one protocol name.
    cur = _Cur(data, "ALPN extension")
    names = _Cur(cur.vec16(), "ALPN list")
    name = names.vec8()
    return name.decode("ascii", "replace")


_ServerHelloFields = tuple[int, bytes, bytes, int, int, ev.Extensions]


def _server_hello_fields(body: bytes) -> _ServerHelloFields | None:
    """The fields of a well-formed ServerHello body by direct indexing (issue 16: the hot
    path of every accepted probe); None when anything is off, for the checked parse."""
    n = len(body)
    if n < 38:
        return None
    sid_end = 35 + body[34]
    if sid_end > 32 + 35 or sid_end + 3 > n:
        return None
    exts: ev.Extensions = ()
    end = sid_end + 3
    if end < n:
        if end + 2 > n:
            return None
        ext_end = end + 2 + ((body[end] << 8) | body[end + 1])
        if ext_end != n:
            return None
        exts = parse_extensions(body[end + 2 : ext_end], "ServerHello extensions")
    return (
        (body[0] << 8) | body[1],
        body[2:34],
        body[35:sid_end],
        (body[sid_end] << 8) | body[sid_end + 1],
        body[sid_end + 2],
        exts,
    )


def _server_hello_fields_checked(body: bytes) -> _ServerHelloFields:
    """_server_hello_fields with a cursor: the same fields, or the exact error."""
    cur = _Cur(body, "ServerHello")
    legacy_version = cur.u16()
    random = cur.take(32)
    session_id = cur.vec8()
    if len(session_id) > 32:
        raise RemoteProtocolError("session id longer than 32 bytes", alert=c.ALERT_ILLEGAL_PARAMETER)
    suite = cur.u16()
    compression = cur.u8()
    exts: ev.Extensions = ()
    if cur.left:
        exts = parse_extensions(cur.vec16(), "ServerHello extensions")
    cur.end()
    return legacy_version, random, session_id, suite, compression, exts


def parse_server_hello(body: bytes) -> ev.ServerHello | ev.HelloRetryRequest:
    """RFC 8446 section 4.1.3 / RFC 5246 section 7.4.1.3."""
    fields = _server_hello_fields(body)
    if fields is None:
        fields = _server_hello_fields_checked(body)
    legacy_version, random, session_id, suite, compression, exts = fields
    ext = dict(exts)
    if random == c.HRR_RANDOM:
        group = None
        if c.EXT_KEY_SHARE in ext:
            ks = ext[c.EXT_KEY_SHARE]
            if len(ks) != 2:
                raise RemoteProtocolError("HRR key_share is not one group", data=ks)
            group = (ks[0] << 8) | ks[1]
        cookie = _Cur(ext[c.EXT_COOKIE], "cookie").vec16() if c.EXT_COOKIE in ext else None
        return ev.HelloRetryRequest(
            cipher_suite=suite, selected_group=group, cookie=cookie, extensions=exts
        )
    version = legacy_version
    if c.EXT_SUPPORTED_VERSIONS in ext:
        sv = ext[c.EXT_SUPPORTED_VERSIONS]
        if len(sv) != 2:
            raise RemoteProtocolError("supported_versions in ServerHello is not 2 bytes", data=sv)
        version = (sv[0] << 8) | sv[1]
    selected_group = None
    if c.EXT_KEY_SHARE in ext:
        ks = ext[c.EXT_KEY_SHARE]
        if len(ks) < 2:
            raise RemoteProtocolError("short key_share in ServerHello", data=ks)
        selected_group = (ks[0] << 8) | ks[1]
    reneg = None
    if c.EXT_RENEGOTIATION_INFO in ext:
        reneg = _Cur(ext[c.EXT_RENEGOTIATION_INFO], "renegotiation_info").vec8()
    tail = random[-8:]
    sentinel = (
        c.TLS12 if tail == c.DOWNGRADE_TLS12 else c.TLS11 if tail == c.DOWNGRADE_TLS11 else None
    )
    return ev.ServerHello(
        version=version,
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cipher_suite=suite,
        compression=compression,
        extensions=exts,
        selected_group=selected_group,
        alpn=_alpn(ext[c.EXT_ALPN]) if c.EXT_ALPN in ext else None,
        renegotiation_info=reneg,
        extended_master_secret=c.EXT_EXTENDED_MASTER_SECRET in ext,
        encrypt_then_mac=c.EXT_ENCRYPT_THEN_MAC in ext,
        session_ticket=c.EXT_SESSION_TICKET in ext,
        status_request=c.EXT_STATUS_REQUEST in ext,
        downgrade_sentinel=sentinel,
    )


def parse_certificate(body: bytes, tls13: bool) -> ev.Certificate:
    """RFC 5246 section 7.4.2, RFC 8446 section 4.4.2. DER stays DER."""
    cur = _Cur(body, "Certificate")
    context = cur.vec8() if tls13 else b""
    entries = _Cur(cur.vec24(), "certificate_list")
    cur.end()
    chain = []
    entry_exts = []
    while entries.left:
        chain.append(entries.vec24())
        if tls13:
            entry_exts.append(parse_extensions(entries.vec16(), "CertificateEntry extensions"))
    return ev.Certificate(
        chain=tuple(chain),
        entry_extensions=tuple(entry_exts),
        request_context=context,
        encrypted=tls13,
    )


def parse_certificate_request(body: bytes, version: int) -> ev.CertificateRequest:
    cur = _Cur(body, "CertificateRequest")
    if version >= c.TLS13:
        # RFC 8446 section 4.3.2
        context = cur.vec8()
        exts = dict(parse_extensions(cur.vec16(), "CertificateRequest extensions"))
        cur.end()
        oid_filters: list[tuple[bytes, bytes]] = []
        if c.EXT_OID_FILTERS in exts:
            fc = _Cur(_Cur(exts[c.EXT_OID_FILTERS], "oid_filters").vec16(), "oid_filters")
            while fc.left:
                oid_filters.append((fc.vec8(), fc.vec16()))

        def sig(t: int) -> tuple[int, ...]:
            return _u16s(_Cur(exts[t], "signature_algorithms").vec16(), "sigalgs") if t in exts else ()

        cas: tuple[bytes, ...] = ()
        if c.EXT_CERTIFICATE_AUTHORITIES in exts:
            raw = _Cur(exts[c.EXT_CERTIFICATE_AUTHORITIES], "certificate_authorities").vec16()
            cas = _dn_list(raw, "certificate_authorities")
        return ev.CertificateRequest(
            signature_algorithms=sig(c.EXT_SIGNATURE_ALGORITHMS),
            signature_algorithms_cert=sig(c.EXT_SIGNATURE_ALGORITHMS_CERT),
            certificate_authorities=cas,
            oid_filters=tuple(oid_filters),
            request_context=context,
            encrypted=True,
        )
    # RFC 5246 section 7.4.4 (the sigalgs field exists from TLS 1.2 on)
    types = tuple(cur.vec8())
    sigalgs: tuple[int, ...] = ()
    if version >= c.TLS12:
        sigalgs = _u16s(cur.vec16(), "CertificateRequest.supported_signature_algorithms")
    dns = _dn_list(cur.vec16(), "certificate_authorities")
    cur.end()
    return ev.CertificateRequest(
        certificate_types=types, signature_algorithms=sigalgs, certificate_authorities=dns
    )


def parse_server_key_exchange(body: bytes, suite: int, version: int) -> ev.ServerKeyExchange:
    """RFC 5246 section 7.4.3 (DHE), RFC 8422 section 5.4 (ECDHE), RFC 4279 (PSK hint)."""
    from handshakes.registry import cipher_suite

    info = cipher_suite(suite)
    kx = info.kx.upper() if info else ""
    cur = _Cur(body, "ServerKeyExchange")
    if "PSK" in kx:
        cur.vec16()  # psk_identity_hint
    sig_scheme = None

    def signature() -> int | None:
        if not cur.left or (info is not None and info.auth in ("anon", "PSK")):
            return None
        scheme = cur.u16() if version >= c.TLS12 else None
        cur.vec16()
        return scheme

    if kx.startswith("ECDH"):
        curve_type = cur.u8()
        if curve_type != 3:  # named_curve; explicit curves are deprecated (RFC 8422 section 5.4)
            return ev.ServerKeyExchange(kind="ecdhe", group=None, raw=body)
        group = cur.u16()
        cur.vec8()
        sig_scheme = signature()
        return ev.ServerKeyExchange(kind="ecdhe", group=group, signature_scheme=sig_scheme, raw=body)
    if kx.startswith("DH") or kx in ("EDH",):
        p = cur.vec16()
        cur.vec16()  # g
        cur.vec16()  # Ys
        sig_scheme = signature()
        p_stripped = p.lstrip(b"\x00")
        return ev.ServerKeyExchange(
            kind="dhe",
            dh_prime=p,
            dh_prime_bits=int.from_bytes(p_stripped, "big").bit_length(),
            signature_scheme=sig_scheme,
            raw=body,
        )
    if kx.startswith("RSA"):
        modulus = cur.vec16()
        cur.vec16()
        sig_scheme = signature()
        return ev.ServerKeyExchange(
            kind="rsa",
            dh_prime_bits=int.from_bytes(modulus, "big").bit_length(),
            signature_scheme=sig_scheme,
            raw=body,
        )
    return ev.ServerKeyExchange(kind="unknown", raw=body)


def parse_encrypted_extensions(body: bytes) -> ev.EncryptedExtensions:
    cur = _Cur(body, "EncryptedExtensions")
    exts = parse_extensions(cur.vec16(), "EncryptedExtensions")
    cur.end()
    d = dict(exts)
    groups: tuple[int, ...] = ()
    if c.EXT_SUPPORTED_GROUPS in d:
        groups = _u16s(_Cur(d[c.EXT_SUPPORTED_GROUPS], "supported_groups").vec16(), "groups")
    rsl = d.get(c.EXT_RECORD_SIZE_LIMIT)
    return ev.EncryptedExtensions(
        extensions=exts,
        alpn=_alpn(d[c.EXT_ALPN]) if c.EXT_ALPN in d else None,
        supported_groups=groups,
        record_size_limit=int.from_bytes(rsl, "big") if rsl and len(rsl) == 2 else None,
        server_name_acknowledged=c.EXT_SERVER_NAME in d,
    )


def parse_sslv2_record(payload: bytes) -> ev.SSLv2ServerHello | ev.SSLv2Error:
    """SSLv2 draft section 2.6: SERVER-HELLO (4) or ERROR (0)."""
    cur = _Cur(payload, "SSLv2 message")
    msg_type = cur.u8()
    if msg_type == 0:
        return ev.SSLv2Error(code=cur.u16())
    if msg_type != 4:
        raise RemoteProtocolError(f"unexpected SSLv2 message type {msg_type}", data=payload)
    hit = cur.u8()
    cert_type = cur.u8()
    version = cur.u16()
    cert_len, specs_len, conn_len = cur.u16(), cur.u16(), cur.u16()
    cert = cur.take(cert_len)
    specs = cur.take(specs_len)
    conn = cur.take(conn_len)
    if specs_len % 3:
        raise RemoteProtocolError("SSLv2 cipher specs not a multiple of 3", data=specs)
    kinds = tuple(int.from_bytes(specs[i : i + 3], "big") for i in range(0, specs_len, 3))
    return ev.SSLv2ServerHello(
        version=version,
        session_id_hit=bool(hit),
        certificate_type=cert_type,
        certificate=cert,
        cipher_kinds=kinds,
        connection_id=conn,
    )


def identify_protocol(data: bytes) -> str:
    """Name the protocol of a non-TLS reply from its first bytes (best effort)."""
    head = data[:64]
    upper = head.upper()
    if upper.startswith(b"HTTP/"):
        return "http"
    if b"<STREAM:STREAM" in upper or b"<STREAM:ERROR" in upper:
        return "xmpp"  # RFC 6120 section 4: a stream header (issue 13)
    if upper.startswith((b"<!DOCTYPE", b"<HTML", b"<?XML")):
        return "html"
    if head.startswith(b"SSH-"):
        return "ssh"
    if head.startswith((b"220", b"421", b"554")):
        if b"FTP" in upper:
            return "ftp"
        if b"SMTP" in upper or b"MAIL" in upper:
            return "smtp"
        return "smtp_or_ftp"
    if head.startswith(b"+OK"):
        return "pop3"
    if head.startswith(b"* OK") or head.startswith(b"* PREAUTH"):
        return "imap"
    if head.startswith(b"RFB "):
        return "vnc"
    if head.startswith((b"-ERR", b"-NOAUTH", b"+PONG")):
        return "redis"
    if head.startswith(b"AMQP"):
        return "amqp"
    if len(head) > 5 and head[3] == 0 and head[4] == 0x0A:
        return "mysql"
    return "unknown"


def _banner_end(head: bytes) -> int | None:
    """Where the evidence of a non-TLS reply ends: after its first line end (looked for
    from the 6th byte on, as a MySQL greeting holds 0x0A at offset 4), or at 64 bytes;
    None while neither has arrived."""
    nl = head.find(b"\n", 5)
    if 0 <= nl < 64:
        return nl + 1
    return 64 if len(head) >= 64 else None


KeyShareSource = Callable[[int], "KeyShare"]


class HandshakeProbe:
    """One ClientHello, one server answer.

    ``read_flight``: False stops at the ServerHello (enough for version and cipher
    enumeration); True reads the whole server flight (certificates, key exchange,
    CertificateRequest; for TLS 1.3 by decrypting it); a callable decides from the
    ServerHello (e.g. "only for a key exchange not seen yet"), since reading a flight
    costs several more reads.
    ``answer_hrr``: after a HelloRetryRequest, send the second ClientHello with a key share
    for the requested group (RFC 8446 section 4.1.4) using ``key_share_for``; when False
    (or when no share can be made for that group) the HRR is the end of the probe.
    ``psk``: for a TLS 1.3 resumption hello, the PSK its pre_shared_key offers; the flight
    is decrypted with it when the ServerHello selects it (RFC 8446 section 7.1).
    """

    # A subclass that goes on reading the connection after the flight (followup.py,
    # renegotiation.py, tls13_resume.py) parses every whole record of each read, as
    # RecordReader.feed does: the records behind the flight's end are consumed with it and
    # a bad header behind it is its reader's pending_error. HandshakeProbe itself stops
    # parsing at its terminal state.
    reads_on = False

    def __init__(
        self,
        spec: ClientHelloSpec,
        *,
        read_flight: bool | Callable[[ev.ServerHello], bool] = True,
        answer_hrr: bool = True,
        key_share_for: KeyShareSource | None = None,
        psk: bytes | None = None,
    ) -> None:
        if spec.random is None and not spec.sslv2:
            spec = dataclasses.replace(spec, random=os.urandom(32))
        self.spec = spec
        self.read_flight = read_flight
        self.answer_hrr = answer_hrr
        self._key_share_for = key_share_for
        # TLS 1.3 resumption: the PSK the spec's pre_shared_key offers (RFC 8446 section
        # 4.2.11), used for the key schedule when the ServerHello selects it.
        self._psk = psk
        self.state = ProbeState.IDLE
        self._records = RecordReader()
        self._hs = HandshakeBuffer()
        self._hs13 = HandshakeBuffer()
        self._outgoing = bytearray()
        self._transcript: list[bytes] = []
        self._head = b""  # first bytes, kept until we know the reply is TLS at all
        self._decided = False
        self._received = 0
        self._messages = 0
        self._warnings = 0
        self._hrr: ev.HelloRetryRequest | None = None
        self._protect: RecordProtection | None = None
        self._offered_shares: dict[int, KeyShare] = {}
        self.server_hello: ev.ServerHello | None = None

    # -- the IO glue's side ------------------------------------------------------------

    @property
    def terminal(self) -> bool:
        return self.state in _TERMINAL

    def initiate(self) -> bytes:
        if self.state is not ProbeState.IDLE:
            raise LocalProtocolError("initiate() called twice")
        self.state = ProbeState.WAIT_SERVER_HELLO
        if self.spec.sslv2:
            return _build(self.spec)
        msg = encode_client_hello(self.spec)
        self._transcript.append(msg)
        for ks in self.spec.key_shares or ():
            self._offered_shares[ks.group] = ks
        return frame_records(c.HANDSHAKE, self.spec.record_version, msg, self.spec.max_fragment)

    def deadline_reached(self) -> list[ev.Event]:
        """The IO layer's read deadline passed: conclude what the buffered bytes allow (a
        reply that is not TLS but too short to name its protocol)."""
        if self.state in _TERMINAL or self._decided or not self._head:
            return []
        not_tls = self._not_tls_or_none()
        if not_tls is None:
            return []
        self.state = ProbeState.FAILED
        return [not_tls]

    def release(self) -> None:
        """Drop the buffers, transcript and keys once the probe is over (the IO glue calls
        it): a probe kept for its spec must not keep up to MAX_FLIGHT_BYTES of a server's
        unfinished bytes with it. The state and ``server_hello`` stay."""
        self._records = RecordReader()
        self._hs = HandshakeBuffer()
        self._hs13 = HandshakeBuffer()
        self._head = b""
        self._transcript = []
        self._protect = None
        self._offered_shares = {}
        self._outgoing.clear()

    def data_to_send(self) -> bytes:
        out = bytes(self._outgoing)
        self._outgoing.clear()
        return out

    def receive_data(self, data: bytes) -> list[ev.Event]:
        """The events ``data`` completes (b"" means the peer closed). The events and the
        final state are the same however the server's bytes are cut into calls. Raises
        RemoteProtocolError for bytes that cannot be parsed; the events parsed before the
        fault in this call travel with it (``exc.events``) and the probe is FAILED."""
        if self.state in _TERMINAL:
            return []
        out: list[ev.Event] = []
        try:
            self._receive(data, out)
        except RemoteProtocolError as exc:
            self.state = ProbeState.FAILED
            exc.events = tuple(out)
            raise
        return out

    # -- internals ---------------------------------------------------------------------

    def _receive(self, data: bytes, out: list[ev.Event]) -> None:
        if not data:
            if not self._decided:
                not_tls = self._not_tls_or_none()
                if not_tls is not None:
                    out.append(not_tls)
            out.append(ev.ConnectionClosed())
            self.state = ProbeState.CLOSED
            return
        # Only the first MAX_FLIGHT_BYTES are ever parsed, however they were cut; a flight
        # not finished within them is an error.
        room = max(c.MAX_FLIGHT_BYTES - self._received, 0)
        self._received += len(data)
        over = len(data) > room
        data = data[:room]
        if not self._decided:
            self._head += data
            if looks_like_tls(self._head[:3]):
                if len(self._head) < 3:
                    return  # too few bytes to tell yet
                self._decided = True
                data, self._head = self._head, b""
            else:
                # Not TLS. Wait for a whole first line or 64 bytes (a reply may arrive as
                # "HTT" + "P/1.1 400 ..."): enough to name the protocol and to show the
                # banner as evidence; a close or the read deadline ends the wait too.
                if _banner_end(self._head) is None:
                    return
                not_tls = self._not_tls_or_none()
                self.state = ProbeState.FAILED
                if not_tls is not None:
                    out.append(not_tls)
                return
        records = self._records
        if self.reads_on:
            for record in records.feed(data):
                self._on_record(record, out)
                if self.state in _TERMINAL:
                    return
            if records.pending_error is not None:
                raise records.pending_error
        else:
            # Record by record, stopping at a terminal state: the records after the one
            # that ends the probe (its ServerHello when read_flight is False) are never
            # parsed (issue 16).
            records.add(data)
            while (next_record := records.next_record()) is not None:
                self._on_record(next_record, out)
                if self.state in _TERMINAL:
                    records.discard()  # nothing reads on: the probe keeps no bytes
                    return
        if over:
            raise RemoteProtocolError(
                f"server sent more than {c.MAX_FLIGHT_BYTES} bytes without finishing its flight",
                alert=c.ALERT_UNEXPECTED_MESSAGE,
            )

    def _not_tls_or_none(self) -> ev.NotTLS | None:
        if looks_like_tls(self._head):
            return None
        # The banner up to its first line end (or 64 bytes): the same evidence however the
        # bytes were cut.
        head = self._head[: _banner_end(self._head) or 64]
        return ev.NotTLS(protocol=identify_protocol(head), first_bytes=head)

    def _on_record(self, record: Record, out: list[ev.Event]) -> None:
        if record.sslv2:
            v2 = parse_sslv2_record(record.payload)
            out.append(v2)
            self.state = ProbeState.COMPLETE if isinstance(v2, ev.SSLv2ServerHello) else ProbeState.FAILED
            return
        ctype = record.content_type
        if ctype == c.ALERT:
            odd = record.version if record.version >> 8 != 3 else None
            self._on_alert(record.payload, out, encrypted=False, odd_record_version=odd)
        elif ctype == c.HANDSHAKE:
            if self.state is ProbeState.WAIT_ENCRYPTED_FLIGHT:
                raise RemoteProtocolError(
                    "plaintext handshake record after a TLS 1.3 ServerHello",
                    alert=c.ALERT_UNEXPECTED_MESSAGE,
                    data=record.payload[:32],
                )
            for msg in self._hs.feed(record.payload):
                self._on_handshake(msg, out, encrypted=False)
                if self.state in _TERMINAL:
                    return
            if self._hs.pending_error is not None:
                raise self._hs.pending_error
        elif ctype == c.CHANGE_CIPHER_SPEC:
            # RFC 8446 section 5 / D.4: a middlebox-compatibility CCS is dropped.
            return
        elif ctype == c.APPLICATION_DATA and self._protect is not None:
            inner_type, plaintext = self._protect.decrypt(record.header, record.payload)
            if inner_type == c.HANDSHAKE:
                for msg in self._hs13.feed(plaintext):
                    self._on_handshake(msg, out, encrypted=True)
                    if self.state in _TERMINAL:
                        return
                if self._hs13.pending_error is not None:
                    raise self._hs13.pending_error
            elif inner_type == c.ALERT:
                self._on_alert(plaintext, out, encrypted=True)
            else:
                raise RemoteProtocolError(
                    f"unexpected inner content type {inner_type} in the server flight",
                    alert=c.ALERT_UNEXPECTED_MESSAGE,
                )
        else:
            raise RemoteProtocolError(
                f"unexpected record type {ctype} during the handshake",
                alert=c.ALERT_UNEXPECTED_MESSAGE,
                data=record.header + record.payload[:16],
            )

    def _on_alert(
        self, payload: bytes, out: list[ev.Event], *, encrypted: bool, odd_record_version: int | None = None
    ) -> None:
        # RFC 8446 section 6: an alert is 2 bytes; several may share a record.
        if len(payload) == 0 or len(payload) % 2:
            raise RemoteProtocolError("malformed alert record", alert=c.ALERT_DECODE_ERROR, data=payload)
        for i in range(0, len(payload), 2):
            alert = ev.Alert(
                level=payload[i], description=payload[i + 1], encrypted=encrypted,
                odd_record_version=odd_record_version,
            )
            if alert.level == c.WARNING and alert.description != c.ALERT_CLOSE_NOTIFY:
                self._warnings += 1
                if self._warnings > c.MAX_WARNING_ALERTS:
                    raise RemoteProtocolError(
                        f"more than {c.MAX_WARNING_ALERTS} warning alerts",
                        alert=c.ALERT_UNEXPECTED_MESSAGE,
                        data=payload[i : i + 2],
                    )
            out.append(alert)
            if alert.level != c.WARNING or alert.description == c.ALERT_CLOSE_NOTIFY:
                self.state = ProbeState.FAILED
                return

    def _count(self, msg: HandshakeMsg) -> None:
        self._messages += 1
        if self._messages > c.MAX_MESSAGES:
            raise RemoteProtocolError("too many handshake messages", alert=c.ALERT_UNEXPECTED_MESSAGE)

    def _on_handshake(self, msg: HandshakeMsg, out: list[ev.Event], *, encrypted: bool) -> None:
        self._count(msg)
        t = msg.msg_type
        if self.state is ProbeState.WAIT_SERVER_HELLO:
            if t == c.HELLO_REQUEST:
                return  # RFC 5246 section 7.4.1.1: ignored while negotiating
            if t != c.SERVER_HELLO:
                raise RemoteProtocolError(
                    f"expected ServerHello, got handshake type {t}",
                    alert=c.ALERT_UNEXPECTED_MESSAGE,
                    data=msg.raw[:32],
                )
            hello = parse_server_hello(msg.body)
            out.append(hello)
            if isinstance(hello, ev.HelloRetryRequest):
                self._on_hrr(hello, msg)
            else:
                self._on_server_hello(hello, msg)
            return
        version = self.server_hello.version if self.server_hello else c.TLS12
        if t == c.CERTIFICATE:
            out.append(parse_certificate(msg.body, tls13=encrypted))
        elif t == c.SERVER_KEY_EXCHANGE and not encrypted:
            suite = self.server_hello.cipher_suite if self.server_hello else 0
            out.append(parse_server_key_exchange(msg.body, suite, version))
        elif t == c.CERTIFICATE_REQUEST:
            out.append(parse_certificate_request(msg.body, c.TLS13 if encrypted else version))
        elif t == c.CERTIFICATE_STATUS and not encrypted:
            cur = _Cur(msg.body, "CertificateStatus")
            status_type = cur.u8()
            out.append(ev.CertificateStatus(status_type=status_type, ocsp_response=cur.vec24()))
        elif t == c.SERVER_HELLO_DONE and not encrypted:
            out.append(ev.ServerHelloDone())
            self.state = ProbeState.COMPLETE
        elif t == c.ENCRYPTED_EXTENSIONS and encrypted:
            out.append(parse_encrypted_extensions(msg.body))
        elif t == c.CERTIFICATE_VERIFY and encrypted:
            out.append(ev.CertificateVerify(signature_scheme=_Cur(msg.body, "CertificateVerify").u16()))
        elif t == c.FINISHED and encrypted:
            out.append(ev.Finished(verify_data=msg.body))
            self.state = ProbeState.COMPLETE
        elif t in (c.SERVER_HELLO, c.CLIENT_HELLO):
            raise RemoteProtocolError(
                f"unexpected handshake type {t} in the server flight",
                alert=c.ALERT_UNEXPECTED_MESSAGE,
                data=msg.raw[:32],
            )
        else:
            out.append(ev.HandshakeMessage(msg_type=t, body=msg.body, encrypted=encrypted))

    def _on_hrr(self, hrr: ev.HelloRetryRequest, msg: HandshakeMsg) -> None:
        if self._hrr is not None:
            # RFC 8446 section 4.1.4: a second HelloRetryRequest is unexpected_message.
            raise RemoteProtocolError("second HelloRetryRequest", alert=c.ALERT_UNEXPECTED_MESSAGE)
        self._hrr = hrr
        group = hrr.selected_group
        if not self.answer_hrr or group is None or self._key_share_for is None:
            self.state = ProbeState.COMPLETE
            return
        if group in self._offered_shares or group not in (self.spec.supported_groups or ()):
            # RFC 8446 section 4.1.4: a group not offered, or one we already sent a share
            # for, must be answered with illegal_parameter.
            raise RemoteProtocolError(
                f"HelloRetryRequest asks for group 0x{group:04X}, which it must not",
                alert=c.ALERT_ILLEGAL_PARAMETER,
                data=msg.raw[:48],
            )
        try:
            share = self._key_share_for(group)
        except LocalProtocolError:
            self.state = ProbeState.COMPLETE
            return
        self._offered_shares = {group: share}
        spec2 = dataclasses.replace(self.spec, key_shares=(share,), cookie=hrr.cookie, grease=False)
        ch2 = encode_client_hello(spec2)
        from handshakes.tls13 import cipher_params, hrr_transcript_prefix

        hash_name = cipher_params(hrr.cipher_suite).hash_name
        self._transcript = [hrr_transcript_prefix(hash_name, self._transcript[0]), msg.raw, ch2]
        # RFC 8446 section D.4: a compatibility CCS is optional; we send none.
        self._outgoing += frame_records(c.HANDSHAKE, c.TLS12, ch2, self.spec.max_fragment)
        self._hs = HandshakeBuffer()

    def _on_server_hello(self, hello: ev.ServerHello, msg: HandshakeMsg) -> None:
        self.server_hello = hello
        self._transcript.append(msg.raw)
        wanted = self.read_flight(hello) if callable(self.read_flight) else self.read_flight
        if not wanted:
            self.state = ProbeState.COMPLETE
            return
        if hello.version != c.TLS13:
            self.state = ProbeState.WAIT_FLIGHT
            return
        share = self._offered_shares.get(hello.selected_group or -1)
        key_exchange = dict(hello.extensions).get(c.EXT_KEY_SHARE, b"")[4:]
        if share is None:
            # The server chose a group we sent no share for: we cannot read further.
            self.state = ProbeState.COMPLETE
            return
        from handshakes.tls13 import (
            RecordProtection,
            cipher_params,
            handshake_secrets,
            transcript_hash,
        )

        shared = share.exchange(key_exchange)
        params = cipher_params(hello.cipher_suite)
        hello_hash = transcript_hash(params.hash_name, *self._transcript)
        psk = self._psk if c.EXT_PRE_SHARED_KEY in dict(hello.extensions) else None
        secrets = handshake_secrets(hello.cipher_suite, shared, hello_hash, psk=psk)
        self._protect = RecordProtection(hello.cipher_suite, secrets.server_handshake_traffic_secret)
        if not self._hs.empty:
            raise RemoteProtocolError(
                "handshake data after ServerHello in the same plaintext record",
                alert=c.ALERT_UNEXPECTED_MESSAGE,
            )
        self.state = ProbeState.WAIT_ENCRYPTED_FLIGHT
