# `explain` on a terminal wraps its long lines between words with a hanging indent (it
# printed lines of 1134 characters for a capture with -v, 146 for hex); into a pipe it
# keeps one line per item, for grep. Real bytes: a capture the lab records (seed 004:
# a client certificate rejected by OpenSSL) and the alert frame of seed 004.
from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

from scanner.cli import main
from tests.scanner.test_explain import SEED_004_FRAME

SGR = re.compile(r"\x1b\[[0-9;]*m")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(monkeypatch: pytest.MonkeyPatch, argv: list[str], *, tty: bool, columns: int = 80) -> str:
    out = Terminal() if tty else io.StringIO()
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(sys, "stdout", out)
    main(argv)
    return out.getvalue()


def widest(text: str) -> int:
    return max(len(SGR.sub("", line)) for line in text.splitlines())


@pytest.mark.parametrize("source", ["capture", "hex"])
def test_explain_wraps_on_a_terminal_only(source: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if source == "capture":
        from scanner.lab.capture_demo import record_seed_004

        capture = tmp_path / "seed-004.pcapng"
        record_seed_004(capture)
        argv = ["explain", str(capture), "-v"]
    else:
        argv = ["explain", SEED_004_FRAME]
    piped = run(monkeypatch, argv, tty=False)
    assert widest(piped) > 100
    terminal = run(monkeypatch, [*argv, "--color", "never"], tty=True)
    assert widest(terminal) <= 80, terminal
    assert terminal.split() == piped.split()  # the same words, in order, none split
    if source == "capture":  # continuation lines under the list, after "suites: "
        at = next(i for i, line in enumerate(terminal.splitlines()) if line.startswith("    suites: "))
        assert terminal.splitlines()[at + 1].startswith(" " * len("    suites: ") + "TLS_")
