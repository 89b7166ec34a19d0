# The scan history: an embedded SQLite database (stdlib sqlite3). One row per run (one per
# invocation of `tlscompat scan`), one row per endpoint with its JSON (the same object as a
# JSON Lines line), one row per finding, indexed, so later commands can ask "which
# endpoints had weak-dh last week?" without reading a report again.
#
# Rules kept: one writer (the fleet's writer task); every endpoint is committed as it is
# written (WAL journal, so a commit costs no fsync and a killed scan loses nothing that was
# written); a resumed scan is a new run in the same scan (`scan_id`), and endpoints the
# output file holds but the database lacks (killed between the two writes) are copied in.
# The schema is documented in docs/fleet.md; `PRAGMA user_version` is its version.
# Contention (another process holding the write lock): every statement waits up to
# BUSY_TIMEOUT_S (SQLite's busy handler); an endpoint that still cannot be written is kept
# in memory (at most MAX_PENDING) and retried at the next write once RETRY_AFTER_S have
# passed, and once more at the end with FINAL_WAIT_S; what still fails is counted in
# `unwritten`, the scan goes on, and the CLI tells the user once. The output file never
# depends on the database.
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from scanner.fleet.output import _version_code
from scanner.report.order import version_order

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY,
    scan_id     INTEGER NOT NULL,       -- the first run of a resumed chain (its own id otherwise)
    started     TEXT NOT NULL,          -- ISO 8601 UTC
    finished    TEXT,
    status      TEXT NOT NULL,          -- running | completed | interrupted | failed
    command     TEXT NOT NULL,          -- the command line
    output      TEXT,                   -- the output file (NULL: stdout)
    targets     INTEGER,                -- targets in the input, CIDR ranges expanded
    endpoints   INTEGER NOT NULL DEFAULT 0  -- endpoint rows this run wrote
);
CREATE TABLE IF NOT EXISTS endpoints (
    id               INTEGER PRIMARY KEY,
    run_id           INTEGER NOT NULL REFERENCES runs(id),
    host             TEXT NOT NULL,
    port             INTEGER NOT NULL,
    ip               TEXT,
    sni              TEXT,
    outcome          TEXT NOT NULL,
    highest_protocol TEXT,              -- e.g. TLSv1.3; NULL when none
    started          TEXT,
    duration_s       REAL,
    connections      INTEGER,
    tags             TEXT NOT NULL,     -- JSON list
    result           TEXT NOT NULL      -- the endpoint's JSON (docs/json.md)
);
CREATE INDEX IF NOT EXISTS endpoints_by_run ON endpoints(run_id);
CREATE INDEX IF NOT EXISTS endpoints_by_host ON endpoints(host, port);
CREATE INDEX IF NOT EXISTS endpoints_by_outcome ON endpoints(outcome);
CREATE TABLE IF NOT EXISTS findings (
    endpoint_id INTEGER NOT NULL REFERENCES endpoints(id),
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    finding_id  TEXT NOT NULL,
    severity    TEXT NOT NULL,
    title       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_by_id ON findings(finding_id, severity);
CREATE INDEX IF NOT EXISTS findings_by_run ON findings(run_id, severity);
CREATE INDEX IF NOT EXISTS findings_by_endpoint ON findings(endpoint_id);
"""


def default_path(output: str) -> Path:
    """The database next to an output file: scan.jsonl -> scan.sqlite."""
    p = Path(output)
    return p.with_suffix(".sqlite") if p.suffix else p.with_name(p.name + ".sqlite")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _highest(data: dict[str, Any]) -> str | None:
    names = [str(p.get("version")) for p in data.get("protocols") or () if p.get("supported")]
    codes = [(c, n) for n in names if (c := _version_code(n)) is not None]
    return min(codes, key=lambda cn: version_order(cn[0]))[1] if codes else None


# Seconds SQLite's busy handler waits for a lock per statement, during the scan (the event
# loop waits with it, so it is short) and at the end (nothing else to do then).
BUSY_TIMEOUT_S = 1.0
FINAL_WAIT_S = 15.0
# Seconds between retries while the database is unavailable.
RETRY_AFTER_S = 5.0
# Endpoints kept in memory for a later retry; beyond, the oldest is given up (counted).
MAX_PENDING = 10_000


class Store:
    """One run's writer into the history database.

    Opening raises sqlite3.DatabaseError for a file that is not a usable database (the
    CLI turns it into a usage error before any packet). Once open, nothing raises for
    contention: see the module comment; ``unwritten`` counts the endpoints the database
    did not get, ``error`` says why."""

    def __init__(self, path: str | Path, *, clock: Any = None) -> None:
        import time

        self.path = Path(path)
        self._clock = clock or time.monotonic
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=FINAL_WAIT_S)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"{self.path}: schema version {version} is newer than this tlscompat ({SCHEMA_VERSION})")
            if version != SCHEMA_VERSION:
                self.db.executescript(SCHEMA)
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.OperationalError as exc:
            if not _contention(exc):
                self.db.close()
                raise
            # Locked for longer than FINAL_WAIT_S: the scan goes on without history; the
            # writes are retried (the schema, if missing, with them).
            self.error: str | None = str(exc)
            self._failed_at: float | None = self._clock()
        else:
            self.error = None
            self._failed_at = None
        self.db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        self.run_id: int | None = None
        self.scan_id: int | None = None
        self.count = 0
        self.unwritten = 0
        self._run_args: tuple[str, str | None, int, bool] | None = None
        self._pending: list[tuple[dict[str, Any], str]] = []

    # -- the run ---------------------------------------------------------------------------

    def start_run(self, *, command: str, output: str | None, targets: int, resume: bool) -> int | None:
        """A new run (its id; None while the database is unavailable: it is created at the
        first write that succeeds). With ``resume``, it continues the last run written to
        ``output``."""
        self._run_args = (command, output, targets, resume)
        self._try(self._ensure_run)
        return self.run_id

    def _ensure_run(self) -> None:
        if self.run_id is not None:
            return
        assert self._run_args is not None
        command, output, targets, resume = self._run_args
        self.db.executescript(SCHEMA)
        scan_id = None
        if resume and output is not None:
            row = self.db.execute(
                "SELECT scan_id FROM runs WHERE output = ? ORDER BY id DESC LIMIT 1", (output,)
            ).fetchone()
            scan_id = row[0] if row else None
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            cur = self.db.execute(
                "INSERT INTO runs (scan_id, started, status, command, output, targets) VALUES (0, ?, 'running', ?, ?, ?)",
                (_now(), command, output, targets),
            )
            run_id = cur.lastrowid
            assert run_id is not None
            final_scan = scan_id if scan_id is not None else run_id
            self.db.execute("UPDATE runs SET scan_id = ? WHERE id = ?", (final_scan, run_id))
        self.run_id, self.scan_id = run_id, final_scan

    def has(self, data: dict[str, Any]) -> bool:
        """Whether this scan (any of its runs) already holds this endpoint (False while the
        database is unavailable: the endpoint is then queued, and checked again when written)."""
        if self.scan_id is None:
            return False
        try:
            row = self.db.execute(
                "SELECT 1 FROM endpoints e JOIN runs r ON e.run_id = r.id WHERE r.scan_id = ? "
                "AND e.host = ? AND e.port = ? AND e.ip IS ? AND e.sni IS ? LIMIT 1",
                (self.scan_id, data.get("host"), data.get("port"), data.get("ip"), data.get("sni")),
            ).fetchone()
        except sqlite3.OperationalError as exc:
            if not _contention(exc):
                raise
            return False
        return row is not None

    def import_missing(self, lines: Iterable[dict[str, Any]]) -> int:
        """Copy in the endpoints a resumed output file holds and this scan lacks."""
        n = 0
        for data in lines:
            if not self.has(data):
                self.add(data, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
                n += 1
        return n

    # -- writing ---------------------------------------------------------------------------

    def add(self, data: dict[str, Any], text: str) -> None:
        """One endpoint (its JSON and the same JSON as text), committed at once, or queued
        for a retry when the database is locked. Never raises for contention."""
        self._pending.append((data, text))
        if len(self._pending) > MAX_PENDING:
            del self._pending[0]
            self.unwritten += 1
        if self._failed_at is not None and self._clock() - self._failed_at < RETRY_AFTER_S:
            return
        self._flush()

    def _flush(self) -> None:
        if not self._try(self._ensure_run):
            return
        while self._pending:
            data, text = self._pending[0]
            if not self._try(partial(self._insert, data, text)):
                return
            del self._pending[0]
            self.count += 1

    def _insert(self, data: dict[str, Any], text: str) -> None:
        assert self.run_id is not None
        stats = data.get("stats") or {}
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            cur = self.db.execute(
                "INSERT INTO endpoints (run_id, host, port, ip, sni, outcome, highest_protocol, started,"
                " duration_s, connections, tags, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.run_id, data.get("host"), data.get("port"), data.get("ip"), data.get("sni"),
                    data.get("outcome"), _highest(data), data.get("started"), stats.get("duration_s"),
                    stats.get("connections"), json.dumps(data.get("tags") or []), text,
                ),
            )
            self.db.executemany(
                "INSERT INTO findings (endpoint_id, run_id, finding_id, severity, title) VALUES (?, ?, ?, ?, ?)",
                [
                    (cur.lastrowid, self.run_id, f.get("id"), f.get("severity"), f.get("title") or "")
                    for f in data.get("findings") or ()
                ],
            )
            self.db.execute("UPDATE runs SET endpoints = endpoints + 1 WHERE id = ?", (self.run_id,))

    def _try(self, step: Any) -> bool:
        """Run one write step; False (and the time noted) when the database is locked."""
        try:
            step()
        except sqlite3.OperationalError as exc:
            if not _contention(exc):
                raise
            self.error = str(exc)
            self._failed_at = self._clock()
            return False
        self._failed_at = None
        return True

    def finish(self, status: str) -> None:
        """Write what is pending (waiting up to FINAL_WAIT_S per statement) and the run's
        status; what still cannot be written is counted in ``unwritten``."""
        self.db.execute(f"PRAGMA busy_timeout={int(FINAL_WAIT_S * 1000)}")
        self._failed_at = None
        self._flush()
        self.unwritten += len(self._pending)
        self._pending.clear()
        if self.run_id is not None:

            def mark() -> None:
                with self.db:
                    self.db.execute("BEGIN IMMEDIATE")
                    self.db.execute("UPDATE runs SET status = ?, finished = ? WHERE id = ?", (status, _now(), self.run_id))

            self._try(mark)

    def close(self) -> None:
        self.db.close()


def _contention(exc: sqlite3.OperationalError) -> bool:
    """A lock held by another connection (SQLITE_BUSY / SQLITE_LOCKED), or an I/O error
    that may pass: the scan goes on without history rather than failing."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text or "disk i/o" in text
