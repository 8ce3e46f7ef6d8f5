"""The vectorised batch (``fit_mmrm_vectorized``) against ``fit_mmrm`` fitted one trial at a time.

Trials come from the virtual-patient model of the reference protocol (45 patients, 4
post-baseline visits, deaths, dropout and missed visits: several missing-visit patterns per
trial). The engine itself is validated against SAS and R (test_mmrm_sas.py, test_mmrm_nlme.py);
here the batch must reproduce it: estimate, SE and Satterthwaite df of the primary contrast to
1e-6 relative, -2 REML log-likelihood to 1e-6 absolute.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from strokecell.errors import ModelError
from strokecell.protocol import load_protocol
from strokecell.simulate import Scenario, simulate_trials
from strokecell.stats.mmrm import (
    arm_visit_contrast,
    arm_visit_design,
    fit_mmrm,
    fit_mmrm_vectorized,
)

REFERENCE = Path(__file__).resolve().parents[3] / "protocols" / "reference-ich-ia-ucmsc.yaml"
FORMULA = "CHG ~ ARMCD * AVISIT + BASE + us(AVISIT | USUBJID)"


def _trials(n_trials: int, per_arm: tuple[int, int], seed: int, effect: float = 8.0
            ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, str]:
    arrays = simulate_trials(load_protocol(REFERENCE),
                             {"transplant": per_arm[0], "control": per_arm[1]}, n_trials,
                             np.random.default_rng(seed),
                             scenario=Scenario(effects={"mbi": effect}))
    post = [k for k in range(len(arrays.visit_codes)) if k != arrays.baseline_index]
    control = arrays.arm_codes.index("control")
    x, names = arm_visit_design(arrays.arm, arrays.base, len(post), len(arrays.arm_codes),
                                control)
    lvec = arm_visit_contrast(names, arrays.arm_codes.index("transplant"),
                              post.index(arrays.primary_index))
    return (arrays.to_frame(), arrays.chg[:, :, post], x, lvec,
            arrays.visit_codes[arrays.primary_index])


def _single(frame: pd.DataFrame, visit: str, *, reml: bool = True
            ) -> tuple[float, float, float, float, bool]:
    res = fit_mmrm(frame, FORMULA, reference={"ARMCD": "control"}, reml=reml)
    tab = res.contrasts("ARMCD", by="AVISIT")
    row = tab[(tab["AVISIT"] == visit) & (tab["label"] == "transplant - control")].iloc[0]
    return (float(row["estimate"]), float(row["se"]), float(row["df"]), res.neg2_loglik,
            res.converged)


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


@pytest.mark.parametrize(("per_arm", "seed"), [((22, 23), 20261126), ((10, 11), 7)])
def test_vectorised_equals_single_fits(per_arm: tuple[int, int], seed: int) -> None:
    """50 reference-size trials (and 30 small ones): every number as fit_mmrm's."""
    n_trials = 50 if per_arm[0] == 22 else 30
    frame, chg, x, lvec, visit = _trials(n_trials, per_arm, seed)
    fit = fit_mmrm_vectorized(chg, x, lvec)
    assert fit.estimable.all()
    compared = 0
    for i in range(n_trials):
        est, se, df, ll, conv = _single(frame[frame["TRIAL"] == i], visit)
        assert conv == bool(fit.converged[i]), f"trial {i}: convergence differs"
        if not conv:
            continue
        compared += 1
        assert _rel(fit.estimate[i], est) < 1e-6, (i, fit.estimate[i], est)
        assert _rel(fit.se[i], se) < 1e-6, (i, fit.se[i], se)
        assert _rel(fit.df[i], df) < 1e-6, (i, fit.df[i], df)
        assert abs(fit.neg2_loglik[i] - ll) < 1e-6, (i, fit.neg2_loglik[i], ll)
    assert compared >= n_trials - 1
    assert np.all(fit.n_subjects <= sum(per_arm))


def test_vectorised_ml_equals_single_fits() -> None:
    frame, chg, x, lvec, visit = _trials(8, (22, 23), 11)
    fit = fit_mmrm_vectorized(chg, x, lvec, reml=False)
    for i in range(8):
        est, se, df, ll, conv = _single(frame[frame["TRIAL"] == i], visit, reml=False)
        assert conv and fit.converged[i]
        assert _rel(fit.estimate[i], est) < 1e-6
        assert _rel(fit.se[i], se) < 1e-6
        assert _rel(fit.df[i], df) < 1e-6
        assert abs(fit.neg2_loglik[i] - ll) < 1e-6


def test_p_values_and_intervals_follow_the_t_distribution() -> None:
    from scipy import stats

    _, chg, x, lvec, _ = _trials(5, (22, 23), 3)
    fit = fit_mmrm_vectorized(chg, x, lvec)
    p = fit.p_value()
    expected = 2 * stats.t.sf(np.abs(fit.estimate / fit.se), fit.df)
    assert np.allclose(p, expected)
    lo, hi = fit.confidence_interval(0.95)
    assert np.all(lo < fit.estimate) and np.all(fit.estimate < hi)


def test_a_trial_without_an_estimable_design_is_flagged_not_fitted() -> None:
    _, chg, x, lvec, _ = _trials(3, (22, 23), 5)
    chg = chg.copy()
    treated = x[1, :, 1, 4] == 1.0        # ARM column of the design
    chg[1][treated, 3] = np.nan            # no treated patient seen at the last visit
    fit = fit_mmrm_vectorized(chg, x, lvec)
    assert list(fit.estimable) == [True, False, True]
    assert not fit.converged[1] and np.isnan(fit.estimate[1])
    assert fit.converged[0] and fit.converged[2]


def test_bad_shapes_are_refused() -> None:
    _, chg, x, lvec, _ = _trials(2, (22, 23), 5)
    with pytest.raises(ModelError, match="contrast"):
        fit_mmrm_vectorized(chg, x, lvec[:-1])
    with pytest.raises(ModelError, match="trials, subjects, visits"):
        fit_mmrm_vectorized(chg[0], x, lvec)


def test_chunks_concatenate_to_the_whole() -> None:
    from strokecell.stats.mmrm import VectorizedFit

    _, chg, x, lvec, _ = _trials(6, (22, 23), 13)
    whole = fit_mmrm_vectorized(chg, x, lvec)
    parts = VectorizedFit.concat([fit_mmrm_vectorized(chg[:2], x[:2], lvec),
                                  fit_mmrm_vectorized(chg[2:], x[2:], lvec)])
    assert parts.n_trials == 6
    assert np.allclose(parts.estimate, whole.estimate, rtol=1e-9)
    assert np.allclose(parts.df, whole.df, rtol=1e-7)
