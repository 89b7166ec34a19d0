# Targets files: a commented YAML file (defaults, targets, includes) or a plain list (one
# target per line), from a path or from stdin ("-"), turned into a stream of
# (Target, ScanOptions) pairs.
#
# Rules kept:
# - The whole input is validated before the first target is handed out, so a malformed
#   file is rejected before any packet is sent, with "file:line: what is wrong".
# - Nothing is materialised that need not be: plain lists are read again line by line
#   when iterated (stdin is spooled to a temporary file during validation), CIDR ranges
#   are counted during validation and expanded only while iterating.
# - Options are layered, later layers winning: built-in defaults, the file's `defaults`,
#   options given on the command line, an include's options, the target's own options.
#   Targets read with the same layers share one ScanOptions object.
from __future__ import annotations

import functools
import ipaddress
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from handshakes import registry as reg
from scanner.options import (
    ALL_PROBES,
    KNOWN_PROBES,
    QUICK_PROBES,
    STARTTLS_PROTOCOLS,
    Deadlines,
    ScanOptions,
    Target,
)
from scanner.targets import TargetError, check_ip, check_sni, parse_target

DEFAULT_CIDR_CAP = 65536
YAML_SUFFIXES = (".yaml", ".yml")
# A targets file is a few levels deep; anything far deeper is refused before PyYAML's
# recursive composer runs out of stack on it.
MAX_YAML_DEPTH = 32
DEPTHS = {"quick": frozenset(QUICK_PROBES), "full": frozenset(ALL_PROBES)}


class TargetsFileError(TargetError):
    """A targets file that cannot be scanned as written: names the file and the line."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientCertSpec:
    """A client certificate as the targets file names it. Passed through to the scan as
    data (ScanOptions.client_certs); reading the files is the client-auth module's job.
    The password is never read here: ``password_env`` names the variable holding it."""

    cert: str
    key: str | None = None
    password_env: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Layer:
    """Option overrides from one place (the command line, a file's defaults, an include,
    a target). None means "not set here"."""

    port: int | None = None
    depth: frozenset[str] | None = None  # `scan: quick|full`, or an exact probe list
    switches: tuple[tuple[str, bool], ...] = ()  # `probes: {revocation: false}`
    connect: float | None = None
    read: float | None = None
    endpoint: float | None = None
    per_endpoint: int | None = None
    retries: int | None = None
    all_addresses: bool | None = None
    ca_file: str | None = None
    use_system_store: bool | None = None
    client_versions: tuple[int, ...] | None = None
    client_suites: tuple[int, ...] | None = None
    client_certs: tuple[Any, ...] | None = None
    tags: tuple[str, ...] = ()
    starttls: str | None = None  # a dialogue name, or "none"
    starttls_timeout: float | None = None
    starttls_per_endpoint: int | None = None
    xmpp_domain: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunLimits:
    """Limits of the whole run, from a file's `defaults: concurrency:`. None: not set."""

    endpoints: int | None = None
    connections: int | None = None
    per_subnet: int | None = None
    rate: float | None = None

    def merge(self, other: RunLimits) -> RunLimits:
        """The stricter of two (several files: the most polite value wins)."""

        def low(a: Any, b: Any) -> Any:
            return b if a is None else a if b is None else min(a, b)

        return RunLimits(
            endpoints=low(self.endpoints, other.endpoints),
            connections=low(self.connections, other.connections),
            per_subnet=low(self.per_subnet, other.per_subnet),
            rate=low(self.rate, other.rate),
        )


