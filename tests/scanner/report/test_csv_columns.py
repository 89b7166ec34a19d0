# The CSV's STARTTLS and vulnerability columns (docs/cli.md, "CSV columns"), checked on real
# scans through `tlscompat scan --format csv` (the fleet's streamed CSV, which is
# report.csvout.write_csv one endpoint at a time): the lab's vulnerable front end for the
# vulns family (scanner/lab/vulnerable.py), the lab's SMTP front end for STARTTLS
# (scanner/lab/mail.py), both on 127.0.0.1 and stopped afterwards.
from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import main
from scanner.lab.certs import IssuedCert
from scanner.lab.mail import FakeSMTPServer
from scanner.lab.servers import RawServer
from scanner.lab.vulnerable import legacy_rsa_server
from scanner.report.csvout import ENDPOINT_COLUMNS, VULN_COLUMNS
from scanner.results import VULN_CHECK_TITLES


def _csv_scan(tmp_path: Path, *args: str) -> list[dict[str, str]]:
    out = tmp_path / "scan.csv"
    code = main(["scan", *args, "--format", "csv", "-o", str(out), "--no-db", "--no-system-store", "-q"])
    assert code in (0, 1)
    with out.open(newline="", encoding="utf-8") as fp:
        reader = csv.DictReader(fp)
        assert tuple(reader.fieldnames or ()) == ENDPOINT_COLUMNS
        return list(reader)


@pytest.fixture
def smtp(lab_cert: IssuedCert) -> Iterator[Any]:
    started: list[FakeSMTPServer] = []

    def start(mode: str) -> FakeSMTPServer:
        server = FakeSMTPServer(cert=lab_cert, mode=mode)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_every_vuln_check_has_its_column() -> None:
    assert VULN_COLUMNS == (*(f"vuln_{c}" for c in VULN_CHECK_TITLES), "vuln_insecure_renegotiation")
    assert set(VULN_COLUMNS) <= set(ENDPOINT_COLUMNS)
    # Appended after the columns scripts already read by position.
    assert ENDPOINT_COLUMNS.index("top_finding") < ENDPOINT_COLUMNS.index("starttls")


def test_vuln_verdicts_of_a_heartbleed_server(tmp_path: Path, lab_cert: IssuedCert) -> None:
    server = RawServer(legacy_rsa_server(lab_cert, heartbleed=True)).start()
    try:
        [row] = _csv_scan(tmp_path, f"127.0.0.1:{server.address[1]}", "--probes", "protocols,suites,vulns")
    finally:
        server.stop()
    assert row["outcome"] == "ok" and row["starttls"] == row["starttls_outcome"] == ""
    assert {c: row[c] for c in VULN_COLUMNS} == {
        "vuln_heartbleed": "vulnerable",
        "vuln_crime": "not_vulnerable",
        "vuln_ccs_injection": "not_vulnerable",
        "vuln_robot": "not_vulnerable",
        # RSA key exchange only: the check needs an ECDHE AES-GCM handshake, so not run.
        "vuln_client_renegotiation": "not_tested",
        "vuln_ticketbleed": "not_tested",
        "vuln_zero_rtt": "not_applicable",  # TLS 1.2 only
        # The lab answers renegotiation_info (RFC 5746 section 3.6, vulnerable.py).
        "vuln_insecure_renegotiation": "not_vulnerable",
    }


def test_no_vuln_verdict_when_the_family_did_not_run(tmp_path: Path, openssl_server: Any) -> None:
    server = openssl_server()
    [row] = _csv_scan(tmp_path, f"127.0.0.1:{server.port}", "--probes", "protocols,behaviours")
    assert {c: row[c] for c in VULN_COLUMNS[:-1]} == dict.fromkeys(VULN_COLUMNS[:-1], "")
    # OpenSSL answers renegotiation_info (RFC 5746): secure renegotiation.
    assert row["vuln_insecure_renegotiation"] == "not_vulnerable"


