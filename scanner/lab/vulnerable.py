# Lab servers that behave like the vulnerable TLS implementations of issue 18, since the
# patched Debian packages cannot show them: a TLS 1.2 server with RSA key exchange only
# (TLS_RSA_WITH_AES_128_GCM_SHA256), written on raw sockets, that can
#   - echo heartbeats with the length the request declares (Heartbleed, CVE-2014-0160),
#     filling what the request did not carry with a fixed pattern: no real memory is sent;
#   - accept a ChangeCipherSpec before the ClientKeyExchange and then fail to decrypt the
#     next record, as OpenSSL before 1.0.1h did (CCS injection, CVE-2014-0224);
#   - check the RSA ClientKeyExchange's PKCS#1 v1.5 padding with its own private key and
#     answer a bad block with another alert (decrypt_error, 51) than the bad_record_mac
#     (20) every other failure gets: robot_oracle="strong" checks only the first bytes
#     (00 02), "weak" the whole block (00 02, 8 nonzero padding bytes, the zero separator
#     before a 48-byte secret), "flaky" answers 51 to every other ClientKeyExchange
#     whatever it holds (a load balancer over mixed back ends: no verdict possible);
#   - answer a malformed heartbeat request with a heartbeat REQUEST (type 1) of its own
#     carrying a well-formed 64-byte payload (heartbeat_requests: no leak, not an answer).
# Without any of these it behaves like a patched server: heartbeats per RFC 6520 (a
# malformed request is discarded silently), unexpected_message (10) for an early CCS, and
# bad_record_mac (20) for the Finished after any ClientKeyExchange.
#
# Rules kept: a lab server (127.0.0.1, RawServer thread, every read bounded in time and
# size); it never completes a handshake (nothing needs it to) and never derives keys.
from __future__ import annotations

import itertools
import os
import struct
import threading
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scanner.lab.certs import IssuedCert
from scanner.lab.servers import Behaviour, RawConnection

SUITE = 0x009C  # TLS_RSA_WITH_AES_128_GCM_SHA256: RSA key exchange, no CBC
TLS12 = 0x0303
_HANDSHAKE, _CCS, _ALERT, _APPDATA, _HEARTBEAT = 22, 20, 21, 23, 24
_EXT_HEARTBEAT, _EXT_RENEGO, _EXT_EMS, _EXT_VERSIONS = 15, 0xFF01, 23, 43
_MAX_CLIENT_BYTES = 65536
_SESSION_SECONDS = 10.0


def _record(ctype: int, payload: bytes) -> bytes:
    return struct.pack(">BHH", ctype, TLS12, len(payload)) + payload


def _handshake(msg_type: int, body: bytes) -> bytes:
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


def _alert(description: int) -> bytes:
    return _record(_ALERT, bytes((2, description)))


def _certificate(cert: IssuedCert) -> bytes:
    """The Certificate handshake message (RFC 5246 section 7.4.2) of ``cert`` and its chain:
    each DER with a 3-byte length, the list with another."""
    listed = b"".join(_vec(c.public_bytes(serialization.Encoding.DER), 3) for c in (cert.cert, *cert.chain))
    return _handshake(11, _vec(listed, 3))


def _read_hello(conn: RawConnection) -> _Hello | None:
    """The client's ClientHello, or None when the connection is done with: the first
    record is not a ClientHello (closed), or the hello does not parse (decode_error, 50)."""
    first = conn.read_hello()
    if len(first) < 9 or first[0] != _HANDSHAKE or first[5] != 1:
        conn.finish()
        return None
    try:
        return _Hello(first[5 : 5 + int.from_bytes(first[3:5], "big")])
    except (IndexError, struct.error):
        conn.send(_alert(50))
        conn.finish()
        return None


