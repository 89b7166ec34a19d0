# The capture reader without a capture tool: real OpenSSL handshakes run in memory (stdlib
# ssl over MemoryBIOs), written as frames by scanner.capture.writer, then cut, reordered,
# duplicated and truncated at the segment level to exercise TCP reassembly and the
# per-connection reading. tests/interop/test_capture_tcpdump.py does the same on tcpdump captures.
from __future__ import annotations

import io
import random
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

from handshakes import constants as c
from scanner.capture.analyze import analyze
from scanner.capture.keylog import load_keylog, parse_keylog
from scanner.capture.packets import CaptureError, ReadStats, read_segments
from scanner.capture.tcp import MAX_PENDING, Reassembler
from scanner.capture.writer import Conversation, PcapngWriter, ssl_conversation
from scanner.cli import main

CLIENT, SERVER = ("10.0.0.1", 50000), ("10.0.0.2", 443)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def contexts(ca: trustme.CA, *, version: ssl.TLSVersion, keylog: Path | None = None, ciphers: str | None = None) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(server)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(client)
    for ctx in (client, server):
        ctx.minimum_version = ctx.maximum_version = version
        if ciphers:
            ctx.set_ciphers(ciphers)
    if keylog is not None:
        client.keylog_filename = str(keylog)
    return client, server


