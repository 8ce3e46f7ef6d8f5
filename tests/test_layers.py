"""The layers of DESIGN.md import one way only; this test reads every module's imports.

A layer may import ``strokecell.errors`` and the layers DESIGN.md lists for it, nothing else
of ours. ``cli.py`` and the private ``_commands`` package may import everything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "strokecell"

# From the "Layers" table of DESIGN.md.
ALLOWED: dict[str, set[str]] = {
    "protocol": set(),
    "instruments": set(),
    "stats": set(),
    "store": {"protocol", "instruments"},
    "trial": {"protocol", "instruments", "store"},
    "analysis": {"protocol", "instruments", "stats", "trial"},
    "report": {"analysis", "evidence"},
    "simulate": {"protocol", "instruments", "trial", "stats"},
    "evidence": {"stats"},
    "interop": {"trial", "instruments", "analysis"},
    "web": {"trial", "analysis", "report"},
}
SHARED = {"errors"}


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] == "strokecell" and len(parts) > 1:
                names.add(parts[1])
    return names


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).parts
        if len(rel) > 1 and rel[0] in ALLOWED:
            out.append((rel[0], path))
    return out


@pytest.mark.parametrize(("layer", "path"), _modules(), ids=lambda v: str(v).split("src/")[-1])
def test_layer_imports_flow_one_way(layer: str, path: Path) -> None:
    forbidden = _imported_layers(path) - ALLOWED[layer] - SHARED - {layer}
    assert not forbidden, f"{path.relative_to(SRC)} ({layer}/) imports {sorted(forbidden)}"


def test_every_layer_folder_exists_with_public_api() -> None:
    for layer in ALLOWED:
        init = SRC / layer / "__init__.py"
        assert init.exists(), f"missing {init}"
        assert "__all__" in init.read_text(encoding="utf-8"), f"{init} has no __all__"
