# How text meets a terminal: colour (only when asked, or on a terminal without NO_COLOR,
# https://no-color.org) and wrapping (only on a terminal, to its width, with a hanging
# indent; a file or a pipe gets one record per line, unwrapped, for grep and diff).
# Tables too: fit_table wraps long cells inside their column to keep a table within the
# terminal, and leaves it alone without a width. Every command that prints goes through
# style_for, so --color and NO_COLOR mean the same everywhere.
from __future__ import annotations

import os
import re
import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["SEVERITY_COLOURS", "Style", "fit_table", "style_for"]

RESET = "\x1b[0m"
GREEN = "\x1b[32m"
RED = "\x1b[31m"
YELLOW = "\x1b[33m"
SEVERITY_COLOURS = {
    "critical": "\x1b[1;31m",  # bold red
    "high": "\x1b[31m",  # red
    "medium": "\x1b[33m",  # yellow
    "low": "\x1b[36m",  # cyan
    "info": "\x1b[2m",  # dim
}


@dataclass(frozen=True, slots=True)
class Style:
    color: bool = False
    width: int | None = None  # None: do not wrap

    def severity(self, severity: str) -> str:
        code = SEVERITY_COLOURS.get(severity) if self.color else None
        return f"{code}{severity}{RESET}" if code else severity

    def paint(self, text: str, code: str) -> str:
        """``text`` in the colour ``code`` (an SGR sequence) when colouring."""
        return f"{code}{text}{RESET}" if self.color and text else text

    def hanging(self, head: str, text: str) -> str:
        """``head`` then ``text``; on a terminal wrapped to its width, continuation lines
        indented under the start of ``text``."""
        if self.width is None or len(head) + len(text) <= self.width:
            return head + text
        indent = " " * len(head)
        body = max(20, self.width - len(head))
        lines = textwrap.wrap(text, body, break_long_words=True, break_on_hyphens=False) or [""]
        return head + lines[0] + "".join("\n" + indent + line for line in lines[1:])


    def table(self, rows: Sequence[Sequence[Any]], headers: Sequence[str] | None = None, *, indent: int = 0) -> str:
        """fit_table at this style's width: ``indent`` is what the caller puts before each
        line."""
        return fit_table(rows, headers, width=self.width, indent=indent)


# SGR sequences (colours) take no room on the screen.
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _visible(line: str) -> int:
    return len(_SGR.sub("", line))


def _plain(text: str) -> str:
    return _SGR.sub("", text)


def fit_table(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str] | None = None,
    *,
    width: int | None,
    tablefmt: str = "simple",
    indent: int = 0,
) -> str:
    """A tabulate table (no number parsing: cells are shown as given). With ``width`` (a
    terminal's columns), columns are narrowed and their cells wrapped until every line
    plus ``indent`` fits: first the widest columns of prose (cells with spaces, which wrap
    between words) down to 20 characters, then any widest column down to 12. None (a file
    or a pipe): one row per line, never wrapped."""
    from tabulate import tabulate

    rows = [list(r) for r in rows]
    kw: dict[str, Any] = {"tablefmt": tablefmt, "disable_numparse": True}
    if headers is not None:
        kw["headers"] = list(headers)
    text = tabulate(rows, **kw)
    if width is None or not rows or max(_visible(line) for line in text.splitlines()) + indent <= width:
        return text
    columns = max(len(r) for r in rows)
    cells = [[_plain(str(r[i])) for r in rows if i < len(r)] for i in range(columns)]
    natural = [
        max([_visible(str(h)) for h in ([headers[i]] if headers and i < len(headers) else [])]
            + [max((len(part) for part in cell.split("\n")), default=0) for cell in cells[i]])
        for i in range(columns)
    ]
    prose = [any(" " in cell for cell in cells[i]) for i in range(columns)]
    caps = list(natural)
    for _ in range(8):  # bounded: each pass narrows columns by what still overflows
        overflow = max(_visible(line) for line in text.splitlines()) + indent - width
        if overflow <= 0:
            break
        for floor, allowed in ((20, prose), (12, [True] * columns)):
            while overflow > 0:
                candidates = [i for i in range(columns) if allowed[i] and caps[i] > floor]
                if not candidates:
                    break
                widest = max(candidates, key=lambda i: caps[i])
                caps[widest] -= 1
                overflow -= 1
        capped = [c if c < n else None for c, n in zip(caps, natural, strict=True)]
        text = tabulate(rows, maxcolwidths=capped, **kw)
    return text


def style_for(stream: TextIO | None, color: str = "auto") -> Style:
    """The style for ``stream`` and a --color value: "always" colours, "never" does not,
    "auto" colours a terminal unless NO_COLOR is set. Width: the terminal's columns, None
    (no wrapping) for a file or a pipe. ``stream`` None: the output goes to a file (-o)
    not opened yet, never a terminal."""
    try:
        tty = stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    use_color = color == "always" or (color == "auto" and tty and not os.environ.get("NO_COLOR"))
    width = shutil.get_terminal_size((100, 24)).columns if tty else None
    return Style(color=use_color, width=width)
