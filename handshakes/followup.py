# Records a probe sends after the server's TLS <= 1.2 flight, and the probe that sends them.
#
# The classic vulnerability checks (scanner/probes/vulns.py) need one more step than a
# ClientHello: a heartbeat request, an early ChangeCipherSpec, a crafted RSA
# ClientKeyExchange. FollowUpProbe reads the flight up to ServerHelloDone exactly as
# HandshakeProbe does, asks a callback what to send next (nothing ends the probe), then
# reads the server's reaction as events: alerts, heartbeat responses (sizes only), a
# ChangeCipherSpec, records it cannot decrypt (type and length only), the close.
#
# Rules kept: sans-IO (bytes in, events out); nothing read after the flight is stored but
# its sizes and alerts; the reaction is bounded (MAX_REACTION_BYTES), so a server that
# streams cannot make the probe read more than proves the point; bytes that are not a
# record end the reaction with an UnreadableReaction event (never an exception, never the
# bytes), after the whole records before them.
from __future__ import annotations

import struct
from collections.abc import Callable

from handshakes import constants as c
from handshakes import events as ev
from handshakes.client_hello import ClientHelloSpec
from handshakes.errors import LocalProtocolError, RemoteProtocolError
from handshakes.server_flight import HandshakeProbe, KeyShareSource, ProbeState

# RFC 6520 section 2: the heartbeat extension; mode 1 = peer_allowed_to_send.
EXT_HEARTBEAT = 15
HEARTBEAT_PEER_ALLOWED = 1
HEARTBEAT_REQUEST = 1
HEARTBEAT_RESPONSE = 2
# RFC 6520 section 4: "The padding_length MUST be at least 16."
HEARTBEAT_MIN_PADDING = 16

# How much of the server's reaction is read at most: a few alerts or records.
MAX_REACTION_BYTES = 2**15

FollowUp = Callable[[ev.ServerHello, tuple[ev.Event, ...]], bytes | None]
StopWhen = Callable[[ev.Event], bool]


def record(content_type: int, version: int, payload: bytes) -> bytes:
    """One TLSPlaintext record (RFC 5246 section 6.2.1). Raises LocalProtocolError when the
    payload does not fit a record."""
    if len(payload) > 2**14:
        raise LocalProtocolError(f"a record payload of {len(payload)} bytes exceeds 2^14")
    return struct.pack(">BHH", content_type, version, len(payload)) + payload


def heartbeat_request(version: int, *, declared_length: int, payload: bytes = b"") -> bytes:
    """A heartbeat_request record (RFC 6520 section 4) whose payload_length field says
    ``declared_length`` while it carries ``payload`` and 16 bytes of padding. A declared
    length larger than the payload is the malformed request of CVE-2014-0160."""
    if not 0 <= declared_length <= 0xFFFF:
        raise LocalProtocolError("heartbeat payload_length must fit 16 bits")
    body = struct.pack(">BH", HEARTBEAT_REQUEST, declared_length) + payload
    return record(c.HEARTBEAT, version, body + bytes(HEARTBEAT_MIN_PADDING))


def change_cipher_spec(version: int) -> bytes:
    """A ChangeCipherSpec record: one byte, 1 (RFC 5246 section 7.1)."""
    return record(c.CHANGE_CIPHER_SPEC, version, b"\x01")


def handshake_record(version: int, msg_type: int, body: bytes) -> bytes:
    """One handshake message (type, 3-byte length, body) in one plaintext record."""
    return record(c.HANDSHAKE, version, bytes((msg_type,)) + len(body).to_bytes(3, "big") + body)


def rsa_client_key_exchange(version: int, encrypted_premaster: bytes) -> bytes:
    """An RSA ClientKeyExchange record: EncryptedPreMasterSecret as a 2-byte-length vector
    (RFC 5246 section 7.4.7.1; TLS 1.0 and later, SSL 3.0 omits the length)."""
    if version < c.TLS10:
        raise LocalProtocolError("SSL 3.0 RSA ClientKeyExchange is not supported here")
    body = len(encrypted_premaster).to_bytes(2, "big") + encrypted_premaster
    return handshake_record(version, c.CLIENT_KEY_EXCHANGE, body)


