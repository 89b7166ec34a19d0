# The TLS 1.3 key schedule and record protection, proven against the published trace of
# RFC 8448 section 3 ("Simple 1-RTT Handshake": X25519, TLS_AES_128_GCM_SHA256, no PSK),
# then exercised for every suite: round trips, tampering, sequence numbers, limits.
from __future__ import annotations

import hashlib
import hmac
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from handshakes.errors import LocalProtocolError, RemoteProtocolError
from handshakes.keyshare import X25519, KeyShare
from handshakes.tls13 import (
    HandshakeSecrets,
    RecordProtection,
    Tls13CipherParams,
    cipher_params,
    derive_secret,
    finished_verify_data,
    handshake_secrets,
    hkdf_expand_label,
    hkdf_extract,
    hrr_transcript_prefix,
    traffic_key_iv,
    transcript_hash,
)

SUITE = 0x1301  # TLS_AES_128_GCM_SHA256, the suite of the RFC 8448 section 3 trace
ALL_SUITES = (0x1301, 0x1302, 0x1303, 0x1304, 0x1305)

# ---------------------------------------------------------------------------------------
# RFC 8448 section 3, in the order the trace prints them.

# {client} create an ephemeral x25519 key pair: private key, public key (32 octets each).
CLIENT_PRIVATE = bytes.fromhex(
    """
    49 af 42 ba 7f 79 94 85 2d 71 3e f2 78 4b cb ca
    a7 91 1d e2 6a dc 56 42 cb 63 45 40 e7 ea 50 05
    """
)

CLIENT_PUBLIC = bytes.fromhex(
    """
    99 38 1d e5 60 e4 bd 43 d2 3d 8e 43 5a 7d ba fe
    b3 c0 6e 51 c1 3c ae 4d 54 13 69 1e 52 9a af 2c
    """
)

# {client} construct a ClientHello handshake message (196 octets, header included).
CLIENT_HELLO = bytes.fromhex(
    """
    01 00 00 c0 03 03 cb 34 ec b1 e7 81 63 ba 1c 38
    c6 da cb 19 6a 6d ff a2 1a 8d 99 12 ec 18 a2 ef
    62 83 02 4d ec e7 00 00 06 13 01 13 03 13 02 01
    00 00 91 00 00 00 0b 00 09 00 00 06 73 65 72 76
    65 72 ff 01 00 01 00 00 0a 00 14 00 12 00 1d 00
    17 00 18 00 19 01 00 01 01 01 02 01 03 01 04 00
    23 00 00 00 33 00 26 00 24 00 1d 00 20 99 38 1d
    e5 60 e4 bd 43 d2 3d 8e 43 5a 7d ba fe b3 c0 6e
    51 c1 3c ae 4d 54 13 69 1e 52 9a af 2c 00 2b 00
    03 02 03 04 00 0d 00 20 00 1e 04 03 05 03 06 03
    02 03 08 04 08 05 08 06 04 01 05 01 06 01 02 01
    04 02 05 02 06 02 02 02 00 2d 00 02 01 01 00 1c
    00 02 40 01
    """
)

# {server} create an ephemeral x25519 key pair.
SERVER_PRIVATE = bytes.fromhex(
    """
    b1 58 0e ea df 6d d5 89 b8 ef 4f 2d 56 52 57 8c
    c8 10 e9 98 01 91 ec 8d 05 83 08 ce a2 16 a2 1e
    """
)

SERVER_PUBLIC = bytes.fromhex(
    """
    c9 82 88 76 11 20 95 fe 66 76 2b db f7 c6 72 e1
    56 d6 cc 25 3b 83 3d f1 dd 69 b1 b0 4e 75 1f 0f
    """
)

# {server} construct a ServerHello handshake message (90 octets): suite 13 01, key_share
# 00 33 with the server's x25519 public key, supported_versions 03 04.
SERVER_HELLO = bytes.fromhex(
    """
    02 00 00 56 03 03 a6 af 06 a4 12 18 60 dc 5e 6e
    60 24 9c d3 4c 95 93 0c 8a c5 cb 14 34 da c1 55
    77 2e d3 e2 69 28 00 13 01 00 00 2e 00 33 00 24
    00 1d 00 20 c9 82 88 76 11 20 95 fe 66 76 2b db
    f7 c6 72 e1 56 d6 cc 25 3b 83 3d f1 dd 69 b1 b0
    4e 75 1f 0f 00 2b 00 02 03 04
    """
)

# {server} derive secret for handshake "tls13 derived": the IKM (32 octets) is the
# x25519 shared secret.
SHARED_SECRET = bytes.fromhex(
    """
    8b d4 05 4f b5 5b 9d 63 fd fb ac f9 f0 4b 9f 0d
    35 e6 d6 3f 53 75 63 ef d4 62 72 90 0f 89 49 2d
    """
)

