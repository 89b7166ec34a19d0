# Fleets beyond one process: the batch mechanism shared by --workers and --cluster, a real
# Dask LocalCluster, a real `dask scheduler` with two `dask worker` processes (one killed
# mid-scan), the per-subnet limit as the servers count it, --shard and `tlscompat merge`.
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from farm import CountingFront, subnet_addresses
from test_fleet_cli import essence, lines

from scanner.cli import main
from scanner.fleet.batches import Batch, Dispatcher
from scanner.fleet.cli import parse_shard, shard_of
from scanner.options import ScanOptions, Target

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
# Generous deadlines: each farm endpoint is one `openssl s_server` (one connection at a
# time) and the machine may be loaded; a probe that times out would change an endpoint's
# versions or suites between the runs compared.
FAST = ["--connect-timeout", "5", "--read-timeout", "10", "--endpoint-timeout", "90"]
SUBNETS, PER_SUBNET_HOSTS = 3, 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


@pytest.fixture
def farm(openssl_server, tmp_path) -> Iterator[tuple[CountingFront, Path]]:
    """Nine TLS endpoints in three /24s (127.0.11-13.x, one port) and a refused one; the
    targets file lists them."""
    port = free_port()
    addresses = subnet_addresses(SUBNETS, PER_SUBNET_HOSTS)
    routes = [(a, port, openssl_server().port) for a in addresses]
    front = CountingFront(routes).start()
    closed = free_port()
    path = tmp_path / "farm.txt"
    path.write_text("".join(f"{a}:{port}\n" for a in addresses) + f"127.0.14.1:{closed}\n", encoding="utf-8")
    try:
        yield front, path
    finally:
        front.stop()


def same(records: list[dict], truth: set[tuple]) -> None:
    got = essence(records)
    assert got == truth, f"only here: {got - truth}; only in the single-process run: {truth - got}"


def scan(*args: str) -> int:
    return main(["scan", "--format", "jsonl", "--no-progress", *FAST, *args])


# -- the shared batch mechanism, without processes ------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.batches: list[Batch] = []

    async def start(self, nursery: trio.Nursery, dispatcher: Dispatcher) -> int:
        return 1

    def submit(self, batch: Batch) -> None:
        self.batches.append(batch)

    async def close(self, *, abandon: bool) -> None:
        pass


def test_dispatcher_writes_each_endpoint_once_and_tells_a_rerun_what_to_skip():
    backend = _Recorder()
    delivered: list[tuple[int, str]] = []
    d = Dispatcher(backend, lambda i, t, r: delivered.append((i, r[0].outcome if r else "")), 2)
    options = ScanOptions()
    items = [(i, Target(host=f"h{i}", port=443), options) for i in range(5)]
    for item in items:
        d.add(item)
    d.done_feeding()
    assert [len(b.items) for b in backend.batches] == [2, 2, 1]
    from scanner.fleet.batches import failed

    ok = (failed(items[0][1], "x"),)
    d.result(0, 0, ok)
    d.result(0, 0, ok)  # the same endpoint again (a batch run twice): dropped
    assert d.written(0) == frozenset({0})
    assert d.remaining(0) == (items[1],)
    d.ended(0, "worker gone")  # endpoint 1 never reported: an error result
    assert delivered == [(0, "error"), (1, "error")]
    d.ended(1)
    d.ended(2)
    assert sorted(i for i, _ in delivered) == [0, 1, 2, 3, 4] and d.idle.is_set()


def test_shard_and_cluster_arguments_are_checked_before_any_packet(tmp_path, capsys):
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "x/2", "3"):
        assert main(["scan", "127.0.0.1", "--shard", bad, "--no-progress"]) == 2
        assert "--shard" in capsys.readouterr().err
    for bad in ("local:0", "local:x", "http://x:1", "nohost"):
        assert main(["scan", "127.0.0.1", "--cluster", bad, "--no-progress"]) == 2
        assert "--cluster" in capsys.readouterr().err
    assert main(["scan", "127.0.0.1", "--cluster", "local:2", "--workers", "2", "--no-progress"]) == 2
    # Every port of one host lands in the same shard; shards cover every target once.
    targets = [Target(host=f"10.0.0.{i}", port=p) for i in range(50) for p in (443, 8443)]
    by_host: dict[str, set[int]] = {}
    for t in targets:
        by_host.setdefault(t.host, set()).add(shard_of(t, 3))
    assert all(len(s) == 1 for s in by_host.values())
    assert {next(iter(s)) for s in by_host.values()} == {1, 2, 3}


