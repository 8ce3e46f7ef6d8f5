"""Kenward-Roger and Satterthwaite against R (lme4 + lmerTest + pbkrtest).

Expected numbers: ``tests/stats/mmrm/reference/lmer_kr.json`` (made by ``make_lmer_kr.R``
beside it): the random-intercept model of fev_data, which is the compound-symmetry MMRM
(Sigma = CS * J + Residual * I, linear in SAS's parameters, so no second-derivative term).

* Satterthwaite (lmerTest, observed information): coefficient df, type III F and df.
* Kenward-Roger (pbkrtest): pbkrtest uses the expected information for the covariance of
  the variance parameters (as Kenward & Roger 1997); ``information="expected"`` selects it.
  Adjusted SEs, df and scaled F tests then agree to rounding. The default, observed
  information (SAS's and mmrm's default), is checked for consistency only.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest
from mmrm_refdata import LOCAL

from strokecell.stats.mmrm import fit_mmrm

FORMULA = "FEV1 ~ ARMCD * AVISIT + RACE + SEX + cs(AVISIT | USUBJID)"


@pytest.fixture(scope="module")
def lmer_ref() -> Any:
    import json

    path = LOCAL / "lmer_kr.json"
    return json.loads(path.read_text())


def _r_name(name: str) -> str:
    return "(Intercept)" if name == "Intercept" else re.sub(r"\[T\.([^\]]*)\]", r"\1", name)


@pytest.mark.parametrize(("method", "information", "suffix"), [
    ("kenward-roger", "expected", "kr"),
    ("satterthwaite", "observed", "satterthwaite"),
])
def test_against_lmer(fev: pd.DataFrame, lmer_ref: Any, method: str, information: str,
                      suffix: str) -> None:
    """lmer_kr.json: neg2_reml, cs, coefficients_<suffix>, type3_<suffix>."""
    res = fit_mmrm(fev, FORMULA, df=method, information=information)
    assert res.neg2_loglik == pytest.approx(lmer_ref["neg2_reml"], abs=1e-3)
    params = res.covariance_parameters().set_index("parameter").estimate
    assert params["CS"] == pytest.approx(lmer_ref["cs"]["between"], rel=1e-4)
    assert params["Residual"] == pytest.approx(lmer_ref["cs"]["residual"], rel=1e-4)
    coefs = res.coefficients.assign(r=lambda c: c.term.map(_r_name)).set_index("r")
    for row in lmer_ref[f"coefficients_{suffix}"]:
        got = coefs.loc[row["term"]]
        assert got.estimate == pytest.approx(row["estimate"], rel=1e-5, abs=1e-6)
        assert got.se == pytest.approx(row["se"], rel=1e-5)
        assert got.df == pytest.approx(row["df"], rel=1e-5)
    t3 = res.type3().set_index("term")
    for row in lmer_ref[f"type3_{suffix}"]:
        got = t3.loc[row["term"]]
        assert got.num_df == row["num_df"]
        assert got.den_df == pytest.approx(row["den_df"], rel=1e-5)
        assert pytest.approx(row["F"], rel=1e-5) == got.F


def test_observed_information_kr_is_close(fev: pd.DataFrame, lmer_ref: Any) -> None:
    """SAS's default (observed information) differs from pbkrtest's only slightly here."""
    res = fit_mmrm(fev, FORMULA, df="kenward-roger")
    t3 = res.type3().set_index("term")
    for row in lmer_ref["type3_kr"]:
        assert t3.loc[row["term"]].den_df == pytest.approx(row["den_df"], rel=0.02)
        assert pytest.approx(row["F"], rel=1e-3) == t3.loc[row["term"]].F
