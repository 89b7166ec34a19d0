# The active classic-vulnerability checks: Heartbleed (with CRIME's compression test on the
# same hello), CCS injection, ROBOT, client-initiated renegotiation, Ticketbleed and TLS 1.3
# 0-RTT, each a
# few connections that stop at what proves the point (docs/design.md, "Vulnerability checks").
#
# Rules kept: each check follows a published test and cites it; it sends only what that
# test needs and reads the server's reaction only until it is decided (FollowUpProbe bounds
# it); what a Heartbleed server leaks is never kept, only its length; a verdict is one of
# VULNERABLE / NOT_VULNERABLE / INCONCLUSIVE / NOT_APPLICABLE, decided by one function per
# check from what was observed, and inconsistent answers are said as such, never guessed.
# One rule for the statuses: not_applicable only when the server lacks what the flaw needs
# (the protocol version, an RSA key exchange suite, session tickets); a check this client
# could not run (no suite or key it can use, a limit it keeps) is inconclusive, its
# evidence starting "not tested:". One rule for what counts as an answer: fatal alerts
# (level 2; no_renegotiation also at its RFC 5246 warning level), heartbeat responses
# (type 2), the close; a read deadline is no observation. Nothing a server sends escapes
# as an exception: each check runs under _guarded, which turns one into an inconclusive
# verdict with a reason, besides the specific bounds (ticket size, RSA key size).
# Budget on a healthy server: 1 (Heartbleed) + 1 (CCS; none when the Heartbleed hello got
# neither heartbeat nor compression, which it then shares) + 5 (ROBOT, only when an RSA key
# exchange suite is accepted) + 1 (client-initiated renegotiation) + 1 (Ticketbleed, when
# that handshake brought a session ticket) + 1 (a TLS 1.3 ticket; +1 to resume it only
# when it offers early data) connections; when ROBOT's answers differ its 5 vectors are
# run twice more (15 in all, ROBOT_RUNS), to tell an oracle from noise.
from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Awaitable, Callable, Mapping

import trio

from handshakes import constants as c
from handshakes import events as ev
from handshakes import followup as fu
from handshakes import registry as reg
from handshakes.client_hello import ClientHelloSpec
from handshakes.errors import LocalProtocolError
from handshakes.keyshare import SUPPORTED_KEY_SHARE_GROUPS, generate_key_share
from handshakes.renegotiation import GCM_SUITES, RenegotiationProbe
from handshakes.server_flight import HandshakeProbe
from handshakes.tls13_resume import Ticket, TicketProbe, early_data_accepted, resumption_hello
from scanner.engine import Connector, ProbeOutcome
from scanner.options import ALERT, TIMEOUT
from scanner.probes.context import ProbeContext
from scanner.probes.hello import MAX_SUITES_PER_HELLO, HelloFactory, candidate_suites
from scanner.probes.suites import VersionScan
from scanner.results import VulnCheck

VULNERABLE = "vulnerable"
NOT_VULNERABLE = "not_vulnerable"
INCONCLUSIVE = "inconclusive"
NOT_APPLICABLE = "not_applicable"

# Heartbleed: the malformed request declares this many payload bytes and carries none; the
# well-formed one that follows carries WELL_FORMED bytes. A vulnerable server answers the
# first with HB_DECLARED bytes of its memory (at most HB_DECLARED - 16 beyond our record).
HB_DECLARED = 64
HB_WELL_FORMED = 16

# ROBOT: the Finished sent after the ClientKeyExchange and the CCS. It cannot be right (we
# do not derive keys), so a server without an oracle fails every vector the same way.
_GARBAGE_FINISHED = bytes(range(0x30, 0x60))

CHECKS = ("heartbleed", "crime", "ccs_injection", "robot", "client_renegotiation", "ticketbleed", "zero_rtt")

ROBOT_VECTORS = ("correct", "wrong_first_bytes", "zero_wrong_position", "no_zero", "wrong_version")


def _legacy_top(versions: Mapping[int, VersionScan]) -> int | None:
    legacy = [v for v, s in versions.items() if s.supported and c.TLS10 <= v <= c.TLS12]
    return max(legacy) if legacy else None


def _suites_for(scan: VersionScan) -> list[int]:
    return scan.suites or list(candidate_suites(scan.version))[:MAX_SUITES_PER_HELLO]


def _all_known(scan: VersionScan, suites_enumerated: bool) -> bool:
    """True when ``scan.suites`` lists every suite the server accepts in that version: the
    suites probe ran and the deadline did not cut it."""
    return suites_enumerated and scan.complete and not scan.stopped


def _not_tested(check: str, why: str, version: int | None = None, connections: int = 0) -> VulnCheck:
    """The verdict of a check this client could not run or finish: inconclusive, never
    not_applicable (which says the server lacks what the flaw needs)."""
    return VulnCheck(check=check, status=INCONCLUSIVE, version=version, connections=connections,
                     evidence=f"not tested: {why}")


def _article(n: int) -> str:
    """'a' or 'an' before a number written in digits ("an 83-byte", "an 8-byte")."""
    digits = str(n)
    lead = digits[: len(digits) % 3 or 3]  # the group read first: "eleven thousand ..."
    return "an" if digits[0] == "8" or lead in ("11", "18") else "a"


async def _guarded(results: dict[str, VulnCheck], names: tuple[str, ...],
                   check: Callable[[], Awaitable[None]]) -> None:
    """Run one check; whatever it raises (a server's bytes the code did not foresee)
    becomes an inconclusive verdict for each of ``names`` not yet decided, with a reason
    in words (the exception's class, never its text: that may quote the server's bytes)."""
    try:
        await check()
    except Exception as exc:  # noqa: BLE001 - nothing a server sends may escape the family
        for name in names:
            results.setdefault(name, _not_tested(
                name, f"the check stopped on something it could not handle ({type(exc).__name__}) "
                "in the server's answer"))


async def run(ctx: ProbeContext, supported: list[int]) -> None:
    """The probe family's entry point: ``found.vulns``, one VulnCheck per check."""
    ctx.found.vulns = await check_vulns(
        ctx.conn, ctx.hello, ctx.found.versions, suites_enumerated="suites" in ctx.options.probes
    )


