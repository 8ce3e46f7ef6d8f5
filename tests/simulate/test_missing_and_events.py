"""Dropout, missed visits, deaths and adverse events at their parameterised rates."""

from __future__ import annotations

import numpy as np
import pytest

from strokecell.protocol import Protocol
from strokecell.simulate import Assumptions, Design, simulate_cohort, simulate_patients
from strokecell.simulate.events import DEAD, DONE, DROPPED, MISSED


def _binomial_ok(observed: float, p: float, n: int, z: float = 4.0) -> bool:
    return bool(abs(observed - p) <= z * np.sqrt(p * (1 - p) / n))


def test_mcar_dropout_missed_and_death_rates(design: Design) -> None:
    a = Assumptions().with_overrides(**{"dropout.per_visit": 0.05, "dropout.missed_visit": 0.04,
                                        "deaths.mortality_12_months": 0.10})
    c = simulate_cohort(design, [0, 20_000], 1, np.random.default_rng(7), assumptions=a)
    n = c.status.shape[0]
    assert (c.status[:, 0] == DONE).all()
    # Deaths by 12 months (day 365) over the severity distribution: the parameter.
    assert _binomial_ok(float((c.death_day <= 365).mean()), 0.10, n)
    # Dropout before each post-baseline visit among those still in and alive.
    for k in range(1, c.status.shape[1]):
        at_risk = (c.status[:, k - 1] != DROPPED) & (c.status[:, k - 1] != DEAD) & \
            (c.visit_day[:, k] < c.death_day)
        new = at_risk & (c.status[:, k] == DROPPED)
        assert _binomial_ok(float(new.sum() / at_risk.sum()), 0.05, int(at_risk.sum())), k
        still = at_risk & ~new
        missed = still & (c.status[:, k] == MISSED)
        assert _binomial_ok(float(missed.sum() / still.sum()), 0.04, int(still.sum())), k
    # Once dropped out or dead, never seen again.
    for k in range(1, c.status.shape[1] - 1):
        gone = np.isin(c.status[:, k], (DROPPED, DEAD))
        assert np.isin(c.status[gone, k + 1], (DROPPED, DEAD)).all()


@pytest.mark.parametrize("mechanism", ["mar", "mnar"])
def test_informative_dropout_hits_the_worse_patients(design: Design, mechanism: str) -> None:
    a = Assumptions().with_overrides(**{"dropout.mechanism": mechanism,
                                        "dropout.per_visit": 0.1,
                                        "dropout.log_odds_per_10_points": 0.5})
    c = simulate_cohort(design, [0, 10_000], 1, np.random.default_rng(8), assumptions=a)
    dropped = (c.status == DROPPED).any(axis=1)
    latent_12 = c.scores["mbi"][:, -1]
    assert latent_12[dropped].mean() < latent_12[~dropped].mean() - 3


def test_mcar_dropout_is_unrelated_to_outcome(design: Design) -> None:
    a = Assumptions().with_overrides(**{"dropout.per_visit": 0.1})
    c = simulate_cohort(design, [0, 10_000], 1, np.random.default_rng(9), assumptions=a)
    dropped = (c.status == DROPPED).any(axis=1)
    latent_12 = c.scores["mbi"][:, -1]
    assert latent_12[dropped].mean() == pytest.approx(latent_12[~dropped].mean(), abs=2.0)


def test_adverse_events_by_route(protocol: Protocol) -> None:
    # Intra-arterial route events occur only in the cell arm, at about their rate.
    a = Assumptions()
    cohort = simulate_patients(protocol, 400, np.random.default_rng(10), assumptions=a)
    dwi = [any(e.term.startswith("New DWI") for e in p.course("transplant").adverse_events)
           for p in cohort.patients]
    spec = a.adverse_events.by_route["intra_arterial"][0]
    assert _binomial_ok(float(np.mean(dwi)), spec.probability, 400)
    for p in cohort.patients:
        control = p.course("control")
        assert not any(e.term.startswith("New DWI") for e in control.adverse_events)
        for course in p.courses.values():
            for e in course.adverse_events:
                assert 1 <= e.grade <= 5 and e.related in (
                    "related", "possibly_related", "unlikely_related", "not_related")
                assert (e.grade == 5) == (e.term == "Death NOS")
            if course.death_date is not None:
                assert any(e.grade == 5 for e in course.adverse_events)
