# Tolerance probes (issue 11): what will break when clients change. Each check sends the
# hello the endpoint already accepted (its accepted suites, its learned shape) with ONE
# difference, and records whether the server still answers as it must. A check that fails
# is an Intolerance with its exact trigger (an `intolerance.*` finding).
#
# Rules kept: one connection per check; the default family (`--probes tolerance`, on in full
# scans) is at most DEFAULT_BUDGET connections and holds the checks that matter most to
# users today (the post-quantum key share, hello length, GREASE, version numbers first);
# `--probes tolerance-full` adds the rest. A check runs only when the version it needs is
# supported, and a shape the adaptive step already learned (scanner.probes.adaptive) is not
# asked again.
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import trio

from handshakes import constants as c
from handshakes import events as ev
from handshakes import registry as reg
from handshakes.client_hello import ClientHelloSpec
from scanner.engine import Connector, ProbeOutcome
from scanner.options import ACCEPTED
from scanner.probes.adaptive import F5_WINDOW, hello_length
from scanner.probes.context import ProbeContext
from scanner.probes.hello import HelloFactory, candidate_suites
from scanner.probes.record_split import is_https, record_splitting
from scanner.results import Intolerance, ToleranceCheck

DEFAULT_BUDGET = 10
X25519MLKEM768 = 0x11EC
# An extension type no registry assigns (IANA TLS ExtensionType Values), not a GREASE value.
UNKNOWN_EXTENSION = 0x7777
# A long signature_algorithms list: every scheme offered, then unknown ones (RFC 8446
# section 4.2.3: a server ignores schemes it does not know).
_UNKNOWN_SIGALGS = tuple(0x0E00 + i for i in range(60))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Check:
    name: str
    kind: str
    trigger: str
    version: int  # the version the check's hello asks for
    build: Callable[[ClientHelloSpec], ClientHelloSpec]
    expect: int | None = None  # the version the server must answer (None: ``version``)
    full_only: bool = False


def _checks(hello: HelloFactory) -> list[_Check]:
    """Every check, the default family first, in priority order."""
    r = dataclasses.replace
    pool = hello.pool
    return [
        _Check(
            name="post-quantum key share", kind="pq_key_share", version=c.TLS13,
            trigger="a ClientHello with an X25519MLKEM768 key share (1216 bytes; the hello crosses a "
            "TCP segment), as current Chrome and Firefox send",
            build=lambda s: r(
                s,
                supported_groups=(X25519MLKEM768, *[g for g in (s.supported_groups or ()) if g != X25519MLKEM768]),
                key_shares=(pool.get(X25519MLKEM768), pool.get(0x001D)),
            ),
        ),
        _Check(
            name="hello of 256-511 bytes", kind="hello_length", version=c.TLS12,
            trigger=f"a ClientHello of 300 bytes (in the {F5_WINDOW[0]}-{F5_WINDOW[1]} window of RFC 7685 section 4) gets no answer",
            build=lambda s: r(
                s, cipher_suites=s.cipher_suites[:1], supported_groups=(0x001D, 0x0017, 0x0018),
                signature_algorithms=(0x0403, 0x0804, 0x0401), padding_to=300,
            ),
        ),
        _Check(
            name="GREASE", kind="grease", version=c.TLS13,
            trigger="GREASE values (RFC 8701) in the suites, groups, key shares, versions and extensions",
            build=lambda s: r(s, grease=True),
        ),
        _Check(
            name="future version", kind="version", version=c.TLS13,
            trigger="supported_versions announcing a future 0x0305 before TLS 1.3 (RFC 8446 section 4.2.1)",
            build=lambda s: r(s, supported_versions=(0x0305, c.TLS13, c.TLS12)),
        ),
        _Check(
            name="legacy_version 0x0304", kind="version", version=c.TLS12,
            trigger="a TLS 1.2 ClientHello whose client_version is 0x0304 (RFC 8446 appendix D: answer TLS 1.2)",
            build=lambda s: r(s, legacy_version=c.TLS13),
        ),
        _Check(
            name="unknown extension", kind="extension", version=c.TLS12,
            trigger=f"an extension of unassigned type 0x{UNKNOWN_EXTENSION:04x} (RFC 5246 section 7.4.1.4: ignore it)",
            build=lambda s: r(s, extra_extensions=((UNKNOWN_EXTENSION, b"\x00\x00"),)),
        ),
        _Check(
            name="empty extension last", kind="extension", version=c.TLS12,
            trigger="an empty extension (extended_master_secret) as the last extension",
            build=lambda s: r(s, extended_master_secret=False, padding_to=None,
                              extra_extensions=((c.EXT_EXTENDED_MASTER_SECRET, b""),)),
        ),
        _Check(
            name="more than 64 suites", kind="suite_count", version=c.TLS12,
            trigger="a ClientHello with 80 cipher suites",
            build=lambda s: r(s, cipher_suites=_many_suites(s.cipher_suites, 80)),
        ),
        _Check(
            name="long signature_algorithms", kind="extension", version=c.TLS12,
            trigger="a signature_algorithms list of 89 schemes, 60 of them unknown",
            build=lambda s: r(s, signature_algorithms=(*(s.signature_algorithms or ()), *_UNKNOWN_SIGALGS)),
        ),
        _Check(
            name="hello in 8-byte records", kind="record_layer", version=c.TLS12,
            trigger="the ClientHello fragmented into records of 8 bytes (RFC 5246 section 6.2.1)",
            build=lambda s: r(s, max_fragment=8),
        ),
        # -- tolerance-full -------------------------------------------------------------
        _Check(
            name="hello above 16 KB", kind="record_layer", version=c.TLS12, full_only=True,
            trigger="a ClientHello of 17000 bytes, over two records",
            build=lambda s: r(s, padding_to=17000),
        ),
        _Check(
            name="hello of 600 bytes", kind="hello_length", version=c.TLS12, full_only=True,
            trigger="a ClientHello of 600 bytes",
            build=lambda s: r(s, padding_to=600),
        ),
        _Check(
            name="large extension", kind="extension", version=c.TLS12, full_only=True,
            trigger=f"an unknown extension (0x{UNKNOWN_EXTENSION:04x}) of 4000 bytes",
            build=lambda s: r(s, extra_extensions=((UNKNOWN_EXTENSION, bytes(4000)),)),
        ),
        _Check(
            name="record version 0x0303", kind="record_layer", version=c.TLS12, full_only=True,
            trigger="the ClientHello's record version 0x0303 instead of 0x0301 (RFC 8446 section 5.1)",
            build=lambda s: r(s, record_version=c.TLS12),
        ),
        _Check(
            # Only when asked for: a default scan sends no hello over 128 suites (issue 3).
            name="more than 128 suites", kind="suite_count", version=c.TLS12, full_only=True,
            trigger="a ClientHello with 150 cipher suites",
            build=lambda s: r(s, cipher_suites=_many_suites(s.cipher_suites, 150)),
        ),
        _Check(
            name="TLS 1.3 GREASE-free extension order", kind="extension", version=c.TLS13, full_only=True,
            trigger=f"an unknown extension (0x{UNKNOWN_EXTENSION:04x}) in a TLS 1.3 hello",
            build=lambda s: r(s, extra_extensions=((UNKNOWN_EXTENSION, b"\x00\x00"),)),
        ),
    ]


