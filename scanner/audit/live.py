# Live client simulation: send a client profile's real ClientHello (spec_for_profile, with
# the server_name rewritten for the target) and report what that client would get: the
# negotiated version, suite and group, or the failure with its reason.
#
# Rules it keeps: the verdict uses the same reason codes as the offline model
# (scanner/simulate.py), and the client's own checks of what the server sent (certificate
# key size and type, SHA-2, DH prime size) are applied by calling simulate() on exactly
# what this one handshake showed, so the live and the computed answer follow one set of
# rules. A failure always names what happened (the alert, the close, the timeout), never
# just "no connection". One connection per profile; deadlines and concurrency come from the
# caller.
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import trio

from handshakes import constants as c
from handshakes import events as ev
from handshakes import registry as reg
from handshakes.client_hello import ClientHelloSpec
from handshakes.errors import LocalProtocolError
from handshakes.keyshare import KeyShare, KeySharePool
from handshakes.server_flight import HandshakeProbe
from scanner import engine as en
from scanner.engine import OpenStream, ProbeOutcome, open_tcp
from scanner.options import ACCEPTED, ALERT, CLOSED, DNS_ERROR, Deadlines, Target
from scanner.outcome_text import clean_detail
from scanner.probes.hello import EC_GROUPS_TLS12, MAX_SUITES_PER_HELLO, candidate_suites
from scanner.profiles import ClientProfile, spec_for_profile
from scanner.profiles.hello import decode_key_share
from scanner.simulate import ServerCapabilities, Simulation, simulate

__all__ = ["LiveSimulation", "simulate_live", "simulate_live_many", "verdict"]

# RFC 8446 section 6.2 / RFC 5246 section 7.2.2 alert descriptions the verdict reads.
_PROTOCOL_VERSION = 70
_HANDSHAKE_FAILURE = 40
# OpenSSL 3 answers internal_error (80) instead of protocol_version (70) or
# handshake_failure (40) when its security level leaves nothing for an old client (no
# protocol or cipher enabled that the client offers): interpreted like handshake_failure.
_INTERNAL_ERROR = 80
_NOTHING_ACCEPTABLE = (_HANDSHAKE_FAILURE, _INTERNAL_ERROR)


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveSimulation:
    """What one profile got from a real server. The first seven fields mean what they mean
    in scanner.simulate.Simulation; the rest is the evidence: the engine outcome, the alert,
    ProbeOutcome.describe(), and what the server showed of its certificate and DH prime
    (empty / None where the handshake did not get that far or the flight was not readable,
    e.g. after a HelloRetryRequest)."""

    profile_id: str
    ok: bool
    version: int | None
    suite: int | None
    group: int | None
    reason: str
    reason_code: str
    outcome: str
    alert: int | None = None
    detail: str = ""
    hello_retry: bool = False
    cert_key_type: str = ""
    cert_key_bits: int = 0
    cert_signature_hash: str | None = None
    dh_bits: int | None = None

    def simulation(self) -> Simulation:
        """The verdict alone, comparable with simulate()'s."""
        return Simulation(
            profile_id=self.profile_id,
            ok=self.ok,
            version=self.version,
            suite=self.suite,
            group=self.group,
            reason=self.reason,
            reason_code=self.reason_code,
        )


class _ReplayProbe(HandshakeProbe):
    """A HandshakeProbe for a replayed hello. Its key shares travel inside
    extra_extensions (so the captured extension order is kept), where the probe does not
    look for them: tell it which key pairs they are, so it can read a TLS 1.3 flight."""

    def __init__(self, spec: ClientHelloSpec, *, shares: dict[int, KeyShare]) -> None:
        # The second ClientHello after a HelloRetryRequest would have to leave the captured
        # extension order; the HRR already fixes version, suite and group (answer_hrr off).
        super().__init__(spec, read_flight=True, answer_hrr=False)
        self._replayed_shares = shares

    def initiate(self) -> bytes:
        data = super().initiate()
        self._offered_shares = dict(self._replayed_shares)
        return data


def _shares_in(extensions: Sequence[tuple[int, bytes]], pool: KeySharePool) -> dict[int, KeyShare]:
    """The key pairs behind the key_share entries spec_for_profile() took from ``pool``."""
    out: dict[int, KeyShare] = {}
    for ext_type, body in extensions:
        if ext_type != c.EXT_KEY_SHARE:
            continue
        for group, public in decode_key_share(body):
            if reg.is_grease(group):
                continue
            try:
                share = pool.get(group)
            except LocalProtocolError:
                continue
            if share.public == public:
                out[group] = share
    return out


def _span(versions: Sequence[int]) -> str:
    names = [reg.version_name(v) for v in sorted(versions, reverse=True)]
    return ", ".join(names) if names else "none"


