# Code -> facts for display and policy: protocol versions, cipher suites, named groups,
# signature schemes, extensions, handshake types and alerts.
#
# Rules it keeps: wire numbers stay ints everywhere else; this module only turns them into
# names and facts. An unknown code is data, never an error: every *_name() function falls
# back to hex_code(). The facts live in _registry_data.py, generated from the reference files
# by tools/gen_registry.py (`make registry`); here they are only wrapped in frozen types,
# once, at import.
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from handshakes import _registry_data as _data
from handshakes.constants import (
    SSL2,
    SSL3,
    TLS10,
    TLS11,
    TLS12,
    TLS13,
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
    TLS_FALLBACK_SCSV,
)

__all__ = [
    "ALERTS",
    "CIPHER_SUITES",
    "EXTENSION_NAMES",
    "GREASE_VALUES",
    "GROUPS",
    "HANDSHAKE_TYPE_NAMES",
    "SIGNATURE_SCHEMES",
    "TLS13_SUITES",
    "VERSIONS",
    "AlertDescription",
    "CipherSuite",
    "NamedGroup",
    "SignatureScheme",
    "alert_meaning",
    "alert_name",
    "cipher_suite",
    "cipher_suite_by_name",
    "cipher_suite_name",
    "extension_name",
    "group_name",
    "handshake_type_name",
    "hex_code",
    "is_grease",
    "signature_scheme_name",
    "suites_for_version",
    "version_from_name",
    "version_name",
]


def hex_code(code: int, width: int = 4) -> str:
    """`0xC02F`: upper-case hex digits, `width` of them (6 for SSLv2 kinds, 2 for alerts)."""
    return f"0x{code:0{width}X}"


# --- Protocol versions (RFC 8446 section 4.2.1; RFC 6101 appendix E for SSL 2.0) ----------

VERSIONS: tuple[int, ...] = (SSL2, SSL3, TLS10, TLS11, TLS12, TLS13)

_VERSION_NAMES: Mapping[int, str] = MappingProxyType(
    {
        SSL2: "SSLv2",
        SSL3: "SSLv3",
        TLS10: "TLSv1.0",
        TLS11: "TLSv1.1",
        TLS12: "TLSv1.2",
        TLS13: "TLSv1.3",
    }
)

# Spellings after lower-casing and dropping "v", spaces, "_" and "-": "tls1.2", "ssl3", "1.2".
_VERSION_SPELLINGS: Mapping[str, int] = MappingProxyType(
    {
        "ssl2": SSL2, "ssl2.0": SSL2, "ssl20": SSL2, "2.0": SSL2,
        "ssl3": SSL3, "ssl3.0": SSL3, "ssl30": SSL3, "3.0": SSL3,
        "tls1": TLS10, "tls1.0": TLS10, "tls10": TLS10, "1.0": TLS10,
        "tls1.1": TLS11, "tls11": TLS11, "1.1": TLS11,
        "tls1.2": TLS12, "tls12": TLS12, "1.2": TLS12,
        "tls1.3": TLS13, "tls13": TLS13, "1.3": TLS13,
    }
)


def version_name(v: int) -> str:
    """"TLSv1.2" and friends; anything else (a TLS 1.3 draft, garbage) as hex."""
    return _VERSION_NAMES.get(v) or hex_code(v)


def version_from_name(name: str) -> int:
    """Parse "TLSv1.2", "tls1.2", "TLS 1.2", "1.2", "ssl3", "SSLv3", "0x0303"..."""
    key = name.strip().lower()
    for junk in ("v", " ", "_", "-"):
        key = key.replace(junk, "")
    version = _VERSION_SPELLINGS.get(key)
    if version is None and key.startswith("0x"):
        try:
            number = int(key, 16)
        except ValueError:
            number = -1
        if number in _VERSION_NAMES:
            version = number
    if version is None:
        known = ", ".join(_VERSION_NAMES.values())
        raise ValueError(f"unknown protocol version {name!r}: expected one of {known}")
    return version


# --- Cipher suites (IANA TLS Cipher Suites; SSLv2 draft appendix A for 3-byte kinds) ------

_SCSVS = frozenset({TLS_EMPTY_RENEGOTIATION_INFO_SCSV, TLS_FALLBACK_SCSV})


@dataclass(frozen=True, slots=True, kw_only=True)
class CipherSuite:
    """One cipher suite. `code` is the 2-byte TLS code, or the 3-byte SSLv2 kind (> 0xFFFF).

    `iana` is the IANA name (the SSL_CK_ name for SSLv2 kinds; the OpenSSL name for the few
    GOST suites without one); `openssl` is "" where OpenSSL never named the suite.
    `versions` holds every version in which the suite can be negotiated.
    """

    code: int
    iana: str
    openssl: str
    kx: str
    auth: str
    enc: str
    bits: int
    mac: str
    versions: frozenset[int]

    @property
    def is_ssl2(self) -> bool:
        return self.code > 0xFFFF

    @property
    def is_scsv(self) -> bool:
        return self.code in _SCSVS

    @property
    def is_aead(self) -> bool:
        return self.mac == "AEAD"

    @property
    def is_export(self) -> bool:
        return "EXPORT" in self.iana.upper() or self.openssl.upper().startswith("EXP")

    @property
    def is_anonymous(self) -> bool:
        return self.auth == "anon"

    @property
    def is_null(self) -> bool:
        return self.enc == "NULL"

    @property
    def weaknesses(self) -> tuple[str, ...]:
        """Subset of ("null", "anonymous", "export", "rc4", "des", "3des", "md5"), that order."""
        flags = (
            ("null", self.is_null),
            ("anonymous", self.is_anonymous),
            ("export", self.is_export),
            ("rc4", self.enc == "RC4"),
            ("des", self.enc == "DES"),
            ("3des", self.enc == "3DES"),
            ("md5", self.mac == "MD5"),
        )
        return tuple(name for name, present in flags if present)


