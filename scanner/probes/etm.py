# Encrypt-then-MAC (RFC 7366), asked with a hello in which the server can show it (issue
# 11 case 5): a server echoes encrypt_then_mac only when it picks a CBC (block cipher)
# suite (RFC 7366 section 3: with an AEAD or stream cipher it must not), so the default
# probes, which get an AEAD suite, cannot tell. One connection offering only the CBC
# suites the server accepted; none when it accepts no CBC suite ("not applicable"), and
# none when the suite elimination already holds the ServerHello that hello would get
# (seen_in_elimination, issue 16).
from __future__ import annotations

from handshakes import registry as reg
from scanner.engine import Connector, ProbeOutcome
from scanner.probes.hello import HelloFactory
from scanner.probes.suites import VersionScan

# Block ciphers used in CBC mode in TLS 1.0-1.2 suites (the registry's enc names).
_CBC = frozenset({"3DES", "AES", "ARIA", "CAMELLIA", "DES", "IDEA", "SEED", "RC2"})


def cbc_suites(suites: list[int]) -> tuple[int, ...]:
    """The CBC suites among ``suites``, in the same order."""
    return tuple(
        s for s in suites if (info := reg.cipher_suite(s)) is not None and info.enc in _CBC and info.mac != "AEAD"
    )


async def encrypt_then_mac(conn: Connector, hello: HelloFactory, version: int, suites: list[int]) -> ProbeOutcome | None:
    """The outcome of a ``version`` hello offering only the CBC suites among ``suites``
    (the ones the server accepted); None when there is none (not applicable)."""
    cbc = cbc_suites(suites)
    if not cbc:
        return None
    spec = hello.spec(version, cbc[: hello.batch(version)])
    return await conn.probe(
        f"{reg.version_name(version)} encrypt_then_mac (CBC suites only)",
        lambda: hello.probe(spec, read_flight=False),
    )


def seen_in_elimination(scan: VersionScan) -> ProbeOutcome | None:
    """The answer the CBC-only hello would get, when the suite elimination already has it:
    the accepted hello that chose the first CBC suite found (issue 16, one connection
    saved). That hello offered encrypt_then_mac too (every TLS 1.0-1.2 hello of the scan
    does), and it is the suite the CBC-only hello gets: a server with its own order found
    its CBC suites in that order, so its first is the one it prefers; a server that
    follows the client takes the first of the offer, which lists them in the order found.
    RFC 7366 section 3 ties the echo to the chosen suite, not to the rest of the offer.
    None when no such ServerHello was kept (the probe then asks)."""
    cbc = cbc_suites(scan.suites)
    if not cbc:
        return None
    for accepted in scan.accepted:
        sh = accepted.outcome.server_hello
        if accepted.suite == cbc[0] and sh is not None and sh.cipher_suite == cbc[0] and sh.version == scan.version:
            return accepted.outcome
    return None