async def check_vulns(
    conn: Connector, hello: HelloFactory, versions: Mapping[int, VersionScan], *, suites_enumerated: bool = False
) -> tuple[VulnCheck, ...]:
    """The active checks, concurrently, against the highest of TLS 1.0-1.2 the scan found
    supported (renegotiation and Ticketbleed: TLS 1.2; 0-RTT: TLS 1.3). Returns one VulnCheck per name in CHECKS, in that
    order (not_applicable when no TLS 1.0-1.2 version is supported; for ROBOT when no RSA
    key exchange suite, for renegotiation when no TLS 1.2 ECDHE AES-GCM suite, was
    accepted). ``suites_enumerated``: the suites probe ran, so a version whose scan is
    complete lists every accepted suite; otherwise a check offers every suite it can use
    and lets the server pick. Never raises for what the server does."""
    results: dict[str, VulnCheck] = {}

    async def early() -> None:
        results["zero_rtt"] = await zero_rtt(conn, hello, versions)

    top = _legacy_top(versions)
    if top is None:
        why = "no TLS 1.0-1.2 version is supported; the check needs one"
        results = {name: VulnCheck(check=name, status=NOT_APPLICABLE, evidence=why) for name in CHECKS}
        del results["zero_rtt"]
        await _guarded(results, ("zero_rtt",), early)
        return tuple(results[n] for n in CHECKS)
    scan = versions[top]

    shared: list[ProbeOutcome] = []  # the Heartbleed connection, when CCS injection shared it

    async def hb() -> None:
        results["heartbleed"], results["crime"], ccs_out = await heartbleed(conn, hello, scan, ccs=True)
        if ccs_out is not None:
            shared.append(ccs_out)

    async def ccs() -> None:
        if shared:  # one connection for both checks: it counts for Heartbleed
            results["ccs_injection"] = dataclasses.replace(ccs_verdict(shared[0], scan.version), connections=0)
        else:
            results["ccs_injection"] = await ccs_injection(conn, hello, scan)

    async def hb_then_ccs() -> None:
        await _guarded(results, ("heartbleed", "crime"), hb)
        await _guarded(results, ("ccs_injection",), ccs)

    async def rsa() -> None:
        results["robot"] = await robot(conn, hello, versions, suites_enumerated)

    async def reneg() -> None:
        # Ticketbleed resumes the session ticket this handshake brought: one more connection.
        results["client_renegotiation"], ticket, suites = await client_renegotiation(
            conn, hello, versions, suites_enumerated
        )
        results["ticketbleed"] = await ticketbleed(conn, hello, ticket, suites, results["client_renegotiation"])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hb_then_ccs)
        nursery.start_soon(_guarded, results, ("robot",), rsa)
        nursery.start_soon(_guarded, results, ("client_renegotiation", "ticketbleed"), reneg)
        nursery.start_soon(_guarded, results, ("zero_rtt",), early)
    return tuple(results[n] for n in CHECKS)


# -- Heartbleed ----------------------------------------------------------------------------
# CVE-2014-0160; the test of the OpenSSL advisory of 2014-04-07 and of Codenomicon's
# heartbleed.com: offer the heartbeat extension (RFC 6520), then send, before the handshake
# is complete, a heartbeat_request whose payload_length exceeds the payload it carries.
# RFC 6520 section 4: such a request MUST be discarded silently. A well-formed request
# follows, so a patched server answers at once instead of leaving us to a deadline.


async def heartbleed(
    conn: Connector, hello: HelloFactory, scan: VersionScan, *, ccs: bool = False
) -> tuple[VulnCheck, VulnCheck, ProbeOutcome | None]:
    """Heartbleed, and CRIME's precondition from the same connection: its hello also offers
    DEFLATE (RFC 3749), so the ServerHello says whether the server compresses. With
    ``ccs``, CCS injection's test is run on the same connection when the server took
    neither the heartbeat extension nor compression, and its outcome returned for
    ccs_verdict (else None: ccs_injection asks on its own connection)."""
    version = scan.version
    spec = hello.spec(version, _suites_for(scan), compression=True)
    spec = _with_extension(spec, fu.EXT_HEARTBEAT, bytes((fu.HEARTBEAT_PEER_ALLOWED,)))
    probes: list[fu.FollowUpProbe] = []
    # CCS injection shares this connection (issue 16: one connection less per endpoint)
    # when the ServerHello negotiated no heartbeat and null compression: nothing is sent
    # for Heartbleed then, and the session the server holds after its flight is the one
    # ccs_injection's hello gets (the same suites offered; what it ignored changes nothing
    # its state machine expects next, RFC 5246 section 7.1: a ClientKeyExchange).

    def shares_ccs(sh: ev.ServerHello) -> bool:
        return ccs and fu.heartbeat_mode(sh) is None and sh.compression == 0

    ccs_sent: list[bool] = []

    def follow_up(sh: ev.ServerHello, flight: tuple[ev.Event, ...]) -> bytes | None:
        if shares_ccs(sh):
            ccs_sent.append(True)
            return _ccs_follow_up(sh, flight)
        if fu.heartbeat_mode(sh) != fu.HEARTBEAT_PEER_ALLOWED:
            return None
        malformed = fu.heartbeat_request(sh.version, declared_length=HB_DECLARED)
        well_formed = fu.heartbeat_request(
            sh.version, declared_length=HB_WELL_FORMED, payload=b"\x5a" * HB_WELL_FORMED
        )
        return malformed + well_formed

    def stop(e: ev.Event) -> bool:
        # What counts (module comment): a fatal alert or a heartbeat response (type 2); a
        # heartbeat request from the server is read past. CCS injection's rule when it
        # shares the connection: a fatal alert only.
        return _fatal(e) or (
            not ccs_sent and isinstance(e, ev.HeartbeatResponse) and e.message_type == fu.HEARTBEAT_RESPONSE
        )

    def make() -> fu.FollowUpProbe:
        ccs_sent.clear()  # a retried connection starts over
        probe = fu.FollowUpProbe(spec, follow_up=follow_up, stop_when=stop, key_share_for=hello.pool.get)
        probes.append(probe)
        return probe

    out = await conn.probe("Heartbleed", make)
    sh = out.server_hello
    shared = bool(probes) and probes[-1].followed_up and ccs_sent and sh is not None and shares_ccs(sh)
    return heartbleed_verdict(out, version), compression_verdict(out, version), out if shared else None


