# Sort orders shared by the reports (table, CSV) and the fleet run's summary and history:
# versions newest first, severities worst first. A module of its own, importing no
# renderer, so that a fleet scan writing JSON Lines loads none of the report (issue 16).
from __future__ import annotations

from handshakes import registry as reg
from scanner.options import SEVERITIES


def severity_rank(severity: str) -> int:
    """Position in SEVERITIES (critical first); an unknown severity sorts last."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def version_order(version: int) -> tuple[bool, int]:
    """Sort key, newest first: known versions by number, then unknown ones (drafts, garbage)."""
    return (version not in reg.VERSIONS, -version)
