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
from typing import Any, BinaryIO, cast

from scanner import cli_common as cc
from scanner.exits import EXIT_OK, UsageError
from scanner.options import ALL_PROBES, SEVERITIES, STARTTLS_PROTOCOLS


def _versions(text: str) -> tuple[int, ...]:
    from handshakes import registry as reg

    try:
        return tuple(reg.version_from_name(v) for v in text.replace(",", " ").split())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _suites(text: str) -> tuple[int, ...]:
    from handshakes import registry as reg

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
    p.add_argument("--ip", type=cc.ip_address, help="connect to this address instead of resolving HOST (one target)")
    p.add_argument("--sni", type=cc.server_name, help="server_name to send (default: HOST when it is a name); '' for none")
    p.add_argument("--all-addresses", action="store_true", help="scan every address HOST resolves to")
    p.add_argument(
        "--format", choices=("table", "json", "jsonl", "csv"), default="table",
        help="table for people (default); json (one document), jsonl (a line per endpoint, "
        "written as each finishes), csv (a row per endpoint) for machines",
    )
    p.add_argument("-o", "--output", help="write the report to this file instead of stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="show every probe: offered and answered")
    p.add_argument("--quick", action="store_true", help="versions, certificate and findings only")
    p.add_argument(
        "--probes",
        help=f"comma-separated probes to run (default all: {','.join(ALL_PROBES)}; also tolerance-full)",
    )
    # Defaults of None: an option given here beats a targets file's defaults (docs/fleet.md).
    p.add_argument("--connect-timeout", type=cc.seconds, default=None, metavar="S", help="default 5")
    p.add_argument("--read-timeout", type=cc.seconds, default=None, metavar="S", help="default 5")
    p.add_argument("--endpoint-timeout", type=cc.seconds, default=None, metavar="S", help="default 120")
    p.add_argument("--per-endpoint", type=cc.count(1), default=None, metavar="N", help="connections at once per endpoint (default 4)")
    p.add_argument("--retries", type=cc.count(0), default=None, metavar="N", help="retries of a reset or timed-out probe (default 1)")
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
    p.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto",
        help="colour the tables: auto (on a terminal, unless NO_COLOR is set), always, never",
    )
    # The pre-TLS dialogues (scanner/starttls.py, docs/starttls.md).
    p.add_argument(
        "--starttls", choices=(*STARTTLS_PROTOCOLS, "none"), default=None, metavar="PROTO",
        help="speak PROTO before TLS (" + ", ".join(STARTTLS_PROTOCOLS) + "); "
        "'none': plain TLS even on a well-known STARTTLS port (default: by URL scheme or port)",
    )
    p.add_argument("--starttls-timeout", type=cc.seconds, default=None, metavar="S", help="deadline of the dialogue before TLS, per connection (default 15)")
    p.add_argument("--starttls-per-endpoint", type=cc.count(1), default=None, metavar="N", help="connections at once per STARTTLS endpoint (default 2 for SMTP/LMTP, else --per-endpoint)")
    p.add_argument("--xmpp-domain", type=cc.server_name, default=None, metavar="NAME", help="the XMPP domain to open the stream to (default: the SNI / host name)")
    from scanner.clientauth.cli import add_arguments as add_client_cert_arguments
    from scanner.fleet.cli import add_fleet_arguments

    add_fleet_arguments(p)
    add_client_cert_arguments(p)


def _load_client_certs(args: argparse.Namespace) -> None:
    """Read the client certificates before any packet is sent (args.client_certs_loaded)."""
    names = ("client_cert", "client_key", "pkcs12", "key_password_env", "key_password_prompt")
    if not any(getattr(args, n, None) for n in names):
        return  # nothing to load: the credentials code is not even imported
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
    from scanner.fleet.run import tune_gc

    _load_client_certs(args)
    tune_gc()
    return run_scan(args)


def _looks_like_path(arg: str) -> bool:
    """Is this single explain argument meant as a file name (a separator, or a name with an
    extension), and not hex text?"""
    import os
    import re

    from scanner.explain import parse_hex

    if os.path.isdir(arg):
        return True
    if not ("/" in arg or "\\" in arg or re.search(r"\.[A-Za-z][A-Za-z0-9]{0,9}$", arg)):
        return False
    try:
        parse_hex(arg)
    except ValueError:
        return True
    return False


