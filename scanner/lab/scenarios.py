# The lab catalogue: one frozen `Scenario` per failure case the scanner must explain.
#
# Each scenario names the case it reproduces (a seed document and its scenario, or an
# issue), the finding ids a scan of it must report above severity info (exactly those,
# no more), the ScanOptions it is scanned with on top of the lab's defaults, and an async
# `start` function that brings up its server(s) from the lab's shared Pki.
#
# Rules it keeps:
# - Every server listens on 127.0.0.1 on a free port; a "closed" port is a socket bound
#   but never listening, held for the life of the lab, so no other process can take it.
# - `start` registers everything it starts on the `LabContext.stack`, so that leaving the
#   lab stops it, whatever happened. Certificates are issued in a worker thread (RSA key
#   generation is the slow part) so scenarios start concurrently.
# - Trust is the lab's own root: scans use `ca_file=<root>` and never the system store.
# - Names are stable, kebab-case: tests, docs and `tlscompat demo --only` use them.

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import trio

from handshakes import constants as c
from scanner.lab.certs import IssuedCert, Pki
from scanner.lab.frontends import (
    FrontEnd,
    Quirk,
    close_above_suites,
    forward_all,
    silent_in_length_window,
    sni_required_odd_alert,
)
from scanner.lab.ocsp import OcspResponder
from scanner.lab.servers import (
    LOOPBACK,
    OpenSSLServer,
    RawServer,
    StdlibSSLServer,
    TlsliteServer,
    alert,
    http,
    reset,
)

__all__ = [
    "SCENARIOS",
    "LabContext",
    "Scenario",
    "Started",
    "by_name",
    "select",
]

# The host every scan names: it is in the lab certificates' SANs and is sent as SNI.
LAB_HOST = "localhost"
# The name the SNI scenario serves its real site under.
SNI_NAME = "www.lab.example"


@dataclass(slots=True)
class LabContext:
    """What a scenario's `start` gets: the shared Pki and the exit stack of the lab."""

    pki: Pki
    stack: contextlib.AsyncExitStack

    async def issue(self, name: str, **kwargs: Any) -> IssuedCert:
        """`Pki.issue` in a worker thread (key generation blocks for tens of ms)."""
        return await trio.to_thread.run_sync(functools.partial(self.pki.issue, name, **kwargs))

    async def issue_client(self, name: str, **kwargs: Any) -> IssuedCert:
        return await trio.to_thread.run_sync(
            functools.partial(self.pki.issue_client, name, **kwargs)
        )

    async def issue_ca(self, name: str, **kwargs: Any) -> IssuedCert:
        return await trio.to_thread.run_sync(functools.partial(self.pki.issue_ca, name, **kwargs))

    async def serve(self, server: Any) -> Any:
        """Start a lab server (any `scanner.lab.servers` server) until the lab stops."""
        return await self.stack.enter_async_context(server)

    async def start(self, server: Any, *, client_certs: tuple[IssuedCert, ...] = ()) -> Started:
        """`serve(server)`, as the `Started` a scenario returns."""
        started = await self.serve(server)
        return Started(port=started.port, client_certs=client_certs)

    async def ocsp_responder(self, issuer: IssuedCert) -> OcspResponder:
        """An OCSP responder and CRL server for `issuer`, stopped with the lab."""
        responder = OcspResponder(issuer.cert, issuer.key)
        await trio.to_thread.run_sync(responder.start)

        async def stop() -> None:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(responder.stop)

        self.stack.push_async_callback(stop)
        return responder

    def closed_port(self) -> int:
        """A port on 127.0.0.1 where nothing listens and nothing can start listening while
        the lab runs: a bound, never-listening socket. A connection gets a reset (refused)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((LOOPBACK, 0))
        self.stack.callback(sock.close)
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True, kw_only=True)
class Started:
    """Where a started scenario listens, and what its scan needs beyond the defaults."""

    port: int
    client_certs: tuple[IssuedCert, ...] = ()


StartFn = Callable[[LabContext], Awaitable[Started]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One failure case, reproduced by a lab server.

    `expected`: the finding ids above severity info a scan must report, exactly.
    `expected_info`: info-level ids that must be among the findings too (a subset check:
    info findings are commentary, their full set is not pinned).
    `scan_options`: ScanOptions fields set on top of the lab defaults (for instance the
    versions the seed's client spoke). `sni`: Target.sni (None: send LAB_HOST).
    """

    name: str
    title: str
    reproduces: str
    expected: frozenset[str]
    start: StartFn
    expected_info: frozenset[str] = frozenset()
    scan_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    sni: str | None = None


