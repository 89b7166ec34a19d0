# A TLS 1.2 handshake completed just far enough to ask one question inside it: whether
# the server accepts a renegotiation the client starts (RFC 5746 section 3.5). On the way
# it keeps the session ticket the server may issue (RFC 5077), for the Ticketbleed check.
#
# RenegotiationProbe reads the server flight as HandshakeProbe does, then completes the
# handshake for the ECDHE + AES-GCM suites only (RFC 5289): ClientKeyExchange with a
# fresh key share, ChangeCipherSpec, Finished (RFC 5246 sections 7.4.7, 7.4.9), the keys
# from the RFC 5246 section 5 PRF (with the extended master secret of RFC 7627 when the
# server agreed to it), records protected as RFC 5288 section 3 says. Once the server's
# Finished decrypts, it sends one encrypted ClientHello carrying renegotiation_info with
# the client's verify_data, and reports what the server answers (decrypted alerts, the
# type of any handshake message) as events.
#
# Rules kept: sans-IO; no certificate is checked (nothing secret is sent: this is a probe);
# the key share is generated for this one connection, never taken from a shared pool;
# everything read is bounded like the flight.
from __future__ import annotations

import dataclasses
import hashlib
import os

from handshakes import constants as c
from handshakes import events as ev
from handshakes.client_hello import ClientHelloSpec, encode_client_hello
from handshakes.errors import LocalProtocolError, RemoteProtocolError
from handshakes.followup import record
from handshakes.keyshare import generate_key_share
from handshakes.records import HandshakeBuffer, HandshakeMsg
from handshakes.server_flight import HandshakeProbe, ProbeState
from handshakes.tls12 import RecordCipher, prf

NEW_SESSION_TICKET = 4  # RFC 5077 section 3.3 (TLS 1.2)

# The suites this module can complete: (key length, PRF hash).
GCM_SUITES: dict[int, tuple[int, str]] = {
    0xC02B: (16, "sha256"),  # TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    0xC02F: (16, "sha256"),  # TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    0xC02C: (32, "sha384"),  # TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    0xC030: (32, "sha384"),  # TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
}


def _ecdhe_public(ske: ev.ServerKeyExchange) -> tuple[int, bytes] | None:
    """(named curve, point) of an ECDHE ServerKeyExchange (RFC 8422 section 5.4)."""
    body = ske.raw
    if ske.kind != "ecdhe" or len(body) < 4 or body[0] != 3:
        return None
    group = (body[1] << 8) | body[2]
    n = body[3]
    point = body[4 : 4 + n]
    return (group, point) if len(point) == n else None


# How many bytes after the client's Finished are parsed at most (see receive_data).
MAX_REACTION_READ = 2**17


class _Phase:
    FLIGHT = "flight"  # reading the server flight (HandshakeProbe)
    FINISH = "finish"  # our Finished sent, waiting for the server's CCS and Finished
    RENEGOTIATE = "renegotiate"  # our second ClientHello sent, reading the answer
    DONE = "done"