def test_no_dask_import_without_cluster():
    code = (
        "import sys; from scanner.cli import main; "
        "main(['scan', '127.0.0.1:1', '--format', 'jsonl', '--no-progress', '--no-db', '--workers', '2']); "
        "sys.exit(1 if 'distributed' in sys.modules or 'dask' in sys.modules else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()


# -- real clusters ---------------------------------------------------------------------------


@pytest.mark.slow
def test_local_cluster_and_worker_processes_match_one_process_and_keep_the_subnet_limit(farm, tmp_path):
    front, targets = farm
    single = tmp_path / "single.jsonl"
    assert scan("-f", str(targets), "-o", str(single), "--no-db") in (0, 1)
    truth = essence(lines(single))
    assert len(truth) == SUBNETS * PER_SUBNET_HOSTS + 1
    assert {r[2] for r in truth} == {"ok", "refused"}
    unlimited = max(front.peak.values())

    processes = tmp_path / "workers.jsonl"
    assert scan("-f", str(targets), "-o", str(processes), "--no-db", "--workers", "2") in (0, 1)
    same(lines(processes), truth)

    front.peak.clear()
    cluster = tmp_path / "cluster.jsonl"
    code = scan("-f", str(targets), "-o", str(cluster), "--cluster", "local:2", "--per-subnet", "2")
    assert code in (0, 1)
    records = lines(cluster)
    assert len(records) == len(truth)
    same(records, truth)
    # The servers' count: never more than 2 connections at once into one /24, though each
    # endpoint alone would open 4 (and three endpoints per /24 were scanned at once).
    assert set(front.peak) == {f"127.0.{11 + n}.0/24" for n in range(SUBNETS)}
    assert max(front.peak.values()) <= 2 < unlimited, (front.peak, unlimited)
    # The history database next to the output, as for a local run.
    with sqlite3.connect(tmp_path / "cluster.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM endpoints").fetchone()[0] == len(truth)

    # Resume through the cluster: half the file, then the rest.
    kept = cluster.read_text(encoding="utf-8").splitlines(keepends=True)[:4]
    cluster.write_text("".join(kept), encoding="utf-8")
    code = scan("-f", str(targets), "-o", str(cluster), "--no-db", "--cluster", "local:1", "--resume")
    assert code in (0, 1)
    again = lines(cluster)
    assert len(again) == len(truth)
    same(again, truth)


def _spawn(*argv: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(argv), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.slow
def test_scheduler_and_two_workers_one_killed_mid_scan_changes_nothing(farm, tmp_path, blackhole):
    front, targets = farm
    # Endpoints that hold a batch open for a while: the kill lands mid-task.
    with targets.open("a", encoding="utf-8") as fp:
        fp.write(f"127.0.0.1:{blackhole}\n")
    single = tmp_path / "single.jsonl"
    assert scan("-f", str(targets), "-o", str(single), "--no-db", "--concurrency", "4") in (0, 1)
    truth = essence(lines(single))

    dask = shutil.which("dask", path=str(BIN)) or str(BIN / "dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    started: list[subprocess.Popen[bytes]] = []
    try:
        started.append(_spawn(
            dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
            log=tmp_path / "scheduler.log",
        ))
        for i in range(2):
            started.append(_spawn(
                dask, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                "--host", "127.0.0.1", "--name", f"w{i}", log=tmp_path / f"worker{i}.log",
            ))
        out = tmp_path / "cluster.jsonl"
        command = [
            sys.executable, "-m", "scanner.cli", "scan", "-f", str(targets), "--format", "jsonl",
            "--no-progress", "--no-db", *FAST, "--concurrency", "4", "--cluster", address, "-o", str(out),
        ]
        client = _spawn(*command, log=tmp_path / "client.log")
        started.append(client)
        _wait_for(lambda: out.exists() and out.stat().st_size > 0, 60, "the first endpoint")
        assert client.poll() is None, "the scan ended before the kill"
        os.kill(started[1].pid, signal.SIGKILL)  # one worker, mid-scan
        started[1].wait()
        client.wait(120)
        assert client.returncode in (0, 1), (tmp_path / "client.log").read_text()
        records = lines(out)
        keys = [(r["host"], r["port"]) for r in records]
        assert len(keys) == len(set(keys)) == len(truth)  # nothing lost, nothing twice
        same(records, truth)
    finally:
        for process in reversed(started):
            _stop(process)


# -- sharding and merging --------------------------------------------------------------------


@pytest.mark.slow
def test_shards_cover_the_fleet_once_and_merge_joins_them(farm, tmp_path):
    _, targets = farm
    full = tmp_path / "full.jsonl"
    assert scan("-f", str(targets), "-o", str(full)) in (0, 1)
    parts = []
    for k in (1, 2):
        part = tmp_path / f"part{k}.jsonl"
        assert scan("-f", str(targets), "-o", str(part), "--shard", f"{k}/2") in (0, 1)
        parts.append(part)
    one, two = essence(lines(parts[0])), essence(lines(parts[1]))
    assert one and two and not one & two
    # An older copy of one endpoint with another outcome: the newest wins.
    stale = dict(lines(parts[0])[0], outcome="timeout", started="2000-01-01T00:00:00+00:00")
    old = tmp_path / "old.jsonl"
    old.write_text(json.dumps(stale) + "\n", encoding="utf-8")
    merged = tmp_path / "all.jsonl"
    assert main(["merge", str(old), str(parts[0]), str(parts[1]), "-o", str(merged)]) == 0
    assert essence(lines(merged)) == essence(lines(full))
    # The history databases merge too: every run kept, each endpoint row once per run.
    dbs = [str(p.with_suffix(".sqlite")) for p in parts]
    assert main(["merge", *dbs, "-o", str(tmp_path / "all-history.sqlite")]) == 0
    with sqlite3.connect(tmp_path / "all-history.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
        assert db.execute("SELECT COUNT(*) FROM endpoints").fetchone()[0] == len(lines(full))
        findings = db.execute("SELECT COUNT(*) FROM findings").fetchone()[0]
    total = 0
    for p in dbs:
        with sqlite3.connect(p) as db:
            total += db.execute("SELECT COUNT(*) FROM findings").fetchone()[0]
    assert findings == total
    # The merged JSON Lines file got its own history database, one run.
    with sqlite3.connect(tmp_path / "all.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM endpoints").fetchone()[0] == len(lines(full))


@pytest.mark.slow
def test_a_scheduler_that_goes_away_ends_the_scan_with_what_was_written_and_resume_finishes(farm, tmp_path):
    _, targets = farm
    dask = shutil.which("dask", path=str(BIN)) or str(BIN / "dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    started: list[subprocess.Popen[bytes]] = []
    out = tmp_path / "scan.jsonl"
    try:
        started.append(_spawn(
            dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
            log=tmp_path / "scheduler.log",
        ))
        started.append(_spawn(
            dask, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
            "--host", "127.0.0.1", log=tmp_path / "worker.log",
        ))
        command = [
            sys.executable, "-m", "scanner.cli", "scan", "-f", str(targets), "--format", "jsonl",
            "--no-progress", *FAST, "--concurrency", "2", "--cluster", address, "-o", str(out),
        ]
        client = _spawn(*command, log=tmp_path / "client.log")
        started.append(client)
        _wait_for(lambda: out.exists() and out.stat().st_size > 0, 60, "the first endpoint")
        os.kill(started[0].pid, signal.SIGKILL)  # the scheduler
        client.wait(120)
        err = (tmp_path / "client.log").read_text()
        assert client.returncode == 130, err
        assert "went away" in err and "--resume" in err and "Traceback" not in err, err
    finally:
        for process in reversed(started):
            _stop(process)
    written = lines(out)
    assert 0 < len(written) < SUBNETS * PER_SUBNET_HOSTS + 1
    with sqlite3.connect(tmp_path / "scan.sqlite") as db:
        assert db.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
    assert scan("-f", str(targets), "-o", str(out), "--cluster", "local:1", "--resume") in (0, 1)
    records = lines(out)
    keys = [(r["host"], r["port"]) for r in records]
    assert len(keys) == len(set(keys)) == SUBNETS * PER_SUBNET_HOSTS + 1


def test_cluster_shares_divide_rate_and_connections_but_not_the_subnet_limit():
    from dataclasses import replace

    from scanner.fleet.run import FleetSettings

    total = FleetSettings(endpoints=64, connections=256, per_subnet=8, rate=100.0, cluster="local:4")
    part = replace(total, cluster_subnets=True).share(4, 4)
    assert (part.connections, part.rate, part.per_subnet, part.cluster) == (64, 25.0, 8, None)
    # Worker processes (no cluster-wide semaphore) divide the subnet limit too.
    assert FleetSettings(per_subnet=8, workers=2).share(2, 0).per_subnet == 4


def test_merge_refuses_bad_inputs_before_writing_anything(tmp_path, capsys):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"host": "a", "port": 1, "started": "2026-01-01T00:00:00+00:00"}) + "\n", encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n" + good.read_text(encoding="utf-8"), encoding="utf-8")
    torn = tmp_path / "torn.jsonl"
    torn.write_text(good.read_text(encoding="utf-8") + '{"host": "b", "po', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["merge", str(good), str(bad), "-o", str(out), "--no-db"]) == 2
    assert f"{bad}:1: not an endpoint line" in capsys.readouterr().err and not out.exists()
    assert main(["merge", str(good), str(tmp_path / "x.sqlite"), "-o", str(out)]) == 2
    assert main(["merge", str(good), str(good), "-o", str(good)]) == 2
    # A torn last line is skipped; duplicates across files are written once.
    assert main(["merge", str(good), str(torn), "-o", str(out), "--no-db"]) == 0
    assert [r["host"] for r in lines(out)] == ["a"]


@pytest.mark.slow
def test_a_worker_process_killed_mid_scan_hands_its_batches_to_the_other(farm, tmp_path, blackhole):
    from test_fleet_cli import _children

    _, targets = farm
    with targets.open("a", encoding="utf-8") as fp:
        fp.write(f"127.0.0.1:{blackhole}\n")
    single = tmp_path / "single.jsonl"
    assert scan("-f", str(targets), "-o", str(single), "--no-db", "--concurrency", "4") in (0, 1)
    truth = essence(lines(single))
    out = tmp_path / "workers.jsonl"
    command = [
        sys.executable, "-m", "scanner.cli", "scan", "-f", str(targets), "--format", "jsonl",
        "--no-progress", "--no-db", *FAST, "--concurrency", "4", "--workers", "2", "-o", str(out),
    ]
    client = _spawn(*command, log=tmp_path / "client.log")
    try:
        _wait_for(lambda: len(_children(client.pid)) == 2, 30, "two worker processes")
        _wait_for(lambda: out.exists() and out.stat().st_size > 0, 60, "the first endpoint")
        assert client.poll() is None, "the scan ended before the kill"
        os.kill(_children(client.pid)[0], signal.SIGKILL)
        client.wait(120)
    finally:
        _stop(client)
    assert client.returncode in (0, 1), (tmp_path / "client.log").read_text()
    records = lines(out)
    keys = [(r["host"], r["port"]) for r in records]
    assert len(keys) == len(set(keys)) == len(truth)
    same(records, truth)


@pytest.mark.slow
def test_a_rerun_batch_skips_the_endpoints_already_written(farm, tmp_path, blackhole):
    """Batch 0 holds a farm endpoint and a blackholed one. Once the farm endpoint is
    written, both workers die; a new worker reruns the batch, and the farm endpoint gets
    no connection the second time (counted by the servers)."""
    front, targets = farm
    first = targets.read_text(encoding="utf-8").splitlines()[0]
    rest = targets.read_text(encoding="utf-8").splitlines()[1:]
    ordered = tmp_path / "ordered.txt"
    ordered.write_text("\n".join([first, f"127.0.0.1:{blackhole}", *rest]) + "\n", encoding="utf-8")
    address = first.rsplit(":", 1)[0]
    dask = shutil.which("dask", path=str(BIN)) or str(BIN / "dask")
    port = free_port()
    scheduler = f"tcp://127.0.0.1:{port}"
    started: list[subprocess.Popen[bytes]] = []

    def worker(name: str) -> subprocess.Popen[bytes]:
        process = _spawn(
            dask, "worker", scheduler, "--nthreads", "1", "--no-nanny", "--no-dashboard",
            "--host", "127.0.0.1", "--name", name, log=tmp_path / f"{name}.log",
        )
        started.append(process)
        return process

    out = tmp_path / "scan.jsonl"
    try:
        started.append(_spawn(
            dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
            log=tmp_path / "scheduler.log",
        ))
        first_workers = [worker("w0"), worker("w1")]
        command = [
            sys.executable, "-m", "scanner.cli", "scan", "-f", str(ordered), "--format", "jsonl",
            "--no-progress", "--no-db", *FAST, "--connect-timeout", "8", "--concurrency", "8",
            "--cluster", scheduler, "-o", str(out),
        ]
        client = _spawn(*command, log=tmp_path / "client.log")
        started.append(client)
        _wait_for(lambda: out.exists() and f'"host":"{address}"' in out.read_text(encoding="utf-8"), 60, "the first endpoint")
        connections = front.by_address[address]
        assert client.poll() is None and "127.0.0.1" not in {r["host"] for r in lines(out)}
        for process in first_workers:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        worker("w2")
        client.wait(180)
        assert client.returncode in (0, 1), (tmp_path / "client.log").read_text()
    finally:
        for process in reversed(started):
            _stop(process)
    records = lines(out)
    keys = [(r["host"], r["port"]) for r in records]
    assert len(keys) == len(set(keys)) == len(rest) + 2
    assert front.by_address[address] == connections  # not scanned again


@pytest.mark.slow
def test_ctrl_c_in_a_terminal_stops_a_local_cluster_scan_without_worker_tracebacks(tmp_path, blackhole):
    """A terminal's Ctrl-C reaches the whole foreground process group, the worker processes
    of --cluster local:N included: only the client may answer it."""
    import pty
    import select

    targets = tmp_path / "t.txt"
    targets.write_text(f"127.0.0.1:{blackhole}\n127.0.0.1:1\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    argv = [str(BIN / "tlscompat"), "scan", "-f", str(targets), "--cluster", "local:2", "--format", "jsonl",
            "-o", str(out), "--no-db", "--connect-timeout", "60", "--endpoint-timeout", "120"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the scan, in the terminal's foreground process group
        os.execv(argv[0], argv)
    text = b""
    started = time.monotonic()
    early = interrupted = False
    status = None
    while time.monotonic() - started < 90:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            text += chunk
        if not early and _children(pid):
            # While the workers start (importing Dask): the press that printed tracebacks
            # from them. It may be lost (the client ignores SIGINT for that second).
            os.write(fd, b"\x03")
            early = True
        if not interrupted and out.exists() and out.read_text(encoding="utf-8").strip():
            time.sleep(1)
            os.write(fd, b"\x03")  # the terminal turns it into SIGINT for the foreground group
            interrupted = True
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail(f"the scan did not stop after Ctrl-C: {text.decode(errors='replace')[-2000:]}")
    os.close(fd)
    shown = text.decode(errors="replace")
    assert early and interrupted, shown[-3000:]
    assert os.waitstatus_to_exitcode(status) == 130, shown[-2000:]
    assert "Traceback" not in shown and "KeyboardInterrupt" not in shown, shown[-3000:]
    assert "interrupted" in shown


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found
