"""scan_endpoint against servers whose configuration is known exactly (issue 3).

For `openssl s_server` started with explicit -cipher / -ciphersuites / -groups lists and
version limits, the expected (version, suite) set is what OpenSSL itself says the list
means for each version (`openssl ciphers -v -s -tls1_x '<list>'`, the names mapped through
handshakes.registry.cipher_suite_by_name), kept to the suites the server's certificates
can authenticate. For tlslite-ng it is what tlslite-ng's own suite tables give for its
configured cipher names. The scan must find exactly that set, the server's order when the
server imposes one (and no order when it does not), the configured groups, the configured
certificate chains, and stay within its connection budget.
"""

from __future__ import annotations

import subprocess
import warnings
from dataclasses import dataclass, replace

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from handshakes import constants as c
from handshakes import registry as reg
from scanner.api import scan_endpoint
from scanner.options import Deadlines, ScanOptions, Target
from scanner.results import EndpointResult

DEADLINES = Deadlines(connect=10.0, read=10.0, endpoint=120.0)
VERSIONS_FIRST = (c.TLS13, c.TLS12, c.TLS11, c.TLS10, c.SSL3, c.SSL2)

# OpenSSL's group names (-groups) as wire codes (IANA TLS Supported Groups).
GROUP_CODES = {
    "prime256v1": 0x0017,
    "P-256": 0x0017,
    "secp384r1": 0x0018,
    "P-384": 0x0018,
    "secp521r1": 0x0019,
    "X25519": 0x001D,
    "X448": 0x001E,
    "ffdhe2048": 0x0100,
    "ffdhe3072": 0x0101,
}
_FFDHE = range(0x0100, 0x0200)


@dataclass(frozen=True, slots=True)
class OpenSSLCase:
    id: str
    min_version: int
    max_version: int
    cipher: str | None = None
    ciphersuites: str | None = None
    groups: str | None = None
    server_pref: bool = False
    dual: bool = False  # an ECDSA certificate next to the RSA one (-dcert/-dkey)

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(v for v in VERSIONS_FIRST if self.min_version <= v <= self.max_version)


OPENSSL_CASES = [
    OpenSSLCase(
        "tls10-13-serverpref",
        c.TLS10,
        c.TLS13,
        cipher="ECDHE-RSA-AES256-SHA:AES128-SHA:DHE-RSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES128-GCM-SHA256:CAMELLIA128-SHA",
        ciphersuites="TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
        groups="secp384r1:X25519:ffdhe2048:prime256v1",
        server_pref=True,
    ),
    OpenSSLCase(
        "tls10-13-client-order",
        c.TLS10,
        c.TLS13,
        cipher="ECDHE-RSA-AES256-SHA:AES128-SHA:DHE-RSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES128-GCM-SHA256:CAMELLIA128-SHA",
        ciphersuites="TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
        groups="secp384r1:X25519:ffdhe2048:prime256v1",
    ),
    # Suites far down the scanner's candidate list (anonymous DH, NULL encryption) are
    # found in a later batch than the popular ones, so the server's order has to be
    # ranked again among the found suites.
    OpenSSLCase(
        "tls12-batches-serverpref",
        c.TLS12,
        c.TLS12,
        cipher="NULL-SHA256:ADH-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA:"
        "@SECLEVEL=0",
        groups="X25519:prime256v1",
        server_pref=True,
    ),
    OpenSSLCase(
        "tls13-serverpref",
        c.TLS13,
        c.TLS13,
        ciphersuites="TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
        groups="ffdhe3072:X25519:secp521r1",
        server_pref=True,
    ),
    OpenSSLCase(
        "tls10-11-keywords-serverpref",
        c.TLS10,
        c.TLS11,
        cipher="HIGH:MEDIUM:!aNULL:!PSK:!SRP:!DSS:@SECLEVEL=0",
        groups="prime256v1:secp384r1",
        server_pref=True,
    ),
    OpenSSLCase(
        "tls12-13-dual-cert",
        c.TLS12,
        c.TLS13,
        cipher="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-SHA:"
        "AES128-SHA",
        groups="X25519:prime256v1",
        server_pref=True,
        dual=True,
    ),
]


