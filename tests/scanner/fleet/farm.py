# A small TLS farm spread over loopback /24s (127.0.N.1), for the cluster and shard tests:
# openssl s_server back ends on 127.0.0.1 behind one counting TCP front end that listens on
# 127.0.N.1 and counts, on the servers' side, the connections open at once into each /24.
from __future__ import annotations

import ipaddress
import selectors
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class _Pair:
    client: socket.socket
    backend: socket.socket
    subnet: str
    out: dict[socket.socket, bytearray] = field(default_factory=dict)


class CountingFront:
    """Listens on (address, port) pairs and relays each connection to its back end port on
    127.0.0.1; ``peak[subnet]`` is the most connections ever open at once into a /24."""

    def __init__(self, routes: list[tuple[str, int, int]]) -> None:
        self.selector = selectors.DefaultSelector()
        self.listeners: list[socket.socket] = []
        self.open: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self.by_address: Counter[str] = Counter()  # connections accepted per listening address
        self._stop = threading.Event()
        self._lock = threading.Lock()
        for address, port, backend in routes:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((address, port))
            s.listen(256)
            s.setblocking(False)
            self.listeners.append(s)
            subnet = str(ipaddress.ip_network(f"{address}/24", strict=False))
            self.selector.register(s, selectors.EVENT_READ, ("listen", backend, subnet, address))
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> CountingFront:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.selector.close()

    def _close(self, pair: _Pair) -> None:
        for s in (pair.client, pair.backend):
            try:
                self.selector.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        with self._lock:
            self.open[pair.subnet] -= 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            for key, _ in self.selector.select(0.1):
                data = key.data
                if data[0] == "listen":
                    try:
                        conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
                    except BlockingIOError:
                        continue
                    backend = socket.create_connection(("127.0.0.1", data[1]), timeout=5)
                    conn.setblocking(False)
                    backend.setblocking(False)
                    pair = _Pair(conn, backend, data[2])
                    with self._lock:
                        self.open[pair.subnet] += 1
                        self.accepted[pair.subnet] += 1
                        self.by_address[data[3]] += 1
                        self.peak[pair.subnet] = max(self.peak[pair.subnet], self.open[pair.subnet])
                    self.selector.register(conn, selectors.EVENT_READ, ("relay", pair, backend))
                    self.selector.register(backend, selectors.EVENT_READ, ("relay", pair, conn))
                    continue
                _, pair, other = data
                try:
                    chunk = key.fileobj.recv(65536)  # type: ignore[union-attr]
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self._close(pair)
                    continue
                try:
                    other.setblocking(True)
                    other.settimeout(5)
                    other.sendall(chunk)
                    other.setblocking(False)
                except OSError:
                    self._close(pair)


def subnet_addresses(subnets: int, per_subnet: int) -> list[str]:
    """127.0.N.H for N in 11.. and H in 1..: ``subnets`` /24s, ``per_subnet`` hosts each."""
    return [f"127.0.{11 + n}.{1 + h}" for n in range(subnets) for h in range(per_subnet)]