def test_starttls_columns(tmp_path: Path, smtp: Any) -> None:
    ok, refused = smtp("ok"), smtp("no-starttls")
    rows = _csv_scan(
        tmp_path, f"127.0.0.1:{ok.port}", f"127.0.0.1:{refused.port}", "--starttls", "smtp", "--probes", "protocols"
    )
    by_port = {int(r["port"]): r for r in rows}
    good, bad = by_port[ok.port], by_port[refused.port]
    assert (good["starttls"], good["starttls_outcome"], good["starttls_reply"]) == ("smtp", "ok", "")
    assert good["highest_protocol"] == "TLSv1.3"
    assert (bad["starttls"], bad["starttls_outcome"]) == ("smtp", "starttls_not_offered")
    # The server's words: its EHLO answer, without STARTTLS.
    assert "250" in bad["starttls_reply"] and "AUTH PLAIN LOGIN" in bad["starttls_reply"]
    assert bad["highest_protocol"] == ""


def test_starttls_reply_is_empty_when_the_dialogue_ended_ok(tmp_path: Path, smtp: Any) -> None:
    # The throttling front end turns the second and third connections away with 421, then
    # lets every one in: the scan backs off, retries, and the dialogue ends ok. The reply
    # column holds the server's words only when it did not agree (docs/cli.md); the JSON
    # keeps the 421 as evidence.
    server = smtp("throttle")
    [row] = _csv_scan(tmp_path, f"127.0.0.1:{server.port}", "--starttls", "smtp", "--probes", "protocols")
    assert (row["starttls"], row["starttls_outcome"], row["starttls_reply"]) == ("smtp", "ok", "")
    assert row["highest_protocol"] == "TLSv1.3"
    again = smtp("throttle")  # a fresh one: the first lets every connection in by now
    out = tmp_path / "scan.json"
    assert main(["scan", f"127.0.0.1:{again.port}", "--starttls", "smtp", "--probes", "protocols",
                 "--format", "json", "-o", str(out), "--no-db", "--no-system-store", "-q"]) in (0, 1)
    import json

    [endpoint] = json.loads(out.read_text())["endpoints"]
    assert endpoint["starttls"]["outcome"] == "ok" and endpoint["starttls"]["throttled"] >= 1
    assert endpoint["starttls"]["reply"].startswith("421 ")


def test_docs_name_every_column() -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "cli.md"
    text = docs.read_text(encoding="utf-8")
    section = text[text.index("### CSV columns") : text.index("## `tlscompat explain`")]
    missing = [c for c in ENDPOINT_COLUMNS if f"`{c}`" not in section]
    assert not missing, f"docs/cli.md, CSV columns, does not name {missing}"


def test_suite_counts_only_when_the_suites_were_enumerated(tmp_path: Path, openssl_server: Any) -> None:
    # Four TLS 1.2 suites, none weak: the truth is the server's -cipher list, as `openssl
    # ciphers` expands it. --quick and --probes without suites negotiate one or two of
    # them, which is not how many the server accepts: the columns stay empty, as the
    # vuln_* columns do when their probes did not run. A refused port spoke no TLS.
    import socket
    import subprocess

    ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA:AES256-SHA"
    listed = subprocess.run(
        ["openssl", "ciphers", "-tls1_2", "-s", ciphers], capture_output=True, text=True, check=True
    ).stdout.strip().split(":")
    assert len(listed) == 4
    server = openssl_server(min_version=0x0303, max_version=0x0303, cipher=ciphers)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    targets = (f"127.0.0.1:{server.port}", f"127.0.0.1:{closed}")
    for args in (("--quick",), ("--probes", "protocols,vulns")):
        by_port = {int(r["port"]): r for r in _csv_scan(tmp_path, *targets, *args)}
        assert by_port[server.port]["highest_protocol"] == "TLSv1.2"
        assert (by_port[server.port]["suites"], by_port[server.port]["weak_suites"]) == ("", ""), args
        assert by_port[closed]["outcome"] == "refused"
        assert (by_port[closed]["suites"], by_port[closed]["weak_suites"]) == ("", "")
    by_port = {int(r["port"]): r for r in _csv_scan(tmp_path, *targets, "--probes", "protocols,suites")}
    assert (by_port[server.port]["suites"], by_port[server.port]["weak_suites"]) == ("4", "0")
    assert (by_port[closed]["suites"], by_port[closed]["weak_suites"]) == ("", "")
