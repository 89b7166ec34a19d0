# Client profiles: the built-in ones (facts from the captured hellos, every one replayable
# and parsed back by tlslite-ng, clients.json reproducible), a user's captured hello in the
# ways people paste hex, and YAML profiles with their error messages.
from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from tlslite.messages import ClientHello
from tlslite.utils.codec import Parser

from handshakes import constants as c
from handshakes.client_hello import ClientHelloSpec, build_client_hello
from handshakes.keyshare import SECP256R1, X25519, KeySharePool
from scanner.profiles import (
    ClientProfile,
    bytes_from_hex_dump,
    load_builtin_profiles,
    parse_client_hello,
    profile_from_client_hello_hex,
    profile_from_yaml,
    spec_for_profile,
)
from scanner.profiles.hello import decode_key_share
from tests.generated import assert_regenerates

PROFILES = load_builtin_profiles()
BY_ID = {p.id: p for p in PROFILES}


def parse_back(wire: bytes, sslv2: bool = False) -> ClientHello:
    """The hello as tlslite-ng reads it, from the record-framed bytes."""
    if sslv2:
        assert wire[0] & 0x80 and wire[2] == 1
        return ClientHello(ssl2=True).parse(Parser(bytearray(wire[3:])))
    assert wire[0] == c.HANDSHAKE
    assert wire[5] == c.CLIENT_HELLO
    return ClientHello().parse(Parser(bytearray(wire[6:])))


# -- Built-in profiles -----------------------------------------------------------------------


def test_at_least_100_builtin_profiles_with_unique_ids() -> None:
    assert len(PROFILES) >= 100
    assert len(BY_ID) == len(PROFILES)
    assert load_builtin_profiles() is PROFILES  # cached
    for p in PROFILES:
        assert p.versions, p.id
        assert list(p.versions) == sorted(p.versions, reverse=True), p.id
        assert p.cipher_suites, p.id


def test_recent_chrome_and_firefox_speak_tls13_with_x25519() -> None:
    for pid in ("chrome_101_win10", "firefox_100_win10"):
        p = BY_ID[pid]
        assert p.versions[0] == c.TLS13
        assert X25519 in p.groups
        assert 0x1301 in p.cipher_suites
        assert p.sends_sni
        assert p.current
        assert "h2" in p.alpn
        assert any(t == c.EXT_KEY_SHARE for t, _ in p.extensions)
    chrome = BY_ID["chrome_101_win10"]
    assert chrome.requires_sha2
    assert chrome.min_dh_bits == 1024
    assert chrome.cipher_suites[0] == 0x1A1A  # GREASE stays where the client put it


def test_java_6_has_no_tls12_and_sends_an_sslv2_hello() -> None:
    java6 = BY_ID["java_6u45"]
    assert c.TLS12 not in java6.versions
    assert java6.versions[0] == c.TLS10
    assert java6.sslv2_hello
    assert java6.legacy_version == c.TLS10
    assert java6.extensions == ()
    assert java6.max_dh_bits == 1024
    assert 0x010080 in java6.cipher_suites  # SSL_CK_RC4_128_WITH_MD5, a 3-byte kind


def test_openssl_102() -> None:
    p = BY_ID["openssl_102e"]
    assert p.versions == (c.TLS12, c.TLS11, c.TLS10, c.SSL3)
    assert p.cipher_suites[0] == 0xC030  # ECDHE-RSA-AES256-GCM-SHA384
    assert SECP256R1 in p.groups
    assert p.sends_sni
    assert p.tags == ("ANY",)


def test_android_237_tops_out_at_tls10_without_sni() -> None:
    p = BY_ID["android_237"]
    assert p.versions == (c.TLS10, c.SSL3)
    assert not p.sends_sni
    assert p.extensions == ()
    assert p.groups == ()
    assert not p.current
    assert p.min_dh_bits is None


