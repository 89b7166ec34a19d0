# Recording without a capture tool: a TCP relay on 127.0.0.1 that forwards one connection to
# an upstream server and writes what each side sent, as it passes, into a pcapng
# (writer.Conversation). The lab puts it in front of a server to record a failure case
# (`make demo` records seed 004 this way: no root, no tcpdump).
#
# Rules kept: blocking sockets in two threads, every wait bounded by `timeout`; the relay
# stops at the first close or reset of either side, and records it as such.
from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

from scanner.capture.writer import Conversation, PcapngWriter

__all__ = ["RecordingRelay"]


class RecordingRelay:
    """``with RecordingRelay(upstream, path) as relay:`` connect to ``relay.address``; the
    one connection is relayed to ``upstream`` ((host, port)) and written to ``path``."""

    def __init__(self, upstream: tuple[str, int], path: Path, *, timeout: float = 10.0) -> None:
        self.upstream = upstream
        self.path = path
        self.timeout = timeout
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(timeout)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()
        self.error: str | None = None

    def __enter__(self) -> RecordingRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(self.timeout * 3)
        self._listener.close()

    def _run(self) -> None:
        try:
            client, peer = self._listener.accept()
        except OSError as exc:
            self.error = f"no client connected: {exc}"
            return
        with self.path.open("wb") as f, client, socket.create_connection(self.upstream, timeout=self.timeout) as server:
            client.settimeout(self.timeout)
            out = PcapngWriter(f)
            conv = Conversation(out, (peer[0], peer[1]), self.upstream, ts=time.time())
            conv.open()
            def pump(src: socket.socket, dst: socket.socket, from_client: bool) -> None:
                while True:
                    try:
                        data = src.recv(65536)
                    except TimeoutError:
                        break  # silence: nothing to record
                    except OSError:
                        with self._lock:
                            conv.ts = time.time()
                            conv.reset(from_client)
                        break
                    with self._lock:
                        conv.ts = time.time()
                        if data:
                            conv.send(from_client, data)
                        else:
                            conv.fin(from_client)
                    if not data:
                        with contextlib.suppress(OSError):
                            dst.shutdown(socket.SHUT_WR)
                        break
                    with contextlib.suppress(OSError):
                        dst.sendall(data)

            other = threading.Thread(target=pump, args=(server, client, False), daemon=True)
            other.start()
            pump(client, server, True)
            other.join(self.timeout)
