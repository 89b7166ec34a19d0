# Client profiles: real clients' ClientHellos and limits, as data (see model.py), and the
# parser of captured hellos behind them (hello.py).
from __future__ import annotations

from scanner.profiles.hello import CapturedHello, bytes_from_hex_dump, parse_client_hello
from scanner.profiles.model import (
    BUILTIN_PROFILES_FILE,
    ClientProfile,
    load_builtin_profiles,
    load_profiles_file,
    profile_from_captured,
    profile_from_client_hello_hex,
    profile_from_json,
    profile_from_yaml,
    profile_to_json,
    spec_for_profile,
)

__all__ = [
    "BUILTIN_PROFILES_FILE",
    "CapturedHello",
    "ClientProfile",
    "bytes_from_hex_dump",
    "load_builtin_profiles",
    "load_profiles_file",
    "parse_client_hello",
    "profile_from_captured",
    "profile_from_client_hello_hex",
    "profile_from_json",
    "profile_from_yaml",
    "profile_to_json",
    "spec_for_profile",
]
