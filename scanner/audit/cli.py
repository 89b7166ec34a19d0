# `tlscompat simulate` (live client simulation) and `tlscompat audit` (what-if policies on a
# saved scan, no network). Registered by scanner.cli through register(subparsers).
# Parse, load, call the library, format: no TLS logic here.
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scanner import cli_common as cc
from scanner.exits import EXIT_FINDINGS, EXIT_OK, UsageError
from scanner.profiles import ClientProfile

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="send real clients' ClientHellos to a server: what each negotiates, or why it fails",
    )
    p.add_argument("target", nargs="?", help="HOST[:PORT] (default port 443)")
    p.add_argument("--profile", action="append", default=[], metavar="ID",
                   help="a built-in profile id, or 'current' / 'all' (repeatable; default all)")
    p.add_argument("--profiles-file", metavar="YAML", help="your own client profiles (docs/audit.md)")
    p.add_argument("--client-hello-hex", metavar="HEX", help="a captured ClientHello, in hex")
    p.add_argument("--name", help="the name of the --client-hello-hex client")
    p.add_argument("--lowest-version", metavar="VERSION",
                   help="with --client-hello-hex: the lowest version that client accepts")
    p.add_argument("--list-profiles", action="store_true", help="list the built-in profiles and exit")
    p.add_argument("--ip", type=cc.ip_address, help="connect to this address instead of resolving HOST")
    p.add_argument("--sni", type=cc.server_name, help="server_name to send (default: HOST when it is a name); '' for none")
    # Issue 13: the dialogue before TLS (docs/starttls.md).
    from scanner.options import STARTTLS_PROTOCOLS

    p.add_argument(
        "--starttls", choices=(*STARTTLS_PROTOCOLS, "none"), default=None, metavar="PROTO",
        help="speak PROTO before each ClientHello (default: by URL scheme or well-known port)",
    )
    p.add_argument("--xmpp-domain", default=None, metavar="NAME", help="the XMPP domain to open the stream to")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument("--connect-timeout", type=cc.seconds, default=5.0, metavar="S", help="per connection (default 5)")
    p.add_argument("--read-timeout", type=cc.seconds, default=5.0, metavar="S", help="per answer (default 5)")
    p.add_argument("--concurrency", type=cc.count(1), default=4, metavar="N",
                   help="connections at once (default 4)")
    p.set_defaults(func=_guarded(cmd_simulate))

    p = subparsers.add_parser(
        "audit",
        help="what-if: which clients a server policy loses, compliance, client policies (offline)",
    )
    p.add_argument("--from", dest="scan_file", required=True, metavar="SCAN",
                   help="a scan saved with `tlscompat scan --format json|jsonl -o FILE`")
    p.add_argument("--policy", metavar="FILE|NAME",
                   help="a server policy YAML file, or mozilla-modern, mozilla-intermediate, mozilla-old")
    p.add_argument("--client-policy", metavar="FILE", help="a client policy YAML file")
    p.add_argument("--profiles", nargs="+", default=None, metavar="ID",
                   help="profile ids, or 'current' / 'all' (default all built-ins)")
    p.add_argument("--profiles-file", metavar="YAML", help="add your own client profiles")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("-v", "--verbose", action="store_true", help="list every client, not only changes")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.set_defaults(func=_guarded(cmd_audit))


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The command through the top-level handler (one line, exit 2/130), also when it is
    called directly rather than through scanner.cli.main."""
    return cc.guarded(command)


# -- Profiles --------------------------------------------------------------------------------


def profiles_from_yaml_file(path: str) -> tuple[ClientProfile, ...]:
    """Profiles from a YAML file: a list of profiles, or a mapping with `profiles:`."""
    from scanner.profiles import profile_from_yaml
    from scanner.yamlsafe import YamlError, load_yaml_file

    try:
        data = load_yaml_file(path)
    except YamlError as exc:
        raise UsageError(str(exc)) from None
    if isinstance(data, dict) and "profiles" in data:
        data = data["profiles"]
    if not isinstance(data, list) or not data:
        raise UsageError(f"{path}: expected a list of profiles (or 'profiles:' holding one)")
    try:
        return tuple(
            profile_from_yaml(item, source=f"{path}, profile {i + 1}") for i, item in enumerate(data)
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def select_profiles(ids: Sequence[str] | None, extra: Sequence[ClientProfile] = ()) -> tuple[ClientProfile, ...]:
    """Built-in profiles by id ('all', 'current'), then ``extra``. No ids and no extra:
    every built-in; no ids with extra: only the extra ones."""
    from scanner.profiles import load_builtin_profiles

    builtin = load_builtin_profiles()
    by_id = {p.id: p for p in (*builtin, *extra)}
    if not ids:
        return tuple(extra) if extra else builtin
    chosen: dict[str, ClientProfile] = {}
    for item in ids:
        for text in item.split(","):
            key = text.strip()
            if not key:
                continue
            if key == "all":
                chosen |= {p.id: p for p in builtin}
            elif key == "current":
                chosen |= {p.id: p for p in builtin if p.current}
            elif key in by_id:
                chosen[key] = by_id[key]
            else:
                near = [p for p in by_id if key.lower() in p.lower()][:8]
                hint = f" (did you mean: {', '.join(near)})" if near else ""
                raise UsageError(f"unknown profile {key!r}{hint}; list them with tlscompat simulate --list-profiles")
    chosen |= {p.id: p for p in extra}
    return tuple(chosen.values())


# -- simulate --------------------------------------------------------------------------------


def _style(args: argparse.Namespace) -> Any:
    """Colour and width for the output: stdout, or the -o file (never a terminal)."""
    from scanner.report.terminal import style_for

    return style_for(None if args.output else sys.stdout, args.color)


def _write(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def cmd_simulate(args: argparse.Namespace) -> int:
    import dataclasses

    import trio

    from scanner.audit.live import simulate_live_many
    from scanner.audit.report import live_json, render_live
    from scanner.options import Deadlines
    from scanner.profiles import load_builtin_profiles, profile_from_client_hello_hex
    from scanner.targets import TargetError, parse_target

    if args.list_profiles:
        from handshakes import registry as reg
        from scanner.report.terminal import fit_table

        rows = [
            (p.id, p.name, ", ".join(reg.version_name(v) for v in p.versions) + ("  (current)" if p.current else ""))
            for p in load_builtin_profiles()
        ]
        # One profile a line; on a terminal within its width (names and versions wrap
        # between words, the id whole).
        sys.stdout.write(fit_table(rows, None, width=_style(args).width, tablefmt="plain") + "\n")
        return EXIT_OK
    if not args.target:
        raise UsageError("no target given: tlscompat simulate HOST[:PORT]")
    cc.check_output(args.output)
    if args.connect_timeout <= 0 or args.read_timeout <= 0 or args.concurrency < 1:
        raise UsageError("timeouts must be positive and --concurrency at least 1")
    extra: list[ClientProfile] = []
    if args.profiles_file:
        extra += profiles_from_yaml_file(args.profiles_file)
    if args.client_hello_hex:
        from handshakes import registry as reg

        name = args.name or "captured"
        try:
            lowest = reg.version_from_name(args.lowest_version) if args.lowest_version else None
            extra.append(
                profile_from_client_hello_hex(args.client_hello_hex, id=name, name=name, lowest_version=lowest)
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    elif args.name or args.lowest_version:
        raise UsageError("--name and --lowest-version go with --client-hello-hex")
    profiles = select_profiles(args.profile, extra)
    try:
        target = parse_target(args.target)
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    if args.ip or args.sni is not None:
        target = dataclasses.replace(
            target, ip=args.ip or target.ip, sni=args.sni if args.sni is not None else target.sni
        )
    deadlines = Deadlines(connect=args.connect_timeout, read=args.read_timeout)
    # Issue 13: every simulated client speaks the dialogue first when there is one.
    from scanner.engine import OpenStream, open_tcp
    from scanner.options import ScanOptions
    from scanner.starttls import opener_for

    opener = opener_for(
        target, ScanOptions(deadlines=deadlines, starttls=args.starttls, xmpp_domain=args.xmpp_domain), open_tcp
    )
    open_stream: OpenStream = opener or open_tcp

    async def main() -> Any:
        return await simulate_live_many(
            target, profiles, deadlines=deadlines, concurrency=args.concurrency, open_stream=open_stream
        )

    results = trio.run(main)
    if args.format == "json":
        text = json.dumps(live_json(target.label, results), indent=2, ensure_ascii=False) + "\n"
    else:
        style = _style(args)
        text = render_live(target.label, results, color=style.color, width=style.width)
    _write(text, args.output)
    return EXIT_OK


# -- audit -----------------------------------------------------------------------------------


def cmd_audit(args: argparse.Namespace) -> int:
    from scanner.audit.mozilla import MOZILLA_POLICIES, mozilla_policy
    from scanner.audit.policy import PolicyError, load_client_policy, load_server_policy
    from scanner.audit.report import audit_json, render_audit
    from scanner.audit.whatif import ScanFileError, load_scan, what_if

    if not args.policy and not args.client_policy:
        raise UsageError("give --policy (a file or a mozilla-* name), --client-policy, or both")
    cc.check_output(args.output)
    try:
        results = load_scan(args.scan_file)
        policy = None
        if args.policy:
            if args.policy.lower() in MOZILLA_POLICIES:
                policy = mozilla_policy(args.policy)
            elif not Path(args.policy).exists():
                raise UsageError(
                    f"--policy {args.policy}: no such file, and not one of {', '.join(MOZILLA_POLICIES)}"
                )
            else:
                policy = load_server_policy(args.policy)
        client_policy = load_client_policy(args.client_policy) if args.client_policy else None
        extra = profiles_from_yaml_file(args.profiles_file) if args.profiles_file else ()
        profiles = select_profiles(args.profiles, extra) if args.profiles or extra else select_profiles(None)
        report = what_if(results, policy, profiles, client_policy=client_policy)
    except (ScanFileError, PolicyError) as exc:
        raise UsageError(str(exc)) from None
    if args.format == "json":
        text = json.dumps(audit_json(report), indent=2, ensure_ascii=False) + "\n"
    else:
        style = _style(args)
        text = render_audit(report, verbose=args.verbose, color=style.color, width=style.width)
    _write(text, args.output)
    client_lost = any(e.client is not None and e.client.change == "lost" for e in report.endpoints)
    if report.lost() or client_lost or any(e.deviations for e in report.endpoints):
        return EXIT_FINDINGS
    return EXIT_OK
