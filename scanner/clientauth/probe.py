# Full handshakes that settle what a CertificateRequest only announces: does the server go
# on without a client certificate (optional) or stop (required), and what does it say to
# each certificate the user presents?
#
# Rules kept:
# - tlslite-ng's blocking TLSConnection runs in trio.to_thread.run_sync under the caller's
#   limiter (handshakes._tlslite is the only module that touches it). Every socket call in
#   the thread is bounded by an absolute deadline taken from the caller's cancel scope
#   and from options.deadlines, so no thread outlives its caller.
# - Bounded work: one handshake per requesting version without a certificate, then per
#   credential at most two versions (the server's TLS 1.3 and TLS 1.2, else its highest).
# - Evidence only: the verdict records the alert number, the stage and tlslite-ng's words;
#   findings.py and scanner/diagnose decide what they mean.
# - SSL 3.0 is not tested: tlslite-ng's SSL 3.0 client-certificate path (RFC 6101 section
#   5.6.8 CertificateVerify with the SSL 3.0 MAC-style hashes) is not reliable against
#   real servers, so a "requested" SSL 3.0 mode stays "requested" and says so.
from __future__ import annotations

import math
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from handshakes import constants as c
from handshakes import registry as reg
from handshakes._tlslite import (
    STAGE_APPLICATION_DATA,
    STAGE_CONNECT,
    HandshakeVerdict,
    full_handshake,
)
from scanner.results import ClientAuthResult, ClientCertAttempt

if TYPE_CHECKING:
    from scanner.clientauth.credentials import ClientCredential
    from scanner.options import ScanOptions, Target

__all__ = ["TESTABLE_VERSIONS", "assess", "attempt_versions", "http_request"]

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
    *,
    limiter: trio.CapacityLimiter,
) -> tuple[tuple[ClientAuthResult, ...], tuple[ClientCertAttempt, ...]]:
    """Upgrade every "requested" mode (TLS 1.0 to 1.3) to "optional" or "required" with
    a full handshake that presents no certificate, then present each credential in
    ``options.client_certs``. Returns the updated ClientAuthResults (same order) and one
    ClientCertAttempt per credential and version. Never raises for what the server does;
    bounded by the caller's deadline and options.deadlines."""
    host = target.ip or target.host
    request = http_request(target.server_name, target.host)

    def connect_and_shake(version: int, credential: ClientCredential | None) -> Callable[[], Awaitable[HandshakeVerdict]]:
        async def run() -> HandshakeVerdict:
            return await _handshake_in_thread(
                host, target.port, target.server_name, version, credential, request, options, limiter
            )

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


async def _handshake_in_thread(
    host: str,
    port: int,
    server_name: str | None,
    version: int,
    credential: ClientCredential | None,
    request: bytes,
    options: ScanOptions,
    limiter: trio.CapacityLimiter,
) -> HandshakeVerdict:
    deadlines = options.deadlines
    async with limiter:
        # The thread's deadline: one connection's budget, and a little before the caller's
        # deadline, so the thread is done (its verdict a timeout) while our caller's scope
        # still lets us return what the other handshakes found.
        left = trio.current_effective_deadline() - trio.current_time()
        budget = deadlines.connect + 2 * deadlines.read
        seconds = min(left - min(0.25, 0.2 * left), budget) if math.isfinite(left) else budget
        if seconds <= 0:
            return HandshakeVerdict(completed=False, timeout=True, detail="no time left before the deadline")
        chain = credential.chain_der if credential is not None else None
        handle = credential.private_key if credential is not None else None

        def work() -> HandshakeVerdict:
            deadline = time.monotonic() + seconds
            try:
                sock = socket.create_connection(
                    (host, port), timeout=max(0.001, min(deadlines.connect, deadline - time.monotonic()))
                )
            except TimeoutError:
                return HandshakeVerdict(completed=False, timeout=True, detail=f"no TCP answer within {deadlines.connect:g}s")
            except ConnectionRefusedError:
                return HandshakeVerdict(completed=False, detail="connection refused")
            except OSError as exc:
                return HandshakeVerdict(completed=False, detail=f"cannot connect: {exc.strerror or exc}")
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            try:
                return full_handshake(
                    sock,
                    server_name=server_name,
                    chain_der=chain,
                    private_key_pem=handle.pem() if handle is not None else None,
                    min_version=version,
                    max_version=version,
                    send_data=request,
                    deadline=deadline,
                )
            except ValueError as exc:
                sock.close()
                return HandshakeVerdict(completed=False, detail=str(exc))

        return await trio.to_thread.run_sync(work)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _alert_text(code: int) -> str:
    return f"alert {reg.alert_name(code)} ({code})"


def _upgrade(result: ClientAuthResult, v: HandshakeVerdict) -> ClientAuthResult:
    """The mode a handshake without a certificate proves (RFC 8446 section 4.4.2.4, RFC
    5246 section 7.4.6: a server that requires one aborts; else it goes on)."""
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
    if (v.closed or v.reset) and v.stage != STAGE_CONNECT:
        what = "closed the connection without an alert" if v.closed else "reset the connection"
        return replace(result, mode="required", detail=_join(result.detail, prefix + f"the server {what}{where}"))
    return replace(result, detail=_join(
        result.detail, prefix + "inconclusive (" + (v.detail or "no verdict") + ")",
    ))


def _attempt(credential: ClientCredential, version: int, v: HandshakeVerdict) -> ClientCertAttempt:
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
