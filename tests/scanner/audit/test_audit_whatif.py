# The what-if against real servers: which clients a policy loses, checked against the
# profiles' own version lists and against the server actually reconfigured; the client
# policy against a small fleet; reading saved scans back.
from __future__ import annotations

import json
from pathlib import Path

import pytest

from handshakes import constants as c
from scanner.api import scan_endpoint
from scanner.audit.live import simulate_live_many
from scanner.audit.policy import load_client_policy, load_server_policy
from scanner.audit.report import audit_json, render_audit
from scanner.audit.whatif import ScanFileError, classify, load_scan, what_if
from scanner.options import Deadlines
from scanner.profiles import load_builtin_profiles
from scanner.report.jsonout import write_json, write_jsonl
from scanner.simulate import Simulation

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "policies"
DEADLINES = Deadlines(connect=3.0, read=3.0, endpoint=60.0)
PROFILES = load_builtin_profiles()


def sim(ok: bool, version: int | None = None, suite: int | None = None) -> Simulation:
    return Simulation(
        profile_id="x", ok=ok, version=version, suite=suite, group=None,
        reason="" if ok else "r", reason_code="" if ok else "no_common_version",
    )


def test_classify() -> None:
    assert classify(sim(True, c.TLS10, 1), sim(False)) == "lost"
    assert classify(sim(False), sim(True, c.TLS12, 1)) == "gained"
    assert classify(sim(True, c.TLS12, 1), sim(True, c.TLS12, 2)) == "changed"
    assert classify(sim(True, c.TLS12, 1), sim(True, c.TLS13, 1)) == "changed"
    assert classify(sim(True, c.TLS12, 1), sim(True, c.TLS12, 1)) == "unchanged"
    assert classify(sim(False), sim(False)) == "unchanged"


async def test_disabling_tls10_and_11_loses_exactly_the_old_clients(lab, scan_options) -> None:
    _, target = lab("legacy")
    result = await scan_endpoint(target, scan_options)
    policy = load_server_policy(EXAMPLES / "no-legacy-tls.yaml")
    report = what_if([result], policy, PROFILES)
    (endpoint,) = report.endpoints
    lost = {ch.profile_id for ch in endpoint.by_change("lost")}

    # Independently: the profiles that connect today (their real hello, sent now) and whose
    # highest version is below TLS 1.2.
    today = await simulate_live_many(target, PROFILES, deadlines=DEADLINES)
    expected = {
        p.id for p, live in zip(PROFILES, today, strict=True) if live.ok and max(p.versions) < c.TLS12
    }
    assert expected and lost == expected
    for ch in endpoint.by_change("lost"):
        assert ch.after.reason_code == "no_common_version"
        assert ch.after.reason.endswith("server: TLSv1.2)")
    assert not endpoint.by_change("gained")
    # Clients that speak TLS 1.2 keep what they negotiate: nothing but the versions changed.
    assert not endpoint.by_change("changed")

    # And against reality: the same server with TLS 1.0 and 1.1 switched off.
    _, after_target = lab("legacy_tls12")
    after = await simulate_live_many(after_target, PROFILES, deadlines=DEADLINES)
    really_lost = {p.id for p, b, a in zip(PROFILES, today, after, strict=True) if b.ok and not a.ok}
    assert really_lost == lost
    for ch, live in zip(endpoint.changes, after, strict=True):
        assert ch.after.ok == live.ok, ch.profile_id
        if live.ok:
            assert (ch.after.version, ch.after.suite) == (live.version, live.suite), ch.profile_id

    # The report says it in words and in JSON.
    text = render_audit(report)
    assert f"After the change: {len(lost)} lost, 0 changed, 0 gained" in text
    assert "java_6u45" in text and "no common protocol version" in text
    data = audit_json(report)
    assert data["policy"]["name"] == "no-legacy-tls"
    assert data["endpoints"][0]["summary"]["lost"] == len(lost)
    assert {ch["profile"] for ch in data["endpoints"][0]["changes"] if ch["change"] == "lost"} == lost
    json.dumps(data)


async def test_client_policy_against_a_small_fleet(lab, scan_options) -> None:
    fleet = []
    for name in ("modern", "tls10", "cbc12"):
        _, target = lab(name)
        fleet.append(await scan_endpoint(target, scan_options))
    policy = load_client_policy(EXAMPLES / "java8-aead.yaml")
    report = what_if(fleet, None, PROFILES, client_policy=policy)
    modern, tls10, cbc12 = (e.client for e in report.endpoints)
    assert modern is not None and tls10 is not None and cbc12 is not None
    # Java 8u161 reaches all three today.
    assert modern.before.ok and tls10.before.ok and cbc12.before.ok
    # With TLS 1.2 and AEAD + forward secrecy only: the modern server still works ...
    assert modern.after.ok and modern.after.version == c.TLS12 and modern.change == "unchanged"
    # ... the TLS 1.0 server does not speak TLS 1.2 ...
    assert (tls10.change, tls10.after.reason_code) == ("lost", "no_common_version")
    assert tls10.after.reason == "no common protocol version (client: TLSv1.2, server: TLSv1.0)"
    # ... and the CBC-only TLS 1.2 server has no suite left in common.
    assert (cbc12.change, cbc12.after.reason_code, cbc12.after.version) == ("lost", "no_common_suite", c.TLS12)
    assert cbc12.after.reason.startswith("no common cipher suite in TLSv1.2 (server offers no AEAD suites")
    text = render_audit(report)
    assert "would fail to reach 2 endpoints the base client reaches" in text


async def test_saved_scans_read_back_to_the_same_audit(lab, scan_options, tmp_path: Path) -> None:
    _, target = lab("legacy")
    result = await scan_endpoint(target, scan_options)
    policy = load_server_policy(EXAMPLES / "no-legacy-tls.yaml")
    direct = audit_json(what_if([result], policy, PROFILES))
    for name, writer in (("scan.json", write_json), ("scan.jsonl", write_jsonl)):
        path = tmp_path / name
        with path.open("w") as fp:
            writer([result], fp)
        (back,) = load_scan(path)
        assert audit_json(what_if([back], policy, PROFILES)) == direct, name


def test_bad_scan_files_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"host": "a", "port": 443, "outcome": "ok"}\nnot json\n')
    with pytest.raises(ScanFileError, match=r"bad\.jsonl: line 2: not JSON"):
        load_scan(bad)
    other = tmp_path / "other.json"
    other.write_text('{"endpoints": [{"name": "x"}]}')
    with pytest.raises(ScanFileError, match=r"other\.json: endpoint 1: not an endpoint"):
        load_scan(other)
    with pytest.raises(ScanFileError, match="cannot read"):
        load_scan(tmp_path / "missing.json")
