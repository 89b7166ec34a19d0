# Revocation inside a scan (scanner.facts): the issuer comes from the validated path (the
# root of --ca-file when the server sends only its leaf), a body over the cap is the finding
# cert.revocation_unreadable, and a deadline reached during the lookups makes the result
# partial and still says which URLs were asked. CRL and OCSP servers on 127.0.0.1; the CA
# and its leaves are the shared lab_ca fixture (tests/conftest.py).
from __future__ import annotations

from typing import Any

import trio
from cryptography.hazmat.primitives import serialization

from scanner.api import scan_endpoint
from scanner.diagnose import diagnose
from scanner.lab.hostile import Endpoint, HttpServer, tls12_server
from scanner.lab.ocsp import OcspResponder
from scanner.options import Deadlines, ScanOptions, Target
from scanner.revocation import MAX_CRL_BODY
from tests.lab_ca import LabCa

TARGET = Target(host="hostile.test", ip="127.0.0.1", port=443)
PROBES = frozenset({"protocols", "certificates", "revocation"})


def _endpoint(nursery: trio.Nursery, lab_ca: LabCa, *, ocsp_url: str | None = None, crl_url: str | None = None) -> Endpoint:
    """A TLS 1.2 server that sends only its leaf (for hostile.test, signed by the lab CA,
    with these revocation URLs)."""
    leaf = lab_ca.leaf("hostile.test", ocsp_url=ocsp_url, crl_url=crl_url).public_bytes(serialization.Encoding.DER)
    return Endpoint(nursery, tls12_server(chain=lambda conn: (leaf,)))


def _options(lab_ca: LabCa, **kw: Any) -> ScanOptions:
    """The revocation probes, trusting the lab CA's root (--ca-file) and nothing else."""
    return ScanOptions(probes=PROBES, ca_file=lab_ca.pem_path, use_system_store=False, **kw)


async def test_ocsp_is_asked_with_the_root_of_the_ca_file(nursery, lab_ca: LabCa) -> None:
    """The server sends only its leaf: OCSP needs the issuer's hashes (RFC 6960 section
    4.1.1), taken from the root of --ca-file that signed the leaf."""
    with OcspResponder(lab_ca.cert, lab_ca.key) as responder:
        endpoint = _endpoint(nursery, lab_ca, ocsp_url=responder.url)
        options = _options(lab_ca)
        result = await scan_endpoint(TARGET, options, open_stream=endpoint)
        revocation = result.certificates[0].revocation
        assert revocation is not None
        assert (revocation.status, revocation.method) == ("good", "ocsp"), revocation.detail
        assert revocation.urls_tried == (responder.url,)
        assert "issuer certificate not available" not in revocation.detail
        # Without the CA file the issuer is not known: OCSP is not asked, and it says so.
        bare = await scan_endpoint(TARGET, ScanOptions(probes=PROBES, use_system_store=False), open_stream=endpoint)
        revocation = bare.certificates[0].revocation
        assert revocation is not None and revocation.status == "unknown"
        assert "OCSP not asked" in revocation.detail


async def test_crl_too_large_is_a_finding_and_uses_the_issuer(nursery, lab_ca: LabCa) -> None:
    with HttpServer("endless", cap=4 * MAX_CRL_BODY) as crl:
        endpoint = _endpoint(nursery, lab_ca, crl_url=crl.url)
        options = _options(lab_ca)
        result = await scan_endpoint(TARGET, options, open_stream=endpoint)
    revocation = result.certificates[0].revocation
    assert revocation is not None
    assert (revocation.status, revocation.method) == ("unknown", "crl")
    assert revocation.urls_tried == (crl.url,)
    assert revocation.too_large == (
        f"{crl.url} (more than {MAX_CRL_BODY} bytes sent; bodies over 8 MiB are not read)",
    )
    assert "issuer certificate not available" not in revocation.detail
    found = {f.id: f for f in diagnose(result, options)}
    assert "cert.revocation_unreadable" in found
    assert f"too large: {crl.url} (more than {MAX_CRL_BODY} bytes" in found["cert.revocation_unreadable"].evidence
    assert "cert.revocation_unreachable" not in found


async def test_deadline_during_revocation_makes_the_result_partial(nursery, autojump_clock, lab_ca: LabCa) -> None:
    """docs/cli.md, --endpoint-timeout: revocation lookups included; what was found is
    kept, the result is ok and partial, and the URL being asked is named."""
    with HttpServer("blackhole") as crl:
        endpoint = _endpoint(nursery, lab_ca, crl_url=crl.url)
        options = _options(lab_ca, deadlines=Deadlines(endpoint=5, read=5))
        t0 = trio.current_time()
        result = await scan_endpoint(TARGET, options, open_stream=endpoint)
        assert trio.current_time() - t0 == 5
    assert result.outcome == "ok" and result.partial
    assert "before the revocation check finished" in result.detail
    assert any(p.supported for p in result.protocols)
    revocation = result.certificates[0].revocation
    assert revocation is not None
    assert (revocation.status, revocation.method) == ("not_checked", "crl")
    assert revocation.urls_tried == (crl.url,)
    found = {f.id: f for f in diagnose(result, options)}
    assert "revocation check finished" in found["scan.partial"].evidence


async def test_revocation_timeout_names_what_was_tried(nursery, autojump_clock, lab_ca: LabCa) -> None:
    """The revocation check's own limit (2 x the read deadline) passes first: unreachable,
    with the URL asked and its method."""
    with HttpServer("blackhole") as crl:
        endpoint = _endpoint(nursery, lab_ca, crl_url=crl.url)
        options = _options(lab_ca, deadlines=Deadlines(endpoint=60, read=2))
        result = await scan_endpoint(TARGET, options, open_stream=endpoint)
    assert not result.partial
    revocation = result.certificates[0].revocation
    assert revocation is not None
    assert (revocation.status, revocation.method) == ("unreachable", "crl")
    assert revocation.urls_tried == (crl.url,)
    found = {f.id: f for f in diagnose(result, options)}
    assert crl.url in found["cert.revocation_unreachable"].evidence
