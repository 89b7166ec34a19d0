# How `simulate` and `audit` meet a terminal (scanner.report.terminal): tables kept within
# its width by wrapping long cells (Reason, Why it fails after) inside their column; one row
# per line, unwrapped, into a pipe or with -o FILE; --color and NO_COLOR as everywhere else.
# A real OpenSSL server (tests/scanner/audit/conftest.py) gives the failures their reasons.
from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

from scanner.cli import main

SGR = re.compile(r"\x1b\[[0-9;]*m")
PROBES = "protocols,suites,preference,groups,certificates"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "policies"


class Terminal(io.StringIO):
    """A stdout that says it is a terminal; its width comes from COLUMNS."""

    def isatty(self) -> bool:
        return True


def run(monkeypatch: pytest.MonkeyPatch, argv: list[str], *, tty: bool, columns: int = 80) -> str:
    out = Terminal() if tty else io.StringIO()
    monkeypatch.setenv("COLUMNS", str(columns))  # shutil.get_terminal_size reads it first
    monkeypatch.setattr(sys, "stdout", out)
    main(argv)
    return out.getvalue()


def widest(text: str) -> int:
    return max(len(SGR.sub("", line)) for line in text.splitlines())


def rows_of(text: str, first: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip().startswith(first)]


def test_simulate_table_fits_the_terminal_and_not_a_pipe_or_file(
    lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, target = lab("tls10")
    argv = ["simulate", f"127.0.0.1:{target.port}", "--profile", "all"]
    piped = run(monkeypatch, argv, tty=False)
    assert widest(piped) > 120  # long Reason cells: the case to fix
    profiles = [line.split()[0] for line in piped.splitlines()[4:] if line.strip()]
    assert len(profiles) > 20
    terminal = run(monkeypatch, [*argv, "--color", "never"], tty=True, columns=100)
    assert widest(terminal) <= 100
    assert len(terminal.splitlines()) > len(piped.splitlines())  # wrapped inside cells
    for profile in profiles:  # every client still there, each on its own row
        assert rows_of(terminal, profile + " "), profile
    # A file never wraps, even when stdout is a terminal.
    out = tmp_path / "sim.txt"
    run(monkeypatch, [*argv, "-o", str(out)], tty=True, columns=100)
    assert out.read_text() == piped
    assert "\x1b[" not in piped + out.read_text()


def test_audit_table_fits_the_terminal_and_not_a_file(
    lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, target = lab("legacy")
    scan_file = tmp_path / "scan.jsonl"
    assert main(["scan", f"127.0.0.1:{target.port}", "--format", "jsonl", "-o", str(scan_file),
                 "--probes", PROBES, "--no-db", "-q"]) in (0, 1)
    argv = ["audit", "--from", str(scan_file), "--policy", "mozilla-modern", "-v"]
    piped = run(monkeypatch, argv, tty=False)
    assert widest(piped) > 120
    terminal = run(monkeypatch, [*argv, "--color", "never"], tty=True, columns=100)
    assert widest(terminal) <= 100
    assert "Why it fails after" in terminal or "Why it fails" in terminal
    out = tmp_path / "audit.txt"
    run(monkeypatch, [*argv, "-o", str(out)], tty=True, columns=100)
    assert out.read_text() == piped

