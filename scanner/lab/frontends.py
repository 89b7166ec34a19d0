# Quirky front ends (issue 11): a small TCP proxy in a thread, in front of a real TLS server
# (`openssl s_server`), that forwards bytes both ways and misbehaves in one precise way,
# as load balancers, CDNs and old appliances do. What it reads of the ClientHello (its
# length, suite count, SNI) decides whether it forwards, stays silent, closes, or answers
# with bytes of its own; optionally it swallows the backend's alerts (a refusal becomes a
# TCP close).
#
# Rules kept (scanner/lab/servers.py): loopback only, free port, context manager, every
# loop bounded by the stop event (polled every 0.1 s) and by the I/O timeout; one
# connection's failure never stops the front end.
from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from scanner.lab.servers import _POLL, _ThreadedServer

__all__ = [
    "FrontEnd",
    "HelloInfo",
    "close_above_length",
    "close_above_suites",
    "close_on_grease",
    "parse_hello",
    "silent_in_length_window",
    "sni_required_odd_alert",
]

# The backend's answer to a hello without SNI, as a large CDN sends it: an alert record
# whose record version is 0x0000, fatal handshake_failure (RFC 8446 section 6).
ODD_ALERT = bytes.fromhex("15 0000 0002 02 28")


@dataclass(frozen=True, slots=True, kw_only=True)
class HelloInfo:
    """What a front end read of a ClientHello. ``length``: bytes of the handshake message
    (4-byte header included, RFC 7685's measure); ``suites``: cipher suites offered."""

    raw: bytes
    length: int
    suites: int
    has_sni: bool
    suite_list: tuple[int, ...] = ()
    pq_share: bool = False  # a hybrid post-quantum key share (group 0x11EC..0x11EE) is sent
    ext_types: tuple[int, ...] = ()  # the extension types, in order


# A quirk: "forward", "drop" (never answer), "close" (TCP FIN), or bytes to answer with.
Quirk = Callable[[HelloInfo], "str | bytes"]


def parse_hello(raw: bytes) -> HelloInfo | None:
    """The ClientHello in ``raw`` (one or more handshake records), or None if incomplete
    or not a ClientHello. Never raises for malformed bytes."""
    msg = bytearray()
    pos = 0
    while pos + 5 <= len(raw) and raw[pos] == 22:
        size = int.from_bytes(raw[pos + 3 : pos + 5], "big")
        msg += raw[pos + 5 : pos + 5 + size]
        pos += 5 + size
        if len(msg) >= 4 and len(msg) >= 4 + int.from_bytes(msg[1:4], "big"):
            break
    if len(msg) < 4 or msg[0] != 1 or len(msg) < 4 + int.from_bytes(msg[1:4], "big"):
        return None
    length = 4 + int.from_bytes(msg[1:4], "big")
    try:
        p = 4 + 2 + 32
        p += 1 + msg[p]
        n_suites = int.from_bytes(msg[p : p + 2], "big") // 2
        codes = tuple(int.from_bytes(msg[p + 2 + 2 * i : p + 4 + 2 * i], "big") for i in range(n_suites))
        p += 2 + 2 * n_suites
        p += 1 + msg[p]
        has_sni = pq_share = False
        types: list[int] = []
        if p + 2 <= length:
            end = p + 2 + int.from_bytes(msg[p : p + 2], "big")
            p += 2
            while p + 4 <= min(end, length):
                ext_type = int.from_bytes(msg[p : p + 2], "big")
                has_sni = has_sni or ext_type == 0
                types.append(ext_type)
                if ext_type == 51:  # key_share (RFC 8446 section 4.2.8): 2-byte list, then entries
                    q, stop = p + 6, p + 4 + int.from_bytes(msg[p + 2 : p + 4], "big")
                    while q + 4 <= stop:
                        pq_share = pq_share or 0x11EC <= int.from_bytes(msg[q : q + 2], "big") <= 0x11EE
                        q += 4 + int.from_bytes(msg[q + 2 : q + 4], "big")
                p += 4 + int.from_bytes(msg[p + 2 : p + 4], "big")
    except IndexError:
        return None
    return HelloInfo(raw=bytes(raw), length=length, suites=n_suites, has_sni=has_sni, suite_list=codes, pq_share=pq_share, ext_types=tuple(types))


def silent_in_length_window(low: int = 256, high: int = 511) -> Quirk:
    """The F5 bug (RFC 7685 section 4): a ClientHello of low..high bytes gets no answer."""
    return lambda h: "drop" if low <= h.length <= high else "forward"


def close_above_suites(limit: int = 100) -> Quirk:
    """Close TCP when the hello lists more than ``limit`` cipher suites."""
    return lambda h: "close" if h.suites > limit else "forward"


def silent_above_length(limit: int = 511) -> Quirk:
    """A ClientHello longer than ``limit`` bytes gets no answer (the connection is held)."""
    return lambda h: "drop" if h.length > limit else "forward"


def close_on_pq_key_share() -> Quirk:
    """Close TCP when the hello carries a post-quantum hybrid key share (X25519MLKEM768,
    0x11EC), whatever its length: the key share itself is what breaks."""
    return lambda h: "close" if h.pq_share else "forward"


