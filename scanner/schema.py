# Checking our own JSON when it is read back (report, diff, audit, scan --resume) against
# docs/schema.json, the one description of the format, with jsonschema: a value of the
# wrong type anywhere in an endpoint is an input error naming the field, not a crash in a
# renderer later. Missing fields are tolerated (older files, hand-trimmed samples): the
# readers treat an absent field as "not known"; unknown fields are ignored (newer files).
# Also: json.loads with a bound on nesting (a document nested 200,000 deep is an error,
# not a RecursionError).
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

__all__ = ["SchemaError", "endpoint_problem", "loads"]

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "schema.json"


class SchemaError(ValueError):
    """JSON that cannot be read as ours: the message says what and where (no file name)."""


def loads(text: str | bytes) -> Any:
    """json.loads, with deep nesting reported as a SchemaError instead of a RecursionError.
    Raises json.JSONDecodeError for text that is not JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise SchemaError("nested too deeply to be a tlscompat file") from None


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    try:
        full = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    except OSError:  # installed without the docs: the structural checks of the readers remain
        return None
    from jsonschema import Draft202012Validator

    defs = _tolerant(full["$defs"])
    schema = {"$schema": full.get("$schema"), "$defs": defs, "$ref": "#/$defs/endpoint"}
    return Draft202012Validator(schema)


def _tolerant(node: Any) -> Any:
    """The schema without its `required` lists and closed objects: a field that is there
    must have the right type; a missing one is the readers' business, an unknown one is
    ignored."""
    if isinstance(node, dict):
        return {
            k: _tolerant(v)
            for k, v in node.items()
            if not (k == "required" and isinstance(v, list)) and not (k == "additionalProperties" and v is False)
        }
    if isinstance(node, list):
        return [_tolerant(v) for v in node]
    return node


def endpoint_problem(data: Any) -> str | None:
    """What is wrong with ``data`` as one endpoint object of docs/schema.json, or None."""
    if not isinstance(data, dict):
        return f"expected an endpoint object, found {type(data).__name__}"
    validator = _validator()
    if validator is None:
        return None
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(data))
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    message = error.message if len(error.message) <= 120 else error.message[:117] + "..."
    return f"field {where.lstrip('.') or '(top)'}: {message}"
