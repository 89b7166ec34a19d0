"""HandshakeProbe against byte-annotated server flights.

Every flight is fed three ways (whole, one byte at a time, split at every record boundary)
and must give the same events. A TLS 1.3 flight is encrypted here with the RFC 8446 key
schedule as a server would, so the probe's decryption is checked end to end.
"""

from __future__ import annotations

import dataclasses
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519
from hypothesis import given, settings
from hypothesis import strategies as st

from handshakes import constants as c
from handshakes import events as ev
from handshakes.client_hello import ClientHelloSpec, encode_client_hello
from handshakes.errors import RemoteProtocolError
from handshakes.keyshare import KeySharePool, generate_key_share
from handshakes.server_flight import HandshakeProbe, ProbeState, identify_protocol
from handshakes.tls13 import (
    RecordProtection,
    handshake_secrets,
    hrr_transcript_prefix,
    transcript_hash,
)


def h(text: str) -> bytes:
    """Hex with spaces and '#' comments, one field per line."""
    return bytes.fromhex("".join(line.split("#")[0] for line in text.splitlines()))


def record(ctype: int, payload: bytes, version: int = 0x0303) -> bytes:
    return struct.pack(">BHH", ctype, version, len(payload)) + payload


def hs(msg_type: int, body: bytes) -> bytes:
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


SERVER_HELLO_TLS12 = h("""
    02 00 00 4d                 # ServerHello, length 77
    03 03                       # legacy_version TLS 1.2
    11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11
    11 11 11 11 11 11 11 11 44 4f 57 4e 47 52 44 00  # random; ends DOWNGRD\\x00
    20                          # session id length 32
    22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22
    22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22
    c0 2f                       # TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    00                          # compression null
    00 05                       # extensions length
    ff 01 00 01 00              # renegotiation_info, empty
""")

FAKE_CERTS = (b"\x30\x03leaf", b"\x30\x05inter", b"\x30\x04root")

CERTIFICATE_TLS12 = hs(
    c.CERTIFICATE,
    (lambda body: len(body).to_bytes(3, "big") + body)(
        b"".join(len(d).to_bytes(3, "big") + d for d in FAKE_CERTS)
    ),
)

SERVER_KEY_EXCHANGE = h("""
    0c 00 00 2c                 # ServerKeyExchange, length 44
    03 00 1d                    # named_curve x25519
    20                          # point length 32
    ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab
    ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab
    08 04                       # rsa_pss_rsae_sha256
    00 04 de ad be ef           # signature
""")

CERTIFICATE_REQUEST_TLS12 = h("""
    0d 00 00 1c                 # CertificateRequest, length 28
    02 01 40                    # certificate_types: rsa_sign, ecdsa_sign
    00 04 04 01 04 03           # signature algorithms
    00 11                       # certificate_authorities length 17
    00 0f 30 0d 31 0b 30 09 06 03 55 04 03 0c 02 43 41  # one DN: CN=CA
""")

SERVER_HELLO_DONE = h("0e 00 00 00")


def tls12_flight() -> list[bytes]:
    """Records: SH + Certificate in one record, SKE split over two, CR + SHD coalesced."""
    return [
        record(c.HANDSHAKE, SERVER_HELLO_TLS12 + CERTIFICATE_TLS12),
        record(c.HANDSHAKE, SERVER_KEY_EXCHANGE[:10]),
        record(c.HANDSHAKE, SERVER_KEY_EXCHANGE[10:]),
        record(c.HANDSHAKE, CERTIFICATE_REQUEST_TLS12 + SERVER_HELLO_DONE),
    ]


def chunkings(records: list[bytes]) -> list[list[bytes]]:
    whole = b"".join(records)
    return [[whole], [bytes((b,)) for b in whole], records]


def run(probe: HandshakeProbe, chunks: list[bytes]) -> list[ev.Event]:
    probe.initiate()
    out: list[ev.Event] = []
    for chunk in chunks:
        out.extend(probe.receive_data(chunk))
        if probe.terminal:
            break
    return out


def spec12() -> ClientHelloSpec:
    return ClientHelloSpec(cipher_suites=(0xC02F, 0x009E), supported_groups=(29,))


