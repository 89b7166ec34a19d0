# Client profiles: what a real client sends and accepts, as data. The built-in profiles come
# from the captured ClientHellos of the reference client list (clients.json, written by
# tools/gen_profiles.py); a user adds their own from a captured hello (hex) or from YAML.
#
# Rules it keeps: a profile is a frozen value of wire numbers; its captured extensions are
# kept byte for byte and in order, so spec_for_profile() replays the client's real hello
# (only the parts that belong to one connection are renewed: SNI, key shares, padding,
# stale tickets and PSKs). A bad user profile raises ValueError naming the source and field
# before any packet is sent.
from __future__ import annotations

import dataclasses
import functools
import json
import os
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from handshakes import constants as c
from handshakes import registry as reg
from handshakes.client_hello import ClientHelloSpec, encode_extensions
from handshakes.errors import LocalProtocolError
from handshakes.keyshare import KeySharePool, generate_key_share
from scanner.profiles.hello import (
    CapturedHello,
    bytes_from_hex_dump,
    decode_key_share,
    parse_client_hello,
)

__all__ = [
    "BUILTIN_PROFILES_FILE",
    "ClientProfile",
    "load_builtin_profiles",
    "load_profiles_file",
    "profile_from_captured",
    "profile_from_client_hello_hex",
    "profile_from_json",
    "profile_from_yaml",
    "profile_to_json",
    "spec_for_profile",
]

BUILTIN_PROFILES_FILE = "clients.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientProfile:
    """One client: its captured ClientHello and the limits it applies to a server.

    ``versions`` are the protocol versions it speaks, newest first. ``cipher_suites``,
    ``groups`` and ``signature_algorithms`` are as on the wire, in the client's order
    (SCSVs and GREASE included). ``extensions`` are the captured extensions, in order;
    an SSLv2-framed hello (``sslv2_hello``) has none and its suites are 3-byte kinds.
    A limit of None means the client sets none.
    """

    id: str
    name: str
    versions: tuple[int, ...]
    cipher_suites: tuple[int, ...]
    groups: tuple[int, ...]
    signature_algorithms: tuple[int, ...]
    alpn: tuple[str, ...]
    sends_sni: bool
    record_version: int
    legacy_version: int
    compression_methods: tuple[int, ...]
    extensions: tuple[tuple[int, bytes], ...]
    sslv2_hello: bool
    ec_point_formats: tuple[int, ...] = ()
    session_id_length: int = 0
    min_dh_bits: int | None = None
    max_dh_bits: int | None = None
    min_rsa_bits: int | None = None
    max_rsa_bits: int | None = None
    min_ecdsa_bits: int | None = None
    requires_sha2: bool = False
    current: bool = False
    tags: tuple[str, ...] = ()


# -- From a captured hello -------------------------------------------------------------------


def profile_from_captured(
    hello: CapturedHello,
    *,
    id: str,
    name: str | None = None,
    lowest_version: int | None = None,
    limits: Mapping[str, Any] | None = None,
) -> ClientProfile:
    """A profile from a decoded hello. ``lowest_version``: see CapturedHello.versions().
    ``limits``: any of the ClientProfile limit fields (min_dh_bits, ..., current, tags)."""
    versions = hello.versions(lowest_version)
    if hello.sslv2 and c.SSL2 in versions and not any(s > 0xFFFF for s in hello.cipher_suites):
        # An SSLv2-compatible hello without a single SSLv2 cipher kind cannot speak SSL 2.0
        # (RFC 5246 appendix E.2): the framing alone does not make it an SSLv2 client.
        versions = tuple(v for v in versions if v != c.SSL2)
    if hello.record_version is not None:
        record_version = hello.record_version
    else:
        # A capture without its record header: the record version most clients use
        # (RFC 8446 section 5.1 allows 0x0301 in an initial ClientHello for compatibility).
        record_version = min(hello.legacy_version, c.TLS10)
    return ClientProfile(
        id=id,
        name=name if name is not None else id,
        versions=versions,
        cipher_suites=hello.cipher_suites,
        groups=hello.groups(),
        signature_algorithms=hello.signature_algorithms(),
        alpn=hello.alpn(),
        sends_sni=hello.extension(c.EXT_SERVER_NAME) is not None,
        record_version=record_version,
        legacy_version=hello.legacy_version,
        compression_methods=hello.compression_methods,
        extensions=hello.extensions,
        sslv2_hello=hello.sslv2,
        ec_point_formats=hello.ec_point_formats(),
        session_id_length=len(hello.session_id),
        **dict(limits or {}),
    )