def apply_layers(base: ScanOptions, layers: Sequence[Layer]) -> ScanOptions:
    """ScanOptions with each layer applied in turn. The probe set is the last depth given
    (or the base's), then every probe switch in layer order."""
    kw: dict[str, Any] = {}
    deadlines = {
        "connect": base.deadlines.connect, "read": base.deadlines.read,
        "endpoint": base.deadlines.endpoint, "starttls": base.deadlines.starttls,
    }
    probes = set(base.probes)
    for layer in layers:
        if layer.depth is not None:
            probes = set(layer.depth)
    for layer in layers:
        for name, on in layer.switches:
            (probes.add if on else probes.discard)(name)
        for name in ("connect", "read", "endpoint"):
            value = getattr(layer, name)
            if value is not None:
                deadlines[name] = value
        if layer.starttls_timeout is not None:
            deadlines["starttls"] = layer.starttls_timeout
        for name in (
            "per_endpoint", "retries", "all_addresses", "ca_file", "use_system_store",
            "client_versions", "client_suites", "client_certs", "starttls", "xmpp_domain",
            "starttls_per_endpoint",
        ):
            value = getattr(layer, name)
            if value is not None:
                kw[name] = value
    return replace(base, deadlines=Deadlines(**deadlines), probes=frozenset(probes), **kw)


# -- the plan: validated sources, iterated lazily --------------------------------------------