_REGISTRY: dict[str, Scenario] = {}


def _scenario(
    name: str,
    *,
    title: str,
    reproduces: str,
    expected: tuple[str, ...] = (),
    expected_info: tuple[str, ...] = (),
    scan_options: Mapping[str, Any] | None = None,
    sni: str | None = None,
) -> Callable[[StartFn], StartFn]:
    def register(start: StartFn) -> StartFn:
        if name in _REGISTRY:
            raise ValueError(f"duplicate scenario {name!r}")
        _REGISTRY[name] = Scenario(
            name=name,
            title=title,
            reproduces=reproduces,
            expected=frozenset(expected),
            expected_info=frozenset(expected_info),
            scan_options=MappingProxyType(dict(scan_options or {})),
            sni=sni,
            start=start,
        )
        return start

    return register


# Forward-secret AEAD and CBC suites only, so that a scenario shows its own defect and not
# tls.no_forward_secrecy too (OpenSSL's DEFAULT still enables RSA key exchange).
_ECDHE_ONLY = "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES"


async def _openssl_leaf(
    ctx: LabContext, name: str, *, server: Mapping[str, Any] | None = None, **issue: Any
) -> Started:
    """A TLS 1.2/1.3 s_server with forward-secret suites, serving a new leaf and its chain
    (`server`: more OpenSSLServerConfig fields)."""
    leaf = await ctx.issue(name, **issue)
    return await ctx.start(
        OpenSSLServer(cert=leaf, min_version=c.TLS12, cipher=_ECDHE_ONLY, **(server or {}))
    )


def _leaf_scenario(
    name: str,
    *,
    title: str,
    reproduces: str,
    expected: tuple[str, ...] = (),
    issue: Mapping[str, Any] | None = None,
) -> None:
    """Register a scenario served by `_openssl_leaf` with a leaf called `name`, issued
    with `issue` (the `Pki.issue` options that put the defect in the certificate)."""

    async def start(ctx: LabContext) -> Started:
        return await _openssl_leaf(ctx, name, **(issue or {}))

    _scenario(name, title=title, reproduces=reproduces, expected=expected)(start)


# -- healthy ------------------------------------------------------------------------------


_leaf_scenario(
    "healthy",
    title="Healthy modern server: TLS 1.2 and 1.3, forward secrecy, trusted chain",
    reproduces="baseline: what a correct server looks like (no seed failure)",
)


# -- protocol versions ----------------------------------------------------------------------


@_scenario(
    "tls10-only",
    title="Server speaks TLS 1.0 only; the client speaks TLS 1.1 and 1.2 only",
    reproduces="an old server (IIS 6) that speaks only TLS 1.0, while the clients speak only TLS 1.1/1.2",
    expected=("protocol.no_common_version", "protocol.deprecated", "vuln.beast"),
    scan_options={"client_versions": (c.TLS11, c.TLS12)},
)
async def _tls10_only(ctx: LabContext) -> Started:
    leaf = await ctx.issue("tls10-only")
    return await ctx.start(
        OpenSSLServer(cert=leaf, min_version=c.TLS10, max_version=c.TLS10, cipher="ECDHE+AES")
    )