def _leaf_facts(chain: tuple[bytes, ...]) -> tuple[str, int, str | None]:
    if not chain:
        return "", 0, None
    from scanner.x509 import CertificateDecodeError, decode_certificate

    try:
        info = decode_certificate(chain[0])
    except CertificateDecodeError:
        return "", 0, None
    return info.key_type, info.key_bits, info.signature_hash


def verdict(
    profile: ClientProfile, out: ProbeOutcome, wide: ProbeOutcome | None = None
) -> LiveSimulation:
    """Turn one probe's outcome into the client's verdict (documented in docs/audit.md).
    ``wide``: after a handshake_failure, the same hello offering every cipher suite of the
    client's versions (see simulate_live), which tells a version problem from a suite one."""
    alert = out.alert
    base: dict[str, Any] = {
        "profile_id": profile.id,
        "outcome": out.outcome,
        "alert": alert.description if alert is not None else None,
        "detail": out.describe(),
    }
    if out.outcome != ACCEPTED:
        return _failure(profile, out, base, wide)

    sh = out.server_hello
    hrr = out.first(ev.HelloRetryRequest)
    v2 = out.first(ev.SSLv2ServerHello)
    if isinstance(v2, ev.SSLv2ServerHello):
        common = [k for k in profile.cipher_suites if k in v2.cipher_kinds]
        key_type, bits, sig_hash = _leaf_facts((v2.certificate,) if v2.certificate else ())
        return LiveSimulation(
            ok=bool(common) and c.SSL2 in profile.versions,
            version=c.SSL2,
            suite=common[0] if common else None,
            group=None,
            reason="" if common else "no SSLv2 cipher kind in common",
            reason_code="" if common else "no_common_suite",
            cert_key_type=key_type,
            cert_key_bits=bits,
            cert_signature_hash=sig_hash,
            **base,
        )
    if sh is not None:
        version, suite, group = sh.version, sh.cipher_suite, sh.selected_group
    elif isinstance(hrr, ev.HelloRetryRequest):
        # RFC 8446 section 4.1.4: a HelloRetryRequest fixes TLS 1.3, the suite and the group.
        version, suite, group = c.TLS13, hrr.cipher_suite, hrr.selected_group
    else:  # pragma: no cover - classify() only accepts on one of the three
        return _failure(profile, out, base, None)

    ske = out.first(ev.ServerKeyExchange)
    dh_bits = None
    if isinstance(ske, ev.ServerKeyExchange):
        if ske.kind == "dhe":
            dh_bits = ske.dh_prime_bits
        elif ske.kind == "ecdhe" and ske.group is not None:
            group = ske.group
    cert = out.first(ev.Certificate)
    key_type, bits, sig_hash = _leaf_facts(cert.chain if isinstance(cert, ev.Certificate) else ())
    evidence: dict[str, Any] = {
        "hello_retry": isinstance(hrr, ev.HelloRetryRequest),
        "cert_key_type": key_type,
        "cert_key_bits": bits,
        "cert_signature_hash": sig_hash,
        "dh_bits": dh_bits,
    }

    def fail(code: str, reason: str, agreed: int = 3) -> LiveSimulation:
        # As in simulate(): on failure, what was agreed before the failing rule (the first
        # ``agreed`` of version, suite, group); the server's answer stays in the reason.
        v, s, g = (version, suite, group)[:agreed] + (None,) * (3 - agreed)
        return LiveSimulation(
            ok=False, version=v, suite=s, group=g, reason=reason, reason_code=code,
            **base, **evidence,
        )

    # A client aborts on a version it did not offer (RFC 8446 section 4.2.1; RFC 5246
    # appendix E.1) and on a suite it did not offer (RFC 5246 section 7.4.1.3).
    if version not in profile.versions:
        return fail(
            "no_common_version",
            f"the server answered {reg.version_name(version)}, which the client does not "
            f"speak (client: {_span(profile.versions)})",
            agreed=0,
        )
    if suite not in profile.cipher_suites:
        return fail(
            "no_common_suite",
            f"the server chose {reg.cipher_suite_name(suite)}, which the client did not offer",
            agreed=1,
        )
    # The client's checks of what the server sent: the rules of simulate(), applied to a
    # server that offers exactly what this handshake showed.
    seen = ServerCapabilities(
        versions=(version,),
        suites=MappingProxyType({version: (suite,)}),
        groups=MappingProxyType({version: (group,)} if group is not None else {}),
        dh_bits=dh_bits,
        cert_key_type=key_type,
        cert_key_bits=bits,
        cert_signature_hash=sig_hash,
    )
    sim = simulate(profile, seen)
    if not sim.ok:
        return fail(sim.reason_code, sim.reason)
    return LiveSimulation(
        ok=True, version=version, suite=suite, group=group, reason="", reason_code="",
        **base, **evidence,
    )