# {server} extract secret "early" (no PSK).
EARLY_SECRET = bytes.fromhex(
    """
    33 ad 0a 1c 60 7e c0 3b 09 e6 cd 98 93 68 0c e2
    10 ad f3 00 aa 1f 26 60 e1 b2 2e 10 f1 70 f9 2a
    """
)

# {server} derive secret for handshake "tls13 derived".
DERIVED_FOR_HANDSHAKE = bytes.fromhex(
    """
    6f 26 15 a1 08 c7 02 c5 67 8f 54 fc 9d ba b6 97
    16 c0 76 18 9c 48 25 0c eb ea c3 57 6c 36 11 ba
    """
)

# {server} extract secret "handshake".
HANDSHAKE_SECRET = bytes.fromhex(
    """
    1d c8 26 e9 36 06 aa 6f dc 0a ad c1 2f 74 1b 01
    04 6a a6 b9 9f 69 1e d2 21 a9 f0 ca 04 3f be ac
    """
)

# Hash(ClientHello || ServerHello), the hash input of "tls13 c hs traffic".
HELLO_HASH = bytes.fromhex(
    """
    86 0c 06 ed c0 78 58 ee 8e 78 f0 e7 42 8c 58 ed
    d6 b4 3f 2c a3 e6 e9 5f 02 ed 06 3c f0 e1 ca d8
    """
)

# {server} derive secret "tls13 c hs traffic" / "tls13 s hs traffic".
CLIENT_HS_TRAFFIC = bytes.fromhex(
    """
    b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f
    3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21
    """
)

SERVER_HS_TRAFFIC = bytes.fromhex(
    """
    b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4
    e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38
    """
)

# {server} derive write traffic keys for handshake data: key (16 octets), iv (12 octets).
SERVER_HS_KEY = bytes.fromhex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc")
SERVER_HS_IV = bytes.fromhex("5d 31 3e b2 67 12 76 ee 13 00 0b 30")

# {client} derive read traffic keys for handshake data (the client's write key and iv).
CLIENT_HS_KEY = bytes.fromhex("db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01")
CLIENT_HS_IV = bytes.fromhex("5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f")

# {server} construct an EncryptedExtensions handshake message: supported_groups,
# record_size_limit 40 01, server_name (empty).
ENCRYPTED_EXTENSIONS = bytes.fromhex(
    """
    08 00 00 24 00 22 00 0a 00 14 00 12 00 1d 00 17
    00 18 00 19 01 00 01 01 01 02 01 03 01 04 00 1c
    00 02 40 01 00 00 00 00
    """
)

# {server} construct a Certificate handshake message (one RSA certificate, CN "rsa").
CERTIFICATE = bytes.fromhex(
    """
    0b 00 01 b9 00 00 01 b5 00 01 b0 30 82 01 ac 30
    82 01 15 a0 03 02 01 02 02 01 02 30 0d 06 09 2a
    86 48 86 f7 0d 01 01 0b 05 00 30 0e 31 0c 30 0a
    06 03 55 04 03 13 03 72 73 61 30 1e 17 0d 31 36
    30 37 33 30 30 31 32 33 35 39 5a 17 0d 32 36 30
    37 33 30 30 31 32 33 35 39 5a 30 0e 31 0c 30 0a
    06 03 55 04 03 13 03 72 73 61 30 81 9f 30 0d 06
    09 2a 86 48 86 f7 0d 01 01 01 05 00 03 81 8d 00
    30 81 89 02 81 81 00 b4 bb 49 8f 82 79 30 3d 98
    08 36 39 9b 36 c6 98 8c 0c 68 de 55 e1 bd b8 26
    d3 90 1a 24 61 ea fd 2d e4 9a 91 d0 15 ab bc 9a
    95 13 7a ce 6c 1a f1 9e aa 6a f9 8c 7c ed 43 12
    09 98 e1 87 a8 0e e0 cc b0 52 4b 1b 01 8c 3e 0b
    63 26 4d 44 9a 6d 38 e2 2a 5f da 43 08 46 74 80
    30 53 0e f0 46 1c 8c a9 d9 ef bf ae 8e a6 d1 d0
    3e 2b d1 93 ef f0 ab 9a 80 02 c4 74 28 a6 d3 5a
    8d 88 d7 9f 7f 1e 3f 02 03 01 00 01 a3 1a 30 18
    30 09 06 03 55 1d 13 04 02 30 00 30 0b 06 03 55
    1d 0f 04 04 03 02 05 a0 30 0d 06 09 2a 86 48 86
    f7 0d 01 01 0b 05 00 03 81 81 00 85 aa d2 a0 e5
    b9 27 6b 90 8c 65 f7 3a 72 67 17 06 18 a5 4c 5f
    8a 7b 33 7d 2d f7 a5 94 36 54 17 f2 ea e8 f8 a5
    8c 8f 81 72 f9 31 9c f3 6b 7f d6 c5 5b 80 f2 1a
    03 01 51 56 72 60 96 fd 33 5e 5e 67 f2 db f1 02
    70 2e 60 8c ca e6 be c1 fc 63 a4 2a 99 be 5c 3e
    b7 10 7c 3c 54 e9 b9 eb 2b d5 20 3b 1c 3b 84 e0
    a8 b2 f7 59 40 9b a3 ea c9 d9 1d 40 2d cc 0c c8
    f8 96 12 29 ac 91 87 b4 2b 4d e1 00 00
    """
)

