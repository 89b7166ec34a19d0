# What a client WOULD negotiate with a server, computed offline from the server's enumerated
# capabilities (a scan's EndpointResult, or a what-if policy) and a ClientProfile.
#
# Rules it keeps: pure functions over frozen values; no sockets. The model follows the
# negotiation rules of the RFCs in the order a handshake applies them (version, then cipher
# suite with its group and certificate, then the client's checks of what the server sent),
# and a failure names the first rule that breaks with the numbers that broke it.
# What it does not model: a client's version fallback dance, ALPN, the TLS 1.2
# signature_algorithms constraint on the server's ServerKeyExchange, servers with several
# certificates (cert_key_type is the one the scan saw), and certificate validation.
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from handshakes import constants as c
from handshakes import registry as reg
from scanner.profiles import ClientProfile
from scanner.profiles.model import live_hello_size
from scanner.results import EndpointResult, Intolerance

__all__ = [
    "REASON_CODES",
    "ServerCapabilities",
    "Simulation",
    "capabilities_from_result",
    "simulate",
]

REASON_CODES = (
    "",
    "no_common_version",
    "no_common_suite",
    "dh_too_small",
    "dh_too_large",
    "rsa_too_small",
    "rsa_too_large",
    "ecdsa_too_small",
    "sha1_signature",
    "no_common_group",
    "cert_type",
    # The server requires a client certificate at the version the client would negotiate,
    # and a profile presents none (scanner.compare, from the scan's client_auth facts).
    "client_cert_required",
    # The client's hello has a shape the server was found intolerant of (issue 11).
    "intolerance",
    # Only from a live simulation (scanner.audit.live), when the server's answer is neither
    # a ServerHello nor one of the failures above: another alert, a close without one, or
    # the engine outcome that ended the connection.
    "alert",
    "closed",
    "reset",
    "timeout",
    "refused",
    "unreachable",
    "dns_error",
    "not_tls",
    "protocol_error",
)

_EMPTY: Mapping[int, tuple[int, ...]] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerCapabilities:
    """What a server accepts: enumerated by a scan (capabilities_from_result) or a what-if.

    ``suites[v]`` and ``groups[v]`` are in the server's preference order when
    ``server_preference[v]``; a version missing from ``groups`` (or mapped to an empty
    tuple) means the groups are unknown, and the group rules are then not applied.
    ``cert_key_type``: "RSA", "EC", "DSA", "Ed25519"...; "" (unknown) skips the certificate
    type rules, as ``cert_key_bits`` 0 skips the key size limits.
    """

    versions: tuple[int, ...]
    suites: Mapping[int, tuple[int, ...]]
    server_preference: Mapping[int, bool] = field(default_factory=lambda: MappingProxyType({}))
    groups: Mapping[int, tuple[int, ...]] = field(default_factory=lambda: _EMPTY)
    dh_bits: int | None = None
    cert_key_type: str = ""
    cert_key_bits: int = 0
    cert_signature_hash: str | None = None
    alpn: tuple[str, ...] = ()
    intolerances: tuple[Intolerance, ...] = ()  # hello shapes the server fails on (issue 11)
    # The name a client sends to this server (None: none, a target given by address): the
    # hello-length intolerances are applied to the hello as sent there.
    server_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Simulation:
    """The outcome for one client. On failure, ``version``, ``suite`` and ``group`` hold
    what had been agreed before the failing rule (None where it had not got that far)."""

    profile_id: str
    ok: bool
    version: int | None
    suite: int | None
    group: int | None
    reason: str
    reason_code: str


# -- From a scan -----------------------------------------------------------------------------

_RANK = {v: i for i, v in enumerate(reg.VERSIONS)}  # SSL2 lowest ... TLS13 highest


def _newest_first(versions: Iterable[int]) -> tuple[int, ...]:
    known = {v for v in versions if v in _RANK}
    return tuple(sorted(known, key=_RANK.__getitem__, reverse=True))


def _ordered(items: list[tuple[int | None, int, int]]) -> tuple[int, ...]:
    """Codes by preference (1 first) where known, otherwise in scan order; no repeats."""
    out: list[int] = []
    for _, _, code in sorted(items, key=lambda t: (t[0] is None, t[0] or 0, t[1])):
        if code not in out:
            out.append(code)
    return tuple(out)