@pytest.fixture(scope="module")
def ecdsa_cert(lab_pki):
    return lab_pki.issue("scan-correctness-ecdsa", key="ecdsa-p256")


def der_chain(issued) -> tuple[bytes, ...]:
    return tuple(cert.public_bytes(Encoding.DER) for cert in issued.fullchain)


def options(lab_pki, probes: set[str]) -> ScanOptions:
    return ScanOptions(
        ca_file=str(lab_pki.ca_path),
        use_system_store=False,
        probes=frozenset(probes),
        deadlines=DEADLINES,
    )


async def scan(server, lab_pki, probes: set[str]) -> EndpointResult:
    target = Target(host="127.0.0.1", port=server.port, ip="127.0.0.1")
    result = await scan_endpoint(target, options(lab_pki, probes))
    assert result.outcome == "ok", result.detail
    return result


# -- expectations from the servers' own view of their configuration ---------------------------


def _arg(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def openssl_suites(server, case: OpenSSLCase, version: int) -> list[int]:
    """The suites s_server accepts in `version`, in its configured order, per OpenSSL."""
    flag = {c.TLS10: "-tls1", c.TLS11: "-tls1_1", c.TLS12: "-tls1_2", c.TLS13: "-tls1_3"}[version]
    argv = ["openssl", "ciphers", "-v", "-s", flag]
    if case.ciphersuites is not None:
        argv += ["-ciphersuites", case.ciphersuites]
    # The exact -cipher string the server got (with the @SECLEVEL the lab appends).
    argv.append(_arg(server.argv, "-cipher") or "DEFAULT")
    listing = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30).stdout
    auth = {"RSA", "None", "any"} | ({"ECDSA"} if case.dual else set())
    codes = []
    for line in listing.splitlines():
        name, _, _, au = line.split()[:4]
        if au.removeprefix("Au=") not in auth:
            continue  # no certificate of that type: the server cannot use it
        suite = reg.cipher_suite_by_name(name)
        assert suite is not None, f"registry does not know OpenSSL's {name}"
        codes.append(suite.code)
    assert codes, f"nothing to expect from {argv}"
    return codes


def openssl_expected(server, case: OpenSSLCase) -> dict[int, list[int]]:
    return {v: openssl_suites(server, case, v) for v in case.versions}


def found_suites(result: EndpointResult) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for s in result.cipher_suites:
        out.setdefault(s.version, set()).add(s.code)
    return out


def preference_order(result: EndpointResult, version: int) -> list[int] | None:
    """The server's order as the scan reports it, or None when it reports no order."""
    suites = [s for s in result.cipher_suites if s.version == version]
    prefs = [s.preference for s in suites]
    if all(p is None for p in prefs):
        return None
    assert None not in prefs, f"partial preference for {reg.version_name(version)}: {prefs}"
    assert sorted(prefs) == list(range(1, len(suites) + 1))  # type: ignore[type-var]
    return [s.code for s in sorted(suites, key=lambda s: s.preference or 0)]


def assert_suites_and_order(result: EndpointResult, expected: dict[int, list[int]], case: OpenSSLCase) -> None:
    """The scan found OpenSSL's suites per version, and the server's order exactly when
    the server imposes one (and has more than one suite)."""
    assert {v: sorted(s) for v, s in found_suites(result).items()} == {
        v: sorted(s) for v, s in expected.items()
    }
    for version, codes in expected.items():
        order = preference_order(result, version)
        if case.server_pref and len(codes) > 1:
            assert names(order or ()) == names(codes), reg.version_name(version)
        else:
            assert order is None, reg.version_name(version)


def names(codes) -> list[str]:
    return [reg.cipher_suite_name(code) for code in codes]


def start_openssl(openssl_server, case: OpenSSLCase, ecdsa_cert):
    extra = {"dcert": ecdsa_cert} if case.dual else {}
    return openssl_server(
        min_version=case.min_version,
        max_version=case.max_version,
        cipher=case.cipher,
        ciphersuites=case.ciphersuites,
        groups=case.groups,
        server_pref=case.server_pref,
        **extra,
    )


