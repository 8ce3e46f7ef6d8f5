"""``strokecell meta`` end to end on dat_bcg.csv; expected numbers from dat_bcg_metafor.json.

Each entry of the JSON's ``results`` list is run through the command with ``--json`` and
compared with metafor's numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from meta_reference import ATOL, BCG_CSV, RTOL, SPEC_KEYS, entry_id, reference
from typer.testing import CliRunner

from strokecell.cli import app

RESULTS = reference()["results"]
RUNNER = CliRunner()
RR_ARGS = ["--measure", "RR", "--ai", "tpos", "--bi", "tneg", "--ci", "cpos", "--di", "cneg"]


def _run(*args: str) -> Any:
    return RUNNER.invoke(app, ["meta", str(BCG_CSV), *args])


def _close(actual: Any, expected: Any, where: str) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float),
                               np.asarray(expected, dtype=float), rtol=RTOL, atol=ATOL,
                               err_msg=where)


@pytest.mark.parametrize("entry", RESULTS, ids=[entry_id(e) for e in RESULTS])
def test_cli_json_matches_metafor(entry: dict[str, Any]) -> None:
    """dat_bcg_metafor.json "results": the same numbers through the command line."""
    args = [*RR_ARGS, "--method", entry["method"], "--test", entry["test"], "--json"]
    if "mods" in entry:
        args += ["--mods", ",".join(entry["mods"])]
    if "subgroup" in entry:
        args += ["--subgroup", entry["subgroup"]]
    result = _run(*args)
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    for key, expected in entry.items():
        if key not in SPEC_KEYS:
            _close(got[key], expected, f"{entry_id(entry)}: {key}")
    for sub, lv in zip(got.get("subgroups", []), entry.get("levels", []), strict=True):
        assert sub["level"] == lv["level"]
        for key, expected in lv.items():
            if key != "level":
                _close(sub[key], expected, f"{entry_id(entry)} {lv['level']}: {key}")
    if "coef_names" in entry:
        assert [c["term"] for c in got["coefficients"]] == entry["coef_names"]
    k = entry.get("k", sum(lv["k"] for lv in entry.get("levels", [])))
    assert len(got["studies"]) == k


def test_cli_yi_vi_columns(tmp_path: Path) -> None:
    """--yi/--vi on precomputed effect sizes (dat_bcg_metafor.json "escalc") gives the
    DL/z entry of "results"."""
    rows = reference()["escalc"]
    path = tmp_path / "es.csv"
    path.write_text("yi,vi\n" + "".join(f"{r['yi']!r},{r['vi']!r}\n" for r in rows))
    entry = next(e for e in RESULTS if e["method"] == "DL" and e["test"] == "z")
    result = RUNNER.invoke(app, ["meta", str(path), "--yi", "yi", "--vi", "vi",
                                 "--method", "DL", "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    for key in ("estimate", "se", "tau2", "I2", "Q", "pi_lb", "pi_ub"):
        _close(got[key], entry[key], f"DL/z {key}")


def test_cli_human_output_and_forest(tmp_path: Path) -> None:
    png, funnel = tmp_path / "forest.png", tmp_path / "funnel.png"
    result = _run(*RR_ARGS, "--label", "author", "--forest", str(png), "--funnel", str(funnel),
                  "--diagnostics")
    assert result.exit_code == 0, result.output
    assert "Random-effects model" in result.output and "Aronson" in result.output
    for path in (png, funnel):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_diagnostics_json() -> None:
    result = _run(*RR_ARGS, "--diagnostics", "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert len(got["leave_one_out"]) == len(got["influence"]) == 13
    assert {"egger", "trimfill"} <= set(got)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--measure", "RR", "--ai", "nope", "--bi", "tneg", "--ci", "cpos", "--di", "cneg"],
         "nope"),
        (["--measure", "XX", "--ai", "tpos"], "measure"),
        ([*RR_ARGS, "--method", "FOO"], "method"),
        ([*RR_ARGS, "--mods", "latitude"], "latitude"),
        (["--yi", "tpos"], "--vi"),
        ([*RR_ARGS, "--yi", "tpos", "--vi", "tneg"], "not both"),
    ],
)
def test_cli_bad_input_exits_2_naming_the_problem(args: list[str], needle: str) -> None:
    result = _run(*args)
    assert result.exit_code == 2
    assert needle in result.output


def test_cli_bad_input_as_json() -> None:
    result = _run(*RR_ARGS, "--mods", "latitude", "--json")
    assert result.exit_code == 2
    payload = json.loads(result.output)
    assert payload["error"] == "InputError"
    assert payload["problems"][0]["value"] == "latitude"


def test_cli_missing_file(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["meta", str(tmp_path / "none.csv"), "--yi", "a", "--vi", "b"])
    assert result.exit_code == 2
    assert "not found" in result.output
