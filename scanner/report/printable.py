# The one sanitizer for text that came from a server (certificate names, alert and error
# texts, banners, ALPN, HTTP headers) on its way to a person: a terminal, Markdown, HTML or
# a spreadsheet. JSON keeps the exact value; this module is only for human renderers.
#
# Rules it keeps:
# - Nothing a server sends can move the cursor, clear the screen, set the window title,
#   ring the bell, overwrite a line (CR) or start a fake one (LF): every character that is
#   not printable (C0 and C1 controls, DEL, Unicode format characters such as the bidi
#   overrides, line and paragraph separators) is shown as a visible escape, \x1b, \u202e.
# - `printable` is for one value (a newline in it is escaped too); `printable_text` is for
#   a whole rendered text (our own newlines and our own SGR colour codes are kept);
#   `printable_line` is for text a document (Markdown, HTML) shows on one line: our own
#   line breaks (a bare LF) become a space, a server's CR LF is escaped as `printable` does.
# - A spreadsheet never sees a formula: a CSV cell starting with =, +, -, @, TAB or CR is
#   prefixed with an apostrophe (OWASP "CSV injection").
from __future__ import annotations

import re
from typing import Any

# counted is defined with the outcome texts, below scanner.capture and scanner.explain,
# which count things too; the reports use it from here.
from scanner.outcome_text import counted

__all__ = ["counted", "csv_cell", "printable", "printable_line", "printable_text"]

# Our own colour codes: SGR sequences only (ESC [ digits/semicolons m).
_SGR = re.compile(r"\x1b\[[0-9;]*m")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(value: Any) -> str:
    """``value`` as text with every non-printable character shown as an escape (newlines
    included): safe to put in a table cell, a Markdown line or a CSV cell."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def printable_line(value: Any) -> str:
    """``value`` for one line of a document (Markdown, HTML), where a line break shows as
    a space: every LF that ends an item of our own multi-line text (we write bare LFs)
    becomes a space; a CR and an LF right after it, which only a server writes, are
    escaped (``\\x0d\\x0a``) as `printable` shows them in a table or a CSV cell."""
    text = value if isinstance(value, str) else str(value)
    crlf = printable("\r\n")
    return crlf.join(" ".join(printable(part) for part in piece.split("\n")) for piece in text.split("\r\n"))


def printable_text(text: str) -> str:
    """A whole rendered text (tables, listings): newlines and tabs kept, our SGR colour codes
    kept, every other non-printable character escaped. The last line of defence for a
    server string that reached a renderer without `printable`."""
    if text.isprintable():
        return text
    out: list[str] = []
    pos = 0
    for match in _SGR.finditer(text):
        out.append(_lines(text[pos : match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(_lines(text[pos:]))
    return "".join(out)


def _lines(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch in "\n\t" else _escape(ch) for ch in text)


def csv_cell(value: Any) -> Any:
    """A CSV cell: numbers as they are; text made printable and never read as a formula."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = printable(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):  # "-31" is a number
        return "'" + text
    return text
