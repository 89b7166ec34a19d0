# The types every layer of the scanner shares: what to scan (Target), how (ScanOptions,
# Deadlines), and the outcome names a probe or an endpoint ends in.
#
# Rule kept: this module imports nothing of the scanner (only handshakes' constants), so
# the engine, the probes, the diagnosis, the fleet and the CLI can all import it without
# closing an import circle (docs/design.md, "Layers"; the import-linter contract in
# pyproject.toml enforces it).
from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handshakes import constants as c

# The outcomes a probe can end in (issue 3). Exactly one per probe.
ACCEPTED = "accepted"
ALERT = "alert"
CLOSED = "closed"
RESET = "reset"
TIMEOUT = "timeout"
REFUSED = "refused"
UNREACHABLE = "unreachable"
DNS_ERROR = "dns_error"
NOT_TLS = "not_tls"
PROTOCOL_ERROR = "protocol_error"
TRANSIENT = (RESET, TIMEOUT)
# The pre-TLS dialogue (STARTTLS and its cousins, issue 13) did not reach TLS.
STARTTLS_NOT_OFFERED = "starttls_not_offered"
STARTTLS_REFUSED = "starttls_refused"
THROTTLED = "throttled"
# The dialogue itself broke (a reply it cannot read), stalled (no complete reply within
# the dialogue's deadline), or the server speaks another protocol (the greeting says so).
# Distinct from the TLS outcomes protocol_error / timeout: no ClientHello was sent.
STARTTLS_PROTOCOL_ERROR = "starttls_protocol_error"
STARTTLS_TIMEOUT = "starttls_timeout"
STARTTLS_WRONG_PROTOCOL = "starttls_wrong_protocol"
STARTTLS_OUTCOMES = (
    STARTTLS_NOT_OFFERED, STARTTLS_REFUSED, THROTTLED,
    STARTTLS_PROTOCOL_ERROR, STARTTLS_TIMEOUT, STARTTLS_WRONG_PROTOCOL,
)

# The dialogues a user can choose (--starttls, `starttls:`, a URL scheme), and the ports
# that choose one by themselves (`--starttls none` turns that off). Implicit-TLS ports
# (465, 993, 995, 636, 990, 5223) are not here: they speak TLS from the first byte.
STARTTLS_PROTOCOLS = (
    "smtp", "lmtp", "imap", "pop3", "sieve", "nntp", "ftp", "ldap", "xmpp", "xmpp-server",
    "postgres", "mysql", "rdp", "postgres-direct",
)
# PostgreSQL 17's direct TLS: no dialogue, a ClientHello with ALPN "postgresql" at once.
NO_DIALOGUE = ("postgres-direct",)
# The ALPN a dialogue's probes offer (RFC 7301; PostgreSQL 17 refuses any other with
# no_application_protocol); the other dialogues offer none, as their clients do.
STARTTLS_ALPN = {"postgres": ("postgresql",), "postgres-direct": ("postgresql",)}
STARTTLS_PORTS = {
    25: "smtp", 587: "smtp", 24: "lmtp", 143: "imap", 110: "pop3", 4190: "sieve", 119: "nntp",
    21: "ftp", 389: "ldap", 5222: "xmpp", 5269: "xmpp-server", 5432: "postgres", 3306: "mysql",
    3389: "rdp",
}
# Connections at once per endpoint for the dialogues of servers that throttle scanners
# (mail servers count connections per client address); the others use per_endpoint.
STARTTLS_PER_ENDPOINT = {"smtp": 2, "lmtp": 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadlines:
    """Seconds. ``read`` bounds the whole wait for the server's answer, not each read,
    so a server that drips a byte a second cannot hold a probe past it."""

    connect: float = 5.0
    read: float = 5.0
    endpoint: float = 120.0
    # The whole pre-TLS dialogue of one connection (greeting to go-ahead): some mail
    # servers wait 6 s or more before their greeting on purpose.
    starttls: float = 15.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "endpoint"):
            check_seconds(name, getattr(self, name))


