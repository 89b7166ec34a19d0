# --color auto|always|never and NO_COLOR mean the same in every command that prints a table
# (scan, simulate, audit, diff, explain), through scanner.report.terminal.style_for:
# "auto" colours a terminal unless NO_COLOR is set, "never" never does, "always" always
# does, into a file (-o) too. Real peers: an OpenSSL server of the lab on 127.0.0.1; a
# capture the lab records (scanner.lab.capture_demo).
from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import main

ESC = "\x1b["


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(monkeypatch: pytest.MonkeyPatch, argv: list[str], *, tty: bool = True, no_color: bool = False) -> str:
    """The command's stdout, on a terminal or a pipe; with -o FILE, the file."""
    out = Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    main(argv)
    if "-o" in argv:
        return Path(argv[argv.index("-o") + 1]).read_text(encoding="utf-8")
    return out.getvalue()


def check(monkeypatch: pytest.MonkeyPatch, argv: list[str], tmp_path: Path, *, file: bool = True) -> None:
    """The four rules, for one command line whose output has something to colour."""
    assert ESC in run(monkeypatch, argv), "auto on a terminal"
    assert ESC not in run(monkeypatch, argv, no_color=True), "NO_COLOR"
    assert ESC not in run(monkeypatch, [*argv, "--color", "never"]), "never"
    assert ESC not in run(monkeypatch, argv, tty=False), "auto into a pipe"
    assert ESC in run(monkeypatch, [*argv, "--color", "always"], tty=False, no_color=True), "always"
    if file:
        out = str(tmp_path / "out.txt")
        assert ESC not in run(monkeypatch, [*argv, "-o", out]), "auto into a file"
        assert ESC in run(monkeypatch, [*argv, "--color", "always", "-o", out]), "always into a file"


@pytest.fixture
def server(openssl_server: Callable[..., Any]) -> str:
    """TLS 1.0 to 1.3: old clients connect, findings of several severities."""
    s = openssl_server(min_version=0x0301, max_version=0x0304, seclevel=0)
    return f"127.0.0.1:{s.port}"


def _scan(monkeypatch: pytest.MonkeyPatch, target: str, path: Path) -> Path:
    argv = ["scan", target, "--format", "jsonl", "-o", str(path), "--no-db", "-q",
            "--probes", "protocols,suites,groups,certificates"]
    assert main(argv) in (0, 1)
    return path


def test_scan(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: str) -> None:
    check(monkeypatch, ["scan", server, "--probes", "protocols,certificates", "--no-db", "-q"], tmp_path)


def test_simulate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: str) -> None:
    check(monkeypatch, ["simulate", server, "--profile", "current,ie_6_xp,java_7u25"], tmp_path)


def test_audit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: str) -> None:
    scan = _scan(monkeypatch, server, tmp_path / "scan.jsonl")
    check(monkeypatch, ["audit", "--from", str(scan), "--policy", "mozilla-modern"], tmp_path)


def test_diff(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: str) -> None:
    before = _scan(monkeypatch, server, tmp_path / "before.jsonl")
    # The same endpoint, after "switch TLS 1.0 and 1.1 off": old clients are lost, and a
    # new finding appears.
    data = json.loads(before.read_text())
    data["protocols"] = [p for p in data["protocols"] if p["version"] not in ("TLSv1.0", "TLSv1.1")]
    data["findings"].append({"id": "tls.example", "severity": "high", "title": "An example", "evidence": "",
                             "cause": "", "resolution": "", "windows_error": None})
    after = tmp_path / "after.jsonl"
    after.write_text(json.dumps(data) + "\n")
    check(monkeypatch, ["diff", str(before), str(after)], tmp_path)


def test_explain_a_capture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from scanner.lab.capture_demo import record_seed_004

    capture = tmp_path / "seed-004.pcapng"
    record_seed_004(capture)
    check(monkeypatch, ["explain", str(capture)], tmp_path, file=False)  # explain has no -o