def _capture_source(args: argparse.Namespace) -> BinaryIO | None:
    """The capture to read, when the input is one: a single existing file argument, or
    stdin ("-" or no argument) starting with a pcap/pcapng magic number. None: hex text."""
    import os

    from scanner.capture.packets import is_capture

    if len(args.hex) == 1 and args.hex[0] != "-" and os.path.isfile(args.hex[0]):
        args.source = args.hex[0]
        try:
            f = open(args.hex[0], "rb")  # noqa: SIM115 - closed by cmd_explain
        except OSError as exc:
            raise UsageError(f"{args.hex[0]}: {exc.strerror or exc}") from None
        head = f.peek(4)[:4]
        if head and not is_capture(head):
            # Not a capture: a file of hex text (a saved hex dump) is explained as hex.
            from scanner.explain import parse_hex

            with f:
                text = f.read(1 << 20).decode("utf-8", "replace")
            try:
                parse_hex(text)
            except ValueError:
                raise UsageError(
                    f"{args.hex[0]}: neither a pcap/pcapng capture nor hex text (it starts with {head.hex(' ')})"
                ) from None
            args.hex = [text]
            return None
        return f
    if len(args.hex) == 1 and args.hex[0] != "-" and _looks_like_path(args.hex[0]):
        # A file name that is not a file: say so rather than "not hex".
        what = "is a directory" if os.path.isdir(args.hex[0]) else "no such file"
        raise UsageError(f"{args.hex[0]}: {what} (give a pcap/pcapng capture file, or the record bytes in hex)")
    if args.hex and args.hex != ["-"]:
        return None
    args.source = "-"
    stdin: Any = getattr(sys.stdin, "buffer", None)
    if stdin is not None and hasattr(stdin, "peek") and is_capture(stdin.peek(4)[:4]):
        return cast(BinaryIO, stdin)
    return None


def cmd_explain(args: argparse.Namespace) -> int:
    from scanner.explain import explain, parse_hex
    from scanner.report.terminal import style_for

    capture = _capture_source(args)
    if capture is not None:
        from scanner.capture.cli import explain_capture

        style = style_for(sys.stdout, args.color)  # --color and NO_COLOR, as in every command
        try:
            return explain_capture(args, capture, severity=style.severity, wrap=style.wrap_text)
        finally:
            if capture is not getattr(sys.stdin, "buffer", None):
                capture.close()
    if args.keylog:
        raise UsageError("--keylog applies to a capture file (pcap or pcapng), not to hex")
    if args.hex == ["-"]:
        args.hex = []
    if args.hex:
        text = " ".join(args.hex)
    elif hasattr(sys.stdin, "buffer"):
        text = sys.stdin.buffer.read().decode("utf-8", "replace")
    else:
        text = sys.stdin.read()
    if not text.strip():
        raise UsageError("give the record bytes in hex, e.g. tlscompat explain '15 03 01 00 02 02 2A', or a capture file")
    try:
        parse_hex(text)
    except ValueError as exc:
        raise UsageError(f"the input is not hex (nor a capture file): {exc}") from None
    # On a terminal, long lines wrap between words (a hex dump line is one word: whole).
    style = style_for(sys.stdout, args.color)
    sys.stdout.write(style.wrap_text(explain(text).rstrip("\n")) + "\n")
    return EXIT_OK


def cmd_lab(args: argparse.Namespace) -> int:
    from scanner.lab.run import run_lab

    return int(run_lab(args))


def cmd_demo(args: argparse.Namespace) -> int:
    from scanner.lab.run import run_demo

    return int(run_demo(args))