def profile_from_client_hello_hex(
    hex_text: str, *, id: str, name: str | None = None, lowest_version: int | None = None
) -> ClientProfile:
    """A profile from a captured ClientHello "as copied from Wireshark".

    Accepts a whole record (16 03 ..), an SSLv2-framed hello (80 ..), a bare handshake
    message (01 00 ..) or just its body (03 03 ..); bytes may be separated by spaces, colons
    or newlines, carry 0x prefixes, or come as Wireshark's offset + hex + ASCII dump. A hello
    names only its highest version: unless it has a supported_versions extension, the
    profile speaks that version alone, or down to ``lowest_version`` when given.
    """
    try:
        data = bytes_from_hex_dump(hex_text)
        hello = parse_client_hello(data)
    except ValueError as exc:
        raise ValueError(f"client hello for profile {id!r}: {exc}") from None
    profile = profile_from_captured(hello, id=id, name=name, lowest_version=lowest_version)
    if not profile.versions:
        raise ValueError(f"client hello for profile {id!r}: it offers no known protocol version")
    return profile


# -- From YAML -------------------------------------------------------------------------------

_LIMIT_FIELDS = ("min_dh_bits", "max_dh_bits", "min_rsa_bits", "max_rsa_bits", "min_ecdsa_bits")
_YAML_FIELDS = frozenset(
    {
        "id",
        "name",
        "versions",
        "cipher_suites",
        "groups",
        "signature_algorithms",
        "alpn",
        "sni",
        "client_hello",
        "lowest_version",
        "requires_sha2",
        "current",
        "tags",
        *_LIMIT_FIELDS,
    }
)
# With a captured hello these come from its bytes; a YAML file may not restate them.
_HELLO_FIELDS = ("cipher_suites", "groups", "signature_algorithms", "alpn", "sni")

# Group spellings beyond the registry names (OpenSSL and NIST aliases).
_GROUP_ALIASES = {
    "prime256v1": 0x0017,
    "p-256": 0x0017,
    "p256": 0x0017,
    "secp384r1": 0x0018,
    "p-384": 0x0018,
    "p384": 0x0018,
    "p-521": 0x0019,
    "p521": 0x0019,
    "prime192v1": 0x0013,
}


@functools.cache
def _names(kind: str) -> Mapping[str, int]:
    if kind == "group":
        table = {g.name.lower(): code for code, g in reg.GROUPS.items()}
        return table | _GROUP_ALIASES
    return {s.name.lower(): code for code, s in reg.SIGNATURE_SCHEMES.items()}


def _code(value: Any, *, kind: str, where: str) -> int:
    """A wire code from an int, a "0x.." string, or a name (suite, group, sigalg)."""
    if isinstance(value, bool):
        raise ValueError(f"{where}: {value!r} is not a {kind}")
    if isinstance(value, int):
        code = value
    elif isinstance(value, str) and value.strip().lower().startswith("0x"):
        try:
            code = int(value.strip(), 16)
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not a hex code") from None
    elif isinstance(value, str):
        if kind == "cipher suite":
            suite = reg.cipher_suite_by_name(value)
            if suite is None:
                raise ValueError(
                    f"{where}: unknown cipher suite {value!r} (IANA or OpenSSL name, or 0x code)"
                )
            return suite.code
        found = _names(kind).get(value.strip().lower())
        if found is None:
            raise ValueError(f"{where}: unknown {kind} {value!r} (a name or a 0x code)")
        return found
    else:
        raise ValueError(f"{where}: {value!r} is not a {kind}")
    if not 0 <= code <= 0xFFFF:
        raise ValueError(f"{where}: {value!r} is out of the 16-bit range")
    return code


def _list(data: Mapping[str, Any], key: str, source: str) -> list[Any]:
    value = data.get(key, [])
    if isinstance(value, str):
        # Accept OpenSSL-style "A:B:C" and "A, B" lists.
        value = [v for v in value.replace(",", ":").split(":") if v.strip()]
        value = [v.strip() for v in value]
    if not isinstance(value, list):
        raise ValueError(f"{source}: field {key!r} must be a list, not {type(value).__name__}")
    return value


