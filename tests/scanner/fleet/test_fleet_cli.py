# `tlscompat scan` end to end: exit codes, the history database, resume after a torn
# file and after kill -9, Ctrl-C. Subprocess tests run the real command on loopback.
from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scanner.cli import main

ROOT = Path(__file__).resolve().parents[3]
FAST = ["--connect-timeout", "0.5", "--read-timeout", "0.5", "--endpoint-timeout", "2"]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def essence(records: list[dict]) -> set[tuple]:
    """What must not depend on timing: who, the outcome, whether the scan finished before
    its deadline, versions and suites."""
    return {
        (
            r["host"], r["port"], r["outcome"], r["partial"],
            tuple(sorted(p["version"] for p in r["protocols"] if p["supported"])),
            tuple(sorted((s["version"], s["code"]) for s in r["cipher_suites"])),
        )
        for r in records
    }


def write_list(tmp_path: Path, ports: list[int], name: str = "hosts.txt") -> Path:
    path = tmp_path / name
    path.write_text("# fleet\n" + "".join(f"127.0.0.1:{p}\n" for p in ports), encoding="utf-8")
    return path


def test_malformed_file_exits_2_before_any_packet(tmp_path, raw_server, capsys):
    server = raw_server("never_answer")
    path = tmp_path / "t.yaml"
    path.write_text(f"targets:\n  - 127.0.0.1:{server.port}\n  - host: x.example\n    port: 70000\n", encoding="utf-8")
    assert main(["scan", "-f", str(path), "--format", "jsonl", "--no-progress"]) == 2
    assert f"{path}:4: 'port' must be a number from 1 to 65535" in capsys.readouterr().err
    time.sleep(0.2)
    assert server.received == ()  # nothing was sent
    assert main(["scan", "--no-progress"]) == 2
    assert main(["scan", "127.0.0.1", "--resume", "--no-progress"]) == 2  # needs jsonl and -o
    assert main(["scan", "-f", str(tmp_path / "absent.txt"), "--no-progress"]) == 2


def test_exit_codes_follow_fail_on(tmp_path, closed_port, capsys):
    # A closed port is an endpoint result (port.closed, critical), not an error.
    args = ["scan", f"127.0.0.1:{closed_port}", "--format", "jsonl", "--no-progress", *FAST]
    assert main(args) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["outcome"] == "refused"
    severities = {f["severity"] for f in record["findings"]}
    assert main([*args, "--fail-on", "info"]) == 1
    assert main([*args, "--fail-on", min(severities, key=["critical", "high", "medium", "low", "info"].index)]) == 1
    assert main([*args, "--fail-on", "critical"]) == (1 if "critical" in severities else 0)
    capsys.readouterr()


def test_table_format_prints_each_endpoint_then_the_summary(closed_port, blackhole, capsys):
    rc = main(["scan", f"127.0.0.1:{closed_port}", f"127.0.0.1:{blackhole}", "--no-progress", "--retries", "0", *FAST])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.count("outcome refused") == 1 and out.count("outcome timeout") == 1
    assert out.index("By outcome") > out.index("outcome timeout")
    assert out.rstrip().splitlines()[0].startswith("127.0.0.1:")


def test_sqlite_store_rows_and_findings_index(tmp_path, openssl_server, closed_port):
    healthy = openssl_server().port
    out = tmp_path / "scan.jsonl"
    targets = write_list(tmp_path, [healthy, closed_port])
    assert main(["scan", "-f", str(targets), "--format", "jsonl", "-o", str(out), "--no-progress", *FAST]) == 0
    db = sqlite3.connect(tmp_path / "scan.sqlite")
    (run,) = db.execute("SELECT id, scan_id, status, endpoints, targets, output FROM runs").fetchall()
    assert run[1:] == (run[0], "completed", 2, 2, str(out))
    rows = db.execute("SELECT host, port, outcome, highest_protocol, result FROM endpoints ORDER BY port").fetchall()
    by_port = {r[1]: r for r in rows}
    assert by_port[healthy][2:4] == ("ok", "TLSv1.3") and by_port[closed_port][2:4] == ("refused", None)
    # Each row's JSON is the JSON Lines line.
    assert sorted(json.loads(r[4])["port"] for r in rows) == sorted(r["port"] for r in lines(out))
    assert {json.loads(r[4])["outcome"] for r in rows} == {r["outcome"] for r in lines(out)}
    findings = db.execute(
        "SELECT e.port, f.finding_id, f.severity FROM findings f JOIN endpoints e ON e.id = f.endpoint_id"
    ).fetchall()
    expected = {(r["port"], f["id"], f["severity"]) for r in lines(out) for f in r["findings"]}
    assert set(findings) == expected and findings
    plan = " ".join(str(row) for row in db.execute(
        "EXPLAIN QUERY PLAN SELECT endpoint_id FROM findings WHERE finding_id = 'port.closed'"
    ))
    assert "findings_by_id" in plan
    # --no-db writes none; --db chooses the file.
    assert main(["scan", "-f", str(targets), "--format", "jsonl", "-o", str(tmp_path / "b.jsonl"), "--no-db", "--no-progress", *FAST]) == 0
    assert not (tmp_path / "b.sqlite").exists()


