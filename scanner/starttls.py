# The IO glue of the pre-TLS dialogues (STARTTLS and its cousins): a connection factory
# (engine.OpenStream) that opens TCP through the factory it wraps, drives one sans-IO
# dialogue of handshakes.starttls over the stream, and returns the stream positioned for
# the ClientHello. Every connection of a scan goes through it, so every probe (versions,
# suites, groups, certificates, client authentication) works unchanged behind a dialogue.
#
# Rules kept: one dialogue per connection, nothing reused across probes; the dialogue has
# its own deadline (Deadlines.starttls), separate from the connect deadline; a dialogue
# that does not reach TLS raises engine.PreTLSFailure, which run_probe records as the
# probe's outcome (never a traceback); the server's words are kept exact.
from __future__ import annotations

import errno
from dataclasses import dataclass, field, replace
from types import EllipsisType
from typing import NoReturn

import trio

from handshakes.errors import RemoteProtocolError
from handshakes.server_flight import identify_protocol
from handshakes.starttls import THROTTLED, Failed, Ready, State, make_dialogue, printable
from handshakes.starttls._base import Facts
from scanner.engine import OpenStream, PreTLSFailure
from scanner.options import (
    NO_DIALOGUE,
    PROTOCOL_ERROR,
    STARTTLS_ALPN,
    STARTTLS_PER_ENDPOINT,
    STARTTLS_PROTOCOL_ERROR,
    STARTTLS_TIMEOUT,
    STARTTLS_WRONG_PROTOCOL,
    TIMEOUT,
    ScanOptions,
    Target,
    dialogue_for,
)
from scanner.results import EndpointResult, StartTLSResult

_HEARD = 4096  # the server's first bytes kept as evidence of a failed dialogue
WRONG_PROTOCOL = "wrong_protocol"  # starttls.outcome: the greeting is another protocol's

# What handshakes.server_flight.identify_protocol calls a greeting, per dialogue: a
# dialogue whose greeting is named otherwise talks to another protocol.
_GREETS_AS = {
    "smtp": ("smtp", "smtp_or_ftp"), "lmtp": ("smtp", "smtp_or_ftp"), "ftp": ("ftp", "smtp_or_ftp"),
    "imap": ("imap",), "pop3": ("pop3",), "xmpp": ("xmpp",), "xmpp-server": ("xmpp",), "mysql": ("mysql",),
}
# The dialogue to suggest for a recognised greeting (as port.not_tls does).
_DIALOGUE_OF = {
    "smtp": "smtp", "smtp_or_ftp": "smtp", "ftp": "ftp", "pop3": "pop3", "imap": "imap",
    "mysql": "mysql", "xmpp": "xmpp",
}
# Dialogues that are lines of text from the server: a greeting with other bytes is binary.
_TEXT = frozenset({"smtp", "lmtp", "ftp", "imap", "pop3", "nntp", "sieve"})


def wrong_protocol(protocol: str, heard: bytes) -> str | None:
    """One line saying that ``heard`` (the server's first bytes) is not ``protocol``'s
    dialogue, with the --starttls to use when the greeting is recognised; None when it
    may be ``protocol``'s (or nothing was heard)."""
    if not heard:
        return None
    quoted = printable(heard[:64], 80)
    if heard[:1] in (b"\x15", b"\x16") and heard[1:2] == b"\x03":
        # A TLS record: the port speaks TLS from the first byte (RFC 8446 section 5.1).
        return f"the server answered with TLS, not {protocol.upper()}: the port speaks TLS at once; scan it without --starttls"
    name = identify_protocol(heard)
    if name == "unknown":
        if protocol in _TEXT and any(b < 0x20 and b not in b"\r\n\t" or b >= 0x7F for b in heard[:64]):
            return f"the greeting is binary, not {protocol.upper()}: {quoted}"
        return None
    if name in _GREETS_AS.get(protocol, ()):
        return None
    if protocol not in _GREETS_AS and name in ("smtp_or_ftp", "mysql"):
        return None  # too loose a match to contradict a dialogue we cannot recognise
    named = "SMTP or FTP" if name == "smtp_or_ftp" else name.upper()
    text = f"the greeting is {named}, not {protocol.upper()}: {quoted}"
    if name in _DIALOGUE_OF:
        text += f"; to scan it: --starttls {_DIALOGUE_OF[name]}"
    return text