def _vec(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


class _Hello:
    """What the server needs of a ClientHello (RFC 5246 section 7.4.1.2), given the
    handshake message (type, 3-byte length, body): ``message`` as sent (for the transcript
    hash), ``random``, the version, session ID, suites and extensions."""

    def __init__(self, message: bytes) -> None:
        self.message = message
        body = message[4:]
        self.version = int.from_bytes(body[0:2], "big")
        self.random = body[2:34]
        i = 34
        sid_len = body[i]
        self.session_id = body[i + 1 : i + 1 + sid_len]
        i += 1 + sid_len
        n = int.from_bytes(body[i : i + 2], "big")
        self.suites = {int.from_bytes(body[j : j + 2], "big") for j in range(i + 2, i + 2 + n, 2)}
        i += 2 + n
        i += 1 + body[i]
        self.extensions: dict[int, bytes] = {}
        if i + 2 <= len(body):
            end = i + 2 + int.from_bytes(body[i : i + 2], "big")
            i += 2
            while i + 4 <= end:
                t, ln = struct.unpack(">HH", body[i : i + 4])
                self.extensions[t] = body[i + 4 : i + 4 + ln]
                i += 4 + ln

    @property
    def offers_tls12(self) -> bool:
        versions = self.extensions.get(_EXT_VERSIONS)
        if versions is not None:
            listed = {int.from_bytes(versions[j : j + 2], "big") for j in range(1, len(versions), 2)}
            return TLS12 in listed
        return self.version >= TLS12


def legacy_rsa_server(
    cert: IssuedCert,
    *,
    heartbleed: bool = False,
    early_ccs: bool = False,
    robot_oracle: str | None = None,
    heartbeat_requests: bool = False,
) -> Behaviour:
    """A RawServer behaviour: the TLS 1.2 RSA-only server described at the top of the
    module, with the chosen flaws."""
    if not isinstance(cert.key, rsa.RSAPrivateKey):
        raise ValueError("legacy_rsa_server needs an RSA certificate")
    if robot_oracle not in (None, "strong", "weak", "flaky"):
        raise ValueError(f"unknown robot_oracle {robot_oracle!r}")
    key = cert.key
    counter = itertools.count()
    lock = threading.Lock()

    def leaks(cke_body: bytes) -> bool:
        """True when this ClientKeyExchange gets the oracle's own answer."""
        if robot_oracle == "flaky":
            with lock:
                return next(counter) % 2 == 0
        block = _decrypt(key, cke_body)
        if robot_oracle == "strong":
            return block[:2] != b"\x00\x02"
        if robot_oracle == "weak":
            return not _pkcs1_conforming(block)
        return False
    certificate = _certificate(cert)

    def run(conn: RawConnection) -> None:
        hello = _read_hello(conn)
        if hello is None:
            return
        if not hello.offers_tls12:
            conn.send(_alert(70))  # protocol_version (RFC 5246 appendix E.1)
            conn.finish()
            return
        if SUITE not in hello.suites:
            conn.send(_alert(40))  # handshake_failure
            conn.finish()
            return
        conn.send(_flight(hello))
        _after_flight(conn, hello)

    def _flight(hello: _Hello) -> bytes:
        exts = b""
        if _EXT_RENEGO in hello.extensions or 0x00FF in hello.suites:
            exts += struct.pack(">HH", _EXT_RENEGO, 1) + b"\x00"  # RFC 5746 section 3.6
        if _EXT_EMS in hello.extensions:
            exts += struct.pack(">HH", _EXT_EMS, 0)
        if (heartbleed or heartbeat_requests) and _EXT_HEARTBEAT in hello.extensions:
            exts += struct.pack(">HH", _EXT_HEARTBEAT, 1) + b"\x01"  # peer_allowed_to_send
        body = (
            struct.pack(">H", TLS12) + os.urandom(32) + _vec(os.urandom(32), 1)
            + struct.pack(">HB", SUITE, 0) + _vec(exts, 2)
        )
        messages = _handshake(2, body) + certificate + _handshake(14, b"")
        return _record(_HANDSHAKE, messages)

    def _after_flight(conn: RawConnection, hello: _Hello) -> None:
        conn.sock.settimeout(0.1)
        buf = b""
        got = 0
        key_exchanged = ccs = False
        deadline = time.monotonic() + _SESSION_SECONDS
        while not conn.stop.is_set() and time.monotonic() < deadline and got < _MAX_CLIENT_BYTES:
            try:
                chunk = conn.sock.recv(16384)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            got += len(chunk)
            buf += chunk
            while len(buf) >= 5 and len(buf) >= 5 + int.from_bytes(buf[3:5], "big"):
                ctype, length = buf[0], int.from_bytes(buf[3:5], "big")
                payload, buf = buf[5 : 5 + length], buf[5 + length :]
                if ctype == _HEARTBEAT and heartbleed and len(payload) >= 3 and payload[0] == 1:
                    conn.send(_heartbeat_response(payload))
                    continue
                if ctype == _HEARTBEAT and heartbeat_requests and len(payload) >= 3 and payload[0] == 1:
                    declared = int.from_bytes(payload[1:3], "big")
                    if len(payload) < 3 + declared + 16:  # malformed: a request of our own
                        conn.send(_record(_HEARTBEAT, b"\x01" + (64).to_bytes(2, "big") + b"\x33" * 64 + bytes(16)))
                    continue
                if ctype == _HEARTBEAT:
                    continue  # not negotiated, or malformed: discarded (RFC 6520 section 4)
                if ctype == _CCS:
                    if not key_exchanged and not early_ccs:
                        conn.send(_alert(10))  # unexpected_message: the patched answer
                        conn.finish()
                        return
                    ccs = True
                    continue
                if ccs:
                    # Read as encrypted with keys we never derived: it cannot verify.
                    conn.send(_alert(20))  # bad_record_mac
                    conn.finish()
                    return
                if ctype == _HANDSHAKE and payload[:1] == b"\x10":
                    key_exchanged = True
                    if leaks(payload[4:]):
                        conn.send(_alert(51))  # decrypt_error: the oracle
                        conn.finish()
                        return
                    continue
                conn.send(_alert(10))
                conn.finish()
                return

    name = "legacy_rsa_server"
    return Behaviour(
        name, run, (("heartbleed", heartbleed), ("early_ccs", early_ccs), ("robot_oracle", robot_oracle),
                    ("heartbeat_requests", heartbeat_requests))
    )


def _heartbeat_response(request: bytes) -> bytes:
    """The Heartbleed answer: as many payload bytes as the request declares, whatever it
    carried. What it did not carry is a fixed filler here, where OpenSSL copied memory."""
    declared = int.from_bytes(request[1:3], "big")
    carried = request[3:]
    payload = (carried + b"\xa5" * declared)[:declared]
    return _record(_HEARTBEAT, b"\x02" + declared.to_bytes(2, "big") + payload + bytes(16))


def _decrypt(key: rsa.RSAPrivateKey, cke_body: bytes) -> bytes:
    """Raw RSA decryption of the EncryptedPreMasterSecret (a 2-byte length, then the
    value: RFC 5246 section 7.4.7.1): the k-byte block, its padding unchecked."""
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    k = (n.bit_length() + 7) // 8
    m = pow(int.from_bytes(cke_body[2:], "big"), numbers.d, n) if len(cke_body) > 2 else 0
    return (m % n).to_bytes(k, "big")


def _pkcs1_conforming(block: bytes) -> bool:
    """RFC 8017 section 7.2.2 step 3: 00 02, at least 8 nonzero padding bytes, a zero,
    and (RFC 5246 section 7.4.7.1) a 48-byte premaster secret after it."""
    if block[:2] != b"\x00\x02":
        return False
    sep = block.find(b"\x00", 2)
    return sep >= 10 and len(block) - sep - 1 == 48


# -- a TLS 1.2 ECDHE server that completes handshakes and issues tickets (Ticketbleed) ------

TICKET_SUITE = 0xC02F  # TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
_X25519 = 0x001D
_EXT_GROUPS, _EXT_TICKET = 10, 35
_TICKET_PREFIX = b"tlscompat-lab-ticket:"
JUNK_SECRET = b"LEAKED-SECRET-BYTES"


def ticket_server(
    cert: IssuedCert, *, ticketbleed: bool = False, ticket_size: int = 16, junk_after: bool = False
) -> Behaviour:
    """A RawServer behaviour: TLS 1.2, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 over x25519,
    completing full handshakes (handshakes.tls12's PRF and AES-GCM records, the server's
    side) and issuing a session ticket (RFC 5077) to clients that offer the extension. A
    hello resuming one of its tickets gets a ServerHello echoing the session ID (RFC 5077
    section 3.4) or, with ``ticketbleed``, the ID padded to 32 bytes with a fixed filler
    where F5's stack sent its memory (CVE-2016-9244). A renegotiation request is refused
    with no_renegotiation (100); an early ChangeCipherSpec with unexpected_message (10).
    ``ticket_size``: the random part of the ticket, up to 2^16-1 bytes with the prefix (RFC
    5077 section 3.3); a NewSessionTicket over 2^14 bytes is fragmented over records
    (RFC 5246 section 6.2.1). ``junk_after``: the renegotiation request is answered with
    bytes that are not a record (they spell a fake secret that must not reach a result)."""
    from handshakes import constants as tls
    from handshakes.tls12 import RecordCipher, prf

    if not isinstance(cert.key, rsa.RSAPrivateKey):
        raise ValueError("ticket_server needs an RSA certificate")
    key = cert.key
    certificate = _certificate(cert)

    def run(conn: RawConnection) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, x25519

        hello = _read_hello(conn)
        if hello is None:
            return
        groups = hello.extensions.get(_EXT_GROUPS, b"")
        offered = {int.from_bytes(groups[j : j + 2], "big") for j in range(2, len(groups), 2)}
        if not hello.offers_tls12:
            conn.send(_alert(70))
            conn.finish()
            return
        if TICKET_SUITE not in hello.suites or _X25519 not in offered:
            conn.send(_alert(40))
            conn.finish()
            return
        client_hello = hello.message
        client_random = hello.random
        exts = b""
        if _EXT_RENEGO in hello.extensions or 0x00FF in hello.suites:
            exts += struct.pack(">HH", _EXT_RENEGO, 1) + b"\x00"
        ticket = hello.extensions.get(_EXT_TICKET, b"")
        if ticket.startswith(_TICKET_PREFIX):
            sid = hello.session_id
            if ticketbleed and len(sid) < 32:
                sid = (sid + b"\x5c" * 32)[:32]
            body = (struct.pack(">H", TLS12) + os.urandom(32) + _vec(sid, 1)
                    + struct.pack(">HB", TICKET_SUITE, 0) + _vec(exts, 2))
            conn.send(_record(_HANDSHAKE, _handshake(2, body)))
            conn.finish()
            return
        if _EXT_TICKET in hello.extensions:
            exts += struct.pack(">HH", _EXT_TICKET, 0)
        server_random = os.urandom(32)
        body = (struct.pack(">H", TLS12) + server_random + _vec(os.urandom(32), 1)
                + struct.pack(">HB", TICKET_SUITE, 0) + _vec(exts, 2))
        private = x25519.X25519PrivateKey.generate()
        public = private.public_key().public_bytes_raw()
        params = struct.pack(">BH", 3, _X25519) + _vec(public, 1)
        # RFC 5246 section 7.4.3: signed over client_random + server_random + params.
        signature = key.sign(
            client_random + server_random + params,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256(),
        )
        ske = params + struct.pack(">H", 0x0804) + _vec(signature, 2)
        flight = [_handshake(2, body), certificate, _handshake(12, ske), _handshake(14, b"")]
        conn.send(_record(_HANDSHAKE, b"".join(flight)))
        transcript = [client_hello, *flight]
        records = _Records(conn)
        ctype, payload = records.next()
        if ctype == _CCS:
            conn.send(_alert(10))  # unexpected_message: a CCS before the key exchange
            conn.finish()
            return
        if ctype != _HANDSHAKE or payload[:1] != b"\x10" or len(payload) < 5 + 32:
            conn.send(_alert(10))
            conn.finish()
            return
        transcript.append(payload)
        shared = private.exchange(x25519.X25519PublicKey.from_public_bytes(payload[5 : 5 + payload[4]]))
        master = prf(tls.TLS12, "sha256", shared, b"master secret", client_random + server_random, 48)
        block = prf(tls.TLS12, "sha256", master, b"key expansion", server_random + client_random, 40)
        from_client, to_client = RecordCipher(block[:16], block[32:36]), RecordCipher(block[16:32], block[36:40])
        if records.next()[0] != _CCS:
            conn.send(_alert(10))
            conn.finish()
            return
        ctype, payload = records.next()
        try:
            finished = from_client.open(ctype, payload)
        except Exception:  # noqa: BLE001 - a client we cannot read gets bad_record_mac
            conn.send(_alert(20))
            conn.finish()
            return
        transcript.append(finished)
        issued = _handshake(4, struct.pack(">I", 300) + _vec(_TICKET_PREFIX + os.urandom(ticket_size), 2))
        transcript.append(issued)
        verify = prf(tls.TLS12, "sha256", master, b"server finished", _sha256(*transcript), 12)
        conn.send(
            b"".join(_record(_HANDSHAKE, issued[i : i + 2**14]) for i in range(0, len(issued), 2**14))
            + _record(_CCS, b"\x01")
            + to_client.seal(_HANDSHAKE, _handshake(20, verify))
        )
        # Anything more (a renegotiating ClientHello) is refused: no_renegotiation (100).
        ctype, payload = records.next()
        if ctype and junk_after:
            conn.send(b"\x99" + JUNK_SECRET)
        elif ctype:
            conn.send(to_client.seal(_ALERT, b"\x01\x64"))
        conn.finish()

    return Behaviour("ticket_server", run, (("ticketbleed", ticketbleed), ("ticket_size", ticket_size),
                                            ("junk_after", junk_after)))


def _sha256(*parts: bytes) -> bytes:
    import hashlib

    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


class _Records:
    """Whole records from a RawConnection, bounded in time and size; (0, b"") at the end."""

    def __init__(self, conn: RawConnection) -> None:
        self._conn = conn
        self._buf = b""
        self._got = 0
        self._deadline = time.monotonic() + _SESSION_SECONDS

    def next(self) -> tuple[int, bytes]:
        conn = self._conn
        conn.sock.settimeout(0.1)
        while not conn.stop.is_set() and time.monotonic() < self._deadline and self._got < _MAX_CLIENT_BYTES:
            buf = self._buf
            if len(buf) >= 5 and len(buf) >= 5 + int.from_bytes(buf[3:5], "big"):
                length = int.from_bytes(buf[3:5], "big")
                self._buf = buf[5 + length :]
                return buf[0], buf[5 : 5 + length]
            try:
                chunk = conn.sock.recv(16384)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            self._got += len(chunk)
            self._buf += chunk
        return 0, b""
