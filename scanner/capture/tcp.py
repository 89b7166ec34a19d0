# TCP reassembly for one direction of one connection (RFC 9293 section 3.4: sequence
# numbers count bytes modulo 2^32): segments in, the bytes in order out. Retransmissions
# and overlaps are trimmed, out-of-order segments wait until the hole before them fills,
# and a capture that starts mid-connection starts at the first segment seen.
#
# Rules kept: bounded (at most MAX_PENDING bytes wait; beyond that the hole is declared
# lost and skipped, and said so); never raises on what a capture holds.
from __future__ import annotations

__all__ = ["MAX_PENDING", "Reassembler"]

MAX_PENDING = 1 << 20  # bytes held out of order before a hole is given up on
_MOD = 1 << 32


def _diff(a: int, b: int) -> int:
    """a - b in sequence space, as a signed 32-bit distance."""
    d = (a - b) % _MOD
    return d - _MOD if d >= 1 << 31 else d


class Reassembler:
    """In-order bytes of one direction. ``feed`` returns the newly contiguous bytes;
    ``gaps`` counts holes skipped (bytes the capture lost), ``midstream`` is True when no
    SYN was seen (the capture started after the connection did)."""

    __slots__ = ("next_seq", "pending", "pending_bytes", "gaps", "lost", "midstream", "retransmitted")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.gaps = 0
        self.lost = 0
        self.midstream = False
        self.retransmitted = 0

    def syn(self, seq: int) -> None:
        """A SYN: data starts at seq + 1 (the SYN takes one sequence number)."""
        if self.next_seq is None:
            self.next_seq = (seq + 1) % _MOD

    def feed(self, seq: int, payload: bytes) -> bytes:
        if not payload:
            return b""
        if self.next_seq is None:
            self.next_seq = seq
            self.midstream = True
        offset = _diff(seq, self.next_seq)
        if offset > 0:
            if seq not in self.pending or len(self.pending[seq]) < len(payload):
                self.pending_bytes += len(payload) - len(self.pending.get(seq, b""))
                self.pending[seq] = payload
            if self.pending_bytes > MAX_PENDING:
                return self._skip_hole()
            return b""
        if -offset >= len(payload):
            self.retransmitted += 1
            return b""
        data = payload[-offset:] if offset else payload
        self.next_seq = (self.next_seq + len(data)) % _MOD
        if self.pending:
            return data + self._drain()
        return data

    def _drain(self) -> bytes:
        out = bytearray()
        assert self.next_seq is not None
        while self.pending:
            progressed = False
            for seq in list(self.pending):
                offset = _diff(seq, self.next_seq)
                if offset > 0:
                    continue
                payload = self.pending.pop(seq)
                self.pending_bytes -= len(payload)
                progressed = True
                if -offset < len(payload):
                    chunk = payload[-offset:] if offset else payload
                    out += chunk
                    self.next_seq = (self.next_seq + len(chunk)) % _MOD
            if not progressed:
                break
        return bytes(out)

    def _skip_hole(self) -> bytes:
        """Give up on the bytes before the earliest waiting segment."""
        assert self.next_seq is not None
        first = min(self.pending, key=lambda s: _diff(s, self.next_seq or 0))
        self.gaps += 1
        self.lost += _diff(first, self.next_seq)
        self.next_seq = first
        return self._drain()

    def flush(self) -> tuple[bytes, int]:
        """At the end of the connection: (bytes after the holes, holes skipped now)."""
        out = bytearray()
        holes = 0
        while self.pending:
            holes += 1
            out += self._skip_hole()
        return bytes(out), holes
