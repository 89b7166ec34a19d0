# The adaptive step of the version scan (issue 11): a probe must never be refused for its
# shape when a mainstream client's hello would be accepted.
#
# When the first hello of a version ends in a timeout, a TCP close or reset, or a bare
# handshake_failure (40), the version is asked once more with the hello of a mainstream
# client (mainstream_spec: the shape of current Chrome / Firefox hellos, 512 bytes). If that
# is refused with an alert, the version is refused (and its row shows that alert). If it is
# silent too, one short hello as openssl s_client sends (small_spec, about 200 bytes) is
# tried before the version is called silent. When one of them is accepted, the difference
# is measured with a few connections (the failing length range bisected from both sides,
# then the suite count, else the whole shape), the endpoint's HelloFactory learns the
# working shape (every later probe goes through it), and the intolerance is recorded with
# only the sizes measured (low/high: the smallest and largest hello seen failing).
#
# Rules kept: 1 connection per version refused with an alert, 2 when both hellos are
# silent; nothing after protocol_version (70) (RFC 5246 appendix E.1: the version itself is
# refused, whatever the hello looks like); no trial is retried on a timeout (one
# connection, not the engine's transient retry); a default openssl s_server (alerts, no
# silence) costs nothing more.
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from functools import partial

from handshakes import constants as c
from handshakes import events as ev
from handshakes import registry as reg
from handshakes.client_hello import ClientHelloSpec, encode_client_hello
from scanner.engine import Connector, ProbeOutcome
from scanner.options import ACCEPTED, ALERT, CLOSED, RESET, TIMEOUT
from scanner.probes.hello import HelloFactory
from scanner.results import Intolerance

# RFC 7685 section 4 (and the F5 bug it documents): some servers never answer a
# ClientHello handshake message of 256 to 511 bytes; clients pad theirs to 512.
F5_WINDOW = (256, 511)
PAD_TO = 512

# A current browser's cipher suite list (Chrome 120+, Firefox 120+ share it but for order):
# TLS 1.3 first, then ECDHE AEAD, ECDHE CBC, RSA key exchange.
MAINSTREAM_SUITES = (
    0x1301, 0x1302, 0x1303,
    0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,
    0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035,
)
MAINSTREAM_GROUPS = (0x001D, 0x0017, 0x0018)
MAINSTREAM_SIGALGS = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)

# Outcomes after which a mainstream client's hello is worth one more connection: the
# server said nothing useful (silence, a close, a reset, a bare handshake_failure).
SILENT = (TIMEOUT, CLOSED, RESET)


def hello_length(spec: ClientHelloSpec) -> int:
    """Bytes of the ClientHello handshake message (4-byte header included)."""
    return len(encode_client_hello(dataclasses.replace(spec, random=bytes(32))))


def worth_retrying(version: int, out: ProbeOutcome) -> bool:
    """Whether a first refusal of ``version`` may be the hello's shape, not the version."""
    if not c.TLS10 <= version <= c.TLS13:
        return False  # mainstream clients speak no SSL: there is no mainstream shape to try
    if out.outcome in SILENT:
        return True
    alert = out.alert
    return (
        out.outcome == ALERT
        and alert is not None
        and alert.description == c.ALERT_HANDSHAKE_FAILURE
        and not alert.encrypted
    )