# {server} construct a CertificateVerify handshake message (rsa_pss_rsae_sha256, 08 04).
CERTIFICATE_VERIFY = bytes.fromhex(
    """
    0f 00 00 84 08 04 00 80 5a 74 7c 5d 88 fa 9b d2
    e5 5a b0 85 a6 10 15 b7 21 1f 82 4c d4 84 14 5a
    b3 ff 52 f1 fd a8 47 7b 0b 7a bc 90 db 78 e2 d3
    3a 5c 14 1a 07 86 53 fa 6b ef 78 0c 5e a2 48 ee
    aa a7 85 c4 f3 94 ca b6 d3 0b be 8d 48 59 ee 51
    1f 60 29 57 b1 54 11 ac 02 76 71 45 9e 46 44 5c
    9e a5 8c 18 1e 81 8e 95 b8 c3 fb 0b f3 27 84 09
    d3 be 15 2a 3d a5 04 3e 06 3d da 65 cd f5 ae a2
    0d 53 df ac d4 2f 74 f3
    """
)

# {server} construct a Finished handshake message.
SERVER_FINISHED = bytes.fromhex(
    """
    14 00 00 20 9b 9b 14 1d 90 63 37 fb d2 cb dc e7
    1d f4 de da 4a b4 2c 30 95 72 cb 7f ff ee 54 54
    b7 8f 07 18
    """
)

# verify_data of the server Finished above.
SERVER_VERIFY_DATA = bytes.fromhex(
    """
    9b 9b 14 1d 90 63 37 fb d2 cb dc e7 1d f4 de da
    4a b4 2c 30 95 72 cb 7f ff ee 54 54 b7 8f 07 18
    """
)

# {server} send handshake record: the four messages above, protected by the server
# handshake traffic keys (5 + 674 octets: 657 of content, 1 of type, 16 of tag).
SERVER_FLIGHT_RECORD = bytes.fromhex(
    """
    17 03 03 02 a2 d1 ff 33 4a 56 f5 bf f6 59 4a 07
    cc 87 b5 80 23 3f 50 0f 45 e4 89 e7 f3 3a f3 5e
    df 78 69 fc f4 0a a4 0a a2 b8 ea 73 f8 48 a7 ca
    07 61 2e f9 f9 45 cb 96 0b 40 68 90 51 23 ea 78
    b1 11 b4 29 ba 91 91 cd 05 d2 a3 89 28 0f 52 61
    34 aa dc 7f c7 8c 4b 72 9d f8 28 b5 ec f7 b1 3b
    d9 ae fb 0e 57 f2 71 58 5b 8e a9 bb 35 5c 7c 79
    02 07 16 cf b9 b1 18 3e f3 ab 20 e3 7d 57 a6 b9
    d7 47 76 09 ae e6 e1 22 a4 cf 51 42 73 25 25 0c
    7d 0e 50 92 89 44 4c 9b 3a 64 8f 1d 71 03 5d 2e
    d6 5b 0e 3c dd 0c ba e8 bf 2d 0b 22 78 12 cb b3
    60 98 72 55 cc 74 41 10 c4 53 ba a4 fc d6 10 92
    8d 80 98 10 e4 b7 ed 1a 8f d9 91 f0 6a a6 24 82
    04 79 7e 36 a6 a7 3b 70 a2 55 9c 09 ea d6 86 94
    5b a2 46 ab 66 e5 ed d8 04 4b 4c 6d e3 fc f2 a8
    94 41 ac 66 27 2f d8 fb 33 0e f8 19 05 79 b3 68
    45 96 c9 60 bd 59 6e ea 52 0a 56 a8 d6 50 f5 63
    aa d2 74 09 96 0d ca 63 d3 e6 88 61 1e a5 e2 2f
    44 15 cf 95 38 d5 1a 20 0c 27 03 42 72 96 8a 26
    4e d6 54 0c 84 83 8d 89 f7 2c 24 46 1a ad 6d 26
    f5 9e ca ba 9a cb bb 31 7b 66 d9 02 f4 f2 92 a3
    6a c1 b6 39 c6 37 ce 34 31 17 b6 59 62 22 45 31
    7b 49 ee da 0c 62 58 f1 00 d7 d9 61 ff b1 38 64
    7e 92 ea 33 0f ae ea 6d fa 31 c7 a8 4d c3 bd 7e
    1b 7a 6c 71 78 af 36 87 90 18 e3 f2 52 10 7f 24
    3d 24 3d c7 33 9d 56 84 c8 b0 37 8b f3 02 44 da
    8c 87 c8 43 f5 e5 6e b4 c5 e8 28 0a 2b 48 05 2c
    f9 3b 16 49 9a 66 db 7c ca 71 e4 59 94 26 f7 d4
    61 e6 6f 99 88 2b d8 9f c5 08 00 be cc a6 2d 6c
    74 11 6d bd 29 72 fd a1 fa 80 f8 5d f8 81 ed be
    5a 37 66 89 36 b3 35 58 3b 59 91 86 dc 5c 69 18
    a3 96 fa 48 a1 81 d6 b6 fa 4f 9d 62 d5 13 af bb
    99 2f 2b 99 2f 67 f8 af e6 7f 76 91 3f a3 88 cb
    56 30 c8 ca 01 e0 c6 5d 11 c6 6a 1e 2a c4 c8 59
    77 b7 c7 a6 99 9b bf 10 dc 35 ae 69 f5 51 56 14
    63 6c 0b 9b 68 c1 9e d2 e3 1c 0b 3b 66 76 30 38
    eb ba 42 f3 b3 8e dc 03 99 f3 a9 f2 3f aa 63 97
    8c 31 7f c9 fa 66 a7 3f 60 f0 50 4d e9 3b 5b 84
    5e 27 55 92 c1 23 35 ee 34 0b bc 4f dd d5 02 78
    40 16 e4 b3 be 7e f0 4d da 49 f4 b4 40 a3 0c b5
    d2 af 93 98 28 fd 4a e3 79 4e 44 f9 4d f5 a6 31
    ed e4 2c 17 19 bf da bf 02 53 fe 51 75 be 89 8e
    75 0e dc 53 37 0d 2b
    """
)

