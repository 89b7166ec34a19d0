# Generates scanner/profiles/clients.json, the built-in client profiles, from the reference
# client list (client-simulation.txt: testssl.sh's etc/ file, see ../shared/reference/README.md).
#
# Run `python tools/gen_profiles.py` after the reference file changes. The file is bash:
# `names+=("...")`, `short+=(...)`, ... one line per field, one block per client. It is read
# block by block (a block starts at `names+=`), not as parallel arrays: the arrays are not
# parallel (alpn+= appears in 34 blocks only, warning+= is missing from one, one block spells
# requiresSha2 as requireseha2), so indexing them side by side would misalign every client
# after the first gap. Each block's captured ClientHello (`handshakebytes`, a TLS record or an
# SSLv2-framed hello) is decoded by scanner.profiles.hello, the same parser that reads a
# user's capture; a block whose bytes do not parse is skipped and reported. The output is
# written in a fixed order, so two runs over the same input give identical bytes
# (tests/scanner/test_profiles.py checks the committed file).
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from handshakes import registry as reg
from scanner.profiles.hello import parse_client_hello
from scanner.profiles.model import ClientProfile, profile_from_captured, profile_to_json

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = REPO_ROOT.parent / "shared" / "reference"
DEFAULT_OUTPUT = REPO_ROOT / "scanner" / "profiles" / "clients.json"
REFERENCE_ENV = "TLSCOMPAT_REFERENCE"
SOURCE_NAME = "client-simulation.txt"
MIN_PROFILES = 100

_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\+=\((.*)\)\s*$")
# Misspelled field names seen in the reference file, and what they mean.
_FIELD_ALIASES = {"requireseha2": "requiresSha2"}
_REQUIRED = (
    "names",
    "short",
    "handshakebytes",
    "lowest_protocol",
    "highest_protocol",
    "service",
    "minDhBits",
    "maxDhBits",
    "minRsaBits",
    "maxRsaBits",
    "minEcdsaBits",
    "requiresSha2",
    "current",
)


class ReferenceDataError(Exception):
    """The reference file changed shape: stop rather than half-read it."""


def _value(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1]
    return raw


