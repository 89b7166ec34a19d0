# The lab CA the revocation tests share (tests/scanner/test_revocation.py,
# tests/hostile/test_revocation_in_scan.py): the root of the session's lab_pki
# (scanner.lab.certs.Pki) and leaves it signs directly, issued by Pki, not by hand.
# The fixture `lab_ca` (tests/conftest.py) makes one a session.
from __future__ import annotations

from itertools import count

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from scanner.lab.certs import KeyType, Pki


class LabCa:
    """A lab root CA (scanner.lab.certs.Pki) and the leaves it signs
    directly: what the revocation tests need. ``cert``/``key``/``der``: the CA (for an
    OcspResponder, as the issuer a check is given); ``pem_path``: its PEM file (--ca-file)."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.cert = pki.root.cert
        self.key = pki.root.key
        self.der = self.cert.public_bytes(serialization.Encoding.DER)
        self.pem_path = str(pki.ca_path)
        self._names = count()

    def leaf(self, host: str = "revoked.test", *, ocsp_url: str | None = None, crl_url: str | None = None) -> x509.Certificate:
        """A new leaf for ``host`` (its SAN and CN) signed by the CA, with an OCSP URL
        (AIA, RFC 5280 section 4.2.2.1) and a CRL distribution point when given."""
        issued = self.pki.issue(
            f"revocation-leaf-{next(self._names)}", sans=(host,), key=KeyType.ECDSA_P256, issuer="root",
            ocsp_url=ocsp_url, crl_url=crl_url,
        )
        return issued.cert
