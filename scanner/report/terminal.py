# How text meets a terminal: colour (only when asked, or on a terminal without NO_COLOR,
# https://no-color.org) and wrapping (only on a terminal, to its width, with a hanging
# indent; a file or a pipe gets one record per line, unwrapped, for grep and diff).
# Tables too: fit_table wraps prose cells between words inside their column to keep a table
# within the terminal, and leaves it alone without a width. Words are never split (a profile
# id, a suite name, an endpoint label must stay whole to be read and copied): a table that
# cannot fit without splitting one is left wider than the terminal. Every command that prints goes through
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
        return f"{code}{text}{RESET}" if self.color and code and text else text

    def hanging(self, head: str, text: str) -> str:
        """``head`` then ``text``; on a terminal wrapped to its width, continuation lines
        indented under the start of ``text``."""
        if self.width is None or _visible(head) + _visible(text) <= self.width:
            return head + text
        indent = " " * _visible(head)
        body = max(20, self.width - _visible(head))
        # Words whole (a name split across lines cannot be copied); a longer one overflows.
        lines = textwrap.wrap(text, body, break_long_words=False, break_on_hyphens=False) or [""]
        return head + lines[0] + "".join("\n" + indent + line for line in lines[1:])


    def wrap_text(self, text: str) -> str:
        """``text`` with each line longer than the terminal wrapped between words, the
        continuation lines indented under the text after the line's label ("  suites: ")
        when it has a short one, else four columns in from the line's own indent. No
        width (a file or a pipe): ``text`` as is."""
        if self.width is None:
            return text
        out: list[str] = []
        for line in text.split("\n"):
            if _visible(line) <= self.width:
                out.append(line)
                continue
            lead = len(line) - len(line.lstrip(" "))
            label = _LABEL.match(line)
            if label is not None and label.end() <= self.width // 2:
                out.append(self.hanging(line[: label.end()], line[label.end() :]))
                continue
            hang = " " * min(lead + 4, self.width // 2)
            body = max(20, self.width - len(hang))
            first, *rest = textwrap.wrap(
                line[lead:], self.width - lead, break_long_words=False, break_on_hyphens=False
            ) or [""]
            rest = textwrap.wrap(" ".join(rest), body, break_long_words=False, break_on_hyphens=False)
            out.append(" " * lead + first + "".join("\n" + hang + part for part in rest))
        return "\n".join(out)

    def table(self, rows: Sequence[Sequence[Any]], headers: Sequence[str] | None = None, *, indent: int = 0) -> str:
        """fit_table at this style's width: ``indent`` is what the caller puts before each
        line."""
        return fit_table(rows, headers, width=self.width, indent=indent)


# SGR sequences (colours) take no room on the screen.
_SGR = re.compile(r"\x1b\[[0-9;]*m")
# A line's label for wrap_text: its indent, then a few words and ": " ("    suites: ").
_LABEL = re.compile(r" *[\w][\w .()/-]{0,30}: ")
# A cell painted whole by Style.paint: one colour code, the text, the reset.
_PAINTED = re.compile(r"(\x1b\[[0-9;]*m)([^\x1b]*)\x1b\[0m")
# A column of prose (cells with spaces) is narrowed to PROSE_FLOOR characters at the least
# (a reason in a 15-wide column reads badly), to PROSE_MIN when that makes a table fit, and
# never below its longest word.
PROSE_FLOOR = 24
PROSE_MIN = 12


def _visible(line: str) -> int:
    return len(_SGR.sub("", line))


def _plain(text: str) -> str:
    return _SGR.sub("", text)


def _words(cell: str) -> list[str]:
    """The pieces of a cell that are never split: its words (between spaces and line
    breaks). A cell coloured other than whole (Style.paint) is one piece per line."""
    if _SGR.search(cell) and not _PAINTED.fullmatch(cell):
        return [_plain(line) for line in cell.split("\n")]
    return _plain(cell).split()


def _wrap(cell: str, cap: int) -> str:
    """``cell`` wrapped at spaces to ``cap`` columns, words whole (an identifier longer
    than ``cap`` keeps its line); a cell painted whole is painted again line by line."""
    painted = _PAINTED.fullmatch(cell)
    if painted:
        code, inner = painted.group(1), painted.group(2)
        return "\n".join(f"{code}{line}{RESET}" for line in _wrap(inner, cap).split("\n"))
    if _SGR.search(cell) or _visible(cell) <= cap and "\n" not in cell:
        return cell
    lines: list[str] = []
    for line in cell.split("\n"):
        lines += textwrap.wrap(line, cap, break_long_words=False, break_on_hyphens=False) or [""]
    return "\n".join(lines)


def fit_table(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str] | None = None,
    *,
    width: int | None,
    tablefmt: str = "simple",
    indent: int = 0,
) -> str:
    """A tabulate table (no number parsing: cells are shown as given). With ``width`` (a
    terminal's columns), the widest columns of prose (cells with spaces) are narrowed and
    their cells wrapped between words until every line plus ``indent`` fits, each down to
    PROSE_FLOOR characters (PROSE_MIN if that makes the table fit) or its longest word. A word (an identifier: a profile id, a
    suite or alert name, an endpoint label) is never split: a table that cannot fit
    otherwise is left wider than the terminal. None (a file or a pipe): one row per line,
    never wrapped."""
    from tabulate import tabulate

    table: list[list[Any]] = [list(r) for r in rows]
    kw: dict[str, Any] = {"tablefmt": tablefmt, "disable_numparse": True}
    if headers is not None:
        kw["headers"] = list(headers)
    text = tabulate(table, **kw)
    if width is None or not table or _widest(text) + indent <= width:
        return text
    columns = max(len(r) for r in table)
    heads = [str(headers[i]) if headers and i < len(headers) else "" for i in range(columns)]
    cells = [[str(r[i]) for r in table if i < len(r)] + [heads[i]] for i in range(columns)]
    natural = [max(_visible(line) for cell in cells[i] for line in cell.split("\n")) for i in range(columns)]
    longest = [max(len(w) for cell in cells[i] for w in [*_words(cell), ""]) for i in range(columns)]

    def narrowed(prose_floor: int) -> str:
        floors = [min(natural[i], max(prose_floor, longest[i])) for i in range(columns)]
        caps = list(natural)
        if headers is not None:
            kw["headers"] = list(headers)
        out = _tight(table, kw)
        for _ in range(8):  # bounded: each pass narrows columns by what still overflows
            overflow = _widest(out) + indent - width
            if overflow <= 0:
                break
            while overflow > 0:
                candidates = [i for i in range(columns) if caps[i] > floors[i]]
                if not candidates:
                    break
                widest = max(candidates, key=lambda i: caps[i])
                caps[widest] -= 1
                overflow -= 1
            wrapped = [[_wrap(str(c), caps[i]) if caps[i] < natural[i] else c for i, c in enumerate(r)] for r in table]
            if headers is not None:
                kw["headers"] = [_wrap(h, caps[i]) if caps[i] < natural[i] else h for i, h in enumerate(heads)]
            out = _tight(wrapped, kw)
            if overflow > 0:  # every column at its floor
                break
        return out

    # Prose keeps PROSE_FLOOR columns; narrower (PROSE_MIN) only when that makes the table
    # fit: a table wider than the terminal anyway gains nothing from a squeezed reason.
    fitted = narrowed(PROSE_FLOOR)
    if _widest(fitted) + indent > width:
        squeezed = narrowed(PROSE_MIN)
        if _widest(squeezed) + indent <= width:
            return squeezed
    return fitted


def _tight(rows: list[list[Any]], kw: dict[str, Any]) -> str:
    """tabulate without the two spaces it adds after every header (its MIN_PADDING): a
    table narrowed for a terminal has no room for them. The rendering is synchronous and
    the module value is restored at once."""
    import tabulate as tabulate_module

    saved = tabulate_module.MIN_PADDING
    tabulate_module.MIN_PADDING = 0
    try:
        return tabulate_module.tabulate(rows, **kw)
    finally:
        tabulate_module.MIN_PADDING = saved


def _widest(text: str) -> int:
    return max((_visible(line) for line in text.splitlines()), default=0)


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