@_scenario(
    "ssl3-only",
    title="Server speaks SSL 3.0 only",
    reproduces="a server left on SSL 3.0 (the SCHANNEL\\Protocols registry keys never updated)",
    expected=("protocol.no_common_version", "protocol.deprecated", "vuln.poodle", "vuln.beast"),
)
async def _ssl3_only(ctx: LabContext) -> Started:
    leaf = await ctx.issue("ssl3-only")
    return await ctx.start(
        TlsliteServer(
            cert=leaf,
            min_version=c.SSL3,
            max_version=c.SSL3,
            cipher_names=("aes128", "aes256"),
            key_exchange_names=("ecdhe_rsa", "dhe_rsa"),
        )
    )


# -- certificates -------------------------------------------------------------------------


@_scenario(
    "untrusted-root",
    title="Chain ends at a root the client does not trust",
    reproduces="a chain ending at a root the clients do not trust (CERT_E_UNTRUSTEDROOT 0x800b0109)",
    expected=("cert.untrusted_root",),
)
async def _untrusted_root(ctx: LabContext) -> Started:
    # The server sends its whole chain, root included, as many do: the client has the
    # root in hand and still does not trust it. (Without the root, a client cannot tell
    # an unknown root from a missing intermediate: that is the incomplete-chain case.)
    root = await trio.to_thread.run_sync(lambda: ctx.pki.untrusted_root)
    return await _openssl_leaf(
        ctx, "untrusted-root-leaf", issuer="untrusted", server={"cert_chain": root.cert_path}
    )


@_scenario(
    "incomplete-chain",
    title="Server sends its leaf without the intermediate CA (AIA caIssuers URL present)",
    reproduces="a server that does not send its intermediate certificate: the chain cannot be built to a trusted root",
    expected=("cert.incomplete_chain",),
)
async def _incomplete_chain(ctx: LabContext) -> Started:
    # The caIssuers URL is evidence for the user (where the missing issuer would be
    # published); nothing serves it, like many a stale AIA URL in the wild.
    url = f"http://{LOOPBACK}:{ctx.closed_port()}/intermediate.der"
    leaf = await ctx.issue("incomplete-chain", ca_issuers_url=url)
    # Paths, not the IssuedCert: that would add -cert_chain with the intermediate.
    return await ctx.start(
        OpenSSLServer(
            cert=leaf.cert_path, key=leaf.key_path, min_version=c.TLS12, cipher=_ECDHE_ONLY
        )
    )


_leaf_scenario(
    "hostname-mismatch",
    title="Certificate names another host",
    reproduces="a certificate whose names do not match the address the clients use (CERT_E_CN_NO_MATCH 0x800b010f)",
    expected=("cert.hostname_mismatch",),
    issue={"sans": ("other.lab.example",)},
)


_leaf_scenario(
    "expired",
    title="Certificate expired 30 days ago",
    reproduces="expired server certificate (CERT_E_EXPIRED 0x800b0101)",
    expected=("cert.expired",),
    issue={"validity": "expired"},
)


_leaf_scenario(
    "not-yet-valid",
    title="Certificate valid only from 30 days from now",
    reproduces="certificate dated in the future (server or CA clock wrong)",
    expected=("cert.not_yet_valid",),
    issue={"validity": "not_yet_valid"},
)


_leaf_scenario(
    "wrong-eku",
    title="Certificate's extended key usage is clientAuth only (no serverAuth)",
    reproduces="a certificate not meant for servers (extended key usage without serverAuth, CERT_E_WRONG_USAGE 0x800b0110)",
    expected=("cert.wrong_usage",),
    issue={"eku": ("clientAuth",)},
)


_leaf_scenario(
    "weak-key",
    title="Certificate with an RSA 1024-bit key",
    reproduces="weak server key (refused by current clients at their default security level)",
    expected=("cert.weak_key",),
    issue={"key": "rsa1024"},
)


