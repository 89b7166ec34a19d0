# Policies: a planned server configuration (ServerPolicy) or a planned client restriction
# (ClientPolicy), as frozen values loaded from YAML; the what-if that applies a server
# policy to a scan's capabilities; and a scan's compliance with a server policy.
#
# Rules it keeps: pure functions over frozen values, no sockets. A bad policy file raises
# PolicyError naming the file and the field before anything is computed. The what-if only
# takes away: it keeps what the scan found and removes what the policy forbids (it cannot
# know what a server's software would offer beyond that), except for what a policy sets
# outright: the cipher order, the DH parameter size and, when the current one does not
# fit, the certificate key.
from __future__ import annotations

import dataclasses
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from handshakes import constants as c
from handshakes import registry as reg
from scanner.profiles import ClientProfile
from scanner.profiles.hello import decode_key_share
from scanner.profiles.model import _code, _version  # the one parser of names in user files
from scanner.results import EndpointResult
from scanner.simulate import ServerCapabilities, capabilities_from_result

__all__ = [
    "CertificateRequirement",
    "ClientPolicy",
    "Deviation",
    "PolicyError",
    "ServerPolicy",
    "apply_client_policy",
    "apply_server_policy",
    "compliance",
    "load_client_policy",
    "load_server_policy",
    "server_policy_from_yaml",
    "client_policy_from_yaml",
]

_RANK = {v: i for i, v in enumerate(reg.VERSIONS)}


class PolicyError(ValueError):
    """A policy file that cannot be used: the message names the file and the field."""


# -- Values ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateRequirement:
    """One acceptable certificate key: ``key_type`` "RSA", "EC" (ECDSA), "Ed25519"...,
    at least ``min_bits`` (0: any size), and for EC one of ``curves`` (OpenSSL names such
    as "secp256r1"; empty: any curve)."""

    key_type: str
    min_bits: int = 0
    curves: tuple[str, ...] = ()

    def describe(self) -> str:
        kind = "ECDSA" if self.key_type == "EC" else self.key_type
        if self.curves:
            return f"{kind} " + "/".join(_CURVE_LABELS.get(n, n) for n in self.curves)
        return f"{kind} >= {self.min_bits}" if self.min_bits else kind


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerPolicy:
    """A server configuration to check a scan against, or to try out on it (what-if).

    ``suites`` and ``groups`` are the allowed ones, in the order the server should prefer
    them (None: the policy says nothing about them). ``server_preference`` None leaves the
    order as it is. ``certificates``: any one of them is acceptable (empty: any key).
    ``certificate_signatures``: allowed signature hashes ("sha256"...; empty: any).
    ``dh_bits``: the size of the DH prime the server uses with DHE suites.
    """

    name: str
    source: str
    min_version: int
    max_version: int
    description: str = ""
    suites: tuple[int, ...] | None = None
    groups: tuple[int, ...] | None = None
    server_preference: bool | None = None
    certificates: tuple[CertificateRequirement, ...] = ()
    certificate_signatures: tuple[str, ...] = ()
    dh_bits: int | None = None

    @property
    def versions(self) -> tuple[int, ...]:
        """The versions the policy allows, newest first."""
        low, high = _RANK[self.min_version], _RANK[self.max_version]
        return tuple(v for v in reversed(reg.VERSIONS) if low <= _RANK[v] <= high)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientPolicy:
    """A restriction planned for a client: its ``base`` profile with overrides. The suites
    are the base's (in its order) that pass every filter: ``cipher_suites`` (an explicit
    allowed list), ``aead_only``, ``forward_secrecy``."""

    name: str
    source: str
    base: str
    description: str = ""
    min_version: int | None = None
    max_version: int | None = None
    cipher_suites: tuple[int, ...] | None = None
    aead_only: bool = False
    forward_secrecy: bool = False
    groups: tuple[int, ...] | None = None
    min_rsa_bits: int | None = None
    min_dh_bits: int | None = None
    min_ecdsa_bits: int | None = None
    requires_sha2: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Deviation:
    """One way a scanned endpoint differs from a policy. ``kind`` is one of DEVIATION_KINDS;
    ``version`` and ``code`` (a suite or group) say what it is about, when it is about one."""

    kind: str
    message: str
    version: int | None = None
    code: int | None = None


