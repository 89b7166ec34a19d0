# `tlscompat explain CAPTURE [--keylog FILE] [--format ...]`: read the key log (bad input is
# a UsageError before the capture is read), stream the connections out as they close.
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import BinaryIO, TextIO

from scanner.exits import EXIT_FINDINGS, EXIT_OK, UsageError
from scanner.options import SEVERITIES
from scanner.outcome_text import counted

__all__ = ["explain_capture"]


def explain_capture(
    args: argparse.Namespace,
    stream: BinaryIO,
    out: TextIO | None = None,
    *,
    severity: Callable[[str], str] | None = None,
    wrap: Callable[[str], str] | None = None,
) -> int:
    """Explain one capture stream. Exit 0, or 1 with --fail-on and a finding at or above it.
    ``severity``: how severities are shown in the table format (the CLI's --color style);
    ``wrap``: what fits the table and summary text to a terminal (the CLI's style,
    scanner.report.terminal.Style.wrap_text, a layer above this one); as is by default.
    Raises UsageError for an unreadable key log or an input that is not a capture."""
    from scanner.capture.analyze import analyze
    from scanner.capture.keylog import load_keylog
    from scanner.capture.packets import CaptureError, ReadStats
    from scanner.capture.report import (
        CAPTURE_SCHEMA_VERSION,
        connection_json,
        connection_summary,
        connection_text,
    )

    out = out or sys.stdout
    fit = wrap or str
    keylog = None
    if args.keylog:
        try:
            keylog = load_keylog(args.keylog)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    stats = ReadStats()
    if keylog is not None:
        stats.notes.extend(keylog.notes)  # the key log lines skipped
    try:
        reports = analyze(stream, keylog=keylog, stats=stats, tls_only=not args.all_connections)
    except CaptureError as exc:
        raise UsageError(f"{args.source}: {exc}") from None
    fmt = args.format
    worst = len(SEVERITIES)
    count = 0
    if fmt == "json":
        out.write(f'{{"schema_version": {CAPTURE_SCHEMA_VERSION}, "capture": {json.dumps(args.source)}, "connections": [')
    for r in reports:
        for f in r.findings:
            worst = min(worst, SEVERITIES.index(f.severity))
        if fmt == "json":
            out.write(("," if count else "") + "\n" + json.dumps(connection_json(r)))
        elif fmt == "jsonl":
            out.write(json.dumps(connection_json(r)) + "\n")
        elif fmt == "summary":
            out.write(fit(connection_summary(r)) + "\n")
        else:
            out.write(("\n" if count else "") + fit(connection_text(r, verbose=args.verbose, severity=severity)) + "\n")
        count += 1
    if fmt == "json":
        totals = {"frames": stats.frames, "tcp_segments": stats.tcp_segments, "skipped": stats.skipped, "connections": count}
        out.write(f'\n], "totals": {json.dumps(totals)}, "notes": {json.dumps(stats.notes)}}}\n')
    elif fmt in ("table", "summary"):
        line = (
            f"{counted(count, 'connection')} in {counted(stats.frames, 'frame')} "
            f"({counted(stats.tcp_segments, 'TCP segment')}, {stats.skipped} other frames skipped)."
        )
        out.write(("\n" if fmt == "table" else "") + fit(line) + "\n")
        for n in stats.notes:
            out.write(fit(f"note: {n}") + "\n")
    if args.fail_on is not None and worst <= SEVERITIES.index(args.fail_on):
        return EXIT_FINDINGS
    return EXIT_OK
