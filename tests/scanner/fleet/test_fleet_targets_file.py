# Targets files: every form, errors that name the file and the line, CIDR ranges counted
# but never materialised, options layered in the documented order.
from __future__ import annotations

import io
import itertools
import re
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from handshakes import constants as c
from scanner.fleet.targets_file import (
    Layer,
    TargetsFileError,
    cidr_size,
    load_targets,
)
from scanner.options import ALL_PROBES, QUICK_PROBES, ScanOptions, Target

ROOT = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(path)


def targets(plan) -> list[Target]:
    return [t for t, _ in plan]


def test_plain_list_every_form(tmp_path):
    path = write(tmp_path, "hosts.txt", """
        # web servers
        www.example.com
        mail.example.com:993   # IMAPS

        [2001:db8::1]:8443
        2001:db8::2
        https://shop.example.net:8443/#fragment
        ldaps://dir.example.org/
        127.0.0.1
        127.0.0.8/30:8443
    """)
    with load_targets([path]) as plan:
        got = targets(plan)
        assert plan.total == len(got) == 9
    assert [(t.host, t.port, t.ip) for t in got] == [
        ("www.example.com", 443, None),
        ("mail.example.com", 993, None),
        ("2001:db8::1", 8443, "2001:db8::1"),
        ("2001:db8::2", 443, "2001:db8::2"),
        ("shop.example.net", 8443, None),
        ("dir.example.org", 636, None),
        ("127.0.0.1", 443, "127.0.0.1"),
        ("127.0.0.9", 8443, "127.0.0.9"),  # a /30: network and broadcast skipped
        ("127.0.0.10", 8443, "127.0.0.10"),
    ]


def test_plain_list_from_stdin_is_read_once_and_iterated_again():
    stdin = io.StringIO("127.0.0.1:4433\n# nothing\n127.0.0.2\n")
    with load_targets(["-"], stdin=stdin) as plan:
        first = targets(plan)
        again = targets(plan)
    assert [t.label for t in first] == ["127.0.0.1:4433", "127.0.0.2:443"]
    assert first == again


def test_yaml_from_stdin():
    stdin = io.StringIO("# fleet\ntargets:\n  - host: 127.0.0.1\n    port: 8443\n    tags: [x]\n")
    with load_targets(["-"], stdin=stdin) as plan:
        (t,) = targets(plan)
    assert (t.host, t.port, t.tags) == ("127.0.0.1", 8443, ("x",))


def test_the_example_file_loads_with_every_field():
    with load_targets([str(ROOT / "targets.example.yaml")]) as plan:
        pairs = list(plan)
        assert plan.total == len(pairs) == 4 + 6 + 1 + 1 + 14
        assert plan.limits.endpoints == 64 and plan.limits.rate == 200
    by_host = {t.host: (t, o) for t, o in pairs}
    api, api_opts = by_host["api.example.com"]
    assert (api.port, api.ip, api.sni, api.tags) == (8443, "198.51.100.7", "api.example.com", ("example", "prod", "api"))
    # scan: quick, then the file's switches (revocation off, behaviours on)
    assert api_opts.probes == frozenset(QUICK_PROBES) | {"behaviours"}
    assert (api_opts.deadlines.connect, api_opts.deadlines.read, api_opts.deadlines.endpoint) == (5, 10, 120)
    _, legacy_opts = by_host["legacy.example.org"]
    assert legacy_opts.client_versions == (c.TLS10, c.TLS11, c.TLS12)
    assert "revocation" in legacy_opts.probes
    www, www_opts = by_host["www.example.com"]
    assert www_opts.probes == frozenset(ALL_PROBES) - {"revocation"}
    assert www_opts.client_suites == (0x1301, 0xC02F, 0xC02C)
    assert www.tags == ("example",)
    v6, _ = by_host["2001:db8::10"]
    assert v6.port == 8443
    lab = [t for t, _ in pairs if t.host.startswith("203.0.113.")]
    assert len(lab) == 14 and all(t.port == 8443 and t.tags == ("example", "lab") for t in lab)