def capabilities_from_result(result: EndpointResult) -> ServerCapabilities:
    """The capabilities a scan enumerated. Certificate facts come from the first chain
    (the one sent for the scan's SNI when there are several); DH bits from the first DHE
    handshake recorded."""
    versions = _newest_first(result.supported_versions())
    suites: dict[int, list[tuple[int | None, int, int]]] = {}
    groups: dict[int, list[tuple[int | None, int, int]]] = {}
    for i, s in enumerate(result.cipher_suites):
        suites.setdefault(s.version, []).append((s.preference, i, s.code))
    for i, g in enumerate(result.groups):
        groups.setdefault(g.version, []).append((g.preference, i, g.code))
    enumerated = {g.version for g in result.groups}
    # The scan enumerates the ECDHE curves of TLS <= 1.2 at the highest such version only.
    # A server's curve list does not depend on the version below TLS 1.3 (RFC 8422 section
    # 5.1 applies alike to TLS 1.0..1.2), so the lower versions share that list.
    legacy = max((v for v in enumerated if v != c.TLS13), default=None)
    for i, s in enumerate(result.cipher_suites):
        # Versions whose groups were not enumerated: the legacy list, then the groups seen
        # with accepted suites.
        if s.version in enumerated:
            continue
        if legacy is not None and s.version != c.TLS13 and s.version not in groups:
            groups[s.version] = list(groups[legacy])
        if s.group is not None:
            groups.setdefault(s.version, []).append((None, len(result.groups) + i, s.group))
    dh_bits = result.dh_bits[0] if result.dh_bits else None
    if dh_bits is None:
        dh_bits = next((s.dh_bits for s in result.cipher_suites if s.dh_bits), None)
    key_type, key_bits, sig_hash = "", 0, None
    chains = sorted(result.certificates, key=lambda ch: ch.sni != result.sni)
    if chains:
        key_type = chains[0].key_type
        if chains[0].certificates:
            leaf = chains[0].certificates[0]
            key_type = getattr(leaf, "key_type", key_type) or key_type
            key_bits = getattr(leaf, "key_bits", 0) or 0
            sig_hash = getattr(leaf, "signature_hash", None)
    return ServerCapabilities(
        versions=versions,
        suites=MappingProxyType({v: _ordered(items) for v, items in suites.items()}),
        server_preference=MappingProxyType(dict(result.behaviours.server_preference)),
        groups=MappingProxyType({v: _ordered(items) for v, items in groups.items()}),
        dh_bits=dh_bits,
        cert_key_type=key_type,
        cert_key_bits=key_bits,
        cert_signature_hash=sig_hash,
        server_name=result.sni,
        alpn=result.behaviours.alpn,
        intolerances=result.intolerances,
    )


# -- Naming things in reasons ----------------------------------------------------------------


def _version_span(versions: tuple[int, ...]) -> str:
    """'TLSv1.0..SSLv3' for a contiguous run (newest first), else a list."""
    if not versions:
        return "none"
    ranks = [_RANK[v] for v in versions]
    if len(versions) > 1 and ranks == list(range(ranks[0], ranks[0] - len(ranks), -1)):
        return f"{reg.version_name(versions[0])}..{reg.version_name(versions[-1])}"
    return ", ".join(reg.version_name(v) for v in versions)


def _suite_label(code: int) -> str:
    info = reg.cipher_suite(code)
    if info is not None and info.openssl:
        return info.openssl
    return reg.cipher_suite_name(code)


def _describe_suites(codes: tuple[int, ...]) -> str:
    if not codes:
        return "no suite for this version"
    infos = [reg.cipher_suite(s) for s in codes]
    aead = [i is not None and i.is_aead for i in infos]
    kind = "only AEAD suites" if all(aead) else "no AEAD suites" if not any(aead) else "suites"
    shown = ", ".join(_suite_label(s) for s in codes[:4])
    more = f" and {len(codes) - 4} more" if len(codes) > 4 else ""
    return f"{kind}: {shown}{more}"


def _groups_label(codes: Iterable[int]) -> str:
    names = [reg.group_name(g) for g in codes if not reg.is_grease(g)]
    return ", ".join(names) if names else "none"


# -- The negotiation -------------------------------------------------------------------------

