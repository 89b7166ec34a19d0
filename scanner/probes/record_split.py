# Application-data record splitting (issue 11; seed 001 scenario 6): after a full
# handshake, send a small HTTP request split into a 1-byte record and the rest (the 1/n-1
# split that MS12-006 / the browsers' BEAST countermeasure brought for CBC suites). A server
# application that reads only the first record (what broke those sites) does not answer it.
# Only then is the same request sent again in one record: the control that tells an
# application broken by the split from an endpoint that answers no GET at all. A split
# request that is answered needs no control (issue 16: one full handshake, not two).
#
# Rules kept: one connection, two when the split request is not answered; HTTPS endpoints
# only, full scans only (`--probes tolerance`),
# not counted in the tolerance family's budget; each connection bounded by the read deadline;
# certificates are not checked here (the scan does that elsewhere). Every separate
# SSL_write is its own record (RFC 5246 section 6.2), so two send_all calls make the split.
from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass

import trio

from handshakes import events as ev
from scanner.engine import Connector, ProbeOutcome
from scanner.options import ACCEPTED, CLOSED
from scanner.outcome_text import quote_bytes
from scanner.results import Intolerance

TRIGGER = (
    "application data split into a 1-byte record and the rest (the 1/n-1 record split of "
    "MS12-006 and the browsers' BEAST countermeasure)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitResult:
    """``whole`` / ``split``: what the request got in one record / split (words);
    ``whole`` is "not asked" (and ``whole_answered`` False) when the split one was answered."""

    whole_answered: bool
    split_answered: bool
    whole: str
    split: str

    def intolerance(self) -> Intolerance | None:
        if not self.whole_answered or self.split_answered:
            return None
        return Intolerance(
            kind="record_splitting",
            trigger=TRIGGER,
            failed=(f"GET / split 1 + rest: {self.split}",),
            worked=(f"GET / in one record: {self.whole}",),
        )


def is_https(port: int, outcomes: Iterable[ProbeOutcome | None]) -> bool:
    """An HTTPS endpoint: port 443 or 8443, or HTTP negotiated by ALPN in one of the
    ``outcomes`` (the versions' first ServerHellos / TLS 1.3 EncryptedExtensions)."""
    if port in (443, 8443):
        return True
    for out in outcomes:
        if out is None:
            continue
        sh = out.server_hello
        ee = out.first(ev.EncryptedExtensions)
        alpn = (sh.alpn if sh else None) or (ee.alpn if isinstance(ee, ev.EncryptedExtensions) else None)
        if alpn in ("http/1.1", "h2"):
            return True
    return False


@functools.cache
def _context() -> ssl.SSLContext:
    """One client context per process, shared by every connection (an SSLContext may be).
    No trust store: certificates are not checked here, and loading the system store
    (create_default_context) cost 16 ms of CPU per call, more than the rest of a scan of
    the endpoint (issue 16)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only the record handling is asked here
    context.set_alpn_protocols(["http/1.1"])
    return context


async def _one(conn: Connector, server_name: str | None, request: bytes, split: bool) -> tuple[bool, str]:
    started = time.perf_counter()
    async with conn.slot():
        answered, detail = await _exchange(conn, server_name, request, split)
    conn.record(
        "record splitting " + ("1/n-1" if split else "whole"), None,
        ProbeOutcome(outcome=ACCEPTED if answered else CLOSED, detail=detail, connections=1,
                     duration_s=time.perf_counter() - started),
    )
    return answered, detail


async def _exchange(conn: Connector, server_name: str | None, request: bytes, split: bool) -> tuple[bool, str]:
    with trio.move_on_after(conn.deadlines.connect + conn.deadlines.read):
        try:
            transport = await conn.open_stream(conn.ip, conn.port)
        except OSError as exc:
            return False, f"connect failed: {exc.strerror or exc}"
        stream = trio.SSLStream(transport, _context(), server_hostname=server_name)
        try:
            await stream.do_handshake()
            if split:
                await stream.send_all(request[:1])
                await stream.send_all(request[1:])
            else:
                await stream.send_all(request)
            reply = b""
            while len(reply) < 64:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    break
                reply += chunk
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ssl.SSLError) as exc:
            return False, f"connection ended without an answer ({type(exc).__name__})"
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                try:
                    await stream.aclose()
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ssl.SSLError):
                    pass
        if reply.startswith(b"HTTP/"):
            return True, reply.split(b"\r\n", 1)[0].decode("latin-1")
        return False, "closed without an HTTP answer" if not reply else f"answered {quote_bytes(reply[:16])}"
    return False, f"no answer within {conn.deadlines.read:g}s"


async def record_splitting(conn: Connector, server_name: str | None, host: str) -> SplitResult:
    """``GET /`` to the endpoint split 1 + rest; only when that gets no answer, the same
    request whole (the control). One connection, two when the split one is not answered."""
    request = (
        f"GET / HTTP/1.1\r\nHost: {server_name or host}\r\nUser-Agent: tlscompat\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    split_ok, split = await _one(conn, server_name, request, split=True)
    if split_ok:
        return SplitResult(whole_answered=False, split_answered=True, whole="not asked", split=split)
    whole_ok, whole = await _one(conn, server_name, request, split=False)
    return SplitResult(whole_answered=whole_ok, split_answered=split_ok, whole=whole, split=split)
