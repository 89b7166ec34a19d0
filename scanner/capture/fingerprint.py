# Naming the client behind a ClientHello: its JA3 and JA4 fingerprints (the strings other
# tools print, so a capture can be matched against their databases) and the nearest of
# the built-in client profiles (scanner/profiles/clients.json).
#
# Rules kept: GREASE values (RFC 8701) are left out of both fingerprints as their
# definitions say; the profile match is deterministic (ties go to the first profile).
from __future__ import annotations

import functools
import hashlib
from typing import Any

from handshakes import constants as c
from handshakes import registry as reg

__all__ = ["ja3", "ja4", "name_client"]

_JA4_VERSIONS = {c.TLS13: "13", c.TLS12: "12", c.TLS11: "11", c.TLS10: "10", c.SSL3: "s3", c.SSL2: "s2"}


def ja3(hello: Any) -> tuple[str, str]:
    """(JA3 string, its MD5): "version,suites,extensions,groups,point formats", each list
    dash-joined decimal in the client's order, GREASE left out."""

    def join(values: tuple[int, ...]) -> str:
        return "-".join(str(v) for v in values if not reg.is_grease(v))

    text = ",".join(
        (
            str(hello.legacy_version),
            join(hello.cipher_suites),
            join(tuple(t for t, _ in hello.extensions)),
            join(hello.groups()),
            join(hello.ec_point_formats()),
        )
    )
    return text, hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _hash12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def ja4(hello: Any) -> str:
    """The JA4 fingerprint (FoxIO's JA4 specification, TLS over TCP): "t13d1516h2_" + the
    hashed sorted suites + "_" + the hashed sorted extensions and signature algorithms."""
    listed = hello.supported_versions()
    versions = [v for v in (listed or (hello.legacy_version,)) if not reg.is_grease(v)]
    version = _JA4_VERSIONS.get(max(versions) if versions else 0, "00")
    sni = "d" if hello.extension(c.EXT_SERVER_NAME) is not None else "i"
    suites = [s for s in hello.cipher_suites if not reg.is_grease(s)]
    exts = [t for t, _ in hello.extensions if not reg.is_grease(t)]
    alpn = hello.alpn()
    first = alpn[0] if alpn else ""
    if not first:
        alpn_code = "00"
    elif first[0].isalnum() and first[-1].isalnum():
        alpn_code = first[0] + first[-1]
    else:
        raw = first.encode()
        alpn_code = f"{raw[0]:02x}"[0] + f"{raw[-1]:02x}"[-1]
    head = f"t{version}{sni}{min(len(suites), 99):02d}{min(len(exts), 99):02d}{alpn_code}"
    suite_part = _hash12(",".join(f"{s:04x}" for s in sorted(suites)))
    ext_list = ",".join(f"{t:04x}" for t in sorted(exts) if t not in (c.EXT_SERVER_NAME, c.EXT_ALPN))
    sigalgs = ",".join(f"{s:04x}" for s in hello.signature_algorithms() if not reg.is_grease(s))
    ext_part = _hash12(ext_list + ("_" + sigalgs if sigalgs else "")) if exts else "000000000000"
    return f"{head}_{suite_part}_{ext_part}"


def _key(suites: tuple[int, ...], groups: tuple[int, ...], sigalgs: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    def clean(v: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(x for x in v if not reg.is_grease(x))

    return clean(suites), clean(groups), clean(sigalgs)


@functools.cache
def _profiles() -> tuple[tuple[str, tuple[tuple[int, ...], ...], frozenset[int]], ...]:
    from scanner.profiles import load_builtin_profiles

    return tuple(
        (p.name, _key(p.cipher_suites, p.groups, p.signature_algorithms), frozenset(t for t, _ in p.extensions))
        for p in load_builtin_profiles()
    )


@functools.cache
def _exact() -> dict[tuple[tuple[int, ...], ...], str]:
    out: dict[tuple[tuple[int, ...], ...], str] = {}
    for name, key, _ in _profiles():
        out.setdefault(key, name)
    return out


@functools.cache
def _closest(key: tuple[tuple[int, ...], ...], exts: frozenset[int]) -> str:
    best, best_score = "", 0.0
    suites = set(key[0])
    groups = set(key[1])
    for name, pkey, pexts in _profiles():
        ps, pg = set(pkey[0]), set(pkey[1])
        score = (
            2 * len(suites & ps) / max(len(suites | ps), 1)
            + len(groups & pg) / max(len(groups | pg), 1)
            + len(exts & pexts) / max(len(exts | pexts), 1)
        ) / 4
        if pkey[0] == key[0]:
            score += 0.25  # the same suites in the same order says much
        if score > best_score:
            best, best_score = name, score
    return f"closest: {best} ({min(round(best_score * 100), 99)}% alike)" if best and best_score >= 0.5 else ""


def name_client(hello: Any) -> str:
    """"exact: NAME" when a built-in profile offers the same suites, groups and signature
    algorithms in the same order; "closest: NAME (n% alike)" otherwise; "" if none is near."""
    key = _key(hello.cipher_suites, hello.groups(), hello.signature_algorithms())
    name = _exact().get(key)
    if name is not None:
        return f"exact: {name}"
    exts = frozenset(t for t, _ in hello.extensions if not reg.is_grease(t))
    return _closest(key, exts)
