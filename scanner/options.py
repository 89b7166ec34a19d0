# The types every layer of the scanner shares: what to scan (Target), how (ScanOptions,
# Deadlines), and the outcome names a probe or an endpoint ends in.
#
# Rule kept: this module imports nothing of the scanner (only handshakes' constants), so
# the engine, the probes, the diagnosis, the fleet and the CLI can all import it without
# closing an import circle (docs/design.md, "Layers"; the import-linter contract in
# pyproject.toml enforces it).
from __future__ import annotations

import ipaddress
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadlines:
    """Seconds. ``read`` bounds the whole wait for the server's answer, not each read,
    so a server that drips a byte a second cannot hold a probe past it."""

    connect: float = 5.0
    read: float = 5.0
    endpoint: float = 120.0


ALL_PROBES = (
    "protocols", "suites", "preference", "groups", "certificates", "behaviours",
    "client_auth", "revocation", "tolerance",
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


