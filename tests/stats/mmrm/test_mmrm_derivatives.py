"""The analytic derivatives against finite differences (no reference file needed).

* gradient and observed Hessian of -2 log-likelihood (REML and ML, grouped, weighted);
* the Kenward-Roger adjustment against its definition (Kenward & Roger 1997, eq. for
  E(Phi_hat)): with ``S = sum_hj W_hj d2Phi/dphi_h dphi_j`` taken numerically in SAS's
  natural parameters, ``Phi_KR = Phi_lin - (S + Phi_lin - Phi) / 2``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mmrm_refdata import simulate

from strokecell.stats.mmrm import fit_mmrm
from strokecell.stats.mmrm._api import _layout
from strokecell.stats.mmrm._fit import CovModel, _Objective
from strokecell.stats.mmrm._likelihood import evaluate
from strokecell.stats.mmrm._structures import STRUCTURES, Structure


def _data() -> pd.DataFrame:
    data = simulate(40, 4, seed=21, p_missing=0.2, covariate=True)
    data["W"] = np.random.default_rng(4).uniform(0.5, 2.0, len(data))
    return data


@pytest.mark.parametrize("structure", STRUCTURES)
@pytest.mark.parametrize(("reml", "grouped", "weighted"), [
    (True, False, False), (False, False, True), (True, True, True)])
def test_gradient_and_hessian(structure: str, reml: bool, grouped: bool,
                              weighted: bool) -> None:
    term = f"{structure}(VIS | ARM / ID)" if grouped else f"{structure}(VIS | ID)"
    res = fit_mmrm(_data(), f"Y ~ ARM * VIS + X + {term}", reml=reml,
                   weights="W" if weighted else None)
    lay = _layout(res.data)
    cov = CovModel(Structure(structure, 4), 2 if grouped else 1)
    obj = _Objective(lay, cov, reml)
    rng = np.random.default_rng(0)
    theta = res.estimate.theta + 0.05 * rng.normal(size=res.estimate.theta.size)
    grad = obj.jac(theta).copy()
    hess = obj.hess(theta).copy()
    h = 1e-5
    k = theta.size
    num_g = np.zeros(k)
    num_h = np.zeros((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        num_g[i] = (obj.fun(theta + e) - obj.fun(theta - e)) / (2 * h)
        num_h[i] = (obj.jac(theta + e) - obj.jac(theta - e)) / (2 * h)
    scale = max(1.0, float(np.abs(num_h).max()))
    np.testing.assert_allclose(grad, num_g, atol=1e-5 * scale)
    np.testing.assert_allclose(hess, 0.5 * (num_h + num_h.T), atol=1e-5 * scale)


@pytest.mark.parametrize("structure", ["ar1", "ar1h", "csh", "adh"])
def test_kenward_roger_matches_its_definition(structure: str) -> None:
    data = _data()
    f = f"Y ~ ARM * VIS + X + {structure}(VIS | ID)"
    base = fit_mmrm(data, f)
    full = fit_mmrm(data, f, df="kenward-roger")
    lin = fit_mmrm(data, f, df="kenward-roger-linear")
    est = base.estimate
    lay = _layout(base.data)
    st = est.cov.structure
    phi_nat = est.phi_nat

    def phi_of(par: np.ndarray) -> np.ndarray:
        sig = np.real(st.sigma_natural(par))[None]
        fit = evaluate(lay, np.asarray(sig, dtype=float), True)
        assert fit is not None
        return fit.phi

    k = phi_nat.size
    h = 1e-4 * np.maximum(np.abs(phi_nat), 1e-2)
    w = est.w_nat
    s = np.zeros_like(est.fit.phi)
    for i in range(k):
        for j in range(k):
            ei = np.zeros(k)
            ej = np.zeros(k)
            ei[i], ej[j] = h[i], h[j]
            d2 = (phi_of(phi_nat + ei + ej) - phi_of(phi_nat + ei - ej)
                  - phi_of(phi_nat - ei + ej) + phi_of(phi_nat - ei - ej)) / (4 * h[i] * h[j])
            s += w[i, j] * d2
    phi = est.fit.phi
    expected = lin.vcov - 0.5 * (s + lin.vcov - phi)
    np.testing.assert_allclose(full.vcov, expected, rtol=2e-4, atol=2e-6 * np.abs(phi).max())
    assert not np.allclose(full.vcov, lin.vcov, rtol=1e-6)
