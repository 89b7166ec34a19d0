# The command line: parse, build options, call the library, format. No TLS logic here.
# `scan` streams through the fleet runner (scanner/fleet/cli.py), a single host being a
# fleet of one; the other commands live next to their code (audit/, report/, lab/).
#
# Exit codes (docs/cli.md): 0 no finding at or above --fail-on; 1 findings at or above it;
# 2 usage or input error (bad arguments, malformed targets file, unreadable key); 130 Ctrl-C.
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from handshakes import registry as reg
from scanner.exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError
from scanner.options import ALL_PROBES
from scanner.results import SEVERITIES


def _versions(text: str) -> tuple[int, ...]:
    try:
        return tuple(reg.version_from_name(v) for v in text.replace(",", " ").split())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _suites(text: str) -> tuple[int, ...]:
    out = []
    for item in text.replace(",", " ").replace(":", " ").split():
        if item.lower().startswith("0x"):
            out.append(int(item, 16))
            continue
        suite = reg.cipher_suite_by_name(item)
        if suite is None:
            raise argparse.ArgumentTypeError(f"unknown cipher suite {item!r}")
        out.append(suite.code)
    return tuple(out)


def add_scan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="*", help="HOST[:PORT], [IPv6]:PORT, https://HOST:PORT/ or a CIDR range")
    p.add_argument("--ip", help="connect to this address instead of resolving HOST (one target)")
    p.add_argument("--sni", help="server_name to send (default: HOST when it is a name); '' for none")
    p.add_argument("--all-addresses", action="store_true", help="scan every address HOST resolves to")
    p.add_argument("--format", choices=("table", "json", "jsonl", "csv"), default="table")
    p.add_argument("-o", "--output", help="write the report to this file instead of stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="show every probe: offered and answered")
    p.add_argument("--quick", action="store_true", help="versions, certificate and findings only")
    p.add_argument(
        "--probes",
        help=f"comma-separated probes to run (default all: {','.join(ALL_PROBES)})",
    )
    # Defaults of None: an option given here beats a targets file's defaults (docs/fleet.md).
    p.add_argument("--connect-timeout", type=float, default=None, metavar="S", help="default 5")
    p.add_argument("--read-timeout", type=float, default=None, metavar="S", help="default 5")
    p.add_argument("--endpoint-timeout", type=float, default=None, metavar="S", help="default 120")
    p.add_argument("--per-endpoint", type=int, default=None, metavar="N", help="connections at once per endpoint (default 4)")
    p.add_argument("--retries", type=int, default=None, help="retries of a reset or timed-out probe (default 1)")
    p.add_argument("--ca-file", help="PEM bundle of extra trusted roots")
    p.add_argument("--no-system-store", action="store_true", help="trust only --ca-file")
    p.add_argument(
        "--client-versions", type=_versions, default=None,
        help="the versions your clients speak, e.g. 'TLSv1.1,TLSv1.2' (default TLSv1.2,TLSv1.3)",
    )
    p.add_argument("--client-suites", type=_suites, default=None, help="the suites your clients offer")
    p.add_argument(
        "--fail-on", choices=SEVERITIES, default=None,
        help="exit 1 when a finding of this severity or worse is found",
    )
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    from scanner.clientauth.cli import add_arguments as add_client_cert_arguments
    from scanner.fleet.cli import add_fleet_arguments

    add_fleet_arguments(p)
    add_client_cert_arguments(p)


def _load_client_certs(args: argparse.Namespace) -> None:
    """Read the client certificates before any packet is sent (args.client_certs_loaded)."""
    from scanner.clientauth.cli import load_from_args
    from scanner.clientauth.credentials import CredentialError

    try:
        loaded = load_from_args(args)
    except CredentialError as exc:  # which file and why, never the password or the key
        raise UsageError(str(exc)) from None
    if loaded:
        args.client_certs_loaded = tuple(loaded)


def cmd_scan(args: argparse.Namespace) -> int:
    """Every scan streams through the fleet runner: a single host is a fleet of one."""
    from scanner.fleet.cli import run_scan

    _load_client_certs(args)
    return run_scan(args)


def cmd_explain(args: argparse.Namespace) -> int:
    from scanner.explain import explain

    text = " ".join(args.hex) if args.hex else sys.stdin.read()
    if not text.strip():
        raise UsageError("give the record bytes in hex, e.g. tlscompat explain '15 03 01 00 02 02 2A'")
    sys.stdout.write(explain(text).rstrip("\n") + "\n")
    return EXIT_OK


def cmd_lab(args: argparse.Namespace) -> int:
    from scanner.lab.run import run_lab

    return int(run_lab(args))


def cmd_demo(args: argparse.Namespace) -> int:
    from scanner.lab.run import run_demo

    return int(run_demo(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlscompat",
        description="Active TLS compatibility scanner: which handshakes work, which fail, and why.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("scan", help="scan endpoints: versions, suites, groups, certificates, findings")
    add_scan_arguments(p)
    p.set_defaults(func=cmd_scan)
    p = sub.add_parser("explain", help="decode raw TLS record bytes (hex), e.g. an alert from a capture")
    p.add_argument("hex", nargs="*", help="hex bytes; read from stdin when omitted")
    p.set_defaults(func=cmd_explain)
    p = sub.add_parser("lab", help="start the local lab servers that reproduce each failure case")
    p.add_argument("--only", help="comma-separated scenario names")
    p.set_defaults(func=cmd_lab)
    p = sub.add_parser("demo", help="start the lab, scan every endpoint, print the findings, stop")
    p.add_argument("--only", help="comma-separated scenario names")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_demo)
    # The audit (simulate, audit) and report (diff, report) commands.
    from scanner.audit.cli import register as register_audit
    from scanner.report.cli import register as register_report

    register_audit(sub)
    register_report(sub)
    from scanner.fleet.merge import register as register_merge

    register_merge(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"tlscompat: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tlscompat: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