_leaf_scenario(
    "sha1-signature",
    title="Certificate signed with SHA-1",
    reproduces="SHA-1 signed server certificate (refused by current clients)",
    expected=("cert.weak_signature",),
    issue={"hash": "sha1"},
)


_leaf_scenario(
    "self-signed",
    title="Self-signed server certificate",
    reproduces="a test server left with a self-signed certificate, which clients do not trust",
    expected=("cert.self_signed",),
    issue={"issuer": "self"},
)


# -- revocation ---------------------------------------------------------------------------


@_scenario(
    "revoked",
    title="Certificate revoked: the OCSP responder (and the CRL) say so",
    reproduces="revoked server certificate (CRYPT_E_REVOKED 0x80092010)",
    expected=("cert.revoked",),
)
async def _revoked(ctx: LabContext) -> Started:
    responder = await ctx.ocsp_responder(ctx.pki.intermediate)
    started = await _openssl_leaf(
        ctx, "revoked", ocsp_url=responder.url, crl_url=responder.crl_url
    )
    responder.revoke(ctx.pki.get("revoked").serial)
    return started


@_scenario(
    "revocation-unreachable",
    title="OCSP responder and CRL distribution point cannot be reached",
    reproduces="a certificate whose revocation server is offline (CRYPT_E_REVOCATION_OFFLINE 0x80092013)",
    expected=("cert.revocation_unreachable",),
)
async def _revocation_unreachable(ctx: LabContext) -> Started:
    port = ctx.closed_port()
    return await _openssl_leaf(
        ctx,
        "revocation-unreachable",
        ocsp_url=f"http://{LOOPBACK}:{port}/",
        crl_url=f"http://{LOOPBACK}:{port}/intermediate.crl",
    )


# -- connectivity: the port answers, TLS does not work ------------------------------------


@_scenario(
    "handshake-reset",
    title="Every ClientHello is answered with a TCP reset",
    reproduces=(
        "a certificate installed without a usable private key "
        "(Schannel event 36870, 0x80090016 / 0x8009001a): the handshake is reset"
    ),
    expected=("handshake.aborted",),
)
async def _handshake_reset(ctx: LabContext) -> Started:
    return await ctx.start(RawServer(reset(read_first=True)))


@_scenario(
    "handshake-internal-error",
    title="Every ClientHello is answered with a fatal internal_error alert",
    reproduces=(
        "no certificate bound to the IP:port in HTTP.sys "
        "(netsh http show ssl shows an empty hash or a zero GUID)"
    ),
    expected=("handshake.aborted",),
)
async def _handshake_internal_error(ctx: LabContext) -> Started:
    return await ctx.start(RawServer(alert(level=2, description=80, version=c.TLS12)))


@_scenario(
    "no-certificate",
    title="openssl s_server with no certificate at all (-nocert)",
    reproduces=(
        "an OpenSSL server with no certificate configured: it answers "
        "handshake_failure (40) for TLS <= 1.2 and protocol_version (70) for TLS 1.3"
    ),
    expected=("handshake.rejected",),
)
async def _no_certificate(ctx: LabContext) -> Started:
    return await ctx.start(OpenSSLServer(cert=None))


@_scenario(
    "port-taken-http",
    title="Another process (plain HTTP) holds the TLS port",
    reproduces="another program listens on the TLS port (find it with netstat -ano)",
    expected=("port.not_tls",),
)
async def _port_taken_http(ctx: LabContext) -> Started:
    return await ctx.start(RawServer(http()))


@_scenario(
    "nothing-listening",
    title="Nothing listens on the port",
    reproduces="the site is bound to another IP:port, so this one refuses connections",
    expected=("port.closed",),
)
async def _nothing_listening(ctx: LabContext) -> Started:
    return Started(port=ctx.closed_port())