def _said_once(out: ProbeOutcome) -> str:
    """ProbeOutcome.describe(), or the detail alone when it already says the outcome:
    "connection refused", not "refused (connection refused)"."""
    detail = clean_detail(out.outcome, out.detail)
    if out.outcome != ALERT and detail and out.outcome.replace("_", " ") in detail:
        return detail
    return out.describe()


def _failure(
    profile: ClientProfile, out: ProbeOutcome, base: dict[str, Any], wide: ProbeOutcome | None
) -> LiveSimulation:
    alert = out.alert
    code, reason = out.outcome, _said_once(out)
    version: int | None = None
    if out.outcome == ALERT and alert is not None:
        name = f"{alert.name} ({alert.description})"
        if alert.description == _PROTOCOL_VERSION:
            # RFC 8446 section 4.2.1 / RFC 5246 appendix E.1: no version both speak.
            code = "no_common_version"
            reason = (
                f"the server answered alert {name}: it speaks none of the client's versions "
                f"({_span(profile.versions)})"
            )
        elif alert.description in _NOTHING_ACCEPTABLE:
            # handshake_failure says "nothing acceptable", not what: the same hello with
            # every suite of the client's versions tells. Accepted: the version is common
            # and the suites are not (RFC 5246 section 7.4.1.3). Refused again: the version.
            # The second hello also offers every curve (see _wide_spec): a server choosing
            # one of the client's own suites there lacked a common curve the first time.
            answered = wide.server_hello if wide is not None else None
            if (
                answered is not None
                and answered.version in profile.versions
                and answered.cipher_suite in profile.cipher_suites
            ):
                code, version = "no_common_group", answered.version
                reason = (
                    f"the server answered alert {name}: it speaks "
                    f"{reg.version_name(answered.version)} and "
                    f"{reg.cipher_suite_name(answered.cipher_suite)} with this client, but "
                    "none of its curves"
                )
            elif answered is not None and answered.version in profile.versions:
                code, version = "no_common_suite", answered.version
                reason = (
                    f"the server answered alert {name}: it speaks "
                    f"{reg.version_name(answered.version)} with this client but accepts "
                    "none of its cipher suites"
                )
            elif wide is not None:
                code = "no_common_version"
                tls13 = " (or, in TLSv1.3, no common group)" if c.TLS13 in profile.versions else ""
                reason = (
                    f"the server answered alert {name}, and again when offered every cipher "
                    f"suite: it speaks none of the client's versions{tls13} "
                    f"({_span(profile.versions)})"
                )
                if alert.description == _INTERNAL_ERROR:
                    reason += (
                        "; internal_error is how OpenSSL 3 says it has no version or suite "
                        "enabled for this client at its security level"
                    )
            else:
                code = "no_common_suite"
                reason = f"the server answered alert {name}: no cipher suite in common"
        else:
            code = "alert"
            reason = f"the server answered alert {name}"
    elif out.outcome == ALERT:
        v2err = out.first(ev.SSLv2Error)
        code = "alert"
        if isinstance(v2err, ev.SSLv2Error):
            reason = f"the server answered SSLv2 error 0x{v2err.code:04X}"
    elif out.outcome == CLOSED:
        reason = "the server closed the connection after the ClientHello, without an alert"
    return LiveSimulation(
        ok=False, version=version, suite=None, group=None, reason=reason, reason_code=code,
        **base,
    )


async def simulate_live(
    target: Target,
    profile: ClientProfile,
    *,
    deadlines: Deadlines,
    pool: KeySharePool,
    open_stream: OpenStream = open_tcp,
) -> LiveSimulation:
    """Send ``profile``'s ClientHello to ``target`` (one connection) and judge the answer
    as that client would. Never raises for what the network or the server does."""
    ip = target.ip
    if ip is None:
        resolved = await _resolve_failure(target, profile)
        if isinstance(resolved, LiveSimulation):
            return resolved
        ip = resolved
    spec = spec_for_profile(profile, target.server_name, key_shares=pool)
    probe = _ReplayProbe(spec, shares=_shares_in(spec.extra_extensions, pool))
    out = await en.run_probe(probe, ip, target.port, deadlines=deadlines, open_stream=open_stream)
    wide = None
    alert = out.alert
    if out.outcome == ALERT and alert is not None and alert.description in _NOTHING_ACCEPTABLE:
        wide = await en.run_probe(
            HandshakeProbe(_wide_spec(spec, profile), read_flight=False, answer_hrr=False),
            ip, target.port, deadlines=deadlines, open_stream=open_stream,
        )
    return verdict(profile, out, wide)


async def _resolve_failure(target: Target, profile: ClientProfile) -> str | LiveSimulation:
    """The first address of ``target.host``, or the dns_error verdict for ``profile``."""
    try:
        addresses = await en.resolve(target.host, target.port)
    except OSError as exc:
        addresses, error = [], str(exc)
    else:
        error = "no address"
    if addresses:
        return addresses[0]
    return LiveSimulation(
        profile_id=profile.id, ok=False, version=None, suite=None, group=None,
        reason=f"cannot resolve {target.host}: {error}", reason_code=DNS_ERROR,
        outcome=DNS_ERROR,
    )


