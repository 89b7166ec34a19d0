# Reading a capture file: pcap or pcapng (dpkt), one TCP segment at a time. Link layers:
# Ethernet (with VLAN tags), Linux cooked capture v1 and v2, BSD loopback, raw IP; network
# layers IPv4 and IPv6. Everything else (UDP, ARP, IP fragments) is counted and skipped.
#
# Rules kept: a generator, so a capture of any size is read in constant memory; a frame that
# does not decode is skipped and counted, never raised; a file that is not a capture at all
# raises CaptureError before anything is read.
from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from struct import error as struct_error
from typing import Any, BinaryIO

import dpkt

__all__ = ["CaptureError", "ReadStats", "Segment", "is_capture", "read_segments"]

_PCAP_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1")
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
# Link types (https://www.tcpdump.org/linktypes.html).
_ETHERNET, _NULL, _RAW, _RAW_OPENBSD, _LOOP, _SLL, _IPV4, _IPV6, _SLL2 = 1, 0, 12, 14, 108, 113, 228, 229, 276
_LINKTYPE_RAW = 101
_LINKS = frozenset((_ETHERNET, _NULL, _RAW, _RAW_OPENBSD, _LOOP, _SLL, _IPV4, _IPV6, _SLL2, _LINKTYPE_RAW))


class CaptureError(Exception):
    """The input is not a pcap or pcapng capture, or uses a link type not read here."""


# No pcap record or pcapng block is larger than this (tcpdump's largest snaplen is 256 KiB;
# a pcapng block holds one packet and its options): a bigger length field is a broken file,
# and is not read (dpkt would read that many bytes into memory).
_MAX_BLOCK = 64 << 20


class _BadLength(Exception):
    """A length field of the capture file that cannot be right (negative or absurd)."""

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length