def test_tls13_draft_only_clients_negotiate_tls12() -> None:
    # The reference file says highest_protocol 0x0304 for these, but their captured hellos
    # list only TLS 1.3 draft versions: the capture wins.
    for pid in ("chrome_65_win7", "firefox_62_win7"):
        assert BY_ID[pid].versions[0] == c.TLS12


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.id)
def test_every_builtin_profile_replays_and_parses_back(profile: ClientProfile) -> None:
    spec = spec_for_profile(profile, "replay.example.org")
    wire = build_client_hello(spec)
    hello = parse_back(wire, profile.sslv2_hello)
    assert list(hello.cipher_suites) == list(profile.cipher_suites)
    if profile.sslv2_hello:
        return
    assert wire[1:3] == profile.record_version.to_bytes(2, "big")
    assert hello.client_version == divmod(profile.legacy_version, 256)
    assert list(hello.compression_methods) == list(profile.compression_methods)
    sent = [(e.extType, bytes(e.extData)) for e in hello.extensions or ()]
    if profile.sends_sni:
        assert hello.server_name == b"replay.example.org"
    else:
        assert c.EXT_SERVER_NAME not in [t for t, _ in sent]
    # Same extensions in the same order, less the ones that belong to a past connection.
    dropped = {c.EXT_PRE_SHARED_KEY, c.EXT_EARLY_DATA, c.EXT_COOKIE}
    if profile.sends_sni:
        expected = [t for t, _ in profile.extensions if t not in dropped]
    else:
        expected = [t for t, _ in profile.extensions if t not in dropped | {c.EXT_SERVER_NAME}]
    assert [t for t, _ in sent] == expected
    captured = dict(profile.extensions)
    for ext_type, body in sent:
        if ext_type not in (
            c.EXT_SERVER_NAME,
            c.EXT_KEY_SHARE,
            c.EXT_PADDING,
            c.EXT_SESSION_TICKET,
        ):
            assert body == captured[ext_type], hex(ext_type)
    if c.EXT_PADDING in captured:
        # RFC 7685 padding is resized so the hello keeps its captured size.
        fixed = 2 + 32 + 1 + profile.session_id_length + 2 + 2 * len(profile.cipher_suites)
        fixed += 1 + len(profile.compression_methods)
        extensions = sum(4 + len(body) for body in captured.values())
        assert len(wire) == 5 + 4 + fixed + 2 + extensions


def test_replayed_key_shares_are_fresh_for_the_same_groups() -> None:
    profile = BY_ID["chrome_101_win10"]
    old = decode_key_share(dict(profile.extensions)[c.EXT_KEY_SHARE])
    spec = spec_for_profile(profile, "a.example")
    new = decode_key_share(dict(spec.extra_extensions)[c.EXT_KEY_SHARE])
    assert [g for g, _ in new] == [g for g, _ in old]
    for (group, old_key), (_, new_key) in zip(old, new, strict=True):
        assert len(new_key) == len(old_key)
        if group == X25519:
            assert new_key != old_key
    # With a pool, two specs share one key pair per group.
    pool = KeySharePool()
    a = spec_for_profile(profile, "a.example", key_shares=pool)
    b = spec_for_profile(profile, "b.example", key_shares=pool)
    assert dict(a.extra_extensions)[c.EXT_KEY_SHARE] == dict(b.extra_extensions)[c.EXT_KEY_SHARE]


def test_replay_without_server_name_sends_no_sni_and_keeps_the_padded_size() -> None:
    profile = BY_ID["firefox_100_win10"]
    with_sni = build_client_hello(spec_for_profile(profile, "a-rather-long-name.example.org"))
    without = build_client_hello(spec_for_profile(profile, None))
    assert parse_back(without).getExtension(c.EXT_SERVER_NAME) is None
    assert len(with_sni) == len(without) == 517


def test_replay_drops_a_stale_psk_and_empties_a_stale_ticket() -> None:
    profile = BY_ID["firefox_71_win10"]
    assert c.EXT_PRE_SHARED_KEY in dict(profile.extensions)
    spec = spec_for_profile(profile, "x.example")
    assert c.EXT_PRE_SHARED_KEY not in dict(spec.extra_extensions)
    edge = BY_ID["edge_17_win10"]
    assert dict(edge.extensions)[c.EXT_SESSION_TICKET] != b""
    assert dict(spec_for_profile(edge, "x.example").extra_extensions)[c.EXT_SESSION_TICKET] == b""


def test_clients_json_is_reproducible(tmp_path: Path) -> None:
    said = assert_regenerates(
        "tools/gen_profiles.py", "scanner/profiles/clients.json", "client-simulation.txt",
        "python tools/gen_profiles.py", tmp_path,
    )
    assert all(f"wrote {len(PROFILES)} profiles" in out for out in said)


