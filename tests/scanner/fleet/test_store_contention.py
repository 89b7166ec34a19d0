# Issue 12, section 4: another process holding the history database's write lock. The
# store waits (busy timeout) and retries; if the database stays unavailable the scan goes
# on, the JSON Lines output is complete, and the user is told once how many endpoints the
# history lacks.
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.fleet import store as st

FAST = ["--connect-timeout", "0.5", "--read-timeout", "0.5", "--endpoint-timeout", "2", "--retries", "0"]


def endpoint(i: int) -> dict:
    return {"host": f"h{i}.test", "port": 443, "ip": "192.0.2.1", "sni": None, "outcome": "refused",
            "protocols": [], "findings": [{"id": "port.closed", "severity": "critical", "title": "x"}]}


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(st, "BUSY_TIMEOUT_S", 0.05)
    monkeypatch.setattr(st, "FINAL_WAIT_S", 0.2)


def lock(path: Path) -> sqlite3.Connection:
    """Another connection holding the write lock (as another process would)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE runs SET status = status")
    return other


def test_lock_released_mid_run_loses_nothing(tmp_path: Path, quick: None) -> None:
    path = tmp_path / "h.sqlite"
    now = [0.0]
    store = st.Store(path, clock=lambda: now[0])
    store.start_run(command="t", output=None, targets=5, resume=False)
    other = lock(path)
    for i in range(3):
        store.add(endpoint(i), json.dumps(endpoint(i)))
    assert store.count == 0 and store.error and "locked" in store.error
    other.execute("COMMIT")
    store.add(endpoint(3), json.dumps(endpoint(3)))  # within RETRY_AFTER_S: only queued
    assert store.count == 0
    now[0] += st.RETRY_AFTER_S
    store.add(endpoint(4), json.dumps(endpoint(4)))
    assert store.count == 5
    store.finish("completed")
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM endpoints").fetchone() == (5,)
    assert db.execute("SELECT status, endpoints FROM runs").fetchall() == [("completed", 5)]


def test_database_locked_for_the_whole_scan(tmp_path: Path, quick: None, closed_port: int, capsys) -> None:
    out = tmp_path / "scan.jsonl"
    db_path = tmp_path / "scan.sqlite"
    st.Store(db_path).close()  # the database exists, with its schema
    targets = tmp_path / "hosts.txt"
    # Six targets: the same closed port under six names of loopback.
    targets.write_text("".join(f"127.0.0.{i}:{closed_port}\n" for i in range(1, 7)), encoding="utf-8")
    other = lock(db_path)
    try:
        rc = main(["scan", "-f", str(targets), "--format", "jsonl", "-o", str(out), "--no-progress", *FAST])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert rc in (0, 1)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 6
    err = capsys.readouterr().err
    assert err.count("was not written for 6 endpoints") == 1 and "Traceback" not in err
    # The one-line summary at the end does not claim the history holds them.
    last = err.strip().splitlines()[-1]
    assert "history in" not in last and f"history database {db_path} not written for 6 endpoints" in last
    assert sqlite3.connect(db_path).execute("SELECT COUNT(*) FROM endpoints").fetchone() == (0,)