# {client} construct a Finished handshake message: verify_data.
CLIENT_VERIFY_DATA = bytes.fromhex(
    """
    a8 ec 43 6d 67 76 34 ae 52 5a c1 fc eb e1 1a 03
    9e c1 76 94 fa c6 e9 85 27 b6 42 f2 ed d5 ce 61
    """
)

# {client} send handshake record: the client Finished under the client handshake keys.
CLIENT_FINISHED_RECORD = bytes.fromhex(
    """
    17 03 03 00 35 75 ec 4d c2 38 cc e6 0b 29 80 44
    a7 1e 21 9c 56 cc 77 b0 51 7f e9 b9 3c 7a 4b fc
    44 d8 7f 38 f8 03 38 ac 98 fc 46 de b3 84 bd 1c
    ae ac ab 68 67 d7 26 c4 05 46
    """
)

# {server} extract secret "master".
MASTER_SECRET = bytes.fromhex(
    """
    18 df 06 84 3d 13 a0 8b f2 a4 49 84 4c 5f 8a 47
    80 01 bc 4d 4c 62 79 84 d5 a4 1d a8 d0 40 29 19
    """
)

# {server} derive secret "tls13 s ap traffic" (hash of ClientHello..server Finished).
SERVER_APPLICATION_TRAFFIC = bytes.fromhex(
    """
    a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32
    82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43
    """
)

# {server} construct a NewSessionTicket handshake message, then send it (application
# traffic keys, sequence number 0).
NEW_SESSION_TICKET = bytes.fromhex(
    """
    04 00 00 c9 00 00 00 1e fa d6 aa c5 02 00 00 00
    b2 2c 03 5d 82 93 59 ee 5f f7 af 4e c9 00 00 00
    00 26 2a 64 94 dc 48 6d 2c 8a 34 cb 33 fa 90 bf
    1b 00 70 ad 3c 49 88 83 c9 36 7c 09 a2 be 78 5a
    bc 55 cd 22 60 97 a3 a9 82 11 72 83 f8 2a 03 a1
    43 ef d3 ff 5d d3 6d 64 e8 61 be 7f d6 1d 28 27
    db 27 9c ce 14 50 77 d4 54 a3 66 4d 4e 6d a4 d2
    9e e0 37 25 a6 a4 da fc d0 fc 67 d2 ae a7 05 29
    51 3e 3d a2 67 7f a5 90 6c 5b 3f 7d 8f 92 f2 28
    bd a4 0d da 72 14 70 f9 fb f2 97 b5 ae a6 17 64
    6f ac 5c 03 27 2e 97 07 27 c6 21 a7 91 41 ef 5f
    7d e6 50 5e 5b fb c3 88 e9 33 43 69 40 93 93 4a
    e4 d3 57 00 08 00 2a 00 04 00 00 04 00
    """
)