CIPHER_SUITES: Mapping[int, CipherSuite] = MappingProxyType(
    {
        row[0]: CipherSuite(
            code=row[0],
            iana=row[1],
            openssl=row[2],
            kx=row[3],
            auth=row[4],
            enc=row[5],
            bits=row[6],
            mac=row[7],
            versions=frozenset(row[8]),
        )
        for row in _data.CIPHER_SUITE_ROWS
    }
)


def _suites_by_version() -> Mapping[int, tuple[int, ...]]:
    by_version: dict[int, list[int]] = {v: [] for v in VERSIONS}
    for suite in CIPHER_SUITES.values():
        for v in suite.versions:
            by_version.setdefault(v, []).append(suite.code)
    return MappingProxyType({v: tuple(codes) for v, codes in by_version.items()})


def _suites_by_name() -> Mapping[str, CipherSuite]:
    names: dict[str, CipherSuite] = {}
    for suite in CIPHER_SUITES.values():
        names.setdefault(suite.iana.upper(), suite)
    # OpenSSL reuses names across SSLv2 and TLS ("RC4-MD5"): the TLS suite wins.
    for suite in sorted(CIPHER_SUITES.values(), key=lambda s: s.is_ssl2):
        if suite.openssl:
            names.setdefault(suite.openssl.upper(), suite)
    return MappingProxyType(names)


_SUITES_BY_VERSION = _suites_by_version()
_SUITES_BY_NAME = _suites_by_name()

# RFC 8446 section B.4.
TLS13_SUITES: tuple[int, ...] = tuple(sorted(_SUITES_BY_VERSION[TLS13]))


def cipher_suite(code: int) -> CipherSuite | None:
    return CIPHER_SUITES.get(code)


def cipher_suite_name(code: int) -> str:
    suite = CIPHER_SUITES.get(code)
    if suite is not None:
        return suite.iana
    return hex_code(code, 6 if code > 0xFFFF else 4)


def cipher_suite_by_name(name: str) -> CipherSuite | None:
    """Look a suite up by IANA or OpenSSL name, case-insensitively."""
    return _SUITES_BY_NAME.get(name.strip().upper())


def suites_for_version(version: int) -> tuple[int, ...]:
    """Every non-SCSV suite negotiable in `version`, in reference-file order (SSL2: kinds)."""
    return _SUITES_BY_VERSION.get(version, ())


# --- Named groups (IANA TLS Supported Groups; RFC 8446 section 4.2.7) --------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NamedGroup:
    """`kind`: "ecdhe", "x", "ffdhe", "hybrid", "gost", "sm2" or "legacy". `bits`: the
    security-relevant size (for hybrids, of the classical part). `tls13`: usable in TLS 1.3."""

    code: int
    name: str
    kind: str
    bits: int
    tls13: bool


GROUPS: Mapping[int, NamedGroup] = MappingProxyType(
    {
        code: NamedGroup(code=code, name=name, kind=kind, bits=bits, tls13=tls13)
        for code, name, kind, bits, tls13 in _data.GROUP_ROWS
    }
)


def group_name(code: int) -> str:
    group = GROUPS.get(code)
    return group.name if group is not None else hex_code(code)


# --- Signature schemes (RFC 8446 section 4.2.3; RFC 5246 section 7.4.1.4.1 pairs) --------


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureScheme:
    code: int
    name: str


SIGNATURE_SCHEMES: Mapping[int, SignatureScheme] = MappingProxyType(
    {code: SignatureScheme(code=code, name=name) for code, name in _data.SIGNATURE_SCHEME_ROWS}
)


def signature_scheme_name(code: int) -> str:
    scheme = SIGNATURE_SCHEMES.get(code)
    return scheme.name if scheme is not None else hex_code(code)


# --- GREASE (RFC 8701 section 2: 0x0A0A, 0x1A1A, ... 0xFAFA) -----------------------------

GREASE_VALUES: tuple[int, ...] = tuple(0x0A0A + 0x1010 * i for i in range(16))


def is_grease(code: int) -> bool:
    return code & 0x0F0F == 0x0A0A and code >> 8 == code & 0xFF


# --- Extensions and handshake types (IANA TLS ExtensionType / HandshakeType) -------------

EXTENSION_NAMES: Mapping[int, str] = MappingProxyType(
    dict(_data.EXTENSION_ROWS) | {code: "GREASE" for code in GREASE_VALUES}
)


def extension_name(code: int) -> str:
    return EXTENSION_NAMES.get(code) or hex_code(code)


HANDSHAKE_TYPE_NAMES: Mapping[int, str] = MappingProxyType(dict(_data.HANDSHAKE_TYPE_ROWS))


def handshake_type_name(code: int) -> str:
    return HANDSHAKE_TYPE_NAMES.get(code) or hex_code(code, 2)


# --- Alerts (RFC 8446 section 6, plus the SSL 3.0 / TLS 1.2 legacy descriptions) ---------


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertDescription:
    code: int
    name: str
    meaning: str  # one sentence, for a person reading a report


ALERTS: Mapping[int, AlertDescription] = MappingProxyType(
    {
        code: AlertDescription(code=code, name=name, meaning=meaning)
        for code, name, meaning in _data.ALERT_ROWS
    }
)

_UNKNOWN_ALERT = "Unknown alert description (not in the IANA registry)."


def alert_name(code: int) -> str:
    alert = ALERTS.get(code)
    return alert.name if alert is not None else hex_code(code, 2)


def alert_meaning(code: int) -> str:
    alert = ALERTS.get(code)
    return alert.meaning if alert is not None else _UNKNOWN_ALERT
