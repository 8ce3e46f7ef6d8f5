"""Shared fixtures of the simulation tests: the reference protocol, its design, cohorts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from strokecell.protocol import Protocol, load_protocol
from strokecell.simulate import Assumptions, Cohort, Design, simulate_cohort

REFERENCE = Path(__file__).resolve().parents[2] / "protocols" / "reference-ich-ia-ucmsc.yaml"


@pytest.fixture(scope="session")
def protocol() -> Protocol:
    return load_protocol(REFERENCE)


@pytest.fixture(scope="session")
def design(protocol: Protocol) -> Design:
    return Design.from_protocol(protocol)


@pytest.fixture(scope="session")
def complete() -> Assumptions:
    """No deaths, dropout or missed visits: every visit is rated."""
    return Assumptions().with_overrides(**{
        "deaths.mortality_12_months": 0.0, "dropout.per_visit": 0.0,
        "dropout.missed_visit": 0.0})


@pytest.fixture(scope="session")
def control_cohort(design: Design, complete: Assumptions) -> Cohort:
    """20,000 control patients of the reference design, all visits rated, all scales."""
    return simulate_cohort(design, [0, 20_000], 1, np.random.default_rng(20261126),
                           assumptions=complete,
                           instruments=("mbi", "fma_total", "nihss", "mrs", "lesion_volume"))
