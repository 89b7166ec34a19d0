# Full handshakes that settle what a CertificateRequest only announces: does the server go
# on without a client certificate (optional) or stop (required), and what does it say to
# each certificate the user presents?
#
# Rules kept:
# - tlslite-ng does the TLS sans-IO (handshakes._tlslite.ClientHandshake, the only module
#   that touches it); this module moves its bytes over a connection from the scan's one
#   connection factory (Connector.slot + Connector.open_stream), so the fleet's limits,
#   the connection rate, the connection count and a pre-TLS dialogue apply here too.
# - tlslite-ng is imported only when a full handshake runs (40 ms of start-up that a scan
#   without client authentication never needs; issue 16).
# - Each handshake is bounded by one connection's budget (connect + 2 x read) and ends a
#   little before the caller's deadline, so what the other handshakes found is returned.
# - Bounded work: one handshake per requesting version without a certificate, then per
#   credential at most two versions (the server's TLS 1.3 and TLS 1.2, else its highest).
# - Evidence only: the verdict records the alert number, the stage and tlslite-ng's words;
#   scanner/diagnose (client_auth.py, client_certs.py) decides what they mean.
# - SSL 3.0 is not tested: tlslite-ng's SSL 3.0 client-certificate path (RFC 6101 section
#   5.6.8 CertificateVerify with the SSL 3.0 MAC-style hashes) is not reliable against
#   real servers, so a "requested" SSL 3.0 mode stays "requested" and says so.
from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from handshakes import constants as c
from handshakes import events as ev
from handshakes import registry as reg
from scanner.engine import Connector, ProbeOutcome, close_stream, oserror_outcome
from scanner.options import ACCEPTED, ALERT, CLOSED, PROTOCOL_ERROR, RESET, TIMEOUT, Deadlines
from scanner.probes.context import Found, ProbeContext
from scanner.results import ClientAuthResult, ClientCertAttempt
from scanner.x509 import dn_to_string

if TYPE_CHECKING:
    from handshakes._tlslite import ClientHandshake, HandshakeVerdict
    from scanner.clientauth.credentials import ClientCredential
    from scanner.options import ScanOptions, Target

__all__ = [
    "TESTABLE_VERSIONS", "assess", "attempt_versions", "full_handshake", "http_request",
    "requested_modes", "run",
]

TESTABLE_VERSIONS = (c.TLS13, c.TLS12, c.TLS11, c.TLS10)
SSL3_NOTE = (
    "not tested in a full handshake: tlslite-ng cannot present client certificates over "
    "SSL 3.0 reliably"
)

T = TypeVar("T")


def http_request(server_name: str | None, host: str) -> bytes:
    """What we send once the handshake is done: a plain HTTP request, so that a web
    server answers (application data proves it let the client in)."""
    name = server_name or host
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return f"GET / HTTP/1.0\r\nHost: {name}\r\nUser-Agent: tlscompat\r\n\r\n".encode()


def attempt_versions(client_auth: Sequence[ClientAuthResult]) -> tuple[int, ...]:
    """The versions a credential is presented in: TLS 1.3 and TLS 1.2 when the server
    asks for a certificate there, else the highest other TLS version it asks in."""
    asking = {r.version for r in client_auth if r.mode != "none" and r.version in TESTABLE_VERSIONS}
    chosen = tuple(v for v in (c.TLS13, c.TLS12) if v in asking)
    if chosen:
        return chosen
    rest = sorted((v for v in asking if v in (c.TLS11, c.TLS10)), reverse=True)
    return tuple(rest[:1])


