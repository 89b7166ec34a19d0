# `tlscompat scan` as a fleet: every scan, of one host or of ten thousand, goes through
# here. The command line and the targets files become a validated TargetsPlan; the plan
# is streamed through scanner.fleet.run; each finished endpoint is written to the output,
# the history database, the summary and the progress bar by the runner's single writer.
#
# Exit codes (docs/fleet.md): 0 no finding at or above --fail-on, 1 findings at or above
# it, 2 usage or input error (nothing was scanned), 130 interrupted (what finished is
# written).
from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import trio

from scanner import cli_common as cc
from scanner.cli_common import check_ca_file, check_output
from scanner.exits import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, UsageError
from scanner.fleet.output import (
    FleetSummary,
    Progress,
    ResumeError,
    Writer,
    json_line,
    load_resume,
    make_writer,
    target_key,
)
from scanner.fleet.run import Completed, FleetSettings, RunStatus, run_fleet
from scanner.fleet.targets_file import DEFAULT_CIDR_CAP, DEPTHS, Layer, RunLimits, load_targets
from scanner.options import KNOWN_PROBES, ScanOptions, Target
from scanner.outcome_text import counted
from scanner.results import endpoint_json
from scanner.targets import TargetError, parse_target

DEFAULT_ENDPOINTS = 64
DEFAULT_CONNECTIONS = 256
DEFAULT_PER_SUBNET = 64
# An endpoint's full scan takes about 60 connections; under a rate limit, no more
# endpoints are started than can finish in half their deadline.
CONNECTIONS_PER_ENDPOINT = 60


def add_fleet_arguments(p: argparse.ArgumentParser) -> None:
    """The fleet options of `tlscompat scan` (called by scanner.cli.add_scan_arguments)."""
    p.add_argument(
        "-f", "--targets-file", action="append", default=[], metavar="FILE",
        help="YAML targets file or plain list (one target per line); '-' reads stdin; repeatable",
    )
    p.add_argument("--resume", action="store_true", help="skip endpoints already in the --format jsonl output file")
    p.add_argument("--db", metavar="PATH", help="history database (default: next to -o FILE, e.g. scan.sqlite)")
    p.add_argument("--no-db", action="store_true", help="write no history database")
    p.add_argument("--csv-findings", action="store_true", help="CSV: one row per finding instead of per endpoint")
    p.add_argument("--concurrency", type=cc.count(1), metavar="N", help=f"endpoints scanned at once (default {DEFAULT_ENDPOINTS})")
    p.add_argument("--max-connections", type=cc.count(1), metavar="N", help=f"connections open at once, whole scan (default {DEFAULT_CONNECTIONS})")
    p.add_argument(
        "--per-subnet", type=cc.count(0), metavar="N",
        help=f"connections open at once into one /24 or /64 (default {DEFAULT_PER_SUBNET}; 0: no limit)",
    )
    p.add_argument("--rate", type=cc.rate, metavar="N", help="new connections per second, whole scan (default: no limit)")
    p.add_argument("--cidr-cap", type=cc.count(1), default=DEFAULT_CIDR_CAP, metavar="N", help=f"largest CIDR range expanded (default {DEFAULT_CIDR_CAP} addresses)")
    p.add_argument("--workers", type=cc.count(1), default=1, metavar="N", help="scanning processes (default 1; each holds its own ~50 MB)")
    p.add_argument(
        "--cluster", metavar="SPEC",
        help="scan on a Dask cluster: tcp://HOST:PORT (a scheduler) or local:N (N worker processes here); "
        "needs the cluster extra (docs/cluster.md)",
    )
    p.add_argument(
        "--shard", metavar="K/N",
        help="scan only shard K of N (1 <= K <= N): the targets whose host (the address for IP targets) hashes to K",
    )
    p.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true",
        help="no summary line on stderr at the end (it is printed when the report goes to a file or is not a table)",
    )


