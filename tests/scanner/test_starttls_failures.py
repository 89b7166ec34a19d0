# A dialogue that fails before TLS (fresh-eyes report t1315, points 1, 2, 3, 6, 10b): its
# own outcome with the server's words in `starttls`, a starttls.* finding and never a TLS
# one (no ClientHello was sent), and the version enumeration ended at once. Small
# misbehaving SMTP servers on 127.0.0.1 (threads on free ports), every wait bounded.
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from scanner.api import scan
from scanner.options import Deadlines, ScanOptions, Target
from scanner.results import EndpointResult

Behaviour = Callable[[socket.socket], None]

# Findings about TLS that must not appear when no ClientHello was sent.
TLS_FINDINGS = {"handshake.rejected", "handshake.aborted", "port.timeout", "port.not_tls", "port.closed"}


def _serve(behaviour: Behaviour) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def handle(c: socket.socket) -> None:
        try:
            behaviour(c)
        except OSError:
            pass
        finally:
            c.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                c, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(c,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        t.join(timeout=2)
        listener.close()


def _read_line(c: socket.socket) -> bytes:
    buf = b""
    c.settimeout(10)
    while not buf.endswith(b"\n") and len(buf) < 4096:
        chunk = c.recv(1)
        if not chunk:
            break
        buf += chunk
    return buf


def _big_line(c: socket.socket) -> None:
    c.sendall(b"220 " + b"A" * 20000 + b"\r\n")
    time.sleep(3)


def _many_lines(c: socket.socket) -> None:
    c.sendall(b"220-" + b"B" * 60 + b"\r\n" * 1 + (b"220-" + b"B" * 60 + b"\r\n") * 300 + b"220 ok\r\n")
    time.sleep(3)


def _hang(c: socket.socket) -> None:
    c.sendall(b"220-evil still thinking\r\n")
    time.sleep(4)


def _busy(c: socket.socket) -> None:
    c.sendall(b"421 4.7.0 evil Error: too many connections\r\n")
    time.sleep(0.1)


def _mid_close(c: socket.socket) -> None:
    c.sendall(b"220 evil ESMTP\r\n")
    _read_line(c)
    c.sendall(b"250-evil\r\n250-STARTTLS\r\n")


def _imap(c: socket.socket) -> None:
    c.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot (Debian) ready.\r\n")
    while _read_line(c):
        c.sendall(b"* BAD Error in IMAP command received by server.\r\n")


def _binary(c: socket.socket) -> None:
    c.sendall(bytes(range(256)) + b"\r\n")
    time.sleep(1)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[int]:
    yield from _serve(request.param)


def _scan(port: int, proto: str = "smtp", **deadlines: float) -> EndpointResult:
    options = ScanOptions(
        probes=frozenset({"protocols", "suites"}), deadlines=Deadlines(**deadlines), retries=1,
    )
    [result] = scan(Target(host="127.0.0.1", ip="127.0.0.1", port=port, starttls=proto), options)
    return result


def _ids(result: EndpointResult) -> set[str]:
    return {f.id for f in result.findings}


@pytest.mark.parametrize(
    ("server", "reason"),
    [(_big_line, "smtp: a line longer than 8192 bytes"), (_many_lines, "smtp: a reply of more than 200 lines")],
    indirect=["server"],
)
def test_a_dialogue_protocol_error_is_its_own_outcome(server: int, reason: str) -> None:
    """Point 1: protocol_error with the reason said once, no TLS finding, one connection."""
    result = _scan(server)
    assert result.outcome == "starttls_protocol_error"
    st = result.starttls
    assert st is not None and st.outcome == "protocol_error"
    assert st.detail.startswith(reason) and "smtp: smtp:" not in st.detail
    assert st.banner.startswith("220")
    assert result.stats.connections == 1
    assert "starttls.protocol_error" in _ids(result)
    assert not _ids(result) & TLS_FINDINGS


@pytest.mark.parametrize("server", [_hang], indirect=True)
def test_a_stalled_dialogue_is_a_timeout_of_its_own_with_what_was_said(server: int) -> None:
    """Point 2: a greeting that never ends is starttls.stalled quoting it, not port.timeout,
    and is not retried per version."""
    result = _scan(server, starttls=1.0)
    assert result.outcome == "starttls_timeout"
    st = result.starttls
    assert st is not None and st.outcome == "timeout"
    assert "received: 220-evil still thinking" in st.detail
    assert st.reply == "220-evil still thinking\r\n"
    assert result.stats.connections == 1
    [finding] = [f for f in result.findings if f.id == "starttls.stalled"]
    assert "220-evil still thinking" in finding.evidence
    assert not _ids(result) & TLS_FINDINGS


@pytest.mark.parametrize("server", [_busy], indirect=True)
def test_throttled_until_the_endpoint_deadline_counts_its_connections(server: int) -> None:
    """Point 3: always 421 and a short endpoint deadline: throttled only, connections counted."""
    result = _scan(server, endpoint=2.5)
    assert result.outcome == "throttled"
    assert result.starttls is not None and result.starttls.outcome == "throttled"
    assert result.stats.connections >= 1
    assert result.starttls.throttled == result.stats.connections
    assert "starttls.throttled" in _ids(result)
    assert not _ids(result) & TLS_FINDINGS


@pytest.mark.parametrize("server", [_mid_close], indirect=True)
def test_a_close_mid_dialogue_every_time_is_not_called_load(server: int) -> None:
    """Point 10b: a server that always closes part-way through the EHLO answer."""
    result = _scan(server, endpoint=3.5)
    [finding] = [f for f in result.findings if f.id == "starttls.throttled"]
    assert "closed the connection part-way through the dialogue on every attempt" in finding.evidence
    assert "broken dialogue" in finding.evidence
    assert not _ids(result) & TLS_FINDINGS


@pytest.mark.parametrize(
    ("server", "proto", "said"),
    [
        (_imap, "smtp", "the greeting is IMAP, not SMTP: * OK [CAPABILITY IMAP4rev1"),
        (_imap, "pop3", "the greeting is IMAP, not POP3"),
        (_binary, "smtp", "the greeting is binary, not SMTP"),
    ],
    indirect=["server"],
)
def test_the_wrong_dialogue_names_the_protocol_heard(server: int, proto: str, said: str) -> None:
    """Point 6: not starttls.refused; the greeting's protocol and the --starttls to use."""
    result = _scan(server, proto)
    assert result.outcome == "starttls_wrong_protocol"
    st = result.starttls
    assert st is not None and st.outcome == "wrong_protocol"
    assert st.detail.startswith(said)
    if "IMAP" in said:
        assert st.detail.endswith("; to scan it: --starttls imap")
    assert result.stats.connections == 1
    assert _ids(result) & {"starttls.wrong_protocol"}
    assert not _ids(result) & (TLS_FINDINGS | {"starttls.refused"})
