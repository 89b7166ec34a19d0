# Reports: text tables (tabulate), JSON, JSON Lines and CSV. Formatting only, no logic:
# the facts come from scanner.results, their meaning from scanner.diagnose.
from __future__ import annotations

from scanner.report.csvout import write_csv
from scanner.report.jsonout import jsonl_line, write_json, write_jsonl
from scanner.report.table import render_endpoint, render_summary

__all__ = [
    "jsonl_line",
    "render_endpoint",
    "render_summary",
    "write_csv",
    "write_json",
    "write_jsonl",
]
