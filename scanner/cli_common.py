# What every subcommand shares at the command line: the argument parser that reports an
# error in one line, argument types that refuse nan/inf and impossible addresses, the
# check of an output path, and the one top-level handler that turns every way a command
# can end into an exit code (docs/cli.md, "Exit codes").
#
# Rules kept: every check here runs before the first packet; a message names the option
# or file and says what is wrong, in one line; no traceback or Python repr reaches a user.
# Imports are cheap (no trio, no cryptography): `tlscompat --help` loads this module.
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from scanner.exits import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError

__all__ = [
    "Parser",
    "check_ca_file",
    "check_output",
    "count",
    "ip_address",
    "run_command",
    "seconds",
    "server_name",
]


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr and exit 2 (the usage is in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# -- Argument types (argparse calls them; ArgumentTypeError becomes a one-line error) ----


def seconds(text: str) -> float:
    """A finite number of seconds above 0 ('nan', 'inf' and '0' refused)."""
    return _number(text, minimum=0.0, inclusive=False, what="a number of seconds above 0")


def rate(text: str) -> float:
    """A finite, positive rate."""
    return _number(text, minimum=0.0, inclusive=False, what="a positive number")


def count(minimum: int) -> Callable[[str], int]:
    """A whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text[:40]!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    parse.__name__ = "count"
    return parse


def _number(text: str, *, minimum: float, inclusive: bool, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, not {text[:40]!r}") from None
    if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
        raise argparse.ArgumentTypeError(f"expected {what}, not {text[:40]!r}")
    return value


def ip_address(text: str) -> str:
    """--ip: an IPv4 or IPv6 address (brackets allowed)."""
    from scanner.targets import TargetError, check_ip

    try:
        return check_ip(text)
    except TargetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def server_name(text: str) -> str:
    """--sni: '' (send none) or something that can be a DNS host name (RFC 6066 section 3)."""
    from scanner.targets import TargetError, check_sni

    try:
        return check_sni(text)
    except TargetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- Files ---------------------------------------------------------------------------------


def check_output(path: str | None, option: str = "-o") -> None:
    """Raise UsageError unless ``path`` can be written: its directory exists and it is not a
    directory itself. Called before any packet, so a scan never runs only to lose its
    report."""
    if not path or path == "-":
        return
    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a directory; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"{option} {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"{option} {path}: not writable")


def check_ca_file(path: str, option: str = "--ca-file") -> None:
    """Raise UsageError unless ``path`` holds at least one certificate (PEM or DER)."""
    from scanner.x509 import TrustStoreError, load_trust_store

    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a directory; give a file of PEM or DER certificates")
    if not os.path.isfile(path):
        raise UsageError(f"{option} {path}: no such file")
    try:
        load_trust_store(path, False)
    except TrustStoreError as exc:
        raise UsageError(f"{option}: {exc}") from None


# -- The one top-level handler ---------------------------------------------------------------


def _only_interrupts(exc: BaseException) -> bool:
    """True for a KeyboardInterrupt, or an exception group (trio nurseries) holding only
    KeyboardInterrupts and cancellations."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_only_interrupts(e) or type(e).__name__ == "Cancelled" for e in exc.exceptions)
    return False


def _usage_inside(exc: BaseException) -> UsageError | None:
    """The UsageError of an exception group (trio nurseries) holding nothing else but
    cancellations, or None."""
    if isinstance(exc, UsageError):
        return exc
    if not isinstance(exc, BaseExceptionGroup):
        return None
    found = None
    for e in exc.exceptions:
        if type(e).__name__ == "Cancelled":
            continue
        inner = _usage_inside(e)
        if inner is None:
            return None
        found = found or inner
    return found


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def run_command(command: Callable[[], int], prog: str = "tlscompat") -> int:
    """Run ``command`` and map how it ended to an exit code, printing at most one line on
    stderr: 0/1 as it returned; 2 for a UsageError or an output that cannot be written;
    130 for Ctrl-C (also when it arrives inside trio as an exception group). Any other
    exception is a bug: one line naming it (the traceback with TLSCOMPAT_DEBUG=1), exit 2.
    """
    _terminate_as_interrupt()
    try:
        return _run_command(command, prog)
    except KeyboardInterrupt:
        # Ctrl-C while the one line about another ending was being written.
        _say(f"{prog}: interrupted")
        return EXIT_INTERRUPTED


def _terminate_as_interrupt() -> None:
    """SIGTERM (`timeout`, `kill`, systemd stopping a unit) ends a command as Ctrl-C does:
    through whatever handles SIGINT at that moment (trio's, inside a scan), so servers the
    command started (the lab's s_server processes) are stopped and what was found is
    written. Without this, Python's default disposition ends the process at once and
    leaves them behind. Where SIGINT is ignored (a background job of a shell inherits
    that), trio has no interrupt handler to go through and a KeyboardInterrupt raised at an
    arbitrary point would break its run: SIGTERM then ends the process at once, as
    before (never ignored)."""

    def forward(signum: int, frame: Any) -> None:
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    try:
        signal.signal(signal.SIGTERM, forward)
    except ValueError:  # not the main thread (an embedding program): leave it alone
        pass


def _run_command(command: Callable[[], int], prog: str) -> int:
    try:
        code = command()
        return code if code in (EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERRUPTED) else EXIT_FINDINGS
    except UsageError as exc:
        _say(f"{prog}: error: {_one_line(str(exc))}")
        return EXIT_USAGE
    except BrokenPipeError:
        # `tlscompat ... | head`: the reader left; not an error. Silence the final flush.
        _quiet_stdout()
        return EXIT_OK
    except (KeyboardInterrupt, BaseExceptionGroup) as exc:
        usage = _usage_inside(exc)
        if usage is not None:  # raised inside a trio nursery (e.g. --cluster's connect)
            _say(f"{prog}: error: {_one_line(str(usage))}")
            return EXIT_USAGE
        if not _only_interrupts(exc):
            return _internal(exc, prog)
        _say(f"{prog}: interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:  # an output that went away while writing: disk full, removed dir
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        _say(f"{prog}: error:{where}: {exc.strerror or _one_line(str(exc))}")
        return EXIT_USAGE
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence; a bug if it runs
        return _internal(exc, prog)


def _internal(exc: BaseException, prog: str) -> int:
    if os.environ.get("TLSCOMPAT_DEBUG"):
        import traceback

        traceback.print_exception(exc)
    _say(
        f"{prog}: internal error ({type(exc).__name__}: {_one_line(str(exc))[:200]}); "
        "this is a bug: please report it (TLSCOMPAT_DEBUG=1 shows the traceback)"
    )
    return EXIT_USAGE


def _say(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def guarded(command: Callable[[Any], int]) -> Callable[[Any], int]:
    """For subcommands that are also called directly (tests): report a UsageError in one
    line, exit 2. The top-level handler does the rest."""

    def run(args: Any) -> int:
        return run_command(lambda: command(args))

    return run
