# Writing a capture without a capture tool: the bytes of a TCP conversation (what each side
# sent, in order) become Ethernet/IPv4/TCP frames in a pcapng file (dpkt's writer). Used by
# the lab to record what its front end relays (no root, no tcpdump), by the bench to build
# large captures from real recorded handshakes, and by tests for segment-level cases
# (out of order, retransmitted, mid-connection).
#
# Rules kept: the frames are what a real stack would put on the wire (SYN, SYN-ACK, ACK,
# data cut at the MSS, FIN or RST; sequence numbers per RFC 9293 section 3.4); checksums
# are left 0, as captures of offloading NICs show them, and readers do not check them.
from __future__ import annotations

import contextlib
import ssl
import struct
from typing import BinaryIO

import dpkt

__all__ = ["Conversation", "PcapngWriter", "ssl_conversation"]

_ETH = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
_FIN, _SYN, _RST, _PSH, _ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class PcapngWriter:
    """A pcapng file of Ethernet frames; ``frame(data, ts)`` appends one."""

    def __init__(self, stream: BinaryIO) -> None:
        self._writer = dpkt.pcapng.Writer(stream, snaplen=65535, linktype=dpkt.pcap.DLT_EN10MB)
        self.frames = 0

    def frame(self, data: bytes, ts: float) -> None:
        self._writer.writepkt(data, ts=ts)
        self.frames += 1


def _ip4(addr: str) -> bytes:
    return bytes(int(x) for x in addr.split("."))


class Conversation:
    """One TCP connection between ``client`` and ``server`` ((IPv4 text, port) each),
    written as frames. Timestamps advance by ``step`` seconds per frame from ``ts``."""

    def __init__(
        self, out: PcapngWriter, client: tuple[str, int], server: tuple[str, int], *,
        ts: float = 1_700_000_000.0, step: float = 0.0001, mss: int = 1460,
        client_isn: int = 1000, server_isn: int = 5000,
    ) -> None:
        self.out = out
        self.ts = ts
        self.step = step
        self.mss = mss
        self._addr = {True: (_ip4(client[0]), client[1]), False: (_ip4(server[0]), server[1])}
        self._seq = {True: client_isn, False: server_isn}
        self._ident = 1

    def _segment(self, from_client: bool, flags: int, payload: bytes = b"", *, seq: int | None = None) -> bytes:
        (src, sport), (dst, dport) = self._addr[from_client], self._addr[not from_client]
        s = self._seq[from_client] if seq is None else seq
        ack = self._seq[not from_client] if flags & _ACK else 0
        tcp = struct.pack("!HHIIBBHHH", sport, dport, s % 2**32, ack % 2**32, 5 << 4, flags, 65535, 0, 0)
        total = 20 + len(tcp) + len(payload)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, self._ident & 0xFFFF, 0x4000, 64, 6, 0, src, dst)
        self._ident += 1
        return _ETH + ip + tcp + payload

    def _emit(self, frame: bytes) -> None:
        self.out.frame(frame, self.ts)
        self.ts += self.step

    def open(self) -> None:
        """The three-way handshake."""
        self._emit(self._segment(True, _SYN))
        self._seq[True] += 1
        self._emit(self._segment(False, _SYN | _ACK))
        self._seq[False] += 1
        self._emit(self._segment(True, _ACK))

    def send(self, from_client: bool, data: bytes) -> None:
        """``data`` from one side, cut at the MSS, each segment acknowledged."""
        for i in range(0, len(data), self.mss):
            chunk = data[i : i + self.mss]
            self._emit(self._segment(from_client, _ACK | _PSH, chunk))
            self._seq[from_client] += len(chunk)
        if data:
            self._emit(self._segment(not from_client, _ACK))

    def segments(self, from_client: bool, data: bytes) -> list[tuple[int, bytes]]:
        """``data`` cut into (seq, frame) pairs without writing them (for reordering)."""
        out = []
        for i in range(0, len(data), self.mss):
            chunk = data[i : i + self.mss]
            out.append((self._seq[from_client], self._segment(from_client, _ACK | _PSH, chunk)))
            self._seq[from_client] += len(chunk)
        return out

    def raw(self, frame: bytes) -> None:
        self._emit(frame)

    def close(self, from_client: bool) -> None:
        """FIN from one side, then the other's FIN, then the last ACK."""
        self._emit(self._segment(from_client, _FIN | _ACK))
        self._seq[from_client] += 1
        self._emit(self._segment(not from_client, _FIN | _ACK))
        self._seq[not from_client] += 1
        self._emit(self._segment(from_client, _ACK))

    def fin(self, from_client: bool) -> None:
        """One side's FIN, acknowledged by the other."""
        self._emit(self._segment(from_client, _FIN | _ACK))
        self._seq[from_client] += 1
        self._emit(self._segment(not from_client, _ACK))

    def reset(self, from_client: bool) -> None:
        self._emit(self._segment(from_client, _RST | _ACK))


def ssl_conversation(
    client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, *, server_hostname: str | None = None,
    request: bytes = b"", close: bool = True, max_rounds: int = 50,
) -> list[tuple[bool, bytes]]:
    """A real handshake between two stdlib ``ssl`` (OpenSSL) endpoints in memory, no
    sockets: [(from_client, bytes), ...] in the order they were sent. A handshake failure
    ends the list with the failing side's alert. ``request``: application data the client
    sends once connected; ``close``: both sides send close_notify at the end."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_side=False, server_hostname=server_hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    flights: list[tuple[bool, bytes]] = []

    def pump() -> bool:
        moved = False
        for from_client, src, dst in ((True, c_out, s_in), (False, s_out, c_in)):
            data = src.read()
            if data:
                flights.append((from_client, data))
                dst.write(data)
                moved = True
        return moved

    done = {True: False, False: False}
    for _ in range(max_rounds):  # bounded: a handshake takes a few rounds
        for side, obj in ((True, client), (False, server)):
            if done[side]:
                continue
            try:
                obj.do_handshake()
                done[side] = True
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except ssl.SSLError:
                pump()
                return flights
        if not pump() and all(done.values()):
            break
    if request:
        client.write(request)
        pump()
        with contextlib.suppress(ssl.SSLError):
            server.read(65536)
        pump()
    if close:
        for obj in (client, server):
            with contextlib.suppress(ssl.SSLError):
                obj.unwrap()
            pump()
    return flights
