# The machinery every pre-TLS dialogue shares: a sans-IO driver around a small script.
#
# Rules kept: no sockets, no clocks (the engine owns both). Bytes go in through
# receive_data() (b"" means the peer closed), bytes to send come out of data_to_send(),
# and the dialogue ends in exactly one event: Ready (the next byte on the wire is our
# ClientHello) or Failed (the server's exact words, classified). Every read is bounded
# (MAX_LINE, MAX_REPLY) so a server that talks forever cannot grow a buffer without end.
#
# Each protocol module writes its dialogue as a generator (`script`) that yields what it
# needs: Send(bytes), ReadLine(), ReadExact(n) or ReadUntil(markers), and is sent back the
# bytes read. The script raises Stop(kind, detail, words) for a reply that is not the
# expected one and simply returns when the server said "go ahead".
#
# The text protocols (SMTP, LMTP, FTP, NNTP, IMAP, POP3, ManageSieve) share one script,
# LineDialogue's: greeting, capability list, request, go-ahead. Each of their modules gives
# its differences as data (reply codes or status words, command names) and says how its
# replies read and what its capability list means.
from __future__ import annotations

import enum
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from handshakes.errors import RemoteProtocolError

MAX_LINE = 8192  # one reply line (RFC 5321 section 4.5.3.1.5 allows 512; servers pad more)
MAX_REPLY = 65536  # one whole reply (capability lists, XMPP stream features)

# Why a dialogue failed (docs/findings.md, starttls.*).
NOT_OFFERED = "starttls_not_offered"  # the server does not offer TLS on this dialogue
REFUSED = "starttls_refused"  # it offers it, but said no when asked
THROTTLED = "throttled"  # it turned us away for load (SMTP 421, "too many connections", a close)


@dataclass(frozen=True, slots=True)
class Send:
    data: bytes


@dataclass(frozen=True, slots=True)
class ReadLine:
    """One line, ending LF (CRLF or LF accepted), returned with its line ending."""


@dataclass(frozen=True, slots=True)
class ReadExact:
    n: int


@dataclass(frozen=True, slots=True)
class ReadUntil:
    """Bytes up to and including the first of ``markers`` (XMPP's XML elements)."""

    markers: tuple[bytes, ...]


Step = Send | ReadLine | ReadExact | ReadUntil
Script = Generator[Step, bytes, None]


class Stop(Exception):  # noqa: N818 - a control-flow signal of the scripts, not an error
    """Raised by a script: the reply is not the expected one."""

    def __init__(self, kind: str, detail: str, words: bytes = b"") -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.words = bytes(words[:4096])


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """What the server announced before TLS. Text kept as sent (decoded with
    backslash escapes for bytes that are not UTF-8)."""

    protocol: str
    banner: str = ""
    capabilities: tuple[str, ...] = ()
    server_version: str = ""
    plaintext_auth: tuple[str, ...] = ()  # mechanisms/commands offered before TLS


@dataclass(frozen=True, slots=True, kw_only=True)
class Ready:
    """The server agreed: the next bytes on the connection are the TLS ClientHello."""

    facts: Facts


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """The dialogue ended without TLS. ``kind``: NOT_OFFERED, REFUSED or THROTTLED;
    ``words``: the server's reply, exact; ``detail``: one printable line."""

    kind: str
    detail: str
    words: bytes
    facts: Facts


Event = Ready | Failed


class State(enum.Enum):
    TALKING = "talking"
    READY = "ready"
    FAILED = "failed"


def text(data: bytes) -> str:
    """Bytes as text, exact for UTF-8, with backslash escapes for the rest."""
    return data.decode("utf-8", errors="backslashreplace")


def printable(data: bytes | str, limit: int = 200) -> str:
    """One line for a table: controls escaped, line ends shown as ' / ', bounded."""
    s = text(data) if isinstance(data, bytes) else data
    s = s.replace("\r\n", "\n").strip("\n").replace("\n", " / ")
    s = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in s)
    return s if len(s) <= limit else s[: limit - 3] + "..."