@pytest.mark.parametrize("way", ["whole", "bytewise", "records"])
def test_tls12_flight_same_events_however_it_is_cut(way: str) -> None:
    chunks = dict(zip(["whole", "bytewise", "records"], chunkings(tls12_flight()), strict=True))[way]
    probe = HandshakeProbe(spec12())
    events = run(probe, chunks)
    assert probe.state is ProbeState.COMPLETE
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "ServerHello", "Certificate", "ServerKeyExchange", "CertificateRequest", "ServerHelloDone",
    ]
    sh, cert, ske, cr, _ = events
    assert isinstance(sh, ev.ServerHello)
    assert sh.version == c.TLS12 and sh.cipher_suite == 0xC02F
    assert sh.renegotiation_info == b"" and sh.session_id == b"\x22" * 32
    assert sh.downgrade_sentinel == c.TLS11
    assert isinstance(cert, ev.Certificate) and cert.chain == FAKE_CERTS
    assert isinstance(ske, ev.ServerKeyExchange)
    assert (ske.kind, ske.group, ske.signature_scheme) == ("ecdhe", 29, 0x0804)
    assert isinstance(cr, ev.CertificateRequest)
    assert cr.certificate_types == (1, 64) and cr.signature_algorithms == (0x0401, 0x0403)
    assert cr.certificate_authorities == (bytes.fromhex("300d310b300906035504030c024341"),)


def test_dhe_prime_size_is_read() -> None:
    p = b"\x00" + b"\xff" * 128  # a 1024-bit prime with a leading zero byte
    # p, g = 2, Ys = 5, then (TLS 1.2) signature scheme rsa_pkcs1_sha256 and an empty signature
    body = struct.pack(">H", len(p)) + p + b"\x00\x01\x02" + b"\x00\x01\x05" + b"\x04\x01\x00\x00"
    sh = bytearray(SERVER_HELLO_TLS12)
    sh[4 + 2 + 32 + 1 + 32 : 4 + 2 + 32 + 1 + 32 + 2] = b"\x00\x33"  # DHE_RSA_WITH_AES_128_CBC_SHA
    probe = HandshakeProbe(ClientHelloSpec(legacy_version=c.TLS11, cipher_suites=(0x33,)))
    events = run(probe, [record(c.HANDSHAKE, bytes(sh) + hs(c.SERVER_KEY_EXCHANGE, body) + SERVER_HELLO_DONE)])
    ske = next(e for e in events if isinstance(e, ev.ServerKeyExchange))
    assert ske.kind == "dhe" and ske.dh_prime_bits == 1024


@pytest.mark.parametrize(
    ("payload", "level", "name"),
    [(b"\x02\x28", 2, "handshake_failure"), (b"\x02\x46", 2, "protocol_version"), (b"\x02\x70", 2, "unrecognized_name")],
)
def test_alert_is_an_event(payload: bytes, level: int, name: str) -> None:
    for chunks in chunkings([record(c.ALERT, payload, 0x0301)]):
        probe = HandshakeProbe(spec12())
        events = run(probe, chunks)
        assert len(events) == 1 and isinstance(events[0], ev.Alert)
        assert events[0].level == level and events[0].name == name
        assert probe.state is ProbeState.FAILED


def test_seed_004_alert_bytes() -> None:
    # Seed 004: the server's answer to a bad client certificate, "15 03 01 00 02 02 2A".
    probe = HandshakeProbe(spec12())
    (alert,) = run(probe, [h("15 03 01 00 02 02 2A")])
    assert isinstance(alert, ev.Alert) and alert.description == 42 and alert.name == "bad_certificate"


def test_warning_alert_does_not_end_the_probe() -> None:
    flight = [record(c.ALERT, b"\x01\x70"), *tls12_flight()]
    probe = HandshakeProbe(spec12())
    events = run(probe, flight)
    assert isinstance(events[0], ev.Alert) and not events[0].fatal
    assert isinstance(events[-1], ev.ServerHelloDone)


def test_close_without_alert() -> None:
    probe = HandshakeProbe(spec12())
    probe.initiate()
    assert probe.receive_data(b"") == [ev.ConnectionClosed()]
    assert probe.state is ProbeState.CLOSED


