# STARTTLS against real daemons (issue 13): each daemon is started once per module, and
# every test compares what tlscompat finds behind the dialogue with what `openssl s_client
# -starttls PROTO` establishes against the same daemon in the same test, and with the
# certificate the daemon was configured with.
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from handshakes import constants as c
from handshakes import registry as reg
from scanner.api import scan
from scanner.lab.certs import IssuedCert, Pki
from scanner.options import Deadlines, ScanOptions, Target
from scanner.results import EndpointResult
from tests.interop import daemons as dm

# The point is the dialogue: versions, suites and the certificate are enough.
PROBES = frozenset({"protocols", "suites", "certificates"})


@pytest.fixture(scope="module")
def cert(lab_pki: Pki) -> IssuedCert:
    return lab_pki.issue("starttls-daemons")


def _daemon(start: Callable[[IssuedCert], dm.Daemon]) -> Callable[[IssuedCert], Iterator[dm.Daemon]]:
    """A module fixture: the daemon ``start`` runs with the module's certificate."""

    @pytest.fixture(scope="module")
    def running(cert: IssuedCert) -> Iterator[dm.Daemon]:
        with dm.running(start(cert)) as d:
            yield d

    return running


postfix = _daemon(dm.start_postfix)
dovecot = _daemon(dm.start_dovecot)
slapd = _daemon(dm.start_slapd)
postgres = _daemon(dm.start_postgres)
mariadb = _daemon(dm.start_mariadb)
prosody = _daemon(dm.start_prosody)
vsftpd = _daemon(dm.start_vsftpd)
nnrpd = _daemon(dm.start_nnrpd)
xrdp = _daemon(dm.start_xrdp)


def _scan(port: int, proto: str | None, lab_pki: Pki, **kw: object) -> EndpointResult:
    kw.setdefault("probes", PROBES)
    options = ScanOptions(ca_file=str(lab_pki.ca_path), use_system_store=False, **kw)  # type: ignore[arg-type]
    target = Target(host="localhost", ip="127.0.0.1", port=port, starttls=proto)
    [result] = scan(target, options)
    return result


def _names(code: int) -> set[str]:
    info = reg.cipher_suite(code)
    return {reg.cipher_suite_name(code), *((info.openssl,) if info and info.openssl else ())}


def _assert_matches_openssl(result: EndpointResult, proto: str, port: int, cert: IssuedCert) -> None:
    """What openssl s_client establishes is what the scan found, for the best version and
    for TLS 1.2 (where the suite choice is the server's among many)."""
    assert result.outcome == "ok", result.detail
    assert result.starttls is not None and result.starttls.outcome == "ok"
    version, cipher, pem = dm.s_client(proto, port)
    assert version, "openssl s_client established nothing"
    assert max(result.supported_versions()) == reg.version_from_name(version)
    top = reg.version_from_name(version)
    assert cipher in {n for s in result.cipher_suites if s.version == top for n in _names(s.code)}
    # TLS 1.2: the suite OpenSSL gets is one the scan lists for TLS 1.2.
    v12, cipher12, _ = dm.s_client(proto, port, "-tls1_2")
    assert (v12 == "TLSv1.2") == (c.TLS12 in result.supported_versions())
    if v12 == "TLSv1.2":
        assert cipher12 in {n for s in result.cipher_suites if s.version == c.TLS12 for n in _names(s.code)}
    # The certificate configured, seen by both.
    leaf = result.certificates[0].der[0]
    assert leaf == cert.cert.public_bytes(Encoding.DER)
    assert x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER) == leaf


def test_postfix_smtp(postfix: dm.Daemon, cert: IssuedCert, lab_pki: Pki) -> None:
    port = postfix.ports["smtp"]
    result = _scan(port, "smtp", lab_pki)
    _assert_matches_openssl(result, "smtp", port, cert)
    assert result.starttls is not None
    assert result.starttls.banner.startswith("220 mx.test.invalid")
    assert "STARTTLS" in result.starttls.capabilities
    assert result.starttls.throttled == 0


def test_postfix_starttls_not_offered(postfix: dm.Daemon, lab_pki: Pki) -> None:
    """smtpd_tls_security_level=none: EHLO lists no STARTTLS (and openssl agrees)."""
    port = postfix.ports["plain"]
    version, _, _ = dm.s_client("smtp", port)
    assert version == ""
    result = _scan(port, "smtp", lab_pki)
    assert result.outcome == "starttls_not_offered"
    assert result.starttls is not None and result.starttls.outcome == "starttls_not_offered"
    assert "STARTTLS not offered (EHLO lists: PIPELINING" in result.detail
    assert result.stats.connections == 1
    assert "starttls.not_offered" in {f.id for f in result.findings}


