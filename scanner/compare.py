# Comparing scans, and clients against endpoints, from the JSON shape (docs/json.md) that
# scanner.report.loading reads back: diff_scans() says what changed between two scans of
# the same endpoints, and client_outcomes() what each client profile would negotiate with
# each endpoint (scanner.simulate on capabilities rebuilt from the JSON). The facts of one
# endpoint object the reports show (versions, suites, certificate, findings) are read here
# too; scanner.report.diff and the Markdown and HTML reports only format them.
#
# Rules it keeps: the inputs are plain dicts and are never modified; wire numbers are
# parsed back from the JSON's names and hex strings once (capabilities_from_json) and an
# unknown one is kept as data, never a crash. What a change *means* is not judged here:
# the findings that appeared or went away carry that.
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, cast

from handshakes import registry as reg
from scanner.profiles import ClientProfile, load_builtin_profiles
from scanner.results import (
    SEVERITIES,
    Behaviours,
    ChainResult,
    EndpointResult,
    GroupResult,
    ProtocolResult,
    SuiteResult,
)
from scanner.simulate import (
    ServerCapabilities,
    Simulation,
    capabilities_from_result,
    simulate,
)

__all__ = [
    "DEFAULT_LEGACY_PROFILES",
    "MATCH_MODES",
    "ClientChange",
    "EndpointDiff",
    "FieldChange",
    "FindingRef",
    "ScanDiff",
    "SetChange",
    "capabilities_from_json",
    "cell_state",
    "certificate_facts",
    "client_outcomes",
    "diff_scans",
    "endpoint_label",
    "finding_for",
    "select_profiles",
    "severity_counts",
    "sorted_finding_dicts",
    "suites_by_version",
    "supported_versions",
]

# -- Reading wire numbers back from the JSON ---------------------------------------------------

_RANK = {v: i for i, v in enumerate(reg.VERSIONS)}  # SSLv2 lowest ... TLSv1.3 highest
_GROUP_BY_NAME = {g.name.lower(): code for code, g in reg.GROUPS.items()}


def _version(value: Any) -> int | None:
    """A version from its JSON form ("TLSv1.2", "0x7F1C", or a wire number)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    try:
        return reg.version_from_name(value)
    except ValueError:
        pass
    try:
        return int(value, 16) if value.lower().startswith("0x") else None
    except ValueError:
        return None


def _code(value: Any) -> int | None:
    """A suite or group code from "0xC02F" (or a number)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower().startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            return None
    return None


def _group(value: Any) -> int | None:
    """A group from its name ("x25519") or its code ("0x001D")."""
    code = _code(value)
    if code is None and isinstance(value, str):
        code = _GROUP_BY_NAME.get(value.lower())
    return code



def _version_key(name: str) -> tuple[bool, int]:
    """Sort key for version names, newest first; unknown ones last."""
    v = _version(name)
    return (v not in _RANK, -(_RANK.get(v, -1) if v is not None else -1))