@pytest.mark.parametrize(
    ("reply", "protocol"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "http"),
        (b"SSH-2.0-OpenSSH_9.6\r\n", "ssh"),
        (b"220 mail.example.com ESMTP Postfix\r\n", "smtp"),
        (b"220 ProFTPD Server ready\r\n", "ftp"),
        (b"+OK POP3 ready\r\n", "pop3"),
        (b"* OK IMAP4rev1\r\n", "imap"),
        (b"<html><body>hi</body></html>", "html"),
    ],
)
def test_not_tls_is_recognised(reply: bytes, protocol: str) -> None:
    # A non-TLS reply is named once its first line (or 64 bytes) is in, or at the close;
    # the evidence is that first line, however the bytes were cut.
    line = reply[: reply.find(b"\n", 5) + 1] if b"\n" in reply[5:64] else reply[:64]
    for chunks in ([reply], [reply[:1], reply[1:2], reply[2:]], [bytes((b,)) for b in reply]):
        probe = HandshakeProbe(spec12())
        events = run(probe, chunks)
        if not events:
            events = probe.receive_data(b"")[:1]
        assert len(events) == 1 and isinstance(events[0], ev.NotTLS)
        assert events[0].protocol == protocol and events[0].first_bytes == line
        assert probe.state in (ProbeState.FAILED, ProbeState.CLOSED)


def test_short_non_tls_reply_then_close() -> None:
    probe = HandshakeProbe(spec12())
    probe.initiate()
    assert probe.receive_data(b"?") == []
    events = probe.receive_data(b"")
    assert isinstance(events[0], ev.NotTLS) and isinstance(events[1], ev.ConnectionClosed)


def test_not_tls_named_at_the_deadline() -> None:
    probe = HandshakeProbe(spec12())
    probe.initiate()
    assert probe.receive_data(b"SSH-2.0") == []  # no line end yet: wait
    (nt,) = probe.deadline_reached()
    assert isinstance(nt, ev.NotTLS) and nt.protocol == "ssh" and nt.first_bytes == b"SSH-2.0"
    assert probe.state is ProbeState.FAILED


def test_identify_protocol_unknown() -> None:
    assert identify_protocol(b"\x00\x01\x02garbage") == "unknown"


SSLV2_SERVER_HELLO = h("""
    80 1f                       # SSLv2 2-byte header, length 31
    04                          # SERVER-HELLO
    00                          # session id hit: no
    01                          # certificate type X.509
    00 02                       # server version SSL 2.0
    00 06                       # certificate length
    00 06                       # cipher specs length (2 kinds)
    00 08                       # connection id length
    30 04 63 65 72 74           # "certificate"
    01 00 80 07 00 c0           # RC4_128_WITH_MD5, DES_192_EDE3_CBC_WITH_MD5
    01 02 03 04 05 06 07 08     # connection id
""")


def test_sslv2_server_hello() -> None:
    for chunks in chunkings([SSLV2_SERVER_HELLO]):
        probe = HandshakeProbe(ClientHelloSpec(legacy_version=c.SSL2, cipher_suites=(0x010080,), sslv2=True))
        (hello,) = run(probe, chunks)
        assert isinstance(hello, ev.SSLv2ServerHello)
        assert hello.cipher_kinds == (0x010080, 0x0700C0)
        assert hello.certificate == b"\x30\x04cert" and hello.version == c.SSL2


@pytest.mark.parametrize(
    "bad",
    [
        record(c.HANDSHAKE, h("02 00 00 03 03 03 00")),  # a ServerHello with no random
        record(c.HANDSHAKE, h("02 ff ff ff")),  # a handshake message longer than the limit
        h("16 03 03 ff ff"),  # a record longer than 2^14 + 2048
        record(c.HANDSHAKE, h("0b 00 00 04 00 00 09 00")),  # certificate list lies
        record(c.ALERT, b"\x02"),  # half an alert
        record(c.HANDSHAKE, SERVER_HELLO_TLS12) + record(99, b"\x00"),  # unknown content type
        record(c.HANDSHAKE, hs(c.CERTIFICATE, b"\x00\x00\x00")),  # Certificate before ServerHello
    ],
)
def test_lies_are_remote_protocol_errors(bad: bytes) -> None:
    probe = HandshakeProbe(spec12())
    probe.initiate()
    with pytest.raises(RemoteProtocolError):
        probe.receive_data(bad)
    assert probe.state is ProbeState.FAILED