# TLS 1.3 signature schemes per certificate key type (RFC 8446 section 4.2.3; RSA keys sign
# with RSASSA-PSS in TLS 1.3, section 4.4.3).
_TLS13_SCHEMES: Mapping[str, frozenset[int]] = MappingProxyType(
    {
        "RSA": frozenset({0x0804, 0x0805, 0x0806}),
        "RSA-PSS": frozenset({0x0809, 0x080A, 0x080B}),
        "EC": frozenset({0x0403, 0x0503, 0x0603, 0x081A, 0x081B, 0x081C}),
        "ED25519": frozenset({0x0807}),
        "ED448": frozenset({0x0808}),
    }
)
# A cipher suite's authentication -> the certificate key type it needs (RFC 5246 section
# 7.4.2; RFC 8422 section 2 for ECDSA and the fixed ECDH suites).
_SUITE_CERT: Mapping[str, str] = MappingProxyType(
    {"RSA": "RSA", "ECDSA": "EC", "DSS": "DSA", "ECDH": "EC", "DH": "DH"}
)
# Certificate signature hashes that are not SHA-2 (what "requires SHA-2" refuses).
_PRE_SHA2 = frozenset({"md2", "md4", "md5", "sha1", "sha-1"})


def _key_type(raw: str) -> str:
    key = raw.strip().upper().replace("_", "-")
    if key in ("EC", "ECDSA", "ECC"):
        return "EC"
    if key in ("RSA-PSS", "RSASSA-PSS"):
        return "RSA-PSS"
    return key


def _is_ecdhe(info: reg.CipherSuite | None) -> bool:
    return info is not None and info.kx in ("ECDHE", "ECDHEPSK")


def _is_dhe(info: reg.CipherSuite | None) -> bool:
    """Ephemeral finite-field DH: the suites whose ServerKeyExchange carries a DH prime."""
    return info is not None and info.kx in ("DHE", "DHEPSK")  # anonymous DH is "DHE" too


def _fits(needed: str, cert_type: str, info: reg.CipherSuite | None) -> bool:
    """Whether a certificate key of ``cert_type`` can serve a suite needing ``needed``.
    An RSA-PSS key signs (RFC 8446 section 4.2.3 lets TLS 1.2 use rsa_pss_pss_*) but
    cannot decrypt an RSA key exchange."""
    if needed == cert_type:
        return True
    return needed == "RSA" and cert_type == "RSA-PSS" and info is not None and info.kx != "RSA"


def _pick_group(
    profile: ClientProfile, server: ServerCapabilities, version: int
) -> tuple[bool, int | None]:
    """(found, group) for ECDHE / TLS 1.3 key exchange at ``version``.

    RFC 8422 section 5.1 (TLS 1.2 ECDHE) and RFC 8446 section 4.2.7 (TLS 1.3): the server
    chooses among the client's supported_groups; with server preference, its own order
    decides (as OpenSSL's SSL_OP_CIPHER_SERVER_PREFERENCE does for groups too). A client
    without the extension lets the server choose any curve (RFC 8422 section 4).
    """
    offered = server.groups.get(version, ())
    if not offered:
        return True, None  # not enumerated: cannot judge
    client = [g for g in profile.groups if not reg.is_grease(g)]
    if version == c.TLS13:
        client = [g for g in client if (info := reg.GROUPS.get(g)) is None or info.tls13]
    elif not profile.groups:
        return True, offered[0]
    else:
        # TLS 1.2 ECDHE uses elliptic curves only; FFDHE groups go with DHE (RFC 7919).
        client = [g for g in client if (info := reg.GROUPS.get(g)) is None or info.kind != "ffdhe"]
    if server.server_preference.get(version, False):
        common = [g for g in offered if g in client]
    else:
        common = [g for g in client if g in offered]
    return (True, common[0]) if common else (False, None)


def _fail(
    profile: ClientProfile,
    code: str,
    reason: str,
    version: int | None = None,
    suite: int | None = None,
    group: int | None = None,
) -> Simulation:
    return Simulation(
        profile_id=profile.id,
        ok=False,
        version=version,
        suite=suite,
        group=group,
        reason=reason,
        reason_code=code,
    )