@dataclass(slots=True)
class Dialogue:
    """Base class: subclasses set PROTOCOL and write script(). Use:

    ``initiate() -> bytes`` first, then ``receive_data(bytes) -> list[Event]`` and
    ``data_to_send() -> bytes`` until ``state`` is not TALKING. ``leftover`` holds bytes
    the server sent after its go-ahead (a well-behaved server sends none). Raises
    RemoteProtocolError only for bytes that cannot be framed at all (a line longer than
    MAX_LINE, a reply longer than MAX_REPLY)."""

    PROTOCOL: ClassVar[str] = ""
    RFC: ClassVar[str] = ""
    # A harmless command pipelined after the request to start TLS when ``inject`` is set:
    # the STARTTLS command injection check (CVE-2011-0411). Empty: not checkable.
    INJECT: ClassVar[bytes] = b""

    state: State = State.TALKING
    leftover: bytes = b""
    facts: dict[str, Any] = field(default_factory=dict)
    _buf: bytearray = field(default_factory=bytearray)
    _out: bytearray = field(default_factory=bytearray)
    _gen: Script | None = None
    _need: Step | None = None
    _closed: bool = False
    waiting_for: str = "the server's greeting"
    inject: bool = False

    def script(self) -> Script:  # pragma: no cover - every protocol overrides it
        raise NotImplementedError
        yield

    # -- the sans-IO surface ---------------------------------------------------------------

    def initiate(self) -> bytes:
        self._gen = self.script()
        events = self._advance(None)
        # Every script sends or reads before it can judge a reply.
        assert not events, "a dialogue cannot end before the server said anything"
        return self.data_to_send()

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes) -> list[Event]:
        if self.state is not State.TALKING:
            self.leftover += data
            return []
        if not data:
            self._closed = True
        else:
            self._buf += data
        return self._pump()

    def command(self, line: bytes) -> bytes:
        """``line`` (the request to start TLS), with INJECT pipelined after it when
        ``inject`` is set."""
        return line + (self.INJECT if self.inject else b"")

    def current_facts(self) -> Facts:
        return Facts(protocol=self.PROTOCOL, **self.facts)

    # -- driving the script ----------------------------------------------------------------

    def _pump(self) -> list[Event]:
        while self.state is State.TALKING:
            need = self._need
            got = self._take(need)
            if got is None:
                if self._closed:
                    return self._finish_closed()
                return []
            events = self._advance(got)
            if events:
                return events
        return []

    def _take(self, need: Step | None) -> bytes | None:
        buf = self._buf
        if isinstance(need, ReadLine):
            end = buf.find(b"\n")
            # Too long whether or not its end came in the same read: the verdict must not
            # depend on how TCP cut the bytes.
            if end < 0 or end >= MAX_LINE:
                if len(buf) > MAX_LINE:
                    raise RemoteProtocolError(f"{self.PROTOCOL}: a line longer than {MAX_LINE} bytes", data=bytes(buf[:64]))
                return None
            line = bytes(buf[: end + 1])
            del buf[: end + 1]
            return line
        if isinstance(need, ReadExact):
            if len(buf) < need.n:
                return None
            chunk = bytes(buf[: need.n])
            del buf[: need.n]
            return chunk
        if isinstance(need, ReadUntil):
            best = -1
            for marker in need.markers:
                at = buf.find(marker)
                if at >= 0 and (best < 0 or at + len(marker) < best):
                    best = at + len(marker)
            if best < 0:
                if len(buf) > MAX_REPLY:
                    raise RemoteProtocolError(f"{self.PROTOCOL}: a reply longer than {MAX_REPLY} bytes", data=bytes(buf[:64]))
                return None
            chunk = bytes(buf[:best])
            del buf[:best]
            return chunk
        return None

    def _advance(self, value: bytes | None) -> list[Event]:
        assert self._gen is not None
        try:
            step = self._gen.send(value) if value is not None else next(self._gen)
            while isinstance(step, Send):
                self._out += step.data
                step = next(self._gen)
        except StopIteration:
            self.state = State.READY
            self.leftover = bytes(self._buf)
            self._buf.clear()
            return [Ready(facts=self.current_facts())]
        except Stop as stop:
            self.state = State.FAILED
            return [Failed(kind=stop.kind, detail=stop.detail, words=stop.words, facts=self.current_facts())]
        self._need = step
        return []

    def _finish_closed(self) -> list[Event]:
        self.state = State.FAILED
        rest = bytes(self._buf)
        detail = f"the server closed the connection while we waited for {self.waiting_for}"
        if rest:
            detail += f" (last words: {printable(rest)})"
        return [Failed(kind=THROTTLED, detail=detail, words=rest, facts=self.current_facts())]


def throttle_words(line: bytes) -> bool:
    """Replies that mean "not now, too busy" whatever the protocol."""
    low = line.lower()
    return any(w in low for w in (b"too many", b"try again later", b"rate limit", b"throttl", b"too fast"))