def check_seconds(name: str, value: object) -> None:
    """Raise ValueError unless ``value`` is a finite number of seconds above 0 (nan and
    inf would pass a ``> 0`` test and then break every deadline computed from them)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive, finite number of seconds, not {value!r}")


# Finding severities, most severe first (docs/findings.md).
SEVERITIES = ("critical", "high", "medium", "low", "info")
ALL_PROBES = (
    "protocols", "suites", "preference", "groups", "certificates", "behaviours",
    "client_auth", "revocation", "vulns", "tolerance",
)
# Probes a user may name that a full scan does not run: "tolerance-full" runs every
# tolerance check, not only the default family (issue 11).
KNOWN_PROBES = (*ALL_PROBES, "tolerance-full")
QUICK_PROBES = ("protocols", "certificates", "client_auth")
SCAN_VERSIONS = (c.TLS13, c.TLS12, c.TLS11, c.TLS10, c.SSL3, c.SSL2)


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """One endpoint to scan. ``sni``: None sends ``host`` when it is a name; "" sends none."""

    host: str
    port: int = 443
    ip: str | None = None
    sni: str | None = None
    tags: tuple[str, ...] = ()
    # The pre-TLS dialogue: a name of STARTTLS_PROTOCOLS, "none" for plain TLS, None to
    # leave it to the options and the port (see dialogue_for).
    starttls: str | None = None

    @property
    def server_name(self) -> str | None:
        if self.sni is not None:
            return self.sni or None
        return None if _is_ip(self.host) else self.host

    @property
    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanOptions:
    deadlines: Deadlines = field(default_factory=Deadlines)
    per_endpoint: int = 4
    retries: int = 1
    probes: frozenset[str] = frozenset(ALL_PROBES)
    versions: tuple[int, ...] = SCAN_VERSIONS
    all_addresses: bool = False
    ca_file: str | None = None
    use_system_store: bool = True
    client_versions: tuple[int, ...] = (c.TLS12, c.TLS13)
    client_suites: tuple[int, ...] | None = None
    client_certs: tuple[Any, ...] = ()
    now: datetime | None = None
    verbose: bool = False
    starttls: str | None = None  # default dialogue for targets that name none ("none": off)
    xmpp_domain: str | None = None  # the XMPP stream's 'to' (default: the SNI / host name)
    starttls_per_endpoint: int | None = None  # None: STARTTLS_PER_ENDPOINT, else per_endpoint

    def __post_init__(self) -> None:
        # The Python API gets the same checks as the command line, before any packet.
        if isinstance(self.per_endpoint, bool) or not isinstance(self.per_endpoint, int) or self.per_endpoint < 1:
            raise ValueError(f"per_endpoint must be an integer of at least 1, not {self.per_endpoint!r}")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f"retries must be an integer of at least 0, not {self.retries!r}")
        unknown = set(self.probes) - set(KNOWN_PROBES)
        if unknown:
            raise ValueError(f"unknown probe(s): {', '.join(sorted(map(str, unknown)))}")
        for name in ("versions", "client_versions"):
            bad = [v for v in getattr(self, name) if v not in SCAN_VERSIONS]
            if bad or not getattr(self, name):
                raise ValueError(f"{name}: unknown or empty version list {getattr(self, name)!r}")
        if self.starttls not in (None, "none", *STARTTLS_PROTOCOLS):
            raise ValueError(f"starttls: unknown dialogue {self.starttls!r}")


def dialogue_for(target: Target, options: ScanOptions) -> str | None:
    """The pre-TLS dialogue of a target: its own (URL scheme, targets file), else the
    options' (--starttls), else its port's; None for plain TLS."""
    name = target.starttls or options.starttls
    if name == "none":
        return None
    return name or STARTTLS_PORTS.get(target.port)


