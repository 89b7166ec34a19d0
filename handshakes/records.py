# Incremental readers for what a server sends: TLS records (RFC 5246 section 6.2.1,
# RFC 8446 section 5.1), SSL 2.0 records with a 2-byte header, and handshake messages
# that span records or share one (RFC 5246 section 6.2.1: "multiple client messages of
# the same ContentType MAY be coalesced into a single TLSPlaintext record, or a single
# message MAY be fragmented across several records").
#
# Rules kept: bounded buffers (a length that lies is an error, never an allocation);
# bytes may arrive in any chunking and give the same result: a fault is judged on the same
# bytes however they were cut (a record header only once its 5 bytes are there), and the
# whole records (messages) before a fault are handed out first, the fault being raised on
# the next call (``pending_error`` lets the caller raise it at once when it still reads).
from __future__ import annotations

from dataclasses import dataclass

from handshakes import constants as c
from handshakes.errors import RemoteProtocolError

_TLS_CONTENT_TYPES = frozenset(
    (c.CHANGE_CIPHER_SPEC, c.ALERT, c.HANDSHAKE, c.APPLICATION_DATA, c.HEARTBEAT)
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One record. ``header`` is the exact header bytes (the AAD of TLS 1.3 records)."""

    content_type: int
    version: int
    payload: bytes
    header: bytes
    sslv2: bool = False


# An alert record with record version 0x0000 (issue 11): some CDNs refuse a hello this way.
# Malformed (RFC 8446 section 5.1 wants 0x03XX), yet a TLS alert: read it as one.
ODD_ALERT_HEADER = bytes((c.ALERT, 0, 0, 0, 2))


def _odd_alert(head: bytes | bytearray) -> bool:
    n = min(len(head), 5)
    return n > 0 and bytes(head[:n]) == ODD_ALERT_HEADER[:n]


def looks_like_tls(first: bytes) -> bool:
    """Could these first bytes (at least 3) start a TLS or SSLv2 record from a server?"""
    if not first:
        return True
    if _odd_alert(first):
        return True
    if first[0] & 0x80:
        # SSLv2 2-byte header; the message type must be SERVER-HELLO (4) or ERROR (0).
        return len(first) < 3 or first[2] in (0, 4)
    if first[0] not in _TLS_CONTENT_TYPES:
        return False
    return len(first) < 2 or first[1] == 3


class RecordReader:
    """Feed bytes, get whole records.

    The first record decides the framing: a first byte with the high bit set is an SSL 2.0
    2-byte header (SSLv2 draft section 1.2); anything else must be a TLS record header.
    """

    __slots__ = ("_buf", "_max", "_sslv2", "_first", "pending_error")

    def __init__(self, *, max_payload: int = c.MAX_RECORD_PAYLOAD) -> None:
        self._buf = bytearray()
        self._max = max_payload
        self._sslv2 = False
        self._first = True
        # A fault found after whole records in the same feed(): raised by the next feed().
        self.pending_error: RemoteProtocolError | None = None

    def feed(self, data: bytes) -> list[Record]:
        """The whole records completed by ``data``. Raises RemoteProtocolError for a bad
        header: at once when no record came before it in this call, else on the next call
        (the records before the fault are returned first)."""
        if self.pending_error is not None:
            raise self.pending_error
        self._buf += data
        out: list[Record] = []
        try:
            self._parse(out)
        except RemoteProtocolError as exc:
            if not out:
                raise
            self.pending_error = exc
        return out

    def _parse(self, out: list[Record]) -> None:
        while (record := self.next_record()) is not None:
            out.append(record)

    def add(self, data: bytes) -> None:
        """Buffer ``data`` for next_record() (the lazy side of feed())."""
        self._buf += data

    def discard(self) -> None:
        """Drop the buffered bytes not parsed yet (a reader done with the connection)."""
        del self._buf[:]

    def next_record(self) -> Record | None:
        """The next whole record in the buffer, None until one is complete; raises
        RemoteProtocolError for a bad header. A reader that stops asking once it has what it
        needs leaves the rest unparsed (issue 16: an elimination probe wants the first
        record of a flight, not its certificates); the records it does get, and the fault,
        are those feed() would give, in the same order."""
        buf = self._buf
        if self._first:
            if not buf:
                return None
            self._sslv2 = bool(buf[0] & 0x80)
        if self._sslv2:
            if len(buf) < 2:
                return None
            length = ((buf[0] & 0x7F) << 8) | buf[1]
            if len(buf) < 2 + length:
                return None
            header = bytes(buf[:2])
            payload = bytes(buf[2 : 2 + length])
            del buf[: 2 + length]
            self._first = False
            return Record(content_type=0, version=c.SSL2, payload=payload, header=header, sslv2=True)
        odd = self._first and _odd_alert(buf)
        if len(buf) < 5:
            # A header is judged whole, so the verdict and its evidence do not depend
            # on where TCP cut the bytes.
            return None
        ctype = buf[0]
        version = (buf[1] << 8) | buf[2]
        length = (buf[3] << 8) | buf[4]
        if (ctype not in _TLS_CONTENT_TYPES or buf[1] != 3) and not odd:
            raise RemoteProtocolError(
                f"not a TLS record header: {bytes(buf[:5]).hex(' ')}",
                alert=c.ALERT_UNEXPECTED_MESSAGE,
                data=bytes(buf[:5]),
            )
        if length > self._max:
            raise RemoteProtocolError(
                f"record length {length} exceeds {self._max}",
                alert=c.ALERT_RECORD_OVERFLOW,
                data=bytes(buf[:5]),
            )
        if len(buf) < 5 + length:
            return None
        header = bytes(buf[:5])
        payload = bytes(buf[5 : 5 + length])
        del buf[: 5 + length]
        self._first = False
        return Record(content_type=ctype, version=version, payload=payload, header=header)


@dataclass(frozen=True, slots=True)
class HandshakeMsg:
    """One whole handshake message; ``raw`` (type, length, body) goes in the transcript."""

    msg_type: int
    body: bytes
    raw: bytes


class HandshakeBuffer:
    """Reassembles handshake messages from record payloads (RFC 8446 section 5.1)."""

    __slots__ = ("_buf", "_max", "pending_error")

    def __init__(self, *, max_message: int = c.MAX_HANDSHAKE_MESSAGE) -> None:
        self._buf = bytearray()
        self._max = max_message
        self.pending_error: RemoteProtocolError | None = None

    @property
    def empty(self) -> bool:
        return not self._buf

    def feed(self, payload: bytes) -> list[HandshakeMsg]:
        """The whole messages completed by ``payload``; a length over the limit raises
        RemoteProtocolError, after the messages before it (as RecordReader.feed)."""
        if self.pending_error is not None:
            raise self.pending_error
        self._buf += payload
        out: list[HandshakeMsg] = []
        try:
            self._parse(out)
        except RemoteProtocolError as exc:
            if not out:
                raise
            self.pending_error = exc
        return out

    def _parse(self, out: list[HandshakeMsg]) -> None:
        buf = self._buf
        while len(buf) >= 4:
            length = (buf[1] << 16) | (buf[2] << 8) | buf[3]
            if length > self._max:
                raise RemoteProtocolError(
                    f"handshake message of {length} bytes exceeds {self._max}",
                    alert=c.ALERT_DECODE_ERROR,
                    data=bytes(buf[:4]),
                )
            if len(buf) < 4 + length:
                break
            raw = bytes(buf[: 4 + length])
            del buf[: 4 + length]
            out.append(HandshakeMsg(raw[0], raw[4:], raw))
