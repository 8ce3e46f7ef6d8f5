"""Paths and helpers shared by the protocol tests (a uniquely named module, importable
from test files because pytest puts this folder on sys.path)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PROTOCOLS = REPO / "protocols"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

REFERENCE = PROTOCOLS / "reference-ich-ia-ucmsc.yaml"
IV_PROTOCOL = PROTOCOLS / "iv-msc-ischaemic.yaml"
IC_PROTOCOL = PROTOCOLS / "ic-stereotactic-chronic.yaml"
SHIPPED = (REFERENCE, IV_PROTOCOL, IC_PROTOCOL)
LITERAL_SLIP = FIXTURES / "reference-literal-unit-slip.yaml"

class _Delete:
    """Marks a key to remove in `edit`; a stable repr keeps test ids equal across workers."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()


def _steps(path: str) -> list[str | int]:
    return [int(i) if i else name for name, i in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)]


def edit(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with ``value`` at ``path`` (or the key removed for DELETE)."""
    data = copy.deepcopy(data)
    *parents, last = _steps(path)
    node: Any = data
    for step in parents:
        node = node[step]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return data
