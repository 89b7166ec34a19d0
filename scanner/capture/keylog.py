# The NSS key log format (SSLKEYLOGFILE, written by browsers, curl and OpenSSL's
# -keylogfile): "LABEL <client_random hex> <secret hex>" per line, "#" comments. TLS 1.2
# uses CLIENT_RANDOM (the master secret); TLS 1.3 the *_TRAFFIC_SECRET labels (RFC 8446
# section 7.1 names the secrets; draft-ietf-tls-keylogfile documents the file).
#
# Rules kept: read leniently, like Wireshark: a line with an unknown label (ECH_SECRET,
# ECH_CONFIG, a future one), a cut-off last line or a BOM is skipped with a note naming the
# line; only a file with no valid line at all (an empty one included) is refused, before any
# packet is read. The secrets are never printed, only whether they were there.
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from scanner.outcome_text import counted

__all__ = ["LABELS", "KeyLog", "load_keylog", "parse_keylog"]

LABELS = frozenset(
    {
        "CLIENT_RANDOM",
        "CLIENT_EARLY_TRAFFIC_SECRET",
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EARLY_EXPORTER_SECRET",
        "EXPORTER_SECRET",
        "RSA",
    }
)
# A key log bigger than this is surely not one (a browser's file for a day is a few MB).
_MAX_BYTES = 256 << 20


class KeyLog:
    """Secrets by client random: ``secrets(client_random)`` -> {label: secret}."""

    __slots__ = ("_by_random", "notes")

    def __init__(self, by_random: Mapping[bytes, Mapping[str, bytes]], notes: list[str] | None = None) -> None:
        self._by_random = {k: dict(v) for k, v in by_random.items()}
        self.notes: list[str] = list(notes or ())  # the lines skipped, for the user

    def __len__(self) -> int:
        return len(self._by_random)

    def secret(self, client_random: bytes, label: str) -> bytes | None:
        return self._by_random.get(client_random, {}).get(label)

    def has(self, client_random: bytes) -> bool:
        return client_random in self._by_random


# Lines skipped are named one by one up to this many, then counted.
_MAX_NAMED = 3


def _line_problem(parts: list[str]) -> str | None:
    """Why this split line is not a usable key log line, or None when it is."""
    if len(parts) != 3:
        return "not 'LABEL CLIENT_RANDOM SECRET'"
    if parts[0] not in LABELS:
        return f"label {parts[0][:40]!r} not used here"
    try:
        client_random, secret = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return "the client random and secret are not hex (a cut-off line?)"
    if parts[0] != "RSA" and (len(client_random) != 32 or not secret):
        return "the client random is not 32 bytes"
    return None


def parse_keylog(text: str, *, name: str = "key log") -> KeyLog:
    """Parse key log text leniently (as Wireshark does): a line that is not a usable key log
    line is skipped and named in ``KeyLog.notes``. Raises ValueError when no line is valid
    (an empty file included): then the file is not a key log."""
    by_random: dict[bytes, dict[str, bytes]] = {}
    valid = 0
    skipped: list[str] = []
    lines = text.lstrip("\ufeff").splitlines()
    cut_off = bool(text) and not text.endswith(("\n", "\r"))  # a file still being written
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        problem = _line_problem(parts)
        if problem is not None:
            if cut_off and number == len(lines):
                problem = "a cut-off last line"
            skipped.append(f"line {number}: {problem}")
            continue
        valid += 1
        if parts[0] == "RSA":
            continue  # an RSA pre-master secret keyed by encrypted bytes: not used here
        by_random.setdefault(bytes.fromhex(parts[1]), {})[parts[0]] = bytes.fromhex(parts[2])
    if not valid:
        why = f" ({skipped[0]})" if skipped else " (no 'LABEL CLIENT_RANDOM SECRET' line)"
        raise ValueError(f"{name}: not a key log, no valid line{why}")
    notes = []
    if skipped:
        named = "; ".join(skipped[:_MAX_NAMED]) + ("; ..." if len(skipped) > _MAX_NAMED else "")
        notes.append(f"{name}: {counted(len(skipped), 'line')} skipped ({named})")
    return KeyLog(by_random, notes)


def load_keylog(path: str) -> KeyLog:
    """Read a key log file. Raises ValueError naming the file and what is wrong with it."""
    p = Path(path)
    try:
        if p.stat().st_size > _MAX_BYTES:
            raise ValueError(f"key log {path}: larger than {_MAX_BYTES >> 20} MB")
        raw = p.read_bytes()
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("ascii", errors="replace")
    except OSError as exc:
        raise ValueError(f"key log {path}: {exc.strerror or exc}") from None
    keylog = parse_keylog(text, name=f"key log {path}")
    return keylog
