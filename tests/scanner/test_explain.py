# scanner.explain: seed 004's bytes (the 2-byte alert record and the whole Ethernet frame),
# a server flight captured from a real `openssl s_server` on 127.0.0.1, garbage and
# truncation. explain() must never raise.
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handshakes import constants as c
from handshakes.client_hello import ClientHelloSpec, build_client_hello
from scanner.explain import decode_records, explain, parse_hex

SEED_004_RECORD = "15 03 01 00 02 02 2A"
SEED_004_FRAME = (
    "00 1E 68 0F 3E 80 00 30 48 7E 1B 90 08 00 45 00 00 2F 13 9E 40 00 3D 06 D2 0E 0A F4 40 0F "
    "0A 33 02 E7 15 43 04 4C A4 C5 13 A4 E8 46 34 BB 50 18 FA F0 2B B8 00 00 15 03 01 00 02 02 2A"
)
BAD_CERTIFICATE = "TLSv1.0, fatal, bad_certificate (42): A certificate was corrupt"


# -- seed 004 ---------------------------------------------------------------------------------


def test_seed_004_alert_record() -> None:
    data = bytes.fromhex(
        "15"  # content type 21: alert
        "0301"  # TLS 1.0
        "0002"  # length 2
        "02"  # level 2: fatal
        "2A"  # description 42: bad_certificate
    )
    [record] = decode_records(data)
    assert (record.content_type, record.version, record.length) == (21, c.TLS10, 2)
    assert (record.alert_level, record.alert_description) == (2, 42)
    assert not record.truncated and not record.encrypted
    text = explain(SEED_004_RECORD)
    assert BAD_CERTIFICATE in text
    assert "Alert record, TLSv1.0, length 2" in text


def test_seed_004_whole_ethernet_frame() -> None:
    text = explain(SEED_004_FRAME)
    assert "Ethernet + IPv4 + TCP headers (54 bytes)" in text
    assert "10.244.64.15 port 5443 -> 10.51.2.231 port 1100" in text
    assert "byte 54: Alert record, TLSv1.0, length 2" in text
    assert BAD_CERTIFICATE in text


@pytest.mark.parametrize(
    "spelling",
    [
        "1503010002022a",
        "15:03:01:00:02:02:2a",
        "0x15 0x03 0x01 0x00 0x02 0x02 0x2A",
        "0x15, 0x03, 0x01,\n0x00, 0x02, 0x02, 0x2a",
        "\\x15\\x03\\x01\\x00\\x02\\x02\\x2a",
        "15 03 01\n00 02\r\n02 2A\n",
        "0000   15 03 01 00 02 02 2a                              .......\n",
        "00000000: 1503 0100 0202 2a                        .......\n",
    ],
)
def test_hex_spellings(spelling: str) -> None:
    assert parse_hex(spelling) == bytes.fromhex("1503010002022a")
    assert BAD_CERTIFICATE in explain(spelling)


def test_frame_spread_over_hex_dump_lines() -> None:
    data = parse_hex(SEED_004_FRAME)
    dump = "\n".join(
        f"{i:04x}   " + " ".join(f"{b:02x}" for b in data[i : i + 16]).ljust(50) + "................"
        for i in range(0, len(data), 16)
    )
    assert parse_hex(dump) == data
    assert BAD_CERTIFICATE in explain(dump)


def test_record_found_after_unknown_leading_bytes() -> None:
    text = explain("de ad be ef " + SEED_004_RECORD)
    assert "4 bytes before the first record skipped" in text
    assert BAD_CERTIFICATE in text


# -- several records, encryption, SSLv2 -------------------------------------------------------


def test_several_records_and_encryption() -> None:
    data = (
        "15 03 03 00 02 01 00"  # warning close_notify
        " 14 03 03 00 01 01"  # ChangeCipherSpec
        " 16 03 03 00 28" + " 5a" * 40  # encrypted Finished
        + " 15 03 03 00 1a" + " 77" * 26  # encrypted alert
        + " 17 03 03 00 10" + " 00" * 16  # application data
    )
    records = decode_records(parse_hex(data))
    assert [r.content_type for r in records] == [21, 20, 22, 21, 23]
    assert [r.encrypted for r in records] == [False, False, True, True, True]
    text = explain(data)
    assert "TLSv1.2, warning, close_notify (0)" in text
    assert "encrypted handshake message (40 bytes" in text
    assert "encrypted alert (26 bytes)" in text
    assert "encrypted application data (16 bytes)" in text


def test_sslv2_server_hello(server: tuple[int, Path]) -> None:
    cert = _pem_to_der(server[1] / "cert.pem")
    conn_id = bytes(16)
    body = (
        bytes([4, 0, 1]) + c.SSL2.to_bytes(2, "big") + len(cert).to_bytes(2, "big")
        + (3).to_bytes(2, "big") + len(conn_id).to_bytes(2, "big") + cert + bytes.fromhex("010080") + conn_id
    )
    record = (0x8000 | len(body)).to_bytes(2, "big") + body
    [r] = decode_records(record)
    assert r.sslv2 and not r.truncated
    text = explain(record.hex())
    assert "SERVER-HELLO" in text and "SSL_CK_RC4_128_WITH_MD5" in text and "CN=explain.test" in text


