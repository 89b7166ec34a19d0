# Every lab scenario, started and scanned: the scanner must report exactly the finding ids
# the scenario expects above severity info (and the info ids it names). One lab runs for
# the whole module (one Pki, every server started once, concurrently); each test scans its
# scenario with the scenario's own ScanOptions (generous deadlines for a loaded 2-core CI).
from __future__ import annotations

import argparse
import io
import re
import socket
from collections.abc import Iterator

import pytest
import trio

from scanner.api import scan_endpoint
from scanner.exits import UsageError
from scanner.lab.run import Lab, RunningScenario, check, lab_in_thread, reported_ids, run_demo
from scanner.lab.scenarios import SCENARIOS, by_name, select
from scanner.options import SEVERITIES
from scanner.results import EndpointResult, Finding


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_in_thread(directory=tmp_path_factory.mktemp("lab")) as running:
        yield running


def _params() -> list[object]:
    params: list[object] = []
    for s in SCENARIOS:
        params.append(pytest.param(s.name, id=s.name))
    return params


async def _scan(running: RunningScenario) -> EndpointResult:
    # The scan's own deadlines are the lab's (connect 5 s, read 5 s, endpoint 60 s); this
    # outer bound only turns a hang into a failure.
    with trio.fail_after(90):
        return await scan_endpoint(running.target, running.options)


@pytest.mark.parametrize("name", _params())
async def test_scenario_is_diagnosed(lab: Lab, name: str) -> None:
    running = lab[name]
    result = await _scan(running)
    found = reported_ids(result.findings)
    every = reported_ids(result.findings, above_info=False)
    details = "; ".join(f"{f.severity} {f.id}: {f.evidence}" for f in result.findings)
    assert found == running.scenario.expected, details
    assert running.scenario.expected_info <= every, details


async def test_healthy_server_has_nothing_above_low(lab: Lab) -> None:
    result = await _scan(lab["healthy"])
    assert result.outcome == "ok"
    serious = [f for f in result.findings if SEVERITIES.index(f.severity) < SEVERITIES.index("low")]
    assert serious == []
    # It really is healthy: TLS 1.3 and 1.2, a chain the lab root validates.
    assert set(result.supported_versions()) == {0x0304, 0x0303}
    assert result.certificates and result.certificates[0].validation is not None


async def test_tls10_only_is_fine_for_a_tls10_client_only_by_version(lab: Lab) -> None:
    # The seed 001 scenario 5 mismatch comes from the client's versions: with the scanner's
    # default client (TLS 1.2/1.3) the server is still unusable, with TLS 1.0 it is not.
    from dataclasses import replace

    running = lab["tls10-only"]
    tls10 = replace(running, options=replace(running.options, client_versions=(0x0301,)))
    result = await _scan(tls10)
    assert "protocol.no_common_version" not in reported_ids(result.findings)
    assert "protocol.deprecated" in reported_ids(result.findings)


def test_catalogue_is_well_formed() -> None:
    from scanner.diagnose.catalogue import CATALOGUE

    known = set(CATALOGUE)
    try:
        from scanner.diagnose.client_certs import FINDING_IDS
    except ImportError:  # pragma: no cover
        FINDING_IDS = ()
    known.update(FINDING_IDS)
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names))
    for s in SCENARIOS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", s.name), s.name
        assert s.title and s.reproduces
        assert (s.expected | s.expected_info) <= known, s.name
        assert by_name(s.name) is s
    with pytest.raises(KeyError, match="unknown lab scenario"):
        select("healthy,no-such-thing")
    assert [s.name for s in select("expired, healthy")] == ["healthy", "expired"]


def test_check_reports_missing_and_unexpected(lab: Lab) -> None:
    running = lab["expired"]

    def finding(id_: str, severity: str) -> Finding:
        return Finding(id=id_, severity=severity, title="", evidence="", cause="", resolution="")

    result = EndpointResult(
        host="localhost", port=1, ip="127.0.0.1", sni="localhost", outcome="ok",
        findings=(finding("cert.weak_key", "high"), finding("tls.no_ems", "info")),
    )
    verdict = check(running, result)
    assert not verdict.ok
    assert verdict.missing == {"cert.expired"}
    assert verdict.unexpected == {"cert.weak_key"}


async def test_lab_stops_its_servers(tmp_path_factory: pytest.TempPathFactory) -> None:
    async with Lab(["healthy", "port-taken-http"], directory=tmp_path_factory.mktemp("l")) as lab:
        ports = [r.target.port for r in lab]
        for port in ports:
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
    for port in ports:
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
            pass


async def test_lab_scenario_fixture(lab_scenario) -> None:  # type: ignore[no-untyped-def]
    running = lab_scenario("hostname-mismatch")
    result = await _scan(running)
    assert reported_ids(result.findings) == {"cert.hostname_mismatch"}


def test_run_demo_subset_matches() -> None:
    out = io.StringIO()
    args = argparse.Namespace(only="healthy,expired,port-taken-http", verbose=False)
    assert run_demo(args, out=out) == 0
    text = out.getvalue()
    assert "3 of 3 scenarios matched" in text
    assert "[critical] cert.expired" in text and "fix:" in text


def test_run_demo_rejects_an_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match="unknown lab scenario 'nope'"):
        run_demo(argparse.Namespace(only="nope", verbose=False))


def test_run_demo_summary_fits_a_terminal_and_not_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    # The summary table was 109 characters wide on an 80-column terminal (its cells cut
    # at 36 whatever the width), and wrapped even into a pipe. Now: within the terminal, finding ids whole; a pipe unwrapped.
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def summary(text: str) -> list[str]:
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("scenario "))
        end = next(i for i in range(start, len(lines)) if not lines[i].strip())
        return lines[start:end]

    def words(lines: list[str]) -> set[str]:
        return {w for line in lines for w in line.split() if w.strip("-")}

    # 90 columns: with ids whole ("protocol.no_common_version," is 27), 83 is the least.
    monkeypatch.setenv("COLUMNS", "90")
    args = argparse.Namespace(only="ssl3-only,tls10-only", verbose=False, color="never")
    piped, terminal = io.StringIO(), Terminal()
    assert run_demo(args, out=piped) == 0
    assert run_demo(args, out=terminal) == 0
    table, flat = summary(terminal.getvalue()), summary(piped.getvalue())
    assert max(len(line) for line in flat) > 90  # one row per line into a pipe
    assert len(flat) == 4  # header, rule, two scenarios
    assert max(len(line) for line in table) <= 90, table
    assert words(table) == words(flat)  # wrapped between finding ids, none split
