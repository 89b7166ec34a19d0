# The audit: for each scanned endpoint and each client profile, what the client negotiates
# today (before) and after a planned change (after), computed offline from the scan's
# enumerated capabilities; plus the endpoint's compliance with the policy, and the client
# direction (which endpoints a restricted client would fail to reach).
#
# Rules it keeps: no connections (scanner.simulate does the negotiation); results are frozen
# values; a scan file that cannot be read raises ScanFileError naming the file and line.
from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from handshakes import registry as reg
from scanner.audit.policy import (
    ClientPolicy,
    Deviation,
    PolicyError,
    ServerPolicy,
    apply_client_policy,
    apply_server_policy,
    compliance,
    leaf_curve,
)
from scanner.profiles import ClientProfile
from scanner.results import (
    Behaviours,
    ChainResult,
    EndpointResult,
    GroupResult,
    Intolerance,
    ProtocolResult,
    SuiteResult,
)
from scanner.simulate import Simulation, capabilities_from_result, simulate
from scanner.x509 import CertificateInfo

__all__ = [
    "CHANGES",
    "AuditReport",
    "EndpointAudit",
    "ProfileChange",
    "ScanFileError",
    "classify",
    "load_scan",
    "what_if",
]

CHANGES = ("lost", "changed", "gained", "unchanged")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileChange:
    """One client on one endpoint: ``before`` and ``after`` the change, and the verdict
    (one of CHANGES)."""

    profile_id: str
    profile_name: str
    change: str
    before: Simulation
    after: Simulation


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointAudit:
    """One endpoint: its compliance with the server policy, what each profile gains or
    loses under it, and, with a client policy, what the restricted client gets there
    (``client`` compares the base profile, before, with the restricted one, after)."""

    label: str
    host: str
    port: int
    ip: str | None
    outcome: str
    deviations: tuple[Deviation, ...] = ()
    changes: tuple[ProfileChange, ...] = ()
    client: ProfileChange | None = None

    def by_change(self, change: str) -> tuple[ProfileChange, ...]:
        return tuple(ch for ch in self.changes if ch.change == change)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditReport:
    policy: ServerPolicy | None
    client_policy: ClientPolicy | None
    profile_ids: tuple[str, ...]
    endpoints: tuple[EndpointAudit, ...]

    def lost(self) -> dict[str, tuple[str, ...]]:
        """Endpoint label -> the ids of the profiles that lose it."""
        return {
            e.label: ids for e in self.endpoints if (ids := tuple(ch.profile_id for ch in e.by_change("lost")))
        }


def classify(before: Simulation, after: Simulation) -> str:
    """lost: connects today, not after; gained: the reverse; changed: connects both times
    with another version or suite; unchanged: anything else (also: fails both times)."""
    if before.ok and not after.ok:
        return "lost"
    if after.ok and not before.ok:
        return "gained"
    if before.ok and (before.version, before.suite) != (after.version, after.suite):
        return "changed"
    return "unchanged"


def _label(result: EndpointResult) -> str:
    host = f"[{result.host}]" if ":" in result.host else result.host
    return f"{host}:{result.port}"


