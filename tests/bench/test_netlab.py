# The pieces of bench/fleet_rtt.py that its figures rest on: the relay and the TUN delay
# line delay by what they claim (measured with socket round trips through them, lower
# bounds only: a loaded machine makes things slower, never faster), keep the bytes intact
# and in order, pass closes on, and the namespace with its link is gone after
# Netlab.down (root only).
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import netlab  # noqa: E402

RTT = 0.2


@pytest.fixture
def echo() -> Iterator[int]:
    """An echo server on 127.0.0.1 (threads): its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=pump, args=(conn,), daemon=True).start()

    def pump(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            while data := conn.recv(65536):
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_relay_delays_each_round_trip_and_keeps_the_bytes(echo: int, tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "relay.log"
    config = netlab.relay_config([(("127.0.0.1", port), ("127.0.0.1", echo))], rtt=RTT, loss=0, log=log)
    relay = netlab.start_relay(config, tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(b"hello")
            assert _recv_exactly(sock, 5) == b"hello"
            # The first exchange also pays for the TCP handshake: two round trips.
            assert time.monotonic() - started >= 2 * RTT
            payload = os.urandom(200_000)  # many chunks: order and content must survive
            started = time.monotonic()
            sock.sendall(payload)
            assert _recv_exactly(sock, len(payload)) == payload
            assert time.monotonic() - started >= RTT
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(10) == b""  # the echo server's close came back through
        deadline = time.monotonic() + 10
        while not log.exists() or not log.read_text():
            assert time.monotonic() < deadline, "the relay never logged the connection"
            time.sleep(0.05)
        record = json.loads(log.read_text().splitlines()[0])
        assert record["endpoint"] == f"127.0.0.1:{port}"
        assert record["up"] == record["down"] == 5 + len(payload)
        assert record["closed"] > record["opened"]
    finally:
        netlab.stop_process(relay)
    assert relay.returncode == 0


def test_loss_holds_chunks_by_the_retransmission_timeout() -> None:
    link = netlab.Link(one_way=0.025, loss=0.5, rto=0.2, seed=1)
    holds = [link.hold(100) for _ in range(400)]
    assert set(holds) == {0.0, 0.2}
    assert 120 < holds.count(0.2) < 280  # p = 0.5 for one segment
    big = [link.hold(netlab.MSS * 4) for _ in range(400)]
    assert big.count(0.2) > holds.count(0.2)  # four segments: 1 - 0.5^4 of them held
    assert netlab.Link(one_way=0.025, loss=0).hold(10**6) == 0


def test_durations_and_ratios_parse() -> None:
    assert netlab.parse_duration("50ms") == pytest.approx(0.05)
    assert netlab.parse_duration("0.2s") == pytest.approx(0.2)
    assert netlab.parse_ratio("0.5%") == pytest.approx(0.005)
    with pytest.raises(ValueError):
        netlab.parse_ratio("100%")
    with pytest.raises(ValueError):
        netlab.parse_duration("fast")


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2 (network namespaces)"
)
def test_namespace_is_reachable_through_the_relay_and_removed(tmp_path: Path) -> None:
    if "10.199." in subprocess.run(["ip", "route", "show", "10.199.0.0/16"], capture_output=True, text=True).stdout:
        pytest.skip("10.199.0.0/16 is in use (a benchmark is running)")
    lab = netlab.Netlab(link="veth")
    relay = None
    try:
        lab.up(["10.199.1.1"])
        assert lab.exists()
        # Upstream: a port nothing listens on in the namespace, so the relay accepts (the
        # path through the veth works) and then closes (it could not reach the farm).
        config = netlab.relay_config([(("10.199.1.1", 443), ("127.0.0.1", 9))], rtt=0.02, loss=0)
        relay = netlab.start_relay(config, tmp_path, wrap=lab.wrap([]))
        with socket.create_connection(("10.199.1.1", 443), timeout=10) as sock:
            sock.settimeout(10)
            assert sock.recv(10) == b""
    finally:
        if relay is not None:
            netlab.stop_process(relay)
        lab.down()
    assert not lab.exists()
    assert "10.199." not in subprocess.run(["ip", "route", "show", "10.199.0.0/16"], capture_output=True, text=True).stdout


def test_connection_figures_count_overlap_and_chains(tmp_path: Path) -> None:
    import fleet_rtt

    log = tmp_path / "relay.log"
    spans = {
        # a: three one after another, one beside the first two: chain 3, 2 at once
        "a": [(0.0, 1.0), (1.0, 2.0), (2.5, 3.0), (0.5, 1.8)],
        # b: four at once, then one: chain 2, 4 at once
        "b": [(0.0, 1.0), (0.1, 1.0), (0.2, 1.0), (0.3, 1.0), (1.5, 2.0)],
    }
    log.write_text("".join(
        json.dumps({"endpoint": e, "opened": 100 + a, "closed": 100 + b, "up": 1, "down": 1}) + "\n"
        for e, rows in spans.items() for a, b in rows
    ) + json.dumps({"endpoint": "late", "opened": 200.0, "closed": 201.0, "up": 1, "down": 1}) + "\n")
    figures = fleet_rtt.connection_figures(log, 100.0, 150.0)
    assert figures["endpoints_seen"] == 2  # "late" opened after the window
    assert figures["connections"] == 9
    assert figures["at_once_per_endpoint"] == {"median": 3.0, "max": 4}
    assert figures["longest_chain"] == {"median": 2.5, "max": 3}
    assert figures["at_once_whole_scan"] == 6
    assert figures["connections_per_endpoint"] == {"median": 4.5, "max": 5, "min": 4}


def _tun_usable() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
        return False
    try:
        os.close(netlab.open_tun(f"tlsc-t{os.getpid() % 100000}"))
    except OSError:
        return False
    return True


needs_tun = pytest.mark.skipif(not _tun_usable(), reason="needs root, iproute2 and /dev/net/tun (TUN devices)")


@pytest.fixture
def tun_lab(tmp_path: Path) -> Iterator[netlab.Netlab]:
    """A namespace behind the delay line (RTT, 5% loss) with an echo server on
    10.199.1.1:7 inside; everything removed afterwards (checked)."""
    if "10.199." in subprocess.run(["ip", "route", "show", "10.199.0.0/16"], capture_output=True, text=True).stdout:
        pytest.skip("10.199.0.0/16 is in use (a benchmark is running)")
    lab = netlab.Netlab(link="tun", rtt=RTT, loss=0.05, seed=3)
    server = None
    try:
        lab.up(["10.199.1.1"])
        assert lab.line is not None and lab.line.poll() is None
        code = (
            "import socket, threading\n"
            "def pump(c):\n"
            "    with c:\n"
            "        while d := c.recv(65536): c.sendall(d)\n"
            "s = socket.create_server(('10.199.1.1', 7))\n"
            "print('ready', flush=True)\n"
            "while True:\n"
            "    threading.Thread(target=pump, args=(s.accept()[0],), daemon=True).start()\n"
        )
        server = subprocess.Popen(lab.wrap([sys.executable, "-c", code]), stdout=subprocess.PIPE)
        assert server.stdout is not None and server.stdout.readline() == b"ready\n"
        yield lab
    finally:
        if server is not None:
            server.kill()
            server.wait()
        line = lab.line
        lab.down()
    assert line is not None and line.returncode is not None  # the delay line ended, its devices with it
    assert not lab.exists()
    assert "10.199." not in subprocess.run(["ip", "route", "show", "10.199.0.0/16"], capture_output=True, text=True).stdout


@needs_tun
def test_tun_line_delays_the_handshake_and_each_round_trip(tun_lab: netlab.Netlab) -> None:
    # Packets are delayed, not connections: connect() waits for the SYN-ACK, one round
    # trip (more when the 5% loss takes the SYN or the SYN-ACK: the kernel retransmits).
    started = time.monotonic()
    with socket.create_connection(("10.199.1.1", 7), timeout=30) as sock:
        assert time.monotonic() - started >= RTT
        started = time.monotonic()
        sock.sendall(b"hello")
        assert _recv_exactly(sock, 5) == b"hello"
        assert time.monotonic() - started >= RTT
    # From connect() to the answer of the first request: two round trips.
    started = time.monotonic()
    with socket.create_connection(("10.199.1.1", 7), timeout=30) as sock:
        sock.sendall(b"again")
        assert _recv_exactly(sock, 5) == b"again"
        assert time.monotonic() - started >= 2 * RTT


@needs_tun
def test_tun_line_keeps_bulk_data_intact_through_loss(tun_lab: netlab.Netlab) -> None:
    payload = os.urandom(300_000)  # hundreds of packets: at 5% loss, TCP retransmits some
    with socket.create_connection(("10.199.1.1", 7), timeout=60) as sock:
        sock.settimeout(60)
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        assert _recv_exactly(sock, len(payload)) == payload
        sender.join(60)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(10) == b""  # the echo server's close came back through


@needs_tun
def test_tun_line_drops_about_the_share_it_is_told(tmp_path: Path) -> None:
    # The line alone (no namespace): packets sent to the host device's peer go into the
    # line; with loss 0.5 about half of them come out on the other device.
    if "10.199." in subprocess.run(["ip", "route", "show", "10.199.0.0/16"], capture_output=True, text=True).stdout:
        pytest.skip("10.199.0.0/16 is in use (a benchmark is running)")
    lab = netlab.Netlab(link="tun", rtt=0.01, loss=0.5, seed=1)
    try:
        lab.up([])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(400):
                sock.sendto(b"x" * 20, ("10.199.1.1", 9))  # nothing listens: the packets are only counted
        time.sleep(0.5)
    finally:
        line = lab.line
        lab.down()
    assert line is not None and line.returncode is not None
    counts = lab.counts
    total = counts["dropped"] + counts["passed"]
    assert total >= 400  # and the odd packet of the kernel's own (ICMP, IPv6)
    assert 0.35 < counts["dropped"] / total < 0.65