class _Prefixed(trio.abc.Stream):
    """A stream that first returns bytes the dialogue read past the server's go-ahead."""

    def __init__(self, inner: trio.abc.Stream, prefix: bytes) -> None:
        self._inner = inner
        self._prefix = prefix

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._prefix:
            out, self._prefix = self._prefix, b""
            await trio.lowlevel.checkpoint()
            return out
        return bytes(await self._inner.receive_some(max_bytes))

    async def send_eof(self) -> None:  # pragma: no cover - not used by probes
        send_eof = getattr(self._inner, "send_eof", None)
        if send_eof is not None:
            await send_eof()

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if callable(close):
            close()

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass(slots=True)
class StartTLSOpener:
    """An OpenStream running ``protocol``'s dialogue on every connection it opens.

    ``__call__(ip, port)`` returns a stream whose next bytes are the server's TLS answer;
    raises OSError (connect failures, ETIMEDOUT when TCP is not answered within
    ``connect`` seconds) or engine.PreTLSFailure (the dialogue did not reach TLS: not
    offered, refused, throttled, timeout after ``deadline`` seconds, protocol_error).
    ``facts`` / ``failure`` keep what the first dialogue that ended showed (owned by one
    endpoint scan, written once)."""

    protocol: str
    inner: OpenStream
    connect: float
    deadline: float
    domain: str = ""
    facts: Facts | None = None
    failure: Failed | None = None
    dialogues: int = 0
    ready: int = 0  # dialogues that reached TLS
    # The command injection check's verdict: "" (not run), "no", "yes" or "untested".
    injection: str = ""
    injection_detail: str = ""
    # LDAP: is a simple bind evaluated without TLS (scanner/probes/ldap_bind.py)?
    simple_bind: bool | None = None
    simple_bind_detail: str = ""
    extra_time: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.extra_time = self.deadline
        make_dialogue(self.protocol)  # KeyError now, not on the first connection

    async def __call__(self, ip: str, port: int) -> trio.abc.Stream:
        return await self.open(ip, port)

    async def open(self, ip: str, port: int, *, inject: bool = False) -> trio.abc.Stream:
        """As a call, with ``inject``: the dialogue pipelines a harmless command after
        its request to start TLS (the command injection check, scanner/probes/injection.py).
        Bytes the server sent after its go-ahead are returned first by the stream."""
        with trio.move_on_after(self.connect) as cs:
            stream = await self.inner(ip, port)
        if cs.cancelled_caught:
            raise OSError(errno.ETIMEDOUT, f"no TCP answer within {self.connect:g}s")
        try:
            return await self._talk(stream, inject)
        except BaseException:
            close = getattr(stream, "close", None)
            if callable(close):
                close()
            else:
                with trio.CancelScope(shield=True):
                    await stream.aclose()
            raise

    async def _talk(self, stream: trio.abc.Stream, inject: bool) -> trio.abc.Stream:
        dialogue = make_dialogue(self.protocol, domain=self.domain, inject=inject)
        self.dialogues += 1
        events: list[Ready | Failed] = []
        heard = b""  # the server's first bytes (at most _HEARD), for the failures' evidence
        with trio.move_on_after(self.deadline) as scope:
            try:
                out = dialogue.initiate()
                if out:
                    await stream.send_all(out)
                while dialogue.state is State.TALKING:
                    try:
                        data = bytes(await stream.receive_some(65536))
                    except (trio.BrokenResourceError, OSError):
                        data = b""  # a reset mid-dialogue ends it as a close does
                    if len(heard) < _HEARD:
                        heard += data[: _HEARD - len(heard)]
                    events += dialogue.receive_data(data)
                    out = dialogue.data_to_send()
                    if out:
                        await stream.send_all(out)
            except RemoteProtocolError as exc:
                # The dialogue cannot read the reply (a line over MAX_LINE, too many
                # lines...): the same every time, so an outcome of its own, never TLS's.
                reason = str(exc)
                if not reason.startswith(f"{self.protocol}:"):
                    reason = f"{self.protocol}: {reason}"
                self._fail(Failed(
                    kind=PROTOCOL_ERROR, detail=f"{reason} while waiting for {dialogue.waiting_for}",
                    words=bytes(exc.data[:_HEARD]) or heard, facts=dialogue.current_facts(),
                ), STARTTLS_PROTOCOL_ERROR, heard)
        if scope.cancelled_caught:
            detail = (
                f"{self.protocol}: no complete answer within {self.deadline:g}s while waiting for "
                f"{dialogue.waiting_for}"
            )
            detail += f"; received: {printable(heard, 120)}" if heard else "; nothing received"
            self._fail(
                Failed(kind=TIMEOUT, detail=detail, words=heard, facts=dialogue.current_facts()),
                STARTTLS_TIMEOUT, heard,
            )
        for event in events:
            if isinstance(event, Failed):
                self._fail(event, event.kind, heard)
            self._remember(event.facts, None)
            self.ready += 1
        return _Prefixed(stream, dialogue.leftover) if dialogue.leftover else stream

    def _fail(self, failure: Failed, outcome: str, heard: bytes) -> NoReturn:
        """Record ``failure`` (the first one is kept) and raise it as the probe's outcome;
        a greeting of another protocol is said as such, whatever the dialogue made of it."""
        other = wrong_protocol(self.protocol, heard)
        if other is not None and failure.kind != THROTTLED:
            failure = Failed(kind=WRONG_PROTOCOL, detail=other, words=heard, facts=failure.facts)
            outcome = STARTTLS_WRONG_PROTOCOL
        self._remember(failure.facts, failure)
        raise PreTLSFailure(outcome, failure.detail, failure.words)

    def _remember(self, facts: Facts, failure: Failed | None) -> None:
        if self.facts is None:
            self.facts = facts
        if failure is not None and self.failure is None:
            self.failure = failure

    def result(self, throttled: int = 0) -> StartTLSResult:
        """The facts for EndpointResult.starttls (``throttled``: connections turned away
        for load, from the Connector)."""
        f = self.facts or Facts(protocol=self.protocol)
        fail = self.failure
        return StartTLSResult(
            protocol=self.protocol,
            # "ok" once any dialogue reached TLS (a throttled connection retried later
            # does not make the dialogue fail); else how the first one failed.
            outcome="ok" if self.ready else fail.kind if fail is not None else "not_reached",
            detail=fail.detail if fail is not None else "",
            reply=fail.words.decode("utf-8", errors="backslashreplace") if fail is not None else "",
            # A dialogue that broke before the greeting ended: its first line as heard.
            banner=f.banner or (
                printable(fail.words.split(b"\n", 1)[0], 200) if fail is not None and fail.kind != THROTTLED else ""
            ),
            capabilities=f.capabilities,
            server_version=f.server_version,
            plaintext_auth=(*f.plaintext_auth, *(("simple bind",) if self.simple_bind else ())),
            plaintext_detail=self.simple_bind_detail,
            throttled=throttled,
            injection=self.injection or "not_run",
            injection_detail=self.injection_detail,
        )


