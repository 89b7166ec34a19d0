# A client-compatibility matrix cell for an endpoint that requires a client certificate
# says "needs a client certificate", not that the browser connects (issue 14, section 3).
from __future__ import annotations

from scanner.compare import client_outcomes, select_profiles
from scanner.report.diff import cell_state, cell_text


def _endpoint(mode: str) -> dict:
    return {
        "host": "a.example", "port": 443, "outcome": "ok",
        "protocols": [{"version": "TLSv1.3", "supported": True}, {"version": "TLSv1.2", "supported": True}],
        "cipher_suites": [
            {"version": "TLSv1.3", "code": "0x1301", "group": "x25519"},
            {"version": "TLSv1.2", "code": "0xC02F", "group": "x25519"},
        ],
        "groups": [{"version": "TLSv1.3", "code": "0x001D"}, {"version": "TLSv1.2", "code": "0x001D"}],
        "certificates": [{"sni": "a.example", "key_type": "RSA", "certificates": [
            {"key_type": "RSA", "key_bits": 2048, "signature_hash": "sha256"}]}],
        "client_auth": [{"version": "TLSv1.3", "mode": mode}, {"version": "TLSv1.2", "mode": mode}],
    }


def test_required_client_certificate_marks_the_cells() -> None:
    profiles = select_profiles("current")
    (required,) = client_outcomes([_endpoint("required")], profiles)
    (optional,) = client_outcomes([_endpoint("optional")], profiles)
    assert any(s.ok for s in optional.values())
    assert not any(s.ok for s in required.values())
    texts = {cell_text(cell_state(None, s), None, s) for s in required.values() if s.reason_code == "client_cert_required"}
    assert texts == {"needs a client certificate"}