def test_byte_limit_per_probe() -> None:
    probe = HandshakeProbe(spec12())
    probe.initiate()
    probe.receive_data(record(c.HANDSHAKE, SERVER_HELLO_TLS12))
    junk = record(c.HANDSHAKE, hs(99, b"\x00" * 16000))
    with pytest.raises(RemoteProtocolError):
        for _ in range(100):
            probe.receive_data(junk)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=8))
def test_arbitrary_bytes_only_raise_remote_protocol_error(data: bytes, cuts: list[int]) -> None:
    for prefix in (b"", b"\x16\x03\x03", record(c.HANDSHAKE, SERVER_HELLO_TLS12)):
        blob = prefix + data
        points = sorted({0, len(blob), *[x for x in cuts if x < len(blob)]})
        probe = HandshakeProbe(spec12())
        probe.initiate()
        try:
            for a, b in zip(points, points[1:], strict=False):
                probe.receive_data(blob[a:b])
            probe.receive_data(b"")
        except RemoteProtocolError:
            pass


# -- TLS 1.3: a flight encrypted here, as a server would --------------------------------


def _tls13_server(server_priv: x25519.X25519PrivateKey, suite: int = 0x1301) -> tuple[bytes, bytes]:
    """A TLS 1.3 ServerHello message with the server's x25519 share, and that share."""
    pub = server_priv.public_key().public_bytes_raw()
    exts = h("002b 0002 0304") + struct.pack(">HHHH", c.EXT_KEY_SHARE, 36, 0x001D, 32) + pub
    body = b"\x03\x03" + b"\x07" * 32 + b"\x20" + b"\x5a" * 32 + struct.pack(">HB", suite, 0) + struct.pack(">H", len(exts)) + exts
    server_hello = hs(c.SERVER_HELLO, body)
    return server_hello, pub


def _encrypt_flight(suite: int, shared: bytes, transcript: list[bytes], messages: list[bytes], split: bool) -> list[bytes]:
    secrets = handshake_secrets(suite, shared, transcript_hash("sha256", *transcript))
    protect = RecordProtection(suite, secrets.server_handshake_traffic_secret)
    flight = b"".join(messages)
    if split:  # one message spread over two records, and two messages in one
        return [protect.encrypt(c.HANDSHAKE, flight[:7]), protect.encrypt(c.HANDSHAKE, flight[7:])]
    return [protect.encrypt(c.HANDSHAKE, flight, padding=5)]


def _encrypted_messages() -> list[bytes]:
    ee = hs(c.ENCRYPTED_EXTENSIONS, h("0009  0010 0005 0003 02 6832"))  # ALPN "h2"
    cr_exts = h("000d 0006 0004 0403 0804") + h("002f 0013 0011 000f 300d310b300906035504030c024341")
    cr = hs(c.CERTIFICATE_REQUEST, b"\x00" + struct.pack(">H", len(cr_exts)) + cr_exts)
    entries = b"".join(len(d).to_bytes(3, "big") + d + b"\x00\x00" for d in FAKE_CERTS)
    cert = hs(c.CERTIFICATE, b"\x00" + len(entries).to_bytes(3, "big") + entries)
    cv = hs(c.CERTIFICATE_VERIFY, h("0804 0002 abcd"))
    fin = hs(c.FINISHED, b"\x99" * 32)
    return [ee, cr, cert, cv, fin]


