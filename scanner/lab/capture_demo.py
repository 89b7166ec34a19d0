# The seed 004 case as a capture, for `tlscompat demo`: the lab's client-cert-rejected server
# (TLS 1.2, a client certificate not valid yet, refused with bad_certificate 42), a
# RecordingRelay in front of it writing both directions into a pcapng, `openssl s_client`
# presenting the certificate through the relay; then `tlscompat explain` of that file.
#
# Rules kept: no root and no capture tool; every step bounded by a timeout; the servers and
# files live in a temporary directory unless the caller names the pcapng.
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import TextIO

from handshakes import constants as c

__all__ = ["record_seed_004"]

_ECDHE_ONLY = "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES"


def record_seed_004(pcapng: Path, *, workdir: Path | None = None) -> None:
    """Run the seed 004 handshake through a recording relay into ``pcapng``."""
    from scanner.capture.record import RecordingRelay
    from scanner.lab.certs import Pki
    from scanner.lab.servers import OpenSSLServer

    with tempfile.TemporaryDirectory() as tmp:
        pki = Pki(Path(workdir or tmp))
        leaf = pki.issue("seed-004-server")
        client = pki.issue_client("seed-004-client", issuer="root", validity="not_yet_valid")
        server = OpenSSLServer(
            cert=leaf, min_version=c.TLS12, max_version=c.TLS12, cipher=_ECDHE_ONLY,
            verify_depth=2, ca_file=pki.root, require_client_cert=True, verify_return_error=True,
        )
        with server, RecordingRelay(server.address, pcapng) as relay:
            argv = [
                "openssl", "s_client", "-connect", f"{relay.address[0]}:{relay.address[1]}",
                "-servername", "localhost", "-cert", str(client.cert_path), "-key", str(client.key_path),
            ]
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                proc.wait(timeout=10)  # the server's alert ends it; stdin stays open meanwhile
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_capture_demo(out: TextIO, pcapng: Path) -> bool:
    """Record seed 004 and explain it; True when the capture shows what the seed shows:
    client_auth.cert_rejected with a fatal bad_certificate (42) after the client's Certificate."""
    from scanner.capture.analyze import analyze
    from scanner.capture.report import connection_text

    record_seed_004(pcapng)
    with pcapng.open("rb") as f:
        reports = list(analyze(f))
    print(f"\n=== capture: seed 004 recorded by the lab into {pcapng}, then `tlscompat explain {pcapng}`", file=out)
    for r in reports:
        print(connection_text(r), file=out)
    ok = len(reports) == 1 and {f.id for f in reports[0].findings} == {"client_auth.cert_rejected"} and any(
        a.description == 42 and a.sender == "server" for a in reports[0].alerts
    )
    print(f"    capture {'matched' if ok else 'DID NOT MATCH'}: expected client_auth.cert_rejected, fatal bad_certificate (42)", file=out)
    return ok