def _many_suites(accepted: tuple[int, ...], n: int) -> tuple[int, ...]:
    """``n`` suites: the accepted ones first, then other registered ones."""
    taken = set(accepted)
    rest = [s for s in candidate_suites(c.TLS12) if s not in taken]
    return (*accepted, *rest)[:n]


def _verdict(check: _Check, out: ProbeOutcome) -> tuple[bool, str]:
    """(tolerated, what happened) for one check's outcome."""
    expect = check.expect or check.version
    if out.outcome != ACCEPTED:
        return False, out.describe()
    got = out.answered_version
    if got != expect:
        return False, f"answered {reg.version_name(got) if got else 'no version'}, expected {reg.version_name(expect)}"
    if check.kind == "pq_key_share":
        hrr = out.first(ev.HelloRetryRequest)
        if isinstance(hrr, ev.HelloRetryRequest):
            return True, f"HelloRetryRequest to {reg.group_name(hrr.selected_group or 0)} (no post-quantum key exchange)"
        sh = out.server_hello
        group = sh.selected_group if sh is not None else None
        if group == X25519MLKEM768:
            return True, "accepted: X25519MLKEM768 chosen (post-quantum key exchange)"
        return True, f"accepted with {reg.group_name(group or 0)} (classical key exchange)"
    return True, "accepted"


async def _size_or_share(
    conn: Connector, hello: HelloFactory, base: ClientHelloSpec, length: int,
    found: Intolerance, fact: ToleranceCheck,
) -> tuple[Intolerance, ToleranceCheck]:
    """The post-quantum hello failed: one classical hello padded to the same ``length``
    (RFC 7685) tells the key share from the size. Refused too: a hello_length intolerance
    (the size is the cause, measured at ``length`` bytes); accepted: ``found`` stands."""
    name = reg.version_name(c.TLS13)
    spec = dataclasses.replace(base, padding_to=length)
    size = hello_length(spec)
    out = await conn.probe("tolerance: classical hello of the same size", partial(hello.probe, spec, read_flight=False))
    if out.outcome == ACCEPTED and out.answered_version == c.TLS13:
        worked = (*found.worked, f"a classical {name} hello padded to {size} bytes: accepted")
        return dataclasses.replace(found, worked=worked), fact
    sized = Intolerance(
        kind="hello_length",
        trigger=f"a ClientHello of {min(size, length)} bytes is refused, with or without a post-quantum key share",
        failed=(*found.failed, f"a classical {name} hello padded to {size} bytes: {out.describe()}"),
        worked=(f"the {name} hello of {hello_length(base)} bytes: accepted (the version scan)",),
        versions=(c.TLS13,),
        low=min(size, length),
        high=max(size, length),
    )
    detail = f"{fact.detail}; a classical hello of {size} bytes is refused too: the size, not the key share"
    return sized, dataclasses.replace(fact, detail=detail)