def test_postfix_submission_asks_for_a_client_certificate(postfix: dm.Daemon, lab_pki: Pki) -> None:
    options = ScanOptions(
        probes=frozenset({"protocols", "client_auth"}), ca_file=str(lab_pki.ca_path), use_system_store=False
    )
    [result] = scan(Target(host="localhost", ip="127.0.0.1", port=postfix.ports["submission"], starttls="smtp"), options)
    assert result.outcome == "ok"
    assert any(a.mode in ("requested", "optional", "required") for a in result.client_auth), result.client_auth


def test_postfix_implicit_tls_has_the_same_connection_count(postfix: dm.Daemon, lab_pki: Pki) -> None:
    """Issue 13: a STARTTLS scan opens as many connections as the same server on
    implicit TLS (the dialogue adds none)."""
    starttls = _scan(postfix.ports["smtp"], "smtp", lab_pki)
    implicit = _scan(postfix.ports["smtps"], "none", lab_pki)
    assert implicit.starttls is None
    assert implicit.supported_versions() == starttls.supported_versions()
    assert implicit.stats.connections == starttls.stats.connections


@pytest.mark.parametrize("proto", ["imap", "pop3", "sieve", "lmtp"])
def test_dovecot(proto: str, dovecot: dm.Daemon, cert: IssuedCert, lab_pki: Pki) -> None:
    port = dovecot.ports[proto]
    result = _scan(port, proto, lab_pki)
    _assert_matches_openssl(result, proto, port, cert)
    assert result.starttls is not None
    assert "Dovecot" in result.starttls.banner
    if proto in ("imap", "pop3", "sieve"):
        # disable_plaintext_auth = no: authentication offered before TLS.
        assert result.starttls.plaintext_auth
        assert "starttls.plaintext_auth" in {f.id for f in result.findings}


def test_dovecot_by_port_scheme(dovecot: dm.Daemon, lab_pki: Pki) -> None:
    """The URL scheme chooses the dialogue."""
    options = ScanOptions(probes=frozenset({"protocols"}), ca_file=str(lab_pki.ca_path), use_system_store=False)
    [result] = scan(f"imap://127.0.0.1:{dovecot.ports['imap']}", options)
    assert result.starttls is not None and result.starttls.protocol == "imap"
    assert result.outcome == "ok"


def test_slapd_ldap(slapd: dm.Daemon, cert: IssuedCert, lab_pki: Pki) -> None:
    port = slapd.ports["ldap"]
    result = _scan(port, "ldap", lab_pki)
    _assert_matches_openssl(result, "ldap", port, cert)


def test_slapd_without_tls_answers_protocol_error(cert: IssuedCert, lab_pki: Pki) -> None:
    with dm.running(dm.start_slapd(cert, tls=False)) as d:
        result = _scan(d.ports["ldap"], "ldap", lab_pki)
    assert result.outcome == "starttls_not_offered"
    assert result.starttls is not None
    assert "resultCode 2 protocolError" in result.starttls.detail
    assert result.starttls.reply  # the server's exact words


def test_postgres(postgres: dm.Daemon, cert: IssuedCert, lab_pki: Pki) -> None:
    port = postgres.ports["postgres"]
    result = _scan(port, "postgres", lab_pki)
    _assert_matches_openssl(result, "postgres", port, cert)


def test_postgres_without_ssl_answers_n(cert: IssuedCert, lab_pki: Pki) -> None:
    with dm.running(dm.start_postgres(cert, ssl=False)) as d:
        result = _scan(d.ports["postgres"], "postgres", lab_pki)
    assert result.outcome == "starttls_not_offered"
    assert result.starttls is not None and result.starttls.reply == "N"
    assert "starttls.plaintext_auth" in {f.id for f in result.findings}


def test_mariadb(mariadb: dm.Daemon, cert: IssuedCert, lab_pki: Pki) -> None:
    port = mariadb.ports["mysql"]
    result = _scan(port, "mysql", lab_pki)
    _assert_matches_openssl(result, "mysql", port, cert)
    assert result.starttls is not None and "MariaDB" in result.starttls.server_version


