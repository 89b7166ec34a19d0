# Generates handshakes/_registry_data.py, the code -> facts tables behind handshakes.registry.
#
# Run `make registry` (which runs `python tools/gen_registry.py`) after the reference files
# change. Facts come from two places:
#   * cipher-mapping.txt and curves-mapping.txt (testssl.sh's etc/ files, see
#     ../shared/reference/README.md), parsed line by line; a line that does not parse stops
#     the script, so a changed format is never half-read;
#   * curated tables below, transcribed from the IANA TLS registries (signature schemes,
#     extension types, handshake types, alert descriptions, and the named groups the curves
#     file lacks).
# The output is plain Python literals, written in a fixed order, so two runs over the same
# inputs give identical bytes (tests/handshakes/test_registry.py checks the committed file).
from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = REPO_ROOT.parent / "shared" / "reference"
DEFAULT_OUTPUT = REPO_ROOT / "handshakes" / "_registry_data.py"
REFERENCE_ENV = "TLSCOMPAT_REFERENCE"

# Protocol versions (RFC 8446 section 4.2.1); duplicated from handshakes.constants so the
# generator runs without the package being importable.
SSL2, SSL3, TLS10, TLS11, TLS12, TLS13 = 0x0002, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304

# The file's protocol column names the oldest version that defines the suite. A suite stays
# negotiable in later versions up to TLS 1.2; TLS 1.3 has its own suites (RFC 8446 section
# B.4) and SSL 2.0 its own 3-byte cipher kinds (SSLv2 draft, appendix A).
PROTOCOL_VERSIONS: dict[str, tuple[int, ...]] = {
    "SSLv2": (SSL2,),
    "SSLv3": (SSL3, TLS10, TLS11, TLS12),
    "TLSv1": (TLS10, TLS11, TLS12),
    "TLSv1.2": (TLS12,),
    "TLSv1.3": (TLS13,),
}

