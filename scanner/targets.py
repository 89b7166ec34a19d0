# Turning what a user typed into Targets: "host", "host:port", "[v6addr]:port",
# "https://host:port/path", "ip=1.2.3.4,sni=name" forms. Errors are ValueErrors that say
# what is wrong with which text; they are raised before any packet is sent.
from __future__ import annotations

import ipaddress
import socket
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

# A name is sent in SNI and looked up in DNS: RFC 1035 2.3.4 limits a label to 63 octets
# and a name to 255 octets on the wire (253 characters written without the final dot).
MAX_LABEL = 63
MAX_NAME = 253


class TargetError(ValueError):
    """A target that cannot be scanned as written."""


def parse_target(text: str, *, default_port: int = 443) -> Target:
    raw = text.strip()
    if not raw:
        raise TargetError("empty target")
    port = default_port
    if "://" in raw:
        try:
            parts = urlsplit(raw)
        except ValueError as exc:  # e.g. "https://[::1/": Invalid IPv6 URL
            raise TargetError(f"{_short(text)}: not a URL ({exc})") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS and scheme not in STARTTLS_SCHEMES:
            raise TargetError(
                f"{_short(text)}: unsupported scheme {scheme!r} (TLS from the first byte: "
                f"{', '.join(DEFAULT_PORTS)}; STARTTLS first: {', '.join(STARTTLS_SCHEMES)}; "
                "or give HOST:PORT)"
            )
        if not parts.hostname:
            raise TargetError(f"{_short(text)}: no host in URL")
        try:
            url_port = parts.port
        except ValueError as exc:
            raise TargetError(f"{_short(text)}: bad port ({exc})") from None
        if scheme in STARTTLS_SCHEMES:
            scheme_port, dialogue = STARTTLS_SCHEMES[scheme]
            return replace(_target(parts.hostname, url_port or scheme_port, text), starttls=dialogue)
        port = url_port or DEFAULT_PORTS[scheme]
        target = _target(parts.hostname, port, text)
        # An implicit-TLS scheme on a port that would choose a dialogue: the scheme wins.
        return replace(target, starttls="none") if port in STARTTLS_PORTS else target
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise TargetError(f"{_short(text)}: missing ']' after an IPv6 address")
        host = raw[1:end]
        rest = raw[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise TargetError(f"{_short(text)}: expected ':port' after ']'")
            port = _port(rest[1:], text)
        return _target(host, port, text)
    if raw.count(":") > 1:
        # A bare IPv6 address (no port possible without brackets); anything else with two
        # colons is neither an address nor a name (RFC 3986 section 3.2.2: an IPv6 host
        # with a port goes in brackets).
        try:
            socket.inet_pton(socket.AF_INET6, raw.split("%", 1)[0])
        except OSError:
            raise TargetError(
                f"{_short(text)}: not a host[:port] (an IPv6 address with a port goes in brackets: [ADDR]:PORT)"
            ) from None
        return _target(raw, port, text)
    if ":" in raw:
        host, _, p = raw.rpartition(":")
        port = _port(p, text)
        raw = host
    return _target(raw, port, text)


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise TargetError(f"{_short(whole)}: port must be a number from 1 to 65535, not {text!r}")
    return int(text)


def _short(text: str, limit: int = 80) -> str:
    """``text`` quoted for an error line: control characters escaped, at most ``limit``."""
    shown = text if len(text) <= limit else f"{text[:limit]}..."
    return ascii(shown) if not shown.isprintable() else repr(shown)


def host_name_problem(name: str) -> str | None:
    """What makes ``name`` impossible as a DNS host name, or None when it could be one.

    Checks (before any packet): no control characters, NUL or byte-order mark; no empty
    label; labels of at most 63 and a name of at most 253 characters once IDNA-encoded
    (RFC 1035 2.3.4, RFC 5890). A well-formed name that does not resolve is not a problem
    here: it is a ``dns_error`` result of the scan.
    """
    if not name:
        return "empty name"
    if any(not ch.isprintable() or ch.isspace() or ch == "\ufeff" for ch in name):
        return "contains a control character, space or byte-order mark"
    bare = name[:-1] if name.endswith(".") else name
    if len(bare) > 4 * MAX_NAME:  # far too long even before encoding
        return f"is longer than {MAX_NAME} characters"
    labels = bare.split(".")
    if any(not label for label in labels):
        return "has an empty label (two dots in a row, or a leading dot)"
    try:
        encoded = bare.encode("idna").decode("ascii")
    except UnicodeError:
        if any(len(label) > MAX_LABEL for label in labels):
            return f"has a label longer than {MAX_LABEL} characters"
        return "is not a valid internationalised name (IDNA)"
    if any(len(label) > MAX_LABEL for label in encoded.split(".")):
        return f"has a label longer than {MAX_LABEL} characters"
    if len(encoded) > MAX_NAME:
        return f"is longer than {MAX_NAME} characters"
    if bare.startswith("-"):
        return "starts with '-'"
    return None


def check_sni(name: str) -> str:
    """``name`` for --sni: '' (send none) or a possible host name. Raises TargetError."""
    if name:
        problem = host_name_problem(name)
        if problem:
            raise TargetError(f"server name {_short(name)} {problem}")
    return name


def check_ip(text: str) -> str:
    """``text`` for --ip / 'ip': an IPv4 or IPv6 address. Raises TargetError."""
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        raise TargetError(f"{_short(text)} is not an IPv4 or IPv6 address") from None


def _target(host: str, port: int, whole: str) -> Target:
    host = host.strip()
    if not host:
        raise TargetError(f"{_short(whole)}: empty host")
    try:
        ipaddress.ip_address(host)
        return Target(host=host, port=port, ip=host)
    except ValueError:
        pass
    problem = host_name_problem(host)
    if problem:
        raise TargetError(f"{_short(whole)}: the host name {problem}")
    return Target(host=host.rstrip(".").lower(), port=port)
