# TLS 1.3 session resumption, far enough to see whether a server takes 0-RTT early data.
#
# TicketProbe completes a TLS 1.3 handshake (RFC 8446 section 4.4.4: the client's Finished
# under the client handshake traffic secret), then reads the server's NewSessionTicket
# messages (section 4.6.1) under the server application traffic secret and derives each
# ticket's resumption PSK (section 4.6.1: HKDF-Expand-Label(resumption_master_secret,
# "resumption", ticket_nonce, Hash.length)). resumption_hello() builds the ClientHello that
# offers that PSK with the early_data extension and a correct binder (section 4.2.11.2);
# HandshakeProbe(..., psk=) then reads the server's answer: an early_data extension in its
# EncryptedExtensions means the early data would have been accepted (section 4.2.10).
#
# Rules kept: sans-IO; no early data is ever sent (an application request sent as early
# data could be replayed: the test only asks whether the server would take it); no
# certificate is checked, nothing secret is sent; everything read is bounded.
from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass

from handshakes import constants as c
from handshakes import events as ev
from handshakes.client_hello import ClientHelloSpec, encode_client_hello
from handshakes.errors import LocalProtocolError, RemoteProtocolError
from handshakes.records import HandshakeBuffer, HandshakeMsg
from handshakes.server_flight import HandshakeProbe, KeyShareSource, ProbeState
from handshakes.tls13 import (
    RecordProtection,
    cipher_params,
    derive_secret,
    early_secret,
    finished_verify_data,
    handshake_secrets,
    hkdf_expand_label,
    hkdf_extract,
    transcript_hash,
)

NEW_SESSION_TICKET = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticket:
    """A TLS 1.3 NewSessionTicket (RFC 8446 section 4.6.1) and the PSK it stands for.

    ``max_early_data`` is the early_data extension's max_early_data_size, None when the
    ticket has no early_data extension (the server offers no 0-RTT with it)."""

    suite: int
    ticket: bytes
    age_add: int
    lifetime: int
    psk: bytes
    max_early_data: int | None


def parse_new_session_ticket(body: bytes) -> tuple[int, int, bytes, bytes, int | None]:
    """(lifetime, age_add, nonce, ticket, max_early_data) of a NewSessionTicket body."""
    try:
        lifetime, age_add = struct.unpack(">II", body[:8])
        i = 8
        nonce = body[i + 1 : i + 1 + body[i]]
        i += 1 + body[i]
        n = int.from_bytes(body[i : i + 2], "big")
        ticket = body[i + 2 : i + 2 + n]
        i += 2 + n
        exts_len = int.from_bytes(body[i : i + 2], "big")
        exts = body[i + 2 : i + 2 + exts_len]
    except (struct.error, IndexError) as exc:
        raise RemoteProtocolError("truncated NewSessionTicket", alert=c.ALERT_DECODE_ERROR) from exc
    if len(ticket) != n or not ticket or len(exts) != exts_len:
        raise RemoteProtocolError("malformed NewSessionTicket", alert=c.ALERT_DECODE_ERROR)
    max_early: int | None = None
    j = 0
    while j + 4 <= len(exts):
        t, ln = struct.unpack(">HH", exts[j : j + 4])
        if t == c.EXT_EARLY_DATA and ln == 4:
            max_early = int.from_bytes(exts[j + 4 : j + 8], "big")
        j += 4 + ln
    return lifetime, age_add, nonce, ticket, max_early


