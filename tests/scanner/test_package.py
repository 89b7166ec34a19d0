# The package's public names (issue 14): `import scanner.x as y` always gives a module, so
# no public name of `scanner` is also the name of one of its submodules; and importing the
# package or its command line costs nothing the command does not need.
from __future__ import annotations

import pkgutil
import subprocess
import sys

import scanner


def test_public_names_do_not_shadow_modules() -> None:
    modules = {m.name for m in pkgutil.iter_modules(scanner.__path__)}
    assert not set(scanner.__all__) & modules
    for name in scanner.__all__:
        assert getattr(scanner, name) is not None


def test_help_imports_no_subcommand() -> None:
    code = (
        "import sys\n"
        "from scanner.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('trio', 'cryptography', 'httpx', 'yaml', 'scanner.fleet', 'scanner.api') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY="
