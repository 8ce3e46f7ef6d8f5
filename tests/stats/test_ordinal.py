"""Proportional-odds model: against statsmodels OrderedModel (an independent fit by a
general optimiser with a numerical Hessian), the score test against a finite-difference
computation of the same statistic and against the likelihood-ratio test, and the
non-estimable cases."""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
import pytest
from scipy import special, stats

from strokecell.errors import ModelError
from strokecell.stats.ordinal import fit_proportional_odds

Array = npt.NDArray[np.float64]


def _latent(n: int, seed: int) -> tuple[Array, Array]:
    """mRS-like outcome 0..6 from a logistic latent variable: arm effect and a covariate."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n).astype(float)
    base = rng.normal(0.0, 1.0, n)
    latent = -0.7 * arm + 0.9 * base + rng.logistic(size=n)
    y = np.digitize(latent, [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]).astype(float)
    return y, np.column_stack([arm, base])


def _statsmodels_fit(y: Array, x: Array) -> tuple[Array, Array, float, Array]:
    om = pytest.importorskip("statsmodels.miscmodels.ordinal_model")
    model = om.OrderedModel(y, x, distr="logit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(method="bfgs", disp=False, maxiter=5000, gtol=1e-10)
    p = x.shape[1]
    return (np.asarray(res.params[:p]), np.asarray(res.bse[:p]), float(res.llf),
            np.asarray(model.transform_threshold_params(res.params)[1:-1]))


@pytest.mark.parametrize("seed", [1, 2])
def test_matches_statsmodels_ordered_model(seed: int) -> None:
    y, x = _latent(300, seed)
    fit = fit_proportional_odds(y, x, ["arm", "base"])
    beta, se, llf, cuts = _statsmodels_fit(y, x)
    assert fit.loglik == pytest.approx(llf, abs=1e-6)
    assert np.allclose(fit.beta, beta, atol=1e-5)
    assert np.allclose(fit.thresholds, cuts, atol=1e-5)
    assert np.allclose(fit.beta_se, se, rtol=1e-4)  # statsmodels: numerical Hessian
    row = fit.coefficients()[0]
    assert row["odds_ratio"] == pytest.approx(np.exp(beta[0]), rel=1e-5)
    assert row["or_lower"] == pytest.approx(np.exp(beta[0] - 1.959964 * se[0]), rel=1e-4)


def test_matches_statsmodels_on_a_simulated_trial() -> None:
    from pathlib import Path

    from strokecell.protocol import load_protocol
    from strokecell.simulate import Scenario, simulate_patients

    ref = Path(__file__).resolve().parents[2] / "protocols" / "reference-ich-ia-ucmsc.yaml"
    cohort = simulate_patients(load_protocol(ref), 200, np.random.default_rng(5),
                               scenario=Scenario(effects={"mbi": 10}))
    y, arm, base = [], [], []
    for i, p in enumerate(cohort.patients):
        course = p.course("transplant" if i % 2 else "control")
        last = course.visits[-1]
        mrs = 6.0 if course.death_date else last.totals.get("mrs")
        if mrs is None:
            continue
        y.append(mrs)
        arm.append(float(i % 2))
        base.append(course.visits[0].totals["mrs"])
    x = np.column_stack([arm, base])
    fit = fit_proportional_odds(np.array(y), x, ["arm", "base_mrs"])
    beta, se, llf, _ = _statsmodels_fit(np.array(y), x)
    assert fit.loglik == pytest.approx(llf, abs=1e-6)
    assert np.allclose(fit.beta, beta, atol=1e-5)
    assert np.allclose(fit.beta_se, se, rtol=1e-4)


def _partial_logp(w: Array, cat: int, x: Array, z: Array, n_cat: int) -> Array:
    """log P(Y = cat) of the partial proportional-odds model, coded independently."""
    k, p, q = n_cat - 1, x.shape[1], z.shape[1]
    theta, beta = w[:k], w[k:k + p]
    gamma = np.zeros((k, q))
    gamma[1:] = w[k + p:].reshape(q, k - 1).T

    def cum(j: int) -> Array:
        if j < 0:
            return np.zeros(x.shape[0])
        if j >= k:
            return np.ones(x.shape[0])
        return special.expit(theta[j] - x @ beta - z @ gamma[j])

    return np.log(cum(cat) - cum(cat - 1))


def test_score_test_equals_a_finite_difference_computation() -> None:
    y, x = _latent(250, 3)
    y = np.minimum(y, 3.0)  # four categories
    fit = fit_proportional_odds(y, x, ["arm", "base"])
    test = fit.score_test()
    n_cat, z = 4, x
    w0 = np.concatenate([fit.thresholds, fit.beta, np.zeros(2 * (n_cat - 2))])
    codes = y.astype(int)
    h = 1e-6

    def grads(cat: int) -> Array:  # n x K numerical scores of log P(Y = cat)
        cols = []
        for j in range(w0.size):
            e = np.zeros(w0.size)
            e[j] = h
            cols.append((_partial_logp(w0 + e, cat, x, z, n_cat) -
                         _partial_logp(w0 - e, cat, x, z, n_cat)) / (2 * h))
        return np.column_stack(cols)

    score = np.zeros(w0.size)
    info = np.zeros((w0.size, w0.size))
    for cat in range(n_cat):
        g = grads(cat)
        score += g[codes == cat].sum(axis=0)
        prob = np.exp(_partial_logp(w0, cat, x, z, n_cat))
        info += g.T @ (g * prob[:, None])
    expected = float(score @ np.linalg.solve(info, score))
    assert test.df == 4
    assert test.statistic == pytest.approx(expected, rel=1e-5)
    assert test.p == pytest.approx(stats.chi2.sf(expected, 4), rel=1e-4)


def test_score_test_close_to_likelihood_ratio_with_one_binary_covariate() -> None:
    """With only an arm indicator the partial model is saturated (each arm its own
    distribution), so the likelihood-ratio statistic has a closed form; score and LR tests
    are asymptotically equivalent."""
    y, x = _latent(2000, 4)
    arm = x[:, :1]
    fit = fit_proportional_odds(y, arm, ["arm"])
    ll_sat = 0.0
    for a in (0.0, 1.0):
        counts = np.bincount(y[arm[:, 0] == a].astype(int))
        counts = counts[counts > 0]
        ll_sat += float((counts * np.log(counts / counts.sum())).sum())
    lr = 2.0 * (ll_sat - fit.loglik)
    test = fit.score_test(["arm"])
    assert test.df == 5
    assert test.statistic == pytest.approx(lr, rel=0.1, abs=0.5)


def test_detects_non_proportional_odds() -> None:
    rng = np.random.default_rng(8)
    n = 600
    arm = rng.integers(0, 2, n).astype(float)
    # treatment moves the middle categories but not the extremes: not proportional
    probs = np.where(arm[:, None] == 1, [0.3, 0.05, 0.3, 0.05, 0.3],
                     [0.1, 0.3, 0.2, 0.3, 0.1])
    y = np.array([rng.choice(5, p=pr) for pr in probs], dtype=float)
    assert fit_proportional_odds(y, arm[:, None], ["arm"]).score_test().p < 1e-6


def test_no_covariates_reproduces_cumulative_proportions() -> None:
    y = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 3], dtype=float)
    fit = fit_proportional_odds(y)
    cum = np.array([0.2, 0.5, 0.9])
    assert np.allclose(special.expit(fit.thresholds), cum, atol=1e-8)


def test_all_in_one_category_is_not_estimable() -> None:
    with pytest.raises(ModelError, match="one category"):
        fit_proportional_odds(np.full(10, 6.0), np.arange(10.0)[:, None] % 2)


def test_separation_is_not_estimable() -> None:
    arm = np.array([0.0] * 10 + [1.0] * 10)
    y = np.array([4.0] * 5 + [5.0] * 5 + [1.0] * 5 + [2.0] * 5)
    with pytest.raises(ModelError, match="separates the categories"):
        fit_proportional_odds(y, arm[:, None], ["arm"])


def test_constant_covariate_and_bad_input() -> None:
    with pytest.raises(ModelError, match="'arm' is constant"):
        fit_proportional_odds(np.array([0.0, 1.0, 2.0]), np.ones((3, 1)), ["arm"])
    with pytest.raises(ModelError, match="missing"):
        fit_proportional_odds(np.array([0.0, np.nan, 2.0]))
    with pytest.raises(ModelError, match="collinear"):
        x = np.column_stack([np.arange(6.0), 2 * np.arange(6.0)])
        fit_proportional_odds(np.array([0.0, 1, 0, 1, 2, 2]), x)