def heartbeat_mode(hello: ev.ServerHello) -> int | None:
    """The server's heartbeat extension mode (1 peer_allowed_to_send, 2 not allowed), or
    None when the ServerHello does not carry the extension."""
    body = dict(hello.extensions).get(EXT_HEARTBEAT)
    if body is None:
        return None
    return body[0] if len(body) == 1 else -1


def _stop_on_alert(event: ev.Event) -> bool:
    # A fatal alert ends the exchange (RFC 5246 section 7.2); a warning may be followed by more.
    return isinstance(event, ev.Alert) and event.fatal


class FollowUpProbe(HandshakeProbe):
    """A HandshakeProbe that, once the TLS <= 1.2 flight ends (ServerHelloDone), sends
    what ``follow_up(server_hello, flight_events)`` returns and reads the reaction.

    ``follow_up`` returning None (or a flight that is not a TLS <= 1.2 one) ends the probe
    where HandshakeProbe would. The reaction ends at the close, at the first event for
    which ``stop_when`` is true (default: a fatal alert), or after MAX_REACTION_BYTES.
    """

    reads_on = True  # reads past the flight: every record of a read is parsed (server_flight.py)

    def __init__(
        self,
        spec: ClientHelloSpec,
        *,
        follow_up: FollowUp,
        stop_when: StopWhen = _stop_on_alert,
        key_share_for: KeyShareSource | None = None,
    ) -> None:
        super().__init__(spec, read_flight=True, answer_hrr=False, key_share_for=key_share_for)
        self._follow_up = follow_up
        self._stop_when = stop_when
        self._flight: list[ev.Event] = []
        self._reacting = False
        self._ended = False
        self._reaction_bytes = 0
        self.followed_up = False  # True once the follow-up bytes were handed to the IO layer

    @property
    def terminal(self) -> bool:
        return self._ended if self._reacting else self.state.terminal

    def receive_data(self, data: bytes) -> list[ev.Event]:
        if self._reacting:
            if self._ended:
                return []
            return self._react(data)
        events = super().receive_data(data)
        self._flight.extend(events)
        done = any(isinstance(e, ev.ServerHelloDone) for e in events)
        if self.state is ProbeState.COMPLETE and done and self.server_hello is not None:
            if self._records.pending_error is not None:
                # Junk right behind the flight: nothing is sent, that junk is the reaction.
                self._reacting = self._ended = True
                return [*events, ev.UnreadableReaction(length=len(data))]
            more = self._follow_up(self.server_hello, tuple(self._flight))
            if more:
                self._outgoing += more
                self._reacting = True
                self.followed_up = True
        return events

    def _react(self, data: bytes) -> list[ev.Event]:
        out: list[ev.Event] = []
        if not data:
            out.append(ev.ConnectionClosed())
            self._ended = True
            return out
        self._reaction_bytes += len(data)
        try:
            # RecordReader.feed hands out the whole records before a fault first and keeps
            # the fault for the next call, so a complete answer followed by junk is read.
            records = self._records.feed(data)
        except RemoteProtocolError:
            # Junk after the flight: the reaction ends here; the bytes are not kept.
            self._ended = True
            return [ev.UnreadableReaction(length=len(data))]
        for rec in records:
            out.extend(self._reaction_events(rec.content_type, rec.payload))
            if any(self._stop_when(e) for e in out):
                self._ended = True
                break
        if not self._ended and self._records.pending_error is not None:
            # Junk after whole records in this read: they were events, it ends the reaction.
            self._ended = True
            out.append(ev.UnreadableReaction(length=len(data)))
        if self._reaction_bytes > MAX_REACTION_BYTES:
            self._ended = True
        return out

    def _reaction_events(self, content_type: int, payload: bytes) -> list[ev.Event]:
        if content_type == c.ALERT and len(payload) == 2:
            return [ev.Alert(level=payload[0], description=payload[1])]
        if content_type == c.HEARTBEAT and len(payload) >= 3:
            # Only the sizes: the payload is dropped here, never stored or shown.
            return [
                ev.HeartbeatResponse(
                    message_type=payload[0],
                    payload_length=(payload[1] << 8) | payload[2],
                    record_length=len(payload),
                )
            ]
        if content_type == c.CHANGE_CIPHER_SPEC and payload == b"\x01":
            return [ev.ChangeCipherSpec()]
        return [ev.OpaqueRecord(content_type=content_type, length=len(payload))]
