# JSON and JSON Lines output. Formatting only: the shape of the data is defined once, in
# scanner.results.to_json (described by docs/schema.json); this module only serialises it.
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TextIO

from scanner.results import EndpointResult, document_json, endpoint_json

__all__ = ["jsonl_line", "write_json", "write_jsonl"]


def write_json(results: Sequence[EndpointResult], fp: TextIO) -> None:
    """The whole document ({"schema_version", "tool", "endpoints"}), indented by 2."""
    json.dump(document_json(tuple(results)), fp, indent=2, ensure_ascii=False)
    fp.write("\n")


def jsonl_line(result: EndpointResult) -> str:
    """One endpoint as one compact line (no trailing newline), the same object as in
    the document's endpoints[]."""
    return json.dumps(endpoint_json(result), ensure_ascii=False, separators=(",", ":"))


def write_jsonl(results: Iterable[EndpointResult], fp: TextIO) -> None:
    """JSON Lines: one endpoint per line, each ended by a newline."""
    for result in results:
        fp.write(jsonl_line(result) + "\n")
