"""Checks that need no reference file: identities, closed forms and exact small-sample df."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from mmrm_refdata import FEV_FORMULA, simulate

from strokecell.errors import ModelError
from strokecell.stats.mmrm import MMRMResult, fit_mmrm, fit_mmrm_batch
from strokecell.stats.mmrm._api import _layout
from strokecell.stats.mmrm._fit import CovModel, estimate_at
from strokecell.stats.mmrm._structures import STRUCTURES, Structure


def test_reml_ml_identity_at_fixed_covariance(fev_us: MMRMResult) -> None:
    """-2 l_REML = -2 l_ML + log|X'V^-1 X| - p log(2 pi), same beta, at any Sigma."""
    lay = _layout(fev_us.data)
    cov = CovModel(Structure("us", 4), 1)
    theta = fev_us.estimate.theta
    reml = estimate_at(lay, cov, True, theta)
    ml = estimate_at(lay, cov, False, theta)
    p = fev_us.beta.size
    logdet = -np.linalg.slogdet(reml.fit.phi)[1]
    assert reml.objective == pytest.approx(ml.objective + logdet - p * math.log(2 * math.pi),
                                           abs=1e-8)
    np.testing.assert_allclose(reml.fit.beta, ml.fit.beta)


def test_lsmeans_and_type3_do_not_depend_on_reference(fev_us: MMRMResult,
                                                      fev_us_sas: MMRMResult) -> None:
    assert fev_us.neg2_loglik == pytest.approx(fev_us_sas.neg2_loglik, abs=1e-6)
    a = fev_us.lsmeans("ARMCD", by="AVISIT")
    b = fev_us_sas.lsmeans("ARMCD", by="AVISIT")
    np.testing.assert_allclose(a.estimate, b.estimate, rtol=1e-6)
    np.testing.assert_allclose(a.se, b.se, rtol=1e-5)
    fa = fev_us.type3().set_index("term").F
    fb = fev_us_sas.type3().set_index("term").F
    np.testing.assert_allclose(fa[fb.index], fb, rtol=1e-5)


@pytest.mark.parametrize("reml", [True, False])
def test_unstructured_complete_data_closed_form(reml: bool) -> None:
    """Complete data, saturated VIS x ARM means: Sigma = E / (n - 2) (REML) or E / n (ML)."""
    data = simulate(40, 3, seed=7)
    res = fit_mmrm(data, "Y ~ VIS * ARM + us(VIS | ID)", reml=reml)
    wide = data.pivot(index="ID", columns="VIS", values="Y")
    arm = data.groupby("ID").ARM.first().loc[wide.index]
    resid = wide - wide.groupby(arm).transform("mean")
    e = resid.to_numpy().T @ resid.to_numpy()
    n = len(wide)
    np.testing.assert_allclose(res.covariance(), e / (n - 2 if reml else n), rtol=1e-6)
    ls = res.lsmeans("ARM", by="VIS")
    cell = data.groupby(["ARM", "VIS"]).Y.mean()
    for _, row in ls.iterrows():
        assert row.estimate == pytest.approx(cell[(row.ARM, row.VIS)], rel=1e-9)


@pytest.mark.parametrize("df", ["satterthwaite", "kenward-roger", "kenward-roger-linear"])
def test_balanced_compound_symmetry_exact_df(df: str) -> None:
    """Balanced split-plot with cs: the F tests are exact, df n - 2 and (n - 2)(T - 1)."""
    data = simulate(30, 4, seed=3, rho=0.6)
    t3 = fit_mmrm(data, "Y ~ ARM * VIS + cs(VIS | ID)", df=df).type3().set_index("term")
    assert t3.loc["ARM", "den_df"] == pytest.approx(28, abs=1e-5)
    assert t3.loc["VIS", "den_df"] == pytest.approx(84, abs=1e-5)
    assert t3.loc["ARM:VIS", "den_df"] == pytest.approx(84, abs=1e-5)


