# What the codec interop tests (test_codec_openssl.py, test_codec_tlslite.py) share: one key
# share pool, generous deadlines, a hello sent through the engine and the answer read back.
from __future__ import annotations

from cryptography.hazmat.primitives.serialization import Encoding

from handshakes import constants as c
from handshakes import events as ev
from handshakes.client_hello import ClientHelloSpec
from handshakes.keyshare import KeySharePool
from handshakes.server_flight import HandshakeProbe
from scanner.engine import ProbeOutcome, run_probe
from scanner.options import ACCEPTED, ALERT, Deadlines

# Generous: s_server serves one connection at a time and the machine may be loaded.
DEADLINES = Deadlines(connect=10.0, read=10.0, endpoint=60.0)

POOL = KeySharePool()


def der_chain(issued) -> tuple[bytes, ...]:
    return tuple(cert.public_bytes(Encoding.DER) for cert in issued.fullchain)


async def probe(server, spec: ClientHelloSpec, **kwargs) -> ProbeOutcome:
    p = HandshakeProbe(spec, key_share_for=POOL.get, **kwargs)
    return await run_probe(p, "127.0.0.1", server.port, deadlines=DEADLINES)


def chosen(out: ProbeOutcome) -> tuple[int, int]:
    assert out.outcome == ACCEPTED, out.describe()
    sh = out.server_hello
    assert sh is not None
    return sh.version, sh.cipher_suite


def assert_alert(out: ProbeOutcome, description: int) -> None:
    assert out.outcome == ALERT, out.describe()
    assert out.alert == ev.Alert(level=c.FATAL, description=description)
