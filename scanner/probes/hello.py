# The ClientHellos a scan sends. One factory per endpoint scan: it knows the SNI to send
# and holds the key-share pool, so a scan generates each key pair once and reuses it across
# probes (a probe never completes the key exchange, so reuse leaks nothing).
#
# It also holds the shape the endpoint was found to need (issue 11, scanner.probes.adaptive):
# a minimum hello length and a maximum suite count. adapt() only ever tightens them (the
# largest padding, the smallest count), so the concurrent version scans that learn them
# commute, and every probe built after that goes through the working shape.
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, partial
from types import EllipsisType

from handshakes import constants as c
from handshakes import registry as reg
from handshakes.client_hello import ClientHelloSpec, encode_client_hello
from handshakes.events import ServerHello
from handshakes.keyshare import KeySharePool
from handshakes.server_flight import HandshakeProbe

MAX_SUITES_PER_HELLO = 128  # issue 3: servers choke on longer ClientHellos (SCSVs count)


def _length(spec: ClientHelloSpec) -> int:
    """Bytes of the ClientHello handshake message ``spec`` encodes to."""
    return len(encode_client_hello(dataclasses.replace(spec, random=bytes(32))))


def batch_size(version: int) -> int:
    """Candidate suites per hello: the SSL 3.0 hello also carries the renegotiation SCSV."""
    return MAX_SUITES_PER_HELLO - 1 if version == c.SSL3 else MAX_SUITES_PER_HELLO

# Signature schemes offered by every probe, strongest first, so that acceptance never
# hinges on them (RFC 8446 section 4.2.3; RFC 5246 section 7.4.1.4.1 pairs for TLS 1.2).
SIGALGS_ALL = (
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B,
    0x0401, 0x0501, 0x0601, 0x081A, 0x081B, 0x081C, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502,
    0x0602, 0x0203, 0x0201, 0x0202, 0x0101, 0x0102, 0x0103,
)
# The signature schemes of a mainstream client's hello: what _fit keeps under a length limit.
SIGALGS_SHORT = (0x0403, 0x0503, 0x0603, 0x0807, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601)
SIGALGS_RSA = (0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B, 0x0401, 0x0501, 0x0601)
SIGALGS_ECDSA = (0x0403, 0x0503, 0x0603)

# Key shares sent up front in TLS 1.3 probes: what most servers choose, so most probes need
# no HelloRetryRequest round trip.
DEFAULT_SHARES = (0x001D, 0x0017)


def _popularity(code: int) -> tuple[int, int, int]:
    """Sort key putting the suites servers commonly enable first, so the first batch of
    128 usually holds every suite a server accepts (fewer batches, fewer connections)."""
    s = reg.cipher_suite(code)
    if s is None:
        return (9, 9, code)
    kx = {"ECDHE": 0, "DHE": 1, "RSA": 2, "any": 0}.get(s.kx, 4)
    enc = {"AESGCM": 0, "CHACHA20": 0, "AES": 1, "AESCCM": 2, "3DES": 3, "CAMELLIA": 3}.get(s.enc, 4)
    if s.auth == "anon" or s.is_export or s.is_null or "PSK" in s.kx or s.kx in ("SRP", "KRB5"):
        kx += 5
    return (kx, enc, code)


@cache
def candidate_suites(version: int) -> tuple[int, ...]:
    """Every suite the registry says can be negotiated in ``version``, popular first."""
    return tuple(sorted(reg.suites_for_version(version), key=_popularity))


def _groups_for(tls13: bool) -> tuple[int, ...]:
    out = []
    for code, g in reg.GROUPS.items():
        if tls13 and not g.tls13:
            continue
        if not tls13 and g.kind in ("hybrid",):
            continue
        out.append(code)
    first = [0x001D, 0x0017, 0x0018, 0x0019, 0x001E]
    return tuple([g for g in first if g in out] + [g for g in out if g not in first])


ALL_GROUPS_TLS12 = _groups_for(False)
ALL_GROUPS_TLS13 = _groups_for(True)
EC_GROUPS_TLS12 = tuple(g for g in ALL_GROUPS_TLS12 if reg.GROUPS[g].kind not in ("ffdhe",))