def compression_verdict(out: ProbeOutcome, version: int) -> VulnCheck:
    """CRIME, CVE-2012-4929 (Rizzo and Duong, 2012): vulnerable when the server chose
    DEFLATE (1) or any method but null (0) from a hello offering DEFLATE and null."""
    sh = out.server_hello
    name = reg.version_name(version)
    if sh is None:
        return VulnCheck(check="crime", status=INCONCLUSIVE, version=version, connections=0,
                         evidence=f"{name} ClientHello offering DEFLATE: {out.describe()}")
    if sh.compression == 0:
        return VulnCheck(check="crime", status=NOT_VULNERABLE, version=version, connections=0,
                         evidence="offered DEFLATE and null compression, the server chose null")
    return VulnCheck(check="crime", status=VULNERABLE, version=version, connections=0,
                     evidence=f"offered DEFLATE and null compression, the server chose method {sh.compression}"
                     + (" (DEFLATE)" if sh.compression == 1 else ""))


def heartbleed_verdict(out: ProbeOutcome, version: int) -> VulnCheck:
    """Vulnerable when the first heartbeat response declares HB_DECLARED payload bytes
    (the malformed request was answered: its record is longer than the 19 bytes we sent);
    not vulnerable when the extension was not negotiated, when the well-formed request is
    the one answered, or when the server alerts; inconclusive otherwise."""
    name = reg.version_name(version)
    sh = out.server_hello
    if sh is None:
        return VulnCheck(check="heartbleed", status=INCONCLUSIVE, version=version, connections=out.connections,
                         evidence=f"{name} ClientHello with the heartbeat extension: {out.describe()}")
    mode = fu.heartbeat_mode(sh)
    if mode is None:
        return VulnCheck(check="heartbleed", status=NOT_VULNERABLE, version=version, connections=out.connections,
                         evidence=f"the {name} ServerHello does not accept the heartbeat extension "
                         "(RFC 6520), so no heartbeat was sent")
    if mode != fu.HEARTBEAT_PEER_ALLOWED:
        return VulnCheck(check="heartbleed", status=INCONCLUSIVE, version=version, connections=out.connections,
                         evidence=f"the server accepts the heartbeat extension with mode {mode}, "
                         "which forbids the client to send requests; none was sent")
    if not any(isinstance(e, ev.ServerHelloDone) for e in out.events):
        return VulnCheck(check="heartbleed", status=INCONCLUSIVE, version=version, connections=out.connections,
                         evidence=f"heartbeat negotiated, but the {name} server flight did not "
                         f"reach ServerHelloDone: {out.describe()}")
    sent = 3 + fu.HEARTBEAT_MIN_PADDING
    ignored: list[str] = []
    for e in _after_flight(out):
        if isinstance(e, ev.HeartbeatResponse) and e.message_type != fu.HEARTBEAT_RESPONSE:
            # RFC 6520 section 3: only a heartbeat_response (2) answers a request.
            ignored.append(f"a heartbeat message of type {e.message_type} ({e.record_length} bytes), "
                           "not a response, was not counted")
            continue
        if isinstance(e, ev.HeartbeatResponse):
            if e.payload_length == HB_DECLARED and e.record_length > sent:
                leaked = e.record_length - sent
                return VulnCheck(
                    check="heartbleed", status=VULNERABLE, version=version, connections=out.connections,
                    evidence=(
                        f"a {sent}-byte heartbeat request declaring {HB_DECLARED} payload bytes "
                        f"and carrying none was answered with {_article(e.record_length)} "
                        f"{e.record_length}-byte heartbeat response ({leaked} bytes more than sent; "
                        "their content was not kept)"
                    ),
                )
            if e.payload_length == HB_WELL_FORMED:
                return VulnCheck(
                    check="heartbleed", status=NOT_VULNERABLE, version=version, connections=out.connections,
                    evidence=(
                        f"the heartbeat request declaring {HB_DECLARED} payload bytes and carrying "
                        "none was discarded (RFC 6520 section 4); the well-formed request after it "
                        f"was answered with its {HB_WELL_FORMED} bytes"
                    ),
                )
            return VulnCheck(
                check="heartbleed", status=INCONCLUSIVE, version=version, connections=out.connections,
                evidence=f"a heartbeat response declaring {e.payload_length} payload bytes "
                f"({e.record_length}-byte record) answered neither request",
            )
        if _fatal(e):
            assert isinstance(e, ev.Alert)
            return VulnCheck(
                check="heartbleed", status=NOT_VULNERABLE, version=version, connections=out.connections,
                evidence=(f"the heartbeat requests sent before the handshake completed got no "
                          f"heartbeat response but alert {_alert_words(e)}"),
            )
    return VulnCheck(check="heartbleed", status=INCONCLUSIVE, version=version, connections=out.connections,
                     evidence="heartbeat negotiated, but neither heartbeat request was answered: "
                     + "; ".join((*ignored, _ending(out))))


def _fatal(e: ev.Event) -> bool:
    """A fatal alert (level 2, RFC 5246 section 7.2): the only alerts that decide a verdict."""
    return isinstance(e, ev.Alert) and e.fatal


def _alert_words(a: ev.Alert) -> str:
    """'bad_record_mac (20)', with the level when it is not fatal ('..., level 1')."""
    return f"{a.name} ({a.description})" if a.fatal else f"{a.name} ({a.description}, level {a.level})"


def _ending(out: ProbeOutcome) -> str:
    """How the reaction after the follow-up ended when no fatal alert said it: what else
    came (sizes and types only), then closed, reset, the read deadline or the read limit."""
    parts: list[str] = []
    for e in _after_flight(out):
        if isinstance(e, ev.Alert):
            parts.append(f"alert {_alert_words(e)} (not fatal: not counted)")
        elif isinstance(e, ev.UnreadableReaction):
            parts.append(f"{e.length} bytes that could not be read as TLS records (not kept)")
        elif isinstance(e, ev.OpaqueRecord):
            kind = "heartbeat record too short to be a message" if e.content_type == c.HEARTBEAT \
                else f"record of type {e.content_type}"
            parts.append(f"{_article(e.length)} {e.length}-byte {kind}")
    if any(isinstance(e, ev.ConnectionClosed) for e in out.events):
        parts.append("the server closed the connection")
    elif out.ended == TIMEOUT:
        parts.append("no answer before the read deadline" if not parts else "then nothing before the read deadline")
    elif out.ended:
        parts.append(f"the connection ended ({out.ended})")
    elif not any(isinstance(e, ev.UnreadableReaction) for e in out.events):
        parts.append("the reading stopped at its limit without an answer")
    return ", ".join(parts)


def _with_extension(spec: ClientHelloSpec, ext_type: int, body: bytes) -> ClientHelloSpec:
    return dataclasses.replace(spec, extra_extensions=(*spec.extra_extensions, (ext_type, body)))


