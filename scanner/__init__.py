"""tlscompat's scanner: the trio engine, probes, diagnosis, lab, reports and CLI.

The Python API::

    import scanner

    results = scanner.scan(["example.com", "mail.example.com:465"])    # synchronous
    result = await scanner.scan_endpoint(scanner.Target(host="example.com"))  # under trio

Both return frozen EndpointResults (scanner.results); scanner.results.endpoint_json turns
one into the JSON documented in docs/json.md.

The names are imported when first used (PEP 562), so that `tlscompat --help` and the
offline commands do not pay for trio and the whole scanner at start (docs/performance.md).
No public name here is also a submodule's name, so `import scanner.x as y` always gives
the module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.api import scan, scan_endpoint, scan_target
    from scanner.options import ScanOptions, Target

__all__ = ["ScanOptions", "Target", "scan", "scan_endpoint", "scan_target"]

_WHERE = {
    "scan": "scanner.api",
    "scan_endpoint": "scanner.api",
    "scan_target": "scanner.api",
    "ScanOptions": "scanner.options",
    "Target": "scanner.options",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'scanner' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