NEW_SESSION_TICKET_RECORD = bytes.fromhex(
    """
    17 03 03 00 de 3a 6b 8f 90 41 4a 97 d6 95 9c 34
    87 68 0d e5 13 4a 2b 24 0e 6c ff ac 11 6e 95 d4
    1d 6a f8 f6 b5 80 dc f3 d1 1d 63 c7 58 db 28 9a
    01 59 40 25 2f 55 71 3e 06 1d c1 3e 07 88 91 a3
    8e fb cf 57 53 ad 8e f1 70 ad 3c 73 53 d1 6d 9d
    a7 73 b9 ca 7f 2b 9f a1 b6 c0 d4 a3 d0 3f 75 e0
    9c 30 ba 1e 62 97 2a c4 6f 75 f7 b9 81 be 63 43
    9b 29 99 ce 13 06 46 15 13 98 91 d5 e4 c5 b4 06
    f1 6e 3f c1 81 a7 7c a4 75 84 00 25 db 2f 0a 77
    f8 1b 5a b0 5b 94 c0 13 46 75 5f 69 23 2c 86 51
    9d 86 cb ee ac 87 aa c3 47 d1 43 f9 60 5d 64 f6
    50 db 4d 02 3e 70 e9 52 ca 49 fe 51 37 12 1c 74
    bc 26 97 68 7e 24 87 46 d6 df 35 30 05 f3 bc e1
    86 96 12 9c 81 53 55 6b 3b 6c 67 79 b3 7b f1 59
    85 68 4f
    """
)

# {server} send application_data record: the 50 octets 00 01 .. 31 (sequence number 1).
SERVER_APPLICATION_DATA_RECORD = bytes.fromhex(
    """
    17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad
    36 00 5f c4 a4 69 32 fc 32 25 d0 5f 82 aa 1b 36
    e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8
    fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2 ab f3 32 54
    0d d0 32 e1 67 c2 95 5d
    """
)

SERVER_FLIGHT = ENCRYPTED_EXTENSIONS + CERTIFICATE + CERTIFICATE_VERIFY + SERVER_FINISHED


def _split(record: bytes) -> tuple[bytes, bytes]:
    return record[:5], record[5:]


# ---------------------------------------------------------------------------------------
# RFC 8448 section 3


def test_rfc8448_vectors_are_whole() -> None:
    # The lengths the trace states, so that a transcription slip shows up here first.
    assert len(CLIENT_HELLO) == 4 + 0xC0 == 196
    assert len(SERVER_HELLO) == 4 + 0x56 == 90
    assert len(SERVER_FLIGHT) == 657
    assert len(SERVER_FLIGHT_RECORD) == 5 + 0x2A2 == 5 + 657 + 1 + 16
    assert SERVER_HELLO[-38:-6] == SERVER_PUBLIC


def test_rfc8448_x25519_exchange() -> None:
    client = KeyShare.from_private(X25519, CLIENT_PRIVATE)
    assert client.group == X25519
    assert client.public == CLIENT_PUBLIC
    assert client.exchange(SERVER_PUBLIC) == SHARED_SECRET
    # And from the server's side of the trace.
    assert KeyShare.from_private(X25519, SERVER_PRIVATE).exchange(CLIENT_PUBLIC) == SHARED_SECRET


def test_rfc8448_key_schedule_steps() -> None:
    zeros = bytes(32)
    early = hkdf_extract("sha256", zeros, zeros)
    assert early == EARLY_SECRET
    derived = derive_secret("sha256", early, b"derived", hashlib.sha256(b"").digest())
    assert derived == DERIVED_FOR_HANDSHAKE
    assert hkdf_extract("sha256", derived, SHARED_SECRET) == HANDSHAKE_SECRET
    assert transcript_hash("sha256", CLIENT_HELLO, SERVER_HELLO) == HELLO_HASH
    assert transcript_hash("sha256", CLIENT_HELLO + SERVER_HELLO) == HELLO_HASH


def test_rfc8448_handshake_secrets() -> None:
    secrets = handshake_secrets(SUITE, SHARED_SECRET, HELLO_HASH)
    assert secrets == HandshakeSecrets(
        client_handshake_traffic_secret=CLIENT_HS_TRAFFIC,
        server_handshake_traffic_secret=SERVER_HS_TRAFFIC,
        handshake_secret=HANDSHAKE_SECRET,
    )