def layer_from_args(args: argparse.Namespace) -> Layer:
    """The scan options given explicitly on the command line (they beat a targets file's
    defaults, not a target's own options). Raises UsageError."""
    kw: dict[str, Any] = {}
    if getattr(args, "quick", False):
        kw["depth"] = DEPTHS["quick"]
    if getattr(args, "probes", None) is not None:
        wanted = {p.strip() for p in args.probes.split(",") if p.strip()}
        if not wanted:
            raise UsageError(f"--probes names no probe; known: {', '.join(KNOWN_PROBES)}")
        unknown = wanted - set(KNOWN_PROBES)
        if unknown:
            raise UsageError(f"unknown probe(s): {', '.join(sorted(unknown))}; known: {', '.join(KNOWN_PROBES)}")
        kw["depth"] = frozenset(wanted)
    for name, key in (("connect_timeout", "connect"), ("read_timeout", "read"), ("endpoint_timeout", "endpoint")):
        value = getattr(args, name, None)
        if value is not None:
            if value <= 0:
                raise UsageError(f"--{name.replace('_', '-')} must be positive")
            kw[key] = value
    if getattr(args, "per_endpoint", None) is not None:
        if args.per_endpoint < 1:
            raise UsageError("--per-endpoint must be at least 1")
        kw["per_endpoint"] = args.per_endpoint
    if getattr(args, "retries", None) is not None:
        if args.retries < 0:
            raise UsageError("--retries must be at least 0")
        kw["retries"] = args.retries
    if getattr(args, "all_addresses", False):
        kw["all_addresses"] = True
    if getattr(args, "ca_file", None):
        check_ca_file(args.ca_file)
        kw["ca_file"] = args.ca_file
    if getattr(args, "no_system_store", False):
        kw["use_system_store"] = False
    if getattr(args, "client_versions", None):
        kw["client_versions"] = args.client_versions
    if getattr(args, "client_suites", None):
        kw["client_suites"] = args.client_suites
    # Issue 13: the pre-TLS dialogue.
    if getattr(args, "starttls", None):
        kw["starttls"] = args.starttls
    if getattr(args, "starttls_timeout", None) is not None:
        if args.starttls_timeout <= 0:
            raise UsageError("--starttls-timeout must be positive")
        kw["starttls_timeout"] = args.starttls_timeout
    if getattr(args, "starttls_per_endpoint", None) is not None:
        if args.starttls_per_endpoint < 1:
            raise UsageError("--starttls-per-endpoint must be at least 1")
        kw["starttls_per_endpoint"] = args.starttls_per_endpoint
    if getattr(args, "xmpp_domain", None):
        if any(ch.isspace() or ch in "'\"<>&" for ch in args.xmpp_domain):
            raise UsageError(f"--xmpp-domain: {args.xmpp_domain!r} is not a domain name")
        kw["xmpp_domain"] = args.xmpp_domain
    certs = getattr(args, "client_certs_loaded", None)
    if certs:
        kw["client_certs"] = tuple(certs)
    return Layer(**kw)


def base_options(args: argparse.Namespace) -> ScanOptions:
    return ScanOptions(verbose=bool(getattr(args, "verbose", False)))