@pytest.mark.parametrize("proto", ["xmpp", "xmpp-server"])
def test_prosody(proto: str, prosody: dm.Daemon, cert: IssuedCert, lab_pki: Pki) -> None:
    port = prosody.ports[proto]
    result = _scan(port, proto, lab_pki)  # the domain: the target's name, "localhost"
    _assert_matches_openssl(result, proto, port, cert)
    assert result.starttls is not None and result.starttls.server_version == "1.0"


def test_prosody_unknown_domain_is_refused_with_its_words(prosody: dm.Daemon, lab_pki: Pki) -> None:
    result = _scan(prosody.ports["xmpp"], "xmpp", lab_pki, xmpp_domain="other.example")
    assert result.outcome == "starttls_refused"
    assert result.starttls is not None and "host-unknown" in result.starttls.detail
    assert "starttls.refused" in {f.id for f in result.findings}


def test_vsftpd(vsftpd: dm.Daemon, cert: IssuedCert, lab_pki: Pki) -> None:
    port = vsftpd.ports["ftp"]
    result = _scan(port, "ftp", lab_pki)
    _assert_matches_openssl(result, "ftp", port, cert)
    assert result.starttls is not None and "vsFTPd" in result.starttls.banner


def test_postfix_is_not_open_to_command_injection(postfix: dm.Daemon, lab_pki: Pki) -> None:
    """postfix discards what was pipelined after STARTTLS (fixed since 2.8.4): the check
    (scanner/probes/injection.py) says "no"; the lab's smtp-injection scenario shows "yes"."""
    result = _scan(postfix.ports["smtp"], "smtp", lab_pki, probes=frozenset({"protocols", "behaviours"}))
    assert result.starttls is not None
    assert result.starttls.injection == "no", result.starttls.injection_detail
    assert "starttls.injection" not in {f.id for f in result.findings}


def test_postfix_scanned_as_plain_tls_names_the_starttls_command(postfix: dm.Daemon, lab_pki: Pki) -> None:
    """`--starttls none` on an SMTP port: port.not_tls, with the command that scans it."""
    port = postfix.ports["smtp"]
    result = _scan(port, "none", lab_pki)
    assert result.outcome == "not_tls"
    [finding] = [f for f in result.findings if f.id == "port.not_tls"]
    assert f"tlscompat scan --starttls smtp localhost:{port}" in finding.evidence


