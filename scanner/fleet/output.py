# What a fleet scan writes while it runs: one endpoint at a time, flushed as it completes,
# in the formats of scanner.report (JSON Lines, the JSON document, CSV, tables); the
# resume state read back from a JSON Lines file; the progress bar; the run summary.
#
# Rules kept: nothing here holds the results of the run. Writers write and forget; the
# summary keeps counters and the five slowest endpoints; resume keeps an 8-byte digest
# per endpoint already done. The shapes come from scanner.results / scanner.report: a
# JSON Lines line is exactly report.jsonout.jsonl_line, a CSV row exactly
# report.csvout.write_csv's, and the summary renders exactly like report.table.render_summary.
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from handshakes import registry as reg
from scanner.options import SEVERITIES, Target
from scanner.outcome_text import counted
from scanner.report.order import severity_rank, version_order
from scanner.results import SCHEMA_VERSION, EndpointResult
from scanner.schema import endpoint_problem, loads


def json_line(data: dict[str, Any]) -> str:
    """The JSON Lines form of endpoint_json(result): the same text as jsonl_line(result)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


# -- identity of an endpoint, for resume -----------------------------------------------------


def _digest(*parts: object) -> int:
    text = "\x00".join("" if p is None else str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def line_keys(data: dict[str, Any]) -> tuple[int, int]:
    """The two keys of a written endpoint: exact (with the address connected to) and
    loose (host, port, SNI: how a target given by name is recognised)."""
    host, port, sni = data.get("host"), data.get("port"), data.get("sni")
    return _digest(host, port, sni, data.get("ip")), _digest(host, port, sni)


def target_key(target: Target) -> int:
    """The key a target is looked up by: exact when it names its address, loose otherwise."""
    if target.ip:
        return _digest(target.host, target.port, target.server_name, target.ip)
    return _digest(target.host, target.port, target.server_name)


class ResumeError(ValueError):
    """An output file that cannot be resumed (not JSON Lines in the middle)."""


def load_resume(path: str, on_line: Callable[[dict[str, Any]], None]) -> tuple[set[int], int]:
    """Read a JSON Lines output file: the keys of the endpoints in it, and how many lines.
    A torn last line (a scan killed mid-write) is cut off the file, to be written again;
    ``on_line`` sees every complete endpoint (for the summary, the exit code, the store)."""
    done: set[int] = set()
    count = 0
    if not os.path.exists(path):
        return done, 0
    good_end = 0
    with open(path, "rb+") as fp:
        number = 0
        for raw in fp:
            number += 1
            data: Any = None
            if raw.endswith(b"\n"):
                try:
                    data = loads(raw)
                except ValueError:  # JSONDecodeError, SchemaError (nested too deeply)
                    data = None
            if not isinstance(data, dict) or "host" not in data:
                # Only a torn last line (no newline: a scan killed mid-write) is cut off;
                # a complete line that is not an endpoint means this is not our file.
                rest = fp.read()
                if rest.strip() or raw.endswith(b"\n"):
                    raise ResumeError(f"{path}:{number}: not an endpoint line; cannot resume this file")
                break
            problem = endpoint_problem(data)  # types checked against docs/schema.json
            if problem:
                raise ResumeError(f"{path}:{number}: {problem}; cannot resume this file")
            good_end += len(raw)
            count += 1
            done.update(line_keys(data))
            on_line(data)
        fp.truncate(good_end)
    return done, count


# -- writers ---------------------------------------------------------------------------------


class Writer:
    """Writes endpoints one at a time; ``close`` ends the document."""

    def __init__(self, fp: TextIO) -> None:
        self.fp = fp

    def write(self, result: EndpointResult, data: dict[str, Any], line: str) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        self.fp.flush()

    def close(self, summary: FleetSummary | None = None) -> None:
        self.fp.flush()


class JsonlWriter(Writer):
    def write(self, result: EndpointResult, data: dict[str, Any], line: str) -> None:
        self.fp.write(line + "\n")


class JsonWriter(Writer):
    """The JSON document (report.jsonout.write_json's text, byte for byte), streamed: the
    header first, each endpoint as it completes, the closing brackets at the end."""

    def __init__(self, fp: TextIO) -> None:
        super().__init__(fp)
        self.count = 0

    def write(self, result: EndpointResult, data: dict[str, Any], line: str) -> None:
        if self.count == 0:
            head = json.dumps({"schema_version": SCHEMA_VERSION, "tool": "tlscompat"}, indent=2)
            self.fp.write(head[:-2] + ',\n  "endpoints": [\n')
        else:
            self.fp.write(",\n")
        body = json.dumps(data, indent=2, ensure_ascii=False)
        self.fp.write("\n".join("    " + line for line in body.splitlines()))
        self.count += 1

    def close(self, summary: FleetSummary | None = None) -> None:
        if self.count == 0:
            doc = {"schema_version": SCHEMA_VERSION, "tool": "tlscompat", "endpoints": []}
            self.fp.write(json.dumps(doc, indent=2) + "\n")
        else:
            self.fp.write("\n  ]\n}\n")
        self.fp.flush()


class CsvWriter(Writer):
    """report.csvout.write_csv, one endpoint at a time: the header once, then its rows."""

    def __init__(self, fp: TextIO, *, findings: bool = False, header: bool = True) -> None:
        super().__init__(fp)
        self.findings = findings
        self.header = header

    def write(self, result: EndpointResult, data: dict[str, Any], line: str) -> None:
        from scanner.report.csvout import write_csv

        buf = io.StringIO(newline="")
        write_csv([result], buf, findings=self.findings)
        text = buf.getvalue()
        if not self.header:
            text = text.split("\r\n", 1)[1] if "\r\n" in text else ""
        self.header = False
        self.fp.write(text)

    def close(self, summary: FleetSummary | None = None) -> None:
        if self.header:  # nothing written: still a valid CSV, with its header
            from scanner.report.csvout import write_csv

            write_csv([], self.fp, findings=self.findings)
        self.fp.flush()


class TableWriter(Writer):
    """Each endpoint's tables as it completes, the run summary at the end."""

    def __init__(self, fp: TextIO, *, verbose: bool = False, color: bool = False) -> None:
        super().__init__(fp)
        self.verbose = verbose
        self.color = color

    def write(self, result: EndpointResult, data: dict[str, Any], line: str) -> None:
        from scanner.report.table import render_endpoint
        from scanner.report.terminal import style_for

        width = style_for(self.fp).width  # a terminal's width; None for a file or a pipe
        self.fp.write(render_endpoint(result, verbose=self.verbose, color=self.color, width=width) + "\n")

    def close(self, summary: FleetSummary | None = None) -> None:
        if summary is not None and summary.total > 1:
            self.fp.write(summary.render(color=self.color) + "\n")
        self.fp.flush()


def make_writer(fmt: str, fp: TextIO, *, verbose: bool = False, color: bool = False, csv_findings: bool = False, csv_header: bool = True) -> Writer:
    if fmt == "jsonl":
        return JsonlWriter(fp)
    if fmt == "json":
        return JsonWriter(fp)
    if fmt == "csv":
        return CsvWriter(fp, findings=csv_findings, header=csv_header)
    return TableWriter(fp, verbose=verbose, color=color)


# -- the run summary -------------------------------------------------------------------------

_SLOWEST = 5


def _version_code(name: str) -> int | None:
    try:
        return reg.version_from_name(name)
    except ValueError:
        pass
    try:
        return int(name, 16)
    except ValueError:
        return None


class FleetSummary:
    """Counters for the end-of-run summary, fed with endpoint JSON (so endpoints read back
    from a resumed file count too). Renders the same text as report.table.render_summary
    would for the same endpoints, without keeping them."""

    def __init__(self) -> None:
        self.total = 0
        self.outcomes: Counter[str] = Counter()
        self.highest: Counter[int | None] = Counter()
        self.findings: Counter[tuple[str, str]] = Counter()
        self.slowest: list[tuple[float, str, int, str, int]] = []
        self.worst: int | None = None  # index in SEVERITIES of the worst finding seen

    def add(self, data: dict[str, Any]) -> None:
        self.total += 1
        self.outcomes[str(data.get("outcome"))] += 1
        versions = [
            v for p in data.get("protocols") or () if p.get("supported")
            if (v := _version_code(str(p.get("version")))) is not None
        ]
        self.highest[min(versions, key=version_order) if versions else None] += 1
        pairs = {(str(f.get("severity")), str(f.get("id"))) for f in data.get("findings") or ()}
        for sev, _ in pairs:
            if sev in SEVERITIES:
                rank = SEVERITIES.index(sev)
                self.worst = rank if self.worst is None else min(self.worst, rank)
        self.findings.update(pairs)
        stats = data.get("stats") or {}
        entry = (
            -float(stats.get("duration_s") or 0.0), str(data.get("host")), int(data.get("port") or 0),
            str(data.get("outcome")), int(stats.get("connections") or 0),
        )
        self.slowest.append(entry)
        self.slowest.sort(key=lambda e: e[:3])
        del self.slowest[_SLOWEST:]

    def fails(self, fail_on: str | None) -> bool:
        """A finding at or above ``fail_on`` was seen."""
        return fail_on is not None and self.worst is not None and self.worst <= SEVERITIES.index(fail_on)

    def one_line(self) -> str:
        """"12 endpoints: 10 ok, 2 timeout; findings: 1 critical, 3 high" (each endpoint
        counted once per severity)."""
        outcomes = ", ".join(f"{n} {name}" for name, n in sorted(self.outcomes.items(), key=lambda i: (-i[1], i[0])))
        per_severity: Counter[str] = Counter(sev for sev, _ in self.findings.elements())
        found = ", ".join(f"{per_severity[s]} {s}" for s in SEVERITIES if per_severity[s])
        text = f"{self.total} endpoint{'s' if self.total != 1 else ''}"
        text += f": {outcomes}" if outcomes else ""
        return text + (f"; findings: {found}" if found else "; no findings")

    def render(self, *, color: bool = False) -> str:
        from scanner.report.table import _section, _severity  # the report's own helpers

        parts = [counted(self.total, "endpoint")]
        if not self.total:
            return parts[0] + "\n"
        rows: list[tuple[str, ...]] = [
            (name, str(n)) for name, n in sorted(self.outcomes.items(), key=lambda i: (-i[1], i[0]))
        ]
        parts.append(_section("By outcome", _table(rows, ("Outcome", "Endpoints"))))
        rows = [
            (reg.version_name(v) if v is not None else "none", str(n))
            for v, n in sorted(self.highest.items(), key=lambda i: (i[0] is None, version_order(i[0] or 0)))
        ]
        parts.append(_section("By highest protocol", _table(rows, ("Highest protocol", "Endpoints"))))
        if self.findings:
            ordered = sorted(self.findings.items(), key=lambda i: (severity_rank(i[0][0]), -i[1], i[0][1]))
            rows = [(_severity(sev, color), fid, str(n)) for (sev, fid), n in ordered]
            parts.append(_section("Findings", _table(rows, ("Severity", "ID", "Endpoints"))))
        rows = [(f"{host}:{port}", outcome, f"{-neg:.2f}", str(conns)) for neg, host, port, outcome, conns in self.slowest]
        parts.append(_section("Slowest endpoints", _table(rows, ("Endpoint", "Outcome", "Seconds", "Connections"))))
        return "\n\n".join(parts) + "\n"


def _table(rows: Iterable[Any], headers: tuple[str, ...]) -> str:
    from tabulate import tabulate

    return tabulate(list(rows), headers=list(headers), tablefmt="simple", disable_numparse=True)


# -- progress --------------------------------------------------------------------------------


class Progress:
    """One line on stderr, redrawn in place: done/total, bar, rate, ETA. For terminals:
    kept within the terminal's width (the bar shrinks, then goes; the text is cut last),
    erased by ``clear`` before anything else is printed."""

    def __init__(self, stream: TextIO, total: int, *, already: int = 0, width: int = 28) -> None:
        self.stream = stream
        self.total = total
        self.done = already
        self.already = already
        self.width = width
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= 0.1:
            self.draw(now)

    def line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        fresh = self.done - self.already
        rate = fresh / elapsed
        total = max(self.total, self.done)
        eta = "--" if rate <= 0 else _duration((total - self.done) / rate)
        text = f"{self.done}/{total} endpoints  {rate:.1f}/s  ETA {eta}"
        # One column short of the terminal: a line that fills it wraps on some terminals,
        # and "\r" then returns to the second line, not the bar's.
        room = shutil.get_terminal_size((80, 24)).columns - 1
        width = min(self.width, room - len(text) - 3)
        if width < 5:  # no room for a bar worth reading: the counts alone
            return text[:room]
        filled = int(width * self.done / total) if total else width
        bar = "#" * filled + "." * (width - filled)
        return f"[{bar}] {text}"

    def draw(self, now: float | None = None) -> None:
        self._last = time.monotonic() if now is None else now
        # Marked first: a Ctrl-C raised as the bar reaches the terminal (KeyboardInterrupt
        # comes between any two bytecodes) must still leave clear() a bar to erase.
        self._drawn = True
        self.stream.write("\r" + self.line(now) + "\x1b[K")
        self.stream.flush()

    def clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def finish(self) -> None:
        if self._drawn:
            self.draw()
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
