# Reading scan results back: a JSON document (`--format json`), a JSON Lines file (one
# endpoint per line, as `--format jsonl` and the fleet runner write them) or a fleet SQLite
# store, into plain dicts of the JSON shape (docs/json.md). Nothing is rebuilt into
# dataclasses: the reports and the diff read the JSON shape directly.
#
# Rules it keeps: every problem is a LoadError naming the file (and the line, for JSON
# Lines, or the run and row, for a store) and what is wrong, raised before anything is
# rendered. The one tolerated defect is a torn last line of a JSON Lines file (a run that
# was killed mid-write): it is skipped and reported in LoadedScan.warnings.
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.results import SCHEMA_VERSION
from scanner.schema import SchemaError, endpoint_problem
from scanner.schema import loads as _loads

__all__ = [
    "LoadError",
    "check_endpoint",
    "LoadedScan",
    "load_jsonl",
    "load_json_document",
    "load_scan",
    "load_store",
    "parse_run",
    "store_runs",
]

_SQLITE_MAGIC = b"SQLite format 3\x00"


class LoadError(Exception):
    """A scan file or store that cannot be read: the message names it and says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedScan:
    """Endpoints in the JSON shape of docs/json.md, and where they came from."""

    source: str  # "scan.json", "fleet.db run 3"
    endpoints: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...] = ()
    run: dict[str, Any] | None = None  # the store's row for the run, when from a store


# -- Checks shared by every format -----------------------------------------------------------

# The fields an endpoint must have, and their JSON types. Every other field is optional
# (older files, hand-trimmed samples) and defaults to "absent" where it is read.
_REQUIRED: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("host", str),
    ("port", int),
)
_OPTIONAL_TYPES: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("ip", (str, type(None))),
    ("sni", (str, type(None))),
    ("outcome", str),
    ("protocols", list),
    ("cipher_suites", list),
    ("groups", list),
    ("dh_bits", list),
    ("certificates", list),
    ("behaviours", dict),
    ("findings", list),
)
_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object"}


def _type_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(
            "null" if k is type(None) else _TYPE_NAMES.get(k, k.__name__) for k in kind
        )
    return _TYPE_NAMES.get(kind, kind.__name__)


def check_endpoint(data: Any, where: str) -> dict[str, Any]:
    """`data` if it looks like one endpoint object of docs/json.md, else LoadError."""
    if not isinstance(data, dict):
        raise LoadError(f"{where}: expected an endpoint object, found {type(data).__name__}")
    for name, _kind in _REQUIRED:
        if name not in data:
            raise LoadError(f"{where}: endpoint has no {name!r} field")
    for name, kind in (*_REQUIRED, *_OPTIONAL_TYPES):
        value = data.get(name)
        if name in data and (not isinstance(value, kind) or isinstance(value, bool)):
            raise LoadError(
                f"{where}: field {name!r} must be {_type_name(kind)}, found {json.dumps(value)[:60]}"
            )
    for name in ("protocols", "cipher_suites", "groups", "certificates", "findings"):
        for i, item in enumerate(data.get(name) or ()):
            if not isinstance(item, dict):
                raise LoadError(f"{where}: {name}[{i}] must be an object")
    for i, finding in enumerate(data.get("findings") or ()):
        if not isinstance(finding.get("id"), str):
            raise LoadError(f"{where}: findings[{i}] has no 'id'")
    problem = endpoint_problem(data)  # every field's type, against docs/schema.json
    if problem:
        raise LoadError(f"{where}: {problem}")
    return data


def _check_document(data: Any, where: str) -> list[Any]:
    if not isinstance(data, dict) or "endpoints" not in data:
        kind = (
            "a diff" if isinstance(data, dict) and data.get("kind") == "diff" else "something else"
        )
        raise LoadError(
            f"{where}: not a tlscompat scan document (no 'endpoints'; it looks like {kind})"
        )
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise LoadError(
            f"{where}: schema_version {version!r} is not supported (this tlscompat reads "
            f"{SCHEMA_VERSION})"
        )
    endpoints = data["endpoints"]
    if not isinstance(endpoints, list):
        raise LoadError(f"{where}: 'endpoints' must be a list")
    return endpoints


# -- Files -----------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LoadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise LoadError(f"{path}: is a directory, not a scan file") from None
    except UnicodeDecodeError as exc:
        raise LoadError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise LoadError(f"{path}: cannot read: {exc.strerror}") from None


def load_json_document(path: str | Path) -> LoadedScan:
    """The document `tlscompat scan --format json` writes."""
    path = Path(path)
    text = _read_text(path)
    try:
        data = _loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(f"{path} line {exc.lineno}: not valid JSON: {exc.msg}") from None
    except SchemaError as exc:
        raise LoadError(f"{path}: {exc}") from None
    endpoints = _check_document(data, str(path))
    return LoadedScan(
        source=str(path),
        endpoints=tuple(
            check_endpoint(e, f"{path}: endpoints[{i}]") for i, e in enumerate(endpoints)
        ),
    )


def load_jsonl(path: str | Path) -> LoadedScan:
    """One endpoint object per line. Blank lines are ignored; a last line that is cut short
    (no newline at its end and not valid JSON: the writer was killed) is skipped with a
    warning; any other bad line is an error naming it."""
    path = Path(path)
    text = _read_text(path)
    lines = text.split("\n")
    torn_possible = not text.endswith("\n")
    endpoints: list[dict[str, Any]] = []
    warnings: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            data = _loads(line)
        except SchemaError as exc:
            raise LoadError(f"{where}: {exc}") from None
        except json.JSONDecodeError as exc:
            if torn_possible and number == len(lines):
                warnings.append(f"{where}: skipped a truncated last line ({len(line)} characters)")
                continue
            raise LoadError(f"{where}: not valid JSON: {exc.msg} (column {exc.colno})") from None
        endpoints.append(check_endpoint(data, where))
    return LoadedScan(source=str(path), endpoints=tuple(endpoints), warnings=tuple(warnings))


def load_scan(path: str | Path, *, run: str = "latest") -> LoadedScan:
    """Whatever `path` holds: a fleet SQLite store (then `run` picks the run), a JSON
    document, or JSON Lines."""
    path = Path(path)
    try:
        with path.open("rb") as fp:
            head = fp.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        raise LoadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise LoadError(f"{path}: is a directory, not a scan file") from None
    except OSError as exc:
        raise LoadError(f"{path}: cannot read: {exc.strerror}") from None
    if head == _SQLITE_MAGIC:
        return load_store(path, run)
    text = _read_text(path)
    if not text.strip():
        raise LoadError(f"{path}: the file is empty")
    stripped = text.lstrip()
    # A document is one JSON value over many lines; JSON Lines has one object per line.
    # Try the whole text first: a one-line JSONL file is also one JSON object.
    try:
        data = _loads(text)
    except SchemaError as exc:
        raise LoadError(f"{path}: {exc}") from None
    except json.JSONDecodeError:
        if stripped.startswith("{") and "\n" in stripped.rstrip("\n"):
            first = stripped.split("\n", 1)[0]
            try:
                _loads(first)
            except (json.JSONDecodeError, SchemaError):
                # The first line is not an object on its own: an indented document.
                return load_json_document(path)
            return load_jsonl(path)
        if stripped.startswith("{") and not text.endswith("\n"):
            return load_jsonl(path)  # a single torn line, reported as such
        return load_json_document(path)
    if isinstance(data, dict) and "endpoints" in data:
        return load_json_document(path)
    if isinstance(data, dict) and "host" in data:
        return load_jsonl(path)
    if isinstance(data, dict) and data.get("kind") == "diff":
        raise LoadError(f"{path}: this is a tlscompat diff, not a scan")
    raise LoadError(
        f"{path}: not a tlscompat scan (expected a JSON document with 'endpoints', "
        "JSON Lines of endpoints, or a fleet SQLite store)"
    )


# -- The fleet store ------------------------------------------------------------------------
#
# scanner/fleet/store.py owns the schema (docs/fleet.md): a `runs` table (one row per
# invocation; a resumed scan is a new run sharing the first run's `scan_id`) and an
# `endpoints` table (one row per endpoint, `run_id`, and its JSON in `result`). A scan is
# every run of one scan_id, so a run number picks the whole scan it belongs to, and
# "latest"/"previous" count scans, not runs. The store is opened read-only.

_STORE_SCHEMA_VERSION = 1


def parse_run(text: str) -> int | str:
    """`N`, `latest` or `previous` (as in `--run`)."""
    word = text.strip().lower()
    if word in ("latest", "last"):
        return "latest"
    if word in ("previous", "prev"):
        return "previous"
    try:
        number = int(word)
    except ValueError:
        raise LoadError(f"run {text!r}: expected a run number, 'latest' or 'previous'") from None
    if number < 1:
        raise LoadError(f"run {text!r}: run numbers start at 1")
    return number


class _open_store:
    """A read-only connection: a report never writes a store, nor creates one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise LoadError(f"{self.path}: no such file")
        try:
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master")}
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise LoadError(f"{self.path}: not a readable SQLite database: {exc}") from None
        if not {"runs", "endpoints"} <= tables:
            raise LoadError(
                f"{self.path}: not a tlscompat fleet store (it has no 'runs' and 'endpoints' tables)"
            )
        if version > _STORE_SCHEMA_VERSION:
            raise LoadError(
                f"{self.path}: store schema version {version} is newer than this tlscompat "
                f"reads ({_STORE_SCHEMA_VERSION})"
            )
        return self.db

    def __exit__(self, *exc: object) -> None:
        if self.db is not None:
            self.db.close()


