# tlscompat diff: two scans of a real `openssl s_server`, before and after its configuration
# changes in the test (TLS 1.0-1.2, then TLS 1.2-1.3 on a new port with the same
# certificate), read back from JSON and JSON Lines and compared. The clients that must lose
# connectivity are worked out here from the profile data alone, not by scanner.simulate.
# Then the loaders' errors and the matching rules, on JSON built by hand. Loopback only.
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from handshakes import registry as reg
from handshakes.constants import TLS10, TLS11, TLS12, TLS13
from scanner import compare
from scanner.api import scan_endpoint
from scanner.options import ScanOptions, Target
from scanner.profiles import load_builtin_profiles
from scanner.report import diff as d
from scanner.report.loading import LoadError, load_scan, load_store
from scanner.results import EndpointResult, document_json, endpoint_json
from scanner.simulate import capabilities_from_result


async def _scan(port: int, ca_path: Path) -> EndpointResult:
    options = ScanOptions(ca_file=str(ca_path), use_system_store=False)
    # The name is what the endpoints are matched by; the address keeps traffic on 127.0.0.1.
    return await scan_endpoint(Target(host="localhost", port=port, ip="127.0.0.1"), options)


@pytest.fixture
async def migration(openssl_server: Any, lab_pki: Any, tmp_path: Path) -> dict[str, Any]:
    """Scan TLS 1.0-1.2, reconfigure to TLS 1.2-1.3 on a new port, scan again. The first
    scan is written as a JSON document, the second as JSON Lines."""
    old = openssl_server(min_version=TLS10, max_version=TLS12, seclevel=0)
    before = await _scan(old.port, lab_pki.ca_path)
    old.stop()
    new = openssl_server(min_version=TLS12)
    after = await _scan(new.port, lab_pki.ca_path)
    assert before.outcome == after.outcome == "ok", (before.detail, after.detail)
    assert old.port != new.port
    before_path = tmp_path / "before.json"
    before_path.write_text(json.dumps(document_json([before]), indent=2), encoding="utf-8")
    after_path = tmp_path / "after.jsonl"
    after_path.write_text(json.dumps(endpoint_json(after)) + "\n", encoding="utf-8")
    return {"before": before, "after": after, "before_path": before_path, "after_path": after_path}


def _suites(result: EndpointResult, version: int) -> set[str]:
    return {reg.cipher_suite_name(s.code) for s in result.cipher_suites if s.version == version}


def _could_connect(profile: Any, result: EndpointResult) -> bool:
    """Independently of scanner.simulate: a version both speak, and a suite both accept
    in the highest such version (what a client's first hello agrees on)."""
    common = set(profile.versions) & set(result.supported_versions())
    if not common:
        return False
    version = max(common)
    return bool(
        set(profile.cipher_suites) & {s.code for s in result.cipher_suites if s.version == version}
    )


