# `tlscompat merge`: join the outputs of scans run apart (the shards of `--shard K/N` on
# several machines, or a scan and its rescans). JSON Lines files become one file with each
# endpoint once, the newest result winning; history databases become one database with
# every run kept.
#
# Rules kept: memory holds one small record per endpoint (its key, start time and where
# its line is), never the results; the output file is written beside its final name and
# renamed when complete, so a failed merge leaves no half file; a bad input is one line on
# stderr and exit 2 before anything is written.
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import sqlite3
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from scanner.cli_common import check_output
from scanner.exits import EXIT_OK, UsageError
from scanner.fleet.output import line_keys
from scanner.report.printable import counted

HISTORY_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def register(sub: Any) -> None:
    """The `merge` command (called by scanner.cli.build_parser)."""
    p = sub.add_parser(
        "merge", help="join scan outputs (JSON Lines files, or history databases) into one",
        description="Join JSON Lines outputs (each endpoint once, the newest wins) or history "
        "databases (every run kept). Inputs ending in .sqlite/.db are databases.",
    )
    p.add_argument("inputs", nargs="+", metavar="FILE", help="JSON Lines outputs, or history databases")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the merged file")
    p.add_argument("--db", metavar="PATH", help="JSON Lines: history database of the merged file (default: next to -o)")
    p.add_argument("--no-db", action="store_true", help="JSON Lines: write no history database")
    p.set_defaults(func=cmd_merge)


def cmd_merge(args: argparse.Namespace) -> int:
    inputs = [str(p) for p in args.inputs]
    check_output(args.output)
    for path in inputs:
        if not os.path.exists(path):
            raise UsageError(f"{path}: no such file")
        if os.path.isdir(path):
            raise UsageError(f"{path}: is a directory")
        if os.path.abspath(path) == os.path.abspath(args.output):
            raise UsageError(f"{path}: the output cannot also be an input")
    history = [p.lower().endswith(HISTORY_SUFFIXES) for p in inputs]
    if any(history) and not all(history):
        raise UsageError("merge either JSON Lines files or history databases, not both")
    if all(history) != args.output.lower().endswith(HISTORY_SUFFIXES):
        want = "a history database (" + ", ".join(HISTORY_SUFFIXES) + ")" if all(history) else "a JSON Lines file"
        raise UsageError(f"-o {args.output}: the merge of these inputs is {want}; name it so")
    if all(history):
        runs, endpoints = merge_history(inputs, args.output)
        print(f"tlscompat: {args.output}: {runs} runs, {endpoints} endpoint rows", file=sys.stderr)
        return EXIT_OK
    db = None
    if not args.no_db:
        from scanner.fleet.store import default_path

        db = args.db or str(default_path(args.output))
    count = merge_jsonl(inputs, args.output, db=db)
    print(f"tlscompat: {args.output}: {counted(count, 'endpoint')}", file=sys.stderr)
    return EXIT_OK


def _records(path: str) -> Any:
    """(line number, byte offset, data) of each endpoint line; a torn last line (a scan
    killed mid-write) is skipped. Raises UsageError for anything else."""
    with open(path, "rb") as fp:
        offset = 0
        number = 0
        for raw in fp:
            number += 1
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            data: Any = None
            if raw.endswith(b"\n"):
                try:
                    data = json.loads(raw)
                except ValueError:
                    data = None
            if not isinstance(data, dict) or "host" not in data:
                if not raw.endswith(b"\n") and not fp.read(1):
                    return  # torn last line
                raise UsageError(f"{path}:{number}: not an endpoint line (tlscompat scan --format jsonl)")
            yield number, start, data


def merge_jsonl(inputs: list[str], output: str, *, db: str | None = None) -> int:
    """Write ``output`` with each endpoint (host, port, SNI, address) once: the line with
    the latest ``started`` time, the later input on a tie. Lines keep the order of the
    inputs. With ``db``, the merged endpoints also go to that history database, as one
    run. Returns the endpoint count. Raises UsageError."""
    with contextlib.ExitStack() as spools:
        # Each input is read twice (rank, then copy): a pipe or FIFO is spooled to a
        # temporary file first.
        inputs = [_seekable(path, spools) for path in inputs]
        return _merge_jsonl(inputs, output, db=db)


def _seekable(path: str, spools: contextlib.ExitStack) -> str:
    if stat.S_ISREG(os.stat(path).st_mode):
        return path
    spool = spools.enter_context(tempfile.NamedTemporaryFile(prefix="tlscompat-merge-", suffix=".jsonl"))
    with open(path, "rb") as source:
        shutil.copyfileobj(source, spool)
    spool.flush()
    return str(spool.name)