# Extension types a 2020-era appliance knows (IANA TLS ExtensionType Values): the rest,
# GREASE types (RFC 8701) included, make it close the connection.
KNOWN_EXTENSIONS = frozenset({0, 1, 5, 10, 11, 13, 16, 18, 21, 22, 23, 27, 28, 35, 41, 42, 43, 44, 45, 49, 50,
                              51, 17513, 65037, 65281})


def close_on_unknown_extension() -> Quirk:
    """Close TCP when the hello carries an extension type not in KNOWN_EXTENSIONS."""
    return lambda h: "close" if any(t not in KNOWN_EXTENSIONS for t in h.ext_types) else "forward"


def close_above_length(limit: int = 1024) -> Quirk:
    """Close TCP when the ClientHello is longer than ``limit`` bytes: the devices that read
    only the first TCP segment and break on post-quantum key shares (about 1.5 KB hellos)."""
    return lambda h: "close" if h.length > limit else "forward"


def close_on_grease() -> Quirk:
    """Close TCP when a GREASE value (RFC 8701: 0x?A?A) is among the cipher suites."""
    return lambda h: "close" if any(s & 0x0F0F == 0x0A0A and s >> 12 == (s >> 4) & 0xF for s in h.suite_list) else "forward"


def sni_required_odd_alert(*, close_other: bool = False) -> Quirk:
    """Without SNI, answer ``15 00 00 00 02 02 28`` (a fatal handshake_failure alert in a
    record with version 0x0000); with SNI, forward. ``close_other``: close TCP on a hello
    that is not in a TLS handshake record (SSL 2.0), as the real ones do."""

    def quirk(h: HelloInfo) -> str | bytes:
        if close_other and h.raw[:1] != b"\x16":
            return "close"
        return "forward" if h.has_sni else ODD_ALERT

    return quirk


def forward_all(_h: HelloInfo) -> str:
    return "forward"


class FrontEnd(_ThreadedServer):
    """A misbehaving TCP front end on 127.0.0.1 before ``backend`` (host, port).

        with FrontEnd(("127.0.0.1", s_server.port), close_above_suites(100)) as fe:
            scan(fe.address)

    ``swallow_alerts``: a plaintext alert from the backend before its ServerHello is not
    forwarded; the client sees a TCP close instead. ``hellos`` holds what each client sent.
    """

    def __init__(
        self, backend: tuple[str, int], quirk: Quirk = forward_all, *, swallow_alerts: bool = False
    ) -> None:
        super().__init__()
        self.backend = backend
        self.quirk = quirk
        self.swallow_alerts = swallow_alerts
        self._hellos: list[HelloInfo] = []

    @property
    def hellos(self) -> tuple[HelloInfo, ...]:
        return self._snapshot(self._hellos)

    def _read_hello(self, conn: socket.socket) -> HelloInfo | None:
        conn.settimeout(_POLL)
        data = b""
        deadline = time.monotonic() + self.io_timeout
        while not self._stop.is_set() and time.monotonic() < deadline and len(data) < 1 << 18:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return None
            data += chunk
            info = parse_hello(data)
            if info is not None:
                return info
            if data[0] != 22:
                return HelloInfo(raw=data, length=len(data), suites=0, has_sni=False)
        return None

    def _hold(self, conn: socket.socket, timeout: float | None = None) -> None:
        conn.settimeout(_POLL)
        deadline = time.monotonic() + (timeout if timeout is not None else 3600)
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                if not conn.recv(65536):
                    return
            except TimeoutError:
                continue

    def _finish(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_WR)
        self._hold(conn, 2.0)

    def _handle(self, conn: socket.socket) -> None:
        info = self._read_hello(conn)
        if info is None:
            return
        self._append(self._hellos, info)
        action = self.quirk(info)
        if action == "drop":
            self._hold(conn)
            return
        if action == "close":
            self._finish(conn)
            return
        if isinstance(action, bytes):
            conn.sendall(action)
            self._finish(conn)
            return
        with socket.create_connection(self.backend, timeout=self.io_timeout) as back:
            back.sendall(info.raw)
            self._pump(conn, back)

    def _pump(self, client: socket.socket, back: socket.socket) -> None:
        """Bytes both ways until either side closes or the front end stops. With
        swallow_alerts, the backend's records are inspected until its first handshake
        record went through."""
        client.setblocking(True)
        back.setblocking(True)
        pending = b""
        inspecting = self.swallow_alerts
        while not self._stop.is_set():
            readable, _, _ = select.select([client, back], [], [], _POLL)
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    if sock is back and pending:
                        client.sendall(pending)
                    return
                if sock is client:
                    back.sendall(data)
                    continue
                if not inspecting:
                    client.sendall(data)
                    continue
                pending += data
                while len(pending) >= 5:
                    size = 5 + int.from_bytes(pending[3:5], "big")
                    if len(pending) < size:
                        break
                    record, pending = pending[:size], pending[size:]
                    if record[0] == 21:
                        self._finish(client)  # the refusal, without its alert
                        return
                    client.sendall(record)
                    inspecting = False
                    if pending:
                        client.sendall(pending)
                        pending = b""
                    break
