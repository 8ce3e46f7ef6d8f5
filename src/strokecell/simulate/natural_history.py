"""Latent natural history: baselines, plateaus, time constants and curves (no items here).

All functions work on arrays of patients (any leading shape) and draw from the given
:class:`numpy.random.Generator`. Scores are latent totals on each scale's range; the grid
comes later (:mod:`strokecell.simulate.grids`).

- MBI: B(t) = B0 + g (100 − B0)(1 − exp(−Δt/τ)), g logit-normal, τ by baseline band
  (Copenhagen Stroke Study), lognormal between patients, × the ICH factor.
- FMA-UE/LE: proportional recovery (Kundert 2019; Veerbeek 2018): fitters regain r of
  their potential (r logit-normal around 0.7 UE / 0.64 LE), non-fitters among the severe
  U(0, 10%); approached with τ = 4 weeks.
- NIHSS: N(t) = N0 (1 − q (1 − exp(−Δt/τ))).
- Lesion: V(t) = V0 (r + (1 − r) exp(−t/τ)) from onset.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from strokecell.simulate.assumptions import Assumptions

__all__ = ["LatentPatients", "draw_latent", "logit_normal", "logit_normal_params"]

FloatArray = NDArray[np.float64]
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(64)
_GH_W = _GH_W / _GH_W.sum()


@functools.lru_cache(maxsize=64)
def logit_normal_params(mean: float, sd: float) -> tuple[float, float]:
    """(μ, σ) of a logit-normal with the given mean and SD (Gauss-Hermite moments)."""

    def moments(params: FloatArray) -> FloatArray:
        mu, log_sigma = params
        values = special.expit(mu + np.exp(log_sigma) * _GH_X)
        m = float(values @ _GH_W)
        s = float(np.sqrt(max(((values - m) ** 2) @ _GH_W, 1e-300)))
        return np.array([m - mean, s - sd])

    start = np.array([float(special.logit(mean)), np.log(sd / (mean * (1 - mean)))])
    solution = optimize.root(moments, start, method="hybr")
    mu, log_sigma = solution.x
    return float(mu), float(np.exp(log_sigma))


def logit_normal(mean: float, sd: float, normal: FloatArray) -> FloatArray:
    """Transform standard-normal draws into a logit-normal with this mean and SD."""
    mu, sigma = logit_normal_params(round(mean, 12), round(sd, 12))
    out: FloatArray = special.expit(mu + sigma * normal)
    return out


@dataclass
class LatentPatients:
    """Latent state of P patients: baselines and recovery parameters (arrays of shape (P,))."""

    severity: FloatArray  # z, higher = more severe
    mbi0: FloatArray
    mbi_gain: FloatArray  # g: share of (100 − B0) regained
    mbi_tau_days: FloatArray
    ue0: FloatArray
    ue_ratio: FloatArray  # share of (66 − UE0) regained
    ue_fitter: NDArray[np.bool_]
    le0: FloatArray
    le_ratio: FloatArray
    le_fitter: NDArray[np.bool_]
    nihss0: FloatArray
    nihss_gain: FloatArray
    lesion_onset_ml: FloatArray
    left_hemisphere: NDArray[np.bool_]

    def mbi(self, dt_days: FloatArray) -> FloatArray:
        """Latent MBI at ``dt_days`` after baseline (shape (P, V))."""
        frac = 1.0 - np.exp(-np.maximum(dt_days, 0.0) / self.mbi_tau_days[:, None])
        out: FloatArray = self.mbi0[:, None] + self.mbi_gain[:, None] * (
            100.0 - self.mbi0[:, None]) * frac
        return out

    def fma(self, part: str, dt_days: FloatArray, tau_days: float) -> FloatArray:
        top, base, ratio = ((66.0, self.ue0, self.ue_ratio) if part == "fma_ue"
                            else (34.0, self.le0, self.le_ratio))
        frac = 1.0 - np.exp(-np.maximum(dt_days, 0.0) / tau_days)
        out: FloatArray = base[:, None] + ratio[:, None] * (top - base[:, None]) * frac
        return out

    def nihss(self, dt_days: FloatArray, tau_days: float) -> FloatArray:
        frac = 1.0 - np.exp(-np.maximum(dt_days, 0.0) / tau_days)
        out: FloatArray = self.nihss0[:, None] * (1.0 - self.nihss_gain[:, None] * frac)
        return out


def _tau_days(mbi0: FloatArray, a: Assumptions, ich: bool,
              rng: np.random.Generator) -> FloatArray:
    b = a.barthel
    weeks = np.select(
        [mbi0 <= b.band_very_severe_max, mbi0 <= b.band_severe_max,
         mbi0 <= b.band_moderate_max],
        [b.tau_weeks_very_severe, b.tau_weeks_severe, b.tau_weeks_moderate],
        b.tau_weeks_mild)
    factor = b.tau_ich_multiplier if ich else 1.0
    spread = np.exp(b.tau_log_sd * rng.standard_normal(mbi0.shape) - b.tau_log_sd ** 2 / 2)
    out: FloatArray = 7.0 * weeks * factor * spread
    return out


def draw_latent(n: int, a: Assumptions, ich: bool, rng: np.random.Generator) -> LatentPatients:
    """Draw ``n`` patients' latent baselines and recovery parameters."""
    p, bar, fm, nih = a.population, a.barthel, a.fugl_meyer, a.nihss
    z = rng.standard_normal(n)
    rho = p.motor_correlation
    rest = np.sqrt(1.0 - rho ** 2)
    motor = rng.standard_normal(n)
    mbi0 = np.clip(bar.baseline_mean - bar.baseline_sd * z, 0.0, 100.0)
    ue_dev = rho * z + rest * (0.8 * motor + 0.6 * rng.standard_normal(n))
    le_dev = rho * z + rest * (0.8 * motor + 0.6 * rng.standard_normal(n))
    ue0 = np.clip(fm.ue_baseline_mean - fm.ue_baseline_sd * ue_dev, 0.0, 66.0)
    le0 = np.clip(fm.le_baseline_mean - fm.le_baseline_sd * le_dev, 0.0, 34.0)
    nihss0 = np.clip(nih.baseline_mean + nih.baseline_sd * (rho * z + rest * rng.standard_normal(
        n)), 0.0, 42.0)

    # Shared recovery propensity u; for MBI and NIHSS it is lower in more severe patients.
    # The Fugl-Meyer ratios use the severity-free part only: the proportional recovery rule
    # says fitters regain the same share whatever their potential (slope 0.7, §5.1).
    ls = p.recovery_severity_loading
    u = rng.standard_normal(n)
    u_severity = -ls * z + np.sqrt(1.0 - ls ** 2) * u
    rr = p.recovery_correlation

    def propensity(shared: FloatArray) -> FloatArray:
        out: FloatArray = rr * shared + np.sqrt(1.0 - rr ** 2) * rng.standard_normal(n)
        return out

    gain = logit_normal(bar.plateau_fraction_mean, bar.plateau_fraction_sd,
                        propensity(u_severity))
    ue_fit_ratio = logit_normal(fm.ue_prr, fm.ue_prr_sd, propensity(u))
    le_fit_ratio = logit_normal(fm.le_prr, fm.le_prr_sd, propensity(u))
    nihss_gain = logit_normal(nih.improvement_mean, nih.improvement_sd, propensity(u_severity))
    # One uniform decides both classes, so LE non-fitters are UE non-fitters as far as the
    # two rates allow (Veerbeek 2018: LE non-fitters were also UE non-fitters).
    w = rng.random(n)
    ue_fitter = ~((ue0 < fm.ue_severe_below) & (w < fm.ue_nonfitter_fraction))
    le_fitter = ~((le0 < fm.le_severe_below) & (w < fm.le_nonfitter_fraction))
    ue_ratio = np.where(ue_fitter, ue_fit_ratio, fm.nonfitter_max_fraction * rng.random(n))
    le_ratio = np.where(le_fitter, le_fit_ratio, fm.nonfitter_max_fraction * rng.random(n))

    median, log_sd = ((p.haematoma_median_ml, p.haematoma_log_sd) if ich
                      else (p.infarct_median_ml, p.infarct_log_sd))
    lesion = median * np.exp(log_sd * (p.lesion_severity_loading * z + np.sqrt(
        max(1.0 - p.lesion_severity_loading ** 2, 0.0)) * rng.standard_normal(n)))
    left = rng.random(n) < p.left_hemisphere_fraction
    return LatentPatients(
        severity=z, mbi0=mbi0, mbi_gain=gain, mbi_tau_days=_tau_days(mbi0, a, ich, rng),
        ue0=ue0, ue_ratio=ue_ratio, ue_fitter=ue_fitter, le0=le0, le_ratio=le_ratio,
        le_fitter=le_fitter, nihss0=nihss0, nihss_gain=nihss_gain,
        lesion_onset_ml=np.minimum(lesion, 400.0), left_hemisphere=left)


def lesion_volume(v0: FloatArray, days_from_onset: FloatArray, a: Assumptions,
                  ich: bool) -> FloatArray:
    """Latent lesion volume (mL) at ``days_from_onset`` (shape (P, V))."""
    lz = a.lesion
    r, tau = ((lz.haematoma_residual_fraction, lz.haematoma_tau_days) if ich
              else (lz.infarct_residual_fraction, lz.infarct_tau_days))
    out: FloatArray = v0[:, None] * (r + (1.0 - r) * np.exp(-np.maximum(days_from_onset, 0.0)
                                                            / tau))
    return out
