# `tlscompat diff` and `tlscompat report`: read scans back (scanner.report.loading), compare
# them (scanner.compare) and write text, JSON, Markdown or HTML. Registered by
# scanner.cli through register(subparsers); no TLS and no network here.
#
# Exit codes as for `scan`: 0 done; 2 usage or input error (a file that cannot be read is
# reported in one line naming it).
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from scanner.exits import UsageError

__all__ = ["cmd_diff", "cmd_report", "register"]


def _usage_error(message: str) -> Exception:
    return UsageError(message)


def _profiles(spec: str) -> Sequence[Any]:
    from scanner.compare import select_profiles

    try:
        return select_profiles(spec)
    except ValueError as exc:
        raise _usage_error(f"--profiles: {exc}") from None


def _write(text: str, output: str | None) -> None:
    if output:
        try:
            with open(output, "w", encoding="utf-8", newline="") as fp:
                fp.write(text)
        except OSError as exc:
            raise _usage_error(f"-o {output}: cannot write: {exc.strerror}") from None
    else:
        sys.stdout.write(text)


def _warn(warnings: Sequence[str]) -> None:
    for warning in warnings:
        print(f"tlscompat: warning: {warning}", file=sys.stderr)


def _list_profiles() -> int:
    from scanner.compare import select_profiles
    from scanner.profiles import load_builtin_profiles

    default = {p.id for p in select_profiles("default")}
    for p in load_builtin_profiles():
        mark = "*" if p.id in default else " "
        sys.stdout.write(f"{mark} {p.id:28} {p.name}\n")
    sys.stdout.write("(* = in the default selection)\n")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from scanner.cli_common import check_output
    from scanner.compare import diff_scans
    from scanner.report.diff import render_diff, write_diff_json
    from scanner.report.loading import LoadError, load_scan, load_store

    check_output(args.output)
    try:
        if args.db:
            before_run = args.before or "previous"
            after_run = args.after or "latest"
            before = load_store(args.db, before_run)
            after = load_store(args.db, after_run)
        else:
            if not args.before or not args.after:
                raise _usage_error("give two scans: tlscompat diff BEFORE AFTER (or --db PATH)")
            before = load_scan(args.before)
            after = load_scan(args.after)
    except LoadError as exc:
        raise _usage_error(str(exc)) from None
    _warn(before.warnings + after.warnings)
    diff = diff_scans(
        before.endpoints,
        after.endpoints,
        profiles=_profiles(args.profiles),
        match=args.match,
        before_source=before.source,
        after_source=after.source,
    )
    if args.format == "json":
        import io

        buffer = io.StringIO()
        write_diff_json(diff, buffer)
        text = buffer.getvalue()
    elif args.format in ("markdown", "html"):
        matrix = _profiles(args.matrix_profiles)
        if args.format == "markdown":
            from scanner.report.markdown import render_diff_markdown

            text = render_diff_markdown(diff, profiles=matrix)
        else:
            from scanner.report.html import render_diff_html

            text = render_diff_html(diff, profiles=matrix)
    else:
        from scanner.report.terminal import style_for

        style = style_for(None if args.output else sys.stdout, args.color)
        text = render_diff(diff, color=style.color, width=style.width)
    _write(text, args.output)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from scanner.report.loading import LoadError, load_scan, load_store

    if args.list_profiles:
        return _list_profiles()
    from scanner.cli_common import check_output

    check_output(args.output)
    try:
        if args.db:
            if args.scan:
                raise _usage_error("give a SCANFILE or --db PATH, not both")
            scan = load_store(args.db, args.run)
        elif args.scan:
            scan = load_scan(args.scan, run=args.run)
        else:
            raise _usage_error("give the scan to report on: tlscompat report SCANFILE")
    except LoadError as exc:
        raise _usage_error(str(exc)) from None
    _warn(scan.warnings)
    profiles = _profiles(args.profiles)
    if args.format == "html":
        from scanner.report.html import render_scan_html

        text = render_scan_html(scan.endpoints, profiles=profiles, source=scan.source)
    else:
        from scanner.report.markdown import render_scan_markdown

        text = render_scan_markdown(scan.endpoints, profiles=profiles, source=scan.source)
    _write(text, args.output)
    return 0


def register(subparsers: Any) -> None:
    """Add `diff` and `report` to tlscompat's subcommands."""
    from scanner.compare import MATCH_MODES

    p = subparsers.add_parser(
        "diff",
        help="what changed between two scans: protocols, suites, certificate, findings, clients",
        description=(
            "Compare two scans (JSON, JSONL, or two runs of a fleet store) endpoint by "
            "endpoint, and say which client profiles gained or lost connectivity."
        ),
    )
    p.add_argument(
        "before", nargs="?", help="the earlier scan file (with --db: a run: N, latest, previous)"
    )
    p.add_argument(
        "after", nargs="?", help="the later scan file (with --db: a run; default latest)"
    )
    p.add_argument(
        "--db",
        metavar="PATH",
        help="compare two runs of this fleet store (default: previous and latest)",
    )
    p.add_argument("--format", choices=("table", "json", "markdown", "html"), default="table")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument(
        "--match",
        choices=MATCH_MODES,
        default="endpoint",
        help="pair endpoints by host, port and SNI (endpoint, the default); by host and SNI "
        "on any port (host); or also by address (address)",
    )
    p.add_argument(
        "--profiles",
        default="all",
        help="the clients whose connectivity is compared: all (default), default, current, or ids",
    )
    p.add_argument(
        "--matrix-profiles",
        default="default",
        metavar="PROFILES",
        help="the rows of the Markdown/HTML matrix: default (current clients and a few old ones), all, current, or ids",
    )
    p.set_defaults(func=cmd_diff)

    p = subparsers.add_parser(
        "report",
        help="a Markdown or self-contained HTML report of a scan, with a client compatibility matrix",
    )
    p.add_argument(
        "scan", nargs="?", metavar="SCANFILE", help="a scan: JSON document, JSONL, or a fleet store"
    )
    p.add_argument("--db", metavar="PATH", help="report on a run of this fleet store")
    p.add_argument("--run", default="latest", help="with --db: N, latest (default) or previous")
    p.add_argument("--format", choices=("markdown", "html"), default="markdown")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument(
        "--profiles",
        default="default",
        help="the rows of the matrix: default (current clients and a few old ones), all, current, "
        "or comma-separated profile ids",
    )
    p.add_argument(
        "--list-profiles", action="store_true", help="list the client profile ids and exit"
    )
    p.set_defaults(func=cmd_report)