@_scenario(
    "sni-required",
    title="Server refuses clients that send no SNI (unrecognized_name)",
    reproduces="IIS 'Require Server Name Indication' binding; clients connecting by IP fail",
    expected=("sni.required",),
    sni=SNI_NAME,
)
async def _sni_required(ctx: LabContext) -> Started:
    leaf = await ctx.issue("sni-required", sans=(SNI_NAME,))

    def require_sni(_ssl: Any, server_name: str | None, _ctx: ssl.SSLContext) -> int | None:
        if server_name is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        return None

    return await ctx.start(StdlibSSLServer(cert=leaf, sni_callback=require_sni))


@_scenario(
    "sni-name-unknown",
    title="Server refuses the name the client sends (unrecognized_name) but works without SNI",
    reproduces="a site missing from the server's SNI bindings: the name is refused, the server itself works",
    # The default certificate, served without SNI, is another site's: not valid for the name.
    expected=("sni.name_unknown", "cert.hostname_mismatch"),
)
async def _sni_name_unknown(ctx: LabContext) -> Started:
    leaf = await ctx.issue("sni-name-unknown", sans=(SNI_NAME,))

    def known_names_only(_ssl: Any, server_name: str | None, _ctx: ssl.SSLContext) -> int | None:
        if server_name is not None and server_name != SNI_NAME:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        return None

    return await ctx.start(StdlibSSLServer(cert=leaf, sni_callback=known_names_only))


# -- cipher suites --------------------------------------------------------------------------


@_scenario(
    "weak-ciphers",
    title="TLS 1.2 server accepting RC4 and 3DES next to AES-GCM",
    reproduces="weak cipher suites still enabled (SSL Cipher Suite Order not cleaned up)",
    expected=("cipher.weak", "vuln.rc4", "vuln.sweet32"),
)
async def _weak_ciphers(ctx: LabContext) -> Started:
    # OpenSSL 3.0 as shipped here has no RC4 or 3DES at all, even at @SECLEVEL=0:
    # tlslite-ng still implements both.
    leaf = await ctx.issue("weak-ciphers")
    return await ctx.start(
        TlsliteServer(
            cert=leaf,
            min_version=c.TLS12,
            max_version=c.TLS12,
            cipher_names=("aes128gcm", "3des", "rc4"),
            key_exchange_names=("ecdhe_rsa",),
        )
    )


# -- client certificates ------------------------------------------------------------------


def _verify_clients(ca_file: Any, *, require: bool = True) -> dict[str, Any]:
    """s_server options that ask for a client certificate from `ca_file` (-verify 2) or,
    with `require`, insist on one and end the handshake on a bad one (-Verify 2)."""
    options: dict[str, Any] = {"verify_depth": 2, "ca_file": ca_file}
    if require:
        options.update(require_client_cert=True, verify_return_error=True)
    return options


@_scenario(
    "client-cert-required",
    title="Server requires a client certificate (-Verify)",
    reproduces="a server that requires a client certificate (IIS Client certificates: Require; WinHTTP error 12044)",
    expected=("client_auth.required",),
)
async def _client_cert_required(ctx: LabContext) -> Started:
    return await _openssl_leaf(ctx, "client-cert-required", server=_verify_clients(ctx.pki.root))


@_scenario(
    "client-cert-optional",
    title="Server asks for a client certificate but goes on without one (-verify)",
    reproduces="a server that asks for a client certificate but accepts none (IIS Client certificates: Accept)",
    expected_info=("client_auth.optional",),
)
async def _client_cert_optional(ctx: LabContext) -> Started:
    return await _openssl_leaf(
        ctx, "client-cert-optional", server=_verify_clients(ctx.pki.root, require=False)
    )