class _Guarded:
    """The capture stream as dpkt reads it: refuses a read of an impossible length and
    remembers a short read (the file is cut off)."""

    __slots__ = ("_raw", "short")

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.short: tuple[int, int] | None = None  # (bytes announced, bytes there)

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > _MAX_BLOCK:
            raise _BadLength(n)
        data = self._raw.read(n)
        if data and len(data) < n:
            self.short = (n, len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """One TCP segment. Addresses are the packed IP bytes (4 or 16); ``frame`` counts the
    capture's frames from 1; ``ts`` is seconds since the epoch."""

    frame: int
    ts: float
    src: bytes
    sport: int
    dst: bytes
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes


@dataclass(slots=True)
class ReadStats:
    """What the reader saw besides TCP segments."""

    frames: int = 0
    tcp_segments: int = 0
    skipped: int = 0  # not TCP over IP, fragments, or undecodable
    link_type: int = -1
    notes: list[str] = field(default_factory=list)


def is_capture(first: bytes) -> bool:
    """Do these first 4 bytes start a pcap or pcapng file?"""
    return first[:4] in _PCAP_MAGICS or first[:4] == _PCAPNG_MAGIC


def address_text(raw: bytes) -> str:
    """"192.0.2.1" or "2001:db8::1" from packed bytes."""
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def _ip_of(link: int, buf: bytes) -> Any:
    """The dpkt IP or IP6 object inside one frame, or None."""
    if link == _ETHERNET:
        pkt: Any = dpkt.ethernet.Ethernet(buf).data
    elif link == _SLL:
        pkt = dpkt.sll.SLL(buf).data
    elif link == _SLL2:
        pkt = dpkt.sll2.SLL2(buf).data
    elif link in (_NULL, _LOOP):
        pkt = dpkt.loopback.Loopback(buf).data
    elif link in (_RAW, _RAW_OPENBSD, _LINKTYPE_RAW, _IPV4, _IPV6):
        if not buf:
            return None
        pkt = dpkt.ip6.IP6(buf) if buf[0] >> 4 == 6 else dpkt.ip.IP(buf)
    else:
        return None
    return pkt if isinstance(pkt, dpkt.ip.IP | dpkt.ip6.IP6) else None


def read_segments(stream: BinaryIO, stats: ReadStats | None = None) -> Iterator[Segment]:
    """Every TCP segment of a pcap or pcapng stream, in capture order.

    ``stream`` is a binary file object positioned at the start of the capture; it need not
    be seekable (stdin works). Raises CaptureError when it is not a capture; a frame that
    does not decode is counted in ``stats.skipped``.
    """
    stats = stats if stats is not None else ReadStats()
    if hasattr(stream, "peek"):
        head = stream.peek(4)[:4]
    else:
        head = stream.read(4)
        stream.seek(-len(head), 1)
    if len(head) < 4:
        raise CaptureError("an empty or cut-off capture (fewer than 4 bytes)")
    if not is_capture(head):
        raise CaptureError(f"not a pcap or pcapng file (it starts with {head.hex(' ')})")
    guarded = _Guarded(stream)
    try:
        reader = dpkt.pcapng.Reader(guarded) if head == _PCAPNG_MAGIC else dpkt.pcap.Reader(guarded)
    except _BadLength as exc:
        raise CaptureError(f"a broken capture file: a header block announces {_length_text(exc.length)}") from None
    except dpkt.NeedData:
        raise CaptureError("a cut-off capture: the file ends inside its header") from None
    except (ValueError, dpkt.UnpackError, struct_error) as exc:
        raise CaptureError(f"not a readable pcap or pcapng file ({exc})") from None
    link = reader.datalink()
    stats.link_type = link
    if link not in _LINKS:
        raise CaptureError(f"link type {link} is not read (Ethernet, Linux cooked, loopback and raw IP are)")
    return _segments(reader, link, stats, guarded)


def _after(frame: int) -> str:
    return "the first block after the file header" if frame == 0 else f"the block after frame {frame}"


def _length_text(length: int) -> str:
    return f"a negative length ({length})" if length < 0 else f"{length} bytes (more than {_MAX_BLOCK >> 20} MB)"


_ETH_IPV4 = b"\x08\x00"
_unpack_ip = struct.Struct("!BBHHHBB2x4s4s").unpack_from
_unpack_tcp = struct.Struct("!HHIIBB").unpack_from


def _fast_ethernet_ipv4_tcp(buf: bytes) -> tuple[bytes, int, bytes, int, int, int, int, bytes] | None:
    """The common case read directly (an untagged Ethernet frame holding an unfragmented
    IPv4 TCP segment: RFC 791 section 3.1, RFC 9293 section 3.1), ten times cheaper than
    building dpkt objects for it; anything else (VLAN, IPv6, options dpkt checks) returns
    None and goes to dpkt. tests/scanner/test_capture.py checks both agree."""
    if len(buf) < 54 or buf[12:14] != _ETH_IPV4:
        return None
    vihl, _tos, total, _ident, frag, _ttl, proto, src, dst = _unpack_ip(buf, 14)
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or proto != 6 or frag & 0x3FFF or ihl < 20 or total < ihl + 20 or 14 + total > len(buf):
        return None
    t = 14 + ihl
    sport, dport, seq, ack, off, flags = _unpack_tcp(buf, t)
    data_at = t + (off >> 4) * 4
    end = 14 + total
    if (off >> 4) < 5 or data_at > end:
        return None
    return src, sport, dst, dport, seq, ack, flags, buf[data_at:end]


def _segments(reader: Any, link: int, stats: ReadStats, guarded: _Guarded) -> Iterator[Segment]:
    frame = 0
    tcp_type = dpkt.tcp.TCP
    try:
        for ts, buf in reader:
            frame += 1
            if link == _ETHERNET:
                fast = _fast_ethernet_ipv4_tcp(buf)
                if fast is not None:
                    src, sport, dst, dport, seq, ack, flags, payload = fast
                    stats.tcp_segments += 1
                    yield Segment(
                        frame=frame, ts=float(ts), src=src, sport=sport, dst=dst, dport=dport,
                        seq=seq, ack=ack, flags=flags, payload=payload,
                    )
                    continue
            try:
                ip = _ip_of(link, buf)
            except (dpkt.UnpackError, dpkt.NeedData, ValueError, IndexError, struct_error):
                stats.skipped += 1
                continue
            tcp = getattr(ip, "data", None)
            if ip is None or not isinstance(tcp, tcp_type):
                stats.skipped += 1
                continue
            if isinstance(ip, dpkt.ip.IP) and (ip.mf or ip.offset):
                stats.skipped += 1  # a fragment: TCP over fragmented IP is not reassembled
                continue
            stats.tcp_segments += 1
            yield Segment(
                frame=frame, ts=float(ts), src=bytes(ip.src), sport=tcp.sport, dst=bytes(ip.dst),
                dport=tcp.dport, seq=tcp.seq, ack=tcp.ack, flags=tcp.flags, payload=bytes(tcp.data),
            )
    except _BadLength as exc:
        stats.notes.append(
            f"a broken capture file: {_after(frame)} announces {_length_text(exc.length)};"
            " the rest of the file was not read"
        )
    except (dpkt.NeedData, dpkt.UnpackError, ValueError, struct_error):
        stats.notes.append(f"a broken capture file: {_after(frame)} is broken or cut off; the rest of the file was not read")
    else:
        if guarded.short is not None:
            announced, there = guarded.short
            stats.notes.append(f"the capture file is cut off: its last block has {there} of the {announced} bytes it announces")
    finally:
        stats.frames = frame

