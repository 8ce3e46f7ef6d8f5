"""Leave-one-out, influence, Egger's test and trim-and-fill: checked against their definitions
(refits by hand, the classic Egger regression, mirror images of trimmed studies)."""

from __future__ import annotations

import numpy as np
import pytest

from strokecell.errors import ModelError
from strokecell.stats.meta import (
    influence,
    leave_one_out,
    regtest,
    rma,
    trimfill,
)

RNG = np.random.default_rng(20261126)
VI = RNG.uniform(0.01, 0.3, 15)
YI = RNG.normal(-0.4, np.sqrt(VI + 0.1))


@pytest.mark.parametrize(("method", "test"), [("REML", "z"), ("DL", "knha"), ("EE", "z")])
def test_leave_one_out_equals_refits(method: str, test: str) -> None:
    res = rma(YI, VI, method=method, test=test)
    loo = leave_one_out(res)
    for i in (0, 7, 14):
        keep = np.arange(15) != i
        alone = rma(YI[keep], VI[keep], method=method, test=test)
        assert loo.estimate[i] == pytest.approx(alone.estimate, rel=1e-12)
        assert loo.se[i] == pytest.approx(alone.se, rel=1e-12)
        assert loo.tau2[i] == pytest.approx(alone.tau2, rel=1e-12, abs=1e-15)
        assert loo.Q[i] == pytest.approx(alone.QE, rel=1e-12)
    assert len(loo.to_dict()) == 15


def test_influence_definitions() -> None:
    res = rma(YI, VI, method="REML", mods={"x": np.arange(15.0)})
    inf = influence(res)
    assert inf.hat.sum() == pytest.approx(res.p, rel=1e-10)  # trace of the hat matrix
    assert inf.weight.sum() == pytest.approx(100, rel=1e-12)
    i = 3
    keep = np.arange(15) != i
    alone = rma(YI[keep], VI[keep], method="REML", mods={"x": np.arange(15.0)[keep]})
    assert inf.tau2_del[i] == pytest.approx(alone.tau2, rel=1e-10)
    d = res.beta[1:] - alone.beta[1:]
    cook = float(d @ np.linalg.inv(res.vb[1:, 1:]) @ d)
    assert inf.cook_d[i] == pytest.approx(cook, rel=1e-8)
    cov_r = float(np.linalg.det(alone.vb[1:, 1:]) / np.linalg.det(res.vb[1:, 1:]))
    assert inf.cov_r[i] == pytest.approx(cov_r, rel=1e-8)
    pred = float(res.X[i] @ alone.beta)
    se = np.sqrt(VI[i] + alone.tau2 + res.X[i] @ alone.vb @ res.X[i])
    assert inf.rstudent[i] == pytest.approx((YI[i] - pred) / se, rel=1e-8)
    assert inf.dfbetas.shape == (15, 2) and len(inf.to_dict()) == 15


def test_egger_rma_is_the_sei_moderator_test() -> None:
    res = rma(YI, VI, method="REML")
    eg = regtest(res)
    fit = rma(YI, VI, method="REML", mods={"sei": np.sqrt(VI)})
    assert eg.stat == pytest.approx(float(fit.stat_beta[1]), rel=1e-12)
    assert eg.pval == pytest.approx(float(fit.pval_beta[1]), rel=1e-12)
    assert eg.limit_estimate == pytest.approx(float(fit.beta[0]), rel=1e-12)


def test_egger_lm_is_the_classic_regression() -> None:
    # Egger (1997): regress y/se on 1/se by OLS; the intercept tests asymmetry.
    sei = np.sqrt(VI)
    A = np.column_stack([np.ones(15), 1 / sei])
    coef, *_ = np.linalg.lstsq(A, YI / sei, rcond=None)
    resid = YI / sei - A @ coef
    s2 = resid @ resid / 13
    se0 = np.sqrt(s2 * np.linalg.inv(A.T @ A)[0, 0])
    eg = regtest(rma(YI, VI, method="EE"), model="lm")
    assert eg.stat == pytest.approx(coef[0] / se0, rel=1e-10)
    assert eg.df == 13


def test_trimfill_balanced_ranks_need_no_studies() -> None:
    # centred values with signed ranks +1 -2 -3 +4 -5 +6 +7 -8: S_r = 18 = k(k+1)/4, so
    # L0 = (4·18 - 72)/15 = 0 on either side
    yi = 0.3 + np.array([0.1, -0.2, -0.3, 0.4, -0.5, 0.6, 0.7, -0.8])
    res = rma(yi, np.full(8, 0.04), method="EE")
    for side in ("left", "right"):
        tf = trimfill(res, side=side)
        assert tf.k0 == 0 and tf.result is tf.original


def test_trimfill_fills_the_missing_side_with_mirror_images() -> None:
    vi = np.array([0.005, 0.01, 0.02, 0.04, 0.06, 0.09, 0.12, 0.16, 0.2, 0.25])
    yi = 0.2 + 1.2 * np.sqrt(vi) + np.array([0, .02, -.02, .01, -.01, .03, -.03, 0, .01, -.01])
    res = rma(yi, vi, method="EE")
    tf = trimfill(res)
    assert tf.side == "left" and tf.k0 >= 1
    assert tf.result.k == res.k + tf.k0
    # the filled studies mirror the k0 largest studies about the trimmed estimate
    trimmed = rma(np.sort(yi)[: res.k - tf.k0], vi[np.argsort(yi)][: res.k - tf.k0],
                  method="EE")
    mirrored = 2 * trimmed.estimate - np.sort(yi)[res.k - tf.k0:]
    np.testing.assert_allclose(tf.filled_yi, mirrored, rtol=1e-12)
    assert tf.result.estimate < res.estimate
    right = trimfill(rma(-yi, vi, method="EE"))
    assert right.side == "right" and right.k0 == tf.k0


def test_diagnostics_refuse_what_they_cannot_do() -> None:
    reg = rma(YI, VI, mods={"x": np.arange(15.0)})
    with pytest.raises(ModelError, match="moderators"):
        trimfill(reg)
    with pytest.raises(ModelError, match="moderators"):
        leave_one_out(reg)