@dataclass(slots=True)
class HelloFactory:
    """Builds probes for one endpoint: SNI, key shares and the extensions every probe sends."""

    server_name: str | None
    pool: KeySharePool = dataclasses.field(default_factory=KeySharePool)
    # The ALPN list every probe offers unless it asks for another (None: no ALPN). Behind
    # a dialogue before TLS, the protocol's own id or none (scanner/starttls.py alpn_for).
    alpn: tuple[str, ...] | None = ("h2", "http/1.1")
    pad_to: int | None = None  # learned: pad every hello to this many bytes (RFC 7685)
    max_suites: int | None = None  # learned: never offer more suites than this
    max_length: int | None = None  # learned: the largest hello (bytes) measured working

    def adapt(
        self, *, pad_to: int | None = None, max_suites: int | None = None, max_length: int | None = None
    ) -> None:
        """Tighten the endpoint's working shape (never loosen it): ``pad_to`` in bytes of
        the ClientHello handshake message, ``max_suites`` suites per hello (SCSVs count)."""
        if pad_to is not None:
            self.pad_to = max(self.pad_to or 0, pad_to)
        if max_suites is not None:
            self.max_suites = min(self.max_suites or max_suites, max_suites)
        if max_length is not None:
            self.max_length = min(self.max_length or max_length, max_length)

    def batch(self, version: int) -> int:
        """Candidate suites per hello for ``version`` under the learned shape."""
        size = batch_size(version)
        if self.max_suites is None:
            return size
        return max(1, min(size, self.max_suites - (1 if version == c.SSL3 else 0)))

    def spec(
        self,
        version: int,
        suites: Iterable[int],
        *,
        groups: tuple[int, ...] | None = None,
        sigalgs: tuple[int, ...] = SIGALGS_ALL,
        shares: tuple[int, ...] | None = None,
        alpn: tuple[str, ...] | None | EllipsisType = ...,
        sni: bool = True,
        compression: bool = False,
    ) -> ClientHelloSpec:
        suites = tuple(suites)
        if isinstance(alpn, EllipsisType):
            alpn = self.alpn
        name = self.server_name if sni else None
        if version == c.SSL2:
            return ClientHelloSpec(legacy_version=c.SSL2, cipher_suites=suites, sslv2=True)
        if version == c.SSL3:
            # SSL 3.0 predates extensions (RFC 6101); the SCSV signals secure renegotiation
            # support instead of the extension (RFC 5746 section 3.3).
            return ClientHelloSpec(
                legacy_version=c.SSL3,
                record_version=c.SSL3,
                random=os.urandom(32),
                cipher_suites=(*suites, c.TLS_EMPTY_RENEGOTIATION_INFO_SCSV),
                compression_methods=(1, 0) if compression else (0,),
            )
        fit = partial(self._fit, default_groups=groups is None, default_sigalgs=sigalgs is SIGALGS_ALL)
        if version == c.TLS13:
            use_groups = groups if groups is not None else ALL_GROUPS_TLS13
            share_groups = shares if shares is not None else tuple(
                g for g in DEFAULT_SHARES if g in use_groups
            )
            return fit(ClientHelloSpec(
                legacy_version=c.TLS12,
                record_version=c.TLS10,
                cipher_suites=suites,
                random=os.urandom(32),
                session_id=b"\x5a" * 32,  # RFC 8446 section D.4 middlebox compatibility
                server_name=name,
                supported_versions=(c.TLS13,),
                supported_groups=use_groups,
                signature_algorithms=sigalgs,
                key_shares=tuple(self.pool.get(g) for g in share_groups),
                psk_key_exchange_modes=(1,),
                alpn=alpn,
                status_request=True,
                padding_to=self.pad_to,
            ))
        return fit(ClientHelloSpec(
            legacy_version=version,
            record_version=c.TLS10 if version >= c.TLS10 else version,
            cipher_suites=suites,
            random=os.urandom(32),
            compression_methods=(1, 0) if compression else (0,),
            server_name=name,
            supported_groups=groups if groups is not None else ALL_GROUPS_TLS12,
            ec_point_formats=(0,),
            signature_algorithms=sigalgs if version >= c.TLS12 else None,
            renegotiation_info=b"",
            extended_master_secret=True,
            encrypt_then_mac=True,
            session_ticket=b"",
            status_request=True,
            alpn=alpn,
            padding_to=self.pad_to,
        ))

    def _fit(self, spec: ClientHelloSpec, *, default_groups: bool, default_sigalgs: bool) -> ClientHelloSpec:
        """Under a learned ``max_length`` (an endpoint that never answers longer hellos):
        the default group and signature scheme lists shortened to what mainstream clients
        send, so the hello fits; lists a probe chose itself are kept (they are its question)."""
        if self.max_length is None or _length(spec) <= self.max_length:
            return spec
        if default_sigalgs and spec.signature_algorithms:
            spec = dataclasses.replace(spec, signature_algorithms=SIGALGS_SHORT)
        if default_groups and spec.supported_groups:
            spec = dataclasses.replace(spec, supported_groups=tuple(g for g in spec.supported_groups[:4]))
        return spec

    def probe(
        self,
        spec: ClientHelloSpec,
        *,
        read_flight: bool | Callable[[ServerHello], bool] = True,
        answer_hrr: bool = True,
    ) -> HandshakeProbe:
        return HandshakeProbe(
            spec, read_flight=read_flight, answer_hrr=answer_hrr, key_share_for=self.pool.get
        )


def describe_offer(spec: ClientHelloSpec) -> str:
    """A short human description of a hello for --verbose."""
    version = spec.supported_versions[0] if spec.supported_versions else spec.legacy_version
    parts = [reg.version_name(version), f"{len(spec.cipher_suites)} suites"]
    if len(spec.cipher_suites) <= 3:
        parts[-1] = ",".join(reg.cipher_suite_name(s) for s in spec.cipher_suites)
    if spec.supported_groups is not None and len(spec.supported_groups) <= 4:
        parts.append("groups " + ",".join(reg.group_name(g) for g in spec.supported_groups))
    if spec.server_name is None and version != c.SSL2:
        parts.append("no SNI")
    if c.TLS_FALLBACK_SCSV in spec.cipher_suites:
        parts.append("FALLBACK_SCSV")
    return " ".join(parts)