class TicketProbe(HandshakeProbe):
    """Complete a TLS 1.3 handshake and collect the server's session tickets.

    Ends after the first NewSessionTicket (``tickets`` holds it), an alert, the close, or
    MAX_TICKET_READ bytes (no more is parsed). A HelloRetryRequest or a flight that cannot be read ends the probe
    with no ticket (``completed`` False).
    """

    reads_on = True  # reads past the flight: every record of a read is parsed (server_flight.py)

    def __init__(self, spec: ClientHelloSpec, *, key_share_for: KeyShareSource | None = None) -> None:
        super().__init__(spec, read_flight=True, answer_hrr=False, key_share_for=key_share_for)
        self._raw: list[bytes] = []
        self._reading_tickets = False
        self._done = False
        self._server_app: RecordProtection | None = None
        self._res_master = b""
        self._app_hs = HandshakeBuffer()
        self._bytes = 0
        self._cert_request_context: bytes | None = None
        self.completed = False
        self.tickets: list[Ticket] = []

    @property
    def terminal(self) -> bool:
        return self._done if self._reading_tickets else self.state.terminal

    def _on_handshake(self, msg: HandshakeMsg, out: list[ev.Event], *, encrypted: bool) -> None:
        self._raw.append(msg.raw)
        super()._on_handshake(msg, out, encrypted=encrypted)
        if encrypted and msg.msg_type == c.CERTIFICATE_REQUEST and msg.body:
            self._cert_request_context = msg.body[1 : 1 + msg.body[0]]

    def receive_data(self, data: bytes) -> list[ev.Event]:
        if not self._reading_tickets:
            events = super().receive_data(data)
            if self.state is ProbeState.COMPLETE and any(isinstance(e, ev.Finished) for e in events):
                self._finish()
            return events
        if self._done:
            return []
        if not data:
            self._done = True
            return [ev.ConnectionClosed()]
        # The cap is applied before parsing: no more than MAX_TICKET_READ bytes are parsed.
        room = MAX_TICKET_READ - self._bytes
        data = data[: max(room, 0)]
        self._bytes += len(data)
        out: list[ev.Event] = []
        try:
            for rec in self._records.feed(data):
                self._on_app_record(rec.header, rec.content_type, rec.payload, out)
                if self._done:
                    break
        except RemoteProtocolError:
            # After the handshake, as in followup.py: what cannot be read ends the reading
            # as an event with a length; the server's bytes are not kept.
            self._done = True
            out.append(ev.UnreadableReaction(length=len(data)))
        if self._bytes >= MAX_TICKET_READ:
            self._done = True
        return out

    def _finish(self) -> None:
        sh = self.server_hello
        if sh is None or self._hrr is not None or sh.version != c.TLS13:
            return
        share = self._offered_shares.get(sh.selected_group or -1)
        if share is None:
            return
        suite = sh.cipher_suite
        params = cipher_params(suite)
        name = params.hash_name
        client_hello = self._transcript[0]
        shared = share.exchange(dict(sh.extensions)[c.EXT_KEY_SHARE][4:])
        hs = handshake_secrets(suite, shared, transcript_hash(name, client_hello, *self._raw[:1]))
        # RFC 8446 section 7.1: Master Secret = HKDF-Extract(Derive-Secret(hs, "derived", ""), 0)
        derived = derive_secret(name, hs.handshake_secret, b"derived", transcript_hash(name))
        master = hkdf_extract(name, derived, bytes(params.hash_len))
        through_server_finished = transcript_hash(name, client_hello, *self._raw)
        server_app = derive_secret(name, master, b"s ap traffic", through_server_finished)
        client_hs = RecordProtection(suite, hs.client_handshake_traffic_secret)
        mine: list[bytes] = []
        if self._cert_request_context is not None:
            # RFC 8446 section 4.4.2: asked for a certificate, the client sends a Certificate
            # message, empty when it has none (request_context echoed).
            ctx = self._cert_request_context
            body = bytes((len(ctx),)) + ctx + b"\x00\x00\x00"
            mine.append(bytes((c.CERTIFICATE,)) + len(body).to_bytes(3, "big") + body)
        verify = finished_verify_data(
            suite, hs.client_handshake_traffic_secret, transcript_hash(name, client_hello, *self._raw, *mine)
        )
        finished = bytes((c.FINISHED,)) + len(verify).to_bytes(3, "big") + verify
        for message in (*mine, finished):
            self._outgoing += client_hs.encrypt(c.HANDSHAKE, message)
        self._res_master = derive_secret(
            name, master, b"res master", transcript_hash(name, client_hello, *self._raw, *mine, finished)
        )
        self._server_app = RecordProtection(suite, server_app)
        self._reading_tickets = True
        self.completed = True

    def _on_app_record(self, header: bytes, content_type: int, payload: bytes, out: list[ev.Event]) -> None:
        if content_type == c.CHANGE_CIPHER_SPEC:
            return  # RFC 8446 section 5: a compatibility CCS is dropped
        if content_type == c.ALERT and len(payload) == 2:
            out.append(ev.Alert(level=payload[0], description=payload[1]))
            self._done = True
            return
        if content_type != c.APPLICATION_DATA or self._server_app is None:
            raise RemoteProtocolError(
                f"unexpected record type {content_type} after the handshake", alert=c.ALERT_UNEXPECTED_MESSAGE
            )
        inner, plaintext = self._server_app.decrypt(header, payload)
        if inner == c.ALERT:
            out.append(ev.Alert(level=plaintext[0], description=plaintext[1], encrypted=True)
                       if len(plaintext) == 2 else ev.OpaqueRecord(content_type=inner, length=len(plaintext)))
            self._done = True
            return
        if inner != c.HANDSHAKE:
            out.append(ev.OpaqueRecord(content_type=inner, length=len(plaintext)))
            return
        sh = self.server_hello
        assert sh is not None
        params = cipher_params(sh.cipher_suite)
        for msg in self._app_hs.feed(plaintext):
            out.append(ev.HandshakeMessage(msg_type=msg.msg_type, body=b"", encrypted=True))
            if msg.msg_type != NEW_SESSION_TICKET:
                continue
            lifetime, age_add, nonce, ticket, max_early = parse_new_session_ticket(msg.body)
            psk = hkdf_expand_label(params.hash_name, self._res_master, b"resumption", nonce, params.hash_len)
            self.tickets.append(Ticket(suite=sh.cipher_suite, ticket=ticket, age_add=age_add,
                                       lifetime=lifetime, psk=psk, max_early_data=max_early))
            self._done = True
            return


