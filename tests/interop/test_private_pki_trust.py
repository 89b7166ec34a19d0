# "Trusted" means what real clients do (issue 14, section 1). A private PKI made with the
# openssl command line (a root, and a leaf without AuthorityKeyIdentifier), and a
# self-signed certificate trusted directly, served by openssl s_server: the truth comes
# from `openssl s_client -CAfile` (and `openssl verify`), which accept both. tlscompat
# must call them trusted under RFC 5280 path validation, name the WebPKI rule apart as a
# low finding, and never show a Python repr.
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from scanner.api import scan_endpoint
from scanner.lab.servers import OpenSSLServerConfig
from scanner.options import SEVERITIES, ScanOptions, Target
from scanner.report.table import render_endpoint
from scanner.results import endpoint_json

LEAF_EXT = """[v3]
subjectAltName=DNS:localhost
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=none
authorityKeyIdentifier=none
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("private-pki")
    (d / "leaf.ext").write_text(LEAF_EXT)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-subj", "/CN=Private Root", "-days", "3650", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
             "-subj", "/CN=localhost", cwd=d)
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "leaf.pem", "-days", "365", "-extfile", "leaf.ext", "-extensions", "v3", cwd=d)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key", "-out", "self.pem",
             "-subj", "/CN=localhost", "-days", "365", "-addext", "subjectAltName=DNS:localhost", cwd=d)
    text = subprocess.run(["openssl", "x509", "-in", str(d / "leaf.pem"), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert "Authority Key Identifier" not in text
    return d


def _s_client_verifies(port: int, ca: Path) -> bool:
    out = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
         "-CAfile", str(ca), "-verify_return_error", "-verify_hostname", "localhost"],
        input="", capture_output=True, text=True, timeout=30,
    )
    return "Verify return code: 0 (ok)" in out.stdout


@pytest.mark.parametrize(("cert", "ca"), [("leaf", "ca"), ("self", "self")], ids=["private-root-no-aki", "self-signed-trusted"])
async def test_private_pki_is_trusted_as_openssl_says(pki: Path, openssl_server, cert: str, ca: str) -> None:
    server = openssl_server(OpenSSLServerConfig(cert=pki / f"{cert}.pem", key=pki / f"{cert}.key"))
    ca_file = pki / f"{ca}.pem"
    assert _s_client_verifies(server.port, ca_file)  # the truth, from another client
    options = ScanOptions(ca_file=str(ca_file), use_system_store=False, probes=frozenset({"protocols", "certificates"}))
    result = await scan_endpoint(Target(host="localhost", port=server.port, ip="127.0.0.1"), options)
    (chain, *_) = result.certificates
    v = chain.validation
    assert v is not None and v.trusted and v.profile == "rfc5280"
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    assert [f.id for f in result.findings if rank[f.severity] <= rank["medium"]] == []
    text = render_endpoint(result, verbose=True)
    assert "RFC 5280 path validation" in text
    assert "<Certificate" not in text and "<Name" not in text
    assert "<Certificate" not in str(endpoint_json(result))
    if cert == "leaf":
        assert any("AuthorityKeyIdentifier (RFC 5280 4.2.1.1" in r for r in v.webpki_rules)
        assert "cert.webpki_deviation" in {f.id for f in result.findings}


async def test_a_leaf_of_another_root_is_still_untrusted(pki: Path, openssl_server) -> None:
    server = openssl_server(OpenSSLServerConfig(cert=pki / "leaf.pem", key=pki / "leaf.key"))
    options = ScanOptions(ca_file=str(pki / "self.pem"), use_system_store=False, probes=frozenset({"protocols", "certificates"}))
    assert not _s_client_verifies(server.port, pki / "self.pem")
    result = await scan_endpoint(Target(host="localhost", port=server.port, ip="127.0.0.1"), options)
    v = result.certificates[0].validation
    assert v is not None and not v.trusted and v.profile is None
    assert "cert.incomplete_chain" in {f.id for f in result.findings}  # its issuer is neither sent nor trusted