@pytest.mark.parametrize("split", [False, True])
def test_tls13_encrypted_flight_is_decrypted(split: bool) -> None:
    pool = KeySharePool()
    spec = ClientHelloSpec(
        cipher_suites=(0x1301,), supported_versions=(c.TLS13,), supported_groups=(0x1D,),
        key_shares=(pool.get(0x1D),), signature_algorithms=(0x0804,), random=b"\x01" * 32,
    )
    probe = HandshakeProbe(spec, key_share_for=pool.get)
    first = probe.initiate()
    ch = encode_client_hello(spec)
    assert first.endswith(ch)
    server_priv = x25519.X25519PrivateKey.generate()
    sh, _ = _tls13_server(server_priv)
    shared = server_priv.exchange(x25519.X25519PublicKey.from_public_bytes(pool.get(0x1D).public))
    records = [record(c.HANDSHAKE, sh), h("14 03 03 00 01 01")]
    records += _encrypt_flight(0x1301, shared, [ch, sh], _encrypted_messages(), split)
    for chunks in chunkings(records):
        p = HandshakeProbe(spec, key_share_for=pool.get)
        events = run(p, chunks)
        assert p.state is ProbeState.COMPLETE
        names = [type(e).__name__ for e in events]
        assert names == [
            "ServerHello", "EncryptedExtensions", "CertificateRequest", "Certificate",
            "CertificateVerify", "Finished",
        ]
        ee, cr, cert = events[1], events[2], events[3]
        assert isinstance(ee, ev.EncryptedExtensions) and ee.alpn == "h2"
        assert isinstance(cr, ev.CertificateRequest) and cr.encrypted
        assert cr.signature_algorithms == (0x0403, 0x0804)
        assert cr.certificate_authorities == (bytes.fromhex("300d310b300906035504030c024341"),)
        assert isinstance(cert, ev.Certificate) and cert.chain == FAKE_CERTS and cert.encrypted


def test_tls13_encrypted_alert() -> None:
    pool = KeySharePool()
    spec = ClientHelloSpec(cipher_suites=(0x1301,), supported_versions=(c.TLS13,), supported_groups=(0x1D,), key_shares=(pool.get(0x1D),), random=b"\x02" * 32)
    probe = HandshakeProbe(spec, key_share_for=pool.get)
    probe.initiate()
    ch = encode_client_hello(spec)
    server_priv = x25519.X25519PrivateKey.generate()
    sh, _ = _tls13_server(server_priv)
    shared = server_priv.exchange(x25519.X25519PublicKey.from_public_bytes(pool.get(0x1D).public))
    secrets = handshake_secrets(0x1301, shared, transcript_hash("sha256", ch, sh))
    alert = RecordProtection(0x1301, secrets.server_handshake_traffic_secret).encrypt(c.ALERT, b"\x02\x74")
    events = probe.receive_data(record(c.HANDSHAKE, sh) + alert)
    assert isinstance(events[-1], ev.Alert) and events[-1].encrypted and events[-1].name == "certificate_required"


def test_tls13_tampered_flight_is_bad_record_mac() -> None:
    pool = KeySharePool()
    spec = ClientHelloSpec(cipher_suites=(0x1301,), supported_versions=(c.TLS13,), supported_groups=(0x1D,), key_shares=(pool.get(0x1D),), random=b"\x03" * 32)
    probe = HandshakeProbe(spec, key_share_for=pool.get)
    probe.initiate()
    ch = encode_client_hello(spec)
    server_priv = x25519.X25519PrivateKey.generate()
    sh, _ = _tls13_server(server_priv)
    shared = server_priv.exchange(x25519.X25519PublicKey.from_public_bytes(pool.get(0x1D).public))
    (rec,) = _encrypt_flight(0x1301, shared, [ch, sh], _encrypted_messages(), False)
    tampered = rec[:-1] + bytes((rec[-1] ^ 1,))
    with pytest.raises(RemoteProtocolError) as info:
        probe.receive_data(record(c.HANDSHAKE, sh) + tampered)
    assert info.value.alert == c.ALERT_BAD_RECORD_MAC