def test_sslv2_compatible_client_hello() -> None:
    text = explain("80 2e 01 03 01 00 15 00 00 00 10" + " 00" * 37)
    assert "CLIENT-HELLO" in text and "offers up to TLSv1.0, 7 cipher specs" in text


# -- a real server flight ---------------------------------------------------------------------


def _pem_to_der(path: Path) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not found")
    d = tmp_path_factory.mktemp("s_server")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem",
         "-days", "30", "-subj", "/CN=explain.test", "-addext", "subjectAltName=DNS:explain.test"],
        cwd=d, check=True, capture_output=True,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", "cert.pem", "-key", "key.pem", "-quiet"],
        cwd=d, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port, d
    finally:
        proc.kill()
        proc.wait()


def _flight(port: int, spec: ClientHelloSpec, until: str) -> bytes:
    """Send one ClientHello over a plain socket; read until `until` is decoded or 5 s pass."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(build_client_hello(spec))
        data = b""
        deadline = time.monotonic() + 5
        sock.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if data:
                    break
                continue
            if not chunk:
                break
            data += chunk
            if until in explain(data.hex()):
                break
        return data


TLS12_SPEC = ClientHelloSpec(
    legacy_version=c.TLS12,
    cipher_suites=(0xC02F, 0xC030, 0x009C),
    server_name="explain.test",
    supported_groups=(0x001D, 0x0017),
    ec_point_formats=(0,),
    signature_algorithms=(0x0804, 0x0401, 0x0403),
    renegotiation_info=b"",
    extended_master_secret=True,
)


def test_openssl_tls12_server_flight(server: tuple[int, Path]) -> None:
    data = _flight(server[0], TLS12_SPEC, "server_hello_done")
    records = decode_records(data)
    names = [m.name for r in records for m in r.messages]
    assert names == ["server_hello", "certificate", "server_key_exchange", "server_hello_done"]
    assert all(not r.truncated and not r.encrypted for r in records)
    text = explain(data.hex(" "))
    assert "version TLSv1.2; cipher suite TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (0xC02F)" in text
    assert "extensions: renegotiation_info" in text and "extended_master_secret" in text
    assert "1 certificate: #0 'CN=explain.test' issued by 'CN=explain.test'" in text
    assert "ECDHE, group x25519" in text

    # Truncated in the middle of the Certificate message: what is there, and what is missing.
    cut = data[: len(data) // 2]
    text = explain(cut.hex())
    assert "server_hello (2)" in text
    assert "missing" in text
    assert "the input ends here" in text or "truncated" in text


def test_openssl_tls13_flight_is_encrypted(server: tuple[int, Path]) -> None:
    from handshakes.keyshare import generate_key_share

    spec = ClientHelloSpec(
        legacy_version=c.TLS12,
        cipher_suites=(0x1301, 0x1302),
        server_name="explain.test",
        supported_versions=(c.TLS13,),
        supported_groups=(0x001D,),
        key_shares=(generate_key_share(0x001D),),
        signature_algorithms=(0x0804, 0x0403),
    )
    data = _flight(server[0], spec, "never-present")
    records = decode_records(data)
    assert records[0].messages[0].name == "server_hello"
    assert "version TLSv1.3" in records[0].messages[0].summary
    assert records[-1].encrypted and records[-1].content_type == c.APPLICATION_DATA
    assert "encrypted TLS 1.3 record" in explain(data.hex())


# -- garbage and truncation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "holds no bytes"),
        ("hello world", "not hex"),
        ("15 03 0", "odd number of hex digits"),
        ("48 54 54 50 2f 31 2e 31 20 34 30 30", "looks like HTTP"),
        ("ff ff ff ff", "Not TLS"),
        ("01 02 03 04 05 06 07 08", "Not TLS"),
    ],
)
def test_garbage_is_not_tls(text: str, expected: str) -> None:
    out = explain(text)
    assert expected in out


def test_truncated_records() -> None:
    text = explain("15 03 01 00 02 02")
    assert "truncated: 1 of 2 payload bytes present, 1 missing" in text
    text = explain("15 03")
    assert "incomplete record header" in text and "2 of the 5 header bytes" in text
    [r] = decode_records(bytes.fromhex("16030300400200004603"))
    assert r.truncated and r.missing == 59
    assert "the input ends here" in r.describe()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    assert isinstance(explain(data.hex()), str)
    assert isinstance(decode_records(data), list)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_after_a_record_header_never_raise(data: bytes) -> None:
    for head in (b"\x16\x03\x03", b"\x15\x03\x01", b"\x80"):
        blob = head + len(data).to_bytes(2, "big") + data
        assert isinstance(explain(blob.hex()), str)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text: str) -> None:
    assert isinstance(explain(text), str)