async def test_diff_of_a_real_migration(migration: dict[str, Any]) -> None:
    before_result: EndpointResult = migration["before"]
    after_result: EndpointResult = migration["after"]
    before = load_scan(migration["before_path"])
    after = load_scan(migration["after_path"])
    assert len(before.endpoints) == len(after.endpoints) == 1
    assert before.warnings == after.warnings == ()

    # Different ports, so only matching by host name pairs them.
    by_port = compare.diff_scans(before.endpoints, after.endpoints)
    assert [e.status for e in by_port.endpoints] == ["removed", "added"]

    diff = compare.diff_scans(
        before.endpoints,
        after.endpoints,
        match="host",
        before_source=before.source,
        after_source=after.source,
    )
    assert len(diff.endpoints) == 1
    change = diff.endpoints[0]
    assert change.status == "changed"
    assert change.outcome is None

    assert change.protocols_disabled == ("TLSv1.1", "TLSv1.0")
    assert change.protocols_enabled == ("TLSv1.3",)

    suites = {s.version: s for s in change.cipher_suites}
    assert set(suites) == {"TLSv1.3", "TLSv1.1", "TLSv1.0"}  # TLS 1.2's suites are the same
    assert _suites(before_result, TLS12) == _suites(after_result, TLS12)
    assert set(suites["TLSv1.3"].added) == _suites(after_result, TLS13)
    assert "TLS_AES_128_GCM_SHA256" in suites["TLSv1.3"].added
    assert suites["TLSv1.3"].removed == ()
    for version, name in ((TLS10, "TLSv1.0"), (TLS11, "TLSv1.1")):
        assert set(suites[name].removed) == _suites(before_result, version) != set()
        assert suites[name].added == ()

    # The same certificate before and after: nothing to report.
    assert change.certificate == ()
    assert (
        before_result.certificates[0].certificates[0].sha256
        == after_result.certificates[0].certificates[0].sha256
    )

    old_ids = {f.id for f in before_result.findings}
    new_ids = {f.id for f in after_result.findings}
    assert {f.id for f in change.findings_resolved} == old_ids - new_ids
    assert {f.id for f in change.findings_new} == new_ids - old_ids
    assert "protocol.deprecated" in {f.id for f in change.findings_resolved}

    # Clients that spoke only TLS 1.0/1.1 and could connect before must have lost the server.
    expected_lost = {
        p.id
        for p in load_builtin_profiles()
        if _could_connect(p, before_result) and not set(p.versions) & {TLS12, TLS13}
    }
    lost = {c.profile_id for c in change.clients_in("lost")}
    assert lost == expected_lost
    assert {"ie_8_win7", "java_7u25", "openssl_098y", "android_43"} <= lost
    assert all(
        c.after is not None and c.after.reason_code == "no_common_version"
        for c in change.clients_in("lost")
    )
    assert change.clients_in("gained") == ()
    # Clients that speak TLS 1.3 moved to it.
    moved = {c.profile_id for c in change.clients_in("changed")}
    assert "chrome_101_win10" in moved
    chrome = next(c for c in change.clients if c.profile_id == "chrome_101_win10")
    assert chrome.after is not None and chrome.after.version == TLS13

    # The simulations ran on capabilities rebuilt from the JSON: the same as from the result.
    for result, loaded in ((before_result, before), (after_result, after)):
        assert compare.capabilities_from_json(loaded.endpoints[0]) == capabilities_from_result(result)

    text = d.render_diff(diff)
    assert "Protocols disabled: TLSv1.1, TLSv1.0" in text
    assert "Protocols enabled:  TLSv1.3" in text
    assert "Certificate: unchanged" in text
    data = json.loads(json.dumps(d.diff_json(diff)))
    endpoint = data["endpoints"][0]
    assert endpoint["protocols"] == {"enabled": ["TLSv1.3"], "disabled": ["TLSv1.1", "TLSv1.0"]}
    assert endpoint["certificate"] == []
    assert {c["profile"] for c in endpoint["clients"]["lost"]} == expected_lost
    assert data["summary"]["clients_lost"] == len(expected_lost)

    from scanner.report.markdown import render_diff_markdown

    markdown = render_diff_markdown(diff)
    assert "lost: no common version" in markdown
    assert "**Protocols disabled:** TLSv1.1, TLSv1.0" in markdown


