# Running the lab: `Lab` starts scenarios from the catalogue (scanner/lab/scenarios.py) on
# one shared Pki; `tlscompat lab` keeps them up for you to point clients at; `tlscompat
# demo` scans each one and checks the scanner reports what the scenario expects.
#
# Rules it keeps:
# - Structured concurrency: scenarios start concurrently in a nursery, scans run
#   concurrently under one trio.CapacityLimiter, results come back as return values.
# - Everything a scenario starts is registered on one AsyncExitStack: leaving the Lab
#   (normally, on error or on Ctrl-C) stops every server and removes the Pki directory.
# - Trust is the lab's: every scan uses ca_file=<lab root> and no system store.

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import trio

from scanner.exits import UsageError
from scanner.lab.certs import IssuedCert, Pki
from scanner.lab.scenarios import LAB_HOST, LabContext, Scenario, by_name, select
from scanner.options import Deadlines, ScanOptions, Target
from scanner.report.terminal import Style, fit_table, style_for
from scanner.results import EndpointResult, Finding

__all__ = [
    "Lab",
    "LAB_DEADLINES",
    "RunningScenario",
    "Verdict",
    "check",
    "lab_in_thread",
    "open_lab",
    "reported_ids",
    "run_demo",
    "run_lab",
    "scan_all",
]

# Generous: the lab runs on loaded CI machines with two cores; a healthy loopback server
# answers in milliseconds, so these only matter when something is wrong.
LAB_DEADLINES = Deadlines(connect=5.0, read=5.0, endpoint=60.0)
# Scans of the whole lab at once: enough to overlap the servers' latencies, few enough
# that s_server processes (one connection at a time each) are not swamped.
_SCAN_CONCURRENCY = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningScenario:
    """A started scenario: where to connect and how to scan it."""

    scenario: Scenario
    target: Target
    options: ScanOptions

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def address(self) -> str:
        return f"{self.target.ip}:{self.target.port}"


def scan_options_for(scenario: Scenario, pki: Pki, **extra: Any) -> ScanOptions:
    """The lab defaults (lab root only, generous deadlines) plus the scenario's overrides."""
    fields: dict[str, Any] = {
        "ca_file": str(pki.ca_path),
        "use_system_store": False,
        "deadlines": LAB_DEADLINES,
    }
    fields.update(scenario.scan_options)
    fields.update(extra)
    return ScanOptions(**fields)


class Lab:
    """The lab's servers, started on entry and stopped on exit.

        async with Lab(["expired", "healthy"]) as lab:
            for running in lab:
                result = await scan_endpoint(running.target, running.options)

    `scenarios`: Scenario objects or names (default: the whole catalogue). `directory`:
    where the Pki is written (default: a temporary directory removed on exit).
    """

    def __init__(
        self,
        scenarios: Iterable[Scenario | str] | None = None,
        *,
        directory: Path | str | None = None,
    ) -> None:
        chosen = select(None) if scenarios is None else tuple(scenarios)
        self.scenarios: tuple[Scenario, ...] = tuple(
            s if isinstance(s, Scenario) else by_name(s) for s in chosen
        )
        self._directory = Path(directory) if directory is not None else None
        self._stack: contextlib.AsyncExitStack | None = None
        self.pki: Pki | None = None
        self.running: tuple[RunningScenario, ...] = ()

    def __iter__(self) -> Iterator[RunningScenario]:
        return iter(self.running)

    def __getitem__(self, name: str) -> RunningScenario:
        for running in self.running:
            if running.name == name:
                return running
        raise KeyError(name)

    async def __aenter__(self) -> Lab:
        stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        try:
            await self._start(stack)
        except BaseException:
            with trio.CancelScope(shield=True):
                await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        stack, self._stack = self._stack, None
        self.running = ()
        if stack is not None:
            with trio.CancelScope(shield=True):
                await stack.aclose()

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        directory = self._directory
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tlscompat-lab-")))
        # Root and intermediate keys are made here, once, for every scenario.
        pki = await trio.to_thread.run_sync(Pki, directory)
        self.pki = pki
        ctx = LabContext(pki=pki, stack=stack)
        started: dict[str, RunningScenario] = {}

        async def start_one(scenario: Scenario) -> None:
            where = await scenario.start(ctx)
            extra: dict[str, Any] = {}
            if where.client_certs:
                extra["client_certs"] = await trio.to_thread.run_sync(
                    _credentials, where.client_certs
                )
            started[scenario.name] = RunningScenario(
                scenario=scenario,
                target=Target(
                    host=LAB_HOST,
                    port=where.port,
                    ip="127.0.0.1",
                    sni=scenario.sni,
                    tags=("lab", scenario.name),
                ),
                options=scan_options_for(scenario, pki, **extra),
            )

        async with trio.open_nursery() as nursery:
            for scenario in self.scenarios:
                nursery.start_soon(start_one, scenario)
        self.running = tuple(started[s.name] for s in self.scenarios)