def test_kenward_roger_unstructured_is_hotelling() -> None:
    """Complete balanced data, us: KR reproduces Hotelling's T^2 test exactly
    (Kenward & Roger 1997): df n - g - q + 1 and F = F_Wald (n - g - q + 1) / (n - g)."""
    data = simulate(30, 4, seed=5)
    f = "Y ~ ARM * VIS + us(VIS | ID)"
    kr = fit_mmrm(data, f, df="kenward-roger").type3().set_index("term")
    wald = fit_mmrm(data, f, df="residual").type3().set_index("term")
    n, g, q = 30, 2, 3
    for term in ("VIS", "ARM:VIS"):
        assert kr.loc[term, "den_df"] == pytest.approx(n - g - q + 1, abs=1e-6)
        assert kr.loc[term, "F"] == pytest.approx(
            wald.loc[term, "F"] * (n - g - q + 1) / (n - g), rel=1e-8)


def test_kenward_roger_properties(fev: pd.DataFrame) -> None:
    f = FEV_FORMULA.format(cov="us")
    sat = fit_mmrm(fev, f)
    kr = fit_mmrm(fev, f, df="kenward-roger")
    krl = fit_mmrm(fev, f, df="kenward-roger-linear")
    # us is linear in SAS's parameters: no second-derivative term, KR == KR-linear
    np.testing.assert_allclose(kr.vcov, krl.vcov, rtol=1e-10, atol=1e-12)
    # the adjustment inflates the covariance
    assert np.all(np.linalg.eigvalsh(kr.vcov - sat.vcov) > -1e-10)
    # one-dimensional KR df are Satterthwaite's (mmrm's documented identity)
    np.testing.assert_allclose(kr.coefficients.df, sat.coefficients.df, rtol=1e-8)
    # ar1 is not linear: the second-derivative term makes KR differ from KR-linear
    f1 = FEV_FORMULA.format(cov="ar1")
    a = fit_mmrm(fev, f1, df="kenward-roger").vcov
    b = fit_mmrm(fev, f1, df="kenward-roger-linear").vcov
    assert not np.allclose(a, b, rtol=1e-8)


def test_between_within_and_residual_df(fev_us: MMRMResult, fev: pd.DataFrame) -> None:
    f = FEV_FORMULA.format(cov="us")
    bw = fit_mmrm(fev, f, df="between-within").coefficients.set_index("term").df
    n_sub, n_obs = 197, 537
    between = n_sub - 1 - 4          # ARMCD, RACE (2), SEX
    within = n_obs - n_sub - 6       # AVISIT (3), ARMCD:AVISIT (3)
    assert bw["ARMCD[T.TRT]"] == between
    assert bw["RACE[T.White]"] == between
    assert bw["AVISIT[T.VIS2]"] == within
    assert bw["Intercept"] == within
    res = fit_mmrm(fev, f, df="residual").coefficients
    assert (res.df == n_obs - 11).all()


def test_empirical_is_the_sandwich(fev: pd.DataFrame) -> None:
    """The empirical covariance equals a subject-by-subject sandwich computed directly."""
    res = fit_mmrm(fev, FEV_FORMULA.format(cov="cs"), empirical=True)
    md = res.data
    sig = res.covariance()
    phi = res.estimate.fit.phi
    meat = np.zeros_like(phi)
    resid = md.y - md.x @ res.beta
    for s in range(len(md.subjects)):
        rows = np.flatnonzero(md.subject_index == s)
        v = md.visit_index[rows]
        u = md.x[rows].T @ np.linalg.solve(sig[np.ix_(v, v)], resid[rows])
        meat += np.outer(u, u)
    np.testing.assert_allclose(res.vcov, phi @ meat @ phi, rtol=1e-8)


def test_constant_weights_rescale_covariance(fev: pd.DataFrame) -> None:
    f = FEV_FORMULA.format(cov="us")
    plain = fit_mmrm(fev, f)
    weighted = fit_mmrm(fev, f, weights=np.full(len(fev), 2.0))
    np.testing.assert_allclose(weighted.beta, plain.beta, rtol=1e-6)
    np.testing.assert_allclose(weighted.covariance(), 2.0 * plain.covariance(), rtol=1e-4)


