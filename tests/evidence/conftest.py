"""A valid row of trials.csv (as text, the way csv.DictReader yields it) to vary in tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from strokecell.evidence import COLUMNS

RowFactory = Callable[..., dict[str, str]]

# Li 2013, BI at 6 months (domain/README.md sections 5.3 and 6), complete and valid.
_BASE = {
    "row_id": "li2013_bi_6mo",
    "trial_id": "li2013",
    "trial_label": "Li 2013",
    "reference": "Li ZM et al. Clin Neurol Neurosurg 2013;115(1):72-76",
    "comparison": "bm_mnc_vs_control",
    "stroke_type": "ich",
    "cell_type": "bm_mnc",
    "cell_source": "bone_marrow",
    "donor": "autologous",
    "route": "intracerebral",
    "dose_total": "1.3e9",
    "dose_total_min": "2.5e8",
    "dose_total_max": "2.3e9",
    "dose_statistic": "median",
    "n_doses": "1",
    "days_from_onset_min": "5",
    "days_from_onset_max": "7",
    "days_from_onset_mean": "5.9",
    "phase": "acute",
    "randomized": "no",
    "blinding": "assessor",
    "control": "standard_care",
    "n_rand1": "60",
    "n_rand2": "40",
    "outcome": "bi",
    "measure": "final",
    "time_value": "6",
    "time_unit": "months",
    "time_from": "treatment",
    "n1": "60",
    "n2": "40",
    "mean1": "57.39",
    "sd1": "23.51",
    "mean2": "46.90",
    "sd2": "20.29",
    "p_reported": "<0.01",
    "citation": "url:https://example.org/li2013",
    "numbers_source": "url:https://example.org/li2013",
    "numbers_locator": "Abstract",
    "verification": "V",
    "verification_url": "https://example.org/li2013",
}


@pytest.fixture
def make_row() -> RowFactory:
    """A full row (every column present, empty where not set); override by keyword, "" to empty."""

    def make(**overrides: str) -> dict[str, str]:
        row = {column: "" for column in COLUMNS}
        row.update(_BASE)
        row.update(overrides)
        return row

    return make