@dataclass(slots=True)
class _Range:
    """A CIDR range from a file: counted when validated, expanded when iterated."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    port: int
    sni: str | None
    tags: tuple[str, ...]


def cidr_size(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> int:
    """How many addresses ``net.hosts()`` yields: without the network and broadcast
    addresses of an IPv4 range (/30 and wider), without the subnet-router anycast address
    of an IPv6 range (/126 and wider, RFC 4291 section 2.6.1)."""
    n = net.num_addresses
    if net.version == 4:
        return n - 2 if net.prefixlen <= 30 else n
    return n - 1 if net.prefixlen <= 126 else n


@dataclass(slots=True)
class _Entry:
    """One target or range, with the layers that apply to it."""

    item: Target | _Range
    layers: tuple[Layer, ...]


class TargetsPlan:
    """Validated targets, ready to be iterated (once or several times) as (Target,
    ScanOptions) pairs. ``total`` counts every target, CIDR ranges expanded; ``limits``
    are the run limits the files asked for. Close it (or use ``with``) to drop the copy
    of stdin."""

    def __init__(self, base: ScanOptions) -> None:
        self.base = base
        self.total = 0
        self.limits = RunLimits()
        self._sources: list[_ListSource | list[_Entry]] = []
        self._spools: list[IO[str]] = []
        self._options: dict[tuple[int, ...], ScanOptions] = {}

    def __enter__(self) -> TargetsPlan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for spool in self._spools:
            spool.close()
        self._spools.clear()

    def options_for(self, layers: tuple[Layer, ...]) -> ScanOptions:
        key = tuple(id(layer) for layer in layers)
        opts = self._options.get(key)
        if opts is None:
            opts = self._options[key] = apply_layers(self.base, layers)
        return opts

    def __iter__(self) -> Iterator[tuple[Target, ScanOptions]]:
        for source in self._sources:
            entries: Iterable[_Entry] = source.entries() if isinstance(source, _ListSource) else source
            for entry in entries:
                options = self.options_for(entry.layers)
                item = entry.item
                if isinstance(item, Target):
                    yield item, options
                    continue
                for addr in item.network.hosts():
                    ip = str(addr)
                    yield Target(host=ip, port=item.port, ip=ip, sni=item.sni, tags=item.tags), options


def load_targets(
    paths: Sequence[str] = (),
    *,
    cli_targets: Sequence[str | Target] = (),
    base: ScanOptions | None = None,
    cli_layer: Layer | None = None,
    cidr_cap: int = DEFAULT_CIDR_CAP,
    stdin: IO[str] | None = None,
) -> TargetsPlan:
    """Read and validate every targets file (``-`` is stdin) and the command line's
    targets. Raises TargetsFileError (or TargetError for a command-line target) before
    anything is scanned."""
    plan = TargetsPlan(base or ScanOptions())
    cli = cli_layer or Layer()
    try:
        if cli_targets:
            entries = []
            for text in cli_targets:
                item = text if isinstance(text, Target) else _parse_item(text, cli.port or 443, cidr_cap, "command line", None)
                entries.append(_Entry(item=item, layers=(cli,)))
            plan._sources.append(entries)
            plan.total += sum(_count(e.item) for e in entries)
        for path in paths:
            if path == "-":
                spool = tempfile.TemporaryFile("w+", encoding="utf-8")
                plan._spools.append(spool)
                for n, chunk in enumerate(iter(lambda: (stdin or sys.stdin).read(65536), "")):
                    try:  # bytes that are not UTF-8 arrive as lone surrogates
                        spool.write(chunk.removeprefix("\ufeff") if n == 0 else chunk)
                    except UnicodeEncodeError:
                        raise TargetsFileError("<stdin>", None, "not UTF-8 text") from None
                spool.seek(0)
                if _looks_like_yaml(spool):
                    _load_yaml(plan, "<stdin>", spool.read(), Path.cwd(), cli, cidr_cap)
                else:
                    source = _ListSource("<stdin>", None, spool, (cli,), None, (), cidr_cap)
                    plan.total += source.validate()
                    plan._sources.append(source)
                continue
            p = Path(path)
            if p.is_dir():
                raise TargetsFileError(path, None, "is a directory, not a targets file")
            if not p.is_file():
                raise TargetsFileError(path, None, "no such file")
            if p.suffix.lower() in YAML_SUFFIXES:
                try:
                    text = p.read_text(encoding="utf-8-sig")
                except (OSError, UnicodeDecodeError) as exc:
                    raise TargetsFileError(path, None, f"cannot read: {exc}") from None
                _load_yaml(plan, path, text, p.parent, cli, cidr_cap)
            else:
                source = _ListSource(path, p, None, (cli,), None, (), cidr_cap)
                plan.total += source.validate()
                plan._sources.append(source)
    except BaseException:
        plan.close()
        raise
    return plan


def _looks_like_yaml(fp: IO[str]) -> bool:
    """stdin has no file name: it is YAML when its first meaningful line is a top-level
    key of a targets file."""
    for line in fp:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fp.seek(0)
        return text == "---" or re.match(r"^(defaults|targets|include)\s*:", text) is not None
    fp.seek(0)
    return False


def _count(item: Target | _Range) -> int:
    return 1 if isinstance(item, Target) else cidr_size(item.network)


# -- plain lists -----------------------------------------------------------------------------


class _ListSource:
    """A plain list: one target per line ("host", "host:port", "[v6]:port",
    "https://host:port/", a CIDR range "192.0.2.0/28" or "192.0.2.0/28:8443"); blank lines
    and "#" comments allowed."""

    def __init__(
        self,
        name: str,
        path: Path | None,
        spool: IO[str] | None,
        layers: tuple[Layer, ...],
        default_port: int | None,
        tags: tuple[str, ...],
        cidr_cap: int,
    ) -> None:
        self.name = name
        self.path = path
        self.spool = spool
        self.layers = layers
        self.port = default_port or next((la.port for la in reversed(layers) if la.port), None) or 443
        self.tags = tags or tuple(t for la in layers for t in la.tags)
        self.cidr_cap = cidr_cap

    def _lines(self) -> Iterator[tuple[int, str]]:
        if self.spool is not None:
            self.spool.seek(0)
            yield from enumerate(self.spool, 1)
            return
        assert self.path is not None
        try:
            with open(self.path, encoding="utf-8-sig") as fp:
                yield from enumerate(fp, 1)
        except UnicodeDecodeError as exc:
            raise TargetsFileError(self.name, None, f"not UTF-8 text ({exc.reason})") from None
        except OSError as exc:
            raise TargetsFileError(self.name, None, f"cannot read: {exc.strerror or exc}") from None

    def _items(self) -> Iterator[tuple[int, Target | _Range]]:
        for number, line in self._lines():
            text = _strip_comment(line)
            if text:
                yield number, _parse_item(text, self.port, self.cidr_cap, self.name, number, self.tags)

    def validate(self) -> int:
        return sum(_count(item) for _, item in self._items())

    def entries(self) -> Iterator[_Entry]:
        for _, item in self._items():
            yield _Entry(item=item, layers=self.layers)


def _strip_comment(line: str) -> str:
    """Text before a "#" that starts the line or follows a space (a URL's "#fragment"
    stays)."""
    text = line.strip()
    if text.startswith("#"):
        return ""
    m = re.search(r"\s#", text)
    return (text[: m.start()] if m else text).strip()


def _parse_item(
    text: str, port: int, cidr_cap: int, source: str, line: int | None, tags: tuple[str, ...] = ()
) -> Target | _Range:
    if "/" in text and "://" not in text:
        return _parse_range(text, port, cidr_cap, source, line, None, tags)
    try:
        target = parse_target(text, default_port=port)
    except TargetError as exc:
        raise TargetsFileError(source, line, str(exc)) from None
    return replace(target, tags=tags) if tags else target


def _parse_range(
    text: str, port: int, cidr_cap: int, source: str, line: int | None, sni: str | None, tags: tuple[str, ...]
) -> _Range:
    raw = text.strip()
    net_text = raw
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise TargetsFileError(source, line, f"{text!r}: missing ']'")
        net_text, rest = raw[1:end], raw[end + 1 :]
        if rest:
            port = _port_text(rest[1:] if rest.startswith(":") else rest, text, source, line)
    elif raw.count(":") == 1:
        net_text, _, p = raw.rpartition(":")
        port = _port_text(p, text, source, line)
    try:
        net = ipaddress.ip_network(net_text, strict=False)
    except ValueError as exc:
        raise TargetsFileError(source, line, f"{text!r} is not a CIDR range ({exc})") from None
    size = cidr_size(net)
    if size > cidr_cap:
        raise TargetsFileError(
            source, line,
            f"{net} expands to {size} addresses, more than the cap of {cidr_cap} "
            "(raise it with --cidr-cap)",
        )
    return _Range(network=net, port=port, sni=sni, tags=tags)


def _port_text(text: str, whole: str, source: str, line: int | None) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise TargetsFileError(source, line, f"{whole!r}: port must be a number from 1 to 65535, not {text!r}")
    return int(text)


# -- YAML ------------------------------------------------------------------------------------


class _Map(dict[Any, Any]):
    line: int = 0
    key_lines: dict[Any, int]


class _Seq(list[Any]):
    line: int = 0
    item_lines: list[int]


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int) -> None:
        self.key, self.line = key, line


@functools.lru_cache(maxsize=1)
def _loader() -> Any:
    """SafeLoader keeping the line of every key and list item, for error messages. Made
    on first use: a plain list of targets does not import PyYAML."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    def construct_map(loader: Any, node: Any) -> _Map:
        loader.flatten_mapping(node)
        m = _Map()
        m.line = node.start_mark.line + 1
        m.key_lines = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain word, not a mapping or a list", knode.start_mark
                )
            key = loader.construct_object(knode, deep=True)
            if key in m:
                raise _DuplicateKey(key, knode.start_mark.line + 1)
            m[key] = loader.construct_object(vnode, deep=True)
            m.key_lines[key] = knode.start_mark.line + 1
        return m

    def construct_seq(loader: Any, node: Any) -> _Seq:
        s = _Seq(loader.construct_object(child, deep=True) for child in node.value)
        s.line = node.start_mark.line + 1
        s.item_lines = [child.start_mark.line + 1 for child in node.value]
        return s

    _Loader.add_constructor("tag:yaml.org,2002:map", construct_map)
    _Loader.add_constructor("tag:yaml.org,2002:seq", construct_seq)
    return _Loader