def _wide_spec(spec: ClientHelloSpec, profile: ClientProfile) -> ClientHelloSpec:
    """The second hello after a handshake_failure: ``spec`` offering every suite of the
    client's versions (_wide_suites) and every curve. Without the curves an ECDHE-only
    server would refuse it too, and a client that offers no ECC (IE 8 on XP) would be
    told it shares no version with a server that speaks its version: OpenSSL passes over
    an ECDHE suite when the hello has no supported_groups extension. RFC 8422 section 5.1:
    a client offering ECC suites sends supported_groups and ec_point_formats; the client's
    own groups stay first, the others follow; its key shares are left as they are. An
    SSLv2-framed hello has no room for extensions: the second one is the same hello in TLS
    framing (RFC 5246 appendix E.2: the same offer, its record the only difference), unless
    the client speaks nothing above SSLv2."""
    if spec.sslv2:
        suites = tuple(s for s in _wide_suites(profile) if s <= 0xFFFF)
        if spec.legacy_version < c.SSL3 or not suites:
            return dataclasses.replace(spec, cipher_suites=_wide_suites(profile))
        return ClientHelloSpec(
            legacy_version=spec.legacy_version,
            record_version=min(spec.legacy_version, c.TLS10),
            cipher_suites=suites,
            session_id=spec.session_id,
            supported_groups=EC_GROUPS_TLS12,
            ec_point_formats=(0,),  # uncompressed
        )
    extensions = list(spec.extra_extensions)
    types = [ext_type for ext_type, _ in extensions]
    own: list[int] = []
    if c.EXT_SUPPORTED_GROUPS in types:
        body = extensions[types.index(c.EXT_SUPPORTED_GROUPS)][1]
        own = [int.from_bytes(body[i : i + 2], "big") for i in range(2, len(body) - 1, 2)]
    groups = list(dict.fromkeys([*own, *EC_GROUPS_TLS12]))
    listed = b"".join(g.to_bytes(2, "big") for g in groups)
    groups_ext = (c.EXT_SUPPORTED_GROUPS, len(listed).to_bytes(2, "big") + listed)
    if c.EXT_SUPPORTED_GROUPS in types:
        extensions[types.index(c.EXT_SUPPORTED_GROUPS)] = groups_ext
    else:
        extensions.append(groups_ext)
    if c.EXT_EC_POINT_FORMATS not in types:
        extensions.append((c.EXT_EC_POINT_FORMATS, b"\x01\x00"))  # uncompressed only
    return dataclasses.replace(
        spec, cipher_suites=_wide_suites(profile), extra_extensions=tuple(extensions)
    )


def _wide_suites(profile: ClientProfile) -> tuple[int, ...]:
    """The client's own suites, then the popular suites of each of its versions (newest
    first), up to the size of hello servers accept."""
    out = dict.fromkeys(profile.cipher_suites)
    for version in sorted(profile.versions, reverse=True):
        if version == c.SSL2:
            continue
        for suite in candidate_suites(version):
            if len(out) >= len(profile.cipher_suites) + MAX_SUITES_PER_HELLO:
                break
            out.setdefault(suite)
    return tuple(out)


async def simulate_live_many(
    target: Target,
    profiles: Sequence[ClientProfile],
    *,
    deadlines: Deadlines,
    concurrency: int = 4,
    open_stream: OpenStream = open_tcp,
) -> tuple[LiveSimulation, ...]:
    """simulate_live for every profile, ``concurrency`` connections at a time; results in
    the order of ``profiles``. The name is resolved once for all of them (the first
    address); when it does not resolve, every profile gets that one dns_error."""
    if target.ip is None and profiles:
        failed = await _resolve_failure(target, profiles[0])
        if isinstance(failed, LiveSimulation):
            return tuple(dataclasses.replace(failed, profile_id=p.id) for p in profiles)
        target = dataclasses.replace(target, ip=failed)
    pool = KeySharePool()
    limiter = trio.CapacityLimiter(concurrency)
    send, receive = trio.open_memory_channel[tuple[int, LiveSimulation]](len(profiles))

    async def one(i: int, profile: ClientProfile) -> None:
        async with limiter:
            result = await simulate_live(
                target, profile, deadlines=deadlines, pool=pool, open_stream=open_stream
            )
        await send.send((i, result))

    async with trio.open_nursery() as nursery:
        for i, profile in enumerate(profiles):
            nursery.start_soon(one, i, profile)
    send.close()
    got = dict([item async for item in receive])
    return tuple(got[i] for i in range(len(profiles)))