def test_grouped_covariance_equals_separate_fits(fev: pd.DataFrame) -> None:
    """With arm-specific means and covariances the likelihood separates by arm."""
    grouped = fit_mmrm(fev, "FEV1 ~ ARMCD * AVISIT + us(AVISIT | ARMCD / USUBJID)")
    total = 0.0
    for arm in ("PBO", "TRT"):
        sub = fit_mmrm(fev[fev["ARMCD"].eq(arm)], "FEV1 ~ AVISIT + us(AVISIT | USUBJID)")
        total += sub.neg2_loglik
        np.testing.assert_allclose(grouped.covariance(arm), sub.covariance(), rtol=1e-4)
    assert grouped.neg2_loglik == pytest.approx(total, abs=1e-5)
    out = grouped.to_dict()
    assert set(out["covariance"]) == {"PBO", "TRT"}


@pytest.mark.parametrize("structure", STRUCTURES)
def test_every_structure_fits_and_reports(fev: pd.DataFrame, structure: str) -> None:
    res = fit_mmrm(fev, FEV_FORMULA.format(cov=structure), df="kenward-roger")
    assert res.converged, res.convergence
    assert res.structure_used == structure
    sig = res.covariance()
    assert np.all(np.linalg.eigvalsh(sig) > 0)
    params = res.covariance_parameters()
    assert len(params) == Structure(structure, 4).n_theta
    assert np.isfinite(res.type3().den_df).all()


def test_structured_order_is_natural_whatever_the_reference(fev: pd.DataFrame) -> None:
    f = FEV_FORMULA.format(cov="ar1")
    a = fit_mmrm(fev, f)
    b = fit_mmrm(fev, f, reference={"AVISIT": "VIS4"})
    assert b.visits == ["VIS1", "VIS2", "VIS3", "VIS4"]
    assert a.neg2_loglik == pytest.approx(b.neg2_loglik, abs=1e-8)


def test_natural_sort_of_levels() -> None:
    data = simulate(20, 10, seed=2)
    res = fit_mmrm(data, "Y ~ ARM + VIS + ar1(VIS | ID)")
    assert res.visits == [f"V{i}" for i in range(1, 11)]


def test_missing_rows_are_dropped_and_counted(fev: pd.DataFrame) -> None:
    data = fev.copy()
    data.loc[1, "RACE"] = None  # a row with an outcome but no covariate
    res = fit_mmrm(data, FEV_FORMULA.format(cov="us"))
    assert res.n_dropped == 264
    assert res.n_obs == 536


def test_fallback_reports_the_structure_used() -> None:
    """V3 and V4 are never observed together: their us covariance is not identified."""
    data = simulate(60, 4, seed=11)
    rng = np.random.default_rng(0)
    drop = np.where(rng.random(60) < 0.5, "V3", "V4")
    data = data[data["VIS"].ne(data.ID.map(dict(zip(sorted(data.ID.unique()), drop,
                                                    strict=True))))]
    f = "Y ~ ARM * VIS + us(VIS | ID)"
    plain = fit_mmrm(data, f)
    assert not plain.converged
    res = fit_mmrm(data, f, fallback=["us", "toeph", "ar1h", "cs"])
    assert res.converged
    assert res.structure_used == "toeph"
    assert [a.structure for a in res.attempts] == ["us", "toeph"]
    assert not res.attempts[0].converged


