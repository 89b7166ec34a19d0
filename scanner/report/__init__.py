# Reports: text tables (tabulate), JSON, JSON Lines and CSV. Formatting only, no logic:
# the facts come from scanner.results, their meaning from scanner.diagnose.
# The names below are imported when first asked for (PEP 562): a module of the package
# (scanner.report.order, .printable) is imported without the renderers, as a fleet scan
# writing JSON Lines does (issue 16).
from __future__ import annotations

from typing import Any

__all__ = [
    "jsonl_line",
    "render_endpoint",
    "render_summary",
    "write_csv",
    "write_json",
    "write_jsonl",
]
_LAZY = {
    "write_csv": "scanner.report.csvout",
    "jsonl_line": "scanner.report.jsonout",
    "write_json": "scanner.report.jsonout",
    "write_jsonl": "scanner.report.jsonout",
    "render_endpoint": "scanner.report.table",
    "render_summary": "scanner.report.table",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'scanner.report' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
