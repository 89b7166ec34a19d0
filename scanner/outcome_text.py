# The one renderer of probe and endpoint outcomes for people: "reset (connection reset by
# peer, after 2 attempts)", never "reset (reset (connection reset by peer (after 2
# attempts)))", never a Python bytes repr, never an unbalanced parenthesis.
#
# Rules kept: the outcome word comes first, once; the detail is what the engine recorded,
# with a repeated outcome word peeled off, bytes shown as quoted printable text, and the
# parentheses balanced. Results keep their raw detail (JSON is evidence); only the text a
# person reads goes through here. Imports nothing of the scanner but options' names.
from __future__ import annotations

import ast
import re

__all__ = ["clean_detail", "counted", "quote_bytes", "render_outcome"]

_BYTES_REPR = re.compile(r"""\bb(?P<q>['"])(?P<body>(?:\\.|(?!(?P=q)).)*)(?P=q)""")
_ATTEMPTS = re.compile(r" \(after (\d+) attempts\)")


def counted(count: int, noun: str) -> str:
    """``count`` and ``noun``, plural unless one: counted(1, "endpoint") -> "1 endpoint",
    counted(3, "endpoint") -> "3 endpoints" (regular English plurals only: no "(s)")."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def quote_bytes(data: bytes, limit: int = 16) -> str:
    """The first ``limit`` bytes as quoted text a person can read: printable ASCII as is,
    anything else as \\xNN ("HTTP/1.1 400 Bad", "\\x16\\x03\\x01")."""
    shown = data[:limit]
    text = "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x22 else f"\\x{b:02x}" for b in shown)
    return f'"{text}"' + ("..." if len(data) > limit else "")


def _unrepr(match: re.Match[str]) -> str:
    try:
        value = ast.literal_eval(match.group(0))
    except (ValueError, SyntaxError):
        return match.group(0)
    return quote_bytes(value, limit=len(value)) if isinstance(value, bytes) else match.group(0)


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def _balance(text: str) -> str:
    out, depth = [], 0
    for ch in text:
        if ch == ")":
            if depth == 0:
                continue  # a close with no open: dropped
            depth -= 1
        elif ch == "(":
            depth += 1
        out.append(ch)
    return "".join(out) + ")" * depth


def clean_detail(outcome: str, detail: str | None) -> str:
    """``detail`` without the outcome word repeated in front of it, with bytes reprs as
    quoted text and balanced parentheses ("" when it adds nothing to the outcome)."""
    text = _BYTES_REPR.sub(_unrepr, (detail or "").strip())
    text = _balance(_ATTEMPTS.sub(r", after \1 attempts", text))
    words = {outcome, outcome.replace("_", " ")} - {""}
    for _ in range(8):  # bounded: each pass peels one wrapper
        before = text
        for word in words:
            if text == word:
                return ""
            if text.startswith(word + " (") and text.endswith(")") and _balanced(text[len(word) + 2 : -1]):
                text = text[len(word) + 2 : -1].strip()
            elif text.startswith(word + ": "):
                text = text[len(word) + 2 :].strip()
        if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
            text = text[1:-1].strip()
        if text == before:
            break
    return _balance(text)


def render_outcome(outcome: str, detail: str | None = None) -> str:
    """"outcome (detail)"; the detail alone when it already starts with the outcome word
    ("alert handshake_failure (40)"); the outcome alone when the detail adds nothing."""
    text = clean_detail(outcome, detail)
    if not text:
        return outcome
    if text.startswith((outcome + " ", outcome.replace("_", " ") + " ")):
        return text
    return f"{outcome} ({text})"