def mainstream_spec(hello: HelloFactory, version: int) -> ClientHelloSpec:
    """The hello a current browser would send to reach ``version`` (TLS 1.0 to 1.3): its
    suite list (those valid in the version), SNI, renegotiation_info, EMS, the usual
    groups and signature schemes, one X25519 key share, padded to 512 bytes (RFC 7685)."""
    valid = set(reg.suites_for_version(version))
    suites = tuple(s for s in MAINSTREAM_SUITES if s in valid)
    if version == c.TLS13:
        # RFC 8446 section 4.2.1: TLS 1.3 is announced in supported_versions with 1.2 next
        # to it, legacy_version 0x0303; the TLS 1.2 suites travel along as a browser's do.
        suites = MAINSTREAM_SUITES
    spec = ClientHelloSpec(
        legacy_version=c.TLS12 if version == c.TLS13 else version,
        record_version=c.TLS10,
        cipher_suites=suites,
        random=os.urandom(32),
        session_id=os.urandom(32) if version == c.TLS13 else b"",
        server_name=hello.server_name,
        extended_master_secret=True,
        renegotiation_info=b"",
        supported_groups=MAINSTREAM_GROUPS,
        ec_point_formats=(0,),
        session_ticket=b"",
        alpn=("h2", "http/1.1"),
        status_request=True,
        signature_algorithms=MAINSTREAM_SIGALGS if version >= c.TLS12 else None,
        padding_to=max(PAD_TO, hello.pad_to or 0),
    )
    if version == c.TLS13:
        spec = dataclasses.replace(
            spec,
            supported_versions=(c.TLS13, c.TLS12),
            key_shares=(hello.pool.get(0x001D),),
            psk_key_exchange_modes=(1,),
        )
    return spec


def small_spec(hello: HelloFactory, version: int) -> ClientHelloSpec:
    """A short hello (about 200 bytes) in the shape `openssl s_client -tls1_2` / `-tls1_3`
    sends: a few AEAD suites, X25519 and P-256, no ALPN, no status_request, no padding."""
    suites = tuple(s for s in MAINSTREAM_SUITES[:7] if s in set(reg.suites_for_version(version)))
    if version == c.TLS13:
        suites = MAINSTREAM_SUITES[:7]
    return dataclasses.replace(
        mainstream_spec(hello, version), cipher_suites=suites, alpn=None, status_request=False,
        supported_groups=MAINSTREAM_GROUPS[:2], padding_to=None, random=os.urandom(32),
    )


# Bisection steps per bound of a failing length range: each halves the gap between the
# largest (smallest) size measured failing and the nearest size measured working, so the
# range reported is measured to about a quarter of the first gap in 2 connections.
BISECT_STEPS = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Adaptation:
    """What the adaptive step found for one version: the outcome that proves support
    (``proof``) and the intolerance behind the first refusal (None: not the shape).
    ``refused``: no shape tried was accepted; ``proof`` is then the most telling refusal
    (an alert rather than silence), for the version's row."""

    proof: ProbeOutcome
    intolerance: Intolerance | None
    template: ClientHelloSpec | None = None  # the shape to enumerate with
    refused: bool = False


def _answered(out: ProbeOutcome, version: int) -> bool:
    if out.outcome != ACCEPTED:
        return False
    sh = out.server_hello
    if sh is not None:
        return sh.version == version
    return version == c.TLS13 and out.first(ev.HelloRetryRequest) is not None


def _said(out: ProbeOutcome) -> str:
    return out.describe()


def _telling(first: ProbeOutcome, retry: ProbeOutcome) -> ProbeOutcome:
    """The refusal that says more: the retry's alert over the first hello's silence."""
    if first.outcome in SILENT and retry.outcome == ALERT:
        return retry
    return first


def _length_intolerance(
    name: str, version: int, silent: bool, failed: list[str], worked: list[str],
    bad_low: int, bad_high: int, good_below: int | None, good_above: int | None,
) -> Intolerance:
    """hello_length from measured sizes only: ``bad_low``..``bad_high`` failed (the
    smallest and largest hello measured failing), ``good_below`` / ``good_above`` the
    nearest sizes measured working (None: none tried on that side, the range is open)."""
    verb = "gets no answer" if silent else "is refused"
    if good_above is None:
        trigger = f"a ClientHello of {bad_low} bytes or more {verb}"
        if good_below is not None:
            trigger += f" ({good_below} bytes works)"
    else:
        trigger = f"a ClientHello of {bad_low}-{bad_high} bytes {verb}"
        if good_below is not None:
            trigger += f" ({good_below} and {good_above} bytes work)"
        else:
            trigger += f" ({good_above} bytes works)"
    return Intolerance(
        kind="hello_length", trigger=trigger, failed=tuple(failed), worked=tuple(worked),
        versions=(version,), low=bad_low, high=None if good_above is None else bad_high,
    )


