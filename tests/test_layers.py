"""The layer contracts of pyproject.toml (issue 10): no import goes up a layer, no circle
between sibling modules, handshakes/ stays sans-IO. Run with import-linter; the second
test plants a violation in a copy of the tree to show the contracts can fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree, env=env, capture_output=True, text=True, timeout=120,
    )


def test_layer_contracts_are_kept() -> None:
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 kept, 0 broken" in run.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # A low module importing a higher one: a layer broken and a circle closed.
        ("scanner/options.py", "from scanner.engine import TcpStream as _TcpStream  # noqa\n", "scanner layers"),
        # Under TYPE_CHECKING counts too.
        (
            "scanner/probes/suites.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from scanner.diagnose import diagnose  # noqa\n",
            "scanner layers",
        ),
        ("handshakes/records.py", "import socket as _socket  # noqa\n", "sans-IO"),
    ],
)
def test_a_planted_violation_breaks_a_contract(tmp_path: Path, module: str, line: str, broken: str) -> None:
    for part in ("scanner", "handshakes"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + "\n" + line)
    run = _lint(tmp_path)
    assert run.returncode != 0
    assert f"{broken}" in run.stdout and "BROKEN" in run.stdout
