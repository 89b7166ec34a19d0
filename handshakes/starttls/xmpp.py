# XMPP STARTTLS (RFC 6120 section 5), client-to-server and server-to-server.
#
# We open a stream to the domain (RFC 6120 section 4.7: 'to' is the service's domain,
# 'version' 1.0), read the server's stream header and its <stream:features> (section
# 4.3.2), look for <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/> (section 5.4.1),
# send <starttls/> and read <proceed/> (go ahead) or <failure/> (section 5.4.2.2).
# A <stream:error> (section 4.9), e.g. <host-unknown/> or <policy-violation/>, is the
# server's refusal; <connection-timeout/>, <resource-constraint/> are load.
# The XML is matched, not parsed: only the few elements above matter, and a server's
# other XML is data (kept in the facts).
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import ClassVar

from handshakes.starttls._base import (
    NOT_OFFERED,
    REFUSED,
    THROTTLED,
    Dialogue,
    ReadUntil,
    Script,
    Send,
    Stop,
    printable,
    text,
)

TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
_STREAM_ERROR = re.compile(rb"<stream:error>\s*<([a-z-]+)", re.S)
_LOAD_ERRORS = (b"connection-timeout", b"resource-constraint", b"policy-violation")


def _attr(tag: bytes, name: str) -> str:
    m = re.search(rb"\s" + name.encode() + rb"\s*=\s*['\"]([^'\"]*)['\"]", tag)
    return text(m.group(1)) if m else ""


@dataclass(slots=True)
class XMPP(Dialogue):
    PROTOCOL: ClassVar[str] = "xmpp"
    RFC: ClassVar[str] = "RFC 6120"
    NAMESPACE: ClassVar[str] = "jabber:client"
    domain: str = ""

    def _stream_error(self, data: bytes) -> Stop | None:
        m = _STREAM_ERROR.search(data)
        if m is None:
            return None
        kind = THROTTLED if m.group(1) in _LOAD_ERRORS else REFUSED
        hint = f" (the stream was opened to {self.domain!r}; give the XMPP domain with --xmpp-domain)" if m.group(1) == b"host-unknown" else ""
        return Stop(kind, f"stream error <{text(m.group(1))}/>{hint}: {printable(data[m.start():])}", data)

    def script(self) -> Script:
        header = (
            f"<?xml version='1.0'?><stream:stream to='{html.escape(self.domain, quote=True)}' version='1.0' "
            f"xmlns='{self.NAMESPACE}' xmlns:stream='http://etherx.jabber.org/streams'>"
        )
        yield Send(header.encode())
        self.waiting_for = "the server's stream header and features"
        data = yield ReadUntil((b"</stream:features>", b"</stream:stream>", b"</stream:error>"))
        m = re.search(rb"<stream:stream[^>]*>", data)
        if m:
            tag = m.group(0)
            self.facts["banner"] = text(tag)
            self.facts["server_version"] = _attr(tag, "version")
        stop = self._stream_error(data)
        if stop is not None:
            raise stop
        features = data[data.find(b"<stream:features") :]
        found = re.findall(rb"<([a-zA-Z:_-]+)[^>]*xmlns=['\"]([^'\"]+)['\"]", features)
        self.facts["capabilities"] = tuple(f"{text(n)} ({text(ns)})" for n, ns in found if n != b"stream:features")
        mechs = re.findall(rb"<mechanism>([^<]+)</mechanism>", features)
        if mechs:
            self.facts["plaintext_auth"] = tuple(text(x) for x in mechs)
        if TLS_NS.encode() not in features:
            listed = ", ".join(text(n) for n, _ in found if n != b"stream:features") or "nothing"
            raise Stop(NOT_OFFERED, f"STARTTLS not offered (stream features: {listed})", data)
        yield Send(f"<starttls xmlns='{TLS_NS}'/>".encode())
        self.waiting_for = "<proceed/>"
        answer = yield ReadUntil((b"<proceed", b"<failure", b"</stream:stream>", b"</stream:error>"))
        if answer.endswith(b"<proceed"):
            rest = yield ReadUntil((b">",))
            del rest
            return
        stop = self._stream_error(answer)
        if stop is not None:
            raise stop
        raise Stop(REFUSED, f"<starttls/> answered {printable(answer)}", answer)


@dataclass(slots=True)
class XMPPServer(XMPP):
    """Server-to-server (RFC 6120 section 4.7.1: namespace jabber:server)."""

    PROTOCOL: ClassVar[str] = "xmpp-server"
    NAMESPACE: ClassVar[str] = "jabber:server"