def _list(endpoint: Mapping[str, Any], name: str) -> list[Any]:
    value = endpoint.get(name)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _pref(item: Mapping[str, Any]) -> int | None:
    value = item.get("preference")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _leaf(endpoint: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(chain, leaf) of the default certificate: the chain sent for the scan's SNI first,
    as scanner.simulate.capabilities_from_result chooses it."""
    chains = sorted(
        _list(endpoint, "certificates"), key=lambda ch: ch.get("sni") != endpoint.get("sni")
    )
    if not chains:
        return None, None
    certs = [c for c in chains[0].get("certificates") or () if isinstance(c, dict)]
    return chains[0], (certs[0] if certs else None)


def supported_versions(endpoint: Mapping[str, Any]) -> list[str]:
    """The names of the versions the endpoint accepted, newest first."""
    names = {
        p["version"]
        for p in _list(endpoint, "protocols")
        if p.get("supported") is True and isinstance(p.get("version"), str)
    }
    return sorted(names, key=_version_key)


def capabilities_from_json(endpoint: Mapping[str, Any]) -> ServerCapabilities:
    """The ServerCapabilities of one endpoint object of docs/json.md.

    The JSON is turned back into the few result values the negotiation reads (versions,
    suites, groups, DH sizes, the default certificate's key, the server's order, ALPN) and
    handed to scanner.simulate.capabilities_from_result, so that which facts feed a
    simulation is decided in one place only."""
    protocols = tuple(
        ProtocolResult(
            version=v, supported=p.get("supported") is True, outcome=str(p.get("outcome") or "")
        )
        for p in _list(endpoint, "protocols")
        if (v := _version(p.get("version"))) is not None
    )
    suites = tuple(
        SuiteResult(
            version=v,
            code=code,
            preference=_pref(s),
            group=_group(s.get("group")),
            dh_bits=s["dh_bits"] if _is_int(s.get("dh_bits")) else None,
        )
        for s in _list(endpoint, "cipher_suites")
        if (v := _version(s.get("version"))) is not None
        and (code := _code(s.get("code"))) is not None
    )
    groups = tuple(
        GroupResult(version=v, code=code, preference=_pref(g))
        for g in _list(endpoint, "groups")
        if (v := _version(g.get("version"))) is not None
        and (code := _code(g.get("code"))) is not None
    )
    chains = []
    for ch in _list(endpoint, "certificates"):
        leaves = [c for c in ch.get("certificates") or () if isinstance(c, dict)]
        leaf = (
            _LeafKey(
                key_type=str(leaves[0].get("key_type") or ""),
                key_bits=leaves[0]["key_bits"] if _is_int(leaves[0].get("key_bits")) else 0,
                signature_hash=leaves[0].get("signature_hash")
                if isinstance(leaves[0].get("signature_hash"), str)
                else None,
            )
            if leaves
            else None
        )
        chains.append(
            ChainResult(
                versions=(),
                sni=ch.get("sni") if isinstance(ch.get("sni"), str) else None,
                key_type=str(ch.get("key_type") or ""),
                der=(),
                # Only the key facts: capabilities_from_result reads the leaf by attribute.
                certificates=cast(tuple[Any, ...], (leaf,) if leaf is not None else ()),
            )
        )
    raw = endpoint.get("behaviours")
    behaviours: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    preference = tuple(
        (v, bool(item.get("server_order")))
        for item in behaviours.get("server_preference") or ()
        if isinstance(item, dict) and (v := _version(item.get("version"))) is not None
    )
    sni = endpoint.get("sni")
    skeleton = EndpointResult(
        host=str(endpoint.get("host", "")),
        port=int(endpoint.get("port") or 0),
        ip=None,
        sni=sni if isinstance(sni, str) else None,
        outcome=str(endpoint.get("outcome") or "ok"),
        protocols=protocols,
        cipher_suites=suites,
        groups=groups,
        dh_bits=tuple(b for b in endpoint.get("dh_bits") or () if _is_int(b)),
        certificates=tuple(chains),
        behaviours=Behaviours(
            alpn=tuple(a for a in behaviours.get("alpn") or () if isinstance(a, str)),
            server_preference=preference,
        ),
    )
    return capabilities_from_result(skeleton)


@dataclass(frozen=True, slots=True, kw_only=True)
class _LeafKey:
    """The leaf certificate facts capabilities_from_result reads (by attribute)."""

    key_type: str
    key_bits: int
    signature_hash: str | None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# -- Client profiles -------------------------------------------------------------------------

# Old clients shown next to the current ones by default: what a migration away from
# TLS 1.0/1.1, RSA key exchange or CBC suites typically cuts off.
DEFAULT_LEGACY_PROFILES = (
    "android_442",
    "chrome_49_xpsp3",
    "firefox_49_xpsp3",
    "safari_6_ios601",
    "java_6u45",
    "openssl_098y",
)


def select_profiles(
    spec: str = "default", profiles: Sequence[ClientProfile] | None = None
) -> tuple[ClientProfile, ...]:
    """`default` (the profiles marked current, and DEFAULT_LEGACY_PROFILES), `current`,
    `all`, or a comma-separated list of profile ids; in the built-in order."""
    pool = tuple(profiles) if profiles is not None else load_builtin_profiles()
    word = spec.strip().lower()
    if word == "all":
        return pool
    if word == "current":
        return tuple(p for p in pool if p.current)
    if word == "default":
        return tuple(p for p in pool if p.current or p.id in DEFAULT_LEGACY_PROFILES)
    wanted = [w.strip() for w in spec.split(",") if w.strip()]
    known = {p.id for p in pool}
    unknown = [w for w in wanted if w not in known]
    if unknown or not wanted:
        import difflib

        hints = []
        for w in unknown:
            close = difflib.get_close_matches(w, sorted(known), n=3)
            hints.append(f"{w!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        raise ValueError(
            f"unknown client profile(s): {', '.join(hints) or '(none given)'}; give 'default', "
            "'current', 'all' or profile ids (tlscompat report --list-profiles)"
        )
    return tuple(p for p in pool if p.id in set(wanted))


def _caps_key(caps: ServerCapabilities) -> tuple[Any, ...]:
    return (
        caps.versions,
        tuple(sorted(caps.suites.items())),
        tuple(sorted(caps.server_preference.items())),
        tuple(sorted(caps.groups.items())),
        caps.dh_bits,
        caps.cert_key_type,
        caps.cert_key_bits,
        caps.cert_signature_hash,
    )


class _Simulator:
    """simulate() for many endpoints: endpoints with the same capabilities (a fleet behind
    one configuration) are simulated once."""

    def __init__(self, profiles: Sequence[ClientProfile]) -> None:
        self.profiles = tuple(profiles)
        self._cache: dict[tuple[Any, ...], dict[str, Simulation]] = {}

    def outcomes(self, endpoint: Mapping[str, Any]) -> dict[str, Simulation]:
        if endpoint.get("outcome", "ok") != "ok":
            reason = f"the scan did not reach TLS: {endpoint.get('outcome')}"
            if endpoint.get("detail"):
                reason += f" ({endpoint['detail']})"
            return {
                p.id: Simulation(
                    profile_id=p.id,
                    ok=False,
                    version=None,
                    suite=None,
                    group=None,
                    reason=reason,
                    reason_code="unreachable",
                )
                for p in self.profiles
            }
        caps = capabilities_from_json(endpoint)
        key = _caps_key(caps)
        if key not in self._cache:
            self._cache[key] = {p.id: simulate(p, caps) for p in self.profiles}
        return _needing_client_certificate(self._cache[key], endpoint)


def _needing_client_certificate(
    outcomes: dict[str, Simulation], endpoint: Mapping[str, Any]
) -> dict[str, Simulation]:
    """A client that would negotiate a version at which the server requires a client
    certificate (client_auth mode "required") does not connect without one: the built-in
    profiles present none (RFC 8446 section 4.4.2.4, RFC 5246 section 7.4.6: the server may
    abort with a fatal alert)."""
    required = {
        str(c.get("version")) for c in _list(endpoint, "client_auth")
        if isinstance(c, Mapping) and c.get("mode") == "required"
    }
    if not required:
        return outcomes
    out = dict(outcomes)
    for pid, sim in outcomes.items():
        if sim.ok and sim.version is not None and reg.version_name(sim.version) in required:
            out[pid] = replace(
                sim, ok=False,
                reason=f"needs a client certificate: the server requires one at {reg.version_name(sim.version)}",
                reason_code="client_cert_required",
            )
    return out


def client_outcomes(
    endpoints: Sequence[Mapping[str, Any]], profiles: Sequence[ClientProfile]
) -> list[dict[str, Simulation]]:
    """Per endpoint, in order: profile id -> what that client would negotiate."""
    simulator = _Simulator(profiles)
    return [simulator.outcomes(e) for e in endpoints]


def cell_state(before: Simulation | None, after: Simulation | None) -> str:
    """A matrix cell: ok | fail for one scan; for a diff also gained | lost | changed
    (connects before and after, with another version or suite) | absent."""
    if after is None and before is None:
        return "absent"
    if before is None:
        assert after is not None
        return "ok" if after.ok else "fail"
    if after is None:
        return "absent"
    if before.ok and after.ok:
        same = (before.version, before.suite) == (after.version, after.suite)
        return "ok" if same else "changed"
    if before.ok:
        return "lost"
    return "gained" if after.ok else "fail"


# -- Matching endpoints ----------------------------------------------------------------------

MATCH_MODES = ("endpoint", "host", "address")
# The fields that identify an endpoint in each mode; ip (then port) separate endpoints that
# share them (a name resolving to several addresses).
_MATCH_FIELDS = {
    "endpoint": ("host", "port", "sni"),  # the same service, wherever its name points
    "host": ("host", "sni"),  # the same name on any port: a service moved to a new port
    "address": ("host", "port", "ip", "sni"),  # the same address too
}


def endpoint_label(endpoint: Mapping[str, Any]) -> str:
    host = str(endpoint.get("host", "?"))
    host = f"[{host}]" if ":" in host else host
    label = f"{host}:{endpoint.get('port', '?')}"
    ip, sni = endpoint.get("ip"), endpoint.get("sni")
    extras = []
    if ip and ip != endpoint.get("host"):
        extras.append(str(ip))
    if sni is not None and sni != endpoint.get("host"):
        extras.append(f"sni {sni or '(none)'}")
    return f"{label} ({', '.join(extras)})" if extras else label


def _match(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]], mode: str
) -> list[tuple[int | None, int | None]]:
    """Pairs of indexes (before, after); None for an endpoint only in one scan."""
    if mode not in _MATCH_FIELDS:
        raise ValueError(f"unknown match mode {mode!r}; expected one of {', '.join(MATCH_MODES)}")
    fields = _MATCH_FIELDS[mode]

    def key(e: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(e.get(f) for f in fields)

    groups: dict[tuple[Any, ...], tuple[list[int], list[int]]] = {}
    for i, e in enumerate(before):
        groups.setdefault(key(e), ([], []))[0].append(i)
    for j, e in enumerate(after):
        groups.setdefault(key(e), ([], []))[1].append(j)
    pairs: list[tuple[int | None, int | None]] = []
    for bs, as_ in groups.values():
        if len(bs) == 1 and len(as_) == 1:
            pairs.append((bs[0], as_[0]))
            continue
        # Several endpoints share the key: pair them by address, then by port.
        left = list(as_)
        for i in bs:
            same_ip = (k for k in left if after[k].get("ip") == before[i].get("ip"))
            same_port = (k for k in left if after[k].get("port") == before[i].get("port"))
            found = next(same_ip, None)
            if found is None:
                found = next(same_port, None)
            if found is not None:
                left.remove(found)
            pairs.append((i, found))
        pairs.extend((None, k) for k in left)
    return pairs


# -- The diff --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SetChange:
    """Items added and removed in one protocol version (cipher suites, groups)."""

    version: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldChange:
    field: str
    before: str
    after: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingRef:
    id: str
    severity: str
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientChange:
    """One client profile whose outcome differs: state is gained, lost or changed."""

    profile_id: str
    name: str
    state: str
    before: Simulation | None
    after: Simulation | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointDiff:
    """What changed at one endpoint. status: changed | unchanged | added (only in the
    later scan) | removed (only in the earlier one)."""

    label: str
    status: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    outcome: FieldChange | None = None
    protocols_enabled: tuple[str, ...] = ()
    protocols_disabled: tuple[str, ...] = ()
    cipher_suites: tuple[SetChange, ...] = ()
    groups: tuple[SetChange, ...] = ()
    certificate: tuple[FieldChange, ...] = ()
    findings_new: tuple[FindingRef, ...] = ()
    findings_resolved: tuple[FindingRef, ...] = ()
    clients: tuple[ClientChange, ...] = ()
    # Every profile's outcome (for the matrices): profile id -> Simulation.
    outcomes_before: Mapping[str, Simulation] = field(default_factory=dict)
    outcomes_after: Mapping[str, Simulation] = field(default_factory=dict)

    def clients_in(self, state: str) -> tuple[ClientChange, ...]:
        return tuple(c for c in self.clients if c.state == state)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanDiff:
    endpoints: tuple[EndpointDiff, ...]
    profiles: tuple[ClientProfile, ...]
    match: str
    before_source: str = ""
    after_source: str = ""

    def by_status(self, status: str) -> tuple[EndpointDiff, ...]:
        return tuple(e for e in self.endpoints if e.status == status)


def _suite_name(code: int) -> str:
    return reg.cipher_suite_name(code)


def _by_version(items: Iterable[Mapping[str, Any]], value: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for item in items:
        version = item.get("version")
        shown = value(item)
        if isinstance(version, str) and shown:
            out.setdefault(version, set()).add(shown)
    return out


def _suite_label(item: Mapping[str, Any]) -> str:
    name, code = item.get("name"), item.get("code")
    if isinstance(name, str) and name:
        return name
    parsed = _code(code)
    return _suite_name(parsed) if parsed is not None else str(code or "")


def _group_label(item: Mapping[str, Any]) -> str:
    name = item.get("name")
    return name if isinstance(name, str) and name else str(item.get("code") or "")


def _set_changes(before: dict[str, set[str]], after: dict[str, set[str]]) -> tuple[SetChange, ...]:
    out = []
    for version in sorted(set(before) | set(after), key=_version_key):
        b, a = before.get(version, set()), after.get(version, set())
        if a != b:
            out.append(
                SetChange(version=version, added=tuple(sorted(a - b)), removed=tuple(sorted(b - a)))
            )
    return tuple(out)


def certificate_facts(endpoint: Mapping[str, Any]) -> dict[str, str]:
    """The facts of the default leaf certificate that a diff compares, as text."""
    chain, leaf = _leaf(endpoint)
    if chain is None:
        return {}
    facts = {"fingerprint": "", "subject": "", "issuer": "", "not_after": "", "key": ""}
    if leaf is not None:
        facts["fingerprint"] = str(leaf.get("sha256") or "")
        facts["subject"] = str(leaf.get("subject") or "")
        facts["issuer"] = str(leaf.get("issuer") or "")
        facts["not_after"] = str(leaf.get("not_after") or "")
        key = (
            f"{leaf.get('key_type') or chain.get('key_type') or '?'} {leaf.get('key_bits') or '?'}"
        )
        if leaf.get("key_curve"):
            key += f" {leaf['key_curve']}"
        facts["key"] = key
    else:
        facts["key"] = str(chain.get("key_type") or "")
    validation = chain.get("validation")
    if isinstance(validation, dict) and isinstance(validation.get("trusted"), bool):
        facts["trusted"] = "yes" if validation["trusted"] else "no"
    return facts


_CERT_FIELDS = ("fingerprint", "subject", "issuer", "not_after", "key", "trusted")


def _findings(endpoint: Mapping[str, Any]) -> dict[str, FindingRef]:
    out: dict[str, FindingRef] = {}
    for f in _list(endpoint, "findings"):
        fid = f.get("id")
        if isinstance(fid, str) and fid not in out:
            out[fid] = FindingRef(
                id=fid, severity=str(f.get("severity") or ""), title=str(f.get("title") or "")
            )
    return out


def _severity_key(f: FindingRef) -> tuple[int, str]:
    rank = SEVERITIES.index(f.severity) if f.severity in SEVERITIES else len(SEVERITIES)
    return rank, f.id


def _compare(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    sims_before: Mapping[str, Simulation],
    sims_after: Mapping[str, Simulation],
    profiles: Sequence[ClientProfile],
) -> EndpointDiff:
    old_versions, new_versions = set(supported_versions(before)), set(supported_versions(after))
    outcome = None
    if before.get("outcome", "ok") != after.get("outcome", "ok"):
        outcome = FieldChange(
            field="outcome", before=str(before.get("outcome")), after=str(after.get("outcome"))
        )
    suites = _set_changes(
        _by_version(_list(before, "cipher_suites"), _suite_label),
        _by_version(_list(after, "cipher_suites"), _suite_label),
    )
    groups = _set_changes(
        _by_version(_list(before, "groups"), _group_label),
        _by_version(_list(after, "groups"), _group_label),
    )
    old_cert, new_cert = certificate_facts(before), certificate_facts(after)
    certificate = tuple(
        FieldChange(field=name, before=old_cert.get(name, ""), after=new_cert.get(name, ""))
        for name in _CERT_FIELDS
        if old_cert.get(name, "") != new_cert.get(name, "")
    )
    old_findings, new_findings = _findings(before), _findings(after)
    clients = []
    for p in profiles:
        b, a = sims_before.get(p.id), sims_after.get(p.id)
        state = cell_state(b, a)
        if state in ("gained", "lost", "changed"):
            clients.append(
                ClientChange(profile_id=p.id, name=p.name, state=state, before=b, after=a)
            )
    diff = EndpointDiff(
        label=endpoint_label(after),
        status="changed",
        before=before,
        after=after,
        outcome=outcome,
        protocols_enabled=tuple(sorted(new_versions - old_versions, key=_version_key)),
        protocols_disabled=tuple(sorted(old_versions - new_versions, key=_version_key)),
        cipher_suites=suites,
        groups=groups,
        certificate=certificate,
        findings_new=tuple(
            sorted(
                (new_findings[k] for k in new_findings.keys() - old_findings.keys()),
                key=_severity_key,
            )
        ),
        findings_resolved=tuple(
            sorted(
                (old_findings[k] for k in old_findings.keys() - new_findings.keys()),
                key=_severity_key,
            )
        ),
        clients=tuple(clients),
        outcomes_before=MappingProxyType(dict(sims_before)),
        outcomes_after=MappingProxyType(dict(sims_after)),
    )
    changed = any(
        (
            diff.outcome,
            diff.protocols_enabled,
            diff.protocols_disabled,
            diff.cipher_suites,
            diff.groups,
            diff.certificate,
            diff.findings_new,
            diff.findings_resolved,
            diff.clients,
        )
    )
    if changed:
        return diff
    return replace(diff, status="unchanged")


def diff_scans(
    before: Sequence[Mapping[str, Any]],
    after: Sequence[Mapping[str, Any]],
    *,
    profiles: Sequence[ClientProfile] | None = None,
    match: str = "endpoint",
    before_source: str = "",
    after_source: str = "",
) -> ScanDiff:
    """What changed from `before` to `after` (endpoint objects of docs/json.md).

    Endpoints are matched by host, port and SNI (`match="endpoint"`), by host and SNI on
    any port (`"host"`), or by host, port, address and SNI (`"address"`); endpoints sharing
    a key are paired by address. `profiles` (default: every built-in profile) are the
    clients whose connectivity is compared. Changed endpoints come first, then those only
    in one scan, then the unchanged, each in the later scan's order."""
    chosen = tuple(profiles) if profiles is not None else load_builtin_profiles()
    simulator = _Simulator(chosen)
    out: list[EndpointDiff] = []
    for i, j in _match(before, after, match):
        if i is not None and j is not None:
            b, a = before[i], after[j]
            out.append(_compare(b, a, simulator.outcomes(b), simulator.outcomes(a), chosen))
        elif i is not None:
            b = before[i]
            out.append(
                EndpointDiff(
                    label=endpoint_label(b),
                    status="removed",
                    before=b,
                    after=None,
                    outcomes_before=MappingProxyType(simulator.outcomes(b)),
                )
            )
        elif j is not None:
            a = after[j]
            out.append(
                EndpointDiff(
                    label=endpoint_label(a),
                    status="added",
                    before=None,
                    after=a,
                    outcomes_after=MappingProxyType(simulator.outcomes(a)),
                )
            )
    order = {"changed": 0, "removed": 1, "added": 2, "unchanged": 3}
    out.sort(key=lambda d: order[d.status])  # stable: scan order within a status
    return ScanDiff(
        endpoints=tuple(out),
        profiles=chosen,
        match=match,
        before_source=before_source,
        after_source=after_source,
    )


# -- Facts of one endpoint object that the reports show ------------------------------------


def severity_counts(endpoint: Mapping[str, Any]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    seen: set[str] = set()
    for f in _list(endpoint, "findings"):
        if f.get("id") in seen:
            continue
        seen.add(str(f.get("id")))
        if f.get("severity") in counts:
            counts[str(f["severity"])] += 1
    return counts


def sorted_finding_dicts(endpoint: Mapping[str, Any]) -> list[dict[str, Any]]:
    def key(f: Mapping[str, Any]) -> tuple[int, str]:
        sev = f.get("severity")
        rank = SEVERITIES.index(sev) if sev in SEVERITIES else len(SEVERITIES)
        return rank, str(f.get("id"))

    return sorted(_list(endpoint, "findings"), key=key)


def suites_by_version(endpoint: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """(version, suite names in the server's order where known), newest version first."""
    rows = _list(endpoint, "cipher_suites")
    out = []
    versions = {r.get("version") for r in rows if isinstance(r.get("version"), str)}
    for version in sorted((str(v) for v in versions), key=_version_key):
        items = [r for r in rows if r.get("version") == version]
        items.sort(key=lambda r: (_pref(r) is None, _pref(r) or 0))
        out.append((version, [_suite_label(r) for r in items]))
    return out


def finding_for(endpoint: Mapping[str, Any] | None, fid: str) -> dict[str, Any] | None:
    """The whole finding object with this id (for evidence, cause and resolution)."""
    if endpoint is None:
        return None
    return next((f for f in _list(endpoint, "findings") if f.get("id") == fid), None)
