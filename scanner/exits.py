# Exit codes and the usage error, shared by every subcommand (docs/cli.md, "Exit codes").
# Its own module so that the subcommands (audit, fleet, report, lab) can import them
# without importing the CLI that imports them.
from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""