def _size_problem(
    code: str, what: str, bits: int, minimum: int | None, maximum: int | None
) -> tuple[str, str] | None:
    """(reason code, reason) when `bits` is outside the client's [minimum, maximum]."""
    if minimum is not None and bits < minimum:
        return f"{code}_too_small", f"{what} {bits} bits is below the client's minimum {minimum}"
    if maximum is not None and bits > maximum:
        return f"{code}_too_large", f"{what} {bits} bits is above the client's maximum {maximum}"
    return None


def hello_size(profile: ClientProfile) -> int:
    """Bytes of the profile's ClientHello handshake message as captured (4-byte header
    included; RFC 7685's measure). The SNI a real connection sends may change it a little."""
    ext = 2 + sum(4 + len(body) for _, body in profile.extensions) if profile.extensions else 0
    return (
        4 + 2 + 32 + 1 + profile.session_id_length + 2 + 2 * len(profile.cipher_suites)
        + 1 + len(profile.compression_methods) + ext
    )


def _key_share_groups(profile: ClientProfile) -> tuple[int, ...]:
    from scanner.profiles.hello import decode_key_share

    for ext_type, body in profile.extensions:
        if ext_type == c.EXT_KEY_SHARE:
            try:
                return tuple(g for g, _ in decode_key_share(body))
            except Exception:  # noqa: BLE001 - a profile's odd bytes are data
                return ()
    return ()


def _intolerance(profile: ClientProfile, found: Intolerance, server_name: str | None) -> str:
    """Why ``profile``'s hello falls in ``found`` ("" when it does not). Kinds whose
    trigger cannot be read from a profile (an unknown extension, record framing) are not
    applied."""
    if profile.sslv2_hello:
        return ""
    if found.kind == "hello_length":
        size = live_hello_size(profile, server_name)
        if (found.low is None or size >= found.low) and (found.high is None or size <= found.high):
            return f"the client's ClientHello is {size} bytes"
    elif found.kind == "suite_count" and found.low is not None:
        if len(profile.cipher_suites) >= found.low:
            return f"the client offers {len(profile.cipher_suites)} cipher suites"
    elif found.kind == "pq_key_share":
        hybrids = [g for g in _key_share_groups(profile) if (info := reg.GROUPS.get(g)) and info.kind == "hybrid"]
        if hybrids:
            return f"the client sends a {reg.group_name(hybrids[0])} key share"
    elif found.kind == "grease":
        codes = (*profile.cipher_suites, *profile.groups, *(t for t, _ in profile.extensions))
        if any(reg.is_grease(x) for x in codes):
            return "the client sends GREASE values"
    return ""


