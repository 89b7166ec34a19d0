# Turning what a user typed into Targets: "host", "host:port", "[v6addr]:port",
# "https://host:port/path", "ip=1.2.3.4,sni=name" forms. Errors are ValueErrors that say
# what is wrong with which text; they are raised before any packet is sent.
from __future__ import annotations

import ipaddress
from dataclasses import replace
from urllib.parse import urlsplit

from scanner.options import STARTTLS_PORTS, Target

DEFAULT_PORTS = {"https": 443, "smtps": 465, "imaps": 993, "pop3s": 995, "ldaps": 636, "ftps": 990}
# Schemes of the pre-TLS dialogues: (default port, dialogue). The implicit-TLS schemes
# above speak TLS from the first byte whatever the port ("none").
STARTTLS_SCHEMES = {
    "smtp": (25, "smtp"), "submission": (587, "smtp"), "lmtp": (24, "lmtp"),
    "imap": (143, "imap"), "pop3": (110, "pop3"), "sieve": (4190, "sieve"), "nntp": (119, "nntp"),
    "ftp": (21, "ftp"), "ldap": (389, "ldap"), "xmpp": (5222, "xmpp"),
    "xmpp-server": (5269, "xmpp-server"), "postgres": (5432, "postgres"),
    "postgresql": (5432, "postgres"), "mysql": (3306, "mysql"), "rdp": (3389, "rdp"),
}


class TargetError(ValueError):
    """A target that cannot be scanned as written."""


def parse_target(text: str, *, default_port: int = 443) -> Target:
    raw = text.strip()
    if not raw:
        raise TargetError("empty target")
    port = default_port
    if "://" in raw:
        parts = urlsplit(raw)
        if not parts.hostname:
            raise TargetError(f"{text!r}: no host in URL")
        try:
            url_port = parts.port
        except ValueError as exc:
            raise TargetError(f"{text!r}: bad port ({exc})") from None
        scheme = parts.scheme.lower()
        if scheme in STARTTLS_SCHEMES:
            scheme_port, dialogue = STARTTLS_SCHEMES[scheme]
            return replace(_target(parts.hostname, url_port or scheme_port, text), starttls=dialogue)
        port = url_port or DEFAULT_PORTS.get(scheme, default_port)
        target = _target(parts.hostname, port, text)
        # An implicit-TLS scheme on a port that would choose a dialogue: the scheme wins.
        return replace(target, starttls="none") if port in STARTTLS_PORTS else target
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise TargetError(f"{text!r}: missing ']' after an IPv6 address")
        host = raw[1:end]
        rest = raw[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise TargetError(f"{text!r}: expected ':port' after ']'")
            port = _port(rest[1:], text)
        return _target(host, port, text)
    if raw.count(":") > 1:
        # A bare IPv6 address (no port possible without brackets).
        return _target(raw, port, text)
    if ":" in raw:
        host, _, p = raw.rpartition(":")
        port = _port(p, text)
        raw = host
    return _target(raw, port, text)


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise TargetError(f"{whole!r}: port must be a number from 1 to 65535, not {text!r}")
    return int(text)


def _target(host: str, port: int, whole: str) -> Target:
    host = host.strip()
    if not host:
        raise TargetError(f"{whole!r}: empty host")
    try:
        ipaddress.ip_address(host)
        return Target(host=host, port=port, ip=host)
    except ValueError:
        pass
    if any(ch.isspace() for ch in host) or host.startswith(("-", ".")):
        raise TargetError(f"{whole!r}: {host!r} is not a host name")
    return Target(host=host.rstrip(".").lower(), port=port)