def numeric_reply(max_lines: int = 200) -> Generator[Step, bytes, tuple[int, list[bytes], bytes]]:
    """A reply of the SMTP family (RFC 5321 section 4.2, also FTP RFC 959 section 4.2 and
    NNTP): lines "250-text" continued, "250 text" last. Returns (code, texts, raw); code is
    -1 when the first line has no three-digit code."""
    raw = b""
    texts: list[bytes] = []
    code = -1
    for _ in range(max_lines):
        line = yield ReadLine()
        raw += line
        head = line[:3]
        if not texts and head.isdigit():
            code = int(head)
        texts.append(line[4:].rstrip(b"\r\n") if head.isdigit() else line.rstrip(b"\r\n"))
        # FTP's multi-line replies (RFC 959 section 4.2) may hold lines without a code;
        # the reply ends at "ddd " with the first line's code.
        if head.isdigit() and int(head) == code and line[3:4] != b"-":
            break
        if code < 0:
            break
    else:
        raise RemoteProtocolError(f"a reply of more than {max_lines} lines", data=raw[:64])
    return code, texts, raw


def dot_block(max_lines: int = 500) -> Generator[Step, bytes, tuple[list[bytes], bytes]]:
    """A multi-line block ended by a line holding only "." (POP3 RFC 1939 section 3,
    NNTP RFC 3977 section 3.1.1). Returns (lines, raw)."""
    raw = b""
    lines: list[bytes] = []
    for _ in range(max_lines):
        line = yield ReadLine()
        raw += line
        body = line.rstrip(b"\r\n")
        if body == b".":
            return lines, raw
        lines.append(body[1:] if body.startswith(b"..") else body)
    raise RemoteProtocolError(f"a block of more than {max_lines} lines", data=raw[:64])


MAX_HEAD = 16  # bytes of a binary message's head, its length included


def framed(length: Callable[[bytes], int | None], head: int) -> Generator[Step, bytes, bytes]:
    """One message of a binary protocol whose head gives its length (LDAP's BER, MySQL's
    packet, RDP's TPKT): ``head`` bytes first, then one more at a time while
    ``length(data)`` is None (a length field of variable size), then the rest up to
    ``length(data)``, the whole message's size in bytes. Returns the message. ``length``
    raises RemoteProtocolError for a head it rejects."""
    data = yield ReadExact(head)
    for _ in range(MAX_HEAD):
        total = length(data)
        if total is not None:
            if total > len(data):
                data += yield ReadExact(total - len(data))
            return data
        data += yield ReadExact(1)
    raise RemoteProtocolError(f"a message head longer than {MAX_HEAD} bytes", data=data)