async def adapt(
    conn: Connector, hello: HelloFactory, version: int, failed: ClientHelloSpec, out: ProbeOutcome
) -> Adaptation:
    """One mainstream-shaped retry of a refused ``version`` (and, when that one gets no
    answer either, one short s_client-shaped hello), then the bisection of the difference
    when one works. ``refused`` in the result: no shape was accepted.
    Connections: 1 when the mainstream retry is refused with an alert, 2 when it is silent
    too; about 2 to 9 more when one shape is accepted (length bounds, suite count)."""
    once = dataclasses.replace(conn, retries=0)  # shares the log and the limiters
    name = reg.version_name(version)
    silent = out.outcome in SILENT
    f_len = hello_length(failed)
    failed_text = [f"{name} hello of {f_len} bytes with {len(failed.cipher_suites)} suites: {_said(out)}"]
    works = mainstream_spec(hello, version)
    w_len = hello_length(works)
    proof = await once.probe(f"{name} mainstream retry", partial(hello.probe, works, answer_hrr=True))

    async def trial(label: str, spec: ClientHelloSpec) -> ProbeOutcome:
        return await once.probe(f"{name} {label}", partial(hello.probe, spec, read_flight=False, answer_hrr=False))

    async def narrow(base: ClientHelloSpec, good: int, bad: int) -> tuple[int, int, ProbeOutcome | None]:
        """Bisect between a working size and a failing one by padding ``base`` (RFC 7685);
        sizes are the lengths actually sent. Returns (good, bad, last accepted outcome)."""
        last = None
        for _ in range(BISECT_STEPS):
            if abs(bad - good) <= 8:  # the padding extension's granularity (4-byte header)
                break
            spec = dataclasses.replace(base, padding_to=(good + bad) // 2, random=os.urandom(32))
            size = hello_length(spec)
            if size in (good, bad) or not min(good, bad) < size < max(good, bad):
                break
            got = await trial(f"hello of {size} bytes", spec)
            if _answered(got, version):
                good, last = size, got
            else:
                bad = size
        return good, bad, last

    if not _answered(proof, version):
        if proof.outcome not in SILENT:
            return Adaptation(proof=_telling(out, proof), intolerance=None, refused=True)
        # 1b. The mainstream hello got no answer either: a short hello, as openssl
        # s_client sends, before calling the version (or the port) silent.
        short = small_spec(hello, version)
        s_len = hello_length(short)
        got = await trial(f"short hello of {s_len} bytes", short)
        if not _answered(got, version):
            return Adaptation(proof=_telling(out, got), intolerance=None, refused=True)
        bad = min(f_len, w_len)
        if bad <= s_len:  # a hello no longer than the short one failed: not its length
            return Adaptation(
                proof=got,
                intolerance=Intolerance(
                    kind="hello_shape",
                    trigger=f"the scanner's and a mainstream client's {name} hellos get no answer while "
                    f"a short one as openssl s_client sends is accepted",
                    failed=(*failed_text, f"a mainstream client's {name} hello of {w_len} bytes: {_said(proof)}"),
                    worked=(f"a short {name} hello of {s_len} bytes: accepted",),
                    versions=(version,),
                ),
                template=short,
            )
        good, bad, _ = await narrow(short, s_len, bad)
        # Enumerate through the short shape with as many suites as fit in what worked.
        hello.adapt(max_length=good, max_suites=len(short.cipher_suites) + (good - s_len) // 2)
        found = _length_intolerance(
            name, version, silent,
            [*failed_text, f"a mainstream client's {name} hello of {w_len} bytes: {_said(proof)}",
             *([f"{name} hello of {bad} bytes: refused"] if bad not in (f_len, w_len) else [])],
            [f"a short {name} hello of {s_len} bytes: accepted",
             *([f"{name} hello padded to {good} bytes: accepted"] if good != s_len else [])],
            bad, max(f_len, w_len), good, None,
        )
        return Adaptation(proof=got, intolerance=found, template=short)
    worked = [f"a mainstream client's {name} hello of {w_len} bytes with {len(works.cipher_suites)} suites: accepted"]

    # 1. Length: the same hello padded past the F5 window (RFC 7685 section 4), then the
    # failing range measured: its top by padding, its bottom with a short hello.
    if f_len < PAD_TO:
        padded = dataclasses.replace(failed, padding_to=PAD_TO, random=os.urandom(32))
        got = await trial("padded hello", padded)
        if _answered(got, version):
            hello.adapt(pad_to=PAD_TO)
            p_len = hello_length(padded)
            good_above, bad_high, _ = await narrow(failed, p_len, f_len)
            failed_list = [*failed_text]
            worked_list = [*worked, f"the same {name} hello padded to {p_len} bytes: accepted"]
            if bad_high != f_len:
                failed_list.append(f"the same hello padded to {bad_high} bytes: refused")
            if good_above != p_len:
                worked_list.append(f"the same hello padded to {good_above} bytes: accepted")
            short = small_spec(hello, version)
            s_len = hello_length(short)
            good_below: int | None = None
            bad_low = f_len
            if s_len < f_len:
                tried = await trial(f"short hello of {s_len} bytes", short)
                if _answered(tried, version):
                    good_below, bad_low, _ = await narrow(short, s_len, f_len)
                    worked_list.append(f"a short {name} hello of {s_len} bytes: accepted")
                    if good_below != s_len:
                        worked_list.append(f"a short hello padded to {good_below} bytes: accepted")
                    if bad_low != f_len:
                        failed_list.append(f"a short hello padded to {bad_low} bytes: refused")
                else:
                    failed_list.append(f"a short {name} hello of {s_len} bytes: {_said(tried)}")
                    bad_low = s_len
            return Adaptation(
                proof=got,
                intolerance=_length_intolerance(
                    name, version, silent, failed_list, worked_list, bad_low, bad_high, good_below, good_above
                ),
            )
    # 2. Suite count: the same hello with fewer suites (padded, so length is not the cause).
    n_ok, n_bad = len(works.cipher_suites), len(failed.cipher_suites)
    if n_bad > n_ok:
        def fewer(k: int) -> ClientHelloSpec:
            return dataclasses.replace(
                failed, cipher_suites=failed.cipher_suites[:k], random=os.urandom(32),
                padding_to=max(PAD_TO, failed.padding_to or 0),
            )

        got = await trial(f"{n_ok} suites", fewer(n_ok))
        if _answered(got, version):
            best = got
            while n_bad - n_ok > 1:  # invariant: n_ok suites work, n_bad suites fail
                mid = (n_ok + n_bad) // 2
                tried = await trial(f"{mid} suites", fewer(mid))
                if _answered(tried, version):
                    n_ok, best = mid, tried
                else:
                    n_bad = mid
            hello.adapt(max_suites=n_ok)
            return Adaptation(
                proof=best,
                intolerance=Intolerance(
                    kind="suite_count",
                    trigger=f"a ClientHello with more than {n_ok} cipher suites is refused",
                    failed=(*failed_text, f"{name} hello with {n_bad} suites: refused"),
                    worked=(*worked, f"{name} hello with {n_ok} suites: accepted"),
                    versions=(version,),
                    low=n_ok + 1,
                ),
            )
    # 3. Something else in the shape (an extension, the version numbers): enumerate through
    # the mainstream shape itself.
    return Adaptation(
        proof=proof,
        intolerance=Intolerance(
            kind="hello_shape",
            trigger=f"the scanner's {name} hello is refused while a mainstream client's is accepted",
            failed=tuple(failed_text),
            worked=tuple(worked),
            versions=(version,),
        ),
        template=works,
    )
