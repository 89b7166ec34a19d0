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


def words(text: str) -> set[str]:
    """Every word of a text, table rules (runs of dashes) aside: the same set in a wrapped
    and an unwrapped rendering when wrapping happens only between words."""
    return {w for w in SGR.sub("", text).split() if w.strip("-")}


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
    # Narrowed, but suite names and profile ids stay whole: the Client, Suite and Group
    # columns alone take 22 + 34 + 9, so the table is as narrow as whole words allow.
    assert widest(terminal) < widest(piped)
    assert words(terminal) == words(piped)
    assert len(terminal.splitlines()) > len(piped.splitlines())  # wrapped inside cells
    for profile in profiles:  # every client still there, each on its own row
        assert rows_of(terminal, profile + " "), profile
    # A file never wraps, even when stdout is a terminal.
    out = tmp_path / "sim.txt"
    run(monkeypatch, [*argv, "-o", str(out)], tty=True, columns=100)
    assert out.read_text() == piped
    assert "\x1b[" not in piped + out.read_text()


def legacy_audit(lab, tmp_path: Path) -> list[str]:
    """The audit command line for a scan of the lab's legacy server against
    mozilla-modern (the scan is run here, into tmp_path)."""
    _, target = lab("legacy")
    scan_file = tmp_path / "scan.jsonl"
    assert main(["scan", f"127.0.0.1:{target.port}", "--format", "jsonl", "-o", str(scan_file),
                 "--probes", PROBES, "--no-db", "-q"]) in (0, 1)
    return ["audit", "--from", str(scan_file), "--policy", "mozilla-modern", "-v"]


def test_audit_table_fits_the_terminal_and_not_a_file(
    lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = legacy_audit(lab, tmp_path)
    piped = run(monkeypatch, argv, tty=False)
    assert widest(piped) > 120
    terminal = run(monkeypatch, [*argv, "--color", "never"], tty=True, columns=100)
    assert widest(terminal) < widest(piped)
    assert words(terminal) == words(piped)
    prose = [line for line in terminal.splitlines() if line.startswith(("Server policy", "Summary", "     - "))]
    assert prose and all(len(line) <= 100 for line in prose)
    assert "Why it fails after" in terminal or "Why it fails" in terminal
    out = tmp_path / "audit.txt"
    run(monkeypatch, [*argv, "-o", str(out)], tty=True, columns=100)
    assert out.read_text() == piped



def test_simulate_at_80_columns_never_splits_a_name(lab, monkeypatch: pytest.MonkeyPatch) -> None:
    # Profile ids (chrome_101_win10), suite names and alert names are copied from the
    # table: a wrap inside one breaks it. Prose (Reason) wraps at spaces, not 15 wide.
    _, target = lab("tls10")
    argv = ["simulate", f"127.0.0.1:{target.port}", "--profile", "all"]
    piped = run(monkeypatch, argv, tty=False)
    terminal = run(monkeypatch, [*argv, "--color", "never"], tty=True, columns=80)
    assert len(terminal.splitlines()) > len(piped.splitlines())  # the Reason cells wrapped
    assert words(terminal) == words(piped)
    assert "chrome_101_win10" in words(terminal)
    assert any(w.startswith("TLS_ECDHE_RSA_WITH_") for w in words(terminal))
    rule = next(line for line in terminal.splitlines() if line.startswith("---"))
    assert len(rule.split()[-1]) >= 24  # the Reason column: a readable width


def test_audit_at_80_columns_never_splits_a_name_and_resets_only_colours(
    lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = legacy_audit(lab, tmp_path)
    piped = run(monkeypatch, argv, tty=False)
    terminal = run(monkeypatch, [*argv, "--color", "never"], tty=True, columns=80)
    assert words(terminal) == words(piped)
    coloured = run(monkeypatch, [*argv, "--color", "always"], tty=True, columns=80)
    assert "unchanged" in coloured
    # Every reset closes a colour: none after an uncoloured word such as "unchanged".
    codes = SGR.findall(coloured)
    assert codes.count("\x1b[0m") == len(codes) - codes.count("\x1b[0m")
    assert "unchanged\x1b[0m" not in coloured


def test_list_profiles_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    # Lines of 103 characters before: id, name, every version and "(current)".
    piped = run(monkeypatch, ["simulate", "--list-profiles"], tty=False)
    assert widest(piped) > 80 and len(piped.splitlines()) > 100  # one profile a line
    terminal = run(monkeypatch, ["simulate", "--list-profiles"], tty=True, columns=80)
    assert widest(terminal) <= 80
    assert words(terminal) == words(piped)
    ids = [line.split()[0] for line in piped.splitlines()]
    starts = {line.split()[0] for line in terminal.splitlines() if not line.startswith(" ")}
    assert set(ids) <= starts