def _int_or_none(data: Mapping[str, Any], key: str, source: str) -> int | None:
    value = data.get(key)
    if value is None or value == -1:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"{source}: field {key!r} must be a positive number of bits, not {value!r}"
        )
    return value


def _bool(data: Mapping[str, Any], key: str, source: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{source}: field {key!r} must be true or false, not {value!r}")
    return value


def _version(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value in reg.VERSIONS:
        return value
    if not isinstance(value, str):
        raise ValueError(f"{where}: {value!r} is not a protocol version")
    try:
        return reg.version_from_name(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def profile_from_yaml(data: Mapping[str, Any], *, source: str) -> ClientProfile:
    """A profile from one YAML mapping (already loaded). ``source`` names it in errors,
    e.g. "clients.yaml, profile 3".

    Fields: ``id`` (required), ``name``, ``versions`` (names: "TLSv1.2", "TLS 1.3",
    "SSLv3"...), ``cipher_suites`` (IANA or OpenSSL names, or 0x codes, in the client's
    order), ``groups`` and ``signature_algorithms`` (names or 0x codes), ``alpn``, ``sni``
    (default true), the limits ``min_dh_bits``, ``max_dh_bits``, ``min_rsa_bits``,
    ``max_rsa_bits``, ``min_ecdsa_bits``, ``requires_sha2``, and ``current``, ``tags``.
    Instead of suites/groups/signature_algorithms/alpn/sni, ``client_hello`` may hold a
    captured hello in hex; ``versions`` (or ``lowest_version``) then says which versions
    the client accepts beyond the one its hello names.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: a profile must be a mapping, not {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in _YAML_FIELDS)
    if unknown:
        raise ValueError(
            f"{source}: unknown field {unknown[0]!r} (known: {', '.join(sorted(_YAML_FIELDS))})"
        )
    pid = data.get("id")
    if not isinstance(pid, str) or not pid.strip():
        raise ValueError(f"{source}: field 'id' is required and must be a non-empty string")
    source = f"{source} (profile {pid!r})"
    name = data.get("name", pid)
    if not isinstance(name, str):
        raise ValueError(f"{source}: field 'name' must be a string")
    tags = _list(data, "tags", source)
    if not all(isinstance(t, str) for t in tags):
        raise ValueError(f"{source}: field 'tags' must be a list of strings")
    limits: dict[str, Any] = {key: _int_or_none(data, key, source) for key in _LIMIT_FIELDS}
    limits["requires_sha2"] = _bool(data, "requires_sha2", source, False)
    limits["current"] = _bool(data, "current", source, False)
    limits["tags"] = tuple(tags)
    versions = tuple(
        _version(v, f"{source}: field 'versions' entry {i + 1}")
        for i, v in enumerate(_list(data, "versions", source))
    )
    lowest = data.get("lowest_version")
    lowest_version = (
        None if lowest is None else _version(lowest, f"{source}: field 'lowest_version'")
    )

    if "client_hello" in data:
        clash = [f for f in _HELLO_FIELDS if f in data]
        if clash:
            raise ValueError(
                f"{source}: field {clash[0]!r} conflicts with 'client_hello' (the hello says it)"
            )
        hex_text = data["client_hello"]
        if not isinstance(hex_text, str):
            raise ValueError(f"{source}: field 'client_hello' must be a hex string")
        try:
            hello = parse_client_hello(bytes_from_hex_dump(hex_text))
            profile = profile_from_captured(
                hello, id=pid, name=name, lowest_version=lowest_version, limits=limits
            )
        except ValueError as exc:
            raise ValueError(f"{source}: field 'client_hello': {exc}") from None
        if versions:
            profile = dataclasses.replace(
                profile, versions=tuple(sorted(set(versions), reverse=True))
            )
        return profile

    if lowest_version is not None:
        raise ValueError(
            f"{source}: 'lowest_version' applies to a 'client_hello'; "
            "without one, list every version in 'versions'"
        )
    if not versions:
        raise ValueError(f"{source}: field 'versions' is required (or give 'client_hello')")
    versions = tuple(sorted(set(versions), reverse=True))
    suites = tuple(
        _code(v, kind="cipher suite", where=f"{source}: field 'cipher_suites' entry {i + 1}")
        for i, v in enumerate(_list(data, "cipher_suites", source))
    )
    if not suites:
        raise ValueError(f"{source}: field 'cipher_suites' is required and must not be empty")
    groups = tuple(
        _code(v, kind="group", where=f"{source}: field 'groups' entry {i + 1}")
        for i, v in enumerate(_list(data, "groups", source))
    )
    sigalgs = tuple(
        _code(
            v,
            kind="signature algorithm",
            where=f"{source}: field 'signature_algorithms' entry {i + 1}",
        )
        for i, v in enumerate(_list(data, "signature_algorithms", source))
    )
    alpn = _list(data, "alpn", source)
    if not all(isinstance(p, str) and 0 < len(p.encode()) < 256 for p in alpn):
        raise ValueError(f"{source}: field 'alpn' must list protocol names such as 'h2'")
    sends_sni = _bool(data, "sni", source, True)
    if c.TLS13 in versions:
        # RFC 8446 section 9.2: a TLS 1.3 ClientHello carries supported_groups,
        # signature_algorithms and a TLS 1.3 cipher suite.
        if not any(s in reg.TLS13_SUITES for s in suites):
            raise ValueError(
                f"{source}: 'versions' has TLSv1.3 but 'cipher_suites' has no TLS 1.3 suite"
            )
        if not groups:
            raise ValueError(f"{source}: 'versions' has TLSv1.3, so field 'groups' is required")
        if not sigalgs:
            raise ValueError(
                f"{source}: 'versions' has TLSv1.3, so field 'signature_algorithms' is required"
            )
    return _synthesize(pid, name, versions, suites, groups, sigalgs, tuple(alpn), sends_sni, limits)


def _synthesize(
    pid: str,
    name: str,
    versions: tuple[int, ...],
    suites: tuple[int, ...],
    groups: tuple[int, ...],
    sigalgs: tuple[int, ...],
    alpn: tuple[str, ...],
    sends_sni: bool,
    limits: Mapping[str, Any],
) -> ClientProfile:
    """A profile for a client known only by its lists: the hello a plain client would send."""
    highest = versions[0]
    sslv2 = c.SSL2 in versions
    legacy = min(highest, c.TLS12)  # RFC 8446 section 4.1.2: legacy_version 0x0303 for 1.3
    extensions: tuple[tuple[int, bytes], ...] = ()
    if not sslv2 and legacy >= c.TLS10:
        has_ec = bool(groups) or any(
            (info := reg.cipher_suite(s)) is not None and "EC" in info.kx for s in suites
        )
        tls13 = c.TLS13 in versions
        spec = ClientHelloSpec(
            server_name="" if sends_sni else None,
            renegotiation_info=b"" if legacy >= c.TLS10 else None,
            supported_groups=groups or None,
            ec_point_formats=(0,) if has_ec else None,
            signature_algorithms=sigalgs or None,
            alpn=alpn or None,
            supported_versions=tuple(v for v in versions if v >= c.TLS10) if tls13 else None,
        )
        extensions = _split_extensions(encode_extensions(spec))
        if tls13:
            # A placeholder entry (no key): spec_for_profile() generates the share.
            first = next((g for g in groups if (gi := reg.GROUPS.get(g)) and gi.tls13), groups[0])
            extensions += ((c.EXT_KEY_SHARE, struct.pack(">HHH", 4, first, 0)),)
    return ClientProfile(
        id=pid,
        name=name,
        versions=versions,
        cipher_suites=suites,
        groups=groups,
        signature_algorithms=sigalgs,
        alpn=alpn,
        sends_sni=sends_sni,
        record_version=c.SSL2 if sslv2 else min(legacy, c.TLS10),
        legacy_version=legacy,
        compression_methods=(0,),
        extensions=extensions,
        sslv2_hello=sslv2,
        ec_point_formats=(0,) if any(t == c.EXT_EC_POINT_FORMATS for t, _ in extensions) else (),
        **dict(limits),
    )


def _split_extensions(block: bytes) -> tuple[tuple[int, bytes], ...]:
    out = []
    pos = 0
    while pos < len(block):
        ext_type, length = struct.unpack_from(">HH", block, pos)
        out.append((ext_type, block[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return tuple(out)


# -- JSON (the built-in profiles) ------------------------------------------------------------


def _hex(code: int) -> str:
    return reg.hex_code(code, 6 if code > 0xFFFF else 4)


def profile_to_json(profile: ClientProfile) -> dict[str, Any]:
    """The JSON form written to clients.json: codes as 0x strings, bodies as hex."""
    return {
        "id": profile.id,
        "name": profile.name,
        "versions": [_hex(v) for v in profile.versions],
        "record_version": _hex(profile.record_version),
        "legacy_version": _hex(profile.legacy_version),
        "sslv2_hello": profile.sslv2_hello,
        "session_id_length": profile.session_id_length,
        "cipher_suites": [_hex(s) for s in profile.cipher_suites],
        "compression_methods": list(profile.compression_methods),
        "extensions": [[_hex(t), body.hex()] for t, body in profile.extensions],
        "groups": [_hex(g) for g in profile.groups],
        "signature_algorithms": [_hex(s) for s in profile.signature_algorithms],
        "alpn": list(profile.alpn),
        "sends_sni": profile.sends_sni,
        "ec_point_formats": list(profile.ec_point_formats),
        "min_dh_bits": profile.min_dh_bits,
        "max_dh_bits": profile.max_dh_bits,
        "min_rsa_bits": profile.min_rsa_bits,
        "max_rsa_bits": profile.max_rsa_bits,
        "min_ecdsa_bits": profile.min_ecdsa_bits,
        "requires_sha2": profile.requires_sha2,
        "current": profile.current,
        "tags": list(profile.tags),
    }


def profile_from_json(data: Mapping[str, Any]) -> ClientProfile:
    def codes(key: str) -> tuple[int, ...]:
        return tuple(int(v, 16) for v in data[key])

    return ClientProfile(
        id=data["id"],
        name=data["name"],
        versions=codes("versions"),
        cipher_suites=codes("cipher_suites"),
        groups=codes("groups"),
        signature_algorithms=codes("signature_algorithms"),
        alpn=tuple(data["alpn"]),
        sends_sni=data["sends_sni"],
        record_version=int(data["record_version"], 16),
        legacy_version=int(data["legacy_version"], 16),
        compression_methods=tuple(data["compression_methods"]),
        extensions=tuple((int(t, 16), bytes.fromhex(b)) for t, b in data["extensions"]),
        sslv2_hello=data["sslv2_hello"],
        ec_point_formats=tuple(data["ec_point_formats"]),
        session_id_length=data["session_id_length"],
        min_dh_bits=data["min_dh_bits"],
        max_dh_bits=data["max_dh_bits"],
        min_rsa_bits=data["min_rsa_bits"],
        max_rsa_bits=data["max_rsa_bits"],
        min_ecdsa_bits=data["min_ecdsa_bits"],
        requires_sha2=data["requires_sha2"],
        current=data["current"],
        tags=tuple(data["tags"]),
    )


def load_profiles_file(text: str) -> tuple[ClientProfile, ...]:
    """Profiles from the text of a clients.json."""
    return tuple(profile_from_json(p) for p in json.loads(text)["profiles"])


@functools.cache
def load_builtin_profiles() -> tuple[ClientProfile, ...]:
    """The built-in profiles (package data, generated by tools/gen_profiles.py)."""
    text = resources.files("scanner.profiles").joinpath(BUILTIN_PROFILES_FILE).read_text("utf-8")
    return load_profiles_file(text)


# -- Replay ----------------------------------------------------------------------------------

# Extensions that carry one past connection's state, never the client's configuration:
# a PSK identity and binder (RFC 8446 section 4.2.11) and the early_data that may only
# come with it (section 4.2.10), and a HelloRetryRequest cookie (section 4.2.2).
_DROPPED = frozenset({c.EXT_PRE_SHARED_KEY, c.EXT_EARLY_DATA, c.EXT_COOKIE})


def _sni_body(server_name: str) -> bytes:
    # RFC 6066 section 3: ServerNameList with one host_name (type 0) entry.
    name = server_name.encode("idna")
    entry = b"\x00" + len(name).to_bytes(2, "big") + name
    return len(entry).to_bytes(2, "big") + entry


def _fresh_key_shares(body: bytes, pool: KeySharePool | None) -> bytes:
    """The key_share body with a new key for every group we can generate; a group we cannot
    keeps its captured key, or is left out when there was none (a placeholder)."""
    entries = []
    for group, captured in decode_key_share(body):
        if reg.is_grease(group):
            entries.append((group, captured))
            continue
        try:
            share = pool.get(group) if pool is not None else generate_key_share(group)
        except LocalProtocolError:
            if captured:
                entries.append((group, captured))
            continue
        entries.append((group, share.public))
    shares = b"".join(struct.pack(">HH", g, len(k)) + k for g, k in entries)
    return len(shares).to_bytes(2, "big") + shares


def _sent_extensions(
    profile: ClientProfile, server_name: str | None, key_share: Callable[[bytes], bytes]
) -> list[tuple[int, bytes]]:
    """The extensions a replay of ``profile``'s hello sends, in the captured order: PSK,
    early_data and cookie dropped (_DROPPED), the server_name rewritten for
    ``server_name`` (or left out: None, or a client that sends none), the key_share body
    given to ``key_share``, a session ticket sent empty, and padding (RFC 7685) resized so
    the extensions keep their captured length, when they can."""
    out: list[tuple[int, bytes]] = []
    padding_at: int | None = None
    for ext_type, body in profile.extensions:
        if ext_type in _DROPPED:
            continue
        if ext_type == c.EXT_SERVER_NAME:
            if server_name is None or not profile.sends_sni:
                continue
            body = _sni_body(server_name)
        elif ext_type == c.EXT_KEY_SHARE:
            body = key_share(body)
        elif ext_type == c.EXT_SESSION_TICKET:
            body = b""
        elif ext_type == c.EXT_PADDING:
            padding_at = len(out)
        out.append((ext_type, body))
    if padding_at is not None:
        captured = sum(4 + len(body) for _, body in profile.extensions)
        size = sum(4 + len(body) for _, body in out)
        missing = len(out[padding_at][1]) + captured - size
        out[padding_at] = (c.EXT_PADDING, bytes(max(0, missing)))
    return out


def live_hello_size(profile: ClientProfile, server_name: str | None) -> int:
    """Bytes of the ClientHello handshake message (4-byte header included, RFC 7685's
    measure) that spec_for_profile sends to ``server_name`` (None: no SNI), by the same
    rules: the SNI rewritten, PSK / early_data / cookie dropped, the ticket sent empty, key
    shares of the same sizes, padding resized to keep the captured extensions' length."""
    if profile.sslv2_hello:
        return 0
    # Key shares of the captured sizes: the size without making keys.
    size = sum(4 + len(body) for _, body in _sent_extensions(profile, server_name, lambda body: body))
    # The encoder sends an extensions vector, even empty, above SSL 3.0 (handshakes/client_hello.py).
    ext = 2 + size if size or profile.legacy_version > c.SSL3 else 0
    return (
        4 + 2 + 32 + 1 + profile.session_id_length + 2 + 2 * len(profile.cipher_suites)
        + 1 + len(profile.compression_methods) + ext
    )


def spec_for_profile(
    profile: ClientProfile, server_name: str | None, *, key_shares: KeySharePool | None = None
) -> ClientHelloSpec:
    """A ClientHelloSpec that sends ``profile``'s real hello to ``server_name``.

    Every captured extension goes out in its captured order (through extra_extensions, so
    the typed fields stay None), except that the server_name is rewritten (or left out when
    ``server_name`` is None or the client sends none), key shares are fresh (from
    ``key_shares`` when given), a session ticket is sent empty, a PSK, early_data and cookie
    are dropped, and padding (RFC 7685) is resized so the hello keeps its captured length.
    The session id is fresh random of the captured length.
    """
    if profile.sslv2_hello:
        return ClientHelloSpec(
            sslv2=True,
            legacy_version=profile.legacy_version,
            record_version=profile.legacy_version,
            cipher_suites=profile.cipher_suites,
            session_id=os.urandom(profile.session_id_length),
        )
    out = _sent_extensions(profile, server_name, lambda body: _fresh_key_shares(body, key_shares))
    return ClientHelloSpec(
        legacy_version=profile.legacy_version,
        record_version=profile.record_version,
        cipher_suites=profile.cipher_suites,
        compression_methods=profile.compression_methods,
        session_id=os.urandom(profile.session_id_length),
        extra_extensions=tuple(out),
    )