async def tolerance(
    conn: Connector, hello: HelloFactory, suites: dict[int, list[int]], *, full: bool = False
) -> tuple[tuple[ToleranceCheck, ...], tuple[Intolerance, ...]]:
    """Run the tolerance checks whose version is in ``suites`` (version -> accepted suites,
    supported versions only). Returns every check's verdict and the intolerances found.
    Connections: one per check run, at most DEFAULT_BUDGET without ``full``."""
    chosen: list[_Check] = []
    for check in _checks(hello):
        if check.full_only and not full:
            continue
        if check.version not in suites or not suites[check.version]:
            continue
        if check.kind == "hello_length" and not check.full_only and hello.pad_to is not None:
            continue  # the adaptive step already found the length intolerance
        if check.kind == "suite_count" and hello.max_suites is not None:
            continue  # likewise for the suite count
        if check.name == "empty extension last" and hello.pad_to is not None:
            continue  # the padding the endpoint needs would come last
        chosen.append(check)
    if not full:
        chosen = chosen[:DEFAULT_BUDGET]
    results: list[tuple[_Check, ToleranceCheck, Intolerance | None] | None] = [None] * len(chosen)

    async def run(i: int, check: _Check) -> None:
        base = hello.spec(check.version, suites[check.version][: hello.batch(check.version)])
        spec = check.build(base)
        out = await conn.probe(f"tolerance: {check.name}", partial(hello.probe, spec, read_flight=False))
        ok, detail = _verdict(check, out)
        name = reg.version_name(check.version)
        fact = ToleranceCheck(name=check.name, trigger=check.trigger, version=check.version, tolerated=ok, detail=detail)
        found = None
        if not ok:
            length = hello_length(spec)  # only a failure reports it (an encoding of the hello)
            found = Intolerance(
                kind=check.kind,
                trigger=check.trigger,
                failed=(f"{name} hello of {length} bytes: {detail}",),
                worked=(f"the same {name} hello without it: accepted (the version scan)",),
                versions=(check.version,),
                # Only the size measured (issue 11): one hello of ``length`` bytes failed.
                low=length if check.kind == "hello_length" else None,
                high=length if check.kind == "hello_length" else None,
            )
            if check.kind == "suite_count":
                found = dataclasses.replace(found, low=len(spec.cipher_suites))
            if check.kind == "pq_key_share":
                found, fact = await _size_or_share(conn, hello, base, length, found, fact)
        results[i] = (check, fact, found)

    async with trio.open_nursery() as nursery:
        for i, check in enumerate(chosen):
            nursery.start_soon(run, i, check)
    done = [r for r in results if r is not None]
    found = [i for _, _, i in done if i is not None]
    return tuple(f for _, f, _ in done), tuple(_name_extensions(found))


def _name_extensions(found: list[Intolerance]) -> list[Intolerance]:
    """When the server also refuses an extension of an unassigned type, the GREASE check's
    trigger names what it shares with that one: GREASE extension types (RFC 8701 section
    3: they are unknown types a server must ignore)."""
    if not any(i.kind == "extension" and f"0x{UNKNOWN_EXTENSION:04x}" in i.trigger for i in found):
        return found
    return [
        dataclasses.replace(
            i, trigger="GREASE extension types (RFC 8701): the server also refuses an extension of "
            f"unassigned type 0x{UNKNOWN_EXTENSION:04x}, so it refuses unknown extensions, GREASE ones included",
        ) if i.kind == "grease" else i
        for i in found
    ]


async def run(ctx: ProbeContext, supported: list[int]) -> None:
    """The tolerance family (``found.tolerance``, ``found.tolerance_intolerances``): the
    default checks with ``tolerance``, every check with ``tolerance-full``; and for HTTPS
    endpoints with ``tolerance``, application-data record splitting
    (``found.split_intolerances``, scanner/probes/record_split.py)."""
    probes, found, target = ctx.options.probes, ctx.found, ctx.target

    async def checks() -> None:
        accepted = {v: found.versions[v].suites for v in supported}
        found.tolerance, found.tolerance_intolerances = await tolerance(
            ctx.conn, ctx.hello, accepted, full="tolerance-full" in probes
        )

    async def split_check() -> None:
        split = await record_splitting(ctx.conn, target.server_name, target.host)
        if (found_split := split.intolerance()) is not None:
            found.split_intolerances = (found_split,)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(checks)
        if "tolerance" in probes and is_https(target.port, [found.versions[v].first for v in supported]):
            nursery.start_soon(split_check)