# -- CCS injection ---------------------------------------------------------------------------
# CVE-2014-0224; the test of Masashi Kikuchi's report (OpenSSL advisory of 2014-06-05) as
# nmap's ssl-ccs-injection and testssl.sh run it: after the server's flight, send a
# ChangeCipherSpec before any key exchange. RFC 5246 section 7.1 allows it only after the
# ClientKeyExchange; a correct server answers unexpected_message (10). A server that takes
# it switches to keys derived from an empty master secret, so it fails to decrypt the next
# record we send: bad_record_mac (20) or decryption_failed (21).


async def ccs_injection(conn: Connector, hello: HelloFactory, scan: VersionScan) -> VulnCheck:
    version = scan.version
    spec = hello.spec(version, _suites_for(scan))

    out = await conn.probe(
        "CCS injection", lambda: fu.FollowUpProbe(spec, follow_up=_ccs_follow_up, key_share_for=hello.pool.get)
    )
    return ccs_verdict(out, version)


def _ccs_follow_up(sh: ev.ServerHello, flight: tuple[ev.Event, ...]) -> bytes:
    """The early ChangeCipherSpec and the record after it (module comment above)."""
    return fu.change_cipher_spec(sh.version) + fu.record(c.APPLICATION_DATA, sh.version, bytes(32))


def ccs_verdict(out: ProbeOutcome, version: int) -> VulnCheck:
    """Not vulnerable on unexpected_message (10); vulnerable on bad_record_mac (20),
    decryption_failed (21) or record_overflow (22) (the record after the CCS was read as
    encrypted); inconclusive for any other answer or none."""
    name = reg.version_name(version)
    conns = out.connections
    if not any(isinstance(e, ev.ServerHelloDone) for e in out.events):
        return VulnCheck(check="ccs_injection", status=INCONCLUSIVE, version=version, connections=conns,
                         evidence=f"the {name} server flight did not reach ServerHelloDone: {out.describe()}")
    after = _after_flight(out)
    # Only a fatal alert decides (module comment); an odd level is said, not counted.
    alert = next((e for e in after if isinstance(e, ev.Alert) and e.fatal), None)
    sent = "a ChangeCipherSpec sent right after ServerHelloDone, before any key exchange"
    if alert is not None and alert.description == c.ALERT_UNEXPECTED_MESSAGE:
        return VulnCheck(check="ccs_injection", status=NOT_VULNERABLE, version=version, connections=conns,
                         evidence=f"{sent}, was refused with alert unexpected_message (10)")
    if alert is not None and alert.description in (20, 21, 22):
        return VulnCheck(
            check="ccs_injection", status=VULNERABLE, version=version, connections=conns,
            evidence=(f"{sent}, was accepted: the record after it was read as encrypted and "
                      f"refused with alert {alert.name} ({alert.description})"),
        )
    if alert is not None:
        return VulnCheck(check="ccs_injection", status=INCONCLUSIVE, version=version, connections=conns,
                         evidence=f"{sent}, was answered with alert {alert.name} ({alert.description})")
    return VulnCheck(check="ccs_injection", status=INCONCLUSIVE, version=version, connections=conns,
                     evidence=f"{sent}, got no fatal alert: {_ending(out)}")


def _after_flight(out: ProbeOutcome) -> list[ev.Event]:
    for i, e in enumerate(out.events):
        if isinstance(e, ev.ServerHelloDone):
            return list(out.events[i + 1 :])
    return []


# -- ROBOT ---------------------------------------------------------------------------------
# Böck, Somorovsky, Young, "Return Of Bleichenbacher's Oracle Threat (ROBOT)", USENIX
# Security 2018, section 3 and their robot-detect test: five ClientKeyExchange messages
# whose RSA plaintext is a correct PKCS#1 v1.5 block, one with wrong first bytes, one with
# the 0x00 separator in a wrong place, one with no separator, one with a wrong version in
# the premaster secret; each followed by ChangeCipherSpec and a Finished that cannot be
# right. A server whose answers differ is an oracle: "weak" when only correctly formatted
# blocks are told apart, "strong" when the wrong first bytes get their own answer.
# CVE-2017-13099 (wolfSSL), CVE-2017-6168 (F5), CVE-2012-5081 (Java JSSE) and others.


# ROBOT's bounds on the server's RSA key (a hostile certificate must not make the scan do
# long arithmetic on the event loop): the public exponent at most 2^32 (real keys use
# 65537) and the modulus at most 8192 bits; else the test is not run.
MAX_RSA_EXPONENT = 2**32
MAX_RSA_MODULUS_BITS = 8192
# How many times the five vectors run when their answers differ: an oracle must give the
# same answers in every run. Two runs let a server answering each ClientKeyExchange at
# random between two alerts pass with chance 1/32; three, 1/1024.
ROBOT_RUNS = 3


async def robot(
    conn: Connector, hello: HelloFactory, versions: Mapping[int, VersionScan], suites_enumerated: bool = False
) -> VulnCheck:
    # The accepted suites when they were enumerated to the end; otherwise (--probes
    # without suites, an enumeration the deadline cut) every RSA candidate, and the server
    # picks: a server that accepts none makes the check not_applicable, said so.
    rsa_by_version = {
        v: [
            s for s in (scan.suites if _all_known(scan, suites_enumerated) else [*scan.suites, *candidate_suites(v)])
            if (info := reg.cipher_suite(s)) is not None and info.kx == "RSA"
        ]
        for v, scan in versions.items()
        if scan.supported and c.TLS10 <= v <= c.TLS12
    }
    usable = [v for v, suites in rsa_by_version.items() if suites]
    if not usable:
        return VulnCheck(check="robot", status=NOT_APPLICABLE,
                         evidence="no RSA key exchange suite was accepted in TLS 1.0-1.2")
    version = max(usable)
    offered = list(dict.fromkeys(rsa_by_version[version]))[:MAX_SUITES_PER_HELLO]
    spec = hello.spec(version, offered)
    refused: list[str] = []  # why the server's key was not used (robot_key_refusal)
    refusals: list[bool] = []  # per connection: the server refused every RSA suite

    async def run_all() -> list[tuple[str, int]]:
        answers: dict[str, tuple[str, int]] = {}

        async def one(vector: str) -> None:
            def follow_up(sh: ev.ServerHello, flight: tuple[ev.Event, ...]) -> bytes | None:
                key = _rsa_key(flight)
                if key is None:
                    return None
                n, e = key
                why = robot_key_refusal(n, e)
                if why is not None:
                    refused.append(why)
                    return None
                return (
                    fu.rsa_client_key_exchange(sh.version, _robot_ciphertext(vector, n, e, spec.legacy_version))
                    + fu.change_cipher_spec(sh.version)
                    + fu.record(c.HANDSHAKE, sh.version, _GARBAGE_FINISHED)
                )

            out = await conn.probe(
                f"ROBOT {vector}", lambda: fu.FollowUpProbe(spec, follow_up=follow_up)
            )
            refusals.append(out.server_hello is None and out.outcome == ALERT)
            answers[vector] = (robot_reaction(out), out.connections)

        async with trio.open_nursery() as nursery:
            for vector in ROBOT_VECTORS:
                nursery.start_soon(one, vector)
        return [answers[v] for v in ROBOT_VECTORS]

    first = await run_all()
    runs = [[r for r, _ in first]]
    connections = sum(n for _, n in first)
    if refused:
        return _not_tested("robot", f"{refused[0]}; no ClientKeyExchange was sent", version, connections)
    if all(refusals):
        return VulnCheck(check="robot", status=NOT_APPLICABLE, version=version, connections=connections,
                         evidence=f"the server refused all {len(offered)} RSA key exchange suites offered "
                         f"in {reg.version_name(version)}: {runs[0][0]}")
    while len(set(runs[0])) > 1 and len(runs) < ROBOT_RUNS and runs[-1] == runs[0] and _observed(runs[0]):
        again = await run_all()
        runs.append([r for r, _ in again])
        connections += sum(n for _, n in again)
    return robot_verdict(runs, version, connections)