# Signalling cipher suite values: never negotiated, so no versions. RFC 5746 section 3.3
# (renegotiation_info) and RFC 7507 section 2 (fallback). Not in cipher-mapping.txt.
SCSV_ROWS: tuple[tuple[int, str], ...] = (
    (0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"),
    (0x5600, "TLS_FALLBACK_SCSV"),
)

# RFC 5246 appendix A.5: TLS_NULL_WITH_NULL_NULL is the initial state of a connection and
# MUST NOT be negotiated.
NEVER_NEGOTIATED = frozenset({0x0000})

# --- Named groups (IANA TLS Supported Groups) -------------------------------------------

# Groups the curves file lacks: code, name, kind, bits (classical part for hybrids), tls13.
EXTRA_GROUPS: tuple[tuple[int, str, str, int, bool], ...] = (
    # draft-ietf-tls-ecdhe-mlkem: ECDHE + ML-KEM hybrids for TLS 1.3.
    (0x11EB, "SecP256r1MLKEM768", "hybrid", 256, True),
    (0x11EC, "X25519MLKEM768", "hybrid", 255, True),
    (0x11ED, "SecP384r1MLKEM1024", "hybrid", 384, True),
    # draft-tls-westerbaan-xyber768d00: the pre-standard Kyber hybrids browsers shipped.
    (0x6399, "X25519Kyber768Draft00", "hybrid", 255, True),
    (0x639A, "SecP256r1Kyber768Draft00", "hybrid", 256, True),
    # RFC 8422 section 5.1.1 (deprecated): explicit curve parameters in ServerKeyExchange.
    (0xFF01, "arbitrary_explicit_prime_curves", "legacy", 0, False),
    (0xFF02, "arbitrary_explicit_char2_curves", "legacy", 0, False),
)

# The elliptic curves RFC 8446 section 4.2.7 allows in TLS 1.3. classify_group() adds the
# ffdhe groups (same section) and those later RFCs allow: RFC 8734 (brainpool*tls13),
# RFC 9367 (GOST GC256*/GC512*), RFC 8998 (curveSM2).
TLS13_GROUP_NAMES = frozenset({"secp256r1", "secp384r1", "secp521r1", "x25519", "x448"})

# Codes in curves-mapping.txt that are not TLS named groups: 0x0000 is listed as
# "NULL TPM_ECC_NONE", a TPM 2.0 constant, not a value of the IANA registry.
SKIPPED_GROUPS = frozenset({0x0000})

# --- Signature schemes (IANA TLS SignatureScheme; RFC 8446 section 4.2.3) ----------------

SIGNATURE_SCHEMES: tuple[tuple[int, str], ...] = (
    # RSASSA-PKCS1-v1_5 and ECDSA (RFC 8446 section 4.2.3).
    (0x0401, "rsa_pkcs1_sha256"),
    (0x0501, "rsa_pkcs1_sha384"),
    (0x0601, "rsa_pkcs1_sha512"),
    (0x0403, "ecdsa_secp256r1_sha256"),
    (0x0503, "ecdsa_secp384r1_sha384"),
    (0x0603, "ecdsa_secp521r1_sha512"),
    # RSASSA-PSS and EdDSA (RFC 8446 section 4.2.3).
    (0x0804, "rsa_pss_rsae_sha256"),
    (0x0805, "rsa_pss_rsae_sha384"),
    (0x0806, "rsa_pss_rsae_sha512"),
    (0x0807, "ed25519"),
    (0x0808, "ed448"),
    (0x0809, "rsa_pss_pss_sha256"),
    (0x080A, "rsa_pss_pss_sha384"),
    (0x080B, "rsa_pss_pss_sha512"),
    # Legacy (RFC 8446 section 4.2.3).
    (0x0201, "rsa_pkcs1_sha1"),
    (0x0203, "ecdsa_sha1"),
    # TLS 1.2 (hash, signature) pairs of RFC 5246 section 7.4.1.4.1 with no RFC 8446 name:
    # hash md5(1) sha1(2) sha224(3) sha256(4) sha384(5) sha512(6); sig rsa(1) dsa(2) ecdsa(3).
    (0x0101, "rsa_md5"),
    (0x0102, "dsa_md5"),
    (0x0103, "ecdsa_md5"),
    (0x0202, "dsa_sha1"),
    (0x0301, "rsa_sha224"),
    (0x0302, "dsa_sha224"),
    (0x0303, "ecdsa_sha224"),
    (0x0402, "dsa_sha256"),
    (0x0502, "dsa_sha384"),
    (0x0602, "dsa_sha512"),
    # draft-ietf-tls-tls13-pkcs1: PKCS#1 v1.5 for TLS 1.3 client certificates only.
    (0x0420, "rsa_pkcs1_sha256_legacy"),
    (0x0520, "rsa_pkcs1_sha384_legacy"),
    (0x0620, "rsa_pkcs1_sha512_legacy"),
    # RFC 9770 (identity-based), RFC 8998 (SM2), RFC 9367 (GOST for TLS 1.3).
    (0x0704, "eccsi_sha256"),
    (0x0705, "iso_ibs1"),
    (0x0706, "iso_ibs2"),
    (0x0707, "iso_chinese_ibs"),
    (0x0708, "sm2sig_sm3"),
    (0x0709, "gostr34102012_256a"),
    (0x070A, "gostr34102012_256b"),
    (0x070B, "gostr34102012_256c"),
    (0x070C, "gostr34102012_256d"),
    (0x070D, "gostr34102012_512a"),
    (0x070E, "gostr34102012_512b"),
    (0x070F, "gostr34102012_512c"),
    # RFC 8734: ECDSA over the brainpool TLS 1.3 curves.
    (0x081A, "ecdsa_brainpoolP256r1tls13_sha256"),
    (0x081B, "ecdsa_brainpoolP384r1tls13_sha384"),
    (0x081C, "ecdsa_brainpoolP512r1tls13_sha512"),
    # draft-ietf-tls-mldsa: ML-DSA (FIPS 204).
    (0x0904, "mldsa44"),
    (0x0905, "mldsa65"),
    (0x0906, "mldsa87"),
)

# --- Extension types (IANA TLS ExtensionType Values) --------------------------------------

EXTENSIONS: tuple[tuple[int, str], ...] = (
    (0, "server_name"),  # RFC 6066
    (1, "max_fragment_length"),
    (2, "client_certificate_url"),
    (3, "trusted_ca_keys"),
    (4, "truncated_hmac"),
    (5, "status_request"),
    (6, "user_mapping"),  # RFC 4681
    (7, "client_authz"),  # RFC 5878
    (8, "server_authz"),
    (9, "cert_type"),  # RFC 6091
    (10, "supported_groups"),  # RFC 8422, RFC 7919
    (11, "ec_point_formats"),
    (12, "srp"),  # RFC 5054
    (13, "signature_algorithms"),  # RFC 8446
    (14, "use_srtp"),  # RFC 5764
    (15, "heartbeat"),  # RFC 6520
    (16, "application_layer_protocol_negotiation"),  # RFC 7301
    (17, "status_request_v2"),  # RFC 6961
    (18, "signed_certificate_timestamp"),  # RFC 6962
    (19, "client_certificate_type"),  # RFC 7250
    (20, "server_certificate_type"),
    (21, "padding"),  # RFC 7685
    (22, "encrypt_then_mac"),  # RFC 7366
    (23, "extended_master_secret"),  # RFC 7627
    (24, "token_binding"),  # RFC 8472
    (25, "cached_info"),  # RFC 7924
    (26, "tls_lts"),
    (27, "compress_certificate"),  # RFC 8879
    (28, "record_size_limit"),  # RFC 8449
    (29, "pwd_protect"),  # RFC 8492
    (30, "pwd_clear"),
    (31, "password_salt"),
    (32, "ticket_pinning"),  # RFC 8672
    (33, "tls_cert_with_extern_psk"),  # RFC 8773
    (34, "delegated_credential"),  # RFC 9345
    (35, "session_ticket"),  # RFC 5077
    (36, "TLMSP"),
    (37, "TLMSP_proxying"),
    (38, "TLMSP_delegate"),
    (39, "supported_ekt_ciphers"),  # RFC 8870
    (41, "pre_shared_key"),  # RFC 8446 section 4.2
    (42, "early_data"),
    (43, "supported_versions"),
    (44, "cookie"),
    (45, "psk_key_exchange_modes"),
    (47, "certificate_authorities"),
    (48, "oid_filters"),
    (49, "post_handshake_auth"),
    (50, "signature_algorithms_cert"),
    (51, "key_share"),
    (52, "transparency_info"),  # RFC 9162
    (53, "connection_id_deprecated"),
    (54, "connection_id"),  # RFC 9146
    (55, "external_id_hash"),  # RFC 8844
    (56, "external_session_id"),
    (57, "quic_transport_parameters"),  # RFC 9001
    (58, "ticket_request"),  # RFC 9149
    (59, "dnssec_chain"),  # RFC 9102
    (0x3374, "next_protocol_negotiation"),  # NPN draft, never IANA-registered
    (0x4469, "application_settings"),  # ALPS draft (Chrome's first code point)
    (0x44CD, "application_settings"),  # ALPS draft (Chrome's current code point)
    (0x7550, "channel_id"),  # Channel ID draft (Chrome)
    (0xFD00, "ech_outer_extensions"),  # Encrypted Client Hello
    (0xFE0D, "encrypted_client_hello"),
    (0xFF01, "renegotiation_info"),  # RFC 5746
)

# --- Handshake types (IANA TLS HandshakeType; RFC 8446 section 4, RFC 5246 7.4) -----------

HANDSHAKE_TYPES: tuple[tuple[int, str], ...] = (
    (0, "hello_request"),
    (1, "client_hello"),
    (2, "server_hello"),
    (3, "hello_verify_request"),  # DTLS, RFC 6347
    (4, "new_session_ticket"),
    (5, "end_of_early_data"),
    (6, "hello_retry_request_RESERVED"),  # TLS 1.3 drafts only
    (8, "encrypted_extensions"),
    (9, "request_connection_id"),  # RFC 9147
    (10, "new_connection_id"),
    (11, "certificate"),
    (12, "server_key_exchange"),
    (13, "certificate_request"),
    (14, "server_hello_done"),
    (15, "certificate_verify"),
    (16, "client_key_exchange"),
    (17, "client_certificate_request"),  # RFC 9261
    (20, "finished"),
    (21, "certificate_url"),  # RFC 6066
    (22, "certificate_status"),
    (23, "supplemental_data"),  # RFC 4680
    (24, "key_update"),
    (25, "compressed_certificate"),  # RFC 8879
    (26, "ekt_key"),  # RFC 8870
    (67, "next_protocol"),  # NPN draft, never IANA-registered
    (254, "message_hash"),  # RFC 8446 section 4.4.1
)

# --- Alert descriptions (RFC 8446 section 6, IANA TLS Alerts) -----------------------------

ALERTS: tuple[tuple[int, str, str], ...] = (
    (0, "close_notify",
     "The sender will not send any more messages on this connection."),
    (10, "unexpected_message",
     "An inappropriate message (such as the wrong handshake message or premature application "
     "data) was received."),
    (20, "bad_record_mac",
     "A record was received that could not be deprotected (its MAC or AEAD tag did not "
     "verify)."),
    (21, "decryption_failed_RESERVED",
     "Legacy (TLS 1.0 and earlier): a record decrypted badly, no longer sent because telling "
     "it apart from bad_record_mac enables padding-oracle attacks."),
    (22, "record_overflow",
     "A record was received whose length exceeded the permitted maximum."),
    (30, "decompression_failure",
     "Legacy (SSL 3.0 to TLS 1.2): the decompression function received improper input; "
     "TLS 1.3 has no compression."),
    (40, "handshake_failure",
     "The sender was unable to negotiate an acceptable set of security parameters given the "
     "options available."),
    (41, "no_certificate_RESERVED",
     "Legacy SSL 3.0 no_certificate: the client had no suitable certificate for the server's "
     "request; TLS never sends it."),
    (42, "bad_certificate",
     "A certificate was corrupt, contained signatures that did not verify correctly, etc."),
    (43, "unsupported_certificate",
     "A certificate was of an unsupported type."),
    (44, "certificate_revoked",
     "A certificate was revoked by its signer."),
    (45, "certificate_expired",
     "A certificate has expired or is not currently valid."),
    (46, "certificate_unknown",
     "Some other (unspecified) issue arose in processing the certificate, rendering it "
     "unacceptable."),
    (47, "illegal_parameter",
     "A field in the handshake was incorrect or inconsistent with other fields."),
    (48, "unknown_ca",
     "A certificate chain was received but not accepted because its CA certificate could not "
     "be located or matched with a known trust anchor."),
    (49, "access_denied",
     "A valid certificate or PSK was received, but access control made the sender decide not "
     "to proceed with the negotiation."),
    (50, "decode_error",
     "A message could not be decoded because a field was out of its specified range or the "
     "message had the wrong length."),
    (51, "decrypt_error",
     "A handshake cryptographic operation failed, such as verifying a signature, a Finished "
     "message or a PSK binder."),
    (60, "export_restriction_RESERVED",
     "Legacy (TLS 1.0): a negotiation not in compliance with export restrictions was "
     "detected; export cipher suites no longer exist."),
    (70, "protocol_version",
     "The protocol version the peer attempted to negotiate is recognized but not supported."),
    (71, "insufficient_security",
     "The negotiation failed specifically because the server requires parameters more secure "
     "than those the client supports."),
    (80, "internal_error",
     "An internal error unrelated to the peer or the correctness of the protocol made it "
     "impossible to continue."),
    (86, "inappropriate_fallback",
     "The server rejected a fallback retry: the client sent TLS_FALLBACK_SCSV with a version "
     "lower than the highest the server supports (RFC 7507)."),
    (90, "user_canceled",
     "The handshake is being canceled for some reason unrelated to a protocol failure."),
    (100, "no_renegotiation",
     "Legacy (TLS 1.2 and earlier): the peer declined a renegotiation request; TLS 1.3 has no "
     "renegotiation."),
    (109, "missing_extension",
     "A handshake message lacked an extension that is mandatory for the offered TLS version "
     "or other negotiated parameters."),
    (110, "unsupported_extension",
     "A handshake message contained an extension that is prohibited in it or that was not "
     "first offered by the peer."),
    (111, "certificate_unobtainable",
     "Legacy (RFC 6066 client_certificate_url): the server could not obtain a certificate "
     "from a URL the client provided."),
    (112, "unrecognized_name",
     "The server has no host matching the name the client sent in the server_name extension."),
    (113, "bad_certificate_status_response",
     "The server's OCSP response (status_request extension) was invalid or unacceptable."),
    (114, "bad_certificate_hash_value",
     "Legacy (RFC 6066 client_certificate_url): a certificate fetched from a URL did not "
     "match the hash the client supplied."),
    (115, "unknown_psk_identity",
     "PSK key establishment was desired but the client provided no acceptable PSK identity."),
    (116, "certificate_required",
     "The server wanted a client certificate but the client provided none."),
    (120, "no_application_protocol",
     "None of the protocols the client advertised in its ALPN extension is supported by the "
     "server."),
    (121, "ech_required",
     "The client offered Encrypted Client Hello and the server did not accept it."),
)

# --- Parsing the reference files ----------------------------------------------------------

# "      0xC0,0x2F - ECDHE-RSA-AES128-GCM-SHA256  TLS_ECDHE_RSA_WITH_...  TLSv1.2  Kx=ECDH
#  Au=RSA  Enc=AESGCM(128)  Mac=AEAD  [export]"; SSLv2 kinds have three code bytes.
CIPHER_LINE = re.compile(
    r"^\s*(?P<code>0x[0-9A-Fa-f]{2}(?:,0x[0-9A-Fa-f]{2}){1,2})\s+-\s+"
    r"(?P<openssl>\S+)\s+(?P<iana>\S+)\s+(?P<proto>\S+)\s+"
    r"Kx=(?P<kx>\S+)\s+Au=(?P<au>\S+)\s+Enc=(?P<enc>\S+)\s+Mac=(?P<mac>\S+)"
    r"(?:\s+(?P<export>export))?\s*$"
)
CURVE_LINE = re.compile(
    r"^\s*(?P<code>0x[0-9A-Fa-f]{2},0x[0-9A-Fa-f]{2})\s+-\s+(?P<name>\S+)\s+(?P<alias>\S+)\s*$"
)
ENC_BITS = re.compile(r"^(?P<name>[A-Za-z0-9-]+)\((?P<bits>\d+)\)$")

AUTH_NAMES = {"None": "anon", "GOST01": "GOST", "GOST94": "GOST"}
ENC_NAMES = {"NONE": "NULL", "GOST": "GOST89"}  # all of the file's GOST suites use GOST 28147-89
MAC_NAMES = {"NULL": "NULL", "GOST89IMIT": "GOST89MAC"}


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteRow:
    code: int
    iana: str
    openssl: str
    kx: str
    auth: str
    enc: str
    bits: int
    mac: str
    versions: tuple[int, ...]


class ReferenceDataError(Exception):
    """A reference file line that does not parse."""


def parse_code(text: str) -> int:
    code = 0
    for part in text.split(","):
        code = code << 8 | int(part, 16)
    return code


def is_export_name(iana: str, openssl: str) -> bool:
    return "EXPORT" in iana.upper() or openssl.upper().startswith("EXP")


def normalise_kx(raw: str, iana: str, openssl: str, where: str) -> str:
    kx = raw.split("(", 1)[0]  # "RSA(512)", "DH(1024)": the export key size is not the kx
    if "/" in kx:
        # "DH/RSA", "ECDH/ECDSA": static (EC)DH, the certificate carries the DH key.
        return kx.split("/", 1)[0]
    if kx in ("DH", "ECDH"):
        # Without a "/" the server sends its (EC)DH share in ServerKeyExchange: ephemeral.
        # That covers DHE/EDH/ECDHE by name and the anonymous suites, whose key is ephemeral
        # too (RFC 5246 section 7.4.3 DH_anon, RFC 8422 section 2.3 ECDH_anon).
        name = iana.upper() + " " + openssl.upper()
        if not any(tag in name for tag in ("DHE", "EDH", "_ANON_", "ADH", "AECDH", "-ANON-")):
            raise ReferenceDataError(f"{where}: Kx={raw} but the name says neither DHE nor anon")
        return kx + "E"
    if kx == "None":
        return "NULL"
    return kx


def parse_cipher_line(line: str, where: str) -> tuple[SuiteRow, str]:
    m = CIPHER_LINE.match(line)
    if m is None:
        raise ReferenceDataError(f"{where}: cannot parse cipher line {line.strip()!r}")
    code_text = m["code"]
    openssl = "" if m["openssl"] == "-" else m["openssl"]
    # Four GOST suites have no IANA name in the file: show their OpenSSL name instead.
    iana = openssl if m["iana"] == "-" else m["iana"]
    proto = m["proto"]
    if proto not in PROTOCOL_VERSIONS:
        raise ReferenceDataError(f"{where}: unknown protocol column {proto!r}")
    if (code_text.count(",") == 2) != (proto == "SSLv2"):
        raise ReferenceDataError(f"{where}: 3-byte codes are for SSLv2 kinds only")
    enc_text = m["enc"]
    em = ENC_BITS.match(enc_text)
    if em is not None:
        enc, bits = em["name"].upper(), int(em["bits"])
    elif enc_text == "None":
        enc, bits = "NONE", 0
    else:
        raise ReferenceDataError(f"{where}: cannot parse Enc={enc_text}")
    enc = ENC_NAMES.get(enc, enc)
    mac = m["mac"].upper()
    code = parse_code(code_text)
    versions = PROTOCOL_VERSIONS[proto]
    if m["export"] or is_export_name(iana, openssl):
        # RFC 4346 section A.5: TLS 1.1 implementations MUST NOT negotiate export suites.
        versions = tuple(v for v in versions if v < TLS11)
    if code in NEVER_NEGOTIATED and proto != "SSLv2":
        versions = ()
    row = SuiteRow(
        code=code,
        iana=iana,
        openssl=openssl,
        kx=normalise_kx(m["kx"], iana, openssl, where),
        auth=AUTH_NAMES.get(m["au"], m["au"]),
        enc=enc,
        bits=bits,
        mac=MAC_NAMES.get(mac, mac),
        versions=versions,
    )
    return row, code_text


def read_suites(path: Path, notes: list[str]) -> list[SuiteRow]:
    rows: dict[int, SuiteRow] = {}
    first_line: dict[int, tuple[int, str]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row, code_text = parse_cipher_line(line, f"{path.name}:{lineno}")
        if row.code in rows:
            # The wire code is the key; two lines for one int keep the first.
            seen_line, seen_text = first_line[row.code]
            notes.append(
                f"{path.name}:{lineno} {code_text} {row.iana} has the same code as line "
                f"{seen_line} ({seen_text} {rows[row.code].iana}); kept line {seen_line}"
            )
            continue
        rows[row.code] = row
        first_line[row.code] = (lineno, code_text)
    for code, name in SCSV_ROWS:
        if code in rows:
            raise ReferenceDataError(f"{path.name}: {name} already present")
        rows[code] = SuiteRow(
            code=code, iana=name, openssl="", kx="SCSV", auth="SCSV", enc="SCSV",
            bits=0, mac="SCSV", versions=(),
        )
    return list(rows.values())


def classify_group(name: str, where: str) -> tuple[str, int, bool]:
    """Kind, security-relevant bits and TLS 1.3 usability of a curves-file group."""
    if name in ("x25519", "x448"):
        return "x", 255 if name == "x25519" else 448, True
    m = re.fullmatch(r"(sect|secp|brainpoolP)(\d+)(k1|r1|r2)(tls13)?", name)
    if m is not None:
        return "ecdhe", int(m[2]), name in TLS13_GROUP_NAMES or m[4] is not None
    m = re.fullmatch(r"ffdhe(\d+)", name)
    if m is not None:
        return "ffdhe", int(m[1]), True  # RFC 7919, RFC 8446 section 4.2.7
    m = re.fullmatch(r"GC(256|512)[A-D]", name)
    if m is not None:
        return "gost", int(m[1]), True  # RFC 9367
    if name == "curveSM2":
        return "sm2", 256, True  # RFC 8998
    raise ReferenceDataError(f"{where}: unknown group {name!r}: classify it in gen_registry.py")


def read_groups(path: Path, notes: list[str]) -> list[tuple[int, str, str, int, bool]]:
    rows: dict[int, tuple[int, str, str, int, bool]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{lineno}"
        m = CURVE_LINE.match(line)
        if m is None:
            raise ReferenceDataError(f"{where}: cannot parse curve line {line.strip()!r}")
        code = parse_code(m["code"])
        if code in SKIPPED_GROUPS:
            notes.append(f"{where} {m['code']} {m['name']}/{m['alias']} skipped: not a TLS group")
            continue
        if code in rows:
            notes.append(f"{where} {m['code']} duplicate code; kept the first")
            continue
        kind, bits, tls13 = classify_group(m["name"], where)
        rows[code] = (code, m["name"], kind, bits, tls13)
    for extra in EXTRA_GROUPS:
        if extra[0] in rows:
            raise ReferenceDataError(f"{path.name}: curated group {extra[1]} is now in the file")
        rows[extra[0]] = extra
    return sorted(rows.values())


# --- Writing the module -------------------------------------------------------------------


def hex_literal(code: int) -> str:
    return f"0x{code:06X}" if code > 0xFFFF else f"0x{code:04X}"


def render(reference: Path) -> str:
    cipher_path = reference / "cipher-mapping.txt"
    curves_path = reference / "curves-mapping.txt"
    notes: list[str] = []
    suites = read_suites(cipher_path, notes)
    groups = read_groups(curves_path, notes)

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    out: list[str] = [
        "# GENERATED by `python tools/gen_registry.py` (`make registry`): do not edit by hand.",
        "# The code -> facts tables behind handshakes.registry, as plain literals.",
        "# Sources: the curated IANA tables in tools/gen_registry.py and",
        f"#   cipher-mapping.txt sha256 {digest(cipher_path)}",
        f"#   curves-mapping.txt sha256 {digest(curves_path)}",
        "# (testssl.sh etc/ files; see ../shared/reference/README.md).",
    ]
    if notes:
        out.append("# Notes from the generator:")
        out.extend(f"#   {note}" for note in notes)
    out += [
        "",
        "# (code, iana, openssl, kx, auth, enc, bits, mac, versions), in cipher-mapping.txt order.",
        "CIPHER_SUITE_ROWS: tuple[",
        "    tuple[int, str, str, str, str, str, int, str, tuple[int, ...]], ...",
        "] = (",
    ]
    for s in suites:
        versions = ", ".join(f"0x{v:04X}" for v in s.versions) + ("," if len(s.versions) == 1 else "")
        fields = ", ".join(
            (hex_literal(s.code), repr(s.iana), repr(s.openssl), repr(s.kx), repr(s.auth),
             repr(s.enc), str(s.bits), repr(s.mac), f"({versions})")
        )
        out.append(f"    ({fields}),")
    out += [
        ")",
        "",
        "# (code, name, kind, bits, tls13), by code.",
        "GROUP_ROWS: tuple[tuple[int, str, str, int, bool], ...] = (",
    ]
    out += [
        f"    ({hex_literal(c)}, {n!r}, {k!r}, {b}, {t}),"
        for c, n, k, b, t in groups
    ]
    out.append(")")

    def pairs(name: str, rows: Sequence[tuple[int, str]], width: int) -> list[str]:
        lines = ["", f"{name}: tuple[tuple[int, str], ...] = ("]
        lines += [f"    (0x{c:0{width}X}, {n!r})," for c, n in sorted(rows)]
        return [*lines, ")"]

    out += pairs("SIGNATURE_SCHEME_ROWS", SIGNATURE_SCHEMES, 4)
    out += pairs("EXTENSION_ROWS", EXTENSIONS, 4)
    out += pairs("HANDSHAKE_TYPE_ROWS", HANDSHAKE_TYPES, 2)
    out += ["", "ALERT_ROWS: tuple[tuple[int, str, str], ...] = ("]
    out += [f"    ({c}, {n!r}, {m!r})," for c, n, m in sorted(ALERTS)]
    out.append(")")
    return "\n".join(out) + "\n"


def check_curated() -> None:
    for label, table in (
        ("signature scheme", SIGNATURE_SCHEMES),
        ("extension", EXTENSIONS),
        ("handshake type", HANDSHAKE_TYPES),
    ):
        codes = [c for c, _ in table]
        if len(codes) != len(set(codes)):
            raise ReferenceDataError(f"duplicate {label} code in the curated table")
    if len({a[0] for a in ALERTS}) != len(ALERTS):
        raise ReferenceDataError("duplicate alert code in the curated table")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write handshakes/_registry_data.py from the reference files.")
    parser.add_argument(
        "--reference",
        type=Path,
        default=Path(os.environ.get(REFERENCE_ENV, DEFAULT_REFERENCE)),
        help=f"folder holding cipher-mapping.txt and curves-mapping.txt "
        f"(default ${REFERENCE_ENV} or {DEFAULT_REFERENCE})",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="file to write")
    args = parser.parse_args(argv)
    check_curated()
    try:
        text = render(args.reference)
    except (OSError, ReferenceDataError) as exc:
        print(f"gen_registry: {exc}", file=sys.stderr)
        return 1
    args.output.write_bytes(text.encode("utf-8"))
    print(f"gen_registry: wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
