# A small SMTP front end for the STARTTLS lab scenarios (issue 13): the cases no real
# daemon shows on demand. It speaks just enough SMTP (RFC 5321 greeting and EHLO, RFC 3207
# STARTTLS) to reach TLS, then hands the socket to the stdlib ssl module.
#
# Modes: "ok" (a correct server), "no-starttls" (EHLO lists AUTH but no STARTTLS),
# "throttle" (the second and third connections get "421 too many connections", then it
# lets every connection in: deterministic, so a scan backs off exactly twice),
# "injectable" (CVE-2011-0411: commands pipelined after STARTTLS are kept and answered
# inside TLS), "client-cert" (STARTTLS, then TLS asks for and requires a client
# certificate, as on a submission port).
#
# Rules kept: 127.0.0.1 and a free port only (scanner.lab.servers._ThreadedServer); every
# read is bounded by io_timeout; one thread per connection, all stopped by stop().
from __future__ import annotations

import socket
import ssl
import threading

from scanner.lab.certs import IssuedCert
from scanner.lab.servers import LabServerError, _ThreadedServer

MODES = ("ok", "no-starttls", "throttle", "injectable", "client-cert")


class FakeSMTPServer(_ThreadedServer):
    """SMTP with STARTTLS in one of MODES; ``port`` once started."""

    io_timeout = 5.0

    def __init__(self, *, cert: IssuedCert, mode: str = "ok", ca_file: str | None = None) -> None:
        super().__init__()
        if mode not in MODES:
            raise LabServerError(f"unknown mode {mode!r} (known: {', '.join(MODES)})")
        self.cert = cert
        self.mode = mode
        self.ca_file = ca_file
        self.context: ssl.SSLContext | None = None
        self._connections = 0
        self._lock = threading.Lock()

    def _prepare(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.cert.fullchain_path), str(self.cert.key_path))
        if self.mode == "client-cert":
            if not self.ca_file:
                raise LabServerError("mode client-cert needs ca_file")
            context.load_verify_locations(cafile=self.ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
        self.context = context

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(self.io_timeout)
        if self.mode == "throttle":
            with self._lock:
                self._connections += 1
                busy = self._connections in (2, 3)
            if busy:
                conn.sendall(b"421 4.7.0 mx.lab.example Error: too many connections from 127.0.0.1\r\n")
                return
        self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        reader = _Lines(conn)
        conn.sendall(b"220 mx.lab.example ESMTP lab\r\n")
        for _ in range(20):
            line = reader.line()
            if line is None:
                return
            verb = line.split(b" ", 1)[0].upper().strip()
            if verb in (b"EHLO", b"LHLO"):
                caps = [b"PIPELINING", b"SIZE 10240000"]
                if self.mode == "no-starttls":
                    caps.append(b"AUTH PLAIN LOGIN")
                else:
                    caps.append(b"STARTTLS")
                caps.append(b"8BITMIME")
                conn.sendall(b"250-mx.lab.example\r\n" + b"".join(b"250-" + c + b"\r\n" for c in caps[:-1]) + b"250 " + caps[-1] + b"\r\n")
            elif verb == b"STARTTLS" and self.mode != "no-starttls":
                pipelined = reader.take()
                conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                self._tls(conn, pipelined)
                return
            elif verb == b"NOOP":
                conn.sendall(b"250 2.0.0 Ok\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                conn.sendall(b"502 5.5.2 Error: command not recognized\r\n")

    def _tls(self, conn: socket.socket, pipelined: bytes) -> None:
        assert self.context is not None
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a probe's ClientHello: the scanner stops after the server's flight
        try:
            if self.mode == "injectable" and pipelined:
                # The flaw: plaintext received before TLS is processed as if it came
                # inside TLS (CVE-2011-0411).
                for _ in pipelined.splitlines():
                    tls.sendall(b"250 2.0.0 Ok\r\n")
            tls.settimeout(self.io_timeout)
            tls.recv(1024)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass


class _Lines:
    """CRLF lines from a socket, bounded; ``take()`` returns what is buffered beyond."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buf = b""

    def line(self) -> bytes | None:
        while b"\n" not in self.buf:
            if len(self.buf) > 4096:
                return None
            try:
                data = self.conn.recv(4096)
            except OSError:
                return None
            if not data:
                return None
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r")

    def take(self) -> bytes:
        out, self.buf = self.buf, b""
        return out