async def test_diff_command(
    migration: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import scanner.cli as cli

    out = tmp_path / "diff.json"
    argv = ["diff", str(migration["before_path"]), str(migration["after_path"]), "--match", "host"]
    assert cli.main([*argv, "--format", "json", "-o", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["summary"]["changed"] == 1
    assert cli.main([*argv, "--format", "markdown"]) == 0
    assert "# TLS change report" in capsys.readouterr().out
    assert cli.main(["diff", str(tmp_path / "missing.json"), str(migration["after_path"])]) == 2
    assert "missing.json: no such file" in capsys.readouterr().err


# -- Loading, on files written by hand -------------------------------------------------------


def _endpoint(
    host: str = "a.test", port: int = 443, ip: str | None = "192.0.2.1", **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "host": host,
        "port": port,
        "ip": ip,
        "sni": host,
        "outcome": "ok",
        "detail": "",
        "protocols": [{"version": "TLSv1.2", "supported": True, "outcome": "accepted"}],
        "cipher_suites": [
            {
                "version": "TLSv1.2",
                "code": "0xC02F",
                "name": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "preference": None,
                "group": "x25519",
            }
        ],
        "groups": [],
        "certificates": [],
        "findings": [],
    }
    data.update(extra)
    return data


def test_jsonl_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    lines = [json.dumps(_endpoint("a.test")), json.dumps(_endpoint("b.test"))]
    path.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[1][:40], encoding="utf-8")
    loaded = load_scan(path)
    assert [e["host"] for e in loaded.endpoints] == ["a.test", "b.test"]
    assert len(loaded.warnings) == 1 and f"{path} line 3" in loaded.warnings[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"host": "a", "port": 1}\n{"host": \n{"host": "b", "port": 2}\n',
            "line 2: not valid JSON",
        ),
        ('{"host": "a", "port": 1}\n{"port": 2}\n', "line 2: endpoint has no 'host' field"),
        (
            '{"host": "a", "port": "443"}\n{"host": "b", "port": 2}\n',
            "line 1: field 'port' must be an integer",
        ),
        ('{"schema_version": 2, "endpoints": []}', "schema_version 2 is not supported"),
        ('{"kind": "diff", "summary": {}}', "this is a tlscompat diff, not a scan"),
        ('{\n  "endpoints": [\n    {"host": "a", "port": 1,}\n  ]\n}\n', "line 3: not valid JSON"),
        ("[1, 2]", "not a tlscompat scan"),
        ("", "the file is empty"),
    ],
)
def test_malformed_files_name_the_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "scan.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LoadError) as info:
        load_scan(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def _store(path: Path, scans: list[tuple[str, list[dict[str, Any]]]]) -> None:
    """A fleet store (scanner.fleet.store's schema): one run per (status, endpoints); a
    status of "resumed" makes that run continue the previous run's scan."""
    from scanner.fleet.store import SCHEMA

    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    scan_id = 0
    for n, (status, endpoints) in enumerate(scans, start=1):
        scan_id = scan_id if status == "resumed" else n
        db.execute(
            "INSERT INTO runs (id, scan_id, started, status, command) VALUES (?, ?, ?, ?, ?)",
            (
                n,
                scan_id,
                f"2025-01-0{n}T00:00:00+00:00",
                "completed" if status == "resumed" else status,
                "tlscompat scan",
            ),
        )
        for e in endpoints:
            db.execute(
                "INSERT INTO endpoints (run_id, host, port, outcome, tags, result) VALUES (?, ?, ?, ?, ?, ?)",
                (n, e["host"], e["port"], e["outcome"], "[]", json.dumps(e)),
            )
    db.commit()
    db.close()


def test_store_scans(tmp_path: Path) -> None:
    path = tmp_path / "fleet.sqlite"
    _store(
        path,
        [
            ("completed", [_endpoint("a.test")]),
            ("interrupted", [_endpoint("a.test")]),
            ("resumed", [_endpoint("b.test")]),  # run 3 finishes run 2's scan
            ("completed", [_endpoint("c.test")]),
        ],
    )
    assert [e["host"] for e in load_store(path, "latest").endpoints] == ["c.test"]
    previous = load_store(path, "previous")
    assert [e["host"] for e in previous.endpoints] == ["a.test", "b.test"]
    assert previous.source == f"{path} runs 2, 3 (one resumed scan)"
    assert previous.warnings == (f"{path} run 2 is interrupted: the scan may be incomplete",)
    assert [e["host"] for e in load_store(path, "3").endpoints] == ["a.test", "b.test"]
    assert [e["host"] for e in load_store(path, 1).endpoints] == ["a.test"]
    assert [e["host"] for e in load_scan(path).endpoints] == ["c.test"]  # detected as a store
    with pytest.raises(LoadError, match=r"no run 9 \(runs: 1, 2, 3, 4\)"):
        load_store(path, 9)
    with pytest.raises(LoadError, match="expected a run number"):
        load_store(path, "yesterday")
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(LoadError, match="not a tlscompat fleet store"):
        load_store(other)


# -- Matching --------------------------------------------------------------------------------


def test_matching_and_endpoints_in_one_scan_only() -> None:
    before = [
        _endpoint("a.test", ip="192.0.2.1"),
        _endpoint("a.test", ip="192.0.2.2"),
        _endpoint("gone.test"),
    ]
    moved = _endpoint("a.test", ip="192.0.2.2")
    moved["protocols"] = [
        *moved["protocols"],
        {"version": "TLSv1.0", "supported": True, "outcome": "accepted"},
    ]
    after = [moved, _endpoint("a.test", ip="192.0.2.1"), _endpoint("new.test")]
    diff = compare.diff_scans(before, after, profiles=load_builtin_profiles()[:5])
    by_label = {e.label: e for e in diff.endpoints}
    assert by_label["a.test:443 (192.0.2.2)"].status == "changed"
    assert by_label["a.test:443 (192.0.2.2)"].protocols_enabled == ("TLSv1.0",)
    assert by_label["a.test:443 (192.0.2.1)"].status == "unchanged"
    assert by_label["gone.test:443 (192.0.2.1)"].status == "removed"
    assert by_label["new.test:443 (192.0.2.1)"].status == "added"
    assert [e.status for e in diff.endpoints] == ["changed", "removed", "added", "unchanged"]


def test_select_profiles() -> None:
    everything = load_builtin_profiles()
    default = compare.select_profiles("default")
    assert {p.id for p in default} == {p.id for p in everything if p.current} | set(
        compare.DEFAULT_LEGACY_PROFILES
    )
    assert compare.select_profiles("all") == everything
    assert [p.id for p in compare.select_profiles("java_7u25, chrome_101_win10")] == [
        "chrome_101_win10",
        "java_7u25",
    ]
    with pytest.raises(ValueError, match="did you mean chrome_101_win10"):
        compare.select_profiles("chrome_101_win1")


async def test_diff_fits_80_columns_with_the_endpoint_whole(
    migration: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real 80-column terminal: the summary line and table within it, and the endpoint
    # label (localhost:PORT) whole, not split into "localhost:18" / "443".
    import io
    import sys

    import scanner.cli as cli

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def render(out: io.StringIO) -> str:
        monkeypatch.setattr(sys, "stdout", out)
        argv = ["diff", str(migration["before_path"]), str(migration["after_path"]), "--match", "host",
                "--color", "never"]
        assert cli.main(argv) == 0
        return out.getvalue()

    monkeypatch.setenv("COLUMNS", "80")
    piped, text = render(io.StringIO()), render(Terminal())
    head, summary = text.split("\n\n")[:2]
    assert "Endpoint" in summary
    # (The Before:/After: lines name the files: a path, one word, however long.)
    lines = [line for line in (head + "\n" + summary).splitlines() if not line.startswith(("Before:", "After:"))]
    assert max(len(line) for line in lines) <= 80, text
    label = f"localhost:{migration['after'].port}"
    assert any(line.startswith(label + " ") for line in summary.splitlines()), summary
    # The clients' table below cannot fit 80 columns with suite names whole: it is wider,
    # and no word is split (the same words as unwrapped, rules of dashes aside).
    def words(t: str) -> set[str]:
        return {w for w in t.split() if w.strip("-")}

    assert words(text) == words(piped)
