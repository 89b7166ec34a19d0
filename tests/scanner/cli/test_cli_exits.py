# Every subcommand, run as a real process (the installed `tlscompat` entry point), ends
# the way docs/cli.md promises: a bad input is one line on stderr and exit 2, before any
# packet; Ctrl-C (a real SIGINT) is one line and exit 130, never a traceback.
#
# No test here asserts a duration: a process is interrupted once it is observably busy
# (connected to our silent listener, blocked reading a FIFO or stdin, its lab started),
# and every wait is bounded.
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TLSCOMPAT = str(Path(sys.executable).with_name("tlscompat"))
WAIT = 60.0  # bound on every wait; never reached when things work


def run(argv: list[str], stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TLSCOMPAT, *argv], input=stdin, capture_output=True, text=True, timeout=WAIT, cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
    )


def assert_one_line(proc: subprocess.CompletedProcess[str] | tuple[int, str], code: int) -> str:
    returncode, stderr = (proc.returncode, proc.stderr) if not isinstance(proc, tuple) else proc
    lines = stderr.splitlines()
    assert returncode == code, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("tlscompat"), stderr
    assert "Traceback" not in stderr and "<" not in lines[0].split(":", 1)[0]
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    out = {
        "empty": d / "empty.txt",
        "noca": d / "noca.pem",
        "deep_yaml": d / "deep.yaml",
        "key_yaml": d / "key.yaml",
        "deep_json": d / "deep.json",
        "bad_jsonl": d / "bad.jsonl",
        "good_jsonl": d / "good.jsonl",
        "notours": d / "notes.txt",
    }
    out["empty"].write_text("# only a comment\n")
    out["noca"].write_text("not a certificate\n")
    out["deep_yaml"].write_text("targets: " + "[" * 20000 + "]" * 20000 + "\n")
    out["key_yaml"].write_text("targets:\n  - ? {a: 1}\n    : b\n")
    out["deep_json"].write_text("[" * 200000 + "]" * 200000)
    out["bad_jsonl"].write_text('{"host": "a", "port": 443, "protocols": "TLSv1.2"}\n')
    out["good_jsonl"].write_text('{"host": "a", "port": 443, "findings": []}\n')
    out["notours"].write_text("hello world\n")
    return out


