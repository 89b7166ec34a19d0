# Fixtures for the interop tests; the codec tests' helpers are in codec_helpers.py.
from __future__ import annotations

import pytest
from codec_helpers import POOL

from scanner.probes.hello import HelloFactory


@pytest.fixture
def hello() -> HelloFactory:
    return HelloFactory(server_name=None, pool=POOL)