def settings_from_args(args: argparse.Namespace, limits: RunLimits, total: int, deadline: float) -> FleetSettings:
    """Run limits: the command line, else the targets files, else the defaults."""
    def pick(flag: Any, from_file: Any, default: Any) -> Any:
        return flag if flag is not None else from_file if from_file is not None else default

    endpoints = pick(args.concurrency, limits.endpoints, DEFAULT_ENDPOINTS)
    connections = pick(args.max_connections, limits.connections, DEFAULT_CONNECTIONS)
    per_subnet = pick(args.per_subnet, limits.per_subnet, DEFAULT_PER_SUBNET)
    rate = pick(args.rate, limits.rate, None)
    if endpoints < 1 or connections < 1:
        raise UsageError("--concurrency and --max-connections must be at least 1")
    if per_subnet < 0 or (rate is not None and rate < 0):
        raise UsageError("--per-subnet and --rate must not be negative")
    if rate:
        endpoints = min(endpoints, max(1, int(rate * deadline / (2 * CONNECTIONS_PER_ENDPOINT))))
    workers = args.workers
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    workers = min(workers, endpoints)
    cluster = getattr(args, "cluster", None)
    if cluster:
        from scanner.fleet.cluster import parse_cluster, require_dask

        if workers > 1:
            raise UsageError("--workers and --cluster exclude each other (local:N starts N worker processes)")
        parse_cluster(cluster)
        require_dask()
        if not _picklable(getattr(args, "client_certs_loaded", None)):
            raise UsageError("--cluster cannot carry these client certificates to the workers (not picklable)")
    if workers > 1 and not _picklable(getattr(args, "client_certs_loaded", None)):
        # Loaded private keys cannot cross to a worker process: scan in this one.
        workers = 1
    return FleetSettings(
        endpoints=endpoints, connections=connections, per_subnet=per_subnet or None,
        rate=rate or None, workers=workers, cluster=cluster or None,
    )


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``K/N`` -> (K, N) with 1 <= K <= N. Raises UsageError."""
    if text is None:
        return None
    k, sep, n = text.partition("/")
    if not sep or not k.strip().isdigit() or not n.strip().isdigit():
        raise UsageError(f"--shard {text}: give K/N, e.g. 1/4")
    kk, nn = int(k), int(n)
    if nn < 1 or not 1 <= kk <= nn:
        raise UsageError(f"--shard {text}: K must be from 1 to N")
    return kk, nn


def shard_of(target: Target, shards: int) -> int:
    """The shard (1..shards) of a target: a hash of its host name, or of its address for
    an IP target, so every port and SNI of one host lands on the same machine."""
    from scanner.fleet.output import _digest

    return _digest(target.host.lower()) % shards + 1


def _picklable(value: Any) -> bool:
    import pickle

    try:
        pickle.dumps(value)
    except Exception:  # noqa: BLE001 - whatever pickle refuses
        return False
    return True


def _cli_targets(args: argparse.Namespace) -> list[str | Target]:
    from dataclasses import replace

    items: list[str | Target] = list(args.targets)
    if args.ip or args.sni is not None:
        if len(items) != 1:
            raise UsageError("--ip and --sni apply to exactly one target")
        try:
            t = parse_target(str(items[0]))
        except TargetError as exc:
            raise UsageError(str(exc)) from None
        items = [replace(t, ip=args.ip or t.ip, sni=args.sni if args.sni is not None else t.sni)]
    return items


def run_scan(args: argparse.Namespace) -> int:
    """`tlscompat scan`: validate everything, then stream the scan. Raises UsageError."""
    files: list[str] = list(getattr(args, "targets_file", []) or [])
    if not args.targets and not files:
        raise UsageError("no target given: tlscompat scan HOST[:PORT] ... or -f FILE")
    if files.count("-") > 1:
        raise UsageError("stdin ('-') can be read only once")
    if args.resume and (not args.output or args.format != "jsonl"):
        raise UsageError("--resume needs --format jsonl and -o FILE (the file to continue)")
    if getattr(args, "csv_findings", False) and args.format != "csv":
        raise UsageError("--csv-findings needs --format csv")
    if args.cidr_cap < 1:
        raise UsageError("--cidr-cap must be at least 1")
    if args.output == "-":
        args.output = None  # "-o -": standard output, as "-f -" is standard input
    check_output(args.output)
    if args.db and not args.no_db:
        check_output(args.db, "--db")
    shard = parse_shard(getattr(args, "shard", None))
    layer = layer_from_args(args)
    base = base_options(args)
    try:
        plan = load_targets(files, cli_targets=_cli_targets(args), base=base, cli_layer=layer, cidr_cap=args.cidr_cap)
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    if plan.total == 0:
        # An empty input is a mistake (a wrong file, a failed export); a --resume that
        # leaves nothing to do is not (it ends with exit 0 and a note).
        plan.close()
        raise UsageError(f"{', '.join(files)}: no targets in it (empty, or only comments)")
    with plan:
        deadline = (layer.endpoint or base.deadlines.endpoint)
        settings = settings_from_args(args, plan.limits, plan.total, deadline)
        return _run(args, plan, settings, shard)


def _db_path(args: argparse.Namespace) -> str | None:
    from scanner.fleet.store import default_path

    if args.no_db:
        return None
    if args.db:
        return str(args.db)
    if args.output and _regular_or_new(args.output):
        # Next to a report file; none for /dev/null, a FIFO or a terminal.
        return str(default_path(args.output))
    return None


def _regular_or_new(path: str) -> bool:
    return not os.path.exists(path) or os.path.isfile(path)


def _run(args: argparse.Namespace, plan: Any, settings: FleetSettings, shard: tuple[int, int] | None = None) -> int:
    from scanner.fleet.store import Store

    summary = FleetSummary()
    store: Store | None = None
    db_path = _db_path(args)
    out: TextIO
    color = False
    if db_path:
        try:
            store = Store(db_path)
        except Exception as exc:  # noqa: BLE001 - sqlite3 errors and OSError alike
            option = "--db" if args.db else f"the history database next to -o (--db {db_path}; --no-db for none)"
            raise UsageError(f"{option}: cannot open: {exc}") from None
        store.start_run(
            command=shlex.join(["tlscompat", *sys.argv[1:]]) if sys.argv else "tlscompat scan",
            output=os.path.abspath(args.output) if args.output else None,
            targets=plan.total, resume=bool(args.resume),
        )
    status = "failed"
    try:
        done_keys: set[int] = set()
        already = 0
        if args.resume:

            def seen(data: dict[str, Any]) -> None:
                summary.add(data)
                if store is not None and not store.has(data):
                    store.add(data, json_line(data))

            try:
                done_keys, already = load_resume(args.output, seen)
            except (ResumeError, OSError) as exc:
                raise UsageError(str(exc)) from None
        if args.output:
            out = open(args.output, "a" if args.resume else "w", encoding="utf-8", newline="")
        else:
            out = sys.stdout
        # --color and NO_COLOR as in every command (a file gets colour only when "always").
        from scanner.report.terminal import style_for

        color = style_for(out, args.color).color
        writer = make_writer(
            args.format, out, verbose=args.verbose, color=color,
            csv_findings=getattr(args, "csv_findings", False),
        )
        show_progress = args.progress if args.progress is not None else sys.stderr.isatty()
        # The bar counts what will be scanned: a duplicate target or one of another shard
        # is not in its total (one more pass over the targets, only when the bar is shown).
        total = sum(1 for _ in _distinct(plan, shard)) if show_progress else plan.total
        progress = Progress(sys.stderr, total, already=already) if show_progress else None
        # Tables on the same terminal as the bar: clear the bar before each endpoint.
        clear = progress is not None and out is sys.stdout and out.isatty()
        try:
            run_status = _stream(plan, settings, writer, summary, store, progress, done_keys, clear, shard)
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            if progress is not None:
                # The bar's line erased before anything else is printed (the summary table,
                # the end of a JSON document, a message), at the end or on Ctrl-C alike.
                progress.clear()
            writer.close(summary if args.format == "table" else None)
            if out is not sys.stdout:
                out.close()
        interrupted = run_status.interrupted or run_status.lost is not None
        status = "interrupted" if interrupted else "completed"
    finally:
        if store is not None:
            store.finish(status)
            store.close()
            if store.unwritten:
                # Told once, at the end: the output is complete, only the history lacks them.
                print(
                    f"tlscompat: the history database {db_path} was not written for "
                    f"{store.unwritten} endpoint{'s' if store.unwritten != 1 else ''} "
                    f"({store.error or 'unavailable'}); the output has every endpoint",
                    file=sys.stderr,
                )
    if progress is not None and (args.format != "table" or args.output):
        sys.stderr.write(summary.render(color=sys.stderr.isatty()))
    if run_status.lost is not None:
        again = " (run it again with --resume to continue)" if args.resume or args.format == "jsonl" and args.output else ""
        print(f"tlscompat: {run_status.lost}; {counted(summary.total, 'endpoint')} written{again}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if interrupted:
        print(f"tlscompat: interrupted; {counted(summary.total, 'endpoint')} written", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not getattr(args, "quiet", False) and (args.format != "table" or args.output):
        # Always one line at the end (CI logs included): what was done and where it went.
        where = f"; written to {args.output}" if args.output else ""
        if store is not None:
            # Not "history in ..." when some endpoints did not get into it (warned above).
            n = store.unwritten
            where += (
                f"; history database {db_path} not written for {n} endpoint{'s' if n != 1 else ''}"
                if n else f"; history in {db_path}"
            )
        print(f"tlscompat: {summary.one_line()}{where}", file=sys.stderr)
    return EXIT_FINDINGS if summary.fails(args.fail_on) else EXIT_OK


def _distinct(plan: Any, shard: tuple[int, int] | None) -> Iterator[tuple[Target, ScanOptions]]:
    """The plan's targets to scan, in input order: each once (the same host, port, SNI and
    address given twice is scanned once), and only those of ``shard``."""
    from scanner.fleet.output import _digest

    seen: set[int] = set()
    for target, options in plan:
        key = _digest(target.host, target.port, target.server_name, target.ip)
        if key in seen or (shard is not None and shard_of(target, shard[1]) != shard[0]):
            continue
        seen.add(key)
        yield target, options


def _stream(
    plan: Any, settings: FleetSettings, writer: Writer, summary: FleetSummary, store: Any,
    progress: Progress | None, done_keys: set[int], clear: bool = False,
    shard: tuple[int, int] | None = None,
) -> RunStatus:
    """Run the scan: its status (interrupted by Ctrl-C, backend lost)."""

    def jobs() -> Any:
        for target, options in _distinct(plan, shard):
            if done_keys and target_key(target) in done_keys:
                continue
            yield target, options

    def write(done: Completed) -> None:
        if clear and progress is not None:
            progress.clear()
        for result in done.results:
            data = endpoint_json(result)
            line = json_line(data)
            writer.write(result, data, line)
            if store is not None:
                store.add(data, line)
            summary.add(data)
        writer.flush()
        if progress is not None:
            progress.advance()

    backend = None
    if settings.cluster:
        from scanner.fleet.cluster import DaskBackend  # Dask is imported only here

        backend = DaskBackend(settings)
    status = trio.run(
        lambda: run_fleet(
            jobs(), settings, write, tick=progress.draw if progress is not None else None,
            handle_sigint=True, backend=backend,
        )
    )
    return status
