"""Risk difference and ratio, Wilson intervals, Rubin's rules: against published values and
hand computations."""

from __future__ import annotations

import math

import pytest

from strokecell.analysis import compare_proportions, rubin_pool, wilson_interval
from strokecell.errors import InputError


@pytest.mark.parametrize(("events", "n", "lower", "upper"), [
    # Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of
    # seven methods. Stat Med 1998;17:857-872, Table I, method 3 (Wilson score).
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718)])
def test_wilson_interval_newcombe_1998a(events: int, n: int, lower: float,
                                        upper: float) -> None:
    lo, hi = wilson_interval(events, n)
    assert lo == pytest.approx(lower, abs=5e-5) and hi == pytest.approx(upper, abs=5e-5)


@pytest.mark.parametrize(("counts", "lower", "upper"), [
    # Newcombe RG. Interval estimation for the difference between independent proportions:
    # comparison of eleven methods. Stat Med 1998;17:873-890, Table II, method 10 (score
    # interval hybrid, from Wilson intervals), examples (a), (b), (d)-(h).
    ((56, 70, 48, 80), 0.0524, 0.3339), ((9, 10, 3, 10), 0.1705, 0.8090),
    ((5, 56, 0, 29), -0.0381, 0.1926), ((0, 10, 0, 20), -0.1611, 0.2775),
    ((0, 10, 0, 10), -0.2775, 0.2775), ((10, 10, 0, 20), 0.6791, 1.0),
    ((10, 10, 0, 10), 0.6075, 1.0)])
def test_risk_difference_newcombe_1998b(counts: tuple[int, int, int, int], lower: float,
                                        upper: float) -> None:
    r = compare_proportions(*counts)
    assert r.rd == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert r.rd_lower == pytest.approx(lower, abs=5e-5)
    assert r.rd_upper == pytest.approx(upper, abs=5e-5)


def test_risk_ratio_log_wald_by_hand() -> None:
    # Katz et al. 1978: SE(log RR) = sqrt(1/a - 1/n1 + 1/c - 1/n2)
    r = compare_proportions(12, 40, 6, 42)
    rr = (12 / 40) / (6 / 42)
    se = math.sqrt(1 / 12 - 1 / 40 + 1 / 6 - 1 / 42)
    assert r.rr == pytest.approx(rr)
    assert r.rr_lower == pytest.approx(rr * math.exp(-1.959963985 * se), rel=1e-8)
    assert r.rr_upper == pytest.approx(rr * math.exp(1.959963985 * se), rel=1e-8)
    assert r.note == ""


def test_zero_cells() -> None:
    r = compare_proportions(0, 10, 5, 10)
    assert "0.5 added" in r.note
    a, b, c, d = 0.5, 10.5, 5.5, 5.5
    assert r.rr == pytest.approx((a / (a + b)) / (c / (c + d)))
    none = compare_proportions(0, 10, 0, 12)
    assert math.isnan(none.rr) and "not estimable" in none.note
    assert none.rd == 0.0 and none.rd_lower < 0 < none.rd_upper
    empty = compare_proportions(0, 0, 3, 10)
    assert math.isnan(empty.rd) and "no subjects" in empty.note
    with pytest.raises(InputError, match="events"):
        compare_proportions(5, 3, 1, 10)


def test_rubin_rules_by_hand() -> None:
    q = [1.00, 1.20, 0.90, 1.10]
    u = [0.040, 0.050, 0.045, 0.055]
    m, nu_com = 4, 30.0
    qbar = (1.00 + 1.20 + 0.90 + 1.10) / 4  # 1.05
    ubar = (0.040 + 0.050 + 0.045 + 0.055) / 4  # 0.0475
    b = ((1.00 - qbar) ** 2 + (1.20 - qbar) ** 2 + (0.90 - qbar) ** 2 +
         (1.10 - qbar) ** 2) / 3  # 0.0166667
    t = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t
    nu_old = (m - 1) / lam ** 2
    nu_obs = (nu_com + 1) / (nu_com + 3) * nu_com * (1 - lam)
    nu = 1 / (1 / nu_old + 1 / nu_obs)
    pooled = rubin_pool(q, u, nu_com)
    assert pooled.estimate == pytest.approx(1.05)
    assert pooled.within == pytest.approx(0.0475)
    assert pooled.between == pytest.approx(0.05 / 3)
    assert pooled.total == pytest.approx(0.0475 + 1.25 * 0.05 / 3)
    assert pooled.se == pytest.approx(math.sqrt(t))
    assert pooled.df == pytest.approx(nu)
    from scipy import stats
    crit = stats.t.ppf(0.975, nu)
    assert pooled.lower == pytest.approx(1.05 - crit * math.sqrt(t))


def test_rubin_rules_without_between_variance() -> None:
    pooled = rubin_pool([2.0, 2.0, 2.0], [0.1, 0.1, 0.1], 20.0)
    assert pooled.between == 0 and pooled.fmi_lambda == 0
    assert pooled.df == pytest.approx(21 / 23 * 20)  # nu_obs alone
    with pytest.raises(InputError, match="at least two"):
        rubin_pool([1.0], [0.1], 10.0)
