"""Every simulated item set is a valid set of item values on its scale's grid."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strokecell.instruments import load_instrument
from strokecell.protocol import Protocol
from strokecell.simulate import Assumptions, Scenario, item_map, map_items, simulate_patients


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), effect=st.sampled_from([0.0, 8.0, 40.0]))
def test_every_generated_item_set_validates(protocol: Protocol, seed: int, effect: float) -> None:
    cohort = simulate_patients(protocol, 6, np.random.default_rng(seed),
                               scenario=Scenario(effects={"mbi": effect, "fma_total": effect,
                                                          "nihss": -effect / 4}))
    for patient in cohort.patients:
        for course in patient.courses.values():
            for visit in course.visits:
                if visit.status != "done":
                    assert visit.assessments == {}
                    continue
                assert set(visit.assessments) == {"mbi", "fma_ue", "fma_le", "nihss", "mrs",
                                                  "lesion_volume"}
                for code, items in visit.assessments.items():
                    result = load_instrument(code).score(items)  # raises if invalid
                    assert result.total == visit.totals[code]
                mbi = visit.assessments["mbi"]
                assert ("ambulation" in mbi) != ("wheelchair" in mbi)
                ue = visit.assessments["fma_ue"]
                iv = sum(v for k, v in ue.items() if k.startswith("a4_"))
                assert iv == 6 or ue["a5_normal_reflexes"] == 0
                assert {ue["a1_flexors"], ue["a1_extensors"]} <= {0, 2}
                fm = {**ue, **visit.assessments["fma_le"]}
                assert load_instrument("fma_total").score(fm).total == \
                    visit.totals["fma_ue"] + visit.totals["fma_le"]


@pytest.mark.parametrize("code", ["mbi", "fma_ue", "fma_le", "nihss"])
def test_item_sum_tracks_the_latent_total(code: str) -> None:
    # Without offsets the sum of the items reached is the latent total to within half of
    # the largest step (plus the MBI wheelchair points and the FMA section V rule).
    a = Assumptions()
    imap = item_map(code, a)
    theta = np.linspace(0.0, 1.0, 2001)
    block = map_items(imap, theta, np.zeros((theta.size, len(imap.items))))
    total = block.total()
    largest = max(float(np.diff(g).max()) for g in imap.grids)
    slack = largest / 2 + (5 if code == "mbi" else 2)
    assert np.all(np.abs(total - theta * imap.max_total) <= slack + 1e-9)
    assert total[0] == 0 and total[-1] == load_instrument(code).max_total
    assert np.all(np.diff(total) >= -5)  # monotone up to the wheelchair switch


def test_mbi_profile_follows_difficulty() -> None:
    # Feeding (easiest, [K]) is independent before stairs (hardest).
    a = Assumptions()
    imap = item_map("mbi", a)
    theta = np.linspace(0, 1, 1001)
    block = map_items(imap, theta, np.zeros((theta.size, len(imap.items))))
    first_full = {c: theta[np.argmax(v == v.max())] for c, v in block.values.items()
                  if c != "wheelchair"}
    assert first_full["feeding"] < first_full["dressing"] < first_full["stairs"]


def test_nihss_side_of_the_lesion() -> None:
    a = Assumptions()
    theta = np.full(1, 0.3)
    left = map_items(item_map("nihss", a, "left"), theta, np.zeros((1, 15))).values
    right = map_items(item_map("nihss", a, "right"), theta, np.zeros((1, 15))).values
    assert left["5b_motor_arm_right"][0] > left["5a_motor_arm_left"][0]
    assert right["5a_motor_arm_left"][0] > right["5b_motor_arm_right"][0]
