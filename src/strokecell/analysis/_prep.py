"""Shared preparation: the rows an efficacy analysis uses, and covariate design columns."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["analysis_rows", "covariate_matrix", "usable_strata"]

Array = npt.NDArray[np.float64]


def analysis_rows(adsl: pd.DataFrame, bds: pd.DataFrame, paramcd: str, *,
                  strata: Sequence[str] = (), population: str = "ITTFL",
                  composite: bool = False, log_scale: bool = False
                  ) -> tuple[pd.DataFrame, list[str]]:
    """Post-baseline analysed rows of ``paramcd`` for subjects of ``population``.

    Observed rows only, or with ``composite`` the worst-score rows after death too
    (``DTYPE == "WORST"``). With ``log_scale`` AVAL and BASE are logged and CHG is the log
    ratio; non-positive values are dropped (and said). Returns the rows (USUBJID, ARMCD,
    strata, AVISIT, AVISITN, AVAL, BASE, CHG, DTYPE) and messages.
    """
    messages: list[str] = []
    pop = adsl.loc[adsl[population] == "Y", ["USUBJID", "ARMCD", *strata]]
    rows = bds[(bds["PARAMCD"] == paramcd) & (bds["ANL01FL"] == "Y")]
    rows = rows[rows["ABLFL"].fillna("N") != "Y"]
    keep = rows["DTYPE"].isna() | (composite & (rows["DTYPE"] == "WORST"))
    rows = rows[keep & rows["AVAL"].notna()]
    cols = ["USUBJID", "AVISIT", "AVISITN", "AVAL", "BASE", "DTYPE"]
    out = rows[cols].merge(pop, on="USUBJID", how="inner")
    nobase = out["BASE"].isna()
    if nobase.any():
        messages.append(f"{paramcd}: {out.loc[nobase, 'USUBJID'].nunique()} subject(s) "
                        "without a baseline value are left out")
        out = out[~nobase]
    out = out.astype({"AVAL": float, "BASE": float, "AVISITN": float})
    if log_scale:
        bad = (out["AVAL"] <= 0) | (out["BASE"] <= 0)
        if bad.any():
            messages.append(f"{paramcd}: {int(bad.sum())} row(s) with a non-positive value "
                            "cannot be logged and are left out")
            out = out[~bad]
        out = out.assign(AVAL=np.log(out["AVAL"]), BASE=np.log(out["BASE"]))
    out = out.assign(CHG=out["AVAL"] - out["BASE"])
    return out.sort_values(["USUBJID", "AVISITN"]).reset_index(drop=True), messages


def usable_strata(frame: pd.DataFrame, strata: Sequence[str]) -> tuple[list[str], list[str]]:
    """Strata columns with at least two levels in ``frame`` (others dropped, with a note)."""
    used, notes = [], []
    for col in strata:
        if frame[col].nunique(dropna=True) >= 2 and frame[col].notna().all():
            used.append(col)
        else:
            notes.append(f"stratum {col} has fewer than two levels (or missing values) in "
                         "the analysed data and is left out of the model")
    return used, notes


def covariate_matrix(frame: pd.DataFrame, strata: Sequence[str]) -> tuple[Array, list[str]]:
    """BASE and treatment-coded dummies of each stratum (first level in sorted order is the
    reference)."""
    cols = [frame["BASE"].to_numpy(dtype=float)]
    names = ["BASE"]
    for col in strata:
        levels = sorted(frame[col].dropna().unique().tolist())
        for lev in levels[1:]:
            cols.append((frame[col] == lev).to_numpy(dtype=float))
            names.append(f"{col}[{lev}]")
    return np.column_stack(cols), names
