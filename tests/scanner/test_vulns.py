"""The vulns probe family (issue 18) against the lab's vulnerable servers, and its verdicts.

Positive cases come from scanner/lab/vulnerable.py, which behaves like the vulnerable
implementations (patched Debian packages cannot): a Heartbleed echo, an early-CCS acceptor,
ROBOT oracles built on the lab certificate's RSA private key. The same server without its
flaws is the patched baseline, and the whole family must stay within 15 connections.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from cryptography.hazmat.primitives.asymmetric import rsa

from handshakes import constants as c
from scanner.api import scan_endpoint
from scanner.lab.certs import IssuedCert
from scanner.lab.servers import RawServer
from scanner.lab.vulnerable import _pkcs1_conforming, legacy_rsa_server, ticket_server
from scanner.options import Deadlines, ScanOptions, Target
from scanner.probes import vulns as vp
from scanner.results import EndpointResult, VulnCheck, endpoint_json

OPTIONS = ScanOptions(
    probes=frozenset({"protocols", "suites", "vulns"}),
    use_system_store=False,
    deadlines=Deadlines(connect=5, read=5, endpoint=60),
    verbose=True,
)


@pytest.fixture
def vulnerable(lab_cert: IssuedCert) -> Iterator[Any]:
    started: list[RawServer] = []

    def start(kind: Any = legacy_rsa_server, **flaws: Any) -> RawServer:
        server = RawServer(kind(lab_cert, **flaws)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


async def scan(server: RawServer) -> EndpointResult:
    with trio.fail_after(60):
        return await scan_endpoint(Target(host="127.0.0.1", port=server.address[1], ip="127.0.0.1"), OPTIONS)


def checks(result: EndpointResult) -> dict[str, VulnCheck]:
    return {v.check: v for v in result.vulns}


def vuln_connections(result: EndpointResult) -> int:
    return sum(1 for p in result.probes if p.name.startswith(
        ("Heartbleed", "CCS injection", "ROBOT", "client-initiated renegotiation", "Ticketbleed", "TLS 1.3")))


async def test_patched_baseline_within_budget(vulnerable: Any) -> None:
    result = await scan(vulnerable())
    found = checks(result)
    assert {k: v.status for k, v in found.items()} == {
        "heartbleed": "not_vulnerable", "crime": "not_vulnerable",
        "ccs_injection": "not_vulnerable", "robot": "not_vulnerable",
        # RSA key exchange only: no ECDHE AES-GCM suite to complete a handshake with, so
        # the two checks were not run: inconclusive, "not tested", never not_applicable.
        "client_renegotiation": "inconclusive", "ticketbleed": "inconclusive",
        "zero_rtt": "not_applicable",  # TLS 1.2 only
    }
    assert "unexpected_message (10)" in found["ccs_injection"].evidence
    assert "bad_record_mac (20)" in found["robot"].evidence
    assert found["client_renegotiation"].evidence.startswith("not tested: needs a TLS 1.2 ECDHE AES-GCM suite")
    assert found["ticketbleed"].evidence.startswith("not tested: needs a session ticket")
    assert "no session ticket was issued" not in found["ticketbleed"].evidence
    # 1 Heartbleed (+ CRIME on the same hello, and CCS injection on the same connection:
    # no heartbeat, no compression) + 5 ROBOT vectors.
    assert vuln_connections(result) == sum(v.connections for v in result.vulns) == 6 <= 15
    assert not [f for f in result.findings if f.id.startswith("vuln.") and f.severity != "info"]


async def test_heartbleed_is_found_and_the_leak_is_not_kept(vulnerable: Any) -> None:
    result = await scan(vulnerable(heartbleed=True))
    hb = checks(result)["heartbleed"]
    assert hb.status == "vulnerable" and hb.version == c.TLS12
    assert "declaring 64 payload bytes" in hb.evidence and "an 83-byte heartbeat response" in hb.evidence
    # The lab fills what the request did not carry with 0xA5 where OpenSSL copied memory:
    # none of it may reach the result.
    text = json.dumps(endpoint_json(result))
    assert "a5a5" not in text.lower() and "\\u00a5" not in text.lower()
    finding = next(f for f in result.findings if f.id == "vuln.heartbleed")
    assert finding.severity == "critical" and "CVE-2014-0160" in finding.title
    assert checks(result)["ccs_injection"].status == "not_vulnerable"
    # `scan -v` on an 80-column terminal: the headline (99 characters) wraps between words,
    # under the start of the id; into a file or a pipe it stays one line.
    from scanner.report.table import render_endpoint

    headline = f"[critical] vuln.heartbleed: {finding.title}"
    assert len(headline) > 80 and headline in render_endpoint(result, verbose=True)
    wrapped = render_endpoint(result, verbose=True, width=80).splitlines()
    at = wrapped.index(next(line for line in wrapped if line.startswith("[critical] vuln.heartbleed: ")))
    assert len(wrapped[at]) <= 80 and wrapped[at + 1].startswith(" " * len("[critical] ") + wrapped[at + 1].split()[0])
    assert " ".join((wrapped[at] + " " + wrapped[at + 1]).split()) == headline


async def test_early_ccs_acceptor(vulnerable: Any) -> None:
    result = await scan(vulnerable(early_ccs=True))
    ccs = checks(result)["ccs_injection"]
    assert ccs.status == "vulnerable"
    assert "bad_record_mac (20)" in ccs.evidence
    assert {f.id for f in result.findings} >= {"vuln.ccs_injection"}
    assert checks(result)["heartbleed"].status == "not_vulnerable"


@pytest.mark.parametrize(("oracle", "strength", "severity"), [("strong", "strong", "high"), ("weak", "weak", "medium")])
async def test_robot_oracles(vulnerable: Any, oracle: str, strength: str, severity: str) -> None:
    result = await scan(vulnerable(robot_oracle=oracle))
    robot = checks(result)["robot"]
    assert (robot.status, robot.oracle) == ("vulnerable", strength)
    assert robot.connections == 15  # five vectors, run three times to rule out noise
    assert "wrong_first_bytes: alert decrypt_error (51)" in robot.evidence
    finding = next(f for f in result.findings if f.id == "vuln.robot")
    assert finding.severity == severity


async def test_robot_inconsistent_answers_are_said_as_such(vulnerable: Any) -> None:
    result = await scan(vulnerable(robot_oracle="flaky"))
    robot = checks(result)["robot"]
    assert robot.status == "inconclusive" and robot.oracle is None
    assert "differ between runs" in robot.evidence
    assert "vuln.robot" not in {f.id for f in result.findings}
    assert "vuln.inconclusive" in {f.id for f in result.findings}


@pytest.mark.parametrize("bleeds", [True, False])
async def test_ticketbleed(vulnerable: Any, bleeds: bool) -> None:
    result = await scan(vulnerable(ticket_server, ticketbleed=bleeds))
    found = checks(result)
    # The lab server completes the handshake, refuses the renegotiation, issues a ticket.
    assert found["client_renegotiation"].status == "not_vulnerable"
    tb = found["ticketbleed"]
    if bleeds:
        assert tb.status == "vulnerable"
        assert "32-byte session ID back: the 31 bytes sent and 1 the client did not send" in tb.evidence
        assert "5c" not in json.dumps(endpoint_json(result)["vulns"])
        assert "vuln.ticketbleed" in {f.id for f in result.findings}
    else:
        assert tb.status == "not_vulnerable" and "echoed exactly" in tb.evidence
    # Heartbleed (and CCS on it), renegotiation (its handshake brought the ticket), Ticketbleed.
    assert vuln_connections(result) == sum(v.connections for v in result.vulns) == 3


async def test_tls13_only_runs_only_the_0rtt_check(openssl_server: Any) -> None:
    server = openssl_server(min_version=c.TLS13)
    result = await scan_endpoint(Target(host="127.0.0.1", port=server.address[1], ip="127.0.0.1"), OPTIONS)
    found = checks(result)
    assert found.pop("zero_rtt").status == "not_vulnerable"
    assert {v.status for v in found.values()} == {"not_applicable"}
    assert vuln_connections(result) == 1


# -- ROBOT's vectors and verdict --------------------------------------------------------


def test_robot_vectors_are_what_the_paper_sends(lab_cert: IssuedCert) -> None:
    key = lab_cert.key
    assert isinstance(key, rsa.RSAPrivateKey)
    k = (key.key_size + 7) // 8
    seed = os.urandom(512)
    blocks = {v: vp.robot_plaintext(v, k, c.TLS12, seed) for v in vp.ROBOT_VECTORS}
    assert all(len(b) == k for b in blocks.values())
    assert _pkcs1_conforming(blocks["correct"]) and blocks["correct"][-48:-46] == b"\x03\x03"
    assert blocks["wrong_first_bytes"][:2] == b"\x41\x17"
    assert blocks["zero_wrong_position"].index(0, 2) == k - 2
    assert 0 not in blocks["no_zero"][2:]
    assert _pkcs1_conforming(blocks["wrong_version"]) and blocks["wrong_version"][-48:-46] == b"\x02\x02"
    # The padding and random bytes are shared, so vectors differ only where meant to.
    assert blocks["correct"][2:-49] == blocks["no_zero"][2:-49]
    # RSA 4096 and 8192 keys fit the seed the check draws; a toy key is refused, not crashed on.
    for size in (512, 1024):
        assert _pkcs1_conforming(vp.robot_plaintext("correct", size, c.TLS12, os.urandom(2048)))
    with pytest.raises(ValueError):
        vp.robot_plaintext("correct", 32, c.TLS12, os.urandom(2048))


def test_robot_verdicts() -> None:
    same = ["alert bad_record_mac (20)"] * 5
    assert vp.robot_verdict([same], c.TLS12, 5).status == "not_vulnerable"
    strong = [same[0], "alert decrypt_error (51)", same[0], same[0], same[0]]
    v = vp.robot_verdict([strong] * 3, c.TLS12, 15)
    assert (v.status, v.oracle) == ("vulnerable", "strong")
    weak = [same[0], "closed", "closed", "closed", same[0]]
    assert vp.robot_verdict([weak] * 3, c.TLS12, 15).oracle == "weak"
    v = vp.robot_verdict([strong, same], c.TLS12, 10)
    assert v.status == "inconclusive" and v.oracle is None


def test_robot_noise_that_repeats_once_is_not_an_oracle() -> None:
    # Issue 18 point 6: a server answering each ClientKeyExchange at random between two
    # alerts repeats its first five answers with chance 1/32; one repeat is not enough.
    noise = ["alert bad_record_mac (20)", "alert decrypt_error (51)"] * 2 + ["alert bad_record_mac (20)"]
    other = ["alert decrypt_error (51)"] + noise[1:]
    assert vp.robot_verdict([noise, noise], c.TLS12, 10).status == "inconclusive"
    v = vp.robot_verdict([noise, noise, other], c.TLS12, 15)
    assert v.status == "inconclusive" and "differ between runs" in v.evidence
    assert vp.ROBOT_RUNS == 3


def test_robot_timeouts_are_no_observation() -> None:
    # Point 13: a silent or dripping server answers nothing before the read deadline: the
    # same "answer" five times is no observation, not a verdict of not vulnerable.
    silent = ["no answer (read deadline)"] * 5
    v = vp.robot_verdict([silent], c.TLS12, 5)
    assert v.status == "inconclusive" and "a timeout is no observation" in v.evidence
    mixed = ["alert bad_record_mac (20)"] * 4 + ["no answer (read deadline)"]
    assert vp.robot_verdict([mixed], c.TLS12, 5).status == "inconclusive"


def test_robot_refuses_keys_that_would_block_the_event_loop() -> None:
    # Point 4: a 16000-bit modulus with a 15996-bit exponent costs ~16 s per vector on the
    # trio thread; such keys are refused before any arithmetic.
    n = (1 << 15999) | 1
    assert vp.robot_key_refusal(n, (1 << 15995) | 1) is not None
    assert "exponent" in (vp.robot_key_refusal(2**2047 + 1, 2**40 + 1) or "")
    assert "modulus" in (vp.robot_key_refusal(n, 65537) or "")
    assert vp.robot_key_refusal(2**2047 + 1, 65537) is None


# -- issue 18's fresh-eyes report -----------------------------------------------------------


async def test_a_heartbeat_request_from_the_server_is_not_a_heartbleed_answer(vulnerable: Any) -> None:
    # Point 5: only a heartbeat_response (type 2, RFC 6520 section 3) answers a request; a
    # server that sends its own well-formed 64-byte request is not leaking anything.
    result = await scan(vulnerable(heartbeat_requests=True))
    hb = checks(result)["heartbleed"]
    assert hb.status == "inconclusive", hb.evidence
    assert "heartbeat message of type 1" in hb.evidence and "not counted" in hb.evidence
    assert "vuln.heartbleed" not in {f.id for f in result.findings}


async def test_a_fragmented_large_tls12_ticket_is_reassembled(vulnerable: Any) -> None:
    # Point 14: a 20000-byte ticket comes in two records; a 40000-byte one also exceeds the
    # 32 KiB a follow-up reaction may read. Both are read, and resumed (Ticketbleed).
    for size in (20000, 40000):
        result = await scan(vulnerable(ticket_server, ticket_size=size))
        found = checks(result)
        assert found["client_renegotiation"].status == "not_vulnerable", found["client_renegotiation"].evidence
        assert found["ticketbleed"].status == "not_vulnerable", found["ticketbleed"].evidence


async def test_whatever_a_check_raises_becomes_an_inconclusive_verdict(
    vulnerable: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Point 3's rule: nothing escapes the family as an exception, the other checks stand.
    import struct

    async def broken(*args: Any) -> Any:
        raise struct.error("'H' format requires 0 <= number <= 65535")

    def broken_verdict(*args: Any) -> Any:
        raise struct.error("'H' format requires 0 <= number <= 65535")

    monkeypatch.setattr(vp, "ccs_injection", broken)
    # CCS injection shares the Heartbleed connection here (no heartbeat, no compression):
    # its verdict is what breaks, and Heartbleed's, from the same connection, stands.
    monkeypatch.setattr(vp, "ccs_verdict", broken_verdict)
    result = await scan(vulnerable())
    found = checks(result)
    assert found["ccs_injection"].status == "inconclusive"
    assert found["ccs_injection"].evidence.startswith("not tested: the check stopped")
    assert "65535" not in found["ccs_injection"].evidence  # the class, never the text
    assert found["heartbleed"].status == found["robot"].status == "not_vulnerable"


async def test_vulnerabilities_section_in_table_markdown_and_html(vulnerable: Any) -> None:
    # Point 1: "tested and clean" must read apart from "not tested" in every human report,
    # and the evidence goes through the one sanitizer.
    import dataclasses

    from scanner.compare import select_profiles
    from scanner.report.html import render_scan_html
    from scanner.report.markdown import render_scan_markdown
    from scanner.report.table import render_endpoint

    result = await scan(vulnerable(heartbleed=True))
    hostile = VulnCheck(check="crime", status="inconclusive", evidence="x\x1b]0;pwned\x07\r\nFake line")
    result = dataclasses.replace(result, vulns=(*result.vulns[:1], hostile, *result.vulns[2:]))
    data = endpoint_json(result)
    outputs = {
        "table": render_endpoint(result),
        "markdown": render_scan_markdown([data], profiles=select_profiles("default")),
        "html": render_scan_html([data], profiles=select_profiles("default")),
    }
    for where, text in outputs.items():
        assert "Vulnerabilities" in text, where
        for words in ("Heartbleed (CVE-2014-0160)", "VULNERABLE", "CCS injection (CVE-2014-0224)",
                      "not vulnerable", "not tested", "not applicable", "TLS 1.3 0-RTT replay"):
            assert words in text, (where, words)
        assert "\x1b" not in text and "\x07" not in text, where
        assert not any(line.startswith("Fake line") for line in text.splitlines()), where
    table = outputs["table"]
    section = table[table.index("Vulnerabilities") : table.index("Findings")]
    assert "ROBOT" in section and "TLSv1.2" in section and "Connections" in section


def test_only_fatal_alerts_decide_ccs_injection() -> None:
    # Point 12: bad_record_mac at level 7 or 1 is not the fatal answer the test reads.
    from handshakes import events as ev
    from scanner.engine import ProbeOutcome

    for level in (7, 1):
        out = ProbeOutcome(outcome="accepted", connections=1, events=(
            ev.ServerHelloDone(), ev.Alert(level=level, description=20)), ended="timeout")
        v = vp.ccs_verdict(out, c.TLS12)
        assert v.status == "inconclusive" and f"level {level}" in v.evidence, v.evidence
    out = ProbeOutcome(outcome="accepted", connections=1, events=(ev.ServerHelloDone(), ev.Alert(level=2, description=20)))
    assert vp.ccs_verdict(out, c.TLS12).status == "vulnerable"


def test_evidence_says_what_came_not_an_outcome_word() -> None:
    # Point 11: no "got no alert: accepted"; a 2-byte heartbeat record is said as such.
    from handshakes import events as ev
    from scanner.engine import ProbeOutcome

    out = ProbeOutcome(outcome="accepted", connections=1, events=(
        ev.ServerHelloDone(), ev.OpaqueRecord(content_type=c.HEARTBEAT, length=2), ev.ConnectionClosed()))
    text = vp.ccs_verdict(out, c.TLS12).evidence
    assert "accepted" not in text and "a 2-byte heartbeat record too short to be a message" in text
    limit = ProbeOutcome(outcome="accepted", connections=1, events=(ev.ServerHelloDone(),))
    assert "accepted" not in vp.ccs_verdict(limit, c.TLS12).evidence
    assert [vp._article(n) for n in (8, 11, 18, 19, 83, 800, 110, 11000, 65535)] == [
        "an", "an", "an", "a", "an", "an", "a", "an", "a"]


async def test_an_undecodable_certificate_entry_fits_the_schema(vulnerable: Any) -> None:
    # Point 15 (side): a certificate that is not valid DER is decoded as None, shown as
    # null in JSON; docs/schema.json must allow it.
    import dataclasses

    from scanner.options import ScanOptions as Options
    from scanner.schema import endpoint_problem

    server = vulnerable()
    options = Options(probes=frozenset({"protocols", "certificates"}), use_system_store=False,
                      deadlines=Deadlines(connect=5, read=5, endpoint=60))
    with trio.fail_after(60):
        result = await scan_endpoint(Target(host="127.0.0.1", port=server.address[1], ip="127.0.0.1"), options)
    assert result.certificates
    chain = dataclasses.replace(result.certificates[0], certificates=(None,))
    data = endpoint_json(dataclasses.replace(result, certificates=(chain,)))
    assert data["certificates"][0]["certificates"] == [None]
    assert endpoint_problem(data) is None


def test_renegotiation_alert_levels() -> None:
    # Point 12's rule for renegotiation: a fatal alert or no_renegotiation at its warning
    # level (RFC 5246 section 7.2.2) refuses; close_notify closes; another level is said.
    from handshakes import events as ev
    from scanner.engine import ProbeOutcome

    def verdict(alert: ev.Alert) -> VulnCheck:
        out = ProbeOutcome(outcome="accepted", connections=1, events=(ev.Finished(verify_data=b""), alert))
        return vp.renegotiation_verdict(out, True)

    assert verdict(ev.Alert(level=1, description=100, encrypted=True)).status == "not_vulnerable"
    assert verdict(ev.Alert(level=2, description=40, encrypted=True)).status == "not_vulnerable"
    assert verdict(ev.Alert(level=1, description=0, encrypted=True)).status == "not_vulnerable"
    odd = verdict(ev.Alert(level=7, description=40, encrypted=True))
    assert odd.status == "inconclusive" and "level 7" in odd.evidence


def test_robot_junk_is_no_observation() -> None:
    junk = ["bytes that are not a TLS record"] * 5
    assert vp.robot_verdict([junk], c.TLS12, 5).status == "inconclusive"


async def test_junk_after_a_completed_handshake_is_not_stored(vulnerable: Any) -> None:
    # Point 10's rule for the handshakes the family completes: bytes that cannot be read
    # after the flight end the reading as a length; none of them reach the result.
    from scanner.lab.vulnerable import JUNK_SECRET

    result = await scan(vulnerable(ticket_server, junk_after=True))
    reneg = checks(result)["client_renegotiation"]
    assert reneg.status == "inconclusive" and "could not be read as TLS records (not kept)" in reneg.evidence
    text = json.dumps(endpoint_json(result))
    assert JUNK_SECRET.decode() not in text and JUNK_SECRET.hex() not in text and "99 4c" not in text.lower()