def store_runs(path: str | Path) -> list[dict[str, Any]]:
    """Every run in a store, oldest first, as the store's rows (dicts)."""
    path = Path(path)
    with _open_store(path) as db:
        db.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in db.execute("SELECT * FROM runs ORDER BY id")]
        except sqlite3.DatabaseError as exc:
            raise LoadError(f"{path}: cannot read the store: {exc}") from None


def _pick_scan(runs: list[dict[str, Any]], wanted: int | str, path: Path) -> int:
    """The scan_id of the wanted run (or of the latest / previous scan)."""
    if not runs:
        raise LoadError(f"{path}: the store holds no scan run yet")
    scans: list[int] = []
    for run in runs:  # by run id: a scan's place is that of its first run
        scan = run.get("scan_id") or run["id"]
        if scan not in scans:
            scans.append(scan)
    if wanted == "latest":
        return scans[-1]
    if wanted == "previous":
        if len(scans) < 2:
            raise LoadError(f"{path}: there is no previous scan (the store holds one)")
        return scans[-2]
    found = next((r for r in runs if r["id"] == wanted), None)
    if found is None:
        shown = ", ".join(str(r["id"]) for r in runs[-10:])
        raise LoadError(f"{path}: no run {wanted} (runs: {shown})")
    return int(found.get("scan_id") or found["id"])