def test_targets_read_with_the_same_layers_share_options(tmp_path):
    path = write(tmp_path, "hosts.txt", "".join(f"127.0.0.{i}\n" for i in range(1, 50)))
    with load_targets([path]) as plan:
        options = {id(o) for _, o in plan}
    assert len(options) == 1


def test_layers_file_defaults_then_command_line_then_target(tmp_path):
    path = write(tmp_path, "t.yaml", """
        defaults:
          timeouts: {connect: 2, read: 3}
          scan: quick
          retries: 3
        targets:
          - 127.0.0.1
          - host: 127.0.0.2
            timeouts: {connect: 9}
            scan: full
    """)
    cli = Layer(connect=1.5, retries=0)
    with load_targets([path], cli_layer=cli) as plan:
        (_, o1), (_, o2) = list(plan)
    assert (o1.deadlines.connect, o1.deadlines.read, o1.retries) == (1.5, 3, 0)
    assert o1.probes == frozenset(QUICK_PROBES)
    assert (o2.deadlines.connect, o2.deadlines.read) == (9, 3)
    assert o2.probes == frozenset(ALL_PROBES)


def test_includes_are_relative_and_carry_options(tmp_path):
    (tmp_path / "lists").mkdir()
    write(tmp_path, "lists/legacy.txt", "127.0.0.5\n127.0.0.6:9443\n")
    path = write(tmp_path, "t.yaml", """
        defaults: {tags: [base]}
        include:
          - file: lists/legacy.txt
            port: 8443
            tags: [legacy]
            scan: quick
    """)
    with load_targets([path]) as plan:
        pairs = list(plan)
    assert [(t.port, t.tags) for t, _ in pairs] == [(8443, ("base", "legacy")), (9443, ("base", "legacy"))]
    assert all(o.probes == frozenset(QUICK_PROBES) for _, o in pairs)


def test_client_certificates_are_loaded_up_front(tmp_path, lab_pki, monkeypatch):
    """Certificates named in the file are read while it is validated (the password from the
    named environment variable), so the scan gets ClientCredentials, never paths."""
    issued = lab_pki.issue_client("fleet-yaml-client", password=b"s3cret-pw")
    monkeypatch.setenv("APP_PASSWORD", "s3cret-pw")
    path = write(tmp_path, "t.yaml", f"""
        defaults:
          client_certificates:
            - {{cert: {issued.cert_path}, key: {issued.encrypted_key_path}, password_env: APP_PASSWORD}}
            - {{cert: {issued.pkcs12_path}, password_env: APP_PASSWORD}}
        targets: [127.0.0.1]
    """)
    with load_targets([path]) as plan:
        ((_, options),) = list(plan)
    assert [type(c).__name__ for c in options.client_certs] == ["ClientCredential"] * 2
    assert {c.leaf_der for c in options.client_certs} == {issued.cert.public_bytes(Encoding.DER)}


def test_a_wrong_client_key_password_names_the_file_and_line_not_the_password(
    tmp_path, lab_pki, monkeypatch
):
    issued = lab_pki.issue_client("fleet-yaml-client-bad", password=b"right-password")
    monkeypatch.setenv("APP_PASSWORD", "wrong-password-123")
    path = write(tmp_path, "t.yaml", f"""
        defaults:
          client_certificates:
            - {{cert: {issued.cert_path}, key: {issued.encrypted_key_path}, password_env: APP_PASSWORD}}
        targets: [127.0.0.1]
    """)
    with pytest.raises(TargetsFileError) as info:
        with load_targets([path]) as plan:
            list(plan)
    text = str(info.value)
    assert text.startswith(f"{path}:3:") and "wrong-password-123" not in text


def test_cidr_ranges_are_counted_not_materialised(tmp_path):
    path = write(tmp_path, "big.txt", "127.0.0.0/8:4433\n")
    with load_targets([path], cidr_cap=1 << 24) as plan:
        assert plan.total == (1 << 24) - 2
        first = [t.host for t, _ in itertools.islice(plan, 3)]
    assert first == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]