# -- A user's captured hello -----------------------------------------------------------------

HELLO_SPEC = ClientHelloSpec(
    legacy_version=c.TLS12,
    record_version=c.TLS10,
    cipher_suites=(0xC02F, 0xC030, 0x009C, 0x00FF),
    random=bytes(range(32)),
    server_name="captured.example",
    supported_groups=(X25519, SECP256R1),
    ec_point_formats=(0,),
    signature_algorithms=(0x0804, 0x0401),
    alpn=("h2", "http/1.1"),
)
HELLO = build_client_hello(HELLO_SPEC)


def wireshark_dump(data: bytes) -> str:
    """Wireshark's "Copy as Hex + ASCII Dump"."""
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        ascii_col = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{off:04x}   {' '.join(f'{b:02x}' for b in chunk):<47}   {ascii_col}")
    return "\n".join(lines)


@pytest.mark.parametrize(
    "text",
    [
        HELLO.hex(),
        " ".join(f"{b:02x}" for b in HELLO),
        ":".join(f"{b:02X}" for b in HELLO),
        "\n".join(HELLO[i : i + 16].hex(" ") for i in range(0, len(HELLO), 16)),
        ", ".join(f"0x{b:02x}" for b in HELLO),
        wireshark_dump(HELLO),
        HELLO[5:].hex(" "),  # the bare handshake message
        "0x" + HELLO[9:].hex(),  # just the body
    ],
    ids=["stream", "spaces", "colons", "lines", "0x-list", "wireshark-dump", "handshake", "body"],
)
def test_profile_from_pasted_hex(text: str) -> None:
    p = profile_from_client_hello_hex(text, id="mine", name="My client")
    assert p.id == "mine" and p.name == "My client"
    assert p.cipher_suites == (0xC02F, 0xC030, 0x009C, 0x00FF)
    assert p.versions == (c.TLS12,)
    assert p.legacy_version == c.TLS12
    assert p.record_version == c.TLS10
    assert p.groups == (X25519, SECP256R1)
    assert p.signature_algorithms == (0x0804, 0x0401)
    assert p.alpn == ("h2", "http/1.1")
    assert p.sends_sni
    assert p.ec_point_formats == (0,)
    assert [t for t, _ in p.extensions] == [0, 10, 11, 16, 13]
    assert not p.sslv2_hello
    assert p.min_dh_bits is None and not p.requires_sha2


def test_profile_from_hex_lowest_version_and_replay() -> None:
    p = profile_from_client_hello_hex(HELLO.hex(), id="mine", lowest_version=c.TLS10)
    assert p.versions == (c.TLS12, c.TLS11, c.TLS10)
    assert p.name == "mine"
    hello = parse_back(build_client_hello(spec_for_profile(p, "other.example")))
    assert hello.server_name == b"other.example"
    assert list(hello.cipher_suites) == list(p.cipher_suites)


def test_hex_dump_of_wireshark_keeps_hex_looking_ascii_out() -> None:
    data = bytes.fromhex("1603010005") + b"abcde"
    assert bytes_from_hex_dump(wireshark_dump(data)) == data


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no hex digits"),
        ("   \n  ", "no hex digits"),
        ("16 03 01 zz", "not hex: unexpected character 'z'"),
        ("16 03 0", "odd number of hex digits"),
        ("17 03 03 00 02 01 00", "content type 23, not handshake"),
        ("42 42 42", "first byte 0x42"),
        (HELLO[:40].hex(), "only"),
        ("02 00 00 04 03 03 00 00", "type 2 (server_hello), not a ClientHello"),
        (HELLO.hex() + "00", "not handshake"),
        ("01 00 00 02 03 03", "random: needs 32 bytes"),
    ],
)
def test_garbage_hex_gives_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="client hello for profile 'bad'") as info:
        profile_from_client_hello_hex(text, id="bad")
    assert message in str(info.value)


def test_malformed_extension_body_is_named() -> None:
    spec = dataclasses.replace(
        HELLO_SPEC, supported_groups=None, extra_extensions=((10, b"\x00\x05\x00"),)
    )
    with pytest.raises(ValueError, match="supported_groups"):
        profile_from_client_hello_hex(build_client_hello(spec).hex(), id="bad")


