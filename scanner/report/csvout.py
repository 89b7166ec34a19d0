# CSV output for spreadsheets: one row per endpoint, or one row per finding. Formatting
# only, through the csv module (open the file with newline="" as the csv docs ask).
#
# Rules kept: column names are stable (docs/cli.md lists them); new columns are appended,
# never inserted, so a script that reads by position keeps working; every text that may
# carry a server's words goes through csv_cell (printable, never read as a formula).
from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from handshakes import registry as reg
from scanner.options import SEVERITIES
from scanner.report.printable import csv_cell
from scanner.report.table import days_left, highest_version, sorted_findings, version_order
from scanner.results import VULN_CHECK_TITLES, EndpointResult

__all__ = ["ENDPOINT_COLUMNS", "FINDING_COLUMNS", "VULN_COLUMNS", "write_csv"]

# One column per active vulnerability check, named after VulnCheck.check, then insecure
# renegotiation (no RFC 5746 renegotiation_info, a behaviour, not an active check).
VULN_COLUMNS = (*(f"vuln_{check}" for check in VULN_CHECK_TITLES), "vuln_insecure_renegotiation")

ENDPOINT_COLUMNS = (
    "host",
    "port",
    "ip",
    "sni",
    "outcome",
    "highest_protocol",
    "protocols",
    "suites",
    "weak_suites",
    "cert_subject",
    "cert_not_after",
    "cert_days_left",
    "trusted",
    *SEVERITIES,
    "top_finding",
    # The dialogue before TLS (issue 13): its protocol (empty: plain TLS), how it ended
    # (StartTLSResult.outcome: ok, starttls_not_offered, ...), the server's words when it
    # did not agree.
    "starttls",
    "starttls_outcome",
    "starttls_reply",
    *VULN_COLUMNS,
)

FINDING_COLUMNS = ("host", "port", "id", "severity", "title", "evidence")


def write_csv(
    results: Sequence[EndpointResult],
    fp: TextIO,
    *,
    findings: bool = False,
    now: datetime | None = None,
) -> None:
    """One row per endpoint (ENDPOINT_COLUMNS), or with findings=True one row per finding
    (FINDING_COLUMNS). `now` fixes the clock for cert_days_left."""
    writer = csv.writer(fp)
    if findings:
        writer.writerow(FINDING_COLUMNS)
        for r in results:
            for f in sorted_findings(r.findings):
                writer.writerow([csv_cell(v) for v in (r.host, r.port, f.id, f.severity, f.title, f.evidence)])
        return
    moment = now if now is not None else datetime.now(UTC)
    writer.writerow(ENDPOINT_COLUMNS)
    for r in results:
        writer.writerow([csv_cell(v) for v in _endpoint_row(r, moment)])


def _endpoint_row(r: EndpointResult, now: datetime) -> list[Any]:
    highest = highest_version(r)
    subject = not_after = days = trusted = ""
    if r.certificates:
        chain = r.certificates[0]  # the first chain seen: the default certificate
        leaf = chain.certificates[0] if chain.certificates else None
        subject = getattr(leaf, "subject", "") or ""
        expiry = getattr(leaf, "not_after", None)
        if isinstance(expiry, datetime):
            not_after = expiry.isoformat()
            days = str(days_left(expiry, now))
        verdict = getattr(chain.validation, "trusted", None)
        trusted = "" if verdict is None else ("yes" if verdict else "no")
    severities = Counter(f.severity for f in r.findings)
    top = sorted_findings(r.findings)
    return [
        r.host,
        r.port,
        r.ip or "",
        r.sni or "",
        r.outcome,
        reg.version_name(highest) if highest is not None else "",
        " ".join(reg.version_name(v) for v in sorted(r.supported_versions(), key=version_order)),
        *_suite_counts(r),
        subject,
        not_after,
        days,
        trusted,
        *(severities.get(s, 0) for s in SEVERITIES),
        top[0].id if top else "",
        *_starttls_cells(r),
        *_vuln_cells(r),
    ]


def _suite_counts(r: EndpointResult) -> list[int | str]:
    """suites and weak_suites: the distinct suites accepted and the weak ones among them,
    or empty when they were not counted (the suites probe did not run, or no TLS was
    spoken), as the vuln_* columns are when their probes did not run: the few suites
    the other probes negotiated are not how many the server accepts."""
    if r.outcome != "ok" or not r.suites_enumerated:
        return ["", ""]
    codes = {s.code for s in r.cipher_suites}
    weak = {c for c in codes if (info := reg.cipher_suite(c)) is not None and info.weaknesses}
    return [len(codes), len(weak)]


def _starttls_cells(r: EndpointResult) -> list[str]:
    st = r.starttls
    if st is None:
        return ["", "", ""]
    # The reply only when the server did not agree (docs/cli.md): after a throttled
    # connection that was retried and let in, StartTLSResult.reply still holds the 421.
    return [st.protocol, st.outcome, st.reply.strip() if st.outcome != "ok" else ""]


def _vuln_cells(r: EndpointResult) -> list[str]:
    """The verdict per VULN_COLUMNS: VulnCheck.status (vulnerable, not_vulnerable,
    inconclusive, not_applicable), "not_tested" for a check that could not be run, and ""
    for a check the scan did not run (the vulns family was not asked for)."""
    verdicts: dict[str, str] = {}
    for v in r.vulns:
        not_run = v.status == "inconclusive" and v.evidence.startswith("not tested:")
        verdicts[v.check] = "not_tested" if not_run else v.status
    secure = r.behaviours.secure_renegotiation
    insecure = "" if secure is None else ("not_vulnerable" if secure else "vulnerable")
    return [*(verdicts.get(check, "") for check in VULN_CHECK_TITLES), insecure]
