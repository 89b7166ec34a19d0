# Facts -> findings. `diagnose(result, options)` runs every rule over one EndpointResult and
# returns the findings, most severe first, then by id.
#
# Rules kept (docs/design: evidence and interpretation are separate): the probes record
# what the server sent; each finding id has ONE documented function (connectivity.py,
# protocols.py, certificates.py, client_auth.py, client_certs.py, starttls.py, vulns.py) that decides whether it applies and quotes
# the evidence from the result; the fixed words (title, cause, resolution, Windows error)
# live in catalogue.py. No rule does IO or reads the clock except through options.now.
from __future__ import annotations

from scanner.diagnose import (
    certificates,
    client_auth,
    connectivity,
    intolerance,
    protocols,
    starttls,
    vulns,
)
from scanner.diagnose.catalogue import CATALOGUE, Entry
from scanner.diagnose.client_certs import client_cert_findings
from scanner.diagnose.common import Rule
from scanner.options import SEVERITIES, ScanOptions
from scanner.results import EndpointResult, Finding

__all__ = ["CATALOGUE", "RULES", "Entry", "diagnose", "sort_findings"]

# finding id -> the function that decides it, for every id in the catalogue.
RULES: dict[str, Rule] = {
    **connectivity.RULES,
    **protocols.RULES,
    **certificates.RULES,
    **client_auth.RULES,
    **vulns.RULES,
    **starttls.RULES,
    **intolerance.RULES,
}
assert set(RULES) == set(CATALOGUE), "every catalogued finding needs exactly one rule"


def sort_findings(findings: list[Finding] | tuple[Finding, ...]) -> tuple[Finding, ...]:
    """Most severe first (SEVERITIES order), then by id."""
    return tuple(sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.id)))


def diagnose(result: EndpointResult, options: ScanOptions | None = None) -> tuple[Finding, ...]:
    """Every finding the result supports, sorted by severity then id. Deterministic: the
    same result and options give the same text."""
    if options is None:
        options = ScanOptions()
    found = [f for rule in RULES.values() if (f := rule(result, options)) is not None]
    if options.client_certs:
        found += client_cert_findings(result, options.client_certs, now=options.now)
    return sort_findings(found)