def _credentials(issued: Sequence[IssuedCert]) -> tuple[Any, ...]:
    """Client certificates as ScanOptions.client_certs takes them: ClientCredentials
    (scanner.clientauth), loaded from the files the Pki wrote, chain included."""
    try:
        from scanner.clientauth.credentials import load_pem
    except ImportError:  # pragma: no cover - the client-certificate probe is not installed
        return tuple(issued)
    return tuple(load_pem(i.fullchain_path, i.key_path, password=None) for i in issued)


@contextlib.contextmanager
def lab_in_thread(
    scenarios: Iterable[Scenario | str] | None = None,
    *,
    directory: Path | str | None = None,
    start_timeout: float = 60.0,
) -> Iterator[Lab]:
    """A `Lab` kept running by its own trio loop in a worker thread, for synchronous
    code (pytest fixtures of any scope, scripts). Its servers are threads and
    subprocesses, so scanning them from another trio loop is fine. Stopped on exit."""
    import queue
    import threading

    ready: queue.Queue[Lab | BaseException] = queue.Queue()
    stop = threading.Event()

    async def hold() -> None:
        try:
            async with Lab(scenarios, directory=directory) as lab:
                ready.put(lab)
                while not stop.is_set():
                    await trio.sleep(0.05)
        except BaseException as exc:  # handed to the caller, never lost in the thread
            ready.put(exc)

    thread = threading.Thread(target=trio.run, args=(hold,), name="tlscompat-lab", daemon=True)
    thread.start()
    try:
        item = ready.get(timeout=start_timeout)
        if isinstance(item, BaseException):
            raise item
        yield item
    finally:
        stop.set()
        thread.join(30)


@contextlib.asynccontextmanager
async def open_lab(only: str | None = None) -> AsyncIterator[Lab]:
    """`Lab` for a comma-separated selection of scenario names (None: all)."""
    async with Lab(select(only)) as lab:
        yield lab


# -- checking a scan against a scenario -----------------------------------------------------


def reported_ids(findings: Iterable[Finding], *, above_info: bool = True) -> frozenset[str]:
    """The ids of the findings, those of severity info left out unless asked."""
    return frozenset(f.id for f in findings if not above_info or f.severity != "info")


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """How one scan compares with its scenario's expectation."""

    running: RunningScenario
    result: EndpointResult
    found: frozenset[str]  # ids above info
    missing: frozenset[str]  # expected (above info, or the required info ids) but not found
    unexpected: frozenset[str]  # found above info but not expected
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected


def check(running: RunningScenario, result: EndpointResult, seconds: float = 0.0) -> Verdict:
    scenario = running.scenario
    found = reported_ids(result.findings)
    every = reported_ids(result.findings, above_info=False)
    return Verdict(
        running=running,
        result=result,
        found=found,
        missing=(scenario.expected - found) | (scenario.expected_info - every),
        unexpected=found - scenario.expected,
        seconds=seconds,
    )


async def scan_all(
    running: Sequence[RunningScenario], *, limit: int = _SCAN_CONCURRENCY
) -> list[Verdict]:
    """Scan every running scenario concurrently (at most `limit` scans at once)."""
    from scanner.api import scan_endpoint

    limiter = trio.CapacityLimiter(limit)
    connections = trio.CapacityLimiter(64)
    verdicts: dict[str, Verdict] = {}

    async def one(item: RunningScenario) -> None:
        async with limiter:
            t0 = time.perf_counter()
            result = await scan_endpoint(item.target, item.options, global_limiter=connections)
            verdicts[item.name] = check(item, result, time.perf_counter() - t0)

    async with trio.open_nursery() as nursery:
        for item in running:
            nursery.start_soon(one, item)
    return [verdicts[item.name] for item in running]


# -- the two commands ---------------------------------------------------------------------


def _ids(ids: Iterable[str]) -> str:
    return ", ".join(sorted(ids)) or "-"


def _expected_text(scenario: Scenario) -> str:
    text = _ids(scenario.expected)
    if scenario.expected_info:
        text += f" (+ info: {_ids(scenario.expected_info)})"
    return text


def lab_table(running: Sequence[RunningScenario], width: int | None = None) -> str:
    """Where each scenario listens; ``width``: a terminal's columns, the table kept within
    it (None: a file or a pipe, one row per line)."""
    rows = [
        (r.name, r.address + (f" (SNI {r.target.sni})" if r.target.sni else ""),
         r.scenario.reproduces, _expected_text(r.scenario))
        for r in running
    ]
    return fit_table(rows, ("scenario", "address", "reproduces", "expected findings"), width=width)


def _selection(args: argparse.Namespace) -> str | None:
    return getattr(args, "only", None)