def test_rfc8448_traffic_keys() -> None:
    assert traffic_key_iv(SUITE, SERVER_HS_TRAFFIC) == (SERVER_HS_KEY, SERVER_HS_IV)
    assert traffic_key_iv(SUITE, CLIENT_HS_TRAFFIC) == (CLIENT_HS_KEY, CLIENT_HS_IV)


def test_rfc8448_decrypt_server_flight() -> None:
    # What a probe does: from its own private key and the two hellos to the plaintext of
    # the server's encrypted flight.
    client = KeyShare.from_private(X25519, CLIENT_PRIVATE)
    shared = client.exchange(SERVER_HELLO[-38:-6])
    hello_hash = transcript_hash("sha256", CLIENT_HELLO, SERVER_HELLO)
    secrets = handshake_secrets(SUITE, shared, hello_hash)
    reader = RecordProtection(SUITE, secrets.server_handshake_traffic_secret)
    assert reader.sequence == 0
    content_type, plaintext = reader.decrypt(*_split(SERVER_FLIGHT_RECORD))
    assert content_type == 22  # handshake
    assert plaintext == SERVER_FLIGHT
    assert reader.sequence == 1


def test_rfc8448_server_finished() -> None:
    # RFC 8446 section 4.4.4: the server's verify_data covers ClientHello..CertificateVerify.
    before_finished = transcript_hash(
        "sha256", CLIENT_HELLO, SERVER_HELLO, ENCRYPTED_EXTENSIONS, CERTIFICATE, CERTIFICATE_VERIFY
    )
    verify_data = finished_verify_data(SUITE, SERVER_HS_TRAFFIC, before_finished)
    assert verify_data == SERVER_VERIFY_DATA
    assert SERVER_FINISHED == b"\x14\x00\x00\x20" + verify_data


def test_rfc8448_client_finished_record_encrypts_exactly() -> None:
    through_server_finished = transcript_hash("sha256", CLIENT_HELLO, SERVER_HELLO, SERVER_FLIGHT)
    verify_data = finished_verify_data(SUITE, CLIENT_HS_TRAFFIC, through_server_finished)
    assert verify_data == CLIENT_VERIFY_DATA
    writer = RecordProtection(SUITE, CLIENT_HS_TRAFFIC)
    assert writer.encrypt(22, b"\x14\x00\x00\x20" + verify_data) == CLIENT_FINISHED_RECORD
    assert writer.sequence == 1


def test_rfc8448_application_records_advance_the_sequence_number() -> None:
    # The master secret and "s ap traffic" from the same primitives, then two records
    # in a row: the ticket at sequence number 0, the data at 1.
    derived = derive_secret("sha256", HANDSHAKE_SECRET, b"derived", transcript_hash("sha256"))
    master = hkdf_extract("sha256", derived, bytes(32))
    assert master == MASTER_SECRET
    through_server_finished = transcript_hash("sha256", CLIENT_HELLO, SERVER_HELLO, SERVER_FLIGHT)
    server_ap = derive_secret("sha256", master, b"s ap traffic", through_server_finished)
    assert server_ap == SERVER_APPLICATION_TRAFFIC
    reader = RecordProtection(SUITE, server_ap)
    assert reader.decrypt(*_split(NEW_SESSION_TICKET_RECORD)) == (22, NEW_SESSION_TICKET)
    assert reader.decrypt(*_split(SERVER_APPLICATION_DATA_RECORD)) == (23, bytes(range(50)))
    assert reader.sequence == 2
    # Out of order, the second record does not authenticate.
    fresh = RecordProtection(SUITE, server_ap)
    with pytest.raises(RemoteProtocolError) as info:
        fresh.decrypt(*_split(SERVER_APPLICATION_DATA_RECORD))
    assert info.value.alert == 20
    assert fresh.sequence == 0


# ---------------------------------------------------------------------------------------
# Suites and the schedule's building blocks


@pytest.mark.parametrize(
    ("suite", "hash_name", "hash_len", "key_len", "tag_len"),
    [
        (0x1301, "sha256", 32, 16, 16),
        (0x1302, "sha384", 48, 32, 16),
        (0x1303, "sha256", 32, 32, 16),
        (0x1304, "sha256", 32, 16, 16),
        (0x1305, "sha256", 32, 16, 8),
    ],
)
def test_cipher_params(
    suite: int, hash_name: str, hash_len: int, key_len: int, tag_len: int
) -> None:
    assert cipher_params(suite) == Tls13CipherParams(
        suite=suite,
        hash_name=hash_name,
        hash_len=hash_len,
        key_len=key_len,
        iv_len=12,
        tag_len=tag_len,
    )


