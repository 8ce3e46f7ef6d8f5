"""Natural history: plateaus, time constants, proportional recovery, correlations, bounds.

Expected values come from the named parameters of simulate/assumptions.py and the sources
they cite (domain/README.md §5), not from running the model.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from strokecell.simulate import Assumptions, Cohort, Design, simulate_cohort
from strokecell.simulate.cohort import MAXIMA


def _clipped_normal_mean(mean: float, sd: float, low: float, high: float) -> float:
    """E[clip(X, low, high)] for X ~ N(mean, sd)."""
    x = np.linspace(mean - 8 * sd, mean + 8 * sd, 20001)
    return float(np.trapezoid(np.clip(x, low, high) * stats.norm.pdf(x, mean, sd), x))


def test_mbi_plateau_at_12_months_matches_parameters(design: Design,
                                                     complete: Assumptions) -> None:
    # Without the eligibility cut and with recovery independent of severity, the mean at
    # 12 months is E[B0] + E[g] (100 − E[B0]) (τ ≤ 9 weeks: > 99.9% of the way at 1 year).
    a = complete.with_overrides(**{"population.recovery_severity_loading": 0.0})
    free = dataclasses.replace(design, severity=())
    cohort = simulate_cohort(free, [0, 20_000], 1, np.random.default_rng(1), assumptions=a)
    b = a.barthel
    b0 = _clipped_normal_mean(b.baseline_mean, b.baseline_sd, 0, 100)
    plateau = b0 + b.plateau_fraction_mean * (100 - b0)
    month_12 = cohort.totals["mbi"][:, -1]
    # Rating noise is clipped at 0 and 100 and items round to their grids: ±2 points.
    assert month_12.mean() == pytest.approx(plateau, abs=2.0)
    assert cohort.scores["mbi"][:, -1].mean() == pytest.approx(plateau, abs=0.5)


def test_ich_control_at_6_months_near_li_2013(control_cohort: Cohort) -> None:
    # Calibration target (§5.3): ICH control BI 46.9 ± 20.3 at 6 months (Li 2013); the
    # between-patient SD of BI in ICH is about 20-24.
    month_6 = control_cohort.totals["mbi"][:, 3]
    assert 42 <= month_6.mean() <= 52
    assert 18 <= month_6.std() <= 24


def test_time_constant_by_severity_band(control_cohort: Cohort) -> None:
    # τ_i = τ_band × 1.2 (ICH) × lognormal(−σ²/2, σ): its median is τ_band·1.2·exp(−σ²/2).
    a = Assumptions()
    b = a.barthel
    lat = control_cohort.latent
    for band, low, high, weeks in (("very severe", -1, b.band_very_severe_max,
                                    b.tau_weeks_very_severe),
                                   ("severe", b.band_very_severe_max, b.band_severe_max,
                                    b.tau_weeks_severe)):
        rows = (lat.mbi0 > low) & (lat.mbi0 <= high)
        expected = 7 * weeks * b.tau_ich_multiplier * np.exp(-b.tau_log_sd ** 2 / 2)
        assert np.median(lat.mbi_tau_days[rows]) == pytest.approx(expected, rel=0.05), band
    # The curve reaches 1 − exp(−Δt/τ) of the gain: check it at month 1 for every patient.
    dt = control_cohort.visit_day[:, 1] - control_cohort.visit_day[:, 0]
    gain = lat.mbi_gain * (100 - lat.mbi0)
    reached = (control_cohort.scores["mbi"][:, 1] - lat.mbi0)
    np.testing.assert_allclose(reached, gain * (1 - np.exp(-dt / lat.mbi_tau_days)), atol=1e-9)


def test_proportional_recovery_slope_for_fitters(control_cohort: Cohort) -> None:
    # Kundert 2019 / Veerbeek 2018 (§5.1): fitters regain ≈ 0.7 (UE) and 0.64 (LE) of their
    # potential. Regress the rated 6-month change on the true potential (the rated baseline
    # would add the regression-to-the-mean artefact of Hope et al. 2019, §5.1).
    c, a = control_cohort, Assumptions()
    lat = c.latent
    for part, top, base, fitter, expected in (
            ("fma_ue", 66, lat.ue0, lat.ue_fitter, a.fugl_meyer.ue_prr),
            ("fma_le", 34, lat.le0, lat.le_fitter, a.fugl_meyer.le_prr)):
        rated = c.totals[part][fitter, 3]
        slope = np.polyfit(top - base[fitter], rated - base[fitter], 1)[0]
        assert slope == pytest.approx(expected, abs=0.04), part
    # Non-fitters recover at most 10% of their potential (plus rating noise).
    ue = c.totals["fma_ue"]
    non = ~lat.ue_fitter
    assert np.median((ue[non, 3] - lat.ue0[non]) / (66 - lat.ue0[non])) < 0.12


def test_non_fitter_fractions(control_cohort: Cohort) -> None:
    # ≈30% non-fitters among severe UE (FM-UE0 < 20, Kundert 2019); 35% among LE0 < 14
    # (Veerbeek 2018: 65% still fitted); none above the thresholds.
    a, lat = Assumptions().fugl_meyer, control_cohort.latent
    for base, fitter, threshold, expected in (
            (lat.ue0, lat.ue_fitter, a.ue_severe_below, a.ue_nonfitter_fraction),
            (lat.le0, lat.le_fitter, a.le_severe_below, a.le_nonfitter_fraction)):
        severe = base < threshold
        n = int(severe.sum())
        rate = float((~fitter[severe]).mean())
        assert abs(rate - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
        assert fitter[~severe].all()
    # LE non-fitters are UE non-fitters as far as the two rates allow (Veerbeek 2018).
    both_severe = (lat.ue0 < a.ue_severe_below) & (lat.le0 < a.le_severe_below)
    le_non = both_severe & ~lat.le_fitter
    assert (~lat.ue_fitter[le_non]).mean() >= a.ue_nonfitter_fraction / a.le_nonfitter_fraction \
        - 0.05


def test_correlations_across_visits_in_stated_range(control_cohort: Cohort) -> None:
    # §5.3 [A]: r ≈ 0.7-0.85 between adjacent visits, 0.5-0.7 baseline to 12 months, as
    # induced by random plateau and τ plus rating noise (±0.03 for the finite sample).
    r = np.asarray(np.corrcoef(control_cohort.totals["mbi"].T), dtype=float).reshape(5, 5)
    for k in range(r.shape[0] - 1):
        assert 0.67 <= r[k, k + 1] <= 0.88, (k, r[k, k + 1])
    assert 0.47 <= r[0, -1] <= 0.73


def test_ceiling_and_floor(control_cohort: Cohort) -> None:
    for code, top in MAXIMA.items():
        totals = control_cohort.totals[code]
        assert totals.min() >= 0 and totals.max() <= top, code
    mbi = control_cohort.items if control_cohort.items else None
    assert mbi is None  # items are kept only on request
    # The scale's ceiling is reached by some patients and its floor by others.
    assert (control_cohort.totals["mbi"][:, -1] == 100).any()
    assert (control_cohort.totals["fma_ue"][:, 0] == 0).any()
    mrs = control_cohort.totals["mrs"]
    assert set(np.unique(mrs)) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
    lesion = control_cohort.totals["lesion_volume"]
    assert (lesion >= 0).all() and (lesion <= 500).all()


def test_eligibility_applies_to_the_rated_baseline(control_cohort: Cohort) -> None:
    # Reference protocol: baseline MBI ≤ 60.
    assert control_cohort.totals["mbi"][:, 0].max() <= 60


def test_haematoma_shrinks_towards_its_residual(control_cohort: Cohort) -> None:
    a = Assumptions().lesion
    lat = control_cohort.latent
    days = control_cohort.visit_day[:, -1] - control_cohort.onset_day
    expected = a.haematoma_residual_fraction + (1 - a.haematoma_residual_fraction) * np.exp(
        -days / a.haematoma_tau_days)
    ratio = control_cohort.totals["lesion_volume"][:, -1] / lat.lesion_onset_ml
    assert np.median(ratio / expected) == pytest.approx(1.0, abs=0.03)


def test_mrs_follows_function(control_cohort: Cohort) -> None:
    mbi, mrs = control_cohort.totals["mbi"][:, -1], control_cohort.totals["mrs"][:, -1]
    means = [mbi[mrs == k].mean() for k in (5, 4, 3) if (mrs == k).sum() > 20]
    assert means == sorted(means)  # better mRS, higher MBI
