# The three server-side TLS configurations of Mozilla's guidelines, as ServerPolicy data.
#
# Source: Mozilla, "Security/Server Side TLS", guidelines version 5.7
# (https://wiki.mozilla.org/Security/Server_Side_TLS and
# https://ssl-config.mozilla.org/guidelines/5.7.json): tls_versions, ciphersuites (TLS 1.3),
# ciphers.openssl (TLS <= 1.2), tls_curves, server_preferred_order, certificate_types with
# rsa_key_size / certificate_curves, certificate_signatures and dh_param_size, copied as
# they are there. Suites are written with their OpenSSL names, as the guidelines give them.
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from handshakes import constants as c
from handshakes import registry as reg
from scanner.audit.policy import CertificateRequirement, ServerPolicy

__all__ = ["MOZILLA_POLICIES", "mozilla_policy"]

_SOURCE = "Mozilla Server Side TLS 5.7"

_TLS13 = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")

_INTERMEDIATE_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256",
    "DHE-RSA-AES256-GCM-SHA384",
    "DHE-RSA-CHACHA20-POLY1305",
)

_OLD_CIPHERS = (
    *_INTERMEDIATE_CIPHERS,
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "DHE-RSA-AES128-SHA256",
    "DHE-RSA-AES256-SHA256",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA256",
    "AES256-SHA256",
    "AES128-SHA",
    "AES256-SHA",
    "DES-CBC3-SHA",
)

_CURVES = ("X25519", "prime256v1", "secp384r1")  # tls_curves
_ECDSA = CertificateRequirement(key_type="EC", curves=("secp256r1", "secp384r1"))
_RSA2048 = CertificateRequirement(key_type="RSA", min_bits=2048)


def _suites(names: tuple[str, ...]) -> tuple[int, ...]:
    out = []
    for name in names:
        suite = reg.cipher_suite_by_name(name)
        if suite is None:  # pragma: no cover - guarded by tests/scanner/audit
            raise LookupError(f"Mozilla suite {name} is not in the registry")
        out.append(suite.code)
    return tuple(out)


def _groups(names: tuple[str, ...]) -> tuple[int, ...]:
    by_name = {g.name.lower(): code for code, g in reg.GROUPS.items()}
    by_name["prime256v1"] = 0x0017
    return tuple(by_name[n.lower()] for n in names)


MOZILLA_POLICIES: Mapping[str, ServerPolicy] = MappingProxyType(
    {
        "mozilla-modern": ServerPolicy(
            name="mozilla-modern",
            source=_SOURCE,
            description="Mozilla modern: TLS 1.3 only, for clients from 2019 on",
            min_version=c.TLS13,
            max_version=c.TLS13,
            suites=_suites(_TLS13),
            groups=_groups(_CURVES),
            server_preference=False,
            certificates=(_ECDSA,),
            certificate_signatures=("sha256", "sha384", "sha512"),
            dh_bits=None,
        ),
        "mozilla-intermediate": ServerPolicy(
            name="mozilla-intermediate",
            source=_SOURCE,
            description="Mozilla intermediate: TLS 1.2 and 1.3, AEAD suites with forward secrecy",
            min_version=c.TLS12,
            max_version=c.TLS13,
            suites=_suites(_TLS13 + _INTERMEDIATE_CIPHERS),
            groups=_groups(_CURVES),
            server_preference=False,
            certificates=(_RSA2048, _ECDSA),
            certificate_signatures=("sha256", "sha384", "sha512"),
            dh_bits=2048,  # ffdhe2048 (RFC 7919)
        ),
        "mozilla-old": ServerPolicy(
            name="mozilla-old",
            source=_SOURCE,
            description="Mozilla old: TLS 1.0 to 1.3 with CBC and 3DES suites, for very old clients",
            min_version=c.TLS10,
            max_version=c.TLS13,
            suites=_suites(_TLS13 + _OLD_CIPHERS),
            groups=_groups(_CURVES),
            server_preference=True,
            certificates=(_RSA2048,),
            certificate_signatures=("sha256",),
            dh_bits=1024,
        ),
    }
)


def mozilla_policy(name: str) -> ServerPolicy:
    """"mozilla-modern", "mozilla-intermediate" or "mozilla-old" (also without the prefix)."""
    key = name.strip().lower()
    key = key if key.startswith("mozilla-") else f"mozilla-{key}"
    try:
        return MOZILLA_POLICIES[key]
    except KeyError:
        raise KeyError(
            f"unknown built-in policy {name!r} (known: {', '.join(MOZILLA_POLICIES)})"
        ) from None