@_scenario(
    "client-cert-rejected",
    title="Server rejects the client certificate presented with bad_certificate (42)",
    reproduces="a server that refuses the client certificate presented: alert bad_certificate (42) after the client's Certificate",
    # client_auth.cert_expired: scanner.diagnose.client_certs' finding, which says why (the
    # certificate is not valid yet) when the server refuses it.
    expected=("client_auth.required", "client_auth.cert_rejected", "client_auth.cert_expired"),
)
async def _client_cert_rejected(ctx: LabContext) -> Started:
    # OpenSSL answers a client certificate dated in the future with bad_certificate, 42
    # (ssl/statem/statem_lib.c: X509_V_ERR_CERT_NOT_YET_VALID -> SSL_AD_BAD_CERTIFICATE).
    leaf = await ctx.issue("client-cert-rejected")
    client = await ctx.issue_client(
        "client-cert-rejected-client", issuer="root", validity="not_yet_valid"
    )
    server = OpenSSLServer(
        cert=leaf,
        min_version=c.TLS12,
        max_version=c.TLS12,
        cipher=_ECDHE_ONLY,
        **_verify_clients(ctx.pki.root),
    )
    return await ctx.start(server, client_certs=(client,))


@_scenario(
    "client-cert-wrong-issuer",
    title="Client certificate from a CA the server does not list as acceptable",
    reproduces=(
        "a client certificate from an issuer the server does not accept: it ends the handshake "
        "(IIS: illegal_parameter 47; OpenSSL: unknown_ca 48)"
    ),
    expected=("client_auth.required", "client_auth.issuer_not_accepted"),
)
async def _client_cert_wrong_issuer(ctx: LabContext) -> Started:
    partner = await ctx.issue_ca("client-cert-partner-ca", issuer="self", path_length=None)
    leaf = await ctx.issue("client-cert-wrong-issuer")
    client = await ctx.issue_client("client-cert-wrong-issuer-client", issuer="intermediate")
    server = OpenSSLServer(
        cert=leaf,
        min_version=c.TLS12,
        max_version=c.TLS12,
        cipher=_ECDHE_ONLY,
        **_verify_clients(partner.cert_path),
    )
    return await ctx.start(server, client_certs=(client,))


# -- STARTTLS (issue 13) --------------------------------------------------------------------


async def _smtp(ctx: LabContext, name: str, mode: str) -> Started:
    from scanner.lab.mail import FakeSMTPServer

    leaf = await ctx.issue(name)
    ca = str(ctx.pki.ca_path) if mode == "client-cert" else None
    return await ctx.start(FakeSMTPServer(cert=leaf, mode=mode, ca_file=ca))


@_scenario(
    "smtp-no-starttls",
    title="Mail server that does not offer STARTTLS, but offers AUTH in plaintext",
    reproduces="a mail server that does not offer STARTTLS (EHLO lists none) but offers AUTH PLAIN in plaintext",
    expected=("starttls.not_offered", "starttls.plaintext_auth"),
    scan_options={"starttls": "smtp"},
)
async def _smtp_no_starttls(ctx: LabContext) -> Started:
    return await _smtp(ctx, "smtp-no-starttls", "no-starttls")


@_scenario(
    "smtp-throttling",
    title="Mail server that answers 421 too many connections to two connections of the scan",
    reproduces="a mail server that turns connections away with 421 under load: the scan backs off and resumes",
    expected_info=("starttls.throttled",),
    scan_options={"starttls": "smtp"},
)
async def _smtp_throttling(ctx: LabContext) -> Started:
    return await _smtp(ctx, "smtp-throttling", "throttle")


@_scenario(
    "smtp-injection",
    title="Mail server that runs commands pipelined after STARTTLS inside TLS",
    reproduces="a mail server that runs commands sent before STARTTLS inside TLS (CVE-2011-0411 class)",
    expected=("starttls.injection",),
    scan_options={"starttls": "smtp"},
)
async def _smtp_injection(ctx: LabContext) -> Started:
    return await _smtp(ctx, "smtp-injection", "injectable")


