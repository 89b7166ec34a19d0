# handshakes.tls12: the TLS 1.2 PRF against the known-answer vector circulated on the IETF
# TLS list (P_SHA256, "test label"), and record decryption that only ever raises
# RemoteProtocolError on bytes that do not authenticate. Real sessions (OpenSSL's AES-GCM,
# ChaCha20-Poly1305, AES-CBC with and without encrypt-then-MAC, TLS 1.0) are decrypted in
# tests/scanner/test_capture.py and tests/interop/test_capture_tcpdump.py.
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handshakes import constants as c
from handshakes.errors import LocalProtocolError, RemoteProtocolError
from handshakes.tls12 import SUPPORTED, Tls12RecordDecryptor, params_for, prf

PRF_SHA256_OUTPUT = (
    "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af"
    "0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
    "87347b66"
)


def test_prf_sha256_known_answer() -> None:
    secret = bytes.fromhex("9bbe436ba940f017b17652849a71db35")
    seed = bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c")
    assert prf(c.TLS12, "sha256", secret, b"test label", seed, 100).hex() == PRF_SHA256_OUTPUT


def test_suites_covered() -> None:
    assert SUPPORTED(0xC02F) and SUPPORTED(0xCCA8) and SUPPORTED(0xC013) and SUPPORTED(0x003D)
    assert not SUPPORTED(0x0005)  # RC4
    assert not SUPPORTED(0x1301)  # a TLS 1.3 suite: handshakes.tls13
    with pytest.raises(LocalProtocolError):
        params_for(0xFFFF)


@settings(max_examples=200, deadline=None)
@given(
    suite=st.sampled_from([0xC02F, 0xC030, 0xCCA8, 0xC013, 0xC028, 0x002F]),
    version=st.sampled_from([c.TLS10, c.TLS11, c.TLS12]),
    etm=st.booleans(),
    body=st.binary(max_size=200),
)
def test_garbage_records_raise_only_remote_protocol_error(suite: int, version: int, etm: bool, body: bytes) -> None:
    dec = Tls12RecordDecryptor(
        version=version, suite=suite, master_secret=bytes(48), client_random=bytes(32),
        server_random=bytes(32), client_side=True, encrypt_then_mac=etm,
    )
    header = bytes((c.ALERT, 3, version & 0xFF)) + len(body).to_bytes(2, "big")
    with pytest.raises(RemoteProtocolError):
        dec.decrypt(header, body)
