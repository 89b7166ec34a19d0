# Inputs that cannot be scanned are refused before any packet, by the library as by the
# command line (issue 12, section 5): host names that cannot be DNS names, nan/inf, an
# unknown version or per_endpoint=0 given to the Python API, a CA file with no
# certificate, JSON of the wrong shape or depth.
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import scanner
from scanner.options import Deadlines, ScanOptions
from scanner.report.loading import LoadError, load_scan
from scanner.schema import endpoint_problem
from scanner.targets import TargetError, check_ip, check_sni, host_name_problem, parse_target
from scanner.x509 import TrustStoreError


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a\x00b.example", "control character"),
        ("a..example", "empty label"),
        (".example", "empty label"),
        ("a" * 64 + ".example", "longer than 63"),
        (".".join(["a" * 63] * 4) + ".com", "longer than 253"),
        ("x" * 100_000, "longer than 253"),
        ("\ufeffexample.com", "byte-order mark"),
    ],
)
def test_impossible_host_names_are_refused(name: str, problem: str) -> None:
    assert problem in (host_name_problem(name) or "")
    with pytest.raises(TargetError, match=problem):
        parse_target(name)


@pytest.mark.parametrize("name", ["example.com", "a" * 63 + ".example", "bücher.example", "xn--bcher-kva.example", "localhost"])
def test_possible_host_names_pass(name: str) -> None:
    assert host_name_problem(name) is None
    assert parse_target(name).host == name.lower()


def test_scheme_and_url_errors() -> None:
    assert parse_target("smtps://mail.example").port == 465
    # smtp:// is not port 443: it is SMTP with STARTTLS on port 25 (docs/starttls.md).
    smtp = parse_target("smtp://mail.example")
    assert (smtp.port, smtp.starttls) == (25, "smtp")
    for bad in ("gopher://host", "telnet://host", "https://[::1/"):
        with pytest.raises(TargetError):
            parse_target(bad)


def test_sni_and_ip() -> None:
    assert check_sni("") == ""
    with pytest.raises(TargetError):
        check_sni("a" * 70_000)
    assert check_ip("[::1]") == "::1"
    with pytest.raises(TargetError):
        check_ip("notanip")


@pytest.mark.parametrize("value", [math.nan, math.inf, 0, -1])
def test_deadlines_must_be_finite_and_positive(value: float) -> None:
    with pytest.raises(ValueError, match="read"):
        Deadlines(read=value)


@pytest.mark.parametrize(
    "kw",
    [{"per_endpoint": 0}, {"retries": -1}, {"versions": (0x0399,)}, {"client_versions": ()}, {"probes": frozenset({"nope"})}],
)
def test_python_api_options_are_checked(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ScanOptions(**kw)  # type: ignore[arg-type]


def test_api_refuses_a_ca_file_without_certificate(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("nothing here\n")
    with pytest.raises(TrustStoreError, match="no certificate"):
        scanner.scan("127.0.0.1:1", ScanOptions(ca_file=str(empty)))


def test_loaders_check_types_against_the_schema(tmp_path: Path) -> None:
    assert endpoint_problem({"host": "a", "port": 1}) is None
    assert "port" in (endpoint_problem({"host": "a", "port": "1"}) or "")
    assert "findings" in (endpoint_problem({"host": "a", "port": 1, "findings": [{"id": 3}]}) or "")
    path = tmp_path / "scan.jsonl"
    path.write_text(json.dumps({"host": "a", "port": 1, "protocols": [{"version": 7}]}) + "\n")
    with pytest.raises(LoadError, match=r"line 1: field protocols\[0\]"):
        load_scan(path)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(LoadError, match="nested too deeply"):
        load_scan(deep)