# -- OpenSSL: versions, suites, preference --------------------------------------------------


@pytest.mark.parametrize("case", OPENSSL_CASES, ids=[k.id for k in OPENSSL_CASES])
async def test_openssl_versions_and_suites(openssl_server, lab_pki, ecdsa_cert, case):
    server = start_openssl(openssl_server, case, ecdsa_cert)
    expected = openssl_expected(server, case)
    result = await scan(server, lab_pki, {"protocols", "suites"})

    assert set(result.supported_versions()) == set(case.versions)
    found = found_suites(result)
    for version, codes in expected.items():
        assert sorted(found.get(version, ())) == sorted(codes), reg.version_name(version)
    assert set(found) == set(expected)
    assert result.anomalies == ()
    for p in result.protocols:
        if not p.supported:
            assert p.negotiated is None or p.negotiated in case.versions




@pytest.mark.parametrize(
    "case",
    [
        pytest.param(k, id=k.id)
        for k in OPENSSL_CASES
    ],
)
async def test_openssl_preference(openssl_server, lab_pki, ecdsa_cert, case):
    server = start_openssl(openssl_server, case, ecdsa_cert)
    expected = openssl_expected(server, case)
    result = await scan(server, lab_pki, {"protocols", "suites", "preference"})
    assert_suites_and_order(result, expected, case)
    imposed = dict(result.behaviours.server_preference)
    for version, codes in expected.items():
        if len(codes) > 1:
            assert imposed[version] is case.server_pref


@pytest.mark.parametrize("case", OPENSSL_CASES[:4], ids=[k.id for k in OPENSSL_CASES[:4]])
async def test_openssl_connection_budget(openssl_server, lab_pki, ecdsa_cert, case):
    # Versions and suites cost at most: one connection per accepted suite, and two more
    # per version asked (the refusals that end each elimination).
    server = start_openssl(openssl_server, case, ecdsa_cert)
    result = await scan(server, lab_pki, {"protocols", "suites"})
    budget = len(result.cipher_suites) + 2 * len(VERSIONS_FIRST)
    assert result.stats.connections <= budget


@pytest.mark.parametrize("server_pref", [False, True], ids=["client-order", "serverpref"])
async def test_preference_asked_on_the_way(openssl_server, lab_pki, server_pref):
    # The elimination's second hello also asks the server's order (scanner/probes/suites.py
    # _order_offer): a server that follows the client's order costs no connection more with
    # the preference probe than without; one that imposes its order costs one, instead of
    # the preference probe's own. The verdict comes from the server's configuration.
    case = OpenSSLCase(
        "tls12", c.TLS12, c.TLS12, server_pref=server_pref,
        cipher="AES256-SHA:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA:AES128-SHA256",
    )
    server = start_openssl(openssl_server, case, None)
    expected = openssl_expected(server, case)
    plain = await scan(server, lab_pki, {"protocols", "suites"})
    ordered = await scan(server, lab_pki, {"protocols", "suites", "preference"})
    assert found_suites(plain) == found_suites(ordered) == {v: set(s) for v, s in expected.items()}
    assert dict(ordered.behaviours.server_preference) == {c.TLS12: server_pref}
    assert_suites_and_order(ordered, expected, case)
    assert ordered.stats.connections == plain.stats.connections + (1 if server_pref else 0)


# -- OpenSSL: groups ---------------------------------------------------------------------------


GROUP_CASES = [k for k in OPENSSL_CASES if k.groups]