@pytest.mark.parametrize(
    ("net", "size"),
    [("127.0.0.0/24", 254), ("127.0.0.0/31", 2), ("127.0.0.1/32", 1), ("2001:db8::/120", 255), ("2001:db8::/127", 2)],
)
def test_cidr_size_matches_hosts(net, size):
    import ipaddress

    network = ipaddress.ip_network(net)
    assert cidr_size(network) == size == sum(1 for _ in network.hosts())


def test_cidr_cap_refuses_with_file_and_line_and_can_be_raised(tmp_path):
    path = write(tmp_path, "hosts.txt", "127.0.0.1\n127.0.0.0/20\n")
    with pytest.raises(TargetsFileError) as info:
        load_targets([path], cidr_cap=1000)
    assert str(info.value).startswith(f"{path}:2: 127.0.0.0/20 expands to 4094 addresses, more than the cap of 1000")
    assert "--cidr-cap" in str(info.value)
    with load_targets([path], cidr_cap=4094) as plan:
        assert plan.total == 4095


@pytest.mark.parametrize(
    ("name", "text", "line", "words"),
    [
        ("hosts.txt", "127.0.0.1\n\n# c\nexample.com:99999\n", 4, "port must be a number"),
        ("hosts.txt", "ok.example\n[2001:db8::1:443\n", 2, "missing ']'"),
        ("hosts.txt", "ok.example\n300.1.2.0/24\n", 2, "not a CIDR range"),
        ("t.yaml", "targets:\n  - 127.0.0.1\n  - host: a.example\n    prot: 443\n", 4, "unknown key 'prot'"),
        ("t.yaml", "defaults:\n  port: 0\n", 2, "'port' must be a number from 1 to 65535"),
        ("t.yaml", "defaults:\n  scan: deep\n", 2, "'scan' must be 'quick' or 'full'"),
        ("t.yaml", "defaults:\n  probes:\n    suites: true\n    ciphers: false\n", 4, "unknown probe 'ciphers'"),
        ("t.yaml", "defaults:\n  timeouts:\n    connect: -1\n", 3, "'connect' must be a positive number"),
        ("t.yaml", "defaults:\n  client_versions: [TLSv1.2, TLSv9]\n", 2, "unknown protocol version"),
        ("t.yaml", "defaults:\n  client_suites: [NOT_A_SUITE]\n", 2, "unknown cipher suite"),
        ("t.yaml", "targets:\n  - host: a.example\n    ip: 999.0.0.1\n", 3, "'ip' must be an IPv4 or IPv6 address"),
        ("t.yaml", "targets:\n  - host: a.example\n    host: b.example\n", 3, "duplicate key 'host'"),
        ("t.yaml", "targets:\n  - host: [a\n", 3, "not valid YAML"),
        ("t.yaml", "targets:\n  - 1.2.3.4\n  - {port: 443}\n", 3, "exactly one of 'host' and 'cidr'"),
        ("t.yaml", "include:\n  - missing.txt\n", 2, "included file 'missing.txt' not found"),
        ("t.yaml", "defaults:\n  concurrency: {rate: fast}\n", 2, "'rate' must be a positive number"),
        ("t.yaml", "defaults:\n  client_certificates:\n    - cert: nope.pem\n", 3, "no such file 'nope.pem'"),
        # A directory is not "no such file": the command line's --ca-file says the same.
        ("t.yaml", "defaults:\n  ca_file: /tmp\n", 2, "'ca_file': '/tmp' is a directory; give a file name"),
        ("t.yaml", "targets:\n  - host: a.example\n    ca_file: .\n", 3, "'ca_file': '.' is a directory"),
        ("t.yaml", "defaults:\n  client_certificates:\n    - cert: /tmp\n", 3, "'cert': '/tmp' is a directory"),
        ("t.yaml", "target:\n  - a.example\n", 1, "unknown key 'target' at the top level"),
    ],
)
def test_malformed_files_name_file_line_and_problem(tmp_path, name, text, line, words):
    path = write(tmp_path, name, text)
    with pytest.raises(TargetsFileError) as info:
        load_targets([path])
    assert info.value.source == path
    assert info.value.line == line, str(info.value)
    assert words in str(info.value)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_error_in_an_included_list_names_that_file(tmp_path):
    inc = write(tmp_path, "inc.txt", "good.example\nbad host name\n")
    path = write(tmp_path, "t.yaml", "include: [inc.txt]\n")
    with pytest.raises(TargetsFileError) as info:
        load_targets([path])
    assert str(info.value).startswith(f"{inc}:2: ")