def test_batch_equals_single_fits() -> None:
    frames = [simulate(45, 4, seed=s, p_missing=0.15, covariate=True) for s in range(4)]
    f = "Y ~ ARM * VIS + X + us(VIS | ID)"
    batch = fit_mmrm_batch(frames, f)
    assert len(batch) == 4
    for frame, got in zip(frames, batch, strict=True):
        assert got is not None
        one = fit_mmrm(frame, f)
        assert got.neg2_loglik == pytest.approx(one.neg2_loglik, abs=1e-7)
        np.testing.assert_allclose(got.beta, one.beta, rtol=1e-7)
        a = got.contrasts("ARM", by="VIS")
        b = one.contrasts("ARM", by="VIS")
        np.testing.assert_allclose(a[["estimate", "se", "df"]], b[["estimate", "se", "df"]],
                                   rtol=1e-6)
    long = pd.concat([fr.assign(REP=i) for i, fr in enumerate(frames)])
    again = fit_mmrm_batch(long, f, replicate="REP")
    assert [r.neg2_loglik for r in again if r] == pytest.approx(
        [r.neg2_loglik for r in batch if r], abs=1e-8)
    # a data set with no usable row keeps its place, as None
    empty = frames[0].assign(Y=np.nan)
    mixed = fit_mmrm_batch([frames[0], empty, frames[1]], f)
    assert mixed[1] is None and mixed[0] is not None and mixed[2] is not None
    assert mixed[2].neg2_loglik == pytest.approx(batch[1].neg2_loglik, abs=1e-7)