def test_resume_after_a_torn_file_gives_the_same_results(tmp_path, openssl_server, closed_port, blackhole):
    ports = [openssl_server().port, openssl_server(max_version=0x0303).port, closed_port, blackhole]
    targets = write_list(tmp_path, ports)
    ref = tmp_path / "ref.jsonl"
    base = ["scan", "-f", str(targets), "--format", "jsonl", "--no-progress", *FAST]
    assert main([*base, "-o", str(ref)]) == 0
    reference = lines(ref)
    assert len(reference) == 4

    # A scan killed while writing its third line: two lines and a half.
    out = tmp_path / "scan.jsonl"
    text = ref.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text(text[0] + text[1] + text[2][: len(text[2]) // 2], encoding="utf-8")
    assert main([*base, "-o", str(out), "--resume"]) == 0
    resumed = lines(out)
    assert len(resumed) == 4 and resumed[:2] == reference[:2]
    assert essence(resumed) == essence(reference)
    # Resuming a finished file scans nothing and changes nothing.
    before = out.read_bytes()
    assert main([*base, "-o", str(out), "--resume"]) == 0
    assert out.read_bytes() == before
    db = sqlite3.connect(tmp_path / "scan.sqlite")
    runs = db.execute("SELECT id, scan_id, status FROM runs ORDER BY id").fetchall()
    # The torn file had no database: the first resume copied the two finished lines in.
    assert [r[2] for r in runs] == ["completed", "completed"] and runs[0][1] == runs[1][1] == runs[0][0]
    assert db.execute("SELECT COUNT(*) FROM endpoints").fetchone() == (4,)


def _spawn(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "scanner.cli", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _wait_for_lines(path: Path, count: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} lines in {path} after {timeout}s")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_kill_9_halfway_then_resume_gives_the_same_results(tmp_path, openssl_server, raw_server, closed_port):
    ports = [openssl_server().port, openssl_server(max_version=0x0303).port]
    ports += [closed_port] + [raw_server("never_answer").port for _ in range(4)]
    targets = write_list(tmp_path, ports)
    common = ["scan", "-f", str(targets), "--format", "jsonl", "--no-progress", "--concurrency", "2", *FAST]
    ref = tmp_path / "ref.jsonl"
    assert main([*common, "-o", str(ref), "--no-db"]) == 0
    reference = lines(ref)

    out = tmp_path / "scan.jsonl"
    process = _spawn([*common, "-o", str(out), "--workers", "2"], tmp_path)
    try:
        _wait_for_lines(out, 3, process)
        time.sleep(0.3)
        workers = _children(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert len(workers) == 2
    # Workers lose their parent's pipe and stop at once: no orphan keeps scanning.
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{w}").exists() and "Z" not in _state(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{w}").exists() and "Z" not in _state(w) for w in workers)
    partial = out.read_bytes().count(b"\n")
    assert 3 <= partial < len(ports)

    assert main([*common, "-o", str(out), "--resume"]) == 0
    resumed = lines(out)
    assert len(resumed) == len(ports) == len({(r["host"], r["port"]) for r in resumed})
    assert essence(resumed) == essence(reference)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
    except OSError:
        return "Z"


@pytest.mark.slow
def test_ctrl_c_flushes_what_finished_and_exits_130(tmp_path, openssl_server, raw_server, closed_port):
    fast = [openssl_server().port, closed_port]
    slow = [raw_server("never_answer").port for _ in range(2)]
    targets = write_list(tmp_path, fast + slow)
    out = tmp_path / "scan.jsonl"
    args = [
        "scan", "-f", str(targets), "--format", "jsonl", "-o", str(out), "--no-progress",
        "--connect-timeout", "1", "--read-timeout", "20", "--endpoint-timeout", "60",
    ]
    process = _spawn(args, tmp_path)
    try:
        _wait_for_lines(out, 2, process)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
        stopped_in = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert stopped_in < 5  # the silent endpoints were abandoned, not waited for
    assert b"interrupted" in err
    records = lines(out)
    assert {r["port"] for r in records} == set(fast)
    db = sqlite3.connect(tmp_path / "scan.sqlite")
    assert db.execute("SELECT status, endpoints FROM runs").fetchall() == [("interrupted", 2)]


# -- the progress bar on a real terminal (a pty) ------------------------------------------------


def _screen(raw: bytes) -> list[str]:
    """What a terminal shows for ``raw``: each line as left by carriage returns (back to
    column 0, overwriting) and erase-to-end-of-line (ESC [ K)."""
    shown = []
    for line in raw.decode("utf-8", "replace").replace("\r\n", "\n").split("\n"):
        cells: list[str] = []
        col = 0
        for part in re.split(r"(\r|\x1b\[K)", line):
            if part == "\r":
                col = 0
            elif part == "\x1b[K":
                del cells[col:]
            else:
                cells[col : col + len(part)] = list(part)
                col += len(part)
        shown.append("".join(cells))
    return shown


def _on_a_pty(args: list[str], cwd: Path, columns: int, *, interrupt_after: bytes | None = None) -> tuple[int, bytes]:
    """Run tlscompat with stdout and stderr on one pseudo-terminal ``columns`` wide: its
    exit status and every byte it wrote. ``interrupt_after``: Ctrl-C (SIGINT) once that
    text has been written."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen(
        [sys.executable, "-m", "scanner.cli", *args], cwd=cwd, stdin=subprocess.DEVNULL,
        stdout=follower, stderr=follower, env={**env, "PYTHONPATH": str(ROOT), "TERM": "xterm"},
    )
    os.close(follower)
    raw = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: every writer closed
                    break
                if not chunk:
                    break
                raw += chunk
            if interrupt_after is not None and interrupt_after in raw:
                process.send_signal(signal.SIGINT)
                interrupt_after = None
            if not ready and process.poll() is not None:
                break
        return process.wait(timeout=10), raw
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)


def test_progress_bar_is_erased_when_the_scan_ends_and_fits_a_narrow_terminal(tmp_path, openssl_server, closed_port):
    # The table summary used to follow the bar on its line: "... ETA 8s2 endpoints".
    args = ["scan", f"127.0.0.1:{openssl_server().port}", f"127.0.0.1:{closed_port}", "--progress",
            "--probes", "protocols", "--no-db", "--color", "never", *FAST]
    status, raw = _on_a_pty(args, tmp_path, 50)
    assert status in (0, 1), raw
    assert b"endpoints" in raw and b"ETA" in raw  # the bar was drawn
    screen = _screen(raw)
    assert not [line for line in screen if "ETA" in line], screen  # and erased
    assert any(line.startswith("2 endpoints") for line in screen), screen
    bars = [part for part in raw.decode().split("\r") if "ETA" in part]
    assert bars and all(len(bar.replace("\x1b[K", "")) < 50 for bar in bars), bars


def test_progress_bar_is_erased_on_ctrl_c_before_the_json(tmp_path, raw_server):
    # Ctrl-C while an endpoint never answers: "... ETA --{" glued the JSON onto the bar.
    args = ["scan", f"127.0.0.1:{raw_server('never_answer').port}", "--progress", "--format", "json",
            "--no-db", "--connect-timeout", "1", "--read-timeout", "20", "--endpoint-timeout", "60"]
    status, raw = _on_a_pty(args, tmp_path, 30, interrupt_after=b"ETA")
    assert status == 130, raw
    screen = _screen(raw)
    assert not [line for line in screen if "ETA" in line], screen
    assert "{" in screen, screen  # the (empty) JSON document starts on a line of its own
    bars = [part for part in raw.decode().split("\r") if "ETA" in part]
    assert bars and all(len(bar.replace("\x1b[K", "")) < 30 for bar in bars), bars


def test_progress_total_counts_a_duplicate_target_once(tmp_path, capsys):
    # A targets file of four lines, one of them a duplicate: three endpoints are scanned,
    # and the bar says so from its first drawing (never 0/4, then 2/3).
    import re
    import socket

    socks = [socket.socket() for _ in range(3)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()  # nobody listens: refused at once
    path = write_list(tmp_path, [*ports, ports[0]])
    out = tmp_path / "out.jsonl"
    args = ["scan", "-f", str(path), "--format", "jsonl", "-o", str(out), "--no-db", "--progress", *FAST]
    assert main(args) == 0
    drawn = re.findall(r"(\d+)/(\d+) endpoints", capsys.readouterr().err)
    assert drawn, "the bar was drawn"
    assert {total for _, total in drawn} == {"3"}, drawn
    assert drawn[-1] == ("3", "3")
    assert len(lines(out)) == 3
