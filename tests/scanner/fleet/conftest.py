# Helpers for the fleet tests: misbehaving loopback endpoints the lab has no server for.
from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port on 127.0.0.1 whose listen queue is full: SYNs go unanswered, so a connect
    times out (a blackholed address, on loopback)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    time.sleep(0.1)
    try:
        yield port
    finally:
        for s in fillers:
            s.close()
        server.close()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on: connections are refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