def _merge_jsonl(inputs: list[str], output: str, *, db: str | None) -> int:
    best: dict[int, tuple[str, int, int]] = {}
    for i, path in enumerate(inputs):
        lines = 0
        for _, start, data in _records(path):
            lines += 1
            key = line_keys(data)[0]
            rank = (str(data.get("started") or ""), i, start)
            if key not in best or rank >= best[key]:
                best[key] = rank
        if not lines:
            raise UsageError(f"{path}: no endpoint line (tlscompat scan --format jsonl writes them)")
    winners: dict[int, set[int]] = {}
    for _, i, start in best.values():
        winners.setdefault(i, set()).add(start)
    del best
    tmp = f"{output}.merging"
    store = None
    if db is not None:
        from scanner.fleet.store import Store

        try:
            store = Store(db)
        except (sqlite3.Error, OSError) as exc:
            raise UsageError(f"--db {db}: {exc}") from None
        store.start_run(
            command=shlex.join(["tlscompat", "merge", *inputs, "-o", output]),
            output=os.path.abspath(output), targets=sum(len(s) for s in winners.values()), resume=False,
        )
    count = 0
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            for i, path in enumerate(inputs):
                keep = winners.get(i, set())
                for _, start, data in _records(path):
                    if start in keep:
                        line = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
                        out.write(line + "\n")
                        if store is not None:
                            store.add(data, line)
                        count += 1
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if store is not None:
            store.finish("failed")
            store.close()
        raise
    if store is not None:
        store.finish("completed")
        store.close()
    return count


def merge_history(inputs: list[str], output: str) -> tuple[int, int]:
    """Copy every run of the input history databases, with their endpoints and findings,
    into ``output`` (created, or added to). A run already there (same start, command and
    output file: the same database merged twice) is not copied again. Returns the runs
    and endpoint rows copied. Raises UsageError."""
    from scanner.fleet.store import SCHEMA_VERSION, Store

    try:
        dst = Store(output)
    except (sqlite3.Error, OSError) as exc:
        raise UsageError(f"{output}: {exc}") from None
    runs = endpoints = 0
    try:
        db = dst.db
        for path in inputs:
            try:
                db.execute("ATTACH DATABASE ? AS src", (str(Path(path).resolve()),))
            except sqlite3.Error as exc:
                raise UsageError(f"{path}: {exc}") from None
            try:
                try:
                    version = db.execute("PRAGMA src.user_version").fetchone()[0]
                    db.execute("SELECT id FROM src.runs LIMIT 1").fetchall()
                except sqlite3.Error:
                    raise UsageError(f"{path}: not a tlscompat history database") from None
                if not 1 <= version <= SCHEMA_VERSION:
                    raise UsageError(f"{path}: not a tlscompat history database (schema version {version})")
                r, e = _copy_runs(db)
                runs += r
                endpoints += e
            finally:
                db.execute("DETACH DATABASE src")
    finally:
        dst.close()
    return runs, endpoints


def _copy_runs(db: sqlite3.Connection) -> tuple[int, int]:
    run_off = db.execute("SELECT COALESCE(MAX(id), 0) FROM main.runs").fetchone()[0]
    ep_off = db.execute("SELECT COALESCE(MAX(id), 0) FROM main.endpoints").fetchone()[0]
    new = [
        row[0] for row in db.execute(
            "SELECT s.id FROM src.runs s WHERE NOT EXISTS (SELECT 1 FROM main.runs m WHERE "
            "m.started = s.started AND m.command = s.command AND m.output IS s.output)"
        )
    ]
    if not new:
        return 0, 0
    marks = ",".join("?" * len(new))
    with db:
        db.execute("BEGIN")
        db.execute(
            "INSERT INTO main.runs (id, scan_id, started, finished, status, command, output, targets, endpoints) "
            f"SELECT id + ?, scan_id + ?, started, finished, status, command, output, targets, endpoints FROM src.runs WHERE id IN ({marks})",
            (run_off, run_off, *new),
        )
        cur = db.execute(
            "INSERT INTO main.endpoints (id, run_id, host, port, ip, sni, outcome, highest_protocol, started,"
            " duration_s, connections, tags, result) SELECT id + ?, run_id + ?, host, port, ip, sni, outcome,"
            " highest_protocol, started, duration_s, connections, tags, result FROM src.endpoints"
            f" WHERE run_id IN ({marks})",
            (ep_off, run_off, *new),
        )
        copied = cur.rowcount
        db.execute(
            "INSERT INTO main.findings (endpoint_id, run_id, finding_id, severity, title) SELECT"
            f" endpoint_id + ?, run_id + ?, finding_id, severity, title FROM src.findings WHERE run_id IN ({marks})",
            (ep_off, run_off, *new),
        )
    return len(new), copied
