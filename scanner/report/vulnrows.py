# The rows of the Vulnerabilities section, shared by the table, Markdown and HTML reports:
# one row per active check (check, status, version, connections, evidence), from the JSON
# form of EndpointResult.vulns, so "tested and clean" reads apart from "not tested".
#
# Rules kept: formatting only; every text that may carry a server's words (the evidence
# quotes alerts and outcomes) goes through the one sanitizer, scanner.report.printable;
# the renderers escape for their own syntax after that.
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scanner.report.printable import printable
from scanner.results import VULN_CHECK_TITLES

HEADERS = ("Check", "Status", "Version", "Connections", "Evidence")
# Status words for people; the JSON keeps the machine words.
STATUS_WORDS = {
    "vulnerable": "VULNERABLE",
    "not_vulnerable": "not vulnerable",
    "inconclusive": "inconclusive",
    "not_applicable": "not applicable",
}


def vuln_rows(vulns: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    """``vulns``: the JSON ``vulns[]`` entries. Returns one printable 5-tuple per check in
    the order given (HEADERS); the status carries ROBOT's oracle ("VULNERABLE (strong
    oracle)") and "not tested" for a check that could not be run."""
    rows = []
    for v in vulns:
        check = str(v.get("check", ""))
        status = str(v.get("status", ""))
        evidence = str(v.get("evidence") or "")
        words = STATUS_WORDS.get(status, status)
        if v.get("oracle"):
            words += f" ({v['oracle']} oracle)"
        if status == "inconclusive" and evidence.startswith("not tested:"):
            words = "not tested"
        rows.append((
            printable(VULN_CHECK_TITLES.get(check, check)),
            printable(words),
            printable(v.get("version") or "-"),
            str(v.get("connections", 0)),
            printable(evidence),
        ))
    return rows