@_scenario(
    "submission-client-cert",
    title="Submission server whose TLS (after STARTTLS) requires a client certificate",
    reproduces="enterprise client-certificate authentication on SMTP submission, after STARTTLS",
    # The client-authentication full handshakes go through the scan's connection factory,
    # so through the dialogue too: they see the server abort without a certificate.
    expected=("client_auth.required",),
    scan_options={"starttls": "smtp"},
)
async def _submission_client_cert(ctx: LabContext) -> Started:
    return await _smtp(ctx, "submission-client-cert", "client-cert")


@_scenario(
    "postgres17-direct-tls",
    title="PostgreSQL 17 direct TLS: TLS at once, ALPN \"postgresql\" required",
    reproduces="PostgreSQL 17's direct TLS (sslnegotiation=direct): TLS at once, and only with ALPN postgresql",
    scan_options={"starttls": "postgres-direct"},
)
async def _postgres17_direct_tls(ctx: LabContext) -> Started:
    # s_server -alpn postgresql answers a ClientHello offering other protocols with
    # no_application_protocol (120), as PostgreSQL 17 does.
    return await _openssl_leaf(ctx, "postgres17-direct-tls", server={"alpn": ("postgresql",)})



# -- classic vulnerabilities (issue 18) -------------------------------------------------------
# Patched Debian packages cannot show these: scanner/lab/vulnerable.py plays the vulnerable
# implementations (a TLS 1.2 RSA-only server, hence tls.no_forward_secrecy too).


def _vulnerable_scenario(name: str, *, title: str, reproduces: str, finding: str, **flaws: Any) -> None:
    async def start(ctx: LabContext) -> Started:
        from scanner.lab.vulnerable import legacy_rsa_server

        leaf = await ctx.issue(name)
        return await ctx.start(RawServer(legacy_rsa_server(leaf, **flaws)))

    _scenario(
        name, title=title, reproduces=reproduces, expected=(finding, "tls.no_forward_secrecy")
    )(start)


_vulnerable_scenario(
    "heartbleed",
    title="Heartbleed: heartbeats answered with the length the request declares",
    reproduces="Heartbleed (CVE-2014-0160): OpenSSL 1.0.1 to 1.0.1f returned its memory in heartbeats",
    finding="vuln.heartbleed",
    heartbleed=True,
)
_vulnerable_scenario(
    "ccs-injection",
    title="CCS injection: a ChangeCipherSpec before the key exchange is accepted",
    reproduces="CCS injection (CVE-2014-0224): OpenSSL before 0.9.8za, 1.0.0m, 1.0.1h took an early ChangeCipherSpec",
    finding="vuln.ccs_injection",
    early_ccs=True,
)
_vulnerable_scenario(
    "robot-oracle",
    title="ROBOT: the RSA key exchange answers differently when the padding is wrong",
    reproduces="ROBOT: an RSA key exchange that tells good padding from bad (Bleichenbacher's oracle)",
    finding="vuln.robot",
    robot_oracle="strong",
)



@_scenario(
    "ticketbleed",
    title="Ticketbleed: a resumed session ID echoed as 32 bytes whatever its length",
    reproduces="Ticketbleed (CVE-2016-9244): F5 BIG-IP echoed 32 bytes of session ID whatever the client sent",
    expected=("vuln.ticketbleed",),
)
async def _ticketbleed(ctx: LabContext) -> Started:
    from scanner.lab.vulnerable import ticket_server

    leaf = await ctx.issue("ticketbleed")
    return await ctx.start(RawServer(ticket_server(leaf, ticketbleed=True)))


# -- quirky front ends (issue 11): what real clients reach, a scanner must reach too ----------


async def _behind_front_end(
    ctx: LabContext, name: str, quirk: Quirk, *, swallow_alerts: bool = False,
    server: Mapping[str, Any] | None = None,
) -> Started:
    """A TLS 1.2/1.3 s_server (forward-secret suites) behind a misbehaving front end."""
    leaf = await ctx.issue(name)
    backend = await ctx.serve(
        OpenSSLServer(cert=leaf, min_version=c.TLS12, cipher=_ECDHE_ONLY, **(server or {}))
    )
    return await ctx.start(FrontEnd(backend.address, quirk, swallow_alerts=swallow_alerts))