def with_starttls(result: EndpointResult, opener: StartTLSOpener, throttled: int) -> EndpointResult:
    """``result`` with its ``starttls`` facts, and the connections of the extra checks
    (scanner/probes/starttls_checks.py) counted in its stats."""
    extra = (1 if opener.injection else 0) + (1 if opener.simple_bind_detail else 0)
    return replace(
        result, starttls=opener.result(throttled),
        # A probe the endpoint deadline cut during a throttling pause is in no log; its
        # dialogues still count.
        stats=replace(result.stats, connections=max(result.stats.connections + extra, opener.dialogues)),
    )


def opener_for(target: Target, options: ScanOptions, inner: OpenStream) -> StartTLSOpener | None:
    """The dialogue's factory wrapping ``inner`` for this target, or None (plain TLS)."""
    name = dialogue_for(target, options)
    if name is None or name in NO_DIALOGUE:
        return None
    domain = options.xmpp_domain or target.server_name or target.host
    return StartTLSOpener(
        protocol=name, inner=inner, connect=options.deadlines.connect,
        deadline=options.deadlines.starttls, domain=domain,
    )


def alpn_for(target: Target, options: ScanOptions) -> tuple[str, ...] | None | EllipsisType:
    """The ALPN the probes of this target offer: ``...`` (the default, HTTP's) for plain
    TLS, the dialogue's own (STARTTLS_ALPN) or None behind a dialogue."""
    name = dialogue_for(target, options)
    if name is None:
        return ...
    return STARTTLS_ALPN.get(name)


def per_endpoint(name: str, options: ScanOptions) -> int:
    """Connections at once to one endpoint speaking ``name``'s dialogue."""
    if options.starttls_per_endpoint is not None:
        return options.starttls_per_endpoint
    return min(options.per_endpoint, STARTTLS_PER_ENDPOINT.get(name, options.per_endpoint))


__all__ = ["StartTLSOpener", "alpn_for", "opener_for", "per_endpoint", "printable", "with_starttls"]
