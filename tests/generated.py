# The check every generated file gets (handshakes/_registry_data.py, scanner/profiles/
# clients.json): its generator, run twice from the reference files, writes the committed
# file byte for byte: reproducible, and not stale.
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE = REPO_ROOT.parent / "shared" / "reference"


def assert_regenerates(generator: str, generated: str, needs: str, remedy: str, tmp_path: Path) -> list[str]:
    """Run ``generator`` (a path in the repository) twice with ``--reference REFERENCE
    --output``, each time asserting that it succeeds and writes ``generated`` exactly;
    ``remedy``: what the failure tells to run. Skips when the reference file ``needs`` is
    missing. Returns the runs' standard outputs."""
    if not (REFERENCE / needs).exists():
        pytest.skip(f"reference files not found in {REFERENCE}")
    out = tmp_path / Path(generated).name
    said: list[str] = []
    for attempt in range(2):
        done = subprocess.run(
            [sys.executable, str(REPO_ROOT / generator), "--reference", str(REFERENCE), "--output", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert out.read_bytes() == (REPO_ROOT / generated).read_bytes(), (
            f"run {attempt + 1}: {generated} is stale: run `{remedy}`"
        )
        said.append(done.stdout)
    return said