@pytest.mark.parametrize("suite", [0x0000, 0x002F, 0xC02F, 0x1306, 0x13FF, 0xFFFF])
def test_unknown_suite_is_illegal_parameter(suite: int) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        cipher_params(suite)
    assert info.value.alert == 47
    with pytest.raises(RemoteProtocolError):
        RecordProtection(suite, bytes(32))


def test_hkdf_expand_label_encodes_hkdf_label() -> None:
    # RFC 8446 section 7.1: HkdfLabel = uint16 length || <"tls13 " + label> || <context>,
    # which is HKDF-Expand's info; RFC 5869 section 2.3 gives T(1) = HMAC(PRK, info || 01).
    secret, context = bytes(range(32)), b"\xaa" * 5
    info = struct.pack("!HB", 16, 9) + b"tls13 key" + b"\x05" + context
    expected = hmac.digest(secret, info + b"\x01", "sha256")[:16]
    assert hkdf_expand_label("sha256", secret, b"key", context, 16) == expected


def test_hkdf_expand_label_rejects_impossible_fields() -> None:
    with pytest.raises(LocalProtocolError):
        hkdf_expand_label("sha256", bytes(32), b"x" * 250, b"", 32)
    with pytest.raises(LocalProtocolError):
        hkdf_expand_label("sha256", bytes(32), b"key", b"c" * 256, 32)
    with pytest.raises(LocalProtocolError):
        hkdf_extract("md5", b"", b"")


@pytest.mark.parametrize(("hash_name", "size"), [("sha256", 32), ("sha384", 48)])
def test_hrr_transcript_prefix(hash_name: str, size: int) -> None:
    # RFC 8446 section 4.4.1: message_hash (254), a 3-byte length, Hash(ClientHello1).
    client_hello1 = CLIENT_HELLO
    prefix = hrr_transcript_prefix(hash_name, client_hello1)
    assert prefix == bytes((254, 0, 0, size)) + hashlib.new(hash_name, client_hello1).digest()
    assert (
        transcript_hash(hash_name, prefix, SERVER_HELLO)
        == hashlib.new(hash_name, prefix + SERVER_HELLO).digest()
    )


def test_sha384_schedule_lengths() -> None:
    secrets = handshake_secrets(0x1302, bytes(48), bytes(48))
    assert len(secrets.handshake_secret) == 48
    assert len(secrets.client_handshake_traffic_secret) == 48
    assert secrets.client_handshake_traffic_secret != secrets.server_handshake_traffic_secret
    key, iv = traffic_key_iv(0x1302, secrets.server_handshake_traffic_secret)
    assert (len(key), len(iv)) == (32, 12)
    assert (
        len(finished_verify_data(0x1302, secrets.server_handshake_traffic_secret, bytes(48))) == 48
    )


# ---------------------------------------------------------------------------------------
# Record protection for every suite


def _pair(suite: int) -> tuple[RecordProtection, RecordProtection]:
    secret = bytes(range(cipher_params(suite).hash_len))
    return RecordProtection(suite, secret), RecordProtection(suite, secret)


@pytest.mark.parametrize("suite", ALL_SUITES)
@pytest.mark.parametrize("padding", [0, 1, 100])
def test_round_trip(suite: int, padding: int) -> None:
    writer, reader = _pair(suite)
    tag_len = cipher_params(suite).tag_len
    for sequence, (content_type, data) in enumerate(
        [(22, b"\x08\x00\x00\x02\x00\x00"), (23, b""), (21, b"\x02\x28"), (22, bytes(3000))]
    ):
        record = writer.encrypt(content_type, data, padding)
        assert record[:3] == b"\x17\x03\x03"
        assert int.from_bytes(record[3:5], "big") == len(record) - 5
        assert len(record) == 5 + len(data) + 1 + padding + tag_len
        assert reader.decrypt(record[:5], record[5:]) == (content_type, data)
        assert writer.sequence == reader.sequence == sequence + 1


def test_round_trip_at_the_size_limit() -> None:
    writer, reader = _pair(SUITE)
    record = writer.encrypt(23, bytes(2**14))
    assert reader.decrypt(*_split(record)) == (23, bytes(2**14))