async def assess(
    target: Target,
    options: ScanOptions,
    client_auth: tuple[ClientAuthResult, ...],
    conn: Connector,
) -> tuple[tuple[ClientAuthResult, ...], tuple[ClientCertAttempt, ...]]:
    """Upgrade every "requested" mode (TLS 1.0 to 1.3) to "optional" or "required" with
    a full handshake that presents no certificate, then present each credential in
    ``options.client_certs``. Returns the updated ClientAuthResults (same order) and one
    ClientCertAttempt per credential and version. Never raises for what the server does;
    bounded by the caller's deadline and options.deadlines. Every connection goes through
    ``conn`` (its limits, rate and log)."""
    request = http_request(target.server_name, target.host)

    def connect_and_shake(version: int, credential: ClientCredential | None) -> Callable[[], Awaitable[HandshakeVerdict]]:
        async def run() -> HandshakeVerdict:
            return await _handshake(conn, target.server_name, version, credential, request, options.deadlines)

        return run

    # 1. No certificate, once per version that asked for one.
    updated = list(client_auth)
    to_test = [
        i for i, r in enumerate(client_auth) if r.mode == "requested" and r.version in TESTABLE_VERSIONS
    ]
    verdicts = await _gather([connect_and_shake(client_auth[i].version, None) for i in to_test])
    for i, verdict in zip(to_test, verdicts, strict=True):
        updated[i] = _upgrade(client_auth[i], verdict)
    for i, r in enumerate(client_auth):
        if r.mode == "requested" and r.version == c.SSL3:
            updated[i] = replace(r, detail=_join(r.detail, SSL3_NOTE))

    # 2. Each credential, in the versions that matter.
    credentials: tuple[ClientCredential, ...] = tuple(options.client_certs)
    versions = attempt_versions(updated)
    plan = [(cred, v) for cred in credentials for v in versions]
    results = await _gather([connect_and_shake(v, cred) for cred, v in plan])
    attempts = tuple(_attempt(cred, v, verdict) for (cred, v), verdict in zip(plan, results, strict=True))
    return tuple(updated), attempts



async def run(ctx: ProbeContext) -> None:
    """Required or optional, and the server's verdict on each certificate the user gave:
    full handshakes, only where a CertificateRequest came (``found.client_auth``,
    ``found.client_certificates``). Runs after the other probes."""
    requested = requested_modes(ctx.found)
    if not any(r.mode == "requested" for r in requested):
        return
    ctx.found.client_auth, ctx.found.client_certificates = await assess(
        ctx.target, ctx.options, requested, ctx.conn
    )


def requested_modes(found: Found) -> tuple[ClientAuthResult, ...]:
    out = []
    for version in sorted(found.versions, reverse=True):
        scan = found.versions[version]
        if not scan.supported or version == c.SSL2:
            continue
        outcomes = [scan.first, *[a.outcome for a in scan.accepted]]
        cr = None
        for o in outcomes:
            if o is not None and isinstance(found_cr := o.first(ev.CertificateRequest), ev.CertificateRequest):
                cr = found_cr
                break
        saw_flight = any(
            o is not None and (o.first(ev.ServerHelloDone) or o.first(ev.Finished)) for o in outcomes
        )
        if cr is None:
            if saw_flight:
                out.append(ClientAuthResult(version=version, mode="none"))
            continue
        out.append(
            ClientAuthResult(
                version=version,
                mode="requested",
                certificate_authorities=tuple(dn_to_string(d) for d in cr.certificate_authorities),
                certificate_types=cr.certificate_types,
                signature_algorithms=cr.signature_algorithms,
                signature_algorithms_cert=cr.signature_algorithms_cert,
                oid_filters=tuple((o.hex(), v.hex()) for o, v in cr.oid_filters),
            )
        )
    return tuple(out)