def write(flights: list[tuple[bool, bytes]], *, shuffle: bool = False, duplicate: bool = False, drop_first: int = 0, drop_server_segment: int | None = None, end: str = "close", ts: float = 1_700_000_000.0) -> io.BytesIO:
    buf = io.BytesIO()
    out = PcapngWriter(buf)
    conv = Conversation(out, CLIENT, SERVER, mss=300, ts=ts)
    if not drop_first:
        conv.open()
    server_segment = 0
    for from_client, data in flights:
        segs = conv.segments(from_client, data)
        if drop_first:
            taken = min(drop_first, len(segs))
            segs, drop_first = segs[taken:], drop_first - taken
        if not from_client and drop_server_segment is not None:
            kept = []
            for seq, frame in segs:
                if server_segment != drop_server_segment:
                    kept.append((seq, frame))
                server_segment += 1
            segs = kept
        order = list(segs)
        if shuffle:
            random.Random(7).shuffle(order)
        if duplicate and order:
            order.insert(len(order) // 2, order[0])
        for _, frame in order:
            conv.raw(frame)
    if end == "close":
        conv.close(True)
    elif end == "reset":
        conv.reset(False)
    buf.seek(0)
    return buf


def only(stream: io.BytesIO, **kw: Any) -> Any:
    [r] = list(analyze(stream, **kw))
    return r


# -- TCP reassembly ----------------------------------------------------------------------------


def test_reassembler_orders_trims_and_bounds() -> None:
    r = Reassembler()
    r.syn(2**32 - 3)  # data starts just before the sequence numbers wrap
    base = 2**32 - 2
    assert r.feed((base + 5) % 2**32, b"FGH") == b""  # out of order: waits
    assert r.feed(base, b"ABC") == b"ABC"
    assert r.feed(base + 2, b"CDE") == b"DEFGH"  # overlap trimmed, the waiting bytes follow
    assert r.feed(base, b"ABCDE") == b""  # a retransmission
    assert r.retransmitted == 1
    # A hole that never fills: beyond MAX_PENDING bytes waiting, it is skipped and counted.
    nxt = (base + 8) % 2**32
    chunk = b"x" * 65536
    out = b""
    for i in range(MAX_PENDING // len(chunk) + 1):
        out += r.feed((nxt + 10 + i * len(chunk)) % 2**32, chunk)
    assert r.gaps == 1 and r.lost == 10 and len(out) == (MAX_PENDING // len(chunk) + 1) * len(chunk)


def test_reassembler_midstream() -> None:
    r = Reassembler()
    assert r.feed(12345, b"late") == b"late" and r.midstream


# -- whole connections -----------------------------------------------------------------------


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
@pytest.mark.parametrize("mangle", [{}, {"shuffle": True, "duplicate": True}], ids=["in-order", "shuffled+retransmitted"])
def test_memory_handshake_read_the_same_however_segmented(ca: trustme.CA, version: ssl.TLSVersion, mangle: dict[str, bool]) -> None:
    client, server = contexts(ca, version=version)
    flights = ssl_conversation(client, server, server_hostname="localhost", request=b"GET / HTTP/1.0\r\n\r\n")
    r = only(write(flights, **mangle))
    assert (r.client, r.client_port, r.server, r.server_port) == (*CLIENT, *SERVER)
    assert r.hello is not None and r.hello.sni == "localhost"
    assert r.version == (c.TLS12 if version == ssl.TLSVersion.TLSv1_2 else c.TLS13)
    assert r.stage in ("complete", "application_data") and not r.findings
    assert r.close == "alert" or r.close == "fin"
    assert r.hello.ja3_hash and r.hello.ja4.startswith("t1" + ("2" if version == ssl.TLSVersion.TLSv1_2 else "3") + "d")
    if version == ssl.TLSVersion.TLSv1_2:
        assert r.server_certificates and "trustme" in r.server_certificates[0].subject


def test_capture_starting_mid_connection_and_a_lost_segment(ca: trustme.CA) -> None:
    client, server = contexts(ca, version=ssl.TLSVersion.TLSv1_2)
    flights = ssl_conversation(client, server, server_hostname="localhost")
    # No SYN; the ClientHello and the server's first segment lost: the reading starts at the
    # first whole record in the server's bytes (inside its Certificate) and goes on.
    r = only(write(flights, drop_first=2))
    assert any("starts after the connection" in n for n in r.notes)
    assert any("skipped to the first whole TLS record" in n for n in r.notes)
    assert r.client_port == CLIENT[1] and r.stage == "complete"
    assert [s.what for s in r.steps][:2] == ["server_key_exchange", "ServerHelloDone"]
    r = only(write(flights, drop_server_segment=1))
    assert any("gap" in n or "stop being TLS" in n or "could not be read" in n for n in r.notes)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1 is deprecated:DeprecationWarning")
def test_tls12_and_tls10_keylog(ca: trustme.CA, tmp_path: Path) -> None:
    for version, ciphers in (
        (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA256"),
        (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-CHACHA20-POLY1305"),
        (ssl.TLSVersion.TLSv1, "ECDHE-ECDSA-AES256-SHA:@SECLEVEL=0"),
    ):
        keys = tmp_path / f"{version.name}.keys"
        client, server = contexts(ca, version=version, keylog=keys, ciphers=ciphers)
        flights = ssl_conversation(client, server, server_hostname="localhost", request=b"hello")
        r = only(write(flights), keylog=load_keylog(str(keys)))
        if r.version is None and version == ssl.TLSVersion.TLSv1:
            continue  # this OpenSSL build refuses TLS 1.0 altogether
        assert r.version == version.value
        assert r.keylog == "used", r.notes
        assert [s.what for s in r.steps if s.what.startswith("Finished")] == ["Finished (decrypted)"] * 2
        assert ("client", 1, 0) in [(a.sender, a.level, a.description) for a in r.alerts]


def test_who_closed_first_does_not_depend_on_the_keylog(ca: trustme.CA, tmp_path: Path) -> None:
    """The server's close_notify comes first, then the client's FIN: the server closed, read
    as an encrypted alert without keys and as close_notify with them (RFC 8446 section 6.1)."""
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        keys = tmp_path / f"{version.name}.keys"
        client, server = contexts(ca, version=version, keylog=keys)
        flights = ssl_conversation(client, server, server_hostname="localhost", request=b"hello")
        *head, (c_first, c_notify), (s_first, s_notify) = flights
        assert c_first and not s_first
        flights = [*head, (False, s_notify)]  # the server's close_notify, then the client's FIN
        plain, opened = only(write(flights)), only(write(flights), keylog=load_keylog(str(keys)))
        assert opened.keylog == "used"
        assert (plain.closed_by, plain.close) == (opened.closed_by, opened.close) == ("server", "alert")
        assert plain.close_frame == opened.close_frame
        assert [a.description for a in opened.alerts] == [0]


def test_server_reset_after_client_hello(ca: trustme.CA) -> None:
    client, _ = contexts(ca, version=ssl.TLSVersion.TLSv1_3)
    bio_in, bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client.wrap_bio(bio_in, bio_out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    r = only(write([(True, bio_out.read())], end="reset"))
    assert {f.id for f in r.findings} == {"handshake.aborted"}


LDAP_STARTTLS = bytes.fromhex("301d02010177188016") + b"1.3.6.1.4.1.1466.20037"
LDAP_SUCCESS = bytes.fromhex("300c02010178070a010004000400")


@pytest.mark.parametrize(
    ("name", "plain"),
    [
        ("smtp", [(False, b"220 mail.example ESMTP\r\n"), (True, b"EHLO me\r\n"), (False, b"250-mail.example\r\n250 STARTTLS\r\n"), (True, b"STARTTLS\r\n"), (False, b"220 2.0.0 Ready to start TLS\r\n")]),
        ("imap", [(False, b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"), (True, b"a1 STARTTLS\r\n"), (False, b"a1 OK Begin TLS negotiation now\r\n")]),
        ("ldap", [(True, LDAP_STARTTLS), (False, LDAP_SUCCESS)]),
    ],
)
def test_starttls(ca: trustme.CA, name: str, plain: list[tuple[bool, bytes]]) -> None:
    client, server = contexts(ca, version=ssl.TLSVersion.TLSv1_3)
    tls = ssl_conversation(client, server, server_hostname="localhost")
    r = only(write(plain + tls))
    assert r.starttls == name and r.version == c.TLS13 and r.hello.sni == "localhost"
    assert r.client_port == CLIENT[1] and r.stage in ("complete", "application_data")


@pytest.mark.parametrize(
    ("name", "plain", "reply"),
    [
        ("smtp", [(False, b"220 mx ESMTP\r\n"), (True, b"EHLO me\r\n"), (False, b"250-mx\r\n250 STARTTLS\r\n"), (True, b"STARTTLS\r\n"), (False, b"454 4.7.0 TLS not available\r\n")], b"502 no\r\n"),
        ("imap", [(False, b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"), (True, b"a1 STARTTLS\r\n"), (False, b"a1 NO not now\r\n")], b"* BAD what\r\n"),
    ],
)
def test_starttls_refused_then_plain_answer(ca: trustme.CA, name: str, plain: list[tuple[bool, bytes]], reply: bytes) -> None:
    """The server refuses STARTTLS; the client (as openssl s_client -starttls does) sends its
    ClientHello anyway and gets plain text back: starttls.refused quoting the refusal, and
    the timeline shows the refusal and the plain answer."""
    client, server = contexts(ca, version=ssl.TLSVersion.TLSv1_3)
    hello = ssl_conversation(client, server, server_hostname="localhost")[0]
    assert hello[0]
    r = only(write([*plain, hello, (False, reply)]))
    refusal = plain[-1][1].decode().strip()
    assert r.starttls == name and r.starttls_refused == repr(refusal)
    assert [f.id for f in r.findings] == ["starttls.refused"]
    assert refusal in r.findings[0].evidence and "sent its ClientHello anyway" in r.findings[0].evidence
    whats = [(s.sender, s.what) for s in r.steps]
    assert ("server", f"refused STARTTLS: {refusal!r}") in whats
    assert ("server", f"not TLS: {reply.decode().strip()!r}") in whats
    assert r.not_tls is not None
    # A STARTTLS accepted is not a refusal (test_starttls), nor is an SMTP 250 before it.
    ok = [(False, b"220 mx\r\n"), (True, b"STARTTLS\r\n"), (False, b"220 go ahead\r\n")]
    assert only(write([*ok, hello])).starttls_refused is None
    # A refusal of another command is not a refusal of STARTTLS.
    other = [(False, b"220 mx\r\n"), (True, b"VRFY root\r\n"), (False, b"502 no VRFY\r\n")]
    assert only(write([*other, hello])).starttls_refused is None


def test_refused_and_unanswered_syn() -> None:
    buf = io.BytesIO()
    out = PcapngWriter(buf)
    conv = Conversation(out, CLIENT, SERVER)
    conv.raw(conv._segment(True, 0x02))
    conv.reset(False)
    other = Conversation(out, ("10.0.0.1", 50001), SERVER)
    other.raw(other._segment(True, 0x02))
    buf.seek(0)
    rs = list(analyze(buf))
    assert [{f.id for f in r.findings} for r in rs] == [{"port.closed"}, {"port.timeout"}]


def test_not_a_capture_and_bad_keylog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CaptureError):
        read_segments(io.BytesIO(b"hello world, not a pcap"))
    bad = tmp_path / "x.pcap"
    bad.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 3)
    assert main(["explain", str(bad)]) == 2
    assert "cut-off capture" in capsys.readouterr().err
    keylog = tmp_path / "keys"
    keylog.write_text("CLIENT_RANDOM zz 00\n")
    good = tmp_path / "ok.pcapng"
    good.write_bytes(write([]).getvalue())
    assert main(["explain", "--keylog", str(keylog), str(good)]) == 2
    err = capsys.readouterr().err
    assert "line 1" in err and err.count("\n") == 1
    with pytest.raises(ValueError, match="line 2"):
        parse_keylog("# comment\nSERVER_HANDSHAKE_TRAFFIC_SECRET 00 00\n")
    keylog.write_text("")  # an empty file is not a key log either (docs/capture.md)
    assert main(["explain", "--keylog", str(keylog), str(good)]) == 2
    assert "not a key log" in capsys.readouterr().err


def test_keylog_read_leniently_like_wireshark(ca: trustme.CA, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown labels (draft-ietf-tls-keylogfile's ECH_SECRET, ECH_CONFIG), a UTF-8 BOM and a
    cut-off last line are skipped with a note; the valid lines still decrypt."""
    keys = tmp_path / "keys.log"
    client, server = contexts(ca, version=ssl.TLSVersion.TLSv1_3, keylog=keys)
    flights = ssl_conversation(client, server, server_hostname="localhost", request=b"hello")
    good = keys.read_text()
    cr = good.split()[good.split().index("CLIENT_TRAFFIC_SECRET_0") + 1]
    keys.write_bytes(
        b"\xef\xbb\xbf# keys\n" + good.encode()
        + f"ECH_SECRET {cr} {'ab' * 32}\nECH_CONFIG {cr} {'ab' * 40}\nCLIENT_RANDOM {cr[:20]}".encode()
    )
    cap = tmp_path / "c.pcapng"
    cap.write_bytes(write(flights).getvalue())
    assert main(["explain", "--format", "summary", "--keylog", str(keys), str(cap)]) == 0
    out = capsys.readouterr().out
    assert "3 lines skipped" in out and "'ECH_SECRET' not used here" in out and "cut-off" in out
    assert only(write(flights), keylog=load_keylog(str(keys))).keylog == "used"


def test_broken_blocks_get_readable_notes() -> None:
    """An absurd pcap caplen, a pcapng block length of 0xFFFFFFFC or of 5, and a cut-off last
    frame: each stops the reading with a note in words, never Python's own message."""
    import struct

    pcap_head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    frame = b"\x00" * 60
    record = struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame
    ok_ng = write([]).getvalue()  # a section header and an interface description

    def notes(data: bytes) -> list[str]:
        stats = ReadStats()
        for _ in read_segments(io.BytesIO(data), stats):
            pass
        return stats.notes

    n = notes(pcap_head + record + struct.pack("<IIII", 1, 0, 0xFFFFFFF0, 0xFFFFFFF0) + b"x" * 100)
    assert n == ["a broken capture file: the block after frame 1 announces 4294967280 bytes (more than 64 MB); the rest of the file was not read"]
    n = notes(ok_ng + struct.pack("<II", 0x0BAD, 12) + b"\x00" * 4 + struct.pack("<II", 6, 0xFFFFFFFC) + b"\x00" * 40)
    assert len(n) == 1 and "announces 4294967284 bytes (more than 64 MB)" in n[0]
    n = notes(ok_ng + struct.pack("<II", 6, 5))
    assert len(n) == 1 and "a negative length (-3)" in n[0]
    n = notes(pcap_head + record + record[:30])
    assert n == ["the capture file is cut off: its last block has 14 of the 60 bytes it announces"]
    for note in n:
        assert "()" not in note


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.binary(min_size=1, max_size=400)), max_size=8))
def test_arbitrary_bytes_never_raise(flights: list[tuple[bool, bytes]]) -> None:
    rs = list(analyze(write(flights), tls_only=False))
    assert len(rs) <= 1


def test_explain_hex_frame_peeled_by_dpkt() -> None:
    """`tlscompat explain HEX` of a whole frame: IPv6 over a VLAN-tagged Ethernet frame and
    IPv4 in a Linux cooked capture, both holding seed 004's alert record."""
    import dpkt

    from scanner.explain import explain

    alert = bytes.fromhex("1503010002022a")
    tcp = dpkt.tcp.TCP(sport=5443, dport=1100, flags=0x18, off=5, data=alert)
    ip6 = dpkt.ip6.IP6(src=bytes(15) + b"\x01", dst=bytes(15) + b"\x02", nxt=6, hlim=64, data=tcp, plen=len(tcp))
    vlan = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=0x86DD, vlan_tags=[dpkt.ethernet.VLANtag8021Q(id=5)], data=ip6)
    text = explain(bytes(vlan).hex())
    assert "Ethernet (VLAN) + IPv6 + TCP headers (78 bytes) peeled off: ::1 port 5443 -> ::2 port 1100" in text
    assert "bad_certificate (42)" in text
    ip4 = dpkt.ip.IP(src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02", p=6, data=tcp)
    sll = dpkt.sll.SLL(type=0, hrd=1, hlen=6, hdr=b"\x02" * 6 + b"\x00\x00", ethtype=0x0800, data=ip4)
    text = explain(bytes(sll).hex())
    assert "Linux cooked capture + IPv4 + TCP headers (56 bytes) peeled off: 10.0.0.1 port 5443" in text


def test_fast_path_agrees_with_dpkt(ca: trustme.CA) -> None:
    import dpkt

    from scanner.capture.packets import _fast_ethernet_ipv4_tcp

    client, server = contexts(ca, version=ssl.TLSVersion.TLSv1_3)
    stream = write(ssl_conversation(client, server, server_hostname="localhost"))
    frames = [buf for _, buf in dpkt.pcapng.Reader(stream)]
    frames.append(frames[5][:-3])  # a frame cut short: the fast path declines it
    for buf in frames:
        fast = _fast_ethernet_ipv4_tcp(buf)
        ip = dpkt.ethernet.Ethernet(buf).data
        tcp = ip.data
        if fast is None:
            assert len(buf) < 14 + ip.len or len(buf) < 54
            continue
        assert fast == (bytes(ip.src), tcp.sport, bytes(ip.dst), tcp.dport, tcp.seq, tcp.ack, tcp.flags, bytes(tcp.data))


def test_lab_records_seed_004_into_a_pcapng(tmp_path: Path) -> None:
    """The demo's capture: the lab's relay writes both directions, no capture tool needed."""
    from scanner.lab.capture_demo import run_capture_demo

    out = io.StringIO()
    path = tmp_path / "seed-004.pcapng"
    assert run_capture_demo(out, path), out.getvalue()
    assert path.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    assert "fatal bad_certificate (42)" in out.getvalue()
    assert main(["explain", "--format", "summary", str(path)]) == 0


def test_no_common_suite_sni_refused_and_intolerance(ca: trustme.CA) -> None:
    # No suite in common: the server answers the ClientHello with handshake_failure (40).
    client, server = contexts(ca, version=ssl.TLSVersion.TLSv1_2)
    client.set_ciphers("ECDHE-ECDSA-AES128-SHA")
    server.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
    r = only(write(ssl_conversation(client, server, server_hostname="localhost")))
    assert r.alerts[0].description == 40 and {f.id for f in r.findings} == {"cipher.no_common_suite"}
    # A name the server does not serve: unrecognized_name (112).
    client, server = contexts(ca, version=ssl.TLSVersion.TLSv1_3)
    server.sni_callback = lambda *_: ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    r = only(write(ssl_conversation(client, server, server_hostname="localhost")))
    assert {f.id for f in r.findings} == {"sni.required"}
    # A TLS 1.3 hello reset by the server, then a TLS 1.2 retry that works: a note on the retry.
    hello13 = [ssl_conversation(*contexts(ca, version=ssl.TLSVersion.TLSv1_3), server_hostname="localhost")[0]]
    ok12 = ssl_conversation(*contexts(ca, version=ssl.TLSVersion.TLSv1_2), server_hostname="localhost")
    buf = io.BytesIO()
    out = PcapngWriter(buf)
    for port, flights, end in ((50000, hello13, "reset"), (50001, ok12, "close")):
        conv = Conversation(out, ("10.0.0.1", port), SERVER)
        conv.open()
        for from_client, data in flights:
            conv.send(from_client, data)
        conv.reset(False) if end == "reset" else conv.close(True)
    buf.seek(0)
    first, second = analyze(buf)
    assert {f.id for f in first.findings} == {"handshake.aborted"}
    assert any("intolerance" in n for n in second.notes)


def test_cli_json_matches_the_schema_and_hex_still_works(ca: trustme.CA, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import jsonschema

    keys = tmp_path / "keys"
    client, server = contexts(ca, version=ssl.TLSVersion.TLSv1_3, keylog=keys)
    path = tmp_path / "c.pcapng"
    path.write_bytes(write(ssl_conversation(client, server, server_hostname="localhost")).getvalue())
    assert main(["explain", "--format", "json", "--keylog", str(keys), str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    schema = json.loads((Path(__file__).parents[2] / "docs" / "capture.schema.json").read_text())
    jsonschema.validate(doc, schema)
    [conn] = doc["connections"]
    assert conn["keylog"] == "used" and conn["server_certificates"] and doc["totals"]["connections"] == 1
    # Hex on stdin (text, no capture magic) is decoded as before.
    monkeypatch.setattr("sys.stdin", io.StringIO("15 03 01 00 02 02 2A\n"))
    assert main(["explain"]) == 0
    assert "bad_certificate (42)" in capsys.readouterr().out
    assert main(["explain", "--keylog", str(keys), "15030100020228"]) == 2


def test_idle_connections_are_reported_on_the_way(monkeypatch: pytest.MonkeyPatch) -> None:
    import scanner.capture.analyze as analyze_module

    monkeypatch.setattr(analyze_module, "_SWEEP_EVERY", 1)
    buf = io.BytesIO()
    out = PcapngWriter(buf)
    first = Conversation(out, CLIENT, SERVER, ts=1000.0)
    first.raw(first._segment(True, 0x02))  # a SYN never answered, at t=1000
    later = Conversation(out, ("10.0.0.1", 50001), SERVER, ts=2000.0)
    later.open()  # 1000 s later: the first one is reported before the capture ends
    buf.seek(0)
    got = []
    for report in analyze(buf, tls_only=False):
        got.append(report.client_port)
        if len(got) == 1:
            assert report.client_port == 50000 and {f.id for f in report.findings} == {"port.timeout"}
    assert got == [50000, 50001]


def test_ja3_and_ja4_match_published_values() -> None:
    """A Chrome 143 ClientHello as a fingerprinting service reported it (JA3 text and hash,
    JA4 and its raw form): our functions give the same strings."""
    from types import SimpleNamespace

    from scanner.capture.fingerprint import ja3, ja4

    suites = (4865, 4866, 4867, 49195, 49199, 49196, 49200, 52393, 52392, 49171, 49172, 156, 157, 47, 53)
    exts = (45, 51, 16, 65037, 23, 17613, 0, 11, 10, 43, 65281, 35, 18, 5, 13, 27)
    sigalgs = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
    hello = SimpleNamespace(
        legacy_version=771,
        cipher_suites=(0x0A0A, *suites),  # GREASE is left out of both
        extensions=tuple((t, b"") for t in (0x1A1A, *exts)),
        groups=lambda: (0x2A2A, 4588, 29, 23, 24),
        ec_point_formats=lambda: (0,),
        supported_versions=lambda: (0x3A3A, 0x0304, 0x0303),
        extension=lambda t: b"x" if t in exts else None,
        alpn=lambda: ("h2", "http/1.1"),
        signature_algorithms=lambda: sigalgs,
    )
    text, digest = ja3(hello)
    assert text == (
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
        "45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0"
    )
    assert digest == "98487aa16281980e7d1120d399efb6a4"
    assert ja4(hello) == "t13d1516h2_8daaf6152771_d8a2da3f94cd"


def test_server_certificate_findings(ca: trustme.CA) -> None:
    # The client asks for a name the certificate does not hold (and does not check it).
    client, server = contexts(ca, version=ssl.TLSVersion.TLSv1_2)
    client.check_hostname = False
    flights = ssl_conversation(client, server, server_hostname="other.example")
    r = only(write(flights))
    assert r.leaf_matches_sni is False and {f.id for f in r.findings} == {"cert.hostname_mismatch"}
    assert "localhost" in r.findings[0].evidence
    # trustme certificates are valid from 2000 to 3000: captured in 3003, then in 1999.
    assert {f.id for f in only(write(flights, ts=32_600_000_000.0)).findings} >= {"cert.expired"}
    assert {f.id for f in only(write(flights, ts=900_000_000.0)).findings} >= {"cert.not_yet_valid"}
    # A client that does not trust the server's CA refuses it with unknown_ca (48).
    client, server = contexts(ca, version=ssl.TLSVersion.TLSv1_2)
    other = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    trustme.CA().configure_trust(other)
    r = only(write(ssl_conversation(other, server, server_hostname="localhost")))
    assert r.alerts[0].sender == "client" and r.alerts[0].description == 48
    assert {f.id for f in r.findings} == {"cert.untrusted_root"}


def test_explain_a_file_of_hex_or_of_neither(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hexfile = tmp_path / "frame.txt"
    hexfile.write_text("15 03 01 00 02 02 2A\n")
    assert main(["explain", str(hexfile)]) == 0
    assert "bad_certificate (42)" in capsys.readouterr().out
    other = tmp_path / "notes.txt"
    other.write_text("hello, this is no capture\n")
    assert main(["explain", str(other)]) == 2
    err = capsys.readouterr().err
    assert "neither a pcap/pcapng capture nor hex text" in err and err.count("\n") == 1
