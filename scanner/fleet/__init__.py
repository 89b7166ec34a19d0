# Fleet scans: thousands of endpoints from targets files, politely, fast, with nothing
# lost. targets_file reads and validates the input, limits keeps the scan polite, run
# streams endpoints through a bounded runner, output/store write them as they complete,
# cli is `tlscompat scan`. docs/fleet.md is the user's guide.
from __future__ import annotations

from scanner.fleet.limits import EndpointBackoff, RateLimiter, SubnetLimiter, subnet_of
from scanner.fleet.run import Completed, FleetSettings, run_fleet
from scanner.fleet.targets_file import TargetsFileError, TargetsPlan, load_targets

__all__ = [
    "Completed",
    "EndpointBackoff",
    "FleetSettings",
    "RateLimiter",
    "SubnetLimiter",
    "TargetsFileError",
    "TargetsPlan",
    "load_targets",
    "run_fleet",
    "subnet_of",
]
