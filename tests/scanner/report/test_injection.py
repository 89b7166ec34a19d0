# Terminal and report injection (issue 12, section 6): a certificate whose subject holds a
# clear-screen sequence, an OSC window-title sequence, BEL and CR LF followed by a fake
# "Subject" line, served by a real openssl s_server. Every human renderer (table, demo
# listing, Markdown, HTML, CSV) shows it as visible escapes; JSON keeps the exact value.
from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scanner.api import scan_endpoint
from scanner.compare import select_profiles
from scanner.lab.run import findings_listing
from scanner.lab.servers import OpenSSLServerConfig
from scanner.options import ScanOptions, Target
from scanner.report.csvout import write_csv
from scanner.report.html import render_scan_html
from scanner.report.markdown import render_scan_markdown
from scanner.report.printable import csv_cell, printable, printable_line, printable_text
from scanner.report.table import render_endpoint
from scanner.results import endpoint_json

HOSTILE = "evil\x1b[2J\x1b]0;pwned\x07\r\n    Subject     CN=fake.example\u202e"
DANGEROUS = ("\x1b[2J", "\x1b]", "\x07", "\r", "\u202e")


@pytest.fixture(scope="module")
def hostile_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("hostile")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, HOSTILE),
    ])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (d / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return d / "c.pem", d / "k.pem"


async def test_a_hostile_subject_reaches_no_renderer_raw(hostile_cert, openssl_server) -> None:
    cert, key = hostile_cert
    server = openssl_server(OpenSSLServerConfig(cert=cert, key=key))
    options = ScanOptions(use_system_store=False, ca_file=str(cert), probes=frozenset({"protocols", "certificates"}))
    result = await scan_endpoint(Target(host="localhost", port=server.port, ip="127.0.0.1"), options)
    data = endpoint_json(result)
    # JSON keeps the exact value the server sent (as an RFC 4514 string: ';' is escaped).
    subject = data["certificates"][0]["certificates"][0]["subject"]
    assert all(bad in subject for bad in DANGEROUS)

    buffer = io.StringIO()
    write_csv([result], buffer)
    outputs = {
        "table": render_endpoint(result, verbose=True),
        "demo": findings_listing(result),
        "markdown": render_scan_markdown([data], profiles=select_profiles("default")),
        "html": render_scan_html([data], profiles=select_profiles("default")),
        "csv": buffer.getvalue().replace("\r\n", "\n"),  # the csv module's own row ends
    }
    for where, text in outputs.items():
        for bad in DANGEROUS:
            assert bad not in text, (where, bad)
        assert not any(line.lstrip().startswith("Subject     CN=fake") for line in text.splitlines()), where
    assert "\\x1b[2J" in outputs["table"]  # shown, visibly
    # A CR LF is shown the same way everywhere: both escaped, not a space for the LF.
    assert "\\x0d\\x0a" in outputs["table"] and "\\x0d\\x0a" in outputs["csv"]
    assert "\\x0d\\x0a" in outputs["html"] and "\\x0d " not in outputs["html"]
    assert "\\\\x0d\\\\x0a" in outputs["markdown"] and "\\x0d " not in outputs["markdown"]
    rows = list(csv.reader(io.StringIO(outputs["csv"])))
    assert len(rows) == 2  # a header and one endpoint: no row broken by the CR LF


def test_the_sanitizer() -> None:
    assert printable("a\x1b[2Jb\n") == "a\\x1b[2Jb\\x0a"
    assert printable("bücher.example") == "bücher.example"
    # One line of a document: our own LFs become spaces, a server's CR LF is escaped.
    assert printable_line("first\nsecond: a\r\nb\rc") == "first second: a\\x0d\\x0ab\\x0dc"
    assert printable_text("\x1b[31mhigh\x1b[0m\n\x1b]0;t\x07") == "\x1b[31mhigh\x1b[0m\n\\x1b]0;t\\x07"
    for formula in ("=1+2", "+cmd|x", "-2+3", "@SUM(A1)"):
        assert str(csv_cell(formula)).startswith("'")
    assert csv_cell(443) == 443 and csv_cell("CN=x") == "CN=x" and csv_cell("-31") == "-31"