# Every subcommand, with its one-line help and two examples for the end of its --help.
COMMANDS: dict[str, tuple[str, tuple[str, str]]] = {
    "scan": (
        "scan endpoints: versions, suites, groups, certificates, vulnerabilities, findings",
        ("tlscompat scan example.com:443 --fail-on high",
         "tlscompat scan -f targets.yaml --format jsonl -o scan.jsonl"),
    ),
    "explain": (
        "explain a capture (pcap/pcapng: every TLS connection diagnosed) or raw TLS bytes in hex",
        ("tlscompat explain capture.pcapng --keylog keys.log", "tlscompat explain '15 03 01 00 02 02 2A'"),
    ),
    "lab": (
        "start the local lab servers that reproduce each failure case",
        ("tlscompat lab", "tlscompat lab --only expired,self-signed"),
    ),
    "demo": (
        "start the lab, scan every endpoint, print the findings, stop",
        ("tlscompat demo", "tlscompat demo --only expired -v"),
    ),
    "simulate": (
        "send real clients' ClientHellos to a server: what each negotiates, or why it fails",
        ("tlscompat simulate example.com:443", "tlscompat simulate example.com --profile current --format json"),
    ),
    "audit": (
        "what-if: which clients a server policy loses, compliance, client policies (offline)",
        ("tlscompat audit --from scan.json --policy mozilla-intermediate",
         "tlscompat audit --from scan.jsonl --policy policy.yaml --client-policy clients.yaml -v"),
    ),
    "diff": (
        "what changed between two scans: protocols, suites, certificate, findings, clients",
        ("tlscompat diff monday.jsonl tuesday.jsonl", "tlscompat diff --db scan.sqlite --format markdown -o changes.md"),
    ),
    "merge": (
        "join the JSON Lines outputs (or history databases) of shards or machines into one",
        ("tlscompat merge a.jsonl b.jsonl -o all.jsonl", "tlscompat merge a.sqlite b.sqlite -o all.sqlite"),
    ),
    "report": (
        "a Markdown or self-contained HTML report of a scan, with a client compatibility matrix",
        ("tlscompat report scan.jsonl -o report.md", "tlscompat report --db scan.sqlite --format html -o report.html"),
    ),
}
# Commands registered together by another package: (names, "module").
_GROUPS = (
    (("simulate", "audit"), "scanner.audit.cli"),
    (("diff", "report"), "scanner.report.cli"),
    (("merge",), "scanner.fleet.merge"),
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tlscompat")
    except PackageNotFoundError:
        return "unknown"


class _VersionAction(argparse.Action):
    """--version, with the package metadata read only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kw: object) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kw: object) -> None:
        sys.stdout.write(f"tlscompat {_version()}\n")
        parser.exit(0)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser. Only ``command``'s own arguments are built (None: all of them; "": none),
    so that `tlscompat --help` imports no subcommand's code (docs/performance.md)."""
    parser = cc.Parser(
        prog="tlscompat",
        description="Active TLS compatibility scanner: which handshakes work, which fail, and why.",
        epilog="Exit codes: 0 done, 1 a finding at --fail-on (or a client lost), 2 usage or input error, "
        "130 interrupted. Documentation: docs/cli.md.",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def wanted(name: str) -> bool:
        return command is None or command == name

    def stub(name: str) -> None:
        sub.add_parser(name, help=COMMANDS[name][0], add_help=False)

    if wanted("scan"):
        p = sub.add_parser("scan", help=COMMANDS["scan"][0])
        add_scan_arguments(p)
        p.set_defaults(func=cmd_scan)
    else:
        stub("scan")
    p = sub.add_parser("explain", help=COMMANDS["explain"][0])
    p.add_argument("hex", nargs="*", help="a pcap/pcapng file, or hex bytes; stdin when omitted or '-'")
    p.add_argument("--keylog", metavar="FILE", help="NSS key log (SSLKEYLOGFILE) to decrypt the capture's handshakes")
    p.add_argument(
        "--format", choices=("table", "summary", "json", "jsonl"), default="table",
        help="capture output: a block per connection, one line per connection, JSON, JSON lines",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="capture: the timeline of each connection and each finding's fix")
    p.add_argument("--all-connections", action="store_true", help="capture: list TCP connections without TLS too")
    p.add_argument(
        "--fail-on", choices=SEVERITIES, default=None,
        help="capture: exit 1 when a finding of this severity or worse is found",
    )
    p.set_defaults(func=cmd_explain)
    p = sub.add_parser("lab", help=COMMANDS["lab"][0])
    p.add_argument("--only", help="comma-separated scenario names")
    p.set_defaults(func=cmd_lab)
    p = sub.add_parser("demo", help=COMMANDS["demo"][0])
    p.add_argument("--only", help="comma-separated scenario names")
    p.add_argument("-v", "--verbose", action="store_true", help="the full report of each endpoint")
    p.set_defaults(func=cmd_demo)
    for names, module in _GROUPS:
        if any(wanted(n) for n in names):
            import importlib

            importlib.import_module(module).register(sub)
        else:
            for name in names:
                stub(name)
    for name, (_, examples) in COMMANDS.items():
        p = sub.choices[name]
        if not isinstance(p, argparse.ArgumentParser) or not p.add_help:
            continue
        p.formatter_class = argparse.RawDescriptionHelpFormatter
        p.epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
        if not any("--color" in a.option_strings for a in p._actions):
            p.add_argument(
                "--color", choices=("auto", "always", "never"), default="auto",
                help="colour the output: auto (on a terminal, unless NO_COLOR is set), always, never",
            )
    return parser


def _command_in(argv: Sequence[str]) -> str:
    """The subcommand named in ``argv`` (its first word that is one), or ""."""
    for word in argv:
        if word in COMMANDS:
            return word
        if not word.startswith("-"):
            return ""
    return ""


def _check_options_before_command(argv: Sequence[str]) -> None:
    """Raise UsageError for a command's option written before the command (`tlscompat
    --color never simulate ...`): argparse would take its value for the command and say
    "invalid choice: 'never'". Only --help and --version belong before the command."""
    command = next((w for w in argv if w in COMMANDS), None)
    if command is None:
        return
    for word in argv[: list(argv).index(command)]:
        option = word.split("=", 1)[0]
        if option.startswith("-") and option not in ("-h", "--help", "--version"):
            raise UsageError(
                f"put {option} after the command: tlscompat {command} {option} ... "
                f"(options before the command are only --help and --version)"
            )


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point: every command ends through one handler (cli_common.run_command),
    so the exit codes and the one-line errors are the same everywhere."""

    def run() -> int:
        words = list(sys.argv[1:] if argv is None else argv)
        _check_options_before_command(words)
        parser = build_parser(_command_in(words))
        args = parser.parse_args(words)
        return int(args.func(args))

    return cc.run_command(run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