class RenegotiationProbe(HandshakeProbe):
    """Complete a TLS 1.2 ECDHE AES-GCM handshake, then start a renegotiation.

    Events after the flight: ``ev.ChangeCipherSpec`` and ``ev.Finished`` (the server's,
    decrypted: the handshake completed), then what answers the renegotiation ClientHello:
    ``ev.Alert(encrypted=True)`` or ``ev.HandshakeMessage(encrypted=True)`` (a ServerHello,
    msg_type 2, means the server renegotiates), or ``ev.ConnectionClosed``. When the
    server chose a suite or group this module cannot complete, the probe ends after the
    flight (``completed`` stays False). Raises RemoteProtocolError for records that do not
    decrypt or parse.
    """

    reads_on = True  # reads past the flight: every record of a read is parsed (server_flight.py)

    def __init__(self, spec: ClientHelloSpec) -> None:
        if spec.legacy_version != c.TLS12:
            raise LocalProtocolError("RenegotiationProbe speaks TLS 1.2 only")
        super().__init__(spec, read_flight=True, answer_hrr=False)
        self._phase = _Phase.FLIGHT
        self._hs_raw: list[bytes] = []
        self._ems = False
        self._hash = "sha256"
        self._client: RecordCipher | None = None
        self._server: RecordCipher | None = None
        self._server_ccs = False
        self._enc_hs = HandshakeBuffer()
        # Plaintext handshake messages before the server's CCS (NewSessionTicket): one
        # buffer for all records, so a ticket fragmented over records is reassembled
        # (RFC 5246 section 6.2.1).
        self._plain_hs = HandshakeBuffer()
        self._reaction_bytes = 0
        self.completed = False  # the server's Finished decrypted
        self.client_verify_data = b""
        self.ticket: bytes | None = None  # a NewSessionTicket's ticket (RFC 5077 section 3.3)

    @property
    def terminal(self) -> bool:
        if self._phase == _Phase.FLIGHT:
            return self.state.terminal
        return self._phase == _Phase.DONE

    def _on_handshake(self, msg: HandshakeMsg, out: list[ev.Event], *, encrypted: bool) -> None:
        self._hs_raw.append(msg.raw)
        super()._on_handshake(msg, out, encrypted=encrypted)

    def receive_data(self, data: bytes) -> list[ev.Event]:
        if self._phase == _Phase.FLIGHT:
            events = super().receive_data(data)
            if self.state is ProbeState.COMPLETE and any(isinstance(e, ev.ServerHelloDone) for e in events):
                self._finish_handshake(events)
            return events
        if self._phase == _Phase.DONE:
            return []
        if not data:
            self._phase = _Phase.DONE
            return [ev.ConnectionClosed()]
        # At most MAX_REACTION_READ bytes are parsed: a ticket of the largest legal size
        # (2^16-1 bytes, RFC 5077 section 3.3) fits, a server that streams does not.
        room = MAX_REACTION_READ - self._reaction_bytes
        if room <= 0:
            self._phase = _Phase.DONE
            return []
        data = data[:room]
        self._reaction_bytes += len(data)
        out: list[ev.Event] = []
        try:
            for rec in self._records.feed(data):
                self._on_reaction(rec.content_type, rec.payload, out)
                if self._phase == _Phase.DONE:
                    break
        except RemoteProtocolError:
            # After the flight, as in followup.py: what cannot be read ends the reaction
            # as an event with a length; the server's bytes are not kept.
            self._phase = _Phase.DONE
            out.append(ev.UnreadableReaction(length=len(data)))
        return out

    # -- completing the handshake ----------------------------------------------------------

    def _finish_handshake(self, flight: list[ev.Event]) -> None:
        sh = self.server_hello
        ske = next((e for e in flight if isinstance(e, ev.ServerKeyExchange)), None)
        if sh is None or sh.version != c.TLS12 or sh.cipher_suite not in GCM_SUITES or ske is None:
            return
        params = _ecdhe_public(ske)
        if params is None:
            return
        group, point = params
        try:
            share = generate_key_share(group)
            premaster = share.exchange(point)
        except (LocalProtocolError, ValueError):
            return
        key_len, self._hash = GCM_SUITES[sh.cipher_suite]
        client_hello = self._transcript[0]
        out = b""
        if any(isinstance(e, ev.CertificateRequest) for e in flight):
            # RFC 5246 section 7.4.6: no suitable certificate, send an empty list.
            empty = bytes((c.CERTIFICATE,)) + b"\x00\x00\x03\x00\x00\x00"
            self._hs_raw.append(empty)
            out += record(c.HANDSHAKE, c.TLS12, empty)
        cke = bytes((c.CLIENT_KEY_EXCHANGE,)) + (len(share.public) + 1).to_bytes(3, "big") + bytes(
            (len(share.public),)
        ) + share.public
        self._hs_raw.append(cke)
        out += record(c.HANDSHAKE, c.TLS12, cke)
        randoms = self._client_random() + sh.random
        if sh.extended_master_secret:
            # RFC 7627 section 4: the session hash covers ClientHello .. ClientKeyExchange.
            session_hash = self._digest(client_hello, *self._hs_raw)
            master = prf(c.TLS12, self._hash, premaster, b"extended master secret", session_hash, 48)
        else:
            master = prf(c.TLS12, self._hash, premaster, b"master secret", randoms, 48)
        # RFC 5246 section 6.3: key_block = PRF(master, "key expansion", server + client random).
        block = prf(c.TLS12, self._hash, master, b"key expansion", sh.random + self._client_random(), 2 * key_len + 8)
        ck, sk = block[:key_len], block[key_len : 2 * key_len]
        civ, siv = block[2 * key_len : 2 * key_len + 4], block[2 * key_len + 4 :]
        self._client = RecordCipher(ck, civ)
        self._server = RecordCipher(sk, siv)
        # RFC 5246 section 7.4.9: verify_data = PRF(master, "client finished", Hash(messages))[0..11]
        self.client_verify_data = prf(
            c.TLS12, self._hash, master, b"client finished", self._digest(client_hello, *self._hs_raw), 12
        )
        finished = bytes((c.FINISHED,)) + b"\x00\x00\x0c" + self.client_verify_data
        out += record(c.CHANGE_CIPHER_SPEC, c.TLS12, b"\x01") + self._client.seal(c.HANDSHAKE, finished)
        self._outgoing += out
        self._phase = _Phase.FINISH

    def _client_random(self) -> bytes:
        random = self.spec.random
        assert random is not None
        return random

    def _digest(self, *parts: bytes) -> bytes:
        h = hashlib.new(self._hash)
        for p in parts:
            h.update(p)
        return h.digest()

    def _on_reaction(self, content_type: int, payload: bytes, out: list[ev.Event]) -> None:
        if content_type == c.CHANGE_CIPHER_SPEC and not self._server_ccs:
            self._server_ccs = True
            out.append(ev.ChangeCipherSpec())
            return
        if not self._server_ccs:
            if content_type == c.ALERT and len(payload) == 2:
                out.append(ev.Alert(level=payload[0], description=payload[1]))
                self._phase = _Phase.DONE
            elif content_type == c.HANDSHAKE:
                for msg in self._plain_hs.feed(payload):
                    out.append(ev.HandshakeMessage(msg_type=msg.msg_type, body=b""))
                    if msg.msg_type == NEW_SESSION_TICKET and len(msg.body) >= 6:
                        # RFC 5077 section 3.3: ticket_lifetime_hint (4 bytes), ticket<0..2^16-1>
                        ticket = msg.body[6 : 6 + int.from_bytes(msg.body[4:6], "big")]
                        self.ticket = ticket or None
            else:
                out.append(ev.OpaqueRecord(content_type=content_type, length=len(payload)))
            return
        assert self._server is not None
        plaintext = self._server.open(content_type, payload)
        if content_type == c.ALERT:
            if len(plaintext) != 2:
                raise RemoteProtocolError("malformed encrypted alert", alert=c.ALERT_DECODE_ERROR)
            out.append(ev.Alert(level=plaintext[0], description=plaintext[1], encrypted=True))
            # A warning (no_renegotiation, 100) is the answer; a fatal alert ends it too.
            self._phase = _Phase.DONE
            return
        if content_type != c.HANDSHAKE:
            out.append(ev.OpaqueRecord(content_type=content_type, length=len(plaintext)))
            return
        for msg in self._enc_hs.feed(plaintext):
            if self._phase == _Phase.FINISH:
                if msg.msg_type != c.FINISHED:
                    raise RemoteProtocolError(
                        f"expected the server's Finished, got handshake type {msg.msg_type}",
                        alert=c.ALERT_UNEXPECTED_MESSAGE,
                    )
                out.append(ev.Finished(verify_data=msg.body))
                self.completed = True
                self._renegotiate()
            else:
                out.append(ev.HandshakeMessage(msg_type=msg.msg_type, body=b"", encrypted=True))
                if msg.msg_type in (c.SERVER_HELLO, c.HELLO_REQUEST):
                    self._phase = _Phase.DONE
                    return

    def _renegotiate(self) -> None:
        """RFC 5746 section 3.5: the renegotiating ClientHello carries renegotiation_info
        with client_verify_data (and no SCSV)."""
        assert self._client is not None
        spec = dataclasses.replace(
            self.spec, random=os.urandom(32), renegotiation_info=self.client_verify_data,
            cipher_suites=tuple(s for s in self.spec.cipher_suites if s != c.TLS_EMPTY_RENEGOTIATION_INFO_SCSV),
            session_id=b"",
        )
        self._outgoing += self._client.seal(c.HANDSHAKE, encode_client_hello(spec))
        self._phase = _Phase.RENEGOTIATE