def simulate(profile: ClientProfile, server: ServerCapabilities) -> Simulation:
    """What ``profile`` would negotiate with ``server``, or the first rule that fails."""
    # 0. Issue 11: a hello in a shape the server was found to fail on never gets an answer
    # the negotiation rules could apply to.
    for intolerance in server.intolerances:
        why = _intolerance(profile, intolerance, server.server_name)
        if why:
            return _fail(profile, "intolerance", f"{why}: {intolerance.trigger}")
    # 1. Version. RFC 5246 appendix E.1: the server answers with the highest version it
    # supports up to the client's; RFC 8446 section 4.2.1 and appendix D: a client whose
    # supported_versions lists TLS 1.3 gets it from a TLS 1.3 server. A client rejects a
    # version it does not support, so the result is the highest version in both.
    client_versions = _newest_first(profile.versions)
    server_versions = _newest_first(server.versions)
    common = [v for v in client_versions if v in server_versions]
    if not common:
        return _fail(
            profile,
            "no_common_version",
            f"no common protocol version (client: {_version_span(client_versions)}, "
            f"server: {', '.join(reg.version_name(v) for v in reversed(server_versions)) or 'none'})",
        )
    version = common[0]
    vname = reg.version_name(version)

    # 2. TLS 1.3 key exchange needs a common group (RFC 8446 section 4.2.7: without one,
    # the server aborts with handshake_failure or insufficient_security), and the client must
    # offer a signature scheme for the server's certificate key (section 4.4.2.2).
    tls13_group: int | None = None
    if version == c.TLS13:
        found, tls13_group = _pick_group(profile, server, version)
        if not found:
            return _fail(
                profile,
                "no_common_group",
                f"no common group in {vname} (server: {_groups_label(server.groups.get(version, ()))}; "
                f"client: {_groups_label(profile.groups)})",
                version,
            )

    # 3. Cipher suite. RFC 5246 section 7.4.1.2 / RFC 8446 section 4.1.1: the server picks
    # one of the client's suites; with server preference its own order decides, otherwise
    # the client's. A suite the server cannot complete is passed over: an ECDHE suite
    # without a common curve (RFC 8422 section 5.1), a suite whose authentication does not
    # fit the certificate (RFC 5246 section 7.4.2).
    server_suites = server.suites.get(version, ())
    if version == c.SSL2:
        client_suites = tuple(s for s in profile.cipher_suites if s > 0xFFFF)
    else:
        client_suites = tuple(
            s
            for s in profile.cipher_suites
            if s <= 0xFFFF
            and (info := reg.cipher_suite(s)) is not None
            and version in info.versions
        )
    if server.server_preference.get(version, False):
        candidates = [s for s in server_suites if s in client_suites]
    else:
        candidates = [s for s in client_suites if s in server_suites]
    if not candidates:
        return _fail(
            profile,
            "no_common_suite",
            f"no common cipher suite in {vname} (server offers {_describe_suites(server_suites)}; "
            f"client offers {_describe_suites(client_suites)})",
            version,
        )
    cert_type = _key_type(server.cert_key_type)
    first_failure: tuple[str, str] | None = None
    suite: int | None = None
    group: int | None = tls13_group
    for candidate in candidates:
        info = reg.cipher_suite(candidate)
        if version == c.TLS13:
            suite = candidate
            break
        if _is_ecdhe(info):
            found, ecdhe_group = _pick_group(profile, server, version)
            if not found:
                first_failure = first_failure or (
                    "no_common_group",
                    f"no common group for ECDHE in {vname} (server: "
                    f"{_groups_label(server.groups.get(version, ()))}; client: "
                    f"{_groups_label(profile.groups)})",
                )
                continue
        else:
            ecdhe_group = None
        needed = _SUITE_CERT.get(info.auth) if info is not None else None
        if needed is not None and cert_type and not _fits(needed, cert_type, info):
            first_failure = first_failure or (
                "cert_type",
                f"the server's {server.cert_key_type} certificate does not fit the common "
                f"{info.auth if info else '?'}-authenticated suites in {vname}",
            )
            continue
        suite, group = candidate, ecdhe_group
        break
    if suite is None:
        assert first_failure is not None
        return _fail(profile, first_failure[0], first_failure[1], version)

    if version == c.TLS13 and cert_type:
        schemes = _TLS13_SCHEMES.get(cert_type.upper())
        if schemes is not None and not schemes & set(profile.signature_algorithms):
            return _fail(
                profile,
                "cert_type",
                f"the client offers no {vname} signature scheme for the server's "
                f"{server.cert_key_type} certificate",
                version,
                suite,
                group,
            )

    # 4. The client's checks of what the server sent: the certificate (it comes first,
    # RFC 5246 section 7.3), then the ServerKeyExchange DH parameters.
    bits = server.cert_key_bits
    size = None
    if bits and cert_type in ("RSA", "RSA-PSS"):
        size = _size_problem("rsa", "RSA key", bits, profile.min_rsa_bits, profile.max_rsa_bits)
    elif bits and cert_type == "EC":
        size = _size_problem("ecdsa", "ECDSA key", bits, profile.min_ecdsa_bits, None)
    if size is not None:
        return _fail(profile, *size, version, suite, group)
    sig_hash = (server.cert_signature_hash or "").strip().lower()
    if profile.requires_sha2 and sig_hash in _PRE_SHA2:
        return _fail(
            profile,
            "sha1_signature",
            f"client requires SHA-2 certificate signatures; the certificate is signed with "
            f"{sig_hash.upper()}",
            version,
            suite,
            group,
        )
    info = reg.cipher_suite(suite)
    if version != c.TLS13 and _is_dhe(info) and server.dh_bits is not None:
        size = _size_problem(
            "dh", "DH prime", server.dh_bits, profile.min_dh_bits, profile.max_dh_bits
        )
        if size is not None:
            return _fail(profile, *size, version, suite, group)
    return Simulation(
        profile_id=profile.id,
        ok=True,
        version=version,
        suite=suite,
        group=group,
        reason="",
        reason_code="",
    )
