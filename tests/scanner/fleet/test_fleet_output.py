# Streaming writers produce exactly what the report layer produces for the whole list;
# the summary renders like render_summary without keeping results; resume reads back a
# file a killed scan left behind.
from __future__ import annotations

import io
import json
import pickle

import pytest
import trio

from handshakes import constants as c
from scanner.api import scan_target
from scanner.fleet.output import (
    CsvWriter,
    FleetSummary,
    JsonlWriter,
    JsonWriter,
    Progress,
    ResumeError,
    json_line,
    line_keys,
    load_resume,
    target_key,
)
from scanner.options import ScanOptions, Target
from scanner.report.csvout import write_csv
from scanner.report.jsonout import jsonl_line, write_json
from scanner.report.table import render_summary
from scanner.results import EndpointResult, Finding, ProtocolResult, Stats, endpoint_json


def finding(fid: str, severity: str) -> Finding:
    return Finding(id=fid, severity=severity, title=fid, evidence="e", cause="c", resolution="r")


def result(host: str, port: int, *, outcome: str = "ok", versions=(), findings=(), seconds=0.1, conns=3) -> EndpointResult:
    return EndpointResult(
        host=host, port=port, ip="127.0.0.1", sni=host, outcome=outcome,
        protocols=tuple(ProtocolResult(version=v, supported=True, outcome="accepted") for v in versions),
        findings=tuple(findings), stats=Stats(connections=conns, duration_s=seconds),
    )


SAMPLES = [
    result("a.example", 443, versions=(c.TLS13, c.TLS12), findings=[finding("cert.expired", "high"), finding("x.info", "info")], seconds=0.5),
    result("b.example", 8443, versions=(c.TLS12,), findings=[finding("cert.expired", "high")], seconds=2.0),
    result("c.example", 443, outcome="refused", findings=[finding("port.closed", "critical")], seconds=0.0),
    result("d.example", 443, versions=(0x7F1C,), seconds=0.5),
    result("e.example", 443, outcome="timeout", seconds=10.0),
    result("f.example", 443, versions=(c.TLS10,), seconds=1.0),
    result("g.example", 443, versions=(c.TLS13,), seconds=0.25),
]


def stream(writer_cls, results, **kw) -> str:
    fp = io.StringIO(newline="")
    writer = writer_cls(fp, **kw)
    for r in results:
        data = endpoint_json(r)
        writer.write(r, data, json_line(data))
    writer.close()
    return fp.getvalue()


def test_jsonl_lines_are_the_report_layers():
    text = stream(JsonlWriter, SAMPLES)
    assert text.splitlines() == [jsonl_line(r) for r in SAMPLES]


@pytest.mark.parametrize("count", [0, 1, 3])
def test_streamed_json_document_is_write_json_byte_for_byte(count):
    expected = io.StringIO()
    write_json(SAMPLES[:count], expected)
    assert stream(JsonWriter, SAMPLES[:count]) == expected.getvalue()


@pytest.mark.parametrize("findings", [False, True])
@pytest.mark.parametrize("count", [0, 1, 4])
def test_streamed_csv_is_write_csv(findings, count):
    expected = io.StringIO(newline="")
    write_csv(SAMPLES[:count], expected, findings=findings)
    assert stream(CsvWriter, SAMPLES[:count], findings=findings) == expected.getvalue()


@pytest.mark.parametrize("count", [0, 1, 2, len(SAMPLES)])
def test_summary_renders_like_render_summary(count):
    summary = FleetSummary()
    for r in SAMPLES[:count]:
        summary.add(endpoint_json(r))
    assert summary.render() == render_summary(SAMPLES[:count])
    assert summary.render(color=True) == render_summary(SAMPLES[:count], color=True)


def test_summary_fail_on_thresholds():
    summary = FleetSummary()
    for r in SAMPLES[:2]:
        summary.add(endpoint_json(r))
    assert not summary.fails(None)
    assert summary.fails("high") and summary.fails("low")
    assert not summary.fails("critical")


async def test_a_real_result_round_trips_through_every_writer_and_pickle(openssl_server):
    server = openssl_server()
    (real,) = await scan_target(Target(host="127.0.0.1", port=server.port, ip="127.0.0.1"), ScanOptions())
    assert real.outcome == "ok" and real.certificates
    # Worker processes send results pickled: what arrives is what was sent.
    assert endpoint_json(pickle.loads(pickle.dumps(real))) == endpoint_json(real)
    assert stream(JsonlWriter, [real]) == jsonl_line(real) + "\n"
    expected = io.StringIO()
    write_json([real], expected)
    assert json.loads(stream(JsonWriter, [real])) == json.loads(expected.getvalue())


def test_resume_reads_keys_and_cuts_a_torn_last_line(tmp_path):
    path = tmp_path / "scan.jsonl"
    lines = [jsonl_line(r) for r in SAMPLES[:3]]
    path.write_text("\n".join(lines) + "\n" + lines[1][: len(lines[1]) // 2], encoding="utf-8")
    seen: list[dict] = []
    done, count = load_resume(str(path), seen.append)
    assert count == 3 and [d["host"] for d in seen] == ["a.example", "b.example", "c.example"]
    assert path.read_text(encoding="utf-8") == "\n".join(lines) + "\n"
    assert target_key(Target(host="b.example", port=8443)) in done
    assert target_key(Target(host="b.example", port=8443, ip="127.0.0.1")) in done
    assert target_key(Target(host="b.example", port=8443, ip="127.0.0.2")) not in done
    assert target_key(Target(host="b.example", port=443)) not in done
    assert line_keys(endpoint_json(SAMPLES[0]))[0] in done


def test_resume_of_a_line_cut_right_before_its_newline(tmp_path):
    path = tmp_path / "scan.jsonl"
    one, two = jsonl_line(SAMPLES[0]), jsonl_line(SAMPLES[1])
    path.write_text(one + "\n" + two, encoding="utf-8")  # complete JSON, no newline yet
    _, count = load_resume(str(path), lambda d: None)
    assert count == 1 and path.read_text(encoding="utf-8") == one + "\n"


def test_resume_refuses_a_file_that_is_not_jsonl(tmp_path):
    path = tmp_path / "scan.jsonl"
    path.write_text(jsonl_line(SAMPLES[0]) + "\nnot json\n" + jsonl_line(SAMPLES[1]) + "\n", encoding="utf-8")
    with pytest.raises(ResumeError, match=r"scan.jsonl:2: not an endpoint line"):
        load_resume(str(path), lambda d: None)
    assert load_resume(str(tmp_path / "absent.jsonl"), lambda d: None) == (set(), 0)


def test_progress_line():
    fp = io.StringIO()
    progress = Progress(fp, 100, already=10)
    progress.started -= 10.0
    progress.done = 30  # 20 new in 10 s: 2/s, 70 left: 35 s
    assert progress.line(progress.started + 10.0) == "[########....................] 30/100 endpoints  2.0/s  ETA 35s"
    progress.draw()
    progress.finish()
    assert fp.getvalue().startswith("\r[") and fp.getvalue().endswith("\n")


async def test_nothing_here_is_async():
    await trio.lowlevel.checkpoint()
