# The STARTTLS command injection check (CVE-2011-0411 class, issue 13): a server that
# keeps plaintext received before TLS and processes it inside the TLS session lets an
# attacker on the path inject commands into an authenticated session.
#
# Detected safely: one connection whose dialogue pipelines a harmless command (NOOP,
# DATE) right after the request to start TLS, then a real TLS handshake (stdlib ssl over
# the trio stream; no certificate check, nothing is sent inside TLS) and a short wait: an
# answer arriving inside TLS before we said anything is the flaw. A server that answers the
# command in plaintext before TLS, or drops it, is not affected.
from __future__ import annotations

import ssl

import trio

from handshakes.starttls import printable
from scanner.engine import PreTLSFailure
from scanner.starttls import StartTLSOpener, _Prefixed

# How long to wait inside TLS for an answer we did not ask for.
LISTEN_S = 1.0


def _context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # noqa: S503 - the check reads bytes, trusts nothing
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


async def check_injection(opener: StartTLSOpener, ip: str, port: int, *, server_name: str | None, deadline: float) -> tuple[str, str]:
    """("yes" | "no" | "untested", one printable line of evidence). One connection; never
    raises for what the server does. ``deadline``: seconds for the TLS handshake."""
    try:
        stream = await opener.open(ip, port, inject=True)
    except (OSError, PreTLSFailure, trio.BrokenResourceError) as exc:
        return "untested", f"the dialogue did not reach TLS: {exc}"
    try:
        if isinstance(stream, _Prefixed):
            return "no", "the server answered the pipelined command in plaintext, before TLS"
        tls = trio.SSLStream(stream, _context(), server_hostname=server_name)
        with trio.move_on_after(deadline) as scope:
            try:
                await tls.do_handshake()
            except trio.BrokenResourceError as exc:
                return "untested", f"the TLS handshake of the check failed ({exc.__cause__ or exc})"
        if scope.cancelled_caught:
            return "untested", f"no TLS handshake within {deadline:g}s"
        data = b""
        with trio.move_on_after(LISTEN_S):
            try:
                data = bytes(await tls.receive_some(4096))
            except trio.BrokenResourceError:
                data = b""
        if data:
            return "yes", (
                f"the command pipelined after {opener.protocol.upper()}'s request to start TLS "
                f"was answered inside TLS: {printable(data)}"
            )
        return "no", f"nothing was answered inside TLS within {LISTEN_S:g}s"
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            close()
        else:
            with trio.CancelScope(shield=True):
                await stream.aclose()