@pytest.mark.parametrize("suite", ALL_SUITES)
def test_flipped_bit_is_bad_record_mac(suite: int) -> None:
    writer, _ = _pair(suite)
    record = writer.encrypt(22, b"hello, world")
    # The header is the AAD (byte 3-4, the length, is checked against the body instead);
    # the rest is ciphertext and tag.
    for position in (0, 1, 2, 5, len(record) // 2, len(record) - 1):
        tampered = bytearray(record)
        tampered[position] ^= 0x01
        reader = RecordProtection(suite, bytes(range(cipher_params(suite).hash_len)))
        with pytest.raises(RemoteProtocolError) as info:
            reader.decrypt(bytes(tampered[:5]), bytes(tampered[5:]))
        assert info.value.alert == 20
        assert reader.sequence == 0  # a failed record does not consume a sequence number
    _, reader = _pair(suite)
    assert reader.decrypt(*_split(record)) == (22, b"hello, world")


@pytest.mark.parametrize("suite", ALL_SUITES)
def test_short_ciphertext_is_bad_record_mac(suite: int) -> None:
    _, reader = _pair(suite)
    for body in (b"", b"\x00", bytes(cipher_params(suite).tag_len)):
        with pytest.raises(RemoteProtocolError) as info:
            reader.decrypt(b"\x17\x03\x03" + len(body).to_bytes(2, "big"), body)
        assert info.value.alert == 20


def test_sequence_numbers_advance() -> None:
    writer, reader = _pair(SUITE)
    first = writer.encrypt(23, b"same")
    second = writer.encrypt(23, b"same")
    assert first != second  # the nonce changed with the sequence number
    with pytest.raises(RemoteProtocolError) as info:
        reader.decrypt(*_split(second))
    assert info.value.alert == 20
    assert reader.decrypt(*_split(first)) == (23, b"same")
    assert reader.decrypt(*_split(second)) == (23, b"same")
    # Replaying the first record now fails: its sequence number has passed.
    with pytest.raises(RemoteProtocolError):
        reader.decrypt(*_split(first))


def _raw_record(secret: bytes, inner: bytes, sequence: int = 0) -> tuple[bytes, bytes]:
    # A record sealed by hand, for inner plaintexts RecordProtection.encrypt refuses to make.
    key, iv = traffic_key_iv(SUITE, secret)
    nonce = (int.from_bytes(iv, "big") ^ sequence).to_bytes(12, "big")
    header = b"\x17\x03\x03" + (len(inner) + 16).to_bytes(2, "big")
    return header, AESGCM(key).encrypt(nonce, inner, header)


def test_all_zero_inner_plaintext_is_unexpected_message() -> None:
    # RFC 8446 section 5.4: no non-zero byte means no content type.
    for inner in (b"", bytes(1), bytes(40)):
        reader = RecordProtection(SUITE, CLIENT_HS_TRAFFIC)
        with pytest.raises(RemoteProtocolError) as info:
            reader.decrypt(*_raw_record(CLIENT_HS_TRAFFIC, inner))
        assert info.value.alert == 10


def test_padding_is_stripped_but_content_zeros_are_kept() -> None:
    reader = RecordProtection(SUITE, CLIENT_HS_TRAFFIC)
    inner = b"\x00\x01\x00\x00" + b"\x16" + bytes(7)
    assert reader.decrypt(*_raw_record(CLIENT_HS_TRAFFIC, inner)) == (22, b"\x00\x01\x00\x00")


def test_record_overflow() -> None:
    # RFC 8446 section 5.2: a record longer than 2^14 + 256 is record_overflow ...
    reader = RecordProtection(SUITE, CLIENT_HS_TRAFFIC)
    body = bytes(2**14 + 257)
    with pytest.raises(RemoteProtocolError) as info:
        reader.decrypt(b"\x17\x03\x03" + len(body).to_bytes(2, "big"), body)
    assert info.value.alert == 22
    # ... and so, once opened, is an inner plaintext longer than 2^14 + 1 (section 5.4).
    inner = bytes(2**14 + 1) + b"\x17"
    with pytest.raises(RemoteProtocolError) as info:
        reader.decrypt(*_raw_record(CLIENT_HS_TRAFFIC, inner))
    assert info.value.alert == 22


def test_local_misuse_is_local_protocol_error() -> None:
    writer, reader = _pair(SUITE)
    with pytest.raises(LocalProtocolError):
        writer.encrypt(23, bytes(2**14 + 1))
    with pytest.raises(LocalProtocolError):
        writer.encrypt(23, bytes(2**14), padding=1)
    with pytest.raises(LocalProtocolError):
        writer.encrypt(0, b"x")
    with pytest.raises(LocalProtocolError):
        writer.encrypt(23, b"x", padding=-1)
    record = writer.encrypt(23, b"x")
    with pytest.raises(LocalProtocolError):
        reader.decrypt(record[:4], record[5:])
    with pytest.raises(LocalProtocolError):
        reader.decrypt(record[:5], record[5:] + b"\x00")
    assert reader.decrypt(*_split(record)) == (23, b"x")


@given(st.binary(max_size=300))
def test_arbitrary_ciphertext_only_raises_remote_protocol_error(body: bytes) -> None:
    reader = RecordProtection(SUITE, SERVER_HS_TRAFFIC)
    with pytest.raises(RemoteProtocolError):
        reader.decrypt(b"\x17\x03\x03" + len(body).to_bytes(2, "big"), body)
