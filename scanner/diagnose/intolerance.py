# Findings about ClientHello shapes the server fails on (issue 11): one finding id per kind
# of intolerance recorded in EndpointResult.intolerances, by the adaptive step of the
# version scan (scanner.probes.adaptive) or by the tolerance probes
# (scanner.probes.tolerance). Each finding quotes the exact trigger, what failed and what
# worked.
from __future__ import annotations

from typing import TYPE_CHECKING

from scanner.diagnose.common import Rule, lines, make, versions
from scanner.results import EndpointResult, Finding, Intolerance

if TYPE_CHECKING:
    from scanner.options import ScanOptions

# finding id -> the Intolerance kinds it reports.
KINDS: dict[str, tuple[str, ...]] = {
    "intolerance.hello_length": ("hello_length",),
    "intolerance.suite_count": ("suite_count",),
    "intolerance.hello_shape": ("hello_shape",),
    "intolerance.pq_key_share": ("pq_key_share",),
    "intolerance.grease": ("grease",),
    "intolerance.version": ("version",),
    "intolerance.extension": ("extension",),
    "intolerance.record_layer": ("record_layer",),
    "intolerance.record_splitting": ("record_splitting",),
}


def _evidence(i: Intolerance) -> str:
    parts = [i.trigger]
    if i.versions:
        parts[0] += f" ({versions(i.versions)})"
    parts += [f"failed: {t}" for t in i.failed]
    parts += [f"worked: {t}" for t in i.worked]
    return "; ".join(parts)


def _rule(finding_id: str) -> Rule:
    kinds = KINDS[finding_id]

    def rule(result: EndpointResult, options: ScanOptions) -> Finding | None:
        found = [i for i in result.intolerances if i.kind in kinds]
        if not found:
            return None
        return make(finding_id, lines(_evidence(i) for i in found))

    rule.__doc__ = (
        f"EndpointResult.intolerances holds an intolerance of kind {', '.join(kinds)}: "
        "quotes its trigger, the hellos that failed and those that worked."
    )
    return rule


# finding id -> the one function that decides it.
RULES: dict[str, Rule] = {fid: _rule(fid) for fid in KINDS}