DEVIATION_KINDS = (
    "not_scanned",
    "version_enabled",
    "version_missing",
    "suite_not_allowed",
    "suite_missing",
    "group_not_allowed",
    "group_missing",
    "order",
    "certificate_key",
    "certificate_signature",
    "dh_size",
)

# -- YAML ------------------------------------------------------------------------------------

# Curve spellings: OpenSSL, NIST and SEC names of the curves certificates use.
_CURVES = {
    "prime256v1": "secp256r1",
    "secp256r1": "secp256r1",
    "p-256": "secp256r1",
    "p256": "secp256r1",
    "secp384r1": "secp384r1",
    "p-384": "secp384r1",
    "p384": "secp384r1",
    "secp521r1": "secp521r1",
    "p-521": "secp521r1",
    "p521": "secp521r1",
}
_CURVE_LABELS = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_CURVE_BITS = {"secp256r1": 256, "secp384r1": 384, "secp521r1": 521}
_KEY_TYPES = {"rsa": "RSA", "ecdsa": "EC", "ec": "EC", "ed25519": "Ed25519", "ed448": "Ed448", "dsa": "DSA"}
_HASHES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")

_SERVER_FIELDS = frozenset(
    {
        "name", "description", "min_version", "max_version", "cipher_suites", "groups",
        "server_preference", "certificate", "certificate_signatures", "dh_bits",
    }
)
_CLIENT_FIELDS = frozenset(
    {
        "name", "description", "base", "min_version", "max_version", "cipher_suites",
        "groups", "min_rsa_bits", "min_dh_bits", "min_ecdsa_bits", "requires_sha2",
    }
)
_SUITE_FILTERS = frozenset({"aead_only", "forward_secrecy", "allow"})


def _read_yaml(path: str | Path) -> tuple[Any, str]:
    from scanner.yamlsafe import YamlError, load_yaml_file

    source = str(path)
    try:
        return load_yaml_file(path), source
    except YamlError as exc:
        raise PolicyError(str(exc)) from None