def test_hello_retry_request_sends_second_hello_with_the_asked_group() -> None:
    pool = KeySharePool()
    spec = ClientHelloSpec(
        cipher_suites=(0x1301,), supported_versions=(c.TLS13,), supported_groups=(0x1D, 0x17),
        key_shares=(pool.get(0x1D),), random=b"\x04" * 32, session_id=b"\x5a" * 32,
    )
    probe = HandshakeProbe(spec, key_share_for=pool.get)
    probe.initiate()
    ch1 = encode_client_hello(spec)
    hrr_exts = h("002b 0002 0304") + h("0033 0002 0017") + h("002c 0006 0004 c0c0c0c0")
    hrr = hs(c.SERVER_HELLO, b"\x03\x03" + c.HRR_RANDOM + b"\x20" + b"\x5a" * 32 + h("1301 00") + struct.pack(">H", len(hrr_exts)) + hrr_exts)
    events = probe.receive_data(record(c.HANDSHAKE, hrr))
    assert isinstance(events[0], ev.HelloRetryRequest)
    assert events[0].selected_group == 0x17 and events[0].cookie == b"\xc0\xc0\xc0\xc0"
    second = probe.data_to_send()
    assert second[:1] == b"\x16"
    ch2 = second[5:]
    expected = encode_client_hello(dataclasses.replace(spec, key_shares=(pool.get(0x17),), cookie=b"\xc0" * 4))
    assert ch2 == expected  # RFC 8446 section 4.1.2: same hello, new share, the cookie echoed
    # The server now answers with secp256r1; the transcript starts with message_hash(CH1).
    server_key = generate_key_share(0x17)
    sh_exts = h("002b 0002 0304") + struct.pack(">HHHH", c.EXT_KEY_SHARE, 4 + len(server_key.public), 0x17, len(server_key.public)) + server_key.public
    sh = hs(c.SERVER_HELLO, b"\x03\x03" + b"\x08" * 32 + b"\x20" + b"\x5a" * 32 + h("1301 00") + struct.pack(">H", len(sh_exts)) + sh_exts)
    shared = server_key.exchange(pool.get(0x17).public)
    transcript = [hrr_transcript_prefix("sha256", ch1), hrr, ch2, sh]
    secrets = handshake_secrets(0x1301, shared, transcript_hash("sha256", *transcript))
    flight = RecordProtection(0x1301, secrets.server_handshake_traffic_secret).encrypt(c.HANDSHAKE, b"".join(_encrypted_messages()))
    events = probe.receive_data(record(c.HANDSHAKE, sh) + flight)
    assert isinstance(events[-1], ev.Finished) and probe.state is ProbeState.COMPLETE


def test_second_hello_retry_request_is_refused() -> None:
    pool = KeySharePool()
    spec = ClientHelloSpec(cipher_suites=(0x1301,), supported_versions=(c.TLS13,), supported_groups=(0x1D, 0x17, 0x18), key_shares=(pool.get(0x1D),))
    probe = HandshakeProbe(spec, key_share_for=pool.get)
    probe.initiate()

    def hrr(group: int) -> bytes:
        exts = h("002b 0002 0304") + struct.pack(">HHH", c.EXT_KEY_SHARE, 2, group)
        return record(c.HANDSHAKE, hs(c.SERVER_HELLO, b"\x03\x03" + c.HRR_RANDOM + b"\x00" + h("1301 00") + struct.pack(">H", len(exts)) + exts))

    probe.receive_data(hrr(0x17))
    with pytest.raises(RemoteProtocolError) as info:
        probe.receive_data(hrr(0x18))
    assert info.value.alert == c.ALERT_UNEXPECTED_MESSAGE


def test_hrr_for_a_group_not_offered_is_illegal_parameter() -> None:
    pool = KeySharePool()
    spec = ClientHelloSpec(cipher_suites=(0x1301,), supported_versions=(c.TLS13,), supported_groups=(0x1D,), key_shares=(pool.get(0x1D),))
    probe = HandshakeProbe(spec, key_share_for=pool.get)
    probe.initiate()
    exts = h("002b 0002 0304") + struct.pack(">HHH", c.EXT_KEY_SHARE, 2, 0x18)
    msg = record(c.HANDSHAKE, hs(c.SERVER_HELLO, b"\x03\x03" + c.HRR_RANDOM + b"\x00" + h("1301 00") + struct.pack(">H", len(exts)) + exts))
    with pytest.raises(RemoteProtocolError) as info:
        probe.receive_data(msg)
    assert info.value.alert == c.ALERT_ILLEGAL_PARAMETER
