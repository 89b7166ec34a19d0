# The checks a dialogue before TLS gets beyond the TLS probes (issue 13), with the
# `behaviours` probe: the STARTTLS command injection check for text protocols
# (scanner/probes/injection.py) and, for LDAP, whether a simple bind is evaluated without
# TLS (scanner/probes/ldap_bind.py). One connection each, from the scan's connection slots;
# the verdicts are kept on the opener (StartTLSOpener.result puts them in the result).
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from handshakes.starttls import injectable
from scanner.options import ScanOptions, Target
from scanner.probes.context import ProbeContext
from scanner.probes.injection import check_injection
from scanner.probes.ldap_bind import check_simple_bind
from scanner.starttls import StartTLSOpener


async def run(ctx: ProbeContext, supported: list[int]) -> None:
    """With the ``behaviours`` probe, behind a dialogue: the checks that apply to its
    protocol, each on one connection of the scan's factory (rate and limiters)."""
    opener = ctx.conn.open_stream
    if isinstance(opener, StartTLSOpener):
        await starttls_checks(opener, ctx.target, ctx.options, bool(supported), ctx.conn.slot)


async def starttls_checks(
    opener: StartTLSOpener, target: Target, options: ScanOptions, tls_works: bool,
    slot: Callable[[], AbstractAsyncContextManager[None]],
) -> None:
    """Run the checks that apply to ``opener.protocol``; ``tls_works``: some version was
    accepted behind the dialogue (the injection check needs a TLS handshake). Never
    raises for what the server does."""
    assert target.ip, "one endpoint address"
    if opener.protocol == "ldap" and opener.ready:
        async with slot():
            opener.simple_bind, opener.simple_bind_detail = await check_simple_bind(
                opener, target.ip, target.port, deadline=options.deadlines.read
            )
    if injectable(opener.protocol) and tls_works:
        async with slot():
            opener.injection, opener.injection_detail = await check_injection(
                opener, target.ip, target.port, server_name=target.server_name, deadline=options.deadlines.read
            )
