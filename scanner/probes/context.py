# What the probes of one endpoint share: the connection factory with its limits
# (Connector), the hello builder, the target and options, and the accumulator of facts.
#
# An accumulator rather than return values, on purpose: the endpoint deadline may cancel
# the scan half-way, and the result must keep everything already found. It is owned by
# one endpoint scan; each probe writes only its own keys, and it is read only after the
# nurseries (or the deadline) have ended (scanner/facts.py assembles the result).
from __future__ import annotations

from dataclasses import dataclass, field

from scanner.engine import Connector, ProbeOutcome
from scanner.options import ScanOptions, Target
from scanner.probes import suites as sp
from scanner.probes.hello import HelloFactory
from scanner.results import (
    ClientAuthResult,
    ClientCertAttempt,
    Intolerance,
    ToleranceCheck,
    VulnCheck,
)


@dataclass(slots=True)
class Found:
    """What the probes of one endpoint gathered; turned into an EndpointResult at the end.
    Keys: versions (scanner.probes.suites), order/ranked (preference), groups/group_order
    (groups), extra (one outcome per named extra probe: certificates, behaviours),
    client_auth/client_certificates (client_auth), vulns (vulns)."""

    versions: dict[int, sp.VersionScan] = field(default_factory=dict)
    order: dict[int, bool | None] = field(default_factory=dict)
    ranked: dict[int, list[int]] = field(default_factory=dict)
    groups: dict[int, list[int]] = field(default_factory=dict)
    group_order: dict[int, bool | None] = field(default_factory=dict)
    extra: dict[str, ProbeOutcome] = field(default_factory=dict)
    # Set by the client-authentication step (full handshakes) when it ran.
    client_auth: tuple[ClientAuthResult, ...] | None = None
    client_certificates: tuple[ClientCertAttempt, ...] = ()
    vulns: tuple[VulnCheck, ...] = ()  # set by the vulns family (scanner/probes/vulns.py)
    # The tolerance probes' verdicts and the intolerances they found (scanner/probes/tolerance.py)
    tolerance: tuple[ToleranceCheck, ...] = ()
    tolerance_intolerances: tuple[Intolerance, ...] = ()
    split_intolerances: tuple[Intolerance, ...] = ()  # application-data record splitting
    sni_name_refused: bool = False  # every version refused the name; without SNI: accepted


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeContext:
    """Everything a probe's entry point needs (docs/design.md, "Adding a probe")."""

    conn: Connector
    hello: HelloFactory
    target: Target
    options: ScanOptions
    found: Found
