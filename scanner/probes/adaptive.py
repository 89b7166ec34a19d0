# The adaptive step of the version scan (issue 11): a probe must never be refused for its
# shape when a mainstream client's hello would be accepted.
#
# When the first hello of a version ends in a timeout, a TCP close or reset, or a bare
# handshake_failure (40), the version is asked once more with the hello of a mainstream
# client (mainstream_spec: the shape of current Chrome / Firefox hellos). If that is refused
# too, the version is refused and nothing more is spent. If it is accepted, the difference
# between the two hellos is bisected (length, then suite count, else the whole shape) with
# as few connections as it takes, the endpoint's HelloFactory learns the working shape
# (every later probe goes through it), and the intolerance is recorded as evidence.
#
# Rules kept: at most one connection per refused version, none after protocol_version (70)
# (RFC 5246 appendix E.1: the version itself is refused, whatever the hello looks like);
# the retry is not retried on a timeout (one connection, not the engine's transient retry).
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Adaptation:
    """What the adaptive step found for one version: the outcome that proves support
    (``proof``) and the intolerance behind the first refusal (None: not the shape)."""

    proof: ProbeOutcome
    intolerance: Intolerance | None
    template: ClientHelloSpec | None = None  # the shape to enumerate with (hello_shape only)


def _answered(out: ProbeOutcome, version: int) -> bool:
    if out.outcome != ACCEPTED:
        return False
    sh = out.server_hello
    if sh is not None:
        return sh.version == version
    return version == c.TLS13 and out.first(ev.HelloRetryRequest) is not None


def _said(out: ProbeOutcome) -> str:
    return out.describe()


async def adapt(
    conn: Connector, hello: HelloFactory, version: int, failed: ClientHelloSpec, out: ProbeOutcome
) -> Adaptation | None:
    """One mainstream-shaped retry of a refused ``version``, then the bisection when it
    works. None: the mainstream hello is refused too (the version is not supported).
    Connections: 1 when refused; 2 to about 9 (suite-count bisection) when accepted."""
    once = dataclasses.replace(conn, retries=0)  # shares the log and the limiters
    name = reg.version_name(version)
    works = mainstream_spec(hello, version)
    proof = await once.probe(f"{name} mainstream retry", partial(hello.probe, works, answer_hrr=True))
    if not _answered(proof, version):
        return None
    f_len, w_len = hello_length(failed), hello_length(works)
    failed_text = f"{name} hello of {f_len} bytes with {len(failed.cipher_suites)} suites: {_said(out)}"
    worked = [f"a mainstream client's {name} hello of {w_len} bytes with {len(works.cipher_suites)} suites: accepted"]

    async def trial(label: str, spec: ClientHelloSpec) -> ProbeOutcome:
        return await once.probe(f"{name} {label}", partial(hello.probe, spec, read_flight=False, answer_hrr=False))

    # 1. Length: the same hello padded past the F5 window (RFC 7685 section 4).
    if f_len < PAD_TO:
        padded = dataclasses.replace(failed, padding_to=PAD_TO, random=os.urandom(32))
        got = await trial("padded hello", padded)
        if _answered(got, version):
            hello.adapt(pad_to=PAD_TO)
            in_window = F5_WINDOW[0] <= f_len <= F5_WINDOW[1]
            trigger = (
                f"ClientHello of {F5_WINDOW[0]}-{F5_WINDOW[1]} bytes gets no answer"
                if in_window and out.outcome in SILENT
                else f"a ClientHello shorter than {PAD_TO} bytes is refused"
            )
            return Adaptation(
                proof=got,
                intolerance=Intolerance(
                    kind="hello_length",
                    trigger=trigger,
                    failed=(failed_text,),
                    worked=(*worked, f"the same {name} hello padded to {hello_length(padded)} bytes: accepted"),
                    versions=(version,),
                    low=F5_WINDOW[0] if in_window else None,
                    high=F5_WINDOW[1] if in_window else PAD_TO - 1,
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
                    failed=(failed_text, f"{name} hello with {n_bad} suites: refused"),
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
            failed=(failed_text,),
            worked=tuple(worked),
            versions=(version,),
        ),
        template=works,
    )