def read_blocks(text: str, notes: list[str]) -> list[tuple[int, dict[str, str]]]:
    """(line number, fields) per client block, in file order."""
    blocks: list[tuple[int, dict[str, str]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise ReferenceDataError(f"{SOURCE_NAME} line {number}: not a `field+=(value)` line")
        field, raw = m.groups()
        if field in _FIELD_ALIASES:
            notes.append(f"line {number}: field {field!r} read as {_FIELD_ALIASES[field]!r}")
            field = _FIELD_ALIASES[field]
        if field == "names":
            blocks.append((number, {}))
        elif not blocks:
            raise ReferenceDataError(f"{SOURCE_NAME} line {number}: {field} before any names+=")
        fields = blocks[-1][1]
        if field in fields:
            raise ReferenceDataError(f"{SOURCE_NAME} line {number}: {field} twice in one block")
        fields[field] = _value(raw)
    return blocks


def _bits(value: str, where: str) -> int | None:
    try:
        number = int(value)
    except ValueError:
        raise ReferenceDataError(f"{where}: {value!r} is not a number") from None
    return None if number < 0 else number


def _flag(value: str, where: str) -> bool:
    if value not in ("true", "false"):
        raise ReferenceDataError(f"{where}: {value!r} is not true/false")
    return value == "true"


def _version(value: str, where: str) -> int:
    try:
        version = int(value, 16)
    except ValueError:
        version = -1
    # The file writes SSL 2.0 as 0x0200; on the wire (and in handshakes.constants) it is 0x0002.
    version = {0x0200: 0x0002}.get(version, version)
    if version not in reg.VERSIONS:
        raise ReferenceDataError(f"{where}: {value!r} is not a protocol version")
    return version


def profile_from_block(line: int, fields: dict[str, str], notes: list[str]) -> ClientProfile:
    """One profile; ValueError when the captured hello does not parse."""
    where = f"{SOURCE_NAME} line {line} ({fields.get('names', '?')})"
    missing = [f for f in _REQUIRED if f not in fields]
    if missing:
        raise ReferenceDataError(f"{where}: missing {', '.join(missing)}")
    lowest = _version(fields["lowest_protocol"], where)
    highest = _version(fields["highest_protocol"], where)
    hello = parse_client_hello(bytes.fromhex(fields["handshakebytes"]))
    profile = profile_from_captured(
        hello,
        id=fields["short"],
        name=fields["names"],
        lowest_version=lowest,
        limits={
            "min_dh_bits": _bits(fields["minDhBits"], where),
            "max_dh_bits": _bits(fields["maxDhBits"], where),
            "min_rsa_bits": _bits(fields["minRsaBits"], where),
            "max_rsa_bits": _bits(fields["maxRsaBits"], where),
            "min_ecdsa_bits": _bits(fields["minEcdsaBits"], where),
            "requires_sha2": _flag(fields["requiresSha2"], where),
            "current": _flag(fields["current"], where),
            "tags": tuple(t.strip() for t in fields["service"].split(",") if t.strip()),
        },
    )
    # The captured bytes are the evidence; where the file's own columns disagree, say so.
    if not profile.versions or profile.versions[0] != highest:
        offered = hello.supported_versions()
        drafts = [reg.hex_code(v) for v in offered or () if v >> 8 == 0x7F]
        extra = (
            f" (its supported_versions lists TLS 1.3 drafts {', '.join(drafts)})" if drafts else ""
        )
        top = reg.version_name(profile.versions[0]) if profile.versions else "nothing"
        notes.append(
            f"{fields['short']}: highest_protocol {reg.version_name(highest)}, but the hello "
            f"offers {top}{extra}"
        )
    if profile.versions and profile.versions[-1] != lowest:
        notes.append(
            f"{fields['short']}: lowest_protocol {reg.version_name(lowest)}, but the hello "
            f"offers down to {reg.version_name(profile.versions[-1])}"
        )
    if profile.sends_sni != (fields.get("ch_sni", "") != ""):
        notes.append(
            f"{fields['short']}: ch_sni {fields.get('ch_sni')!r} but sends_sni {profile.sends_sni}"
        )
    if "alpn" in fields and ",".join(profile.alpn) != fields["alpn"]:
        notes.append(
            f"{fields['short']}: alpn column {fields['alpn']!r}, but the hello offers "
            f"{','.join(profile.alpn) or 'no ALPN'}"
        )
    return profile


def build(reference: Path) -> tuple[str, list[ClientProfile], list[str], list[str]]:
    """(JSON text, profiles, skipped entries, notes)."""
    path = reference / SOURCE_NAME
    data = path.read_bytes()
    notes: list[str] = []
    skipped: list[str] = []
    profiles: list[ClientProfile] = []
    seen: set[str] = set()
    for line, fields in read_blocks(data.decode("utf-8"), notes):
        try:
            profile = profile_from_block(line, fields, notes)
        except ValueError as exc:
            skipped.append(f"line {line} ({fields.get('names', '?')}): {exc}")
            continue
        if profile.id in seen:
            raise ReferenceDataError(
                f"{SOURCE_NAME} line {line}: duplicate short name {profile.id!r}"
            )
        seen.add(profile.id)
        profiles.append(profile)
    if len(profiles) < MIN_PROFILES:
        raise ReferenceDataError(
            f"only {len(profiles)} profiles parsed (expected at least {MIN_PROFILES})"
        )
    header: dict[str, Any] = {
        "generated_by": "tools/gen_profiles.py",
        "source": SOURCE_NAME,
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "count": len(profiles),
    }
    return render(header, profiles), profiles, skipped, notes


def render(header: dict[str, Any], profiles: Sequence[ClientProfile]) -> str:
    """One field per line, each value compact: small diffs when a profile changes."""
    out = ["{"]
    for key, value in header.items():
        out.append(f" {json.dumps(key)}: {json.dumps(value)},")
    out.append(' "profiles": [')
    for i, profile in enumerate(profiles):
        items = list(profile_to_json(profile).items())
        out.append("  {")
        for j, (key, value) in enumerate(items):
            comma = "," if j < len(items) - 1 else ""
            out.append(f"   {json.dumps(key)}: {json.dumps(value, ensure_ascii=True)}{comma}")
        out.append("  }," if i < len(profiles) - 1 else "  }")
    out.append(" ]")
    out.append("}")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write scanner/profiles/clients.json from the reference client list."
    )
    parser.add_argument(
        "--reference",
        type=Path,
        default=Path(os.environ.get(REFERENCE_ENV, DEFAULT_REFERENCE)),
        help=f"folder holding {SOURCE_NAME} (default ${REFERENCE_ENV} or {DEFAULT_REFERENCE})",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="file to write")
    parser.add_argument(
        "--quiet", action="store_true", help="print only the count and skipped entries"
    )
    args = parser.parse_args(argv)
    try:
        text, profiles, skipped, notes = build(args.reference)
    except (OSError, ReferenceDataError) as exc:
        print(f"gen_profiles: {exc}", file=sys.stderr)
        return 1
    for entry in skipped:
        print(f"gen_profiles: skipped {entry}", file=sys.stderr)
    if not args.quiet:
        for note in notes:
            print(f"gen_profiles: note: {note}", file=sys.stderr)
    args.output.write_bytes(text.encode("utf-8"))
    print(f"gen_profiles: wrote {len(profiles)} profiles to {args.output} ({len(skipped)} skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