async def _gather(jobs: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run jobs concurrently in one nursery; results in job order. (Each task writes only
    its own slot; the limiter inside each job bounds the concurrency.)"""
    slots: list[Any] = [None] * len(jobs)

    async def one(i: int) -> None:
        slots[i] = await jobs[i]()

    async with trio.open_nursery() as nursery:
        for i in range(len(jobs)):
            nursery.start_soon(one, i)
    return slots


# How long to wait for the server's verdict once the handshake is complete: a server that
# rejects our certificate (or its absence) after our Finished does so as soon as it has
# read it, a few handshake times, not the caller's whole deadline (a server that does not
# speak HTTP stays silent otherwise).
SETTLE_MIN_S = 1.0
SETTLE_FACTOR = 4

# Below this, a handshake is not started: it could not finish before the caller's deadline.
MIN_BUDGET_S = 0.05

# A full handshake reads at most this much from the server: a certificate chain and a
# flight fit in a few tens of KiB; a server that sends more is not answering a handshake.
MAX_RECEIVED = 256 * 1024


async def _handshake(
    conn: Connector,
    server_name: str | None,
    version: int,
    credential: ClientCredential | None,
    request: bytes,
    deadlines: Deadlines,
) -> HandshakeVerdict:
    from handshakes._tlslite import ClientHandshake, HandshakeVerdict
    name = f"full handshake {reg.version_name(version)} " + (
        f"with {credential.label}" if credential is not None else "without a client certificate"
    )
    try:
        # tlslite-ng is pure Python: building the hello and each step of the handshake
        # (RSA/ECDSA signatures, key exchange) take tens of milliseconds, so they run in
        # a thread and the event loop keeps serving the scan's other connections. The
        # hello is built before our turn: it needs no connection.
        shake = await trio.to_thread.run_sync(partial(
            ClientHandshake,
            server_name=server_name,
            chain_der=credential.chain_der if credential is not None else None,
            private_key_pem=credential.private_key.pem() if credential is not None else None,
            min_version=version,
            max_version=version,
            send_data=request,
        ))
    except ValueError as exc:
        return HandshakeVerdict(completed=False, version=version, detail=str(exc))
    async with conn.slot():
        # One connection's budget, counted from our turn (waiting for the slot spends the
        # caller's time, not this connection's), and a little before the caller's
        # deadline, so the verdict (a timeout) comes while our caller's scope still lets
        # us return what the other handshakes found.
        left = trio.current_effective_deadline() - trio.current_time()
        budget = deadlines.connect + 2 * deadlines.read
        seconds = min(left - min(0.25, 0.2 * left), budget) if math.isfinite(left) else budget
        if seconds < MIN_BUDGET_S:
            return HandshakeVerdict(completed=False, version=version, timeout=True, detail="no time left before the deadline")
        with trio.move_on_after(seconds):
            return await full_handshake(conn, shake, name=name, connect_timeout=deadlines.connect)
    shake.deadline_reached()
    return shake.verdict


async def full_handshake(
    conn: Connector, shake: ClientHandshake, *, name: str, connect_timeout: float
) -> HandshakeVerdict:
    """Move a ClientHandshake's bytes over one connection from ``conn``'s factory until it
    ends. The caller holds the slot and the overall deadline (a cancel scope); on
    cancellation the handshake is told the deadline came (so its verdict is a timeout).
    The connection is logged in ``conn`` (counted in the scan's statistics). Reads at
    most MAX_RECEIVED bytes; tlslite-ng's steps run in a worker thread."""
    from handshakes._tlslite import HandshakeVerdict
    started = time.perf_counter()
    sent = received = 0
    stream: trio.abc.Stream | None = None
    outcome, detail = ACCEPTED, ""
    try:
        with trio.move_on_after(connect_timeout) as connecting:
            try:
                stream = await conn.open_stream(conn.ip, conn.port)
            except OSError as exc:
                outcome, detail = oserror_outcome(exc)
                return HandshakeVerdict(completed=False, detail=detail)
        if stream is None or connecting.cancelled_caught:
            outcome, detail = TIMEOUT, f"no TCP answer within {connect_timeout:g}s"
            return HandshakeVerdict(completed=False, timeout=True, detail=detail)
        settle_set = False
        with trio.CancelScope() as scope:
            try:
                while not shake.done:
                    out = shake.data_to_send()
                    if out:
                        await stream.send_all(out)
                        sent += len(out)
                    if shake.done:
                        break
                    if shake.completed and not settle_set:
                        settle_set = True
                        took = time.perf_counter() - started
                        scope.deadline = trio.current_time() + max(SETTLE_MIN_S, SETTLE_FACTOR * took)
                    data = bytes(await stream.receive_some(65536))
                    received += len(data)
                    if received > MAX_RECEIVED:
                        shake.abort(f"the server sent more than {MAX_RECEIVED // 1024} KiB during the handshake")
                        break
                    await trio.to_thread.run_sync(shake.receive_data, data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
                if isinstance(cause, ConnectionResetError):
                    shake.reset()
                else:
                    shake.receive_data(b"")
        if not shake.done:
            shake.deadline_reached()
        verdict = shake.verdict
        outcome, detail = _outcome(verdict)
        return verdict
    except trio.Cancelled:
        shake.deadline_reached()
        outcome, detail = TIMEOUT, shake.verdict.detail
        raise
    finally:
        if stream is not None:
            await close_stream(stream)
        conn.record(name, None, ProbeOutcome(
            outcome=outcome, detail=detail, phase="handshake", bytes_sent=sent,
            bytes_received=received, connections=1, duration_s=time.perf_counter() - started,
        ))


def _outcome(v: HandshakeVerdict) -> tuple[str, str]:
    """The engine outcome name of a full handshake, for the probe log and statistics."""
    if v.alert_from == "server":
        return ALERT, v.detail
    if v.reset:
        return RESET, v.detail
    if v.timeout and not v.completed:
        return TIMEOUT, v.detail
    if v.answered or v.completed:
        return ACCEPTED, v.detail
    if v.closed:
        return CLOSED, v.detail
    # Our own alert (tlslite-ng could not read what came back) or an aborted exchange.
    return PROTOCOL_ERROR, v.detail


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _alert_text(code: int) -> str:
    return f"alert {reg.alert_name(code)} ({code})"


def _upgrade(result: ClientAuthResult, v: HandshakeVerdict) -> ClientAuthResult:
    """The mode a handshake without a certificate proves (RFC 8446 section 4.4.2.4, RFC
    5246 section 7.4.6: a server that requires one aborts; else it goes on)."""
    from handshakes._tlslite import STAGE_APPLICATION_DATA
    where = f" {v.stage}" if v.stage and v.stage != STAGE_APPLICATION_DATA else ""
    prefix = "full handshake without a client certificate: "
    if not v.server_certificate_request and (v.completed or v.alert_from == "server"):
        return replace(result, detail=_join(
            result.detail, prefix + "the server did not send a CertificateRequest this time; mode not settled",
        ))
    if v.alert_from == "server" and v.alert_description is not None:
        return replace(result, mode="required", detail=_join(
            result.detail, prefix + f"the server sent {_alert_text(v.alert_description)}{where}",
        ))
    if v.answered:
        return replace(result, mode="optional", detail=_join(
            result.detail, prefix + "the server completed the handshake and answered our request",
        ))
    if v.completed and v.version is not None and v.version <= c.TLS12:
        # TLS <= 1.2: the server's Finished came after our empty Certificate: it went on.
        return replace(result, mode="optional", detail=_join(
            result.detail, prefix + "the server completed the handshake (" + v.detail + ")",
        ))
    if v.completed and v.timeout:
        # TLS 1.3: a server that wanted a certificate says so right after our Finished;
        # silence until the deadline means it went on (it just does not speak HTTP).
        return replace(result, mode="optional", detail=_join(
            result.detail, prefix + "no alert after our Finished; the server sent no data before the deadline",
        ))
    if (v.closed or v.reset) and v.server_certificate_request:
        what = "closed the connection without an alert" if v.closed else "reset the connection"
        return replace(result, mode="required", detail=_join(result.detail, prefix + f"the server {what}{where}"))
    return replace(result, detail=_join(
        result.detail, prefix + "inconclusive (" + (v.detail or "no verdict") + ")",
    ))


def _attempt(credential: ClientCredential, version: int, v: HandshakeVerdict) -> ClientCertAttempt:
    from handshakes._tlslite import STAGE_CONNECT
    detail = v.detail
    if not v.server_certificate_request and v.stage != STAGE_CONNECT:
        detail = _join(detail, "the server did not ask for a certificate in this handshake")
    alert = v.alert_description
    if v.alert_from == "server" and alert is not None:
        verdict = "alert"
    elif v.answered:
        verdict = "accepted"
    elif v.completed and (v.timeout or (v.version is not None and v.version <= c.TLS12 and v.closed)):
        # No alert after the handshake: nothing refused the certificate.
        verdict = "accepted"
        detail = _join(detail, "no alert after the handshake")
    elif (v.closed or v.reset) and not v.server_certificate_request:
        # Before the server asked for a certificate: nothing about ours was refused.
        verdict = "error"
        detail = _join(detail, "the connection ended before the server asked for a certificate; inconclusive")
    elif v.closed:
        verdict = "closed"
    elif v.reset:
        verdict = "reset"
    elif v.timeout:
        verdict = "timeout"
    else:
        verdict = "error"
    if v.alert_from == "local":
        detail = _join(detail, "the alert was ours (tlslite-ng), not the server's")
    return ClientCertAttempt(
        label=credential.label,
        version=v.version or version,
        subject=credential.subject,
        issuer=credential.issuer,
        verdict=verdict,
        alert=alert,
        stage=v.stage,
        detail=detail,
    )