def what_if(
    results: Iterable[EndpointResult],
    policy: ServerPolicy | None,
    profiles: Sequence[ClientProfile],
    *,
    client_policy: ClientPolicy | None = None,
) -> AuditReport:
    """The audit of ``results`` (scans) under ``policy`` for ``profiles``, and of
    ``client_policy`` (whose base must be among ``profiles`` or the built-ins)."""
    client_pair: tuple[ClientProfile, ClientProfile] | None = None
    if client_policy is not None:
        base = _find_base(client_policy, profiles)
        client_pair = (base, apply_client_policy(base, client_policy))
    audits = []
    for result in results:
        if result.outcome != "ok":
            deviations = compliance(result, policy) if policy is not None else ()
            audits.append(
                EndpointAudit(
                    label=_label(result), host=result.host, port=result.port, ip=result.ip,
                    outcome=result.outcome, deviations=deviations,
                )
            )
            continue
        caps = capabilities_from_result(result)
        changes: list[ProfileChange] = []
        if policy is not None:
            after_caps = apply_server_policy(caps, policy, cert_curve=leaf_curve(result))
            for profile in profiles:
                before = simulate(profile, caps)
                after = simulate(profile, after_caps)
                changes.append(
                    ProfileChange(
                        profile_id=profile.id, profile_name=profile.name,
                        change=classify(before, after), before=before, after=after,
                    )
                )
        client = None
        if client_pair is not None:
            base, restricted = client_pair
            before, after = simulate(base, caps), simulate(restricted, caps)
            client = ProfileChange(
                profile_id=restricted.id, profile_name=restricted.name,
                change=classify(before, after), before=before, after=after,
            )
        audits.append(
            EndpointAudit(
                label=_label(result), host=result.host, port=result.port, ip=result.ip,
                outcome=result.outcome,
                deviations=compliance(result, policy) if policy is not None else (),
                changes=tuple(changes), client=client,
            )
        )
    return AuditReport(
        policy=policy,
        client_policy=client_policy,
        profile_ids=tuple(p.id for p in profiles),
        endpoints=tuple(audits),
    )


def _find_base(policy: ClientPolicy, profiles: Sequence[ClientProfile]) -> ClientProfile:
    from scanner.profiles import load_builtin_profiles

    for profile in (*profiles, *load_builtin_profiles()):
        if profile.id == policy.base:
            return profile
    raise PolicyError(
        f"{policy.source}: field 'base': no client profile {policy.base!r} "
        "(see `tlscompat simulate --list-profiles`)"
    )


# -- Reading a scan back ---------------------------------------------------------------------


class ScanFileError(ValueError):
    """A scan file (`tlscompat scan --format json|jsonl`) that cannot be read."""


def _certificate(info: Any, der: bytes | None) -> CertificateInfo | None:
    """A CertificateInfo back from a scan file: decoded from the DER the file holds, or
    else rebuilt from its JSON fields (what the file does not hold stays empty)."""
    from scanner.x509 import CertificateDecodeError, decode_certificate

    if der:
        try:
            return decode_certificate(der)
        except CertificateDecodeError:
            pass
    if not isinstance(info, Mapping):
        return None
    values: dict[str, Any] = {}
    for f in dataclasses.fields(CertificateInfo):
        value = info.get(f.name)
        if f.name in ("not_before", "not_after"):
            values[f.name] = datetime.fromisoformat(value) if value else datetime.min
        elif isinstance(value, list):
            values[f.name] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        elif value is not None:
            values[f.name] = value
        elif f.default is not dataclasses.MISSING:
            values[f.name] = f.default
        else:
            values[f.name] = {"key_bits": 0, "key_curve": None, "signature_hash": None}.get(
                f.name, False if "bool" in str(f.type) else () if "tuple" in str(f.type) else ""
            )
    return CertificateInfo(**values)


def _hex(value: Any) -> int:
    if isinstance(value, int):
        return value
    return int(str(value), 16)


def _version(value: Any) -> int:
    return value if isinstance(value, int) else reg.version_from_name(str(value))