_OPTION_KEYS = {
    "port", "scan", "probes", "timeouts", "per_endpoint", "retries", "all_addresses",
    "ca_file", "system_store", "client_versions", "client_suites", "client_certificates", "tags",
    "starttls", "xmpp_domain", "starttls_per_endpoint",
}
_TOP_KEYS = {"defaults", "targets", "include"}
_DEFAULT_KEYS = _OPTION_KEYS | {"concurrency"}
_TARGET_KEYS = _OPTION_KEYS | {"host", "cidr", "ip", "sni"}
_INCLUDE_KEYS = _OPTION_KEYS | {"file"}
_CONCURRENCY_KEYS = {"endpoints", "connections", "per_subnet", "rate"}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(slots=True)
class _Ctx:
    """Where we are in a YAML file, for error messages and relative paths."""

    source: str
    directory: Path
    cidr_cap: int
    lines: list[int] = field(default_factory=list)

    def fail(self, line: int | None, message: str) -> TargetsFileError:
        return TargetsFileError(self.source, line, message)


def _load_yaml(plan: TargetsPlan, source: str, text: str, directory: Path, cli: Layer, cidr_cap: int) -> None:
    import yaml

    ctx = _Ctx(source=source, directory=directory, cidr_cap=cidr_cap)
    try:
        _check_depth(text, ctx)
        doc = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader
    except _DuplicateKey as exc:
        raise ctx.fail(exc.line, f"duplicate key {exc.key!r}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ctx.fail(line, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ctx.fail(None, f"not valid YAML: {exc}") from None
    if doc is None:
        return
    if not isinstance(doc, _Map):
        raise ctx.fail(1, "expected a mapping with 'defaults', 'targets' and 'include'")
    _check_keys(ctx, doc, _TOP_KEYS, "at the top level")
    defaults = doc.get("defaults")
    if defaults is None:
        defaults = _Map()
    if not isinstance(defaults, _Map):
        raise ctx.fail(doc.key_lines["defaults"], "'defaults' must be a mapping")
    _check_keys(ctx, defaults, _DEFAULT_KEYS, "in 'defaults'")
    file_layer = _layer(ctx, defaults)
    if "concurrency" in defaults:
        plan.limits = plan.limits.merge(_run_limits(ctx, defaults["concurrency"], defaults.key_lines["concurrency"]))
    stack = (file_layer, cli)
    port = file_layer.port or 443
    entries: list[_Entry] = []
    targets = doc.get("targets")
    if targets is not None and not isinstance(targets, _Seq):
        raise ctx.fail(doc.key_lines.get("targets"), "'targets' must be a list")
    for item, line in zip(targets or (), targets.item_lines if targets else (), strict=True):
        entries.append(_yaml_target(ctx, item, line, stack, port))
    plan.total += sum(_count(e.item) for e in entries)
    plan._sources.append(entries)
    includes = doc.get("include")
    if includes is not None and not isinstance(includes, _Seq):
        raise ctx.fail(doc.key_lines.get("include"), "'include' must be a list of files")
    for item, line in zip(includes or (), includes.item_lines if includes else (), strict=True):
        if isinstance(item, str):
            item = _Map({"file": item})
            item.line, item.key_lines = line, {"file": line}
        if not isinstance(item, _Map) or "file" not in item:
            raise ctx.fail(line, "an include is a file name, or a mapping with 'file' and options")
        _check_keys(ctx, item, _INCLUDE_KEYS, "in an include")
        name = item["file"]
        if not isinstance(name, str) or not name:
            raise ctx.fail(item.key_lines["file"], "'file' must be a file name")
        path = Path(name) if os.path.isabs(name) else ctx.directory / name
        if not path.is_file():
            raise ctx.fail(item.key_lines["file"], f"included file {name!r} not found (looked for {path})")
        if path.suffix.lower() in YAML_SUFFIXES:
            raise ctx.fail(item.key_lines["file"], "an include is a plain list of hosts, not another YAML file")
        layer = _layer(ctx, item)
        tags = file_layer.tags + layer.tags
        list_source = _ListSource(str(path), path, None, (*stack, layer), layer.port or port, tags, cidr_cap)
        plan.total += list_source.validate()
        plan._sources.append(list_source)


def _check_depth(text: str, ctx: _Ctx) -> None:
    """Refuse YAML nested deeper than MAX_YAML_DEPTH, reading events (no recursion)."""
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark is not None else None
                raise ctx.fail(line, f"nested more than {MAX_YAML_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_keys(ctx: _Ctx, m: _Map, allowed: set[str], where: str) -> None:
    for key in m:
        if key not in allowed:
            raise ctx.fail(
                m.key_lines.get(key, m.line),
                f"unknown key {key!r} {where} (known: {', '.join(sorted(allowed))})",
            )


def _yaml_target(ctx: _Ctx, item: Any, line: int, stack: tuple[Layer, ...], port: int) -> _Entry:
    tags = stack[0].tags
    if isinstance(item, str):
        return _Entry(item=_parse_item(item, port, ctx.cidr_cap, ctx.source, line, tags), layers=stack)
    if not isinstance(item, _Map):
        raise ctx.fail(line, "a target is 'host[:port]' or a mapping with 'host' (or 'cidr')")
    _check_keys(ctx, item, _TARGET_KEYS, "in a target")
    layer = _layer(ctx, item)
    lines = item.key_lines
    tags = tags + layer.tags
    target_port = layer.port or port
    sni = item.get("sni")
    if sni is not None and not isinstance(sni, str):
        raise ctx.fail(lines["sni"], "'sni' must be a name, or '' to send none")
    if sni:
        try:
            check_sni(sni)
        except TargetError as exc:
            raise ctx.fail(lines["sni"], str(exc)) from None
    has_host, has_cidr = "host" in item, "cidr" in item
    if has_host == has_cidr:
        raise ctx.fail(item.line, "a target needs exactly one of 'host' and 'cidr'")
    key = "host" if has_host else "cidr"
    text = item[key]
    if not isinstance(text, str) or not text.strip():
        raise ctx.fail(lines[key], f"'{key}' must be text")
    if key == "cidr" or "/" in text and "://" not in text:
        if "ip" in item:
            raise ctx.fail(lines["ip"], "'ip' makes no sense with a CIDR range")
        rng = _parse_range(text, target_port, ctx.cidr_cap, ctx.source, lines[key], sni, tags)
        if layer.port:
            rng.port = layer.port
        return _Entry(item=rng, layers=(*stack, layer))
    try:
        target = parse_target(text, default_port=target_port)
    except TargetError as exc:
        raise ctx.fail(lines[key], str(exc)) from None
    if layer.port:
        target = replace(target, port=layer.port)
    ip = item.get("ip")
    if ip is not None:
        try:
            ip = check_ip(str(ip))
        except TargetError:
            raise ctx.fail(lines["ip"], f"'ip' must be an IPv4 or IPv6 address, not {str(ip)[:60]!r}") from None
        target = replace(target, ip=ip)
    target = replace(target, sni=sni if sni is not None else target.sni, tags=tags)
    return _Entry(item=target, layers=(*stack, layer))


def _run_limits(ctx: _Ctx, value: Any, line: int) -> RunLimits:
    if not isinstance(value, _Map):
        raise ctx.fail(line, "'concurrency' must be a mapping: endpoints, connections, per_subnet, rate")
    _check_keys(ctx, value, _CONCURRENCY_KEYS, "in 'concurrency'")
    kw: dict[str, Any] = {}
    for key, v in value.items():
        where = value.key_lines[key]
        if key == "rate":
            kw[key] = _positive(ctx, v, where, key, number=True)
        else:
            kw[key] = _positive(ctx, v, where, key)
    return RunLimits(**kw)


def _positive(ctx: _Ctx, v: Any, line: int | None, name: str, *, number: bool = False, zero: bool = False) -> Any:
    ok_type = (int, float) if number else (int,)
    if (
        isinstance(v, bool) or not isinstance(v, ok_type) or not math.isfinite(v)
        or v < 0 or (v == 0 and not zero)
    ):
        kind = "number" if number else "whole number"
        raise ctx.fail(line, f"'{name}' must be a positive {kind}, not {v!r}")
    return v


def _layer(ctx: _Ctx, m: Mapping[Any, Any]) -> Layer:
    """The option keys of a defaults, include or target mapping, validated."""
    lines: dict[Any, int] = getattr(m, "key_lines", {})
    kw: dict[str, Any] = {}
    for key, value in m.items():
        line = lines.get(key, getattr(m, "line", None))
        if key == "port":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
                raise ctx.fail(line, f"'port' must be a number from 1 to 65535, not {value!r}")
            kw["port"] = value
        elif key == "scan":
            if value not in DEPTHS:
                raise ctx.fail(line, f"'scan' must be 'quick' or 'full', not {value!r}")
            kw["depth"] = DEPTHS[value]
        elif key == "probes":
            kw.update(_probes(ctx, value, line))
        elif key == "timeouts":
            if not isinstance(value, _Map):
                raise ctx.fail(line, "'timeouts' must be a mapping: connect, read, endpoint (seconds)")
            _check_keys(ctx, value, {"connect", "read", "endpoint", "starttls"}, "in 'timeouts'")
            for name, seconds in value.items():
                key_name = "starttls_timeout" if name == "starttls" else name
                kw[key_name] = float(_positive(ctx, seconds, value.key_lines[name], name, number=True))
        elif key in ("per_endpoint", "starttls_per_endpoint"):
            kw[key] = _positive(ctx, value, line, key)
        elif key == "starttls":
            if value is False or value is None:
                value = "none"
            if value not in (*STARTTLS_PROTOCOLS, "none"):
                raise ctx.fail(line, f"'starttls' must be one of {', '.join(STARTTLS_PROTOCOLS)} or none, not {value!r}")
            kw[key] = value
        elif key == "xmpp_domain":
            if not isinstance(value, str) or not value or any(ch.isspace() or ch in "'\"<>&" for ch in value):
                raise ctx.fail(line, f"'xmpp_domain' must be a domain name, not {value!r}")
            kw[key] = value
        elif key == "retries":
            kw[key] = _positive(ctx, value, line, key, zero=True)
        elif key == "all_addresses":
            kw[key] = _bool(ctx, value, line, key)
        elif key == "system_store":
            kw["use_system_store"] = _bool(ctx, value, line, key)
        elif key == "ca_file":
            kw[key] = str(_existing(ctx, value, line, key))
            _check_ca(ctx, kw[key], line)
        elif key == "client_versions":
            kw[key] = _versions(ctx, value, line)
        elif key == "client_suites":
            kw[key] = _suites(ctx, value, line)
        elif key == "client_certificates":
            kw["client_certs"] = _client_certs(ctx, value, line)
        elif key == "tags":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(t, str) and t for t in items):
                raise ctx.fail(line, "'tags' must be a list of words")
            kw["tags"] = tuple(items)
    return Layer(**kw)


def _bool(ctx: _Ctx, value: Any, line: int | None, name: str) -> bool:
    if not isinstance(value, bool):
        raise ctx.fail(line, f"'{name}' must be true or false, not {value!r}")
    return value


def _probes(ctx: _Ctx, value: Any, line: int | None) -> dict[str, Any]:
    def known(name: Any, where: int | None) -> str:
        if name not in KNOWN_PROBES:
            raise ctx.fail(where, f"unknown probe {name!r} (known: {', '.join(KNOWN_PROBES)})")
        return str(name)

    if isinstance(value, _Seq):
        return {"depth": frozenset(known(p, w) for p, w in zip(value, value.item_lines, strict=True))}
    if isinstance(value, _Map):
        switches = []
        for name, on in value.items():
            where = value.key_lines[name]
            switches.append((known(name, where), _bool(ctx, on, where, str(name))))
        return {"switches": tuple(switches)}
    raise ctx.fail(line, "'probes' must be a list of probes to run, or a mapping of probe: true/false")


def _words(value: Any) -> list[Any]:
    if isinstance(value, str):
        return value.replace(",", " ").replace(":", " ").split()
    if isinstance(value, list):
        return list(value)
    return [value]


def _versions(ctx: _Ctx, value: Any, line: int | None) -> tuple[int, ...]:
    out = []
    for v in _words(value):
        try:
            out.append(reg.version_from_name(str(v)))
        except ValueError as exc:
            raise ctx.fail(line, str(exc)) from None
    if not out:
        raise ctx.fail(line, "'client_versions' is empty")
    return tuple(out)


def _suites(ctx: _Ctx, value: Any, line: int | None) -> tuple[int, ...]:
    out = []
    for item in _words(value):
        if isinstance(item, int) and not isinstance(item, bool):
            out.append(item)
            continue
        text = str(item)
        if text.lower().startswith("0x"):
            try:
                out.append(int(text, 16))
                continue
            except ValueError:
                pass
        suite = reg.cipher_suite_by_name(text)
        if suite is None:
            raise ctx.fail(line, f"unknown cipher suite {text!r}")
        out.append(suite.code)
    if not out:
        raise ctx.fail(line, "'client_suites' is empty")
    return tuple(out)


def _existing(ctx: _Ctx, value: Any, line: int | None, name: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ctx.fail(line, f"'{name}' must be a file name")
    path = Path(os.path.expanduser(value))
    if not path.is_absolute():
        path = ctx.directory / path
    if path.is_dir():
        raise ctx.fail(line, f"'{name}': {value!r} is a directory; give a file name")
    if not path.is_file():
        raise ctx.fail(line, f"'{name}': no such file {value!r} (looked for {path})")
    return path


def _check_ca(ctx: _Ctx, path: str, line: int | None) -> None:
    from scanner.x509 import TrustStoreError, load_trust_store

    try:
        load_trust_store(path, False)
    except TrustStoreError as exc:
        raise ctx.fail(line, f"'ca_file': {exc}") from None


def _client_certs(ctx: _Ctx, value: Any, line: int | None) -> tuple[ClientCertSpec, ...]:
    items = value if isinstance(value, _Seq) else None
    if items is None:
        raise ctx.fail(line, "'client_certificates' must be a list of {cert, key, password_env}")
    out = []
    for item, where in zip(items, items.item_lines, strict=True):
        if not isinstance(item, _Map) or "cert" not in item:
            raise ctx.fail(where, "a client certificate is a mapping with 'cert' (and 'key', 'password_env')")
        _check_keys(ctx, item, {"cert", "key", "password_env"}, "in a client certificate")
        cert = _existing(ctx, item["cert"], item.key_lines["cert"], "cert")
        key = _existing(ctx, item["key"], item.key_lines["key"], "key") if "key" in item else None
        env = item.get("password_env")
        if env is not None and (not isinstance(env, str) or not _ENV_NAME.match(env)):
            raise ctx.fail(item.key_lines["password_env"], f"'password_env' must name an environment variable, not {env!r}")
        out.append(_load_credential(ctx, ClientCertSpec(cert=str(cert), key=str(key) if key else None, password_env=env), where))
    return tuple(out)


def _load_credential(ctx: _Ctx, spec: ClientCertSpec, line: int | None) -> Any:
    """Read a client certificate and its key now, while the file is validated: a wrong
    password or an unreadable key is an error naming the file and line before any packet
    is sent (and the scan gets ClientCredentials, never paths)."""
    from scanner.clientauth.credentials import (
        CredentialError,
        load_pem,
        load_pkcs12,
        password_from,
    )

    try:
        password = password_from(spec.password_env, False, what=spec.cert)
        if spec.cert.lower().endswith((".p12", ".pfx")):
            return load_pkcs12(spec.cert, password=password)
        return load_pem(spec.cert, spec.key, password=password)
    except CredentialError as exc:
        raise ctx.fail(line, str(exc)) from None
