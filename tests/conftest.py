# Fixtures every test directory may use. Rules kept: what is made here is made once a
# session, from the lab's own builders (scanner.lab), never a second copy of them.
from __future__ import annotations

import pytest

from scanner.lab.certs import KeyType, Pki
from tests.lab_ca import LabCa


@pytest.fixture(scope="session")
def lab_ca(tmp_path_factory: pytest.TempPathFactory) -> LabCa:
    return LabCa(Pki(tmp_path_factory.mktemp("lab-ca"), ca_key=KeyType.ECDSA_P256))
