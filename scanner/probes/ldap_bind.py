# Does an LDAP server evaluate a simple bind (a password) sent without TLS? (issue 13,
# starttls.plaintext_auth.) One plaintext connection: the root DSE's namingContexts
# (RFC 4512 section 5.1; servers judge a bind by the database holding its name, so the
# made-up name is put under the first context), then one BindRequest with that made-up
# name and a made-up password (RFC 4511 section 4.2), and its answer:
# - confidentialityRequired (13) or strongerAuthRequired (8): the server refuses passwords
#   in plaintext (RFC 4513 section 5.1.2; OpenLDAP `security simple_bind=N`): good;
# - anything else it could only say after looking at the credentials (invalidCredentials
#   49, success 0, ...): it accepts simple binds, and so passwords, before TLS.
# The name and password exist nowhere; nothing is learnt about real accounts.
from __future__ import annotations

import trio

from handshakes.errors import RemoteProtocolError
from handshakes.starttls import printable
from handshakes.starttls.ldap import (
    RESULT_NAMES,
    entry_values,
    message_length,
    result_of,
    root_dse_request,
    simple_bind_request,
)
from scanner.starttls import StartTLSOpener

PROBE_DN = b"cn=tlscompat-plaintext-bind-check"
PROBE_PASSWORD = b"not-a-real-password"  # noqa: S105 - made up on purpose
REFUSES = (8, 13)


async def check_simple_bind(opener: StartTLSOpener, ip: str, port: int, *, deadline: float) -> tuple[bool | None, str]:
    """(True: simple binds are evaluated in plaintext, False: refused, None: unknown; one
    printable line). One connection through the opener's inner factory (no StartTLS).
    Never raises for what the server does."""
    try:
        with trio.move_on_after(opener.connect):
            stream = await opener.inner(ip, port)
    except OSError as exc:
        return None, f"cannot connect: {exc}"
    try:
        with trio.move_on_after(deadline) as scope:
            await stream.send_all(root_dse_request(message_id=1))
            reader = _Messages(stream)
            contexts: list[bytes] = []
            for _ in range(50):
                message = await reader.next()
                values = entry_values(message, b"namingContexts")
                if values is None:
                    break  # SearchResultDone (or a refusal): no more entries
                contexts += values
            name = PROBE_DN + (b"," + contexts[0] if contexts else b"")
            await stream.send_all(simple_bind_request(name, PROBE_PASSWORD, message_id=2))
            op, code, diagnostic = result_of(await reader.next())
        if scope.cancelled_caught:
            return None, f"no answer to a simple bind within {deadline:g}s"
    except _Closed:
        return None, "the server closed the connection during the simple bind check"
    except (RemoteProtocolError, trio.BrokenResourceError, OSError) as exc:
        return None, f"the answer to a simple bind could not be read ({exc})"
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            close()
    words = f"resultCode {code} {RESULT_NAMES.get(code, 'unknown')}" + (f" ({printable(diagnostic)})" if diagnostic else "")
    if op != 0x61:  # [APPLICATION 1] BindResponse
        return None, f"a simple bind was answered with LDAP operation 0x{op:02x}: {words}"
    if code in REFUSES:
        return False, f"a simple bind without TLS was refused: {words}"
    return True, f"a simple bind without TLS was evaluated: {words}"


class _Closed(Exception):
    pass


class _Messages:
    """Whole LDAPMessages from a stream (each bounded by ldap.MAX_MESSAGE); a segment
    holding two messages gives both."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.buf = b""

    async def next(self) -> bytes:
        while True:
            need = message_length(self.buf)
            if need is not None and len(self.buf) >= need:
                message, self.buf = self.buf[:need], self.buf[need:]
                return message
            chunk = bytes(await self.stream.receive_some(65536))
            if not chunk:
                raise _Closed
            self.buf += chunk
