"""Treatment effect: none by default, the scenario's size at the primary visit otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from strokecell.errors import InputError
from strokecell.protocol import Protocol
from strokecell.simulate import Assumptions, Scenario, TrialArrays, simulate_trials


def _arm_means(result: TrialArrays, visit: int) -> tuple[float, float]:
    treated = result.aval[:, result.arm == 0, visit]
    control = result.aval[:, result.arm == 1, visit]
    return float(np.nanmean(treated)), float(np.nanmean(control))


def test_no_effect_arms_equal_in_distribution(protocol: Protocol) -> None:
    r = simulate_trials(protocol, {"transplant": 22, "control": 23}, 1000,
                        np.random.default_rng(2026))
    for visit in range(5):
        t, c = _arm_means(r, visit)
        assert t == pytest.approx(c, abs=1.0)
    treated = r.aval[:, r.arm == 0, -1].ravel()
    control = r.aval[:, r.arm == 1, -1].ravel()
    ks = stats.ks_2samp(treated[~np.isnan(treated)], control[~np.isnan(control)])
    assert ks.pvalue > 0.001


def test_effect_at_primary_visit(protocol: Protocol) -> None:
    r = simulate_trials(protocol, 45, 1000, np.random.default_rng(11),
                        scenario=Scenario(effects={"mbi": 8.0}))
    t, c = _arm_means(r, r.primary_index)
    # A few treated patients hit the ceiling of 100: allow 0.8 points.
    assert t - c == pytest.approx(8.0, abs=0.8)
    assert r.settings()["scenario"]["effects"] == {"mbi": 8.0}


def test_peak_time_course_is_largest_at_month_3(protocol: Protocol) -> None:
    r = simulate_trials(protocol, 45, 800, np.random.default_rng(12),
                        scenario=Scenario(effects={"mbi": 5.0}, time_course="peak"))
    diffs = [np.subtract(*_arm_means(r, k)) for k in range(5)]
    assert np.argmax(diffs) == 2  # month 3, as the source reports (domain §8)
    assert diffs[-1] == pytest.approx(5.0, abs=0.8)


def test_aspect_multipliers_scale_the_effect(protocol: Protocol) -> None:
    # Administration 10-18 days after onset is subacute (SRRR phases): 0.5 halves it.
    a = Assumptions().with_overrides(**{"effect_modifiers.phase": {"subacute": 0.5},
                                        "effect_modifiers.route": {"intra_arterial": 1.0}})
    r = simulate_trials(protocol, 45, 1000, np.random.default_rng(13),
                        scenario=Scenario(effects={"mbi": 8.0}), assumptions=a)
    t, c = _arm_means(r, r.primary_index)
    assert t - c == pytest.approx(4.0, abs=0.8)


def test_other_endpoints(protocol: Protocol) -> None:
    r = simulate_trials(protocol, 45, 600, np.random.default_rng(14),
                        scenario=Scenario(effects={"fma_total": 6.0}), instrument="fma_total")
    t, c = _arm_means(r, r.primary_index)
    assert t - c == pytest.approx(6.0, abs=1.0)
    mrs = simulate_trials(protocol, 45, 50, np.random.default_rng(15), instrument="mrs")
    dead = mrs.status == 3
    assert (mrs.aval[dead] == 6).all()


def test_scenario_errors_name_the_field() -> None:
    with pytest.raises(InputError, match=r"effects.barthel"):
        Scenario(effects={"barthel": 5})
    with pytest.raises(InputError, match=r"INSTRUMENT=NUMBER"):
        Scenario.parse(["MBI:8"])
    assert Scenario.parse(["MBI=8"]).effects == {"mbi": 8.0}


def test_scenario_settings_are_checked() -> None:
    with pytest.raises(InputError, match=r"time_course"):
        Scenario(effects={"mbi": 5}, time_course="sudden")
    with pytest.raises(InputError, match=r"effects.fma_total"):
        Scenario(effects={"fma_total": 5, "fma_ue": 2})
