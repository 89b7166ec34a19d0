# `tlscompat explain CAPTURE` on captures the tests record themselves: tcpdump on loopback
# around real `openssl s_client` -> `openssl s_server` sessions (the truth comes from the
# configuration of both ends and from what s_client itself printed). Skipped when tcpdump
# is missing or may not capture here (.ci/run installs it and runs as root).
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from handshakes import constants as c
from scanner.capture.analyze import analyze
from scanner.capture.keylog import load_keylog
from scanner.cli import main

TCPDUMP = shutil.which("tcpdump")
pytestmark = pytest.mark.skipif(TCPDUMP is None, reason="tcpdump is not installed")


@contextlib.contextmanager
def recording(path: Path, port: int) -> Iterator[Path]:
    """tcpdump on lo for one port, into `path`, stopped (and flushed) when the block ends."""
    assert TCPDUMP is not None
    log = path.with_suffix(".log")
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [TCPDUMP, "-i", "lo", "--immediate-mode", "-U", "-n", "-w", str(path), f"tcp port {port}"],
            stdout=subprocess.DEVNULL, stderr=err,
        )
    try:
        for _ in range(100):  # bounded: tcpdump says "listening on lo" when it is ready
            if b"listening on" in log.read_bytes() or proc.poll() is not None:
                break
            time.sleep(0.05)
        if proc.poll() is not None:
            pytest.skip(f"tcpdump cannot capture here: {log.read_text(errors='replace').strip()}")
        yield path
        time.sleep(0.2)  # the last segments reach the capture
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def s_client(port: int, *args: str, keylog: Path | None = None) -> str:
    """Run s_client to the end. Its "Q" (close_notify, then exit) comes only after 1.5 s
    unless it exited before: a TLS 1.3 server's alert about the client's flight reaches it
    after the client thinks the handshake is done, so an immediate "Q" would race it."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", *args]
    if keylog is not None:
        argv += ["-keylogfile", str(keylog)]
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
        assert proc.stdin is not None
        try:
            proc.wait(timeout=1.5)  # stdin stays open: s_client waits for input or the server
        except subprocess.TimeoutExpired:
            proc.stdin.write(b"Q\n")
        proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.seek(0)
        return out.read().decode(errors="replace")


def reports(path: Path, keylog: Path | None = None) -> list[Any]:
    with path.open("rb") as f:
        return list(analyze(f, keylog=load_keylog(str(keylog)) if keylog else None))


def ids(report: Any) -> set[str]:
    return {f.id for f in report.findings}


@pytest.fixture(scope="module")
def rogue(lab_pki: Any) -> Any:
    """A client certificate from a root the servers do not trust."""
    return lab_pki.issue_client("capture-rogue", issuer="untrusted")


def test_version_mismatch(tmp_path: Path, openssl_server: Any) -> None:
    server = openssl_server(min_version=c.TLS13, max_version=c.TLS13)
    with recording(tmp_path / "v.pcap", server.port) as cap:
        out = s_client(server.port, "-tls1_2")
    assert "alert protocol version" in out  # what the client itself saw
    [r] = reports(cap)
    assert r.client_port != server.port and r.server_port == server.port
    assert r.hello is not None and r.hello.versions == (c.TLS12,)
    assert r.version is None and r.stage == "client_hello"
    assert r.closed_by == "server" and r.close == "alert"
    assert [(a.sender, a.level, a.description) for a in r.alerts][0] == ("server", 2, 70)
    assert ids(r) == {"protocol.no_common_version"}


def test_missing_client_certificate_tls12(tmp_path: Path, openssl_server: Any, lab_pki: Any) -> None:
    server = openssl_server(
        min_version=c.TLS12, max_version=c.TLS12, require_client_cert=True, verify_depth=2,
        ca_file=lab_pki.ca_path, verify_return_error=True,
    )
    with recording(tmp_path / "m.pcap", server.port) as cap:
        s_client(server.port)
    [r] = reports(cap)
    assert r.certificate_request and r.client_certificates == ()
    assert r.alerts[0].sender == "server" and r.alerts[0].description == 40
    assert ids(r) == {"client_auth.required"}


def test_rejected_client_certificate_tls12_seed_004(tmp_path: Path, openssl_server: Any, lab_pki: Any, rogue: Any) -> None:
    """Seed 004: the client's certificate, then the server's alert. TLS 1.2 sends the client
    certificate in the clear, so its subject, issuer and dates come from the capture."""
    server = openssl_server(
        min_version=c.TLS12, max_version=c.TLS12, require_client_cert=True, verify_depth=2,
        ca_file=lab_pki.ca_path, verify_return_error=True,
    )
    with recording(tmp_path / "r12.pcap", server.port) as cap:
        s_client(server.port, "-cert", str(rogue.cert_path), "-key", str(rogue.key_path))
    [r] = reports(cap)
    assert r.version == c.TLS12
    subject = rogue.cert.subject.rfc4514_string()
    assert r.client_certificates and r.client_certificates[0].subject == subject
    assert r.client_certificates[0].not_after == rogue.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    alert = r.alerts[0]
    assert (alert.sender, alert.level) == ("server", 2)
    assert alert.description in (42, 48)  # bad_certificate or unknown_ca, as OpenSSL decides
    assert "Finished" in alert.after  # the client's second flight, then the alert
    assert ids(r) == {"client_auth.cert_rejected"}
    [finding] = r.findings
    assert subject in finding.evidence and "issued by" in finding.evidence


def test_rejected_client_certificate_tls13_with_and_without_keylog(
    tmp_path: Path, openssl_server: Any, lab_pki: Any, rogue: Any
) -> None:
    server = openssl_server(
        min_version=c.TLS13, max_version=c.TLS13, require_client_cert=True, verify_depth=2,
        ca_file=lab_pki.ca_path, verify_return_error=True,
    )
    keys = tmp_path / "keys.log"
    with recording(tmp_path / "r13.pcap", server.port) as cap:
        s_client(server.port, "-cert", str(rogue.cert_path), "-key", str(rogue.key_path), keylog=keys)
    # Without the key log: the alert is there, encrypted, right after the client's flight.
    [r] = reports(cap)
    assert r.version == c.TLS13 and r.stage == "client_flight"
    assert r.client_certificate_hidden and r.client_certificates is None
    assert r.closed_by == "server" and r.close == "alert"
    alert = r.alerts[0]
    assert alert.encrypted and alert.description is None and alert.length == 19
    assert "client flight" in alert.after
    # With it: the client's certificate and the alert, decrypted.
    [r] = reports(cap, keys)
    assert r.keylog == "used"
    assert r.certificate_request and r.acceptable_cas
    assert r.client_certificates and r.client_certificates[0].subject == rogue.cert.subject.rfc4514_string()
    alert = r.alerts[0]
    assert alert.decrypted and alert.level == 2 and alert.description in (42, 48)
    assert ids(r) == {"client_auth.cert_rejected"}


@pytest.mark.parametrize(
    "cipher", ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-AES256-SHA384", "AES128-SHA"]
)
@pytest.mark.parametrize("etm", [True, False], ids=["etm", "no-etm"])
def test_tls12_keylog_decrypts_finished_and_alerts(tmp_path: Path, openssl_server: Any, cipher: str, etm: bool) -> None:
    if not etm and "SHA" not in cipher.rsplit("-", 1)[-1]:
        pytest.skip("encrypt-then-MAC only changes CBC suites")
    server = openssl_server(min_version=c.TLS12, max_version=c.TLS12, cipher=cipher)
    keys = tmp_path / "keys.log"
    with recording(tmp_path / "k.pcap", server.port) as cap:
        extra = () if etm else ("-no_etm",)
        out = s_client(server.port, "-cipher", cipher, *extra, keylog=keys)
    assert f"Cipher is {cipher}" in out
    [plain] = reports(cap)
    assert [a.description for a in plain.alerts] and all(a.description is None for a in plain.alerts)
    [r] = reports(cap, keys)
    assert r.keylog == "used", r.notes
    assert any(s.what == "Finished (decrypted)" and s.sender == "client" for s in r.steps)
    assert any(s.what == "Finished (decrypted)" and s.sender == "server" for s in r.steps)
    # s_client's "Q" ends with close_notify (0), a warning, and the server answers in kind.
    assert [(a.sender, a.level, a.description) for a in r.alerts][0] == ("client", 1, 0)
    assert r.stage in ("complete", "application_data") and not r.findings


def _one_shot(answer: Callable[[socket.socket], None]) -> tuple[socket.socket, threading.Thread]:
    """A listener for one connection: it reads the ClientHello, then ``answer(conn)``."""
    sock = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = sock.accept()
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                conn.recv(4096)
                answer(conn)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return sock, t


def _reset_server() -> tuple[socket.socket, threading.Thread]:
    """A listener that reads the ClientHello and resets the connection (SO_LINGER 0)."""
    return _one_shot(lambda conn: conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"))


def _http_server() -> tuple[socket.socket, threading.Thread]:
    """A listener that answers anything with an HTTP error (a plain HTTP port)."""
    return _one_shot(lambda conn: conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))


@pytest.mark.parametrize(("make", "finding"), [(_reset_server, "handshake.aborted"), (_http_server, "port.not_tls")], ids=["reset", "http"])
def test_reset_and_not_tls(tmp_path: Path, make: Any, finding: str) -> None:
    sock, thread = make()
    port = sock.getsockname()[1]
    try:
        with recording(tmp_path / "x.pcap", port) as cap:
            s_client(port)
            thread.join(10)
    finally:
        sock.close()
    [r] = reports(cap)
    assert r.hello is not None and r.version is None
    assert ids(r) == {finding}
    if finding == "port.not_tls":
        assert r.not_tls == "http"
    else:
        assert r.close == "rst" and r.closed_by == "server"


def test_cli_json_summary_and_stdin(tmp_path: Path, openssl_server: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonschema

    server = openssl_server(min_version=c.TLS13, max_version=c.TLS13)
    keys = tmp_path / "keys.log"
    with recording(tmp_path / "j.pcap", server.port) as cap:
        s_client(server.port, "-tls1_2")
        s_client(server.port, keylog=keys)
    assert main(["explain", "--format", "json", "--keylog", str(keys), str(cap)]) == 0
    doc = json.loads(capsys.readouterr().out)
    schema = json.loads((Path(__file__).parents[2] / "docs" / "capture.schema.json").read_text())
    jsonschema.validate(doc, schema)
    assert [cn["stage"] for cn in doc["connections"]][0] == "client_hello"
    assert doc["connections"][1]["server_hello"]["version"] == "TLSv1.3"
    assert doc["connections"][1]["keylog"] == "used"
    assert main(["explain", "--format", "summary", "--fail-on", "high", str(cap)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "findings=protocol.no_common_version" in lines[0]
    # "-" reads the capture from stdin (not seekable).
    read, write = os.pipe()
    data = cap.read_bytes()
    writer = threading.Thread(target=lambda: (os.write(write, data), os.close(write)))
    writer.start()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(io.FileIO(read, "rb"))))
    assert main(["explain", "--format", "jsonl", "-"]) == 0
    writer.join()
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_hello_retry_request_then_keylog(tmp_path: Path, openssl_server: Any) -> None:
    """s_client's first key share is x25519; a server limited to P-384 asks again (HRR)."""
    server = openssl_server(min_version=c.TLS13, max_version=c.TLS13, groups="P-384")
    keys = tmp_path / "keys.log"
    with recording(tmp_path / "hrr.pcap", server.port) as cap:
        out = s_client(server.port, keylog=keys)
    assert "Server Temp Key: ECDH, secp384r1" in out or "P-384" in out
    [r] = reports(cap, keys)
    assert r.retry_request and r.hello_count == 2
    assert r.group == 0x0018 and r.keylog == "used"
    assert r.server_certificates and r.stage in ("complete", "application_data") and not r.findings


def test_missing_client_certificate_tls13_with_keylog(tmp_path: Path, openssl_server: Any, lab_pki: Any) -> None:
    server = openssl_server(
        min_version=c.TLS13, max_version=c.TLS13, require_client_cert=True, verify_depth=2,
        ca_file=lab_pki.ca_path, verify_return_error=True,
    )
    keys = tmp_path / "keys.log"
    with recording(tmp_path / "m13.pcap", server.port) as cap:
        s_client(server.port, keylog=keys)
    [r] = reports(cap)
    assert not r.findings and r.client_certificate_hidden  # nothing readable without keys
    [r] = reports(cap, keys)
    assert r.client_certificates == () and r.certificate_request
    alert = r.alerts[0]
    assert (alert.sender, alert.level, alert.description, alert.decrypted) == ("server", 2, 116, True)
    assert {f.id for f in r.findings} == {"client_auth.required"}