def run_lab(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """`tlscompat lab`: start the scenarios, print where they listen, wait for Ctrl-C."""
    stream = out or sys.stdout
    try:
        select(_selection(args))
    except KeyError as exc:
        raise UsageError(f"--only: {exc.args[0]}") from None

    async def main() -> None:
        async with open_lab(_selection(args)) as lab:
            assert lab.pki is not None
            print(lab_table(lab.running, style_for(stream).width), file=stream)
            print(
                f"\nLab root CA (trust it in your client): {lab.pki.ca_path}\n"
                f"Scan one: tlscompat scan {LAB_HOST}:PORT --ip 127.0.0.1 "
                f"--ca-file {lab.pki.ca_path} --no-system-store\n"
                "Press Ctrl-C to stop.",
                file=stream,
                flush=True,
            )
            await trio.sleep_forever()

    # Ctrl-C stops the lab: the servers are closed on the way out of open_lab, and the
    # top-level handler reports it as every command does ("interrupted", exit 130).
    trio.run(main)
    return 0


def findings_listing(result: EndpointResult, style: Style | None = None) -> str:
    """The findings of one scan, worst first, each with its evidence, cause and fix.
    ``style``: colour and terminal width (scanner.report.terminal); none by default."""
    style = style or Style()
    from scanner.options import SEVERITIES
    from scanner.outcome_text import render_outcome
    from scanner.report.printable import printable, printable_text

    head = f"{result.host}:{result.port} ({result.ip}): outcome "
    lines = [head + printable(render_outcome(result.outcome, result.detail))]
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    ordered = sorted(result.findings, key=lambda f: (rank.get(f.severity, len(rank)), f.id))
    for f in ordered:
        lines.append(f"  [{style.severity(f.severity)}] {f.id}: {f.title}")
        for label, text in (
            ("evidence", f.evidence),
            ("cause", f.cause),
            ("fix", f.resolution),
            ("windows", f.windows_error or ""),
        ):
            if text:
                lines.append(style.hanging(f"      {label + ':':<9} ", printable(text)))
    if not result.findings:
        lines.append("  no findings")
    return printable_text("\n".join(lines))


def _render(result: EndpointResult, verbose: bool, style: Style | None = None) -> str:
    """The compact findings listing; with --verbose the full report of
    scanner.report.table (protocols, suites, chains, probe log) when it is installed."""
    if verbose:
        try:
            from scanner.report.table import render_endpoint
        except ImportError:
            pass
        else:
            return render_endpoint(
                result, verbose=True, color=bool(style and style.color), width=style.width if style else None
            )
    return findings_listing(result, style)


def demo_summary(verdicts: Sequence[Verdict], width: int | None = None) -> str:
    """One row per scenario: expected and found findings, OK or MISMATCH; ``width``: a
    terminal's columns, the table kept within it (None: a file or a pipe, unwrapped)."""
    rows = []
    for v in verdicts:
        status = "OK" if v.ok else "MISMATCH"
        notes = []
        if v.missing:
            notes.append("missing " + _ids(v.missing))
        if v.unexpected:
            notes.append("unexpected " + _ids(v.unexpected))
        rows.append(
            (v.running.name, _expected_text(v.running.scenario), _ids(v.found), status,
             "; ".join(notes))
        )
    return fit_table(rows, ("scenario", "expected", "found", "result", "notes"), width=width)


def run_demo(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """`tlscompat demo`: start the lab, scan every scenario, print the findings and a
    summary, stop. Exit 0 when every scenario's findings are exactly the expected ones."""
    stream = out or sys.stdout
    only = _selection(args)
    try:
        select(only)
    except KeyError as exc:
        raise UsageError(f"--only: {exc.args[0]}") from None
    verbose = bool(getattr(args, "verbose", False))

    async def main() -> tuple[list[Verdict], float, float]:
        t0 = time.perf_counter()
        async with open_lab(only) as lab:
            t_started = time.perf_counter() - t0
            verdicts = await scan_all(lab.running)
        return verdicts, t_started, time.perf_counter() - t0

    verdicts, t_started, total = trio.run(main)
    style = style_for(stream, getattr(args, "color", "auto"))
    for v in verdicts:
        scenario = v.running.scenario
        print(f"\n=== {scenario.name}: {scenario.title}", file=stream)
        print(style.hanging("    reproduces: ", scenario.reproduces), file=stream)
        print(style.hanging("    expected:   ", _expected_text(scenario)), file=stream)
        print(_render(v.result, verbose, style), file=stream)
    print("\n" + demo_summary(verdicts, style.width), file=stream)
    bad = [v for v in verdicts if not v.ok]
    # --- issue 15: seed 004 as a capture (the lab records it, `explain` reads it) ---------
    capture_ok = True
    if "client-cert-rejected" in {s.name for s in select(only)}:
        import tempfile
        from pathlib import Path

        from scanner.lab.capture_demo import run_capture_demo

        capture_ok = run_capture_demo(stream, Path(tempfile.gettempdir()) / "tlscompat-demo-seed-004.pcapng")
    # --- end issue 15 ------------------------------------------------------------------------
    print(
        f"\n{len(verdicts) - len(bad)} of {len(verdicts)} scenarios matched; lab started in "
        f"{t_started:.1f} s, {total:.1f} s in all.",
        file=stream,
    )
    return 0 if not bad and capture_ok else 1