@_scenario(
    "hello-length-window",
    title="A front end never answers a ClientHello of 256-511 bytes (the F5 bug)",
    reproduces="a load balancer (the F5 BIG-IP bug behind RFC 7685) that never answers ClientHellos of 256 to 511 bytes",
    expected=("intolerance.hello_length",),
)
async def _hello_length_window(ctx: LabContext) -> Started:
    return await _behind_front_end(ctx, "hello-length-window", silent_in_length_window(256, 511))


@_scenario(
    "suite-count-limit",
    title="A front end closes TCP when the hello lists more than 100 cipher suites",
    reproduces="an appliance that drops hellos listing more than 100 cipher suites (the server looked TLS 1.3-only)",
    expected=("intolerance.suite_count",),
)
async def _suite_count_limit(ctx: LabContext) -> Started:
    return await _behind_front_end(ctx, "suite-count-limit", close_above_suites(100))


@_scenario(
    "silent-refusals",
    title="A front end swallows the server's alerts: every refusal is a TCP close",
    reproduces="a front end that swallows alerts: a refusal is a TCP close (a refused fallback hello is not missing protection)",
)
async def _silent_refusals(ctx: LabContext) -> Started:
    return await _behind_front_end(ctx, "silent-refusals", forward_all, swallow_alerts=True)


@_scenario(
    "chacha-priority",
    title="Server order with ChaCha20 priority (-serverpref -prioritize_chacha)",
    reproduces="a server that imposes its order but gives ChaCha20 to clients that list it first (-prioritize_chacha)",
    expected_info=("cipher.chacha_priority",),
)
async def _chacha_priority(ctx: LabContext) -> Started:
    leaf = await ctx.issue("chacha-priority")
    return await ctx.start(
        OpenSSLServer(
            cert=leaf, min_version=c.TLS12, server_pref=True, extra_args=("-prioritize_chacha",),
            cipher="ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305",
            ciphersuites="TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
        )
    )


@_scenario(
    "record-splitting",
    title="HTTPS application that reads one record only: a 1/n-1 split request gets no answer",
    reproduces="a site that breaks when the client splits its request into a 1-byte record and the rest (the MS12-006 update)",
    expected=("intolerance.record_splitting",),
)
async def _record_splitting(ctx: LabContext) -> Started:
    leaf = await ctx.issue("record-splitting")
    return await ctx.start(
        StdlibSSLServer(cert=leaf, min_version=c.TLS12, alpn=("http/1.1",), first_record_only=True)
    )


@_scenario(
    "sni-odd-alert",
    title="Without SNI the front end answers 15 00 00 00 02 02 28 (an alert in a record with version 0x0000)",
    reproduces="a CDN that refuses hellos without SNI with an alert in a malformed record (version 0x0000)",
    expected=("sni.required",),
)
async def _sni_odd_alert(ctx: LabContext) -> Started:
    return await _behind_front_end(ctx, "sni-odd-alert", sni_required_odd_alert())


SCENARIOS: tuple[Scenario, ...] = tuple(_REGISTRY.values())


def by_name(name: str) -> Scenario:
    """The scenario called `name` (KeyError naming the known ones otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown lab scenario {name!r}; known: {', '.join(_REGISTRY)}") from None


def select(only: str | None) -> tuple[Scenario, ...]:
    """All scenarios, or those named in a comma-separated list (in catalogue order)."""
    if only is None:
        return SCENARIOS
    wanted = [n.strip() for n in only.split(",") if n.strip()]
    if not wanted:
        raise KeyError(f"--only names no scenario; known: {', '.join(_REGISTRY)}")
    for name in wanted:
        by_name(name)
    return tuple(s for s in SCENARIOS if s.name in wanted)