def endpoint_from_json(data: Mapping[str, Any]) -> EndpointResult:
    """The parts of an EndpointResult the audit uses, from its JSON form (docs/json.md):
    protocols, suites, groups, DH sizes, certificate key facts, server order, ALPN."""
    protocols = tuple(
        ProtocolResult(
            version=_version(p["version"]), supported=bool(p["supported"]),
            outcome=str(p.get("outcome", "")),
        )
        for p in data.get("protocols", ())
    )
    suites = tuple(
        SuiteResult(
            version=_version(s["version"]),
            code=_hex(s["code"]),
            preference=s.get("preference"),
            group=_group(s.get("group")),
            dh_bits=s.get("dh_bits"),
        )
        for s in data.get("cipher_suites", ())
    )
    groups = tuple(
        GroupResult(version=_version(g["version"]), code=_hex(g["code"]), preference=g.get("preference"))
        for g in data.get("groups", ())
    )
    chains = []
    for ch in data.get("certificates", ()):
        ders = tuple(base64.b64decode(d) for d in ch.get("der") or ())
        infos = list(ch.get("certificates") or ())
        count = max(len(ders), len(infos))
        leaves = tuple(
            _certificate(
                infos[i] if i < len(infos) else None, ders[i] if i < len(ders) else None
            )
            for i in range(count)
        )
        chains.append(
            ChainResult(
                versions=tuple(_version(v) for v in ch.get("versions", ())),
                sni=ch.get("sni"),
                key_type=str(ch.get("key_type", "")),
                der=ders,
                certificates=leaves,
            )
        )
    b = data.get("behaviours") or {}
    behaviours = Behaviours(
        alpn=tuple(b.get("alpn", ())),
        server_preference=tuple(
            (_version(item["version"]), bool(item["server_order"]))
            for item in b.get("server_preference", ())
        ),
    )
    return EndpointResult(
        host=str(data["host"]),
        port=int(data["port"]),
        ip=data.get("ip"),
        sni=data.get("sni"),
        outcome=str(data.get("outcome", "ok")),
        detail=str(data.get("detail", "")),
        protocols=protocols,
        cipher_suites=suites,
        groups=groups,
        dh_bits=tuple(data.get("dh_bits", ())),
        certificates=tuple(chains),
        behaviours=behaviours,
        intolerances=tuple(
            Intolerance(
                kind=str(i["kind"]), trigger=str(i.get("trigger", "")),
                failed=tuple(i.get("failed", ())), worked=tuple(i.get("worked", ())),
                versions=tuple(_version(v) for v in i.get("versions", ())),
                low=i.get("low"), high=i.get("high"),
            )
            for i in data.get("intolerances", ())
        ),
        tags=tuple(data.get("tags", ())),
    )


def _group(value: Any) -> int | None:
    """A suite's group as to_json writes it: a name (x25519, secp256r1) or a 0x code."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    if text.lower().startswith("0x"):
        return int(text, 16)
    for code, group in reg.GROUPS.items():
        if group.name.lower() == text.lower():
            return code
    return None


def load_scan(path: str | Path) -> tuple[EndpointResult, ...]:
    """The endpoints of a `tlscompat scan` report: the JSON document ({"endpoints": [...]})
    or JSON Lines (one endpoint per line)."""
    from scanner.schema import SchemaError, endpoint_problem, loads

    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScanFileError(f"{source}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ScanFileError(f"{source}: cannot read: {exc.strerror or exc}") from None
    stripped = text.lstrip()
    items: list[tuple[str, Any]] = []
    try:
        document = loads(stripped) if stripped.startswith(("{", "[")) and "\n{" not in stripped else None
    except json.JSONDecodeError:
        document = None
    except SchemaError as exc:
        raise ScanFileError(f"{source}: {exc}") from None
    if isinstance(document, Mapping) and "endpoints" in document:
        items = [(f"endpoint {i + 1}", e) for i, e in enumerate(document["endpoints"])]
    elif isinstance(document, Mapping):
        items = [("the document", document)]
    else:
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append((f"line {n}", loads(line)))
            except json.JSONDecodeError as exc:
                raise ScanFileError(f"{source}: line {n}: not JSON ({exc.msg})") from None
            except SchemaError as exc:
                raise ScanFileError(f"{source}: line {n}: {exc}") from None
    if not items:
        raise ScanFileError(f"{source}: no endpoint in the file")
    out = []
    for where, item in items:
        if not isinstance(item, Mapping) or "host" not in item:
            raise ScanFileError(f"{source}: {where}: not an endpoint of a tlscompat scan")
        problem = endpoint_problem(dict(item))
        if problem:
            raise ScanFileError(f"{source}: {where}: {problem}")
        try:
            out.append(endpoint_from_json(item))
        except (KeyError, TypeError, ValueError) as exc:
            raise ScanFileError(f"{source}: {where}: unreadable field ({exc})") from None
    return tuple(out)