# -- the text protocols: greeting, capability list, request, go-ahead ---------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply of a text protocol. ``code``: its three-digit code (-1 where the protocol
    has none); ``status``: what says yes or no (the whole reply of the SMTP family, the
    status or tagged line of the others); ``lines``: what it lists (capabilities), as
    sent; ``raw``: every byte of it, exact."""

    code: int
    status: bytes
    lines: tuple[bytes, ...]
    raw: bytes


# What a reply must be or begin with: reply codes (the SMTP family) or status words
# (b"+OK", b"* OK"), compared without regard to case.
Verdict = tuple[int | bytes, ...]


def said(reply: Reply, verdict: Verdict) -> bool:
    """Whether ``reply`` has one of the codes, or begins with one of the words, of ``verdict``."""
    up = reply.status.upper()
    return any(reply.code == v if isinstance(v, int) else up.startswith(v) for v in verdict)


def one_line() -> Generator[Step, bytes, Reply]:
    """A reply of one status line (POP3 RFC 1939 section 3, IMAP's greeting)."""
    line = yield ReadLine()
    return Reply(code=-1, status=line, lines=(), raw=line)


def until(ends: tuple[bytes, ...], most: int, missing: str) -> Generator[Step, bytes, Reply]:
    """Lines up to the first that begins with one of ``ends`` (its status; the lines
    before it are the reply's ``lines``), at most ``most`` of them: past that, Stop
    REFUSED with the detail ``missing`` (IMAP's tagged answer, ManageSieve's OK)."""
    raw = b""
    lines: list[bytes] = []
    for _ in range(most):
        line = yield ReadLine()
        raw += line
        if line.upper().startswith(ends):
            return Reply(code=-1, status=line, lines=tuple(lines), raw=raw)
        lines.append(line)
    raise Stop(REFUSED, missing, raw)


def numeric() -> Generator[Step, bytes, Reply]:
    """A reply of the SMTP family (numeric_reply): its code, its texts as ``lines``."""
    code, texts, raw = yield from numeric_reply()
    return Reply(code=code, status=raw, lines=tuple(texts), raw=raw)


@dataclass(slots=True)
class LineDialogue(Dialogue):
    """A text protocol's way to TLS in four steps, the differences as data:

    1. the greeting (``read_greeting``) must be one of GREETING_OK;
    2. CAPA (when the protocol has one) asks for the capability list (``read_list``,
       ``capabilities``); a list without REQUEST ends NOT_OFFERED;
    3. REQUEST (with INJECT pipelined when ``inject`` is set);
    4. its answer (``read_reply``) must be one of GO_AHEAD; one of UNKNOWN, when no list
       named REQUEST, ends NOT_OFFERED.

    A refusal is THROTTLED when its code is one of BUSY or its words say so
    (throttle_words), REFUSED otherwise."""

    GREETING_OK: ClassVar[Verdict] = ()
    BUSY: ClassVar[tuple[int, ...]] = ()  # reply codes meaning "not now": load, too many connections
    CAPA: ClassVar[str] = ""  # the command asking for the capability list; "": none asked
    LIST_FOLLOWS: ClassVar[Verdict] = ()  # CAPA's answers that a "."-ended list follows
    REQUEST: ClassVar[str] = "STARTTLS"  # the request to start TLS, and its capability
    GO_AHEAD: ClassVar[Verdict] = ()
    UNKNOWN: ClassVar[Verdict] = ()  # answers to a command the server does not know

    # -- how this protocol's replies read (overridden where they differ) ------------------

    def read_reply(self) -> Generator[Step, bytes, Reply]:
        return (yield from numeric())

    def read_greeting(self) -> Generator[Step, bytes, Reply]:
        return (yield from self.read_reply())

    def read_list(self) -> Generator[Step, bytes, Reply]:
        """CAPA's answer, with the "."-ended list (RFC 1939 section 3, RFC 3977 section
        3.1.1) that follows one of LIST_FOLLOWS."""
        reply = yield from self.read_reply()
        if not said(reply, self.LIST_FOLLOWS):
            return reply
        lines, block = yield from dot_block()
        return Reply(code=reply.code, status=reply.status, lines=tuple(lines), raw=reply.raw + block)

    def line(self, name: str) -> bytes:
        """The command ``name`` as sent."""
        return name.encode() + b"\r\n"

    def capabilities(self, reply: Reply) -> list[str] | None:
        """The capability list ``reply`` holds (None: it holds none). Called with the
        greeting when there is no CAPA, else with CAPA's answer."""
        return [text(x) for x in reply.lines] if said(reply, self.LIST_FOLLOWS) else None

    def note(self, caps: list[str]) -> None:
        """Record in ``facts`` what the list says beyond itself (plaintext_auth,
        server_version)."""

    # -- the shared script ----------------------------------------------------------------

    def refusal(self, what: str, reply: Reply) -> Stop:
        """Stop for a ``reply`` that says no; its detail is ``what`` and the reply."""
        kind = THROTTLED if reply.code in self.BUSY or throttle_words(reply.status) else REFUSED
        return Stop(kind, f"{what} {printable(reply.status)}", reply.raw)

    def script(self) -> Script:
        greeting = yield from self.read_greeting()
        self.facts["banner"] = text(greeting.status.rstrip(b"\r\n"))
        listing = greeting
        caps = None if self.CAPA else self._listed(greeting)  # ManageSieve's greeting lists them
        if not said(greeting, self.GREETING_OK):
            raise self.refusal("greeting:", greeting)
        if self.CAPA:
            self.waiting_for = f"the answer to {self.CAPA}"
            yield Send(self.line(self.CAPA))
            listing = yield from self.read_list()
            caps = self._listed(listing)
        if caps is not None and not any(_name(c).upper() == self.REQUEST for c in caps):
            names = ", ".join(_name(c) for c in caps if c.strip()) or "nothing"
            raise Stop(NOT_OFFERED, f"{self.REQUEST} not offered ({self.CAPA or 'the greeting'} lists: {names})", listing.raw)
        self.waiting_for = f"the answer to {self.REQUEST}"
        yield Send(self.command(self.line(self.REQUEST)))
        answer = yield from self.read_reply()
        if said(answer, self.GO_AHEAD):
            return
        if not caps and said(answer, self.UNKNOWN):
            detail = f"{self.REQUEST} not offered: {printable(answer.status)}"
            if self.CAPA:  # the evidence: no list, or one without REQUEST
                detail += f" (and {self.CAPA} answered {printable(listing.status)})"
            raise Stop(NOT_OFFERED, detail, listing.raw + answer.raw if self.CAPA else answer.raw)
        raise self.refusal(f"{self.REQUEST} answered", answer)

    def _listed(self, reply: Reply) -> list[str] | None:
        caps = self.capabilities(reply)
        if caps is not None:
            self.facts["capabilities"] = tuple(caps)
            self.note(caps)
        return caps


def _name(capability: str) -> str:
    """A capability's name: its first word, unquoted (ManageSieve quotes them)."""
    words = capability.split()
    return words[0].strip('"') if words else ""