def robot_key_refusal(n: int, e: int) -> str | None:
    """Why ROBOT does not encrypt to this RSA key (None: it does): an exponent over
    MAX_RSA_EXPONENT or a modulus over MAX_RSA_MODULUS_BITS would cost seconds of
    arithmetic per vector; a modulus under 512 bits cannot hold a PKCS#1 block with a
    premaster secret (RFC 8017 section 7.2.1)."""
    if e > MAX_RSA_EXPONENT or e < 3:
        return f"the certificate's RSA public exponent ({e.bit_length()} bits) is outside 3..2^32"
    if n.bit_length() > MAX_RSA_MODULUS_BITS:
        return f"the certificate's RSA modulus has {n.bit_length()} bits, over the {MAX_RSA_MODULUS_BITS} tested"
    if n.bit_length() < 512:
        return f"the certificate's RSA modulus has {n.bit_length()} bits, too few for a premaster secret block"
    return None


def robot_plaintext(vector: str, k: int, version: int, seed: bytes) -> bytes:
    """The k-byte RSA plaintext of one ROBOT vector (PKCS#1 v1.5, RFC 8017 section
    7.2.1; the premaster secret of RFC 5246 section 7.4.7.1 is client_version + 46 bytes).
    ``seed`` gives the nonzero padding and random bytes, shared by all vectors."""
    nonzero = seed.replace(b"\x00", b"")  # the seed's nonzero bytes, in order
    if k < 64 or len(nonzero) < k:
        raise ValueError("modulus too small or seed too short for a ROBOT vector")
    pad = nonzero[: k - 3 - 48]
    rnd = nonzero[-46:]
    ver = version.to_bytes(2, "big")
    if vector == "correct":
        block = b"\x00\x02" + pad + b"\x00" + ver + rnd
    elif vector == "wrong_first_bytes":
        block = b"\x41\x17" + pad + b"\x00" + ver + rnd
    elif vector == "zero_wrong_position":
        block = b"\x00\x02" + pad + b"\x11" + rnd + b"\x00\x11"
    elif vector == "no_zero":
        block = b"\x00\x02" + pad + b"\x11" + b"\x11\x11" + rnd
    elif vector == "wrong_version":
        block = b"\x00\x02" + pad + b"\x00" + b"\x02\x02" + rnd
    else:
        raise ValueError(f"unknown ROBOT vector {vector!r}")
    assert len(block) == k
    return block


# The CPU of the five vectors (issue 16): one RSA encryption each (pow() with a 2048-bit
# modulus: about 185 us here) and one certificate decoding per connection. Both depend
# only on the server's key, so they are computed once per key for the whole process, not
# once per connection: the five connections of an endpoint decode its certificate once,
# and endpoints that share a key (a farm behind one certificate) share the ciphertexts.
# That takes one padding string and one premaster secret per process instead of one per
# endpoint (robot-detect draws one per run, for every vector): the vectors still differ
# only where the test wants them to.
_ROBOT_SEED: list[bytes] = []  # drawn on first use: enough nonzero bytes for 8192-bit moduli


def _robot_seed() -> bytes:
    if not _ROBOT_SEED:
        _ROBOT_SEED.append(os.urandom(2048))
    return _ROBOT_SEED[0]