@pytest.mark.parametrize("case", GROUP_CASES, ids=[k.id for k in GROUP_CASES])
async def test_openssl_groups(openssl_server, lab_pki, ecdsa_cert, case):
    server = start_openssl(openssl_server, case, ecdsa_cert)
    result = await scan(server, lab_pki, {"protocols", "suites", "groups"})
    configured = [GROUP_CODES[name] for name in (case.groups or "").split(":")]
    by_version: dict[int, list[tuple[int, int | None]]] = {}
    for g in result.groups:
        by_version.setdefault(g.version, []).append((g.code, g.preference))
    expected: dict[int, list[int]] = {}
    if c.TLS13 in case.versions:
        # TLS 1.3, through HelloRetryRequests: every configured group, ffdhe included.
        expected[c.TLS13] = configured
    legacy = [v for v in case.versions if v <= c.TLS12]
    if legacy:
        # TLS <= 1.2 curves from the ServerKeyExchange: OpenSSL 3.0 names no group for DHE.
        expected[max(legacy)] = [g for g in configured if g not in _FFDHE]
    assert {v: sorted(g for g, _ in gs) for v, gs in by_version.items()} == {
        v: sorted(gs) for v, gs in expected.items()
    }
    for version, groups in expected.items():
        ranked = by_version[version]
        # OpenSSL 3.0 picks the HelloRetryRequest group from its own list whatever
        # -serverpref says (final_key_share); TLS 1.2 curves follow its list only with
        # -serverpref (tls1_shared_group).
        ordered = case.server_pref or version == c.TLS13
        if ordered and len(groups) > 1:
            assert [g for g, _ in sorted(ranked, key=lambda x: x[1] or 0)] == groups
            assert sorted(p for _, p in ranked) == list(range(1, len(groups) + 1))  # type: ignore[type-var]
        else:
            assert all(p is None for _, p in ranked), reg.version_name(version)
    # Connections (issue 16): one per group found and the refusal that ends each version's
    # elimination, plus one for the order, except on a client-order server with three
    # groups or more, whose order hello finds the third.
    bare = await scan(server, lab_pki, {"protocols", "suites"})

    def cost(version: int, n: int) -> int:
        client_order = not (case.server_pref or version == c.TLS13)
        return n + 1 + (0 if n < 2 or (client_order and n >= 3) else 1)

    assert result.stats.connections - bare.stats.connections == sum(cost(v, len(g)) for v, g in expected.items())


# -- OpenSSL: certificates ------------------------------------------------------------------




@pytest.mark.parametrize(
    "case",
    [
        pytest.param(k, id=k.id)
        for k in OPENSSL_CASES
    ],
)
async def test_openssl_certificates(openssl_server, lab_pki, lab_cert, ecdsa_cert, case):
    server = start_openssl(openssl_server, case, ecdsa_cert)
    result = await scan(server, lab_pki, {"protocols", "suites", "certificates"})
    tls = tuple(v for v in case.versions if v >= c.TLS10)
    expected = {der_chain(lab_cert): "RSA"}
    if case.dual:
        expected[der_chain(ecdsa_cert)] = "EC"
    assert {ch.der: ch.key_type for ch in result.certificates} == expected
    for chain in result.certificates:
        assert chain.sni is None  # an IP target sends no SNI
        assert chain.validation is not None and chain.validation.trusted
        # Seen in every version the server speaks, and in no other.
        assert chain.versions == tls


# -- tlslite-ng ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TlsliteCase:
    id: str
    min_version: int
    max_version: int
    cipher_names: tuple[str, ...]

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(v for v in VERSIONS_FIRST if self.min_version <= v <= self.max_version)


TLSLITE_CASES = [
    TlsliteCase("ssl3", c.SSL3, c.SSL3, ("aes128", "aes256", "3des")),
    TlsliteCase("tls10-11", c.TLS10, c.TLS11, ("aes128", "3des")),
    TlsliteCase("ssl3-tls11", c.SSL3, c.TLS11, ("aes256", "aes128")),
]