def load_store(path: str | Path, run: int | str = "latest") -> LoadedScan:
    """The endpoints of one scan in a fleet store: every run of it when it was resumed.
    `run`: a run id (its whole scan), "latest" or "previous" (the scan before the latest)."""
    path = Path(path)
    wanted = parse_run(run) if isinstance(run, str) else run
    runs = store_runs(path)
    scan_id = _pick_scan(runs, wanted, path)
    chain = [r for r in runs if (r.get("scan_id") or r["id"]) == scan_id]
    ids = [r["id"] for r in chain]
    with _open_store(path) as db:
        try:
            marks = ", ".join("?" for _ in ids)
            rows = db.execute(
                f"SELECT id, run_id, result FROM endpoints WHERE run_id IN ({marks}) ORDER BY id",
                ids,
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise LoadError(f"{path}: cannot read the store: {exc}") from None
    out: list[dict[str, Any]] = []
    for row_id, run_id, text in rows:
        where = f"{path} run {run_id} endpoint row {row_id}"
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if not isinstance(text, str):
            raise LoadError(f"{where}: the endpoint JSON is missing")
        try:
            data = _loads(text)
        except (json.JSONDecodeError, SchemaError) as exc:
            raise LoadError(f"{where}: not valid JSON: {getattr(exc, 'msg', exc)}") from None
        out.append(check_endpoint(data, where))
    label = (
        f"run {ids[0]}"
        if len(ids) == 1
        else f"runs {', '.join(str(i) for i in ids)} (one resumed scan)"
    )
    warnings = tuple(
        f"{path} run {r['id']} is {r['status']}: the scan may be incomplete"
        for r in chain
        if r.get("status") not in (None, "completed")
    )
    return LoadedScan(
        source=f"{path} {label}", endpoints=tuple(out), warnings=warnings, run=chain[-1]
    )