@functools.lru_cache(maxsize=512)
def _robot_ciphertext(vector: str, n: int, e: int, version: int) -> bytes:
    """The RSA encryption (RFC 8017 section 5.1.1, no padding added: the block is the
    vector's) of ``vector``'s plaintext block for the key (n, e), as many bytes as n."""
    block = robot_plaintext(vector, (n.bit_length() + 7) // 8, version, _robot_seed())
    return pow(int.from_bytes(block, "big"), e, n).to_bytes(len(block), "big")


def _rsa_key(flight: tuple[ev.Event, ...]) -> tuple[int, int] | None:
    """(modulus, exponent) of the leaf certificate's RSA key, or None."""
    cert = next((e for e in flight if isinstance(e, ev.Certificate)), None)
    if not isinstance(cert, ev.Certificate) or not cert.chain:
        return None
    return _rsa_key_of(cert.chain[0])


@functools.lru_cache(maxsize=256)
def _rsa_key_of(der: bytes) -> tuple[int, int] | None:
    """(modulus, exponent) of the RSA key of the DER certificate ``der``, or None."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = x509.load_der_x509_certificate(der).public_key()
    except Exception:  # noqa: BLE001 - a certificate we cannot read is data, not a crash
        return None
    if not isinstance(key, rsa.RSAPublicKey):
        return None
    numbers = key.public_numbers()
    return numbers.n, numbers.e


_NO_KEY = "no RSA certificate in the flight: nothing sent"
_DEADLINE = "no answer (read deadline)"
_JUNK = "bytes that are not a TLS record"


def robot_reaction(out: ProbeOutcome) -> str:
    """The server's answer to one vector, in words: the alerts in order (the level when
    not fatal), then how the connection ended (closed, reset, the read deadline)."""
    if not any(isinstance(e, ev.ServerHelloDone) for e in out.events):
        return f"flight not read: {out.describe()}"
    after = _after_flight(out)
    if not after and not out.ended and out.outcome != TIMEOUT:
        return _NO_KEY
    parts = []
    for e in after:
        if isinstance(e, ev.Alert):
            parts.append(f"alert {_alert_words(e)}")
        elif isinstance(e, ev.ConnectionClosed):
            parts.append("closed")
        elif isinstance(e, ev.ChangeCipherSpec):
            parts.append("ChangeCipherSpec")
        elif isinstance(e, ev.OpaqueRecord):
            parts.append(f"record type {e.content_type}")
        elif isinstance(e, ev.UnreadableReaction):
            parts.append(_JUNK)
    if out.ended:
        parts.append(_DEADLINE if out.ended == TIMEOUT else out.ended)
    return ", ".join(parts) or "no answer"


def _no_key(reactions: list[str]) -> bool:
    return any(r == _NO_KEY or r.startswith("flight not read") for r in reactions)


def _observed(reactions: list[str]) -> bool:
    """Every vector got an answer: a read deadline with nothing before it, or bytes that
    are not a record, are no observation."""
    return not any(r == _DEADLINE or _JUNK in r for r in reactions)


def robot_verdict(runs: list[list[str]], version: int, connections: int) -> VulnCheck:
    """``runs``: the five answers (robot_reaction) of each run, in ROBOT_VECTORS order.
    A vector with no answer but the read deadline: inconclusive (no observation).
    Identical answers to the five vectors: not vulnerable. Different answers, the same in
    all ROBOT_RUNS runs: an oracle, weak when the three malformed blocks (wrong first
    bytes, zero misplaced, no zero) share one answer, strong otherwise (robot-detect's
    rule). Different answers that change between runs, or fewer than ROBOT_RUNS runs:
    inconclusive, said as such (noise is never taken for an oracle)."""
    first = runs[0]
    listing = "; ".join(f"{v}: {r}" for v, r in zip(ROBOT_VECTORS, first, strict=True))
    if _no_key(first):
        return _not_tested("robot", f"the server's flight could not be used: {listing}", version, connections)
    if not _observed(first):
        silent = [v for v, r in zip(ROBOT_VECTORS, first, strict=True) if r == _DEADLINE or _JUNK in r]
        return VulnCheck(check="robot", status=INCONCLUSIVE, version=version, connections=connections,
                         evidence=f"no answer before the read deadline, or no TLS record, to {', '.join(silent)} "
                         f"(a timeout is no observation): {listing}")
    if len(set(first)) == 1:
        return VulnCheck(check="robot", status=NOT_VULNERABLE, version=version, connections=connections,
                         evidence=f"the five ClientKeyExchange vectors got the same answer: {first[0]}")
    changed = next((r for r in runs[1:] if r != first), None)
    if changed is not None or len(runs) < ROBOT_RUNS:
        again = "; ".join(f"{v}: {r}" for v, r in zip(ROBOT_VECTORS, changed or first, strict=True))
        return VulnCheck(check="robot", status=INCONCLUSIVE, version=version, connections=connections,
                         evidence=f"the answers differ between runs (first: {listing}; "
                         f"then: {again}): the server is inconsistent, no verdict")
    weak = first[1] == first[2] == first[3]
    return VulnCheck(
        check="robot", status=VULNERABLE, version=version, connections=connections,
        oracle="weak" if weak else "strong",
        evidence=f"the answers differ by padding, the same in {len(runs)} runs: {listing}",
    )


# -- client-initiated renegotiation ------------------------------------------------------------
# CVE-2011-1473 and THC's SSL-DoS (2011): a renegotiation costs the server a private-key
# operation, so a server that renegotiates whenever the client asks lets one client spend
# its CPU. The test testssl.sh and SSL Labs run: complete a TLS 1.2 handshake, then send a
# ClientHello inside it (RFC 5746 section 3.5 secure renegotiation). A server that does
# not allow it answers no_renegotiation (100, RFC 5246 section 7.2.2), another alert, or
# closes; one that allows it answers with a ServerHello.
# Insecure renegotiation (no RFC 5746, CVE-2009-3555) is tls.insecure_renegotiation.

# Every elliptic-curve group the client can complete ECDHE with (handshakes/keyshare.py):
# x25519, secp256r1, secp384r1, secp521r1, x448, so a server limited to one still talks.
RENEG_GROUPS = (0x001D, 0x0017, 0x0018, 0x0019, 0x001E)


async def client_renegotiation(
    conn: Connector, hello: HelloFactory, versions: Mapping[int, VersionScan], suites_enumerated: bool = False
) -> tuple[VulnCheck, bytes | None, list[int]]:
    """The verdict, the session ticket the completed handshake brought (or None) and the
    suites offered."""
    scan = versions.get(c.TLS12)
    if scan is None or not scan.supported:
        # The flaw exists in TLS 1.0 and 1.1 too; this client completes TLS 1.2 only.
        return _not_tested("client_renegotiation", "TLS 1.2 is not supported and the check completes "
                           "a TLS 1.2 handshake"), None, []
    # The accepted ECDHE AES-GCM suites when enumerated to the end, else all of them.
    known = _all_known(scan, suites_enumerated)
    suites = [s for s in (scan.suites if known else [*scan.suites, *GCM_SUITES]) if s in GCM_SUITES]
    suites = list(dict.fromkeys(suites))
    if not suites:
        return _not_tested("client_renegotiation", "needs a TLS 1.2 ECDHE AES-GCM suite (the only suites "
                           "this client completes a handshake with), and the server accepts none",
                           c.TLS12), None, []
    spec = hello.spec(c.TLS12, suites, groups=RENEG_GROUPS)
    probes: list[RenegotiationProbe] = []

    def make() -> RenegotiationProbe:
        probe = RenegotiationProbe(spec)
        probes.append(probe)
        return probe

    out = await conn.probe("client-initiated renegotiation", make)
    completed = bool(probes) and probes[-1].completed
    ticket = probes[-1].ticket if completed else None
    if not completed and out.server_hello is None and out.outcome == ALERT:
        # Suites not enumerated: the server refused every ECDHE AES-GCM suite offered.
        return _not_tested("client_renegotiation", "needs a TLS 1.2 ECDHE AES-GCM suite (the only suites "
                           f"this client completes a handshake with), and the server refused all {len(suites)} "
                           f"offered: {out.describe()}", c.TLS12, out.connections), None, suites
    return renegotiation_verdict(out, completed), ticket, suites


def renegotiation_verdict(out: ProbeOutcome, completed: bool) -> VulnCheck:
    """Vulnerable (accepted) when the renegotiating ClientHello is answered with a
    ServerHello; not vulnerable on an alert or a close; inconclusive when the first
    handshake did not complete or nothing answered."""
    conns = out.connections
    if not completed:
        return VulnCheck(check="client_renegotiation", status=INCONCLUSIVE, version=c.TLS12, connections=conns,
                         evidence=f"the TLS 1.2 handshake did not complete: {_incomplete(out)}")
    after = list(out.events)
    for i, e in enumerate(after):
        if isinstance(e, ev.Finished):
            after = after[i + 1 :]
            break
    sent = "after a completed TLS 1.2 handshake, a ClientHello asking to renegotiate (RFC 5746)"
    for e in after:
        if isinstance(e, ev.HandshakeMessage) and e.msg_type == c.SERVER_HELLO:
            return VulnCheck(check="client_renegotiation", status=VULNERABLE, version=c.TLS12, connections=conns,
                             evidence=f"{sent} was answered with a ServerHello: the server renegotiates "
                             "whenever a client asks")
        # A fatal alert refuses; so does no_renegotiation at its warning level (RFC 5246
        # section 7.2.2). Another alert at another level is said, not counted.
        if isinstance(e, ev.Alert) and (e.fatal or (e.description == c.ALERT_NO_RENEGOTIATION and e.level == 1)):
            return VulnCheck(check="client_renegotiation", status=NOT_VULNERABLE, version=c.TLS12,
                             connections=conns,
                             evidence=f"{sent} was refused with alert {e.name} ({e.description})")
        if isinstance(e, ev.Alert) and e.description == c.ALERT_CLOSE_NOTIFY:
            # RFC 5246 section 7.2.1: close_notify closes the connection, a refusal too.
            return VulnCheck(check="client_renegotiation", status=NOT_VULNERABLE, version=c.TLS12,
                             connections=conns, evidence=f"{sent}: the server closed the connection (close_notify)")
        if isinstance(e, ev.Alert):
            return VulnCheck(check="client_renegotiation", status=INCONCLUSIVE, version=c.TLS12,
                             connections=conns,
                             evidence=f"{sent} was answered with alert {_alert_words(e)}, not a refusal")
        if isinstance(e, ev.ConnectionClosed):
            return VulnCheck(check="client_renegotiation", status=NOT_VULNERABLE, version=c.TLS12,
                             connections=conns, evidence=f"{sent}: the server closed the connection")
    return VulnCheck(check="client_renegotiation", status=INCONCLUSIVE, version=c.TLS12, connections=conns,
                     evidence=f"{sent} got no answer: {_ending(out)}")


# -- Ticketbleed --------------------------------------------------------------------------------
# CVE-2016-9244 (F5 advisory K05121675; Filippo Valsorda's ticketbleed test, 2017): resume
# a session ticket with a session ID shorter than 32 bytes. RFC 5077 section 3.4: a server
# accepting the ticket echoes the client's session ID; the vulnerable F5 stack always echoed
# 32 bytes, the rest from its memory. The published test sends a 1-byte ID; this one sends
# 31 random bytes, so at most one byte can leak and the echo is recognised beyond doubt.

TICKETBLEED_ID_LENGTH = 31


async def ticketbleed(
    conn: Connector, hello: HelloFactory, ticket: bytes | None, suites: list[int], reneg: VulnCheck
) -> VulnCheck:
    """Resume the ticket the renegotiation check's completed handshake brought; ``reneg``
    is that check's verdict, which says why there is no ticket when there is none."""
    if ticket is None and reneg.evidence.startswith("not tested:"):
        return _not_tested("ticketbleed", "needs a session ticket from a completed TLS 1.2 handshake, "
                           "which the renegotiation check could not make: " + reneg.evidence.removeprefix("not tested: "),
                           reneg.version)
    if ticket is None and reneg.evidence.startswith("the TLS 1.2 handshake did not complete"):
        return _not_tested("ticketbleed", "needs a session ticket from a completed TLS 1.2 handshake, "
                           "and that handshake did not complete", c.TLS12)
    if ticket is None:
        return VulnCheck(check="ticketbleed", status=NOT_APPLICABLE, version=c.TLS12,
                         evidence="no session ticket was issued in a completed TLS 1.2 handshake "
                         "(RFC 5077), so there is none to resume")
    session_id = os.urandom(TICKETBLEED_ID_LENGTH)
    spec = dataclasses.replace(
        hello.spec(c.TLS12, suites, groups=RENEG_GROUPS), session_ticket=ticket, session_id=session_id
    )
    out = await conn.probe("Ticketbleed", lambda: hello.probe(spec, read_flight=False))
    return ticketbleed_verdict(out, session_id)


