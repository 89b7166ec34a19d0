# The client-certificate options of `tlscompat scan`, and turning them into credentials.
#
# There is deliberately no option taking a password: a password on the command line is
# visible to every local user (ps, /proc) and lands in shell history. It comes from an
# environment variable (--key-password-env VAR) or a prompt (--key-password-prompt).
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the credentials module (cryptography's key loading) only when used
    from scanner.clientauth.credentials import ClientCredential

__all__ = ["add_arguments", "load_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the client-certificate options to the `scan` command's parser."""
    group = parser.add_argument_group(
        "client certificates",
        "Present your client certificates to servers that ask for one, and see which "
        "they accept. Passwords come from an environment variable or a prompt, never "
        "from the command line.",
    )
    group.add_argument(
        "--client-cert", metavar="FILE", action="append", default=[], dest="client_cert",
        help="PEM or DER client certificate, optionally followed by its chain and key "
        "(repeatable)",
    )
    group.add_argument(
        "--client-key", metavar="FILE", action="append", default=[], dest="client_key",
        help="private key of the --client-cert in the same position (repeatable; omit it "
        "when the certificate file holds the key)",
    )
    group.add_argument(
        "--pkcs12", metavar="FILE", action="append", default=[], dest="pkcs12",
        help="PKCS#12 (.p12/.pfx) file with key and certificates, e.g. exported from the "
        "Windows certificate store (repeatable)",
    )
    group.add_argument(
        "--key-password-env", metavar="VAR", dest="key_password_env", default=None,
        help="read the key / PKCS#12 password from environment variable VAR",
    )
    group.add_argument(
        "--key-password-prompt", action="store_true", dest="key_password_prompt",
        help="ask for the key / PKCS#12 password on the terminal",
    )


def load_from_args(args: argparse.Namespace) -> tuple[ClientCredential, ...]:
    """Load every credential the options name, in order (PEM pairs, then PKCS#12).
    Raises CredentialError before any connection is made."""
    from scanner.clientauth.credentials import CredentialError, load_pem, load_pkcs12, password_from

    certs: list[str] = list(getattr(args, "client_cert", None) or [])
    keys: list[str] = list(getattr(args, "client_key", None) or [])
    bundles: list[str] = list(getattr(args, "pkcs12", None) or [])
    env_var = getattr(args, "key_password_env", None)
    prompt = bool(getattr(args, "key_password_prompt", False))
    if len(keys) > len(certs):
        raise CredentialError(
            f"{len(keys)} --client-key options for {len(certs)} --client-cert: each key "
            "pairs with the --client-cert in the same position"
        )
    if not certs and not bundles:
        if env_var or prompt:
            raise CredentialError(
                "--key-password-env / --key-password-prompt given without --client-cert or --pkcs12"
            )
        return ()
    password = password_from(env_var, prompt, what="the client certificate key")
    out: list[ClientCredential] = []
    for i, cert in enumerate(certs):
        key = keys[i] if i < len(keys) else None
        out.append(load_pem(cert, key, password=password))
    for bundle in bundles:
        out.append(load_pkcs12(bundle, password=password))
    labels = [c.label for c in out]
    if len(set(labels)) != len(labels):
        # Reports identify a credential by its file name: keep them apart.
        seen: dict[str, int] = {}
        renamed = []
        from dataclasses import replace

        for cred in out:
            n = seen.get(cred.label, 0) + 1
            seen[cred.label] = n
            renamed.append(cred if n == 1 else replace(cred, label=f"{cred.label} ({n})"))
        out = renamed
    return tuple(out)
