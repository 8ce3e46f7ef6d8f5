"""Model fitting against closed forms worked by hand, and properties every fit must have."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from strokecell.errors import InputError, ModelError
from strokecell.stats.meta import METHODS, RE_METHODS, Control, rma, subgroup_analysis

# Small data worked by hand: w = 1/v = (100, 50, 25), Σw = 175, Σw² = 13125.
YI = [0.1, 0.3, 0.5]
VI = [0.01, 0.02, 0.04]


def test_equal_effects_is_the_inverse_variance_average() -> None:
    res = rma(YI, VI, method="EE")
    assert res.estimate == pytest.approx(37.5 / 175, rel=1e-14)  # = 3/14
    assert res.se == pytest.approx(math.sqrt(1 / 175), rel=1e-14)
    assert pytest.approx(26 / 7, rel=1e-13) == res.QE  # Σw(y - 3/14)²
    assert res.QEp == pytest.approx(stats.chi2.sf(26 / 7, 2), rel=1e-12)
    assert pytest.approx(100 * (26 / 7 - 2) / (26 / 7), rel=1e-12) == res.I2
    assert pytest.approx(13 / 7, rel=1e-12) == res.H2
    z = (3 / 14) / math.sqrt(1 / 175)
    assert res.pval == pytest.approx(2 * stats.norm.sf(z), rel=1e-12)
    assert res.ci_lb == pytest.approx(3 / 14 - stats.norm.isf(0.025) / math.sqrt(175))
    assert res.tau2 == 0 and res.pi_lb is None


def test_dersimonian_laird_by_hand() -> None:
    # tau² = (Q - (k-1)) / (Σw - Σw²/Σw) = (26/7 - 2) / (175 - 75) = 3/175
    res = rma(YI, VI, method="DL")
    assert res.tau2 == pytest.approx(3 / 175, rel=1e-12)
    w = np.array([700 / 19, 700 / 26, 700 / 40])  # 1/(v + 3/175)
    est = float(np.sum(w * np.array(YI)) / w.sum())
    assert res.estimate == pytest.approx(est, rel=1e-12)
    assert res.se == pytest.approx(1 / math.sqrt(w.sum()), rel=1e-12)
    # I² with the typical variance (k-1)/tr(P) equals (Q-(k-1))/Q for DL
    assert pytest.approx(100 * 12 / 26, rel=1e-12) == res.I2
    half = stats.norm.isf(0.025) * math.sqrt(1 / w.sum() + 3 / 175)
    assert (res.pi_lb, res.pi_ub) == pytest.approx((est - half, est + half), rel=1e-12)


def test_knapp_hartung_scales_the_variance_and_uses_t() -> None:
    z = rma(YI, VI, method="DL")
    k = rma(YI, VI, method="DL", test="knha")
    w = 1 / (np.array(VI) + z.tau2)
    s2 = float(np.sum(w * (np.array(YI) - z.estimate) ** 2)) / 2
    assert k.se == pytest.approx(z.se * math.sqrt(s2), rel=1e-12)
    crit = stats.t.isf(0.025, 2)
    assert k.ci_ub == pytest.approx(z.estimate + crit * k.se, rel=1e-12)
    half = crit * math.sqrt(k.se**2 + z.tau2)
    assert k.pi_ub == pytest.approx(z.estimate + half, rel=1e-12)


@pytest.mark.parametrize("method", RE_METHODS)
def test_zero_heterogeneity_random_equals_equal_effects(method: str) -> None:
    yi, vi = [0.2, 0.2, 0.2, 0.2], [0.01, 0.03, 0.02, 0.05]
    ee, re = rma(yi, vi, method="EE"), rma(yi, vi, method=method)
    assert re.tau2 == 0
    assert re.estimate == pytest.approx(ee.estimate, rel=1e-14)
    assert re.se == pytest.approx(ee.se, rel=1e-14)


@pytest.mark.parametrize("method", RE_METHODS)
def test_homogeneous_data_truncate_tau2_at_zero(method: str) -> None:
    yi, vi = [0.10, 0.11, 0.12, 0.105], [0.04, 0.05, 0.06, 0.05]
    re = rma(yi, vi, method=method)
    if re.tau2 == 0:
        assert re.estimate == pytest.approx(rma(yi, vi, method="EE").estimate, rel=1e-14)
    assert re.tau2 >= 0


def test_estimators_agree_with_their_defining_equations() -> None:
    rng = np.random.default_rng(20261126)
    vi = rng.uniform(0.01, 0.2, 12)
    yi = rng.normal(0.3, np.sqrt(vi + 0.5))
    pm = rma(yi, vi, method="PM")
    assert pm.tau2 > 0  # Σ w (y - μ̂)² = k - 1 at the root
    w = 1 / (vi + pm.tau2)
    assert np.sum(w * (yi - pm.estimate) ** 2) == pytest.approx(11, rel=1e-9)
    reml = rma(yi, vi, method="REML")  # REML score equation: y'PPy = tr(P)
    w = 1 / (vi + reml.tau2)
    P = np.diag(w) - np.outer(w, w) / w.sum()
    assert float(yi @ P @ P @ yi) == pytest.approx(float(np.trace(P)), rel=1e-8)
    assert reml.se_tau2 == pytest.approx(math.sqrt(2 / float(np.sum(P * P))), rel=1e-12)
    ml = rma(yi, vi, method="ML")  # ML: y'PPy = Σw
    w = 1 / (vi + ml.tau2)
    P = np.diag(w) - np.outer(w, w) / w.sum()
    assert float(yi @ P @ P @ yi) == pytest.approx(float(w.sum()), rel=1e-8)
    he = rma(yi, vi, method="HE")
    yc = yi - yi.mean()
    assert he.tau2 == pytest.approx((yc @ yc - np.sum(vi) * 11 / 12) / 11, rel=1e-10)
    hs = rma(yi, vi, method="HS")
    w0 = 1 / vi
    q = float(np.sum(w0 * (yi - np.sum(w0 * yi) / w0.sum()) ** 2))
    assert hs.tau2 == pytest.approx(max(0.0, (q - 12) / w0.sum()), rel=1e-10)
    sj = rma(yi, vi, method="SJ")
    t0 = float(np.mean(yc**2))
    w1 = 1 / (vi + t0)
    q1 = float(np.sum(w1 * (yi - np.sum(w1 * yi) / w1.sum()) ** 2))
    assert sj.tau2 == pytest.approx(t0 * q1 / 11, rel=1e-10)
    eb = rma(yi, vi, method="EB")  # EB: Σw(y-μ̂)² k/(k-1) = k
    w = 1 / (vi + eb.tau2)
    assert np.sum(w * (yi - eb.estimate) ** 2) * 12 / 11 == pytest.approx(12, rel=1e-8)


def test_metafor_default_stopping_rule_is_available() -> None:
    rng = np.random.default_rng(1)
    vi = rng.uniform(0.01, 0.2, 10)
    yi = rng.normal(0, np.sqrt(vi + 0.2))
    tight = rma(yi, vi, method="REML")
    loose = rma(yi, vi, method="REML", control=Control.metafor_defaults())
    assert loose.tau2 == pytest.approx(tight.tau2, rel=1e-3)


def test_meta_regression_identities() -> None:
    rng = np.random.default_rng(7)
    k = 14
    x = rng.uniform(0, 10, k)
    g = np.array(["a", "b"] * 7)
    vi = rng.uniform(0.02, 0.1, k)
    yi = 0.1 + 0.05 * x + rng.normal(0, np.sqrt(vi + 0.05))
    z = rma(yi, vi, mods={"x": x, "g": g})
    kh = rma(yi, vi, mods={"x": x, "g": g}, test="knha")
    assert z.coef_names == ("intrcpt", "x", "gb")
    assert pytest.approx(z.QM / (2 * kh.s2w), rel=1e-10) == kh.QM
    assert kh.QM_df == (2, k - 3)
    assert kh.QMp == pytest.approx(stats.f.sf(kh.QM, 2, k - 3), rel=1e-10)
    base = rma(yi, vi)
    assert pytest.approx(max(0.0, 100 * (base.tau2 - z.tau2) / base.tau2), rel=1e-12) == z.R2
    assert z.to_dict()["QM"] == z.QM and len(z.to_dict()["coefficients"]) == 3


def test_subgroup_q_between_is_fixed_effect_q_of_the_subgroup_estimates() -> None:
    rng = np.random.default_rng(3)
    vi = rng.uniform(0.02, 0.1, 12)
    yi = rng.normal(0.2, 0.3, 12)
    grp = ["x", "y", "z"] * 4
    res = subgroup_analysis(yi, vi, subgroup=grp, method="REML")
    est = np.array([f.estimate for f in res.fits])
    w = 1 / np.array([f.se for f in res.fits]) ** 2
    q = float(np.sum(w * (est - np.sum(w * est) / w.sum()) ** 2))
    assert res.Q_between == pytest.approx(q, rel=1e-12)
    assert res.Q_between_df == 2
    for lev, fit in zip(res.levels, res.fits, strict=True):
        idx = [i for i, gg in enumerate(grp) if gg == lev]
        alone = rma(yi[idx], vi[idx], method="REML")
        assert fit.tau2 == pytest.approx(alone.tau2, rel=1e-14)


def test_missing_studies_dropped_and_counted() -> None:
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        res = rma([0.1, None, 0.5, 0.2], [0.01, 0.02, float("nan"), 0.03], method="DL")
    assert res.k == 2 and res.k_dropped == 2 and res.to_dict()["k_dropped"] == 2


def test_confidence_level() -> None:
    r90 = rma(YI, VI, method="EE", level=90)
    assert r90.ci_ub - r90.estimate == pytest.approx(stats.norm.isf(0.05) * r90.se)


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"yi": YI, "vi": [0.01, -0.02, 0.04]}, InputError, "vi"),
        ({"yi": YI, "vi": VI, "method": "XYZ"}, InputError, "method"),
        ({"yi": YI, "vi": VI, "test": "f"}, InputError, "test"),
        ({"yi": YI, "vi": VI[:2]}, InputError, "vi"),
        ({"yi": YI, "vi": VI, "mods": {"x": [1, 2, 3], "z": [3, 1, 2]}}, ModelError, "too few"),
        ({"yi": YI[:1] * 2, "vi": [0.0, 0.0], "method": "DL"}, ModelError, "vi > 0"),
        ({"yi": YI, "vi": VI, "mods": {"x": [1, 2]}}, InputError, "x"),
        ({"yi": YI, "vi": VI, "level": 120}, InputError, "level"),
    ],
)
def test_errors_name_the_problem(kwargs: dict[str, object], error: type[Exception],
                                 needle: str) -> None:
    yi, vi = kwargs.pop("yi"), kwargs.pop("vi")
    with pytest.raises(error, match=needle):
        rma(yi, vi, **kwargs)  # type: ignore[arg-type]


_data = st.integers(3, 12).flatmap(lambda k: st.tuples(
    st.lists(st.floats(-3, 3), min_size=k, max_size=k),
    st.lists(st.floats(0.001, 1.0), min_size=k, max_size=k),
    st.permutations(list(range(k)))))


@pytest.mark.filterwarnings("ignore:Fisher scoring may have stopped:RuntimeWarning")
@settings(max_examples=40, deadline=None)
@given(_data, st.sampled_from(METHODS))
def test_estimate_within_the_range_and_order_free(data: tuple[list[float], list[float],
                                                              list[int]], method: str) -> None:
    yi, vi, perm = np.array(data[0]), np.array(data[1]), data[2]
    res = rma(yi, vi, method=method)
    slack = 1e-12 * max(1.0, float(np.max(np.abs(yi))))
    assert yi.min() - slack <= res.estimate <= yi.max() + slack
    assert res.tau2 >= 0
    shuffled = rma(yi[perm], vi[perm], method=method)
    assert shuffled.estimate == pytest.approx(res.estimate, rel=1e-8, abs=1e-10)
    assert shuffled.tau2 == pytest.approx(res.tau2, rel=1e-6, abs=1e-10)


def test_reml_where_fisher_scoring_cycles_still_finds_the_maximum() -> None:
    """Fisher scoring cycles on these data (found by hypothesis); the REML maximum is found
    directly, with a warning, and checked against the REML log-likelihood of an intercept-only
    model written out here (Viechtbauer 2005, eq. 11)."""
    from scipy.optimize import minimize_scalar

    yi = np.array([0.0] * 6 + [1.0])
    vi = np.array([1.0] * 6 + [0.125])

    def neg_reml(t: float) -> float:
        w = 1 / (vi + t)
        mu = float(np.sum(w * yi) / np.sum(w))
        return float(0.5 * np.sum(np.log(vi + t)) + 0.5 * np.log(np.sum(w))
                     + 0.5 * np.sum(w * (yi - mu) ** 2))

    expected = minimize_scalar(neg_reml, bounds=(0, 10), method="bounded",
                               options={"xatol": 1e-12}).x
    with pytest.warns(RuntimeWarning, match="direct maximisation"):
        res = rma(yi, vi, method="REML")
    assert res.tau2 == pytest.approx(expected, rel=1e-6)
