# Client credentials: the certificate chain and private key a user gives the scanner to
# present when a server asks for a client certificate.
#
# Rules kept:
# - Everything is checked here, before any packet is sent: an unreadable file, garbage,
#   a wrong password, or a key that does not belong to the certificate raise
#   CredentialError naming the FILE (never the password, never key material).
# - The private key lives in a PrivateKeyHandle whose repr/str say only its type, so no
#   repr(), log line, f-string or JSON dump of a ClientCredential can show it.
# - Passwords come from an environment variable or an interactive prompt, never from the
#   command line (which other local users can read in the process list).
from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

__all__ = [
    "ClientCredential",
    "CredentialError",
    "PrivateKeyHandle",
    "load_pem",
    "load_pkcs12",
    "password_from",
]


class CredentialError(ValueError):
    """A client certificate or key the user named cannot be used (the message says which
    file and why; it never contains the password or key material)."""


class PrivateKeyHandle:
    """A private key that will not show itself: repr/str name only the key type, and it
    refuses to be pickled. ``pem()`` gives the unencrypted PKCS#8 PEM for the handshake."""

    __slots__ = ("_key",)

    def __init__(self, key: Any) -> None:
        self._key = key

    @property
    def key(self) -> Any:
        return self._key

    def pem(self) -> bytes:
        data: bytes = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return data

    def public_der(self) -> bytes:
        data: bytes = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return data

    def __repr__(self) -> str:
        return f"<private key {key_type_name(self._key)}, hidden>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a private key handle cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return id(self)


def key_type_name(key: Any) -> str:
    """RSA / EC / Ed25519 / Ed448 / DSA for a private or public key object."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "EC"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPrivateKey | dsa.DSAPublicKey):
        return "DSA"
    return "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientCredential:
    """One client certificate, ready to present.

    ``label`` is the file name the user gave (what reports show); ``chain_der`` the
    certificates to send, leaf first, as found in the file; ``private_key`` a
    PrivateKeyHandle (hidden from repr, str and JSON).
    """

    label: str
    chain_der: tuple[bytes, ...]
    subject: str
    issuer: str
    key_type: str
    private_key: PrivateKeyHandle = field(repr=False, compare=False)

    @property
    def leaf_der(self) -> bytes:
        return self.chain_der[0]


# -- passwords -------------------------------------------------------------------------


def password_from(env_var: str | None, prompt: bool, *, what: str = "the client key") -> bytes | None:
    """The key password: from environment variable ``env_var``, else asked on the
    terminal when ``prompt``, else None. Raises CredentialError when ``env_var`` is
    named but not set."""
    if env_var:
        value = os.environ.get(env_var)
        if value is None:
            raise CredentialError(
                f"environment variable {env_var} (named by --key-password-env) is not set"
            )
        return value.encode()
    if prompt:
        try:
            return getpass.getpass(f"Password for {what}: ").encode()
        except (EOFError, KeyboardInterrupt) as exc:
            raise CredentialError(f"no password entered for {what}") from exc
    return None


# -- loaders ---------------------------------------------------------------------------

_KEY_BLOCK = re.compile(
    rb"-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----.*?-----END \1-----", re.S
)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CredentialError(f"{what} file {path} does not exist") from None
    except IsADirectoryError:
        raise CredentialError(f"{what} file {path} is a directory") from None
    except OSError as exc:
        raise CredentialError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None


def _certificates(data: bytes, path: Path) -> list[x509.Certificate]:
    if b"-----BEGIN" in data:
        if b"CERTIFICATE-----" not in data:
            raise CredentialError(f"no certificate in {path} (it holds PEM, but no CERTIFICATE block)")
        try:
            return x509.load_pem_x509_certificates(data)
        except ValueError:
            raise CredentialError(f"{path} holds a CERTIFICATE block that cannot be decoded") from None
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise CredentialError(f"no certificate in {path}: neither PEM nor DER") from None


def _private_key(data: bytes, path: Path, password: bytes | None) -> Any:
    """The one private key in ``data`` (PEM block anywhere in the file, or DER)."""
    match = _KEY_BLOCK.search(data)
    encrypted = False
    try:
        if match is not None:
            encrypted = match.group(1) == b"ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in match.group(0)
            return serialization.load_pem_private_key(match.group(0), password if encrypted else None)
        if b"-----BEGIN" in data:
            raise CredentialError(f"no private key in {path} (no PRIVATE KEY block)")
        try:
            return serialization.load_der_private_key(data, None)
        except TypeError:
            encrypted = True
            return serialization.load_der_private_key(data, password)
    except TypeError:
        # cryptography: "Password was not given but private key is encrypted"
        raise CredentialError(
            f"the private key in {path} is encrypted: give its password with "
            "--key-password-env VAR or --key-password-prompt"
        ) from None
    except ValueError:
        if encrypted and password is not None:
            raise CredentialError(
                f"cannot decrypt the private key in {path}: wrong password"
            ) from None
        raise CredentialError(f"the private key in {path} cannot be read (corrupt or not a key)") from None
    except CredentialError:
        raise
    except Exception as exc:  # unsupported algorithm and friends
        raise CredentialError(f"the private key in {path} cannot be used: {type(exc).__name__}") from None


def _public_der(obj: Any) -> bytes:
    data: bytes = obj.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


def _order_chain(leaf: x509.Certificate, others: list[x509.Certificate]) -> list[x509.Certificate]:
    """Leaf first, then each issuer in turn as far as the file holds them; certificates
    that are not on the leaf's path follow in file order (we send what the user gave)."""
    path = [leaf]
    rest = [c for c in others if c is not leaf]
    while True:
        current = path[-1]
        if current.issuer == current.subject:
            break
        nxt = next((c for c in rest if c.subject == current.issuer), None)
        if nxt is None:
            break
        path.append(nxt)
        rest.remove(nxt)
    return path + rest