# (argv, what the one line must mention). Every subcommand has at least one.
BAD_INPUTS: list[tuple[str, Callable[[dict[str, Path]], list[str]], str]] = [
    ("no command", lambda f: ["bogus"], "invalid choice"),
    ("scan -o into a missing directory", lambda f: ["scan", "127.0.0.1:1", "-o", "/nonexistent/dir/x.json"], "does not exist"),
    ("scan -o onto a directory", lambda f: ["scan", "127.0.0.1:1", "-o", str(f["empty"].parent)], "is a directory"),
    ("scan empty targets file", lambda f: ["scan", "-f", str(f["empty"])], "no targets"),
    ("scan -f directory", lambda f: ["scan", "-f", str(f["empty"].parent)], "is a directory"),
    ("scan unsupported scheme", lambda f: ["scan", "gopher://example.com"], "unsupported scheme"),
    ("scan broken URL", lambda f: ["scan", "https://[::1/"], "not a URL"),
    ("scan nan", lambda f: ["scan", "--read-timeout", "nan", "127.0.0.1:1"], "--read-timeout"),
    ("scan inf rate", lambda f: ["scan", "--rate", "inf", "127.0.0.1:1"], "--rate"),
    ("scan --ip", lambda f: ["scan", "--ip", "notanip", "example.com"], "--ip"),
    ("scan --sni too long", lambda f: ["scan", "--sni", "a" * 70000, "example.com"], "--sni"),
    ("scan label > 63", lambda f: ["scan", "a" * 64 + ".example"], "63"),
    ("scan empty label", lambda f: ["scan", "a..example"], "empty label"),
    ("scan name > 253", lambda f: ["scan", ("a" * 60 + ".") * 5 + "com"], "253"),
    ("scan NUL-like control", lambda f: ["scan", "a\x01b.example"], "control character"),
    ("scan --ca-file without certificate", lambda f: ["scan", "--ca-file", str(f["noca"]), "127.0.0.1:1"], "no certificate"),
    ("scan --ca-file a directory", lambda f: ["scan", "--ca-file", str(f["empty"].parent), "127.0.0.1:1"], "is a directory"),
    ("scan --csv-findings without csv", lambda f: ["scan", "--csv-findings", "127.0.0.1:1"], "needs --format csv"),
    ("scan two colons, not IPv6", lambda f: ["scan", "foo:bar:baz"], "not a host[:port]"),
    ("scan YAML too deep", lambda f: ["scan", "-f", str(f["deep_yaml"])], "nested"),
    ("scan YAML mapping key", lambda f: ["scan", "-f", str(f["key_yaml"])], "key"),
    ("scan --resume wrong types", lambda f: ["scan", "--resume", "--format", "jsonl", "-o", str(f["bad_jsonl"]), "--no-db", "127.0.0.1:1"], "protocols"),
    ("explain not hex", lambda f: ["explain", "zz top"], "not hex"),
    ("explain missing file", lambda f: ["explain", str(f["empty"].parent / "nothing.pcap")], "no such file"),
    ("explain a directory", lambda f: ["explain", str(f["empty"].parent)], "is a directory"),
    ("lab unknown scenario", lambda f: ["lab", "--only", "no-such-scenario"], "no-such-scenario"),
    ("demo unknown scenario", lambda f: ["demo", "--only", "no-such-scenario"], "no-such-scenario"),
    ("simulate -o into a missing directory", lambda f: ["simulate", "127.0.0.1:1", "-o", "/nonexistent/x"], "does not exist"),
    ("simulate nan", lambda f: ["simulate", "--connect-timeout", "nan", "127.0.0.1:1"], "--connect-timeout"),
    ("audit deep JSON", lambda f: ["audit", "--from", str(f["deep_json"]), "--policy", "mozilla-modern"], "nested"),
    ("audit -o into a missing directory", lambda f: ["audit", "--from", str(f["good_jsonl"]), "--policy", "mozilla-modern", "-o", "/nonexistent/x"], "does not exist"),
    ("audit policy too deep", lambda f: ["audit", "--from", str(f["good_jsonl"]), "--policy", str(f["deep_yaml"])], "nested"),
    ("diff wrong types", lambda f: ["diff", str(f["bad_jsonl"]), str(f["good_jsonl"])], "protocols"),
    ("report deep JSON", lambda f: ["report", str(f["deep_json"])], "nested"),
    ("report wrong types", lambda f: ["report", str(f["bad_jsonl"])], "protocols"),
    ("scan --probes empty", lambda f: ["scan", "--probes", "", "127.0.0.1:1"], "names no probe"),
    ("scan --resume a file that is not ours", lambda f: ["scan", "--resume", "--format", "jsonl", "-o", str(f["notours"]), "--no-db", "127.0.0.1:1"], "cannot resume"),
    ("lab --only empty", lambda f: ["lab", "--only", ""], "no scenario"),
    ("merge -o named like a database", lambda f: ["merge", str(f["good_jsonl"]), "-o", str(f["empty"].parent / "m.sqlite")], "JSON Lines file"),
    ("merge missing input", lambda f: ["merge", "/nonexistent/a.jsonl", "-o", str(f["empty"].parent / "m.jsonl")], "no such file"),
    ("merge -o into a missing directory", lambda f: ["merge", str(f["good_jsonl"]), "-o", "/nonexistent/m.jsonl"], "does not exist"),
    ("merge not JSON Lines", lambda f: ["merge", str(f["empty"]), str(f["deep_json"]), "-o", str(f["empty"].parent / "m.jsonl"), "--no-db"], "not an endpoint line"),
]