def test_cli_scan_through_the_dialogue(postfix: dm.Daemon, lab_pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from scanner.cli import main

    port = postfix.ports["smtp"]
    rc = main([
        "scan", "--starttls", "smtp", "--probes", "protocols", "--no-db", "--format", "json",
        "--ca-file", str(lab_pki.ca_path), "--no-system-store", "--sni", "localhost", f"127.0.0.1:{port}",
    ])
    out = capsys.readouterr().out
    assert rc in (0, 1)
    doc = json.loads(out)
    [endpoint] = doc["endpoints"]
    assert endpoint["starttls"]["protocol"] == "smtp" and endpoint["starttls"]["outcome"] == "ok"
    assert endpoint["outcome"] == "ok"


def test_inn_nnrpd(nnrpd: dm.Daemon, cert: IssuedCert, lab_pki: Pki) -> None:
    port = nnrpd.ports["nntp"]
    result = _scan(port, "nntp", lab_pki)
    _assert_matches_openssl(result, "nntp", port, cert)
    assert result.starttls is not None and result.starttls.server_version.startswith("INN ")


def test_xrdp(xrdp: dm.Daemon, cert: IssuedCert, lab_pki: Pki) -> None:
    """openssl s_client speaks no RDP: the truth is xrdp's configuration (ssl_protocols
    TLSv1.2, TLSv1.3 and the certificate given)."""
    result = _scan(xrdp.ports["rdp"], "rdp", lab_pki)
    assert result.outcome == "ok", result.detail
    assert result.starttls is not None and result.starttls.server_version == "TLS"
    assert set(result.supported_versions()) == {c.TLS12, c.TLS13}
    assert result.certificates[0].der[0] == cert.cert.public_bytes(Encoding.DER)


def test_slapd_evaluates_simple_binds_without_tls(slapd: dm.Daemon, lab_pki: Pki) -> None:
    """Debian's slapd answers a simple bind sent in plaintext (invalidCredentials for a
    made-up name): passwords are accepted before TLS."""
    result = _scan(slapd.ports["ldap"], "ldap", lab_pki, probes=frozenset({"protocols", "behaviours"}))
    assert result.starttls is not None
    assert result.starttls.plaintext_auth == ("simple bind",)
    assert "resultCode 49 invalidCredentials" in result.starttls.plaintext_detail
    assert "starttls.plaintext_auth" in {f.id for f in result.findings}


def test_slapd_requiring_tls_for_simple_binds(cert: IssuedCert, lab_pki: Pki) -> None:
    """`security simple_bind=1`: slapd answers confidentialityRequired (13) in plaintext."""
    with dm.running(dm.start_slapd(cert, extra="security simple_bind=1")) as d:
        result = _scan(d.ports["ldap"], "ldap", lab_pki, probes=frozenset({"protocols", "behaviours"}))
    assert result.outcome == "ok"
    assert result.starttls is not None and result.starttls.plaintext_auth == ()
    assert "resultCode 13 confidentialityRequired" in result.starttls.plaintext_detail
    assert "starttls.plaintext_auth" not in {f.id for f in result.findings}


def test_simulate_through_the_dialogue(postfix: dm.Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    """`tlscompat simulate smtp://...`: each simulated client speaks SMTP first."""
    import json

    from scanner.cli import main

    assert main(["simulate", "--format", "json", f"smtp://127.0.0.1:{postfix.ports['smtp']}"]) == 0
    doc = json.loads(capsys.readouterr().out)
    text = json.dumps(doc)
    assert '"ok": true' in text
    assert main(["simulate", "--format", "json", f"smtp://127.0.0.1:{postfix.ports['plain']}"]) == 0
    assert "STARTTLS not offered" in capsys.readouterr().out


@pytest.mark.parametrize(("fixture", "key"), [("mariadb", "mysql"), ("prosody", "xmpp")])
def test_scanned_as_plain_tls_the_banner_names_the_dialogue(fixture: str, key: str, request: pytest.FixtureRequest, lab_pki: Pki) -> None:
    daemon: dm.Daemon = request.getfixturevalue(fixture)
    port = daemon.ports[key]
    result = _scan(port, "none", lab_pki, probes=frozenset({"protocols"}))
    assert result.outcome == "not_tls"
    [finding] = [f for f in result.findings if f.id == "port.not_tls"]
    assert f"tlscompat scan --starttls {key} localhost:{port}" in finding.evidence


@pytest.mark.parametrize(("proto", "heard"), [("smtp", "IMAP"), ("pop3", "IMAP")])
def test_the_wrong_dialogue_against_dovecot_names_imap(proto: str, heard: str, dovecot: dm.Daemon, lab_pki: Pki) -> None:
    """Report t1315 point 6: a wrong --starttls is not a refusal; the greeting is named and
    the right --starttls suggested, in one connection, with no TLS finding."""
    result = _scan(dovecot.ports["imap"], proto, lab_pki, deadlines=Deadlines(starttls=3.0))
    assert result.outcome == "starttls_wrong_protocol"
    assert result.starttls is not None and result.starttls.outcome == "wrong_protocol"
    assert result.starttls.detail.startswith(f"the greeting is {heard}, not {proto.upper()}: * OK")
    assert result.starttls.detail.endswith("; to scan it: --starttls imap")
    assert result.stats.connections == 1
    assert {f.id for f in result.findings} == {"starttls.wrong_protocol"}


@pytest.mark.parametrize("proto", ["imap", "ldap", "xmpp", "mysql"])
def test_the_wrong_dialogue_against_postfix_names_smtp(proto: str, postfix: dm.Daemon, lab_pki: Pki) -> None:
    """Report t1315 points 1, 2 and 6: postfix's `220` greeting under another dialogue (one
    that speaks first, LDAP and XMPP, or waits for a greeting of its own) is named SMTP,
    not a refusal, a protocol error or a TCP timeout."""
    result = _scan(postfix.ports["smtp"], proto, lab_pki, deadlines=Deadlines(starttls=3.0))
    assert result.outcome == "starttls_wrong_protocol", result.detail
    assert result.starttls is not None and result.starttls.outcome == "wrong_protocol"
    assert result.starttls.detail.startswith(f"the greeting is SMTP, not {proto.upper()}: 220 mx.test.invalid")
    assert result.starttls.detail.endswith("; to scan it: --starttls smtp")
    assert result.stats.connections == 1
    assert {f.id for f in result.findings} == {"starttls.wrong_protocol"}
