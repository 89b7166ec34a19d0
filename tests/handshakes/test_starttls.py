# The sans-IO pre-TLS dialogues (handshakes/starttls): each fed a server's side of a real
# exchange whole, one byte at a time, and arbitrary bytes (only RemoteProtocolError may
# come out). The server transcripts are the shapes the cited RFCs give; the real daemons
# are in tests/interop/test_starttls_daemons.py.
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handshakes.errors import RemoteProtocolError
from handshakes.starttls import (
    DIALOGUES,
    NOT_OFFERED,
    REFUSED,
    THROTTLED,
    Failed,
    Ready,
    State,
    make_dialogue,
)
from handshakes.starttls.ldap import start_tls_request
from handshakes.starttls.mysql import CLIENT_SSL
from handshakes.starttls.rdp import connection_request


def _run(name: str, replies: list[bytes], *, bytewise: bool = False, domain: str = "example.test") -> tuple[list[object], list[bytes]]:
    """Feed the server's replies in order (each after we sent something, or at once);
    returns (events, what we sent)."""
    d = make_dialogue(name, domain=domain)
    sent = [d.initiate()]
    events: list[object] = []
    for reply in replies:
        chunks = [reply[i : i + 1] for i in range(len(reply))] if bytewise and reply else [reply]
        for chunk in chunks:
            events += d.receive_data(chunk)
            out = d.data_to_send()
            if out:
                sent.append(out)
        if d.state is not State.TALKING:
            break
    return events, [s for s in sent if s]


def _mysql_greeting(caps: int) -> bytes:
    payload = b"\x0a" + b"10.11.19-MariaDB\x00" + struct.pack("<I", 7) + b"12345678" + b"\x00"
    payload += struct.pack("<H", caps & 0xFFFF) + b"\x21" + b"\x02\x00" + struct.pack("<H", caps >> 16) + b"\x15" + bytes(10)
    return len(payload).to_bytes(3, "little") + b"\x00" + payload


def _ldap_response(code: int, message: bytes = b"") -> bytes:
    result = bytes((0x0A, 1, code)) + b"\x04\x00" + bytes((0x04, len(message))) + message
    op = bytes((0x78, len(result))) + result
    body = b"\x02\x01\x01" + op
    return bytes((0x30, len(body))) + body


