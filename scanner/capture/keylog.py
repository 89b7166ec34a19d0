# The NSS key log format (SSLKEYLOGFILE, written by browsers, curl and OpenSSL's
# -keylogfile): "LABEL <client_random hex> <secret hex>" per line, "#" comments. TLS 1.2
# uses CLIENT_RANDOM (the master secret); TLS 1.3 the *_TRAFFIC_SECRET labels (RFC 8446
# section 7.1 names the secrets; draft-ietf-tls-keylogfile documents the file).
#
# Rules kept: a malformed line is refused with its line number, before any packet is read;
# the secrets are never printed, only whether they were there.
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

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

    __slots__ = ("_by_random",)

    def __init__(self, by_random: Mapping[bytes, Mapping[str, bytes]]) -> None:
        self._by_random = {k: dict(v) for k, v in by_random.items()}

    def __len__(self) -> int:
        return len(self._by_random)

    def secret(self, client_random: bytes, label: str) -> bytes | None:
        return self._by_random.get(client_random, {}).get(label)

    def has(self, client_random: bytes) -> bool:
        return client_random in self._by_random


def parse_keylog(text: str, *, name: str = "key log") -> KeyLog:
    """Parse key log text. Raises ValueError naming the line that is not a key log line."""
    by_random: dict[bytes, dict[str, bytes]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3 or parts[0] not in LABELS:
            raise ValueError(f"{name} line {number}: not 'LABEL CLIENT_RANDOM SECRET' with a known label")
        try:
            client_random, secret = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
        except ValueError:
            raise ValueError(f"{name} line {number}: the client random and secret must be hex") from None
        if parts[0] == "RSA":
            continue  # an RSA pre-master secret keyed by encrypted bytes: not used here
        if len(client_random) != 32 or not secret:
            raise ValueError(f"{name} line {number}: the client random must be 32 bytes")
        by_random.setdefault(client_random, {})[parts[0]] = secret
    return KeyLog(by_random)


def load_keylog(path: str) -> KeyLog:
    """Read a key log file. Raises ValueError naming the file and what is wrong with it."""
    p = Path(path)
    try:
        if p.stat().st_size > _MAX_BYTES:
            raise ValueError(f"key log {path}: larger than {_MAX_BYTES >> 20} MB")
        text = p.read_text("ascii", errors="replace")
    except OSError as exc:
        raise ValueError(f"key log {path}: {exc.strerror or exc}") from None
    keylog = parse_keylog(text, name=f"key log {path}")
    return keylog
