"""Shared helpers for the meta-analysis tests: the BCG reference data and metafor's results.

The reference lives beside DESIGN.md: ``<repo>/../shared/reference/meta/`` holds
``dat_bcg.csv`` (metafor's ``dat.bcg``) and ``dat_bcg_metafor.json`` (R metafor output).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
REFERENCE = REPO.parent / "shared" / "reference" / "meta"
BCG_CSV = REFERENCE / "dat_bcg.csv"
BCG_JSON = REFERENCE / "dat_bcg_metafor.json"

#: Relative tolerance for agreement with metafor (issue: 1e-6 where iterations converge).
RTOL = 1e-6
#: Absolute floor for quantities that are (near) zero, such as tiny p-values and tau² = 0.
ATOL = 1e-12


@cache
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(BCG_JSON.read_text(encoding="utf-8"))
    return data


@cache
def bcg() -> dict[str, list[Any]]:
    """dat_bcg.csv as columns (csv module only, so that this helper stays light)."""
    import csv

    with BCG_CSV.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out: dict[str, list[Any]] = {key: [] for key in rows[0]}
    for row in rows:
        for key, value in row.items():
            try:
                out[key].append(int(value))
            except ValueError:
                out[key].append(value)
    return out


def entry_id(entry: dict[str, Any]) -> str:
    """A readable pytest id for a result entry of dat_bcg_metafor.json."""
    parts = [entry["method"], entry["test"]]
    if "mods" in entry:
        parts.append("mods=" + "+".join(entry["mods"]))
    if "subgroup" in entry:
        parts.append("subgroup=" + entry["subgroup"])
    return "-".join(parts)


#: Keys of a result entry that describe the call rather than hold a number.
SPEC_KEYS = {"method", "test", "mods", "subgroup", "levels", "coef_names", "level"}
