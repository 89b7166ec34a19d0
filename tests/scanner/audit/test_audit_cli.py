# `tlscompat audit` on a scan saved by `tlscompat scan --format jsonl -o FILE`, and
# `tlscompat simulate` against a lab server, through scanner.cli.main as a user runs them.
from __future__ import annotations

import json
from pathlib import Path

import pytest

from handshakes import constants as c
from scanner.audit.policy import load_server_policy
from scanner.audit.whatif import load_scan, what_if
from scanner.cli import main
from scanner.profiles import load_builtin_profiles

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "policies"
PROBES = "protocols,suites,preference,groups,certificates"


def scan_to_jsonl(target_label: str, path: Path) -> None:
    code = main(["scan", target_label, "--format", "jsonl", "-o", str(path), "--probes", PROBES,
                 "--read-timeout", "3", "--connect-timeout", "3"])
    assert code in (0, 1)
    assert len(path.read_text().splitlines()) == 1


def test_audit_of_a_saved_jsonl_scan(lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, target = lab("legacy")
    scan_file = tmp_path / "scan.jsonl"
    scan_to_jsonl(f"127.0.0.1:{target.port}", scan_file)
    capsys.readouterr()

    policy_file = EXAMPLES / "no-legacy-tls.yaml"
    code = main(["audit", "--from", str(scan_file), "--policy", str(policy_file), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1  # the change loses clients
    lost = {ch["profile"] for ch in data["endpoints"][0]["changes"] if ch["change"] == "lost"}
    profiles = load_builtin_profiles()
    expected = what_if(load_scan(scan_file), load_server_policy(policy_file), profiles)
    assert lost == set(expected.lost()[f"127.0.0.1:{target.port}"])
    assert lost and all(max(p.versions) < c.TLS12 for p in profiles if p.id in lost)

    # Built-in policy, client policy and a profile selection, as a table.
    code = main([
        "audit", "--from", str(scan_file), "--policy", "mozilla-intermediate",
        "--client-policy", str(EXAMPLES / "java8-aead.yaml"), "--profiles", "java_8u161,ie_8-10_win7",
    ])
    text = capsys.readouterr().out
    assert code == 1
    assert "Server policy mozilla-intermediate (Mozilla Server Side TLS 5.7)" in text
    assert "TLSv1.0 enabled but the policy's minimum is TLSv1.2" in text
    assert "2 client profiles, 1 endpoint" in text
    assert "Client policy java8-aead: connects, with another version or suite" in text


def test_audit_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scan_file = tmp_path / "scan.jsonl"
    scan_file.write_text('{"host": "a", "port": 443, "outcome": "refused"}\n')
    assert main(["audit", "--from", str(scan_file)]) == 2
    assert "give --policy" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("min_version: TLSv1.2\ncipher_suites: [NOPE]\n")
    assert main(["audit", "--from", str(scan_file), "--policy", str(bad)]) == 2
    assert f"{bad}: field 'cipher_suites' entry 1: unknown cipher suite 'NOPE'" in capsys.readouterr().err
    assert main(["audit", "--from", str(scan_file), "--policy", "mozilla-ancient"]) == 2
    assert "not one of mozilla-modern" in capsys.readouterr().err
    # An endpoint the scan could not reach is reported, not computed.
    assert main(["audit", "--from", str(scan_file), "--policy", "mozilla-old", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["endpoints"][0]["deviations"][0]["kind"] == "not_scanned"


def test_simulate_command(lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, target = lab("tls10")
    hex_hello = _captured_hex()
    profiles = tmp_path / "clients.yaml"
    profiles.write_text(
        "- id: our-app\n  versions: [TLSv1.2]\n  cipher_suites: [ECDHE-RSA-AES128-GCM-SHA256]\n"
        "  groups: [x25519]\n  signature_algorithms: [rsa_pss_rsae_sha256, rsa_pkcs1_sha256]\n"
    )
    code = main([
        "simulate", f"127.0.0.1:{target.port}", "--profile", "chrome_101_win10",
        "--profile", "java_7u25", "--profiles-file", str(profiles),
        "--client-hello-hex", hex_hello, "--name", "captured-tls10", "--format", "json",
    ])
    assert code == 0
    got = {s["profile"]: s for s in json.loads(capsys.readouterr().out)["simulations"]}
    assert list(got) == ["chrome_101_win10", "java_7u25", "our-app", "captured-tls10"]
    assert got["chrome_101_win10"]["reason_code"] == "no_common_version"
    assert got["chrome_101_win10"]["alert"] == "protocol_version"
    assert got["java_7u25"]["ok"] and got["java_7u25"]["version"] == "TLSv1.0"
    assert got["our-app"]["reason_code"] == "no_common_version"
    assert got["captured-tls10"]["ok"] and got["captured-tls10"]["suite"] == "TLS_RSA_WITH_AES_128_CBC_SHA"

    assert main(["simulate", f"127.0.0.1:{target.port}", "--profile", "ie_8_xp"]) == 0
    text = capsys.readouterr().out
    assert "0 of 1 client connects" in text
    assert "accepts none of its cipher suites" in text
    assert main(["simulate", "127.0.0.1:1", "--profile", "no_such_client"]) == 2
    assert "unknown profile 'no_such_client'" in capsys.readouterr().err


def _captured_hex() -> str:
    """A TLS 1.0 ClientHello offering only AES128-SHA, as Wireshark shows it."""
    body = (
        "0301" + "00" * 32 + "00"  # client_version TLS 1.0, random, empty session id
        + "0002002f" + "0100"  # one suite (AES128-SHA), null compression
    )
    msg = "01" + f"{len(body) // 2:06x}" + body
    return "16 0301 " + f"{len(msg) // 2:04x} " + msg


def test_simulate_against_a_closed_port_says_so_once(capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connections are refused
    assert main(["simulate", f"127.0.0.1:{port}", "--profile", "current"]) == 0
    out = capsys.readouterr().out
    n = sum(p.current for p in load_builtin_profiles())
    assert out == (
        f"Client simulation against 127.0.0.1:{port}: no client connects: connection refused "
        f"(the same for all {n} clients)\n"
    )
    assert main(["simulate", f"127.0.0.1:{port}", "--profile", "ie_8_xp,java_7u25"]) == 0
    out = capsys.readouterr().out
    assert out.endswith(": no client connects: connection refused (the same for both clients)\n"), out
    assert main(["simulate", f"127.0.0.1:{port}", "--profile", "ie_8_xp"]) == 0
    assert capsys.readouterr().out.endswith(": no client connects: connection refused\n")


def test_simulate_against_a_name_that_does_not_resolve_looks_it_up_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No test reaches a DNS server: the resolver answers as glibc did for the tester, "Name
    # or service not known" and then, once, "Temporary failure in name resolution". One
    # lookup for every client, so one answer and one line.
    import socket

    from scanner import engine

    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        if len(asked) == 2:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(engine, "resolve", resolve)
    assert main(["simulate", "nonexistent.invalid", "--color", "never"]) == 0
    out = capsys.readouterr().out
    assert asked == ["nonexistent.invalid"]
    n = len(load_builtin_profiles())
    assert out == (
        "Client simulation against nonexistent.invalid:443: no client connects: cannot resolve "
        f"nonexistent.invalid: [Errno -2] Name or service not known (the same for all {n} clients)\n"
    )
    # JSON: one object per client all the same, from the one lookup.
    assert main(["simulate", "nonexistent.invalid", "--profile", "current", "--format", "json"]) == 0
    sims = json.loads(capsys.readouterr().out)["simulations"]
    assert len(asked) == 2 and len(sims) > 1
    assert {(s["reason_code"], s["reason"]) for s in sims} == {
        ("dns_error", "cannot resolve nonexistent.invalid: [Errno -3] Temporary failure in name resolution")
    }
