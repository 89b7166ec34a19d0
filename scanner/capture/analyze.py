# A whole capture -> one diagnosed ConnectionReport per TCP connection, streamed: a
# connection is reported as soon as it closes (FIN both ways, or a RST) and forgotten, so
# memory follows the connections open at once, not the size of the capture. Connections
# still open when the capture ends are reported last, in the order they started; those idle
# for 5 minutes of capture time are reported on the way.
#
# Rules kept: a generator; segments of a connection already reported (the last ACKs) are
# dropped, a new SYN on the same addresses and ports starts a new connection; bounded
# tables (_MAX_RECENT) for what is remembered across connections.
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import replace
from typing import BinaryIO

from scanner.capture.connection import STAGES, ConnectionReport, ConnectionTracker
from scanner.capture.diagnose import diagnose_connection, intolerance
from scanner.capture.keylog import KeyLog
from scanner.capture.packets import ReadStats, Segment, read_segments

__all__ = ["analyze", "analyze_segments"]

_MAX_RECENT = 4096
_SWEEP_EVERY = 8192  # segments between two sweeps for idle connections
_IDLE = 300.0  # seconds of capture time without a segment: the connection is reported
_SYN, _ACK = 0x02, 0x10

Key = tuple[bytes, int, bytes, int]


def _key(seg: Segment) -> Key:
    a, b = (seg.src, seg.sport), (seg.dst, seg.dport)
    lo, hi = (a, b) if a <= b else (b, a)
    return (lo[0], lo[1], hi[0], hi[1])


def analyze_segments(
    segments: Iterator[Segment], *, keylog: KeyLog | None = None, tls_only: bool = True
) -> Iterator[ConnectionReport]:
    """Diagnosed reports, one per connection. ``tls_only``: leave out connections in which
    neither side spoke TLS (and that are not a refused or unanswered connection attempt to
    nothing, or a TLS client answered in another protocol)."""
    open_: dict[Key, ConnectionTracker] = {}
    closed: OrderedDict[Key, None] = OrderedDict()
    failed: OrderedDict[tuple[str, str, int], ConnectionReport] = OrderedDict()
    number = 0

    def finish(tracker: ConnectionTracker) -> ConnectionReport | None:
        report = diagnose_connection(tracker.report())
        pair = (report.client, report.server, report.server_port)
        if report.hello is not None and STAGES.index(report.stage) < STAGES.index("server_flight"):
            failed[pair] = report
            failed.move_to_end(pair)
            if len(failed) > _MAX_RECENT:
                failed.popitem(last=False)
        elif pair in failed:
            note = intolerance(failed.pop(pair), report)
            if note:
                report = replace(report, notes=(*report.notes, note))
        if tls_only and not (report.tls or report.findings):
            return None
        return report

    seen = 0
    for seg in segments:
        seen += 1
        if seen % _SWEEP_EVERY == 0:
            # Connections idle for _IDLE seconds of capture time are reported now, so a
            # capture full of half-open or abandoned connections keeps memory flat.
            idle = [k for k, t in open_.items() if seg.ts - t.end > _IDLE]
            for k in idle:
                report = finish(open_.pop(k))
                closed[k] = None
                if report is not None:
                    yield report
            while len(closed) > _MAX_RECENT:
                closed.popitem(last=False)
        key = _key(seg)
        tracker = open_.get(key)
        if tracker is None:
            is_syn = bool(seg.flags & _SYN) and not seg.flags & _ACK
            if key in closed and not is_syn:
                continue  # the last ACKs of a connection already reported
            closed.pop(key, None)
            number += 1
            tracker = ConnectionTracker(number, seg, keylog)
            open_[key] = tracker
        tracker.segment(seg)
        if tracker.closed:
            del open_[key]
            closed[key] = None
            if len(closed) > _MAX_RECENT:
                closed.popitem(last=False)
            report = finish(tracker)
            if report is not None:
                yield report
    for tracker in sorted(open_.values(), key=lambda t: t.number):
        report = finish(tracker)
        if report is not None:
            yield report


def analyze(
    stream: BinaryIO, *, keylog: KeyLog | None = None, stats: ReadStats | None = None, tls_only: bool = True
) -> Iterator[ConnectionReport]:
    """Read a pcap/pcapng stream and yield one diagnosed report per connection. Raises
    packets.CaptureError (before yielding anything) when the stream is not a capture."""
    segments = read_segments(stream, stats)
    return analyze_segments(segments, keylog=keylog, tls_only=tls_only)
