"""tlscompat's scanner: the trio engine, probes, diagnosis, lab, reports and CLI.

The Python API::

    import scanner

    results = scanner.scan(["example.com", "mail.example.com:465"])    # synchronous
    result = await scanner.scan_endpoint(scanner.Target(host="example.com"))  # under trio

Both return frozen EndpointResults (scanner.results); scanner.results.endpoint_json turns
one into the JSON documented in docs/json.md.
"""

from scanner.api import scan, scan_endpoint, scan_target
from scanner.options import ScanOptions, Target

__all__ = ["ScanOptions", "Target", "scan", "scan_endpoint", "scan_target"]
