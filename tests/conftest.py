# Fixtures every test directory may use, built on the lab plugin's (scanner/lab/pytest_plugin.py).
from __future__ import annotations

import pytest

from scanner.lab.certs import Pki
from tests.lab_ca import LabCa


@pytest.fixture(scope="session")
def lab_ca(lab_pki: Pki) -> LabCa:
    """The root of the session's lab_pki and the leaves it signs (tests/lab_ca.py)."""
    return LabCa(lab_pki)