# How much of the server's post-handshake records TicketProbe parses at most: one ticket of
# the largest legal size (2^16-1 bytes, RFC 8446 section 4.6.1) and its records' overhead.
MAX_TICKET_READ = 2**17
# The largest ticket resumption_hello() offers: the extensions block of a ClientHello is at
# most 2^16-1 bytes (RFC 8446 section 4.1.2) and carries the other extensions too.
MAX_RESUMABLE_TICKET = 60000


def resumption_hello(spec: ClientHelloSpec, ticket: Ticket, *, age_ms: int = 0) -> ClientHelloSpec:
    """``spec`` offering ``ticket``'s PSK (psk_dhe_ke) with the early_data extension and a
    binder over the truncated ClientHello (RFC 8446 sections 4.2.10, 4.2.11, 4.2.11.2). The
    spec must not carry other extra extensions after it: pre_shared_key must come last.
    Raises LocalProtocolError when the ticket (a server's choice, up to 2^16-1 bytes, RFC
    8446 section 4.6.1) cannot fit the ClientHello's extensions block (2^16-1 bytes,
    section 4.1.2) together with the rest."""
    if len(ticket.ticket) > MAX_RESUMABLE_TICKET:
        raise LocalProtocolError(
            f"a session ticket of {len(ticket.ticket)} bytes does not fit a ClientHello "
            f"(at most {MAX_RESUMABLE_TICKET} here)"
        )
    params = cipher_params(ticket.suite)
    obfuscated_age = (age_ms + ticket.age_add) % 2**32
    identities = struct.pack(">H", len(ticket.ticket)) + ticket.ticket + struct.pack(">I", obfuscated_age)
    binders_len = 1 + params.hash_len

    def psk_ext(binder: bytes) -> bytes:
        return (struct.pack(">H", len(identities)) + identities
                + struct.pack(">HB", binders_len, params.hash_len) + binder)

    base = dataclasses.replace(
        spec,
        cipher_suites=(ticket.suite,),
        psk_key_exchange_modes=(1,),
        extra_extensions=(*spec.extra_extensions, (c.EXT_EARLY_DATA, b"")),
    )
    draft = dataclasses.replace(
        base, extra_extensions=(*base.extra_extensions, (c.EXT_PRE_SHARED_KEY, psk_ext(bytes(params.hash_len))))
    )
    truncated = encode_client_hello(draft)[: -(2 + binders_len)]
    binder_key = derive_secret(
        params.hash_name, early_secret(ticket.suite, ticket.psk), b"res binder", transcript_hash(params.hash_name)
    )
    binder = finished_verify_data(ticket.suite, binder_key, transcript_hash(params.hash_name, truncated))
    return dataclasses.replace(
        base, extra_extensions=(*base.extra_extensions, (c.EXT_PRE_SHARED_KEY, psk_ext(binder)))
    )


def early_data_accepted(events: tuple[ev.Event, ...] | list[ev.Event]) -> bool | None:
    """True when the server's EncryptedExtensions carry early_data (RFC 8446 section
    4.2.10: it accepted the early data), False when they do not, None without any."""
    ee = next((e for e in events if isinstance(e, ev.EncryptedExtensions)), None)
    if ee is None:
        return None
    return any(t == c.EXT_EARLY_DATA for t, _ in ee.extensions)