def test_duplicate_extension_is_refused() -> None:
    spec = dataclasses.replace(HELLO_SPEC, extra_extensions=((c.EXT_SERVER_NAME, b""),))
    with pytest.raises(ValueError, match="server_name twice"):
        profile_from_client_hello_hex(build_client_hello(spec).hex(), id="bad")


def test_fragmented_records_are_reassembled() -> None:
    wire = build_client_hello(dataclasses.replace(HELLO_SPEC, max_fragment=20))
    assert wire.count(b"\x16\x03\x01") > 3
    hello = parse_client_hello(wire)
    assert hello.cipher_suites == HELLO_SPEC.cipher_suites


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parser_raises_only_value_error(data: bytes) -> None:
    try:
        parse_client_hello(data)
    except ValueError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_hex_reader_raises_only_value_error(text: str) -> None:
    try:
        bytes_from_hex_dump(text)
    except ValueError:
        pass


# -- YAML profiles ---------------------------------------------------------------------------

GOOD_YAML = """
id: pos-terminal
name: Payment terminal firmware 4.2
versions: [TLSv1.2, TLSv1.1, "TLS 1.0"]
cipher_suites:
  - ECDHE-RSA-AES128-GCM-SHA256
  - TLS_RSA_WITH_AES_128_CBC_SHA
  - 0x000A
groups: [secp256r1, prime256v1, 0x0018]
signature_algorithms: [rsa_pkcs1_sha256, 0x0201]
alpn: [http/1.1]
min_dh_bits: 2048
max_rsa_bits: 4096
requires_sha2: true
tags: [PAYMENT]
"""


def test_yaml_profile() -> None:
    p = profile_from_yaml(yaml.safe_load(GOOD_YAML), source="clients.yaml")
    assert p.id == "pos-terminal"
    assert p.name == "Payment terminal firmware 4.2"
    assert p.versions == (c.TLS12, c.TLS11, c.TLS10)
    assert p.cipher_suites == (0xC02F, 0x002F, 0x000A)
    assert p.groups == (0x0017, 0x0017, 0x0018)
    assert p.signature_algorithms == (0x0401, 0x0201)
    assert p.alpn == ("http/1.1",)
    assert p.sends_sni
    assert p.min_dh_bits == 2048 and p.max_rsa_bits == 4096 and p.min_rsa_bits is None
    assert p.requires_sha2 and p.tags == ("PAYMENT",)
    assert p.legacy_version == c.TLS12 and p.record_version == c.TLS10
    hello = parse_back(build_client_hello(spec_for_profile(p, "pos.example")))
    assert list(hello.cipher_suites) == [0xC02F, 0x002F, 0x000A]
    assert hello.server_name == b"pos.example"
    assert hello.getExtension(c.EXT_SUPPORTED_VERSIONS) is None


def test_yaml_tls13_profile_gets_a_real_key_share() -> None:
    data = {
        "id": "modern",
        "versions": ["TLSv1.3", "TLSv1.2"],
        "cipher_suites": "TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256",
        "groups": ["x25519", "secp256r1"],
        "signature_algorithms": ["ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256"],
        "sni": False,
    }
    p = profile_from_yaml(data, source="inline")
    assert not p.sends_sni
    spec = spec_for_profile(p, "ignored.example")
    hello = parse_back(build_client_hello(spec))
    assert hello.getExtension(c.EXT_SERVER_NAME) is None
    assert list(hello.getExtension(c.EXT_SUPPORTED_VERSIONS).versions) == [(3, 4), (3, 3)]
    shares = decode_key_share(dict(spec.extra_extensions)[c.EXT_KEY_SHARE])
    assert [g for g, _ in shares] == [X25519]
    assert len(shares[0][1]) == 32


