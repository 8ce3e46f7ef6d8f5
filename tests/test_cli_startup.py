"""The CLI answers quickly because heavy libraries load only inside the commands using them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "scipy", "pandas", "sqlalchemy", "fastapi", "matplotlib", "pint", "formulaic")


def _modules_loaded_by(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    return {name.split(".")[0] for name in out}


def test_importing_the_cli_loads_no_heavy_library() -> None:
    loaded = _modules_loaded_by("import strokecell.cli")
    assert not loaded & set(HEAVY), f"cli import pulls in {sorted(loaded & set(HEAVY))}"


def test_help_exits_zero_and_lists_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "strokecell.cli", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    for command in ("protocol", "dose", "score", "mmrm", "meta"):
        assert command in result.stdout
