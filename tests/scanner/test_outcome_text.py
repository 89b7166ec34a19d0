# The one renderer of outcomes (issue 14, section 3): the texts the issue found, as they
# must read now.
from __future__ import annotations

import pytest

from scanner.outcome_text import clean_detail, quote_bytes, render_outcome


@pytest.mark.parametrize(
    ("outcome", "detail", "shown"),
    [
        ("not_tls", "not_tls (http: b'HTTP/1.1 400 Bad')", 'not_tls (http: "HTTP/1.1 400 Bad")'),
        ("reset", "reset (connection reset by peer (after 2 attempts))", "reset (connection reset by peer, after 2 attempts)"),
        ("timeout", "(no complete answer within 5s (after 2 attempts)", "timeout (no complete answer within 5s, after 2 attempts)"),
        ("not_tls", "smtp: b'220 mail.example'", 'not_tls (smtp: "220 mail.example")'),
        ("alert", "alert handshake_failure (40)", "alert handshake_failure (40)"),
        ("refused", "refused", "refused"),
        ("timeout", "", "timeout"),
    ],
)
def test_outcomes_read_once_without_reprs(outcome: str, detail: str, shown: str) -> None:
    text = render_outcome(outcome, detail)
    assert text == shown
    assert "b'" not in text and text.count("(") == text.count(")")


def test_bytes_are_quoted_text() -> None:
    assert quote_bytes(b"\x16\x03\x01\x00") == '"\\x16\\x03\\x01\\x00"'
    assert quote_bytes(b"A" * 20) == '"' + "A" * 16 + '"...'
    assert clean_detail("closed", "closed (closed (x))") == "x"