@pytest.mark.parametrize(("name", "argv", "mention"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_2(
    files: dict[str, Path], name: str, argv: Callable[[dict[str, Path]], list[str]], mention: str
) -> None:
    line = assert_one_line(run(argv(files)), 2)
    assert mention in line


def test_every_subcommand_is_covered() -> None:
    from scanner.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    covered = {argv({k: Path("/x") for k in ("empty", "noca", "deep_yaml", "key_yaml", "deep_json", "bad_jsonl", "good_jsonl", "notours")})[0]
               for _, argv, _ in BAD_INPUTS}
    assert set(sub.choices) <= covered
    assert set(sub.choices) <= set(INTERRUPTS)


# -- Ctrl-C ----------------------------------------------------------------------------------


@contextlib.contextmanager
def silent_listener() -> Iterator[socket.socket]:
    """A TCP server that accepts and never says a word: a scan of it waits."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    try:
        yield srv
    finally:
        srv.close()


def _wait(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    end = time.monotonic() + WAIT
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "the command never got busy"
        time.sleep(0.05)


def _in_read_of_stdin(pid: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            fields = Path(f"/proc/{pid}/syscall").read_text().split()
        except OSError:
            return True
        return fields[:2] in (["0", "0x0"], ["63", "0x0"])  # read(0, ...): x86-64, aarch64

    return check


def _has_reader(fifo: Path) -> Callable[[], bool]:
    held: list[int] = []

    def check() -> bool:
        if held:
            return True
        try:  # opening a FIFO for writing without blocking fails until a reader has it open
            held.append(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            return False
        return True

    return check


def _sockets(pid: int, at_least: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            return False
        found = 0
        for fd in fds:
            with contextlib.suppress(OSError):
                found += os.readlink(fd).startswith("socket:")
        return found >= at_least

    return check


def _default_sigint() -> None:
    # A shell starting a background job ignores SIGINT in it, and a child inherits that:
    # give the command the disposition a terminal gives it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _ignore_sigint() -> None:
    # What a non-interactive shell gives a background job (`tlscompat lab &`).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _spawn(argv: list[str], preexec: Callable[[], None] = _default_sigint, **kw: Any) -> subprocess.Popen[str]:
    """tlscompat ``argv``, its output piped, Ctrl-C not ignored (_default_sigint) unless
    ``preexec`` says otherwise."""
    return subprocess.Popen(
        [TLSCOMPAT, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "NO_COLOR": "1"}, preexec_fn=preexec, **kw,
    )


def _interrupted(proc: subprocess.Popen[str], ready: Callable[[], None], sig: int = signal.SIGINT) -> tuple[int, str]:
    """Ctrl-C (SIGINT, or ``sig``) to ``proc`` once ``ready()`` returns; (exit code,
    stderr). Killed if it is still running whatever happened."""
    try:
        ready()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err


def interrupt(argv: list[str], busy: Callable[[subprocess.Popen[str]], Callable[[], bool]]) -> tuple[int, str]:
    proc = _spawn(argv, stdin=subprocess.PIPE)
    return _interrupted(proc, lambda: _wait(busy(proc), proc))


def _accepted(srv: socket.socket) -> Callable[[], bool]:
    srv.setblocking(False)
    conns: list[socket.socket] = []

    def check() -> bool:
        with contextlib.suppress(BlockingIOError):
            conns.append(srv.accept()[0])
        return bool(conns)

    return check


def _scan_like(command: str) -> tuple[int, str]:
    with silent_listener() as srv:
        port = srv.getsockname()[1]
        extra = ["--no-db"] if command == "scan" else []
        return interrupt([command, f"127.0.0.1:{port}", "--read-timeout", "50", *extra], lambda p: _accepted(srv))


def _fifo_reader(tmp: Path, argv: Callable[[str], list[str]]) -> tuple[int, str]:
    fifo = tmp / "scan.fifo"
    os.mkfifo(fifo)

    def busy(proc: subprocess.Popen[str]) -> Callable[[], bool]:
        # Ctrl-C once the command waits in read() for the file's contents. (Sent while the
        # FIFO's open() is completing, CPython lost the signal about once in 300 tries.)
        opened = _has_reader(fifo)
        return lambda: opened() and _in_read(proc.pid)

    return interrupt(argv(str(fifo)), busy)


def _in_read(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return True
    return fields[:1] in (["0"], ["63"])  # read(...): x86-64, aarch64


def _lab(
    sig: int = signal.SIGINT, started: Callable[[int], None] | None = None,
    preexec: Callable[[], None] = _default_sigint,
) -> tuple[int, str]:
    """``tlscompat lab`` stopped by ``sig`` once it is up; ``started(pid)`` is called then."""
    proc = _spawn(["lab", "--only", "healthy"], preexec)

    def printed() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # bounded: the lab prints a table, then this line
            if "Ctrl-C" in line:
                break
        if started is not None:
            started(proc.pid)

    return _interrupted(proc, printed, sig)


INTERRUPTS: dict[str, Callable[[Path], tuple[int, str]]] = {
    "scan": lambda tmp: _scan_like("scan"),
    "simulate": lambda tmp: _scan_like("simulate"),
    "explain": lambda tmp: interrupt(["explain"], lambda p: _in_read_of_stdin(p.pid)),
    "lab": lambda tmp: _lab(),
    # The demo is interrupted once its lab servers listen.
    "demo": lambda tmp: interrupt(["demo"], lambda p: _sockets(p.pid, 4)),
    "audit": lambda tmp: _fifo_reader(tmp, lambda f: ["audit", "--from", f, "--policy", "mozilla-modern"]),
    "diff": lambda tmp: _fifo_reader(tmp, lambda f: ["diff", f, f]),
    "report": lambda tmp: _fifo_reader(tmp, lambda f: ["report", f]),
    "merge": lambda tmp: _fifo_reader(tmp, lambda f: ["merge", f, "-o", str(tmp / "all.jsonl"), "--no-db"]),
}


@pytest.mark.skipif(not Path("/proc/self/syscall").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("command", sorted(INTERRUPTS))
def test_ctrl_c_is_one_line_and_exit_130(tmp_path: Path, command: str) -> None:
    line = assert_one_line(INTERRUPTS[command](tmp_path), 130)
    assert "interrupted" in line


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--color", "never", "simulate", "127.0.0.1:1"], "put --color after the command: tlscompat simulate --color"),
        (["--color=never", "scan", "127.0.0.1:1"], "put --color after the command: tlscompat scan --color"),
        (["-o", "x.json", "scan", "127.0.0.1:1"], "put -o after the command: tlscompat scan -o"),
    ],
)
def test_a_command_option_before_the_command_says_where_it_goes(argv: list[str], expected: str) -> None:
    # Not argparse's "invalid choice: 'never'" (the option's value taken for the command).
    proc = run(argv)
    line = assert_one_line(proc, 2)
    assert line.startswith("tlscompat: error: " + expected), line
    assert "invalid choice" not in line


def test_targets_on_stdin_that_are_not_utf8_are_one_line() -> None:
    done = subprocess.run(
        [TLSCOMPAT, "scan", "-f", "-"], input=b"\xff\xfe\n", capture_output=True, timeout=WAIT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    err = done.stderr.decode()
    assert done.returncode == 2 and err.count("\n") == 1, err
    assert "<stdin>: not UTF-8 text" in err and "internal error" not in err


def test_a_usage_error_raised_inside_a_nursery_is_one_usage_line(capsys) -> None:
    # e.g. --cluster tcp://HOST:PORT whose scheduler cannot be reached: raised from the
    # backend's start, inside the fleet's trio nurseries.
    from scanner.cli_common import run_command
    from scanner.exits import UsageError

    def command() -> int:
        raise BaseExceptionGroup("nursery", [ExceptionGroup("inner", [UsageError("--cluster x: cannot reach")])])

    assert run_command(command) == 2
    err = capsys.readouterr().err
    assert err == "tlscompat: error: --cluster x: cannot reach\n"


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_sigterm_stops_the_lab_servers_and_is_one_line() -> None:
    # `timeout 60 tlscompat lab` or a service manager sends SIGTERM: the lab's s_server
    # processes used to outlive it (Python's default disposition ends at once).
    servers: set[int] = set()

    def started(pid: int) -> None:
        servers.update(_children(pid))
        assert servers, "the lab started its s_server"

    assert_one_line(_lab(signal.SIGTERM, started), 130)
    deadline = time.monotonic() + 10
    while servers & {p for p in servers if Path(f"/proc/{p}").exists() and "zombie" not in _state(p)}:
        assert time.monotonic() < deadline, f"still running after SIGTERM: {servers}"
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0].lower()
    except (OSError, IndexError):
        return "zombie"


def test_sigterm_is_not_ignored_where_sigint_is() -> None:
    # A background job of a non-interactive shell ignores SIGINT; SIGTERM must still end
    # it (it was ignored too, forwarded to an ignored SIGINT: a new user's finding).
    # The process ends at once then (trio has no interrupt handler to go through), so its
    # servers outlive it, as before SIGTERM was handled at all: stopped here.
    servers: set[int] = set()
    try:
        code, _ = _lab(signal.SIGTERM, lambda pid: servers.update(_children(pid)), _ignore_sigint)
    finally:
        for pid in servers:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    assert code == -signal.SIGTERM