def test_yaml_profile_from_a_captured_hello() -> None:
    data = {
        "id": "cap",
        "client_hello": HELLO.hex(" "),
        "versions": ["TLSv1.2", "TLSv1.1"],
        "min_rsa_bits": 2048,
    }
    p = profile_from_yaml(data, source="clients.yaml")
    assert p.versions == (c.TLS12, c.TLS11)
    assert p.cipher_suites == HELLO_SPEC.cipher_suites
    assert p.min_rsa_bits == 2048


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"versions": ["TLSv1.2"], "cipher_suites": ["AES128-SHA"]}, "field 'id' is required"),
        ({"id": "x", "cipher_suites": ["AES128-SHA"]}, "field 'versions' is required"),
        ({"id": "x", "versions": ["TLSv1.2"]}, "field 'cipher_suites' is required"),
        (
            {"id": "x", "versions": ["TLSv1.9"], "cipher_suites": ["AES128-SHA"]},
            "field 'versions' entry 1: unknown protocol version 'TLSv1.9'",
        ),
        (
            {"id": "x", "versions": ["TLSv1.2"], "cipher_suites": ["AES128-SHA", "NOPE-SHA"]},
            "field 'cipher_suites' entry 2: unknown cipher suite 'NOPE-SHA'",
        ),
        (
            {"id": "x", "versions": ["TLSv1.2"], "cipher_suites": ["0x1FFFF"]},
            "out of the 16-bit range",
        ),
        (
            {
                "id": "x",
                "versions": ["TLSv1.2"],
                "cipher_suites": ["AES128-SHA"],
                "groups": ["curve9"],
            },
            "field 'groups' entry 1: unknown group 'curve9'",
        ),
        (
            {
                "id": "x",
                "versions": ["TLSv1.2"],
                "cipher_suites": ["AES128-SHA"],
                "signature_algorithms": ["rsa_sha3"],
            },
            "field 'signature_algorithms' entry 1: unknown signature algorithm",
        ),
        (
            {
                "id": "x",
                "versions": ["TLSv1.2"],
                "cipher_suites": ["AES128-SHA"],
                "min_dh_bits": "big",
            },
            "field 'min_dh_bits' must be a positive number of bits",
        ),
        (
            {
                "id": "x",
                "versions": ["TLSv1.2"],
                "cipher_suites": ["AES128-SHA"],
                "sni": "yes please",
            },
            "field 'sni' must be true or false",
        ),
        (
            {"id": "x", "versions": ["TLSv1.2"], "cipher_suites": ["AES128-SHA"], "cipher": ["x"]},
            "unknown field 'cipher'",
        ),
        (
            {"id": "x", "versions": "TLSv1.3", "cipher_suites": ["AES128-SHA"]},
            "has no TLS 1.3 suite",
        ),
        (
            {"id": "x", "versions": ["TLSv1.3"], "cipher_suites": ["TLS_AES_128_GCM_SHA256"]},
            "field 'groups' is required",
        ),
        ({"id": "x", "client_hello": "zz"}, "field 'client_hello': not hex"),
        (
            {"id": "x", "client_hello": HELLO.hex(), "cipher_suites": ["AES128-SHA"]},
            "'cipher_suites' conflicts with 'client_hello'",
        ),
        (
            {"id": "x", "versions": {"a": 1}, "cipher_suites": ["AES128-SHA"]},
            "field 'versions' must be a list",
        ),
        (
            {
                "id": "x",
                "versions": ["TLSv1.2"],
                "lowest_version": "TLSv1.0",
                "cipher_suites": ["AES128-SHA"],
            },
            "'lowest_version' applies to a 'client_hello'",
        ),
    ],
)
def test_bad_yaml_fields_name_source_and_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="^targets.yaml, profile 3") as info:
        profile_from_yaml(data, source="targets.yaml, profile 3")
    assert message in str(info.value)


def test_yaml_profile_must_be_a_mapping() -> None:
    with pytest.raises(ValueError, match="a profile must be a mapping"):
        profile_from_yaml(["TLSv1.2"], source="x.yaml")  # type: ignore[arg-type]


def test_unreplayable_group_placeholder_is_dropped() -> None:
    # A group we cannot generate a key for, with no captured key: the entry is left out.
    body = struct.pack(">HHHHH", 8, 0x0029, 0, X25519, 0)  # curveSM2, x25519 placeholders
    p = dataclasses.replace(
        profile_from_yaml(
            {
                "id": "sm2",
                "versions": ["TLSv1.3"],
                "cipher_suites": ["TLS_AES_128_GCM_SHA256"],
                "groups": ["curveSM2", "x25519"],
                "signature_algorithms": ["ed25519"],
            },
            source="inline",
        ),
        extensions=((c.EXT_KEY_SHARE, body),),
    )
    shares = decode_key_share(dict(spec_for_profile(p, None).extra_extensions)[c.EXT_KEY_SHARE])
    assert [g for g, _ in shares] == [X25519]
