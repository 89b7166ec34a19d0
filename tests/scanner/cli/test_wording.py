# What a person reads counts in English: "1 connection", "2 endpoints", never "1 connections"
# or "endpoint(s)" (scanner.report.printable.counted), and says a thing once. Real peers:
# OpenSSL servers on 127.0.0.1 and a port nobody listens on.
from __future__ import annotations

import io
import re
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import main

PLURAL_GUESS = re.compile(r"\w\(s\)")


def run(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> str:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    main(argv)
    return out.getvalue()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens: connections are refused
    return port


def test_scan_counts_one_connection_and_says_a_downgrade_once(
    openssl_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = run(monkeypatch, ["scan", f"127.0.0.1:{closed_port()}", "--no-db"])
    assert "outcome refused" in refused
    assert "1 connection, 0 bytes sent, 0 bytes received" in refused, refused
    # A TLS 1.0-only server asked for TLS 1.2 answers TLS 1.0 (what openssl s_client sees
    # too): said once, not "answered TLSv1.0 instead: the server answered TLSv1.0".
    server = openssl_server(min_version=0x0301, max_version=0x0301, seclevel=0)
    text = run(monkeypatch, ["scan", f"127.0.0.1:{server.port}", "--probes", "protocols", "--no-db"])
    row = next(line for line in text.splitlines() if line.strip().startswith("TLSv1.2"))
    assert "answered TLSv1.0 instead" in row, text
    assert "the server answered TLSv1.0" not in text, text
    assert not PLURAL_GUESS.search(refused + text)


def test_audit_counts_in_english(
    openssl_server: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = openssl_server(min_version=0x0301, max_version=0x0303, seclevel=0)
    scan_file = tmp_path / "scan.jsonl"
    assert main(["scan", f"127.0.0.1:{server.port}", "--format", "jsonl", "-o", str(scan_file),
                 "--probes", "protocols,suites,groups,certificates", "--no-db", "-q"]) in (0, 1)
    text = run(monkeypatch, ["audit", "--from", str(scan_file), "--policy", "mozilla-modern",
                             "--profiles", "firefox_100_win10", "--color", "never"])
    assert "1 client profile, 1 endpoint\n" in text, text
    assert re.search(r"Compliance with mozilla-modern: \d+ deviations\b", text), text
    assert re.search(r"Summary: the change loses 1 client connection on 1 endpoint\b", text), text
    assert not PLURAL_GUESS.search(text), text
