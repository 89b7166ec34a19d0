# Findings about the server's certificates. scanner.x509.validate_chain has already judged
# each chain (ChainValidation.problems, in PROBLEM_CODES order, with a detail line per
# problem); scanner.revocation has asked OCSP/CRL. Here each problem code becomes one
# finding, with evidence quoted from the decoded certificates and the validation.
#
# Which chains count: those the server sent for the scan's own SNI (what the client gets).
# Chains seen only without SNI matter to clients without SNI: sni.required covers them.
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from scanner.diagnose.common import Rule, cert_label, chain_label, leaf, lines, make, names_of, now
from scanner.options import ScanOptions
from scanner.results import ChainResult, EndpointResult, Finding

# Problems that explain why the strict verifier refused a chain (hostname is judged apart).
_TRUST_PROBLEMS = frozenset(
    {
        "untrusted_root", "incomplete_chain", "self_signed", "expired", "not_yet_valid",
        "wrong_usage", "weak_key", "weak_signature", "cn_only",
    }
)


def judged_chains(result: EndpointResult) -> list[ChainResult]:
    """The validated chains sent for the scan's SNI (all validated chains if none was)."""
    validated = [ch for ch in result.certificates if ch.validation is not None]
    mine = [ch for ch in validated if ch.sni == result.sni]
    return mine or validated


def _problem(chain: ChainResult, code: str) -> bool:
    return code in getattr(chain.validation, "problems", ())


def _details(chain: ChainResult, code: str) -> list[str]:
    prefix = f"{code}: "
    return [
        d[len(prefix):]
        for d in getattr(chain.validation, "details", ())
        if isinstance(d, str) and d.startswith(prefix)
    ]


def _with_subject(chain: ChainResult, text: str) -> str:
    """x509's details say "leaf ..."; name the leaf."""
    info = leaf(chain)
    if info is not None and text.startswith("leaf "):
        return f"leaf {info.subject!r} " + text[len("leaf "):]
    return text


def _each(
    result: EndpointResult,
    code: str,
    describe: Callable[[ChainResult], list[str]],
    keep: Callable[[ChainResult], bool] = lambda ch: True,
) -> Iterator[str]:
    """Evidence lines for every judged chain with `code`, labelled when there are several."""
    chains = [ch for ch in judged_chains(result) if _problem(ch, code) and keep(ch)]
    for ch in chains:
        texts = describe(ch) or [_with_subject(ch, d) for d in _details(ch, code)] or [code]
        for t in texts:
            yield f"{chain_label(ch, result)}: {t}" if len(chains) > 1 else t