def ticketbleed_verdict(out: ProbeOutcome, sent: bytes) -> VulnCheck:
    """Vulnerable when the ServerHello's session ID starts with the one sent and is
    longer; not vulnerable when it is exactly the one sent (the ticket was accepted and the
    ID echoed, RFC 5077 section 3.4); inconclusive otherwise (the ticket was not accepted,
    so the echo could not be seen). Only lengths are reported, never the extra bytes."""
    conns = out.connections
    sh = out.server_hello
    what = f"a ClientHello resuming the session ticket with a {len(sent)}-byte session ID"
    if sh is None:
        return VulnCheck(check="ticketbleed", status=INCONCLUSIVE, version=c.TLS12, connections=conns,
                         evidence=f"{what}: {out.describe()}")
    sid = sh.session_id
    if sid == sent:
        return VulnCheck(check="ticketbleed", status=NOT_VULNERABLE, version=c.TLS12, connections=conns,
                         evidence=f"{what} got it echoed exactly (RFC 5077 section 3.4)")
    if len(sid) > len(sent) and sid.startswith(sent):
        return VulnCheck(check="ticketbleed", status=VULNERABLE, version=c.TLS12, connections=conns,
                         evidence=f"{what} got a {len(sid)}-byte session ID back: the {len(sent)} bytes "
                         f"sent and {len(sid) - len(sent)} the client did not send (not kept)")
    return VulnCheck(check="ticketbleed", status=INCONCLUSIVE, version=c.TLS12, connections=conns,
                     evidence=f"{what}: the server did not resume it (a new {len(sid)}-byte session ID), "
                     "so the echo could not be tested")