CASES: dict[str, tuple[str, list[bytes], str | None]] = {
    # name: (dialogue, server replies, expected failure kind or None for Ready)
    "smtp": ("smtp", [b"220 mx.example.test ESMTP\r\n", b"250-mx.example.test\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n", b"220 2.0.0 Ready to start TLS\r\n"], None),
    "smtp-not-offered": ("smtp", [b"220 mx ESMTP\r\n", b"250-mx\r\n250 PIPELINING\r\n"], NOT_OFFERED),
    "smtp-454": ("smtp", [b"220 mx ESMTP\r\n", b"250-mx\r\n250 STARTTLS\r\n", b"454 4.7.0 TLS not available due to local problem\r\n"], REFUSED),
    "smtp-421": ("smtp", [b"421 4.7.0 mx Error: too many connections from 192.0.2.1\r\n"], THROTTLED),
    "smtp-closed": ("smtp", [b"220 mx ESMTP\r\n", b""], THROTTLED),
    "lmtp": ("lmtp", [b"220 mx LMTP\r\n", b"250-mx\r\n250 STARTTLS\r\n", b"220 go ahead\r\n"], None),
    "imap": ("imap", [b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n", b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\nA1 OK done\r\n", b"A2 OK Begin TLS\r\n"], None),
    "imap-bye": ("imap", [b"* BYE Too many connections\r\n"], THROTTLED),
    "imap-not-offered": ("imap", [b"* OK ready\r\n", b"* CAPABILITY IMAP4rev1\r\nA1 OK done\r\n"], NOT_OFFERED),
    "pop3": ("pop3", [b"+OK ready\r\n", b"+OK\r\nUSER\r\nSTLS\r\n.\r\n", b"+OK Begin TLS\r\n"], None),
    "pop3-no-capa": ("pop3", [b"+OK ready\r\n", b"-ERR unknown command\r\n", b"-ERR unknown command\r\n"], NOT_OFFERED),
    "sieve": ("sieve", [b'"IMPLEMENTATION" "x"\r\n"SASL" "PLAIN"\r\n"STARTTLS"\r\nOK "ready"\r\n', b'OK "Begin TLS"\r\n'], None),
    "nntp": ("nntp", [b"200 news ready\r\n", b"101 Capability list:\r\nVERSION 2\r\nSTARTTLS\r\n.\r\n", b"382 Continue with TLS negotiation\r\n"], None),
    "nntp-400": ("nntp", [b"400 Service temporarily unavailable\r\n"], THROTTLED),
    "ftp": ("ftp", [b"220-Welcome\r\n220 FTP ready\r\n", b"234 Proceed with negotiation.\r\n"], None),
    "ftp-not-offered": ("ftp", [b"220 FTP ready\r\n", b"500 AUTH not understood\r\n"], NOT_OFFERED),
    "ldap": ("ldap", [_ldap_response(0)], None),
    "ldap-protocol-error": ("ldap", [_ldap_response(2, b"unsupported extended operation")], NOT_OFFERED),
    "ldap-busy": ("ldap", [_ldap_response(51)], THROTTLED),
    "xmpp": ("xmpp", [
        b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='1' from='example.test' version='1.0'>"
        b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>",
        b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    ], None),
    "xmpp-host-unknown": ("xmpp", [
        b"<?xml version='1.0'?><stream:stream version='1.0'><stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>",
    ], REFUSED),
    "xmpp-not-offered": ("xmpp-server", [
        b"<stream:stream version='1.0'><stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>",
    ], NOT_OFFERED),
    "postgres": ("postgres", [b"S"], None),
    "postgres-n": ("postgres", [b"N"], NOT_OFFERED),
    "mysql": ("mysql", [_mysql_greeting(0xF7FF | CLIENT_SSL)], None),
    "mysql-no-ssl": ("mysql", [_mysql_greeting(0xF7FF & ~CLIENT_SSL)], NOT_OFFERED),
    "mysql-1040": ("mysql", [b"\x17\x00\x00\x00\xff\x10\x04Too many connections"], THROTTLED),
    "rdp": ("rdp", [b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x1f\x08\x00\x01\x00\x00\x00"], None),
    "rdp-failure": ("rdp", [b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x03\x00\x08\x00\x05\x00\x00\x00"], REFUSED),
}


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_dialogue(case: str, bytewise: bool) -> None:
    name, replies, failure = CASES[case]
    events, _ = _run(name, replies, bytewise=bytewise)
    assert len(events) == 1
    event = events[0]
    if failure is None:
        assert isinstance(event, Ready), event
    else:
        assert isinstance(event, Failed), event
        assert event.kind == failure
        assert event.detail.isprintable()


def test_smtp_sends_ehlo_then_starttls_and_records_facts() -> None:
    events, sent = _run("smtp", CASES["smtp"][1])
    assert sent == [b"EHLO tlscompat.invalid\r\n", b"STARTTLS\r\n"]
    [ready] = events
    assert isinstance(ready, Ready)
    assert ready.facts.banner == "220 mx.example.test ESMTP"
    assert ready.facts.capabilities == ("AUTH PLAIN LOGIN", "STARTTLS")
    assert ready.facts.plaintext_auth == ("PLAIN", "LOGIN")


def test_smtp_not_offered_lists_what_ehlo_offers() -> None:
    [failed], _ = _run("smtp", CASES["smtp-not-offered"][1])
    assert isinstance(failed, Failed)
    assert failed.detail == "STARTTLS not offered (EHLO lists: PIPELINING)"
    assert failed.words == b"250-mx\r\n250 PIPELINING\r\n"


def test_smtp_454_keeps_the_servers_words() -> None:
    [failed], _ = _run("smtp", CASES["smtp-454"][1])
    assert isinstance(failed, Failed)
    assert failed.words == b"454 4.7.0 TLS not available due to local problem\r\n"
    assert "454 4.7.0 TLS not available" in failed.detail


def test_imap_logindisabled_means_no_plaintext_login() -> None:
    [ready], sent = _run("imap", CASES["imap"][1])
    assert isinstance(ready, Ready)
    assert ready.facts.plaintext_auth == ()
    assert sent == [b"A1 CAPABILITY\r\n", b"A2 STARTTLS\r\n"]


def test_ldap_request_bytes() -> None:
    # RFC 4511 section 4.14.1: LDAPMessage { messageID 1, [APPLICATION 23] { [0] OID } }
    assert start_tls_request() == bytes.fromhex("301d02010177188016") + b"1.3.6.1.4.1.1466.20037"


def test_rdp_request_bytes() -> None:
    # TPKT(3, 0, 19) + X.224 CR (LI 14) + RDP_NEG_REQ (type 1, length 8, PROTOCOL_SSL)
    assert connection_request() == bytes.fromhex("030000130ee000000000000100080001000000")


def test_mysql_sends_the_ssl_request_as_packet_1() -> None:
    events, sent = _run("mysql", CASES["mysql"][1])
    assert isinstance(events[0], Ready)
    assert events[0].facts.server_version == "10.11.19-MariaDB"
    req = sent[-1]
    assert len(req) == 4 + 32 and req[3] == 1
    assert struct.unpack("<I", req[4:8])[0] & CLIENT_SSL


def test_xmpp_opens_the_stream_to_the_domain_escaped() -> None:
    d = make_dialogue("xmpp", domain="a'b.example")
    first = d.initiate()
    assert b"to='a&#x27;b.example'" in first
    assert b"xmlns='jabber:client'" in first


def test_leftover_bytes_after_the_go_ahead_are_kept() -> None:
    d = make_dialogue("postgres")
    d.initiate()
    [ready] = d.receive_data(b"S\x16\x03\x03")
    assert isinstance(ready, Ready)
    assert d.leftover == b"\x16\x03\x03"


def test_a_line_without_end_is_bounded() -> None:
    d = make_dialogue("smtp")
    d.initiate()
    with pytest.raises(RemoteProtocolError):
        for _ in range(20):
            d.receive_data(b"x" * 1000)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(DIALOGUES)), data=st.lists(st.binary(max_size=300), max_size=8))
def test_arbitrary_bytes_only_raise_remote_protocol_error(name: str, data: list[bytes]) -> None:
    d = make_dialogue(name, domain="example.test")
    d.initiate()
    try:
        for chunk in [*data, b""]:
            d.receive_data(chunk)
            d.data_to_send()
            if d.state is not State.TALKING:
                break
    except RemoteProtocolError:
        return
    assert d.state is not State.TALKING or not data


@pytest.mark.parametrize("name", ["smtp", "imap", "pop3", "ftp"])
def test_inject_pipelines_a_harmless_command_after_the_request(name: str) -> None:
    from handshakes.starttls import injectable

    assert injectable(name)
    case = {"smtp": "smtp", "imap": "imap", "pop3": "pop3", "ftp": "ftp"}[name]
    d = make_dialogue(name, inject=True)
    sent = [d.initiate()]
    for reply in CASES[case][1][:-1]:
        d.receive_data(reply)
        sent.append(d.data_to_send())
    assert sent[-1].endswith(d.INJECT) and len(sent[-1]) > len(d.INJECT)
    assert not injectable("ldap") and not injectable("postgres")


def test_ldap_root_dse_and_bind_encodings() -> None:
    from handshakes.starttls.ldap import (
        entry_values,
        message_length,
        result_of,
        root_dse_request,
        simple_bind_request,
    )

    req = root_dse_request()
    assert message_length(req) == len(req)
    # RFC 4511 section 4.5.1: [APPLICATION 3], base "", baseObject, (objectClass=*) as present [7]
    assert req[5] == 0x63 and b"\x87\x0bobjectClass" in req and b"namingContexts" in req
    bind = simple_bind_request(b"cn=x,dc=example", b"pw", message_id=2)
    assert bind == bytes.fromhex("301d020102601802010304") + bytes((15,)) + b"cn=x,dc=example" + b"\x80\x02pw"
    # A SearchResultEntry with namingContexts, then a BindResponse invalidCredentials (49).
    vals = b"\x04\x0fdc=example,dc=o"
    attr = b"\x30" + bytes([2 + 14 + 2 + len(vals)]) + b"\x04\x0enamingContexts" + b"\x31" + bytes((len(vals),)) + vals
    entry = b"\x64" + bytes([2 + 2 + len(attr)]) + b"\x04\x00" + b"\x30" + bytes((len(attr),)) + attr
    msg = b"\x30" + bytes([3 + len(entry)]) + b"\x02\x01\x01" + entry
    assert entry_values(msg, b"namingcontexts") == [b"dc=example,dc=o"]
    resp = bytes.fromhex("300c02010261070a013104000400")
    assert entry_values(resp, b"namingContexts") is None
    assert result_of(resp) == (0x61, 49, b"")


def test_an_xmpp_stream_header_is_recognised_as_xmpp() -> None:
    from handshakes.server_flight import identify_protocol

    assert identify_protocol(b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'") == "xmpp"
    assert identify_protocol(b"<?xml version='1.0'?><html>") == "html"


# The text dialogues share one script (_base.LineDialogue): the same words for the same
# verdict, whatever the protocol.
NOT_OFFERED_DETAILS = {
    # name: (dialogue, server replies, detail, words)
    "smtp": ("smtp", CASES["smtp-not-offered"][1], "STARTTLS not offered (EHLO lists: PIPELINING)", b"250-mx\r\n250 PIPELINING\r\n"),
    "imap": ("imap", CASES["imap-not-offered"][1], "STARTTLS not offered (CAPABILITY lists: IMAP4rev1)", b"* CAPABILITY IMAP4rev1\r\nA1 OK done\r\n"),
    "sieve": ("sieve", [b'"IMPLEMENTATION" "x"\r\n"SASL" "PLAIN"\r\nOK\r\n'], "STARTTLS not offered (the greeting lists: IMPLEMENTATION, SASL)", b'"IMPLEMENTATION" "x"\r\n"SASL" "PLAIN"\r\nOK\r\n'),
    "ftp": ("ftp", CASES["ftp-not-offered"][1], "AUTH TLS not offered: 500 AUTH not understood", b"500 AUTH not understood\r\n"),
    "pop3": ("pop3", CASES["pop3-no-capa"][1], "STLS not offered: -ERR unknown command (and CAPA answered -ERR unknown command)", b"-ERR unknown command\r\n" * 2),
    "nntp": ("nntp", [b"200 news\r\n", b"500 unknown\r\n", b"502 no\r\n"], "STARTTLS not offered: 502 no (and CAPABILITIES answered 500 unknown)", b"500 unknown\r\n502 no\r\n"),
}


@pytest.mark.parametrize("case", sorted(NOT_OFFERED_DETAILS))
def test_not_offered_says_what_the_server_listed_or_answered(case: str) -> None:
    name, replies, detail, words = NOT_OFFERED_DETAILS[case]
    [failed], _ = _run(name, replies)
    assert isinstance(failed, Failed)
    assert (failed.kind, failed.detail, failed.words) == (NOT_OFFERED, detail, words)


@pytest.mark.parametrize(
    ("name", "replies", "kind", "detail"),
    [
        ("smtp", [b"421 4.7.0 try again later\r\n"], THROTTLED, "greeting: 421 4.7.0 try again later"),
        ("smtp", [b"220 mx\r\n", b"550 go away\r\n"], REFUSED, "EHLO: 550 go away"),
        ("nntp", [b"200 news\r\n", b"101 caps\r\nSTARTTLS\r\n.\r\n", b"400 busy\r\n"], THROTTLED, "STARTTLS answered 400 busy"),
        ("imap", [b"* OK hi\r\n", b"* CAPABILITY STARTTLS\r\nA1 OK\r\n", b"* BYE too many connections\r\n"], THROTTLED, "STARTTLS answered * BYE too many connections"),
        ("imap", [b"* OK hi\r\n", b"* CAPABILITY STARTTLS\r\nA1 OK\r\n", b"A2 NO not now\r\n"], REFUSED, "STARTTLS answered A2 NO not now"),
        ("sieve", [b'"STARTTLS"\r\nNO "too many connections"\r\n'], THROTTLED, 'greeting: NO "too many connections"'),
        ("pop3", [b"+OK hi\r\n", b"+OK\r\nSTLS\r\n.\r\n", b"-ERR no\r\n"], REFUSED, "STLS answered -ERR no"),
    ],
)
def test_a_refusal_is_throttled_by_its_code_or_words(name: str, replies: list[bytes], kind: str, detail: str) -> None:
    [failed], _ = _run(name, replies)
    assert isinstance(failed, Failed)
    assert (failed.kind, failed.detail) == (kind, detail)


def test_a_long_form_ber_length_is_read_byte_by_byte() -> None:
    # X.690 section 8.1.3.5: a diagnosticMessage of 200 bytes makes the message length long form.
    result = bytes((0x0A, 1, 52)) + b"\x04\x00" + b"\x04\x81\xc8" + b"x" * 200
    op = b"\x78\x81" + bytes((len(result),)) + result
    body = b"\x02\x01\x01" + op
    long_form = b"\x30\x81" + bytes((len(body),)) + body
    [failed], _ = _run("ldap", [long_form], bytewise=True)
    assert isinstance(failed, Failed)
    assert failed.kind == THROTTLED and failed.words == long_form
    assert "resultCode 52 unavailable" in failed.detail