def _date(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _sent(chain: ChainResult) -> str:
    parts = []
    for info in chain.certificates:
        if info is not None:
            parts.append(f"{info.subject!r} issued by {info.issuer!r}")
    return "certificates sent: " + "; ".join(parts) if parts else ""


def untrusted_root(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain has "untrusted_root" and its leaf is not self-signed (a self-signed
    leaf is reported once, as cert.self_signed). Quotes where the chain ends, what was
    sent and which trust store was used."""

    def describe(ch: ChainResult) -> list[str]:
        return [*(_details(ch, "untrusted_root")), _sent(ch)]

    def keep(ch: ChainResult) -> bool:
        return not getattr(leaf(ch), "self_signed", False)

    if not any(_problem(ch, "untrusted_root") and keep(ch) for ch in judged_chains(result)):
        return None
    sources = [options.ca_file] if options.ca_file else []
    if options.use_system_store:
        sources.append("the system store")
    store = "trust store: " + (" and ".join(sources) or "empty (no CA file, system store off)")
    return make(
        "cert.untrusted_root", lines([*_each(result, "untrusted_root", describe, keep), store])
    )


def self_signed(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain has "self_signed" (the leaf is signed by its own key). Severity high
    when the chain does not reach the trust store, low when the trust store holds the
    certificate (ChainValidation.trusted, or "self_signed" among its webpki_deviations)."""
    chains = [ch for ch in judged_chains(result) if _problem(ch, "self_signed")]
    if not chains:
        return None

    def describe(ch: ChainResult) -> list[str]:
        info = leaf(ch)
        if info is None:
            return []
        text = f"the leaf {cert_label(info)} is issued by itself and signed by its own key"
        if getattr(ch.validation, "trusted", False):
            return [text + "; the trust store holds it"]
        if _in_store(ch):
            return [
                text + "; the trust store holds it (clients that trust it directly, such as "
                "OpenSSL or a Windows Trusted Root entry, accept it; WebPKI verifiers refuse a "
                "self-signed leaf)"
            ]
        return [text + "; it is not in the trust store"]

    untrusted = any(not _in_store(ch) for ch in chains)
    return make(
        "cert.self_signed",
        lines(_each(result, "self_signed", describe)),
        severity="high" if untrusted else "low",
    )


def _in_store(ch: ChainResult) -> bool:
    """The chain reaches the trust store (strictly, or only for lenient clients)."""
    v = ch.validation
    return bool(getattr(v, "trusted", False)) or "self_signed" in getattr(v, "webpki_deviations", ())


def incomplete_chain(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain has "incomplete_chain": an issuer was neither sent nor in the trust
    store. Names the missing issuer and the AIA caIssuers URL when the certificates give
    one."""

    def describe(ch: ChainResult) -> list[str]:
        v = ch.validation
        missing = getattr(v, "missing_issuer", None)
        url = getattr(v, "missing_issuer_url", None)
        out = []
        if missing:
            out.append(f"missing issuer {missing!r}")
        out.append(
            f"its certificate can be downloaded from {url} (AIA caIssuers)"
            if url
            else "the certificates give no caIssuers (AIA) URL"
        )
        out.extend(_details(ch, "incomplete_chain"))
        out.append(_sent(ch))
        return out

    if not any(_problem(ch, "incomplete_chain") for ch in judged_chains(result)):
        return None
    return make("cert.incomplete_chain", lines(_each(result, "incomplete_chain", describe)))


def hostname_mismatch(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain has "hostname_mismatch". Quotes the name asked for against the
    leaf's SANs (or CN when it has no SAN)."""

    def describe(ch: ChainResult) -> list[str]:
        info = leaf(ch)
        asked = getattr(ch.validation, "hostname", None) or result.sni or result.host
        if info is None:
            return [f"the client asked for {asked!r}", *_details(ch, "hostname_mismatch")]
        return [f"the client asked for {asked!r}; the leaf {info.subject!r} holds {names_of(info)}"]

    if not any(_problem(ch, "hostname_mismatch") for ch in judged_chains(result)):
        return None
    return make("cert.hostname_mismatch", lines(_each(result, "hostname_mismatch", describe)))


def _dated(code: str, result: EndpointResult, options: ScanOptions) -> Finding | None:
    when = now(options)

    def describe(ch: ChainResult) -> list[str]:
        out = []
        for i, info in enumerate(ch.certificates):
            if info is None:
                continue
            who = "leaf" if i == 0 else f"certificate #{i}"
            if code == "expired" and info.not_after < when:
                days = (when - info.not_after).days
                out.append(
                    f"{who} {info.subject!r} expired on {_date(info.not_after)} "
                    f"({days} day(s) before {_date(when)}); valid from {_date(info.not_before)}"
                )
            if code == "not_yet_valid" and info.not_before > when:
                days = (info.not_before - when).days
                out.append(
                    f"{who} {info.subject!r} is valid from {_date(info.not_before)} "
                    f"({days} day(s) after {_date(when)}) to {_date(info.not_after)}"
                )
        # Certificates from the trust store (an expired root) are only in the details.
        if not out:
            out = [_with_subject(ch, d) for d in _details(ch, code)]
        return out

    if not any(_problem(ch, code) for ch in judged_chains(result)):
        return None
    return make(f"cert.{code}", lines(_each(result, code, describe)))


def expired(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain has "expired". Quotes each expired certificate's subject, notAfter
    and the days since, at the scan time (options.now or the current time)."""
    return _dated("expired", result, options)


def not_yet_valid(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain has "not_yet_valid". Quotes notBefore and the days until it."""
    return _dated("not_yet_valid", result, options)


def wrong_usage(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain has "wrong_usage". Quotes x509's reason and the leaf's usages."""

    def describe(ch: ChainResult) -> list[str]:
        out = [_with_subject(ch, d) for d in _details(ch, "wrong_usage")]
        info = leaf(ch)
        if info is not None:
            eku = ", ".join(info.extended_key_usage) if info.has_eku else "none (any purpose)"
            ku = ", ".join(info.key_usage) or "none"
            out.append(f"leaf {info.subject!r}: extendedKeyUsage {eku}; keyUsage {ku}")
        return out

    if not any(_problem(ch, "wrong_usage") for ch in judged_chains(result)):
        return None
    return make("cert.wrong_usage", lines(_each(result, "wrong_usage", describe)))


def _from_details(code: str) -> Callable[[EndpointResult, ScanOptions], Finding | None]:
    def rule(result: EndpointResult, options: ScanOptions) -> Finding | None:
        if not any(_problem(ch, code) for ch in judged_chains(result)):
            return None
        return make(f"cert.{code}", lines(_each(result, code, lambda ch: [])))

    return rule


def weak_key(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain has "weak_key" (RSA/DSA below 2048 bits, EC below 224). Quotes the
    certificate and its key size as x509 recorded them."""
    return _from_details("weak_key")(result, options)


def weak_signature(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain has "weak_signature" (SHA-1, MD5, MD2 on a non-root certificate)."""
    return _from_details("weak_signature")(result, options)


def cn_only(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain has "cn_only": the leaf has no subjectAltName."""

    def describe(ch: ChainResult) -> list[str]:
        info = leaf(ch)
        details = _details(ch, "cn_only")
        if info is None:
            return details
        return [f"leaf {info.subject!r}: {names_of(info)}", *details]

    if not any(_problem(ch, "cn_only") for ch in judged_chains(result)):
        return None
    return make("cert.cn_only", lines(_each(result, "cn_only", describe)))


def chain_order(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain has "chain_order". Quotes the order sent."""

    def describe(ch: ChainResult) -> list[str]:
        return [*_details(ch, "chain_order"), _sent(ch)]

    if not any(_problem(ch, "chain_order") for ch in judged_chains(result)):
        return None
    return make("cert.chain_order", lines(_each(result, "chain_order", describe)))


def extra_certs(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain has "extra_certs" (duplicates, certificates off the path)."""
    return _from_details("extra_certs")(result, options)


def invalid(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain is not trusted and none of its problems explains why (the strict
    verifier's own message is the evidence)."""
    parts = []
    chains = judged_chains(result)
    for ch in chains:
        v = ch.validation
        if getattr(v, "trusted", True) or set(getattr(v, "problems", ())) & _TRUST_PROBLEMS:
            continue
        text = f"the verifier says: {getattr(v, 'error', None) or 'not trusted'}"
        parts.append(f"{chain_label(ch, result)}: {text}" if len(chains) > 1 else text)
    if not parts:
        return None
    return make("cert.invalid", lines(parts))


def webpki_deviation(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A judged chain is trusted under RFC 5280 (a root of the CA file) but the strict
    WebPKI verifier refuses it for a rule no other finding covers
    (ChainValidation.webpki_rules, with "policy" among its webpki_deviations). Names each
    rule and the certificate that breaks it."""
    parts = []
    chains = judged_chains(result)
    for ch in chains:
        v = ch.validation
        rules = tuple(getattr(v, "webpki_rules", ()) or ())
        if not (getattr(v, "trusted", False) and rules and "policy" in getattr(v, "webpki_deviations", ())):
            continue
        for rule in rules:
            text = f"{rule}; trusted by RFC 5280 path validation (root from --ca-file), refused by strict WebPKI verifiers"
            parts.append(f"{chain_label(ch, result)}: {text}" if len(chains) > 1 else text)
    if not parts:
        return None
    return make("cert.webpki_deviation", lines(parts))


def _revocations(result: EndpointResult, status: str) -> list[tuple[ChainResult, Any]]:
    return [
        (ch, ch.revocation)
        for ch in result.certificates
        if ch.revocation is not None and getattr(ch.revocation, "status", None) == status
    ]


def revoked(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A chain's RevocationResult.status is "revoked". Quotes how it was learnt, when and
    why it was revoked."""
    found = _revocations(result, "revoked")
    if not found:
        return None
    parts = []
    for ch, r in found:
        info = leaf(ch)
        who = f"leaf {info.subject!r} (serial {info.serial})" if info is not None else "the leaf"
        text = f"{who} is revoked according to {getattr(r, 'method', '') or 'the CA'}"
        when = getattr(r, "revoked_at", None)
        if when is not None:
            text += f", since {_date(when) if isinstance(when, datetime) else when}"
        reason = getattr(r, "reason", None)
        if reason:
            text += f", reason {reason}"
        detail = getattr(r, "detail", "")
        parts.append(text + (f" ({detail})" if detail else ""))
    return make("cert.revoked", lines(parts))


def revocation_unreachable(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A chain's RevocationResult.status is "unreachable": every OCSP responder and CRL
    distribution point tried failed. Lists the URLs tried (or, when none is recorded, the
    URLs the leaf names)."""
    found = _revocations(result, "unreachable")
    if not found:
        return None
    parts = []
    for ch, r in found:
        urls = tuple(getattr(r, "urls_tried", ()) or ())
        info = leaf(ch)
        if not urls and info is not None:
            urls = (*info.ocsp_urls, *info.crl_urls)
        text = "revocation servers that failed: " + (", ".join(urls) if urls else "none named")
        detail = getattr(r, "detail", "")
        if detail:
            text += f" ({detail})"
        if info is not None:
            text = f"leaf {info.subject!r}: " + text
        parts.append(text)
    return make("cert.revocation_unreachable", lines(parts))


def revocation_unreadable(result: EndpointResult, options: ScanOptions) -> Finding | None:
    """A chain's RevocationResult names URLs in ``too_large``: a CRL or OCSP body over the
    cap, so the revocation status could not be read. Quotes each URL with the size seen."""
    parts = []
    for ch in result.certificates:
        r = ch.revocation
        big = tuple(getattr(r, "too_large", ()) or ())
        if not big or getattr(r, "status", None) in ("good", "revoked"):
            continue
        info = leaf(ch)
        text = "revocation could not be read, too large: " + ", ".join(big)
        parts.append(f"leaf {info.subject!r}: " + text if info is not None else text)
    if not parts:
        return None
    return make("cert.revocation_unreadable", lines(parts))


# finding id -> the one function that decides it.
RULES: dict[str, Rule] = {
    "cert.untrusted_root": untrusted_root,
    "cert.self_signed": self_signed,
    "cert.incomplete_chain": incomplete_chain,
    "cert.hostname_mismatch": hostname_mismatch,
    "cert.expired": expired,
    "cert.not_yet_valid": not_yet_valid,
    "cert.wrong_usage": wrong_usage,
    "cert.weak_key": weak_key,
    "cert.weak_signature": weak_signature,
    "cert.cn_only": cn_only,
    "cert.chain_order": chain_order,
    "cert.extra_certs": extra_certs,
    "cert.invalid": invalid,
    "cert.webpki_deviation": webpki_deviation,
    "cert.revoked": revoked,
    "cert.revocation_unreachable": revocation_unreachable,
    "cert.revocation_unreadable": revocation_unreadable,
}
