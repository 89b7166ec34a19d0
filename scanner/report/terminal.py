# How text meets a terminal: colour (only when asked, or on a terminal without NO_COLOR,
# https://no-color.org) and wrapping (only on a terminal, to its width, with a hanging
# indent; a file or a pipe gets one record per line, unwrapped, for grep and diff).
from __future__ import annotations

import os
import shutil
import textwrap
from dataclasses import dataclass
from typing import TextIO

__all__ = ["SEVERITY_COLOURS", "Style", "style_for"]

RESET = "\x1b[0m"
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

    def hanging(self, head: str, text: str) -> str:
        """``head`` then ``text``; on a terminal wrapped to its width, continuation lines
        indented under the start of ``text``."""
        if self.width is None or len(head) + len(text) <= self.width:
            return head + text
        indent = " " * len(head)
        body = max(20, self.width - len(head))
        lines = textwrap.wrap(text, body, break_long_words=True, break_on_hyphens=False) or [""]
        return head + lines[0] + "".join("\n" + indent + line for line in lines[1:])


def style_for(stream: TextIO, color: str = "auto") -> Style:
    """The style for ``stream`` and a --color value (auto, always, never)."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    use_color = color == "always" or (color == "auto" and tty and not os.environ.get("NO_COLOR"))
    width = shutil.get_terminal_size((100, 24)).columns if tty else None
    return Style(color=use_color, width=width)