def _credential(label: str, leaf: x509.Certificate, chain: list[x509.Certificate], key: Any) -> ClientCredential:
    return ClientCredential(
        label=label,
        chain_der=tuple(c.public_bytes(serialization.Encoding.DER) for c in chain),
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        key_type=key_type_name(key),
        private_key=PrivateKeyHandle(key),
    )


def load_pem(
    cert_path: str | os.PathLike[str],
    key_path: str | os.PathLike[str] | None = None,
    *,
    password: bytes | None,
) -> ClientCredential:
    """Load a certificate (the file may hold the chain, and the key) and its private key
    (``key_path``, or the certificate file itself when None). PEM or DER. The key must
    match one certificate of the file, which becomes the leaf. Raises CredentialError."""
    cpath = Path(cert_path)
    cdata = _read(cpath, "certificate")
    certs = _certificates(cdata, cpath)
    if key_path is None:
        if _KEY_BLOCK.search(cdata) is None:
            raise CredentialError(
                f"{cpath} holds no private key: give the key file with --client-key"
            )
        kpath, kdata = cpath, cdata
    else:
        kpath = Path(key_path)
        kdata = _read(kpath, "private key")
    key = _private_key(kdata, kpath, password)
    public = _public_der(key.public_key())
    leaf = next((c for c in certs if _public_der(c.public_key()) == public), None)
    if leaf is None:
        where = "it" if kpath == cpath else str(cpath)
        raise CredentialError(
            f"the private key in {kpath} does not match the certificate in {where}"
            + (f" (none of its {len(certs)} certificates)" if len(certs) > 1 else "")
        )
    return _credential(cpath.name, leaf, _order_chain(leaf, certs), key)


def load_pkcs12(path: str | os.PathLike[str], *, password: bytes | None) -> ClientCredential:
    """Load a PKCS#12 (.p12/.pfx) file, as exported from a Windows certificate store with
    its private key: key, certificate and the chain it holds. Raises CredentialError."""
    ppath = Path(path)
    data = _read(ppath, "PKCS#12")
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        if password is None:
            raise CredentialError(
                f"cannot open {ppath}: it is not a PKCS#12 file, or it needs a password "
                "(--key-password-env VAR or --key-password-prompt)"
            ) from None
        raise CredentialError(
            f"cannot open {ppath}: wrong password, or not a PKCS#12 file"
        ) from None
    except TypeError:
        raise CredentialError(f"cannot open {ppath}: it needs a password") from None
    except Exception as exc:
        raise CredentialError(f"cannot open {ppath}: {type(exc).__name__}") from None
    if cert is None:
        raise CredentialError(f"{ppath} holds no certificate")
    if key is None:
        raise CredentialError(
            f"{ppath} holds no private key (export it from the certificate store "
            "with 'Yes, export the private key')"
        )
    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        raise CredentialError(f"the private key in {ppath} does not match its certificate")
    return _credential(ppath.name, cert, _order_chain(cert, [cert, *extra]), key)