def test_a_late_error_stops_everything_before_the_first_target(tmp_path):
    """Validation covers every file before the plan exists: nothing can be scanned."""
    good = write(tmp_path, "good.txt", "127.0.0.1\n" * 3)
    bad = write(tmp_path, "bad.txt", "127.0.0.1\n" * 1000 + "127.0.0.1:0\n")
    with pytest.raises(TargetsFileError) as info:
        load_targets([good, bad])
    assert info.value.line == 1001


def test_missing_file_and_command_line_targets(tmp_path):
    with pytest.raises(TargetsFileError, match="no such file"):
        load_targets([str(tmp_path / "none.txt")])
    with load_targets(cli_targets=["127.0.0.1:4433", Target(host="a.example", port=1, ip="127.0.0.1")]) as plan:
        assert [t.label for t in targets(plan)] == ["127.0.0.1:4433", "a.example:1"]


def test_empty_inputs_have_no_targets(tmp_path):
    with load_targets([write(tmp_path, "e.yaml", "# nothing yet\n"), write(tmp_path, "e.txt", "\n# x\n")]) as plan:
        assert plan.total == 0 and targets(plan) == []
    assert ScanOptions().probes == frozenset(ALL_PROBES)


def test_a_byte_order_mark_is_not_part_of_the_first_host(tmp_path):
    # Notepad writes one; it must not end up in the host name and the SNI.
    for name in ("bom.txt", "bom.yaml"):
        text = "a.example\n" if name.endswith(".txt") else "targets:\n  - a.example\n"
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        with load_targets([str(path)]) as plan:
            assert [t.host for t in targets(plan)] == ["a.example"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("targets: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than"),
        ("targets:\n  - ? {a: 1}\n    : b\n", "a key must be a plain word"),
        ("targets:\n  - host: a.example\n    ip: notanip\n", "'ip' must be an IPv4 or IPv6"),
        ("targets:\n  - host: a.example\n    sni: a..b\n", "empty label"),
        ("defaults:\n  timeouts: {read: .nan}\ntargets: [a.example]\n", "'read' must be a positive"),
        ("defaults:\n  concurrency: {rate: .inf}\ntargets: [a.example]\n", "'rate' must be a positive"),
    ],
)
def test_yaml_that_cannot_be_scanned_is_refused(tmp_path, text, message):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(TargetsFileError, match=message):
        load_targets([str(path)])


def test_the_probe_lists_in_the_docs_name_every_probe():
    # targets.example.yaml's comment and docs/fleet.md's options table list the probe
    # names a targets file accepts: every one of them, tolerance included.
    from scanner.options import KNOWN_PROBES

    example = (ROOT / "targets.example.yaml").read_text(encoding="utf-8")
    comment = example[example.index("  probes:") : example.index("  timeouts:")]
    fleet = (ROOT / "docs" / "fleet.md").read_text(encoding="utf-8")
    row = next(line for line in fleet.splitlines() if line.startswith("| `probes` |"))
    for probe in KNOWN_PROBES:
        assert re.search(rf"\b{re.escape(probe)}\b(?!-)", comment), f"targets.example.yaml: {probe}"
        assert f"`{probe}`" in row, f"docs/fleet.md: {probe}"