# -- TLS 1.3 0-RTT -------------------------------------------------------------------------------
# RFC 8446 section 8 and appendix E.5: early data is not protected against replay, so a
# server that accepts it offers a replay surface the application must close (accept only
# idempotent requests, or use the single-use tickets or ClientHello recording of section
# 8). The test, as testssl.sh's: complete a TLS 1.3 handshake and read its ticket; if the
# ticket carries an early_data extension, resume it with early_data offered and read the
# EncryptedExtensions (section 4.2.10). No early data is ever sent.

ZERO_RTT_GROUPS = (0x001D,)


def _tls13_group(scan: VersionScan) -> tuple[int, ...]:
    """The key share group to offer: the one the server chose when the scan proved TLS 1.3
    (its ServerHello's key_share, or its HelloRetryRequest's selected group, RFC 8446
    section 4.2.8), so that neither handshake meets a HelloRetryRequest; else x25519."""
    out = scan.first
    if out is not None:
        for e in out.events:
            group = e.selected_group if isinstance(e, ev.ServerHello | ev.HelloRetryRequest) else None
            if group is not None and group in SUPPORTED_KEY_SHARE_GROUPS:
                return (group,)
    return ZERO_RTT_GROUPS


def _fresh_shares(spec: ClientHelloSpec) -> ClientHelloSpec:
    """The spec with key shares generated for this connection alone: these handshakes are
    completed, so they do not share the pool's key pairs."""
    groups = tuple(ks.group for ks in spec.key_shares or ()) or ZERO_RTT_GROUPS
    return dataclasses.replace(spec, key_shares=tuple(generate_key_share(g) for g in groups))


def _incomplete(out: ProbeOutcome) -> str:
    """Why a handshake this client meant to complete did not, in words."""
    if out.server_hello is None:
        return out.describe()
    if out.first(ev.HelloRetryRequest) is not None:
        return "the server asked for another key share (HelloRetryRequest)"
    why = "the server's ServerHello came, but not its Finished"
    if out.detail:
        why += f" ({out.describe()})"
    return why + (f"; {_ending(out)}" if out.ended or out.first(ev.ConnectionClosed) else "")


async def zero_rtt(conn: Connector, hello: HelloFactory, versions: Mapping[int, VersionScan]) -> VulnCheck:
    scan = versions.get(c.TLS13)
    if scan is None or not scan.supported:
        return VulnCheck(check="zero_rtt", status=NOT_APPLICABLE, evidence="TLS 1.3 is not supported")
    suites = scan.suites or list(reg.TLS13_SUITES)
    shares = _tls13_group(scan)
    spec = _fresh_shares(hello.spec(c.TLS13, suites, shares=shares))
    probes: list[TicketProbe] = []

    def make() -> TicketProbe:
        probe = TicketProbe(spec, key_share_for=lambda g: generate_key_share(g))
        probes.append(probe)
        return probe

    out = await conn.probe("TLS 1.3 session ticket", make)
    probe = probes[-1] if probes else None
    if probe is None or not probe.completed:
        return VulnCheck(check="zero_rtt", status=INCONCLUSIVE, version=c.TLS13, connections=out.connections,
                         evidence=f"the TLS 1.3 handshake did not complete: {_incomplete(out)}")
    if not probe.tickets:
        return VulnCheck(check="zero_rtt", status=NOT_APPLICABLE, version=c.TLS13, connections=out.connections,
                         evidence="no session ticket came after a completed TLS 1.3 handshake "
                         f"({_ending(out)}), so nothing can be resumed with early data")
    ticket = probe.tickets[0]
    if not ticket.max_early_data:
        return VulnCheck(check="zero_rtt", status=NOT_VULNERABLE, version=c.TLS13, connections=out.connections,
                         evidence="the server's TLS 1.3 session ticket carries no early_data extension "
                         "(RFC 8446 section 4.6.1): it offers no 0-RTT")
    try:
        resume = await _resume_with_early_data(conn, hello, ticket, shares)
    except LocalProtocolError:
        # RFC 8446 section 4.6.1 lets a ticket be 2^16-1 bytes, more than fits a ClientHello.
        return _not_tested("zero_rtt", f"the server's TLS 1.3 session ticket of {len(ticket.ticket)} bytes "
                           "is too large to offer in a ClientHello", c.TLS13, out.connections)
    return zero_rtt_verdict(ticket, resume, out.connections + resume.connections)


async def _resume_with_early_data(
    conn: Connector, hello: HelloFactory, ticket: Ticket, shares: tuple[int, ...]
) -> ProbeOutcome:
    """Raises LocalProtocolError when the ticket does not fit a ClientHello."""
    spec = resumption_hello(_fresh_shares(hello.spec(c.TLS13, [ticket.suite], shares=shares)), ticket)
    return await conn.probe(
        "TLS 1.3 0-RTT",
        lambda: HandshakeProbe(spec, read_flight=True, answer_hrr=False,
                               key_share_for=lambda g: generate_key_share(g), psk=ticket.psk),
    )


def zero_rtt_verdict(ticket: Ticket, out: ProbeOutcome, connections: int) -> VulnCheck:
    """Vulnerable (a replay surface) when the resumption offering early data was accepted
    with early_data in EncryptedExtensions; not vulnerable when the server resumed but
    declined it; inconclusive when it did not resume or could not be read."""
    offered = f"the TLS 1.3 session ticket offers {ticket.max_early_data} bytes of early data"
    sh = out.server_hello
    resumed = sh is not None and c.EXT_PRE_SHARED_KEY in dict(sh.extensions)
    accepted = early_data_accepted(out.events)
    if resumed and accepted:
        return VulnCheck(check="zero_rtt", status=VULNERABLE, version=c.TLS13, connections=connections,
                         evidence=f"{offered}; resuming it with early_data offered (none sent) got "
                         "early_data in EncryptedExtensions: the server accepts 0-RTT data")
    if resumed and accepted is False:
        return VulnCheck(check="zero_rtt", status=NOT_VULNERABLE, version=c.TLS13, connections=connections,
                         evidence=f"{offered}, but resuming it with early_data offered got "
                         "EncryptedExtensions without early_data: 0-RTT declined")
    what = "the resumption was not accepted (a full handshake)" if sh is not None and not resumed else out.describe()
    return VulnCheck(check="zero_rtt", status=INCONCLUSIVE, version=c.TLS13, connections=connections,
                     evidence=f"{offered}; resuming it with early_data offered: {what}")