def _mapping(data: Any, source: str, known: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise PolicyError(f"{source}: a policy must be a mapping of fields, not {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise PolicyError(f"{source}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
    return data


def _field(source: str, name: str) -> str:
    return f"{source}: field {name!r}"


def _codes(value: Any, kind: str, where: str) -> tuple[int, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.replace(",", ":").split(":") if v.strip()]
    if not isinstance(value, list) or not value:
        raise PolicyError(f"{where} must be a non-empty list of {kind} names or 0x codes")
    try:
        return tuple(
            _code(v, kind=kind, where=f"{where} entry {i + 1}") for i, v in enumerate(value)
        )
    except ValueError as exc:
        raise PolicyError(str(exc)) from None


def _opt_version(data: Mapping[str, Any], key: str, source: str) -> int | None:
    if data.get(key) is None:
        return None
    try:
        return _version(data[key], _field(source, key))
    except ValueError as exc:
        raise PolicyError(str(exc)) from None


def _bits(data: Mapping[str, Any], key: str, where: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PolicyError(f"{where} must be a positive number of bits, not {value!r}")
    return value


def _opt_bool(data: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise PolicyError(f"{where} must be true or false, not {value!r}")
    return value


def _text(data: Mapping[str, Any], key: str, source: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise PolicyError(f"{_field(source, key)} must be a string")
    return value


def _certificates(value: Any, source: str) -> tuple[CertificateRequirement, ...]:
    where = _field(source, "certificate")
    items = value if isinstance(value, list) else [value]
    out = []
    for i, item in enumerate(items):
        at = f"{where} entry {i + 1}" if isinstance(value, list) else where
        if not isinstance(item, Mapping):
            raise PolicyError(f"{at} must be a mapping such as {{type: RSA, min_bits: 2048}}")
        extra = sorted(str(k) for k in item if k not in ("type", "min_bits", "curves"))
        if extra:
            raise PolicyError(f"{at}: unknown key {extra[0]!r} (known: type, min_bits, curves)")
        raw = item.get("type")
        key_type = _KEY_TYPES.get(str(raw).strip().lower()) if isinstance(raw, str) else None
        if key_type is None:
            raise PolicyError(f"{at}: 'type' must be one of RSA, ECDSA, Ed25519, Ed448, DSA, not {raw!r}")
        min_bits = _bits(item, "min_bits", f"{at}: 'min_bits'") or 0
        curves_raw = item.get("curves", [])
        if isinstance(curves_raw, str):
            curves_raw = [curves_raw]
        if not isinstance(curves_raw, list):
            raise PolicyError(f"{at}: 'curves' must be a list of curve names")
        curves = []
        for name in curves_raw:
            curve = _CURVES.get(str(name).strip().lower())
            if curve is None:
                raise PolicyError(
                    f"{at}: unknown curve {name!r} (prime256v1/secp256r1/P-256, secp384r1, secp521r1)"
                )
            curves.append(curve)
        if curves and key_type != "EC":
            raise PolicyError(f"{at}: 'curves' applies to ECDSA keys only")
        out.append(CertificateRequirement(key_type=key_type, min_bits=min_bits, curves=tuple(curves)))
    return tuple(out)


def server_policy_from_yaml(data: Any, *, source: str) -> ServerPolicy:
    """A ServerPolicy from loaded YAML; ``source`` names it in errors (the file name).
    The format is described in docs/audit.md."""
    d = _mapping(data, source, _SERVER_FIELDS)
    low = _opt_version(d, "min_version", source)
    high = _opt_version(d, "max_version", source)
    if low is None:
        raise PolicyError(f"{_field(source, 'min_version')} is required (e.g. TLSv1.2)")
    high = high if high is not None else c.TLS13
    if _RANK[low] > _RANK[high]:
        raise PolicyError(
            f"{_field(source, 'min_version')}: {reg.version_name(low)} is above "
            f"max_version {reg.version_name(high)}"
        )
    suites = groups = None
    if d.get("cipher_suites") is not None:
        suites = _codes(d["cipher_suites"], "cipher suite", _field(source, "cipher_suites"))
    if d.get("groups") is not None:
        groups = _codes(d["groups"], "group", _field(source, "groups"))
    signatures = d.get("certificate_signatures", [])
    if isinstance(signatures, str):
        signatures = [signatures]
    if not isinstance(signatures, list) or any(
        str(s).strip().lower().replace("-", "") not in _HASHES for s in signatures
    ):
        raise PolicyError(
            f"{_field(source, 'certificate_signatures')} must list hashes among {', '.join(_HASHES)}"
        )
    return ServerPolicy(
        name=_text(d, "name", source, Path(source).stem),
        source=source,
        description=_text(d, "description", source, ""),
        min_version=low,
        max_version=high,
        suites=suites,
        groups=groups,
        server_preference=_opt_bool(d, "server_preference", _field(source, "server_preference")),
        certificates=_certificates(d["certificate"], source) if d.get("certificate") else (),
        certificate_signatures=tuple(str(s).strip().lower().replace("-", "") for s in signatures),
        dh_bits=_bits(d, "dh_bits", _field(source, "dh_bits")),
    )


def client_policy_from_yaml(data: Any, *, source: str) -> ClientPolicy:
    """A ClientPolicy from loaded YAML (format in docs/audit.md)."""
    d = _mapping(data, source, _CLIENT_FIELDS)
    base = d.get("base")
    if not isinstance(base, str) or not base.strip():
        raise PolicyError(f"{_field(source, 'base')} is required: the id of a client profile")
    low = _opt_version(d, "min_version", source)
    high = _opt_version(d, "max_version", source)
    if low is not None and high is not None and _RANK[low] > _RANK[high]:
        raise PolicyError(f"{_field(source, 'min_version')} is above max_version")
    suites: tuple[int, ...] | None = None
    aead = fs = False
    raw = d.get("cipher_suites")
    where = _field(source, "cipher_suites")
    if isinstance(raw, Mapping):
        extra = sorted(str(k) for k in raw if k not in _SUITE_FILTERS)
        if extra:
            raise PolicyError(
                f"{where}: unknown key {extra[0]!r} (known: {', '.join(sorted(_SUITE_FILTERS))})"
            )
        aead = bool(_opt_bool(raw, "aead_only", f"{where}: 'aead_only'"))
        fs = bool(_opt_bool(raw, "forward_secrecy", f"{where}: 'forward_secrecy'"))
        if raw.get("allow") is not None:
            suites = _codes(raw["allow"], "cipher suite", f"{where}: 'allow'")
    elif raw is not None:
        suites = _codes(raw, "cipher suite", where)
    groups = _codes(d["groups"], "group", _field(source, "groups")) if d.get("groups") is not None else None
    return ClientPolicy(
        name=_text(d, "name", source, Path(source).stem),
        source=source,
        base=base.strip(),
        description=_text(d, "description", source, ""),
        min_version=low,
        max_version=high,
        cipher_suites=suites,
        aead_only=aead,
        forward_secrecy=fs,
        groups=groups,
        min_rsa_bits=_bits(d, "min_rsa_bits", _field(source, "min_rsa_bits")),
        min_dh_bits=_bits(d, "min_dh_bits", _field(source, "min_dh_bits")),
        min_ecdsa_bits=_bits(d, "min_ecdsa_bits", _field(source, "min_ecdsa_bits")),
        requires_sha2=_opt_bool(d, "requires_sha2", _field(source, "requires_sha2")),
    )


def load_server_policy(path: str | Path) -> ServerPolicy:
    data, source = _read_yaml(path)
    return server_policy_from_yaml(data, source=source)


def load_client_policy(path: str | Path) -> ClientPolicy:
    data, source = _read_yaml(path)
    return client_policy_from_yaml(data, source=source)


# -- The what-if -----------------------------------------------------------------------------


def _cert_fits(req: CertificateRequirement, key_type: str, bits: int, curve: str | None) -> bool:
    if _norm_key(key_type) != req.key_type:
        return False
    if req.curves:
        return curve is not None and _CURVES.get(curve.lower(), curve) in req.curves
    return not req.min_bits or bits >= req.min_bits


def _norm_key(key_type: str) -> str:
    return _KEY_TYPES.get(key_type.strip().lower(), key_type)


def _filter_order(
    current: tuple[int, ...], allowed: tuple[int, ...] | None, policy_order: bool
) -> tuple[int, ...]:
    if allowed is None:
        return current
    if policy_order:
        return tuple(x for x in allowed if x in current)
    return tuple(x for x in current if x in allowed)


def apply_server_policy(
    caps: ServerCapabilities, policy: ServerPolicy, *, cert_curve: str | None = None
) -> ServerCapabilities:
    """The server after the change ``policy`` describes (see the module comment).

    Versions, suites and groups: what the server accepts today that the policy allows; in
    the policy's order when the policy makes the server impose its order. A version whose
    groups the scan did not enumerate gets the policy's groups. The certificate: kept when
    it meets one of the policy's requirements, else replaced by a key of the first one
    (signed with the first allowed hash). ``cert_curve`` is the current key's curve.
    """
    allowed = set(policy.versions)
    versions = tuple(v for v in caps.versions if v in allowed)
    preference = dict(caps.server_preference)
    if policy.server_preference is not None:
        preference = {v: policy.server_preference for v in versions}
    suites = {
        v: _filter_order(caps.suites.get(v, ()), policy.suites, preference.get(v, False))
        for v in versions
    }
    groups: dict[int, tuple[int, ...]] = {}
    for v in versions:
        current = caps.groups.get(v, ())
        if not current and policy.groups is not None:
            groups[v] = policy.groups
        elif current:
            groups[v] = _filter_order(current, policy.groups, preference.get(v, False))
    key_type, bits, sig_hash = caps.cert_key_type, caps.cert_key_bits, caps.cert_signature_hash
    if policy.certificates and key_type and not any(
        _cert_fits(r, key_type, bits, cert_curve) for r in policy.certificates
    ):
        first = policy.certificates[0]
        key_type = first.key_type
        bits = _CURVE_BITS.get(first.curves[0], 256) if first.curves else first.min_bits or bits
        sig_hash = policy.certificate_signatures[0] if policy.certificate_signatures else "sha256"
    elif policy.certificate_signatures and (sig_hash or "") not in policy.certificate_signatures:
        sig_hash = policy.certificate_signatures[0]
    dh_bits = caps.dh_bits
    if policy.dh_bits is not None:
        dh_bits = policy.dh_bits
    return dataclasses.replace(
        caps,
        versions=versions,
        suites=MappingProxyType(suites),
        server_preference=MappingProxyType(preference),
        groups=MappingProxyType(groups),
        cert_key_type=key_type,
        cert_key_bits=bits,
        cert_signature_hash=sig_hash,
        dh_bits=dh_bits,
    )


def leaf_curve(result: EndpointResult) -> str | None:
    """The curve of the leaf certificate's key (EC keys), as capabilities_from_result
    picks the chain: the one sent for the scan's SNI first."""
    chains = sorted(result.certificates, key=lambda ch: ch.sni != result.sni)
    if chains and chains[0].certificates:
        return getattr(chains[0].certificates[0], "key_curve", None)
    return None


# -- Compliance ------------------------------------------------------------------------------


def _suite_label(code: int) -> str:
    info = reg.cipher_suite(code)
    name = reg.cipher_suite_name(code)
    return f"{name} ({info.openssl})" if info is not None and info.openssl and info.openssl != name else name


def _fits_cert(code: int, key_type: str) -> bool:
    """Whether a suite can be served with the server's certificate key (RFC 5246 section
    7.4.2; TLS 1.3 suites do not depend on it)."""
    info = reg.cipher_suite(code)
    if info is None or not key_type or info.auth in ("any", "anon", "PSK"):
        return True
    needed = {"RSA": "RSA", "ECDSA": "EC", "DSS": "DSA"}.get(info.auth)
    return needed is None or needed == _norm_key(key_type)


def compliance(result: EndpointResult, policy: ServerPolicy) -> tuple[Deviation, ...]:
    """Every way the scanned endpoint differs from ``policy``, most important first:
    versions, suites, groups, order, certificate, DH parameters."""
    if result.outcome != "ok":
        detail = f" ({result.detail})" if result.detail else ""
        return (Deviation(kind="not_scanned", message=f"no TLS to check: {result.outcome}{detail}"),)
    caps = capabilities_from_result(result)
    out: list[Deviation] = []
    allowed = policy.versions
    for v in caps.versions:
        if v in allowed:
            continue
        low = _RANK[v] < _RANK[policy.min_version]
        which, limit = ("minimum", policy.min_version) if low else ("maximum", policy.max_version)
        out.append(
            Deviation(
                kind="version_enabled",
                version=v,
                message=f"{reg.version_name(v)} enabled but the policy's {which} is "
                f"{reg.version_name(limit)}",
            )
        )
    for v in allowed:
        if v not in caps.versions and v >= c.TLS10:
            out.append(
                Deviation(
                    kind="version_missing",
                    version=v,
                    message=f"{reg.version_name(v)} not enabled but the policy includes it",
                )
            )
    enabled = [v for v in caps.versions if v in allowed]
    if policy.suites is not None:
        permitted = set(policy.suites)
        accepted: set[int] = set()
        for v in enabled:
            for s in caps.suites.get(v, ()):
                accepted.add(s)
                if s not in permitted:
                    out.append(
                        Deviation(
                            kind="suite_not_allowed",
                            version=v,
                            code=s,
                            message=f"suite {_suite_label(s)} accepted in {reg.version_name(v)} "
                            "but not allowed",
                        )
                    )
        for s in policy.suites:
            info = reg.cipher_suite(s)
            usable = info is not None and any(v in info.versions for v in enabled)
            if usable and s not in accepted and _fits_cert(s, caps.cert_key_type):
                out.append(
                    Deviation(kind="suite_missing", code=s, message=f"missing required suite {_suite_label(s)}")
                )
    if policy.groups is not None:
        permitted = set(policy.groups)
        # TLS 1.0..1.2 share one curve list (see capabilities_from_result): check it once.
        legacy = [v for v in enabled if v != c.TLS13][:1]
        for v in [v for v in enabled if v == c.TLS13] + legacy:
            found = caps.groups.get(v, ())
            if not found or (v != c.TLS13 and not _has_ecdhe(caps.suites.get(v, ()))):
                continue
            for g in found:
                if g not in permitted:
                    out.append(
                        Deviation(
                            kind="group_not_allowed",
                            version=v,
                            code=g,
                            message=f"group {reg.group_name(g)} accepted in {reg.version_name(v)} "
                            "but not allowed",
                        )
                    )
            for g in policy.groups:
                kind = reg.GROUPS[g].kind if g in reg.GROUPS else ""
                if g not in found and (v == c.TLS13 or kind != "ffdhe"):
                    out.append(
                        Deviation(
                            kind="group_missing",
                            version=v,
                            code=g,
                            message=f"group {reg.group_name(g)} missing in {reg.version_name(v)}",
                        )
                    )
    if policy.server_preference is not None:
        for v in enabled:
            if v not in caps.server_preference or len(caps.suites.get(v, ())) < 2:
                continue
            imposes = caps.server_preference[v]
            if imposes != policy.server_preference:
                text = (
                    f"the server imposes its own cipher order in {reg.version_name(v)} but the "
                    "policy leaves the choice to the client"
                    if imposes
                    else f"the server follows the client's cipher order in {reg.version_name(v)} "
                    "but the policy requires the server's order"
                )
                out.append(Deviation(kind="order", version=v, message=text))
    out.extend(_certificate_deviations(result, caps, policy))
    uses_dhe = any(
        (info := reg.cipher_suite(s)) is not None and info.kx == "DHE"
        for v in enabled
        for s in caps.suites.get(v, ())
    )
    if policy.dh_bits is not None and uses_dhe and caps.dh_bits is not None:
        if caps.dh_bits != policy.dh_bits:
            out.append(
                Deviation(
                    kind="dh_size",
                    message=f"DH parameters of {caps.dh_bits} bits but the policy sets "
                    f"{policy.dh_bits}",
                )
            )
    return tuple(out)


def _has_ecdhe(suites: Sequence[int]) -> bool:
    return any((info := reg.cipher_suite(s)) is not None and info.kx == "ECDHE" for s in suites)


def _certificate_deviations(
    result: EndpointResult, caps: ServerCapabilities, policy: ServerPolicy
) -> list[Deviation]:
    out = []
    key_type, bits = caps.cert_key_type, caps.cert_key_bits
    curve = leaf_curve(result)
    if policy.certificates and key_type and not any(
        _cert_fits(r, key_type, bits, curve) for r in policy.certificates
    ):
        kind = _norm_key(key_type)
        shown = "ECDSA" if kind == "EC" else kind
        size = _CURVE_LABELS.get(_CURVES.get((curve or "").lower(), ""), "") if kind == "EC" else ""
        have = f"{shown} {size or bits}".strip()
        wanted = " or ".join(r.describe() for r in policy.certificates)
        out.append(
            Deviation(
                kind="certificate_key",
                message=f"certificate key {have} but policy requires {wanted}",
            )
        )
    sig = (caps.cert_signature_hash or "").lower().replace("-", "")
    if policy.certificate_signatures and sig and sig not in policy.certificate_signatures:
        out.append(
            Deviation(
                kind="certificate_signature",
                message=f"certificate signed with {sig.upper()} but the policy allows "
                f"{', '.join(h.upper() for h in policy.certificate_signatures)}",
            )
        )
    return out


# -- The client direction --------------------------------------------------------------------


def _forward_secret(info: reg.CipherSuite) -> bool:
    # TLS 1.3 key exchange is always (EC)DHE (RFC 8446 section 2); kx "any" marks its suites.
    return info.kx in ("ECDHE", "DHE", "any", "ECDHEPSK", "DHEPSK")


def _suite_kept(code: int, policy: ClientPolicy, versions: tuple[int, ...]) -> bool:
    info = reg.cipher_suite(code)
    if info is None:
        return False
    if info.is_scsv:
        return True
    if not any(v in info.versions for v in versions):
        return False
    if policy.cipher_suites is not None and code not in policy.cipher_suites:
        return False
    if policy.aead_only and not info.is_aead:
        return False
    return not (policy.forward_secrecy and not _forward_secret(info))


def _u16s(values: Sequence[int], length_bytes: int) -> bytes:
    data = struct.pack(f">{len(values)}H", *values)
    return len(data).to_bytes(length_bytes, "big") + data


def apply_client_policy(base: ClientProfile, policy: ClientPolicy) -> ClientProfile:
    """``base`` restricted by ``policy``: a profile whose hello is still the base's, with
    its version, suite and group lists cut down (so it can be sent live as well).
    Raises PolicyError when nothing would be left to offer."""
    where = f"{policy.source}: client policy {policy.name!r}"
    low = _RANK[policy.min_version] if policy.min_version is not None else -1
    high = _RANK[policy.max_version] if policy.max_version is not None else 99
    versions = tuple(v for v in base.versions if low <= _RANK.get(v, -1) <= high)
    if not versions:
        raise PolicyError(f"{where}: no version of {base.id} is within min_version..max_version")
    suites = tuple(s for s in base.cipher_suites if _suite_kept(s, policy, versions))
    real = [s for s in suites if (info := reg.cipher_suite(s)) is not None and not info.is_scsv]
    if not real:
        raise PolicyError(f"{where}: no cipher suite of {base.id} passes the policy's filters")
    groups = base.groups
    if policy.groups is not None:
        groups = tuple(g for g in base.groups if g in policy.groups or reg.is_grease(g))
    tls13 = c.TLS13 in versions
    extensions = []
    for ext_type, body in base.extensions:
        if ext_type == c.EXT_SUPPORTED_VERSIONS:
            if not tls13:
                continue  # RFC 8446 section 4.2.1: a pre-1.3 client sends no such extension
            listed = [v for v in struct.unpack(f">{(len(body) - 1) // 2}H", body[1:])
                      if reg.is_grease(v) or v in versions]
            body = bytes([2 * len(listed)]) + struct.pack(f">{len(listed)}H", *listed)
        elif ext_type in (c.EXT_KEY_SHARE, c.EXT_PSK_KEY_EXCHANGE_MODES) and not tls13:
            continue
        elif ext_type == c.EXT_SUPPORTED_GROUPS and policy.groups is not None:
            body = _u16s(groups, 2)
        elif ext_type == c.EXT_KEY_SHARE and policy.groups is not None:
            entries = [(g, k) for g, k in decode_key_share(body) if g in groups]
            shares = b"".join(struct.pack(">HH", g, len(k)) + k for g, k in entries)
            body = len(shares).to_bytes(2, "big") + shares
        extensions.append((ext_type, body))
    legacy = min(base.legacy_version, versions[0] if versions[0] != c.TLS13 else c.TLS12)
    limits: dict[str, Any] = {}
    for name in ("min_rsa_bits", "min_dh_bits", "min_ecdsa_bits"):
        value = getattr(policy, name)
        if value is not None:
            limits[name] = max(value, getattr(base, name) or 0)
    if policy.requires_sha2 is not None:
        limits["requires_sha2"] = policy.requires_sha2
    return dataclasses.replace(
        base,
        id=policy.name,
        name=f"{base.name} under {policy.name}",
        versions=versions,
        cipher_suites=suites,
        groups=groups,
        legacy_version=legacy,
        record_version=min(base.record_version, legacy),
        extensions=tuple(extensions),
        **limits,
    )
