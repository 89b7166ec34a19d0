# Fixtures of the hostile suite: a memory bound per case (tracemalloc peak), and the
# measured virtual and real times written for bench/ (never asserted on real time).
from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def _bounded(limit_mb: float) -> Iterator[dict[str, float]]:
    tracemalloc.start()
    tracemalloc.reset_peak()
    seen: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        yield seen
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        seen["peak_mb"] = peak / 2**20
        seen["real_s"] = time.perf_counter() - t0
    assert seen["peak_mb"] < limit_mb, f"peak {seen['peak_mb']:.1f} MB over the bound of {limit_mb} MB"


@pytest.fixture
def memory_bound():  # type: ignore[no-untyped-def]
    """``with memory_bound(MB) as seen:`` fails the test when Python allocations peak
    above MB inside the block; ``seen`` gets peak_mb and real_s."""
    return _bounded