def tlslite_suites(case: TlsliteCase, version: int, cert) -> list[int]:
    """The suites a tlslite-ng server with a certificate accepts in `version`, in the
    order it picks them: tlslite-ng's own tables for the configured cipher names (the
    same calls TLSConnection._handshakeServerAsyncHelper makes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from tlslite.constants import CipherSuite
        from tlslite.handshakesettings import HandshakeSettings
        from tlslite.x509certchain import X509CertChain

    settings = HandshakeSettings()
    settings.minVersion = (3, case.min_version & 0xFF)
    settings.maxVersion = (3, case.max_version & 0xFF)
    settings.cipherNames = list(case.cipher_names)
    settings = settings.validate()
    v = (3, version & 0xFF)
    suites = (
        CipherSuite.getEcdheCertSuites(settings, v)
        + CipherSuite.getDheCertSuites(settings, v)
        + CipherSuite.getCertSuites(settings, v)
    )
    suites = CipherSuite.filterForVersion(suites, minVersion=v, maxVersion=v)
    chain = X509CertChain()
    chain.parsePemList(cert.fullchain_path.read_text())
    suites = CipherSuite.filter_for_certificate(suites, chain)
    return list(dict.fromkeys(suites))


@pytest.mark.parametrize("case", TLSLITE_CASES, ids=[k.id for k in TLSLITE_CASES])
async def test_tlslite_versions_suites_and_order(tlslite_server, lab_pki, lab_cert, case):
    server = tlslite_server(
        min_version=case.min_version, max_version=case.max_version, cipher_names=case.cipher_names
    )
    expected = {v: tlslite_suites(case, v, lab_cert) for v in case.versions}
    assert all(expected.values())
    result = await scan(server, lab_pki, {"protocols", "suites", "preference"})

    assert set(result.supported_versions()) == set(case.versions)
    found = found_suites(result)
    assert {v: sorted(s) for v, s in found.items()} == {v: sorted(s) for v, s in expected.items()}
    # tlslite-ng always picks by its own order.
    for version, codes in expected.items():
        assert names(preference_order(result, version) or ()) == names(codes)
    assert dict(result.behaviours.server_preference) == {v: True for v in case.versions}
    assert result.anomalies == ()
    assert server.errors == ()


@pytest.mark.parametrize("case", TLSLITE_CASES, ids=[k.id for k in TLSLITE_CASES])
async def test_tlslite_connection_budget(tlslite_server, lab_pki, case):
    server = tlslite_server(
        min_version=case.min_version, max_version=case.max_version, cipher_names=case.cipher_names
    )
    result = await scan(server, lab_pki, {"protocols", "suites"})
    assert result.stats.connections <= len(result.cipher_suites) + 2 * len(VERSIONS_FIRST)


@pytest.mark.parametrize(
    "case", [pytest.param(k, id=k.id) for k in TLSLITE_CASES]
)
async def test_tlslite_certificate(tlslite_server, lab_pki, lab_cert, case):
    server = tlslite_server(
        min_version=case.min_version, max_version=case.max_version, cipher_names=case.cipher_names
    )
    result = await scan(server, lab_pki, {"protocols", "suites", "certificates"})
    assert [(ch.der, ch.key_type) for ch in result.certificates] == [(der_chain(lab_cert), "RSA")]
    (chain,) = result.certificates
    assert chain.validation is not None and chain.validation.trusted
    assert chain.versions == case.versions


# -- A far endpoint: the elimination in partitions (issue 16) ----------------------------------


def far(delay: float):
    """An open_stream that takes ``delay`` seconds more to connect, as a distant endpoint."""
    import trio

    from scanner.engine import open_tcp

    async def open_stream(ip: str, port: int):
        await trio.sleep(delay)
        return await open_tcp(ip, port)

    return open_stream


@pytest.mark.parametrize("case", OPENSSL_CASES[:2], ids=[k.id for k in OPENSSL_CASES[:2]])
async def test_a_far_endpoint_finds_the_same_suites_and_order_in_partitions(openssl_server, lab_pki, ecdsa_cert, case):
    server = start_openssl(openssl_server, case, ecdsa_cert)
    expected = openssl_expected(server, case)
    target = Target(host="127.0.0.1", port=server.port, ip="127.0.0.1")
    opts = replace(options(lab_pki, {"protocols", "suites", "preference"}), verbose=True)
    result = await scan_endpoint(target, opts, open_stream=far(0.030))
    assert result.outcome == "ok", result.detail
    assert_suites_and_order(result, expected, case)
    parts = [p.name for p in result.probes if ", part " in p.name]
    # A server with its own order keeps the one chain (its order is the ranking); one that
    # takes the client's order is eliminated in partitions, per TLS 1.0-1.2 version with
    # enough suites left.
    if case.server_pref:
        assert parts == []
    else:
        assert {n.split(" ")[0] for n in parts} == {"TLSv1.2", "TLSv1.1", "TLSv1.0"}
