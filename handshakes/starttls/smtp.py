# SMTP STARTTLS (RFC 3207) and its LMTP twin (RFC 2033: LHLO instead of EHLO).
#
# Greeting 220 (RFC 5321 section 4.3.1; 554 "no service", 421 "closing"), EHLO and its
# 250 capability list (RFC 5321 section 4.1.1.1), STARTTLS answered 220 "ready to start
# TLS"; 454 is "TLS not available due to temporary reason" (RFC 3207 section 4). AUTH
# advertised before TLS is recorded as plaintext authentication offered (RFC 4954 section 4
# lets a server hide it until TLS).
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from handshakes.starttls._base import (
    NOT_OFFERED,
    REFUSED,
    THROTTLED,
    Dialogue,
    Script,
    Send,
    Stop,
    numeric_reply,
    printable,
    text,
    throttle_words,
)

CLIENT_NAME = "tlscompat.invalid"


def _fail_greeting(code: int, raw: bytes, what: str) -> Stop:
    # RFC 5321 section 3.8: 421 is the server shutting the channel (load, too many
    # connections); other codes are a refusal.
    kind = THROTTLED if code == 421 or throttle_words(raw) else REFUSED
    return Stop(kind, f"{what}: {printable(raw)}", raw)


@dataclass(slots=True)
class SMTP(Dialogue):
    PROTOCOL: ClassVar[str] = "smtp"
    RFC: ClassVar[str] = "RFC 3207"
    INJECT: ClassVar[bytes] = b"NOOP\r\n"
    HELLO: ClassVar[bytes] = b"EHLO"
    client_name: str = CLIENT_NAME

    def script(self) -> Script:
        self.waiting_for = "the greeting"
        code, _, raw = yield from numeric_reply()
        self.facts["banner"] = text(raw.rstrip(b"\r\n"))
        if code != 220:
            raise _fail_greeting(code, raw, "greeting")
        self.waiting_for = f"the answer to {self.HELLO.decode()}"
        yield Send(self.HELLO + b" " + self.client_name.encode() + b"\r\n")
        code, lines, raw = yield from numeric_reply()
        if code != 250:
            raise _fail_greeting(code, raw, self.HELLO.decode())
        caps = tuple(text(x) for x in lines[1:])
        self.facts["capabilities"] = caps
        auth = [c for c in caps if c.upper().startswith(("AUTH ", "AUTH="))]
        if auth:
            self.facts["plaintext_auth"] = tuple(m for a in auth for m in a[5:].split())
        if not any(c.upper() == "STARTTLS" for c in caps):
            listed = ", ".join(c.split(" ")[0] for c in caps) or "nothing"
            raise Stop(NOT_OFFERED, f"STARTTLS not offered ({self.HELLO.decode()} lists: {listed})", raw)
        self.waiting_for = "the answer to STARTTLS"
        yield Send(self.command(b"STARTTLS\r\n"))
        code, _, raw = yield from numeric_reply()
        if code == 220:
            return
        kind = THROTTLED if code == 421 or throttle_words(raw) else REFUSED
        raise Stop(kind, f"STARTTLS answered {printable(raw)}", raw)


@dataclass(slots=True)
class LMTP(SMTP):
    PROTOCOL: ClassVar[str] = "lmtp"
    RFC: ClassVar[str] = "RFC 2033"
    HELLO: ClassVar[bytes] = b"LHLO"
