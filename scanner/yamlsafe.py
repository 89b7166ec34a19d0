# Reading a user's YAML file (policies, client profiles) safely: a SafeLoader, a depth
# limit checked on the event stream before PyYAML's recursive composer runs (so a file
# nested 20,000 deep is an error line, not a RecursionError), mapping keys that must be
# plain scalars, a BOM allowed, and errors that name the file and the line.
# (Targets files have their own loader with line tracking, scanner/fleet/targets_file.py,
# which keeps the same rules.)
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_DEPTH = 32

__all__ = ["MAX_DEPTH", "YamlError", "load_yaml_file", "load_yaml_text"]


class YamlError(ValueError):
    """A YAML file that cannot be read or is not acceptable: 'file line N: what'."""


class _Loader(yaml.SafeLoader):
    pass


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    for knode, _ in node.value:
        if not isinstance(knode, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain word, not a mapping or a list", knode.start_mark
            )
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def load_yaml_text(text: str, source: str) -> Any:
    """The YAML document in ``text``. Raises YamlError naming ``source`` and the line."""
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1 if event.start_mark is not None else "?"
                    raise YamlError(f"{source}: line {line}: nested more than {MAX_DEPTH} levels deep")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f": line {mark.line + 1}" if mark is not None else ""
        raise YamlError(f"{source}{where}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None


def load_yaml_file(path: str | Path) -> Any:
    """The YAML document in the file ``path``. Raises YamlError."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except IsADirectoryError:
        raise YamlError(f"{source}: is a directory, not a YAML file") from None
    except UnicodeDecodeError as exc:
        raise YamlError(f"{source}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise YamlError(f"{source}: cannot read: {exc.strerror or exc}") from None
    return load_yaml_text(text, source)