@pytest.mark.parametrize(("formula", "message"), [
    ("FEV1 ~ ARMCD", "no covariance term"),
    ("FEV1 ~ ARMCD + xx(AVISIT | USUBJID)", "not supported"),
    ("FEV1 ~ ARMCD + NOPE + us(AVISIT | USUBJID)", "'NOPE'"),
    ("FEV1 ~ ARMCD + us(AVISIT | USUBJID) + cs(AVISIT | USUBJID)", "exactly one"),
    ("RACE ~ ARMCD + us(AVISIT | USUBJID)", "must be numeric"),
])
def test_bad_formulas_name_the_problem(fev: pd.DataFrame, formula: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        fit_mmrm(fev, formula)


def test_bad_options_name_the_problem(fev: pd.DataFrame) -> None:
    f = FEV_FORMULA.format(cov="us")
    with pytest.raises(ModelError, match="allowed"):
        fit_mmrm(fev, f, df="containment")
    with pytest.raises(ModelError, match="'XYZ'"):
        fit_mmrm(fev, f, reference={"ARMCD": "XYZ"})
    with pytest.raises(ModelError, match="more than one row"):
        fit_mmrm(pd.concat([fev, fev.iloc[:2]]), f)
    with pytest.raises(ModelError, match="lsmeans factor"):
        fit_mmrm(fev, f).lsmeans("FEV1_BL")


def test_to_dict_has_the_cli_keys(fev_us_sas: MMRMResult) -> None:
    out = fev_us_sas.to_dict(lsmeans="ARMCD", by="AVISIT")
    for key in ("converged", "n_subjects", "n_obs", "neg2_loglik", "aic", "bic", "visits",
                "covariance", "coefficients", "lsmeans", "contrasts", "type3"):
        assert key in out
    assert set(out["lsmeans"][0]) == {"ARMCD", "AVISIT", "estimate", "se", "df", "lower",
                                      "upper"}
    assert set(out["contrasts"][0]) == {"AVISIT", "label", "estimate", "se", "df", "t", "p",
                                        "lower", "upper"}
    assert set(out["coefficients"][0]) == {"term", "estimate", "se", "df", "t", "p"}
    assert out["n_subjects"] == 197 and len(out["covariance"]) == 4
    # SAS: AIC = -2 l + 2 * (number of covariance parameters) under REML
    assert out["aic"] == pytest.approx(out["neg2_loglik"] + 20)


def test_type3_of_a_covariate_is_its_slope_test() -> None:
    data = simulate(40, 4, seed=9, p_missing=0.2, covariate=True)
    res = fit_mmrm(data, "Y ~ ARM * VIS + X + us(VIS | ID)")
    t3 = res.type3().set_index("term")
    coef = res.coefficients.set_index("term").loc["X"]
    assert t3.loc["X", "F"] == pytest.approx(coef.t**2, rel=1e-10)
    assert t3.loc["X", "den_df"] == pytest.approx(coef.df, rel=1e-10)
    # with an arm-by-covariate interaction the main effect is the mean slope over arms
    res2 = fit_mmrm(data, "Y ~ ARM * VIS + ARM * X + us(VIS | ID)")
    t3b = res2.type3().set_index("term")
    assert {"X", "ARM:X"} <= set(t3b.index)
    assert t3b.loc["ARM:X", "num_df"] == 1


def test_bcva_fit(bcva: pd.DataFrame) -> None:
    """The benchmark model on bcva_data.csv (1000 subjects x 10 visits) converges."""
    from mmrm_refdata import BCVA_FORMULA

    res = fit_mmrm(bcva, BCVA_FORMULA)
    assert res.converged
    assert res.n_subjects == 1000 and len(res.visits) == 10
    assert res.visits[0] == "VIS01" and res.visits[-1] == "VIS10"
    ls = res.lsmeans("ARMCD", by="AVISIT")
    assert len(ls) == 20 and np.isfinite(ls.df).all()


def test_type3_polynomial_and_stateful_terms(fev: pd.DataFrame) -> None:
    """x and x^2 are separate terms (containment): x^2 is its own coefficient's test;
    a stateful transform (center) is evaluated with the training state on the grid."""
    res = fit_mmrm(fev, "FEV1 ~ ARMCD * AVISIT + FEV1_BL + I(FEV1_BL**2) + us(AVISIT | USUBJID)")
    t3 = res.type3().set_index("term")
    coef = res.coefficients.set_index("term")
    quad = coef.loc["I(FEV1_BL ** 2)"]
    assert t3.loc["I(FEV1_BL ** 2)", "F"] == pytest.approx(quad.t**2, rel=1e-8)
    assert t3.loc["FEV1_BL", "F"] == pytest.approx(coef.loc["FEV1_BL"].t ** 2, rel=1e-8)
    plain = fit_mmrm(fev, FEV_FORMULA.format(cov="us").replace("SEX", "FEV1_BL"))
    centred = fit_mmrm(fev, FEV_FORMULA.format(cov="us").replace("SEX", "center(FEV1_BL)"))
    assert centred.neg2_loglik == pytest.approx(plain.neg2_loglik, abs=1e-8)
    np.testing.assert_allclose(centred.lsmeans("ARMCD").estimate,
                               plain.lsmeans("ARMCD").estimate, rtol=1e-9)


def test_empirical_satterthwaite_is_bell_mccaffrey(fev: pd.DataFrame) -> None:
    """With the sandwich, df = tr(G)^2 / sum G_ij^2 with g_i = (I - H)_i' X_i Phi c in the
    whitened model (Bell & McCaffrey 2002, mmrm's "Empirical"): against a dense computation."""
    res = fit_mmrm(fev, FEV_FORMULA.format(cov="us"), empirical=True)
    xw = res.estimate.fit.xw
    n, t, p = xw.shape
    x = xw.reshape(-1, p)
    phi = res.estimate.fit.phi
    ih = np.eye(len(x)) - x @ phi @ x.T
    for j in (1, 7):
        c = np.zeros(p)
        c[j] = 1.0
        g = np.array([ih[:, i * t:(i + 1) * t] @ x[i * t:(i + 1) * t] @ phi @ c
                      for i in range(n)])
        gm = g @ g.T
        assert res.coefficients.df[j] == pytest.approx(np.trace(gm) ** 2 / np.sum(gm**2),
                                                       rel=1e-9)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_one_and_two_visits(structure: str) -> None:
    """Degenerate visit counts work for every structure; one visit is ordinary regression."""
    one = fit_mmrm(simulate(30, 1, seed=3), f"Y ~ ARM + {structure}(VIS | ID)")
    assert one.converged and one.type3().den_df.iloc[0] == pytest.approx(28)
    two = fit_mmrm(simulate(30, 2, seed=3), f"Y ~ ARM * VIS + {structure}(VIS | ID)")
    assert two.converged
