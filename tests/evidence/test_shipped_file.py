"""The shipped trials.csv: every row validates, the schema file matches the code, and the
numbers agree with those quoted in the domain notes (../shared/domain/README.md)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml

from strokecell.evidence import (
    COLUMNS,
    Outcome,
    Randomized,
    TrialRecord,
    allowed_values,
    load_trials,
)


@pytest.fixture(scope="module")
def records() -> list[TrialRecord]:
    return load_trials()


@pytest.fixture(scope="module")
def by_id(records: list[TrialRecord]) -> dict[str, TrialRecord]:
    return {r.row_id: r for r in records}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    text = (resources.files("strokecell.evidence") / "trials.schema.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def test_every_shipped_row_validates(records: list[TrialRecord]) -> None:
    # load_trials raises EvidenceFileError listing every bad row; reaching here means none.
    assert len(records) >= 40
    assert len({r.row_id for r in records}) == len(records)


def test_header_is_the_model(records: list[TrialRecord]) -> None:
    header = (resources.files("strokecell.evidence") / "trials.csv").read_text("utf-8")
    assert tuple(header.splitlines()[0].split(",")) == COLUMNS


def test_schema_file_lists_every_column_in_order(schema: dict[str, Any]) -> None:
    assert tuple(c["name"] for c in schema["columns"]) == COLUMNS


@pytest.mark.parametrize("column", COLUMNS)
def test_schema_file_allowed_values_match_the_code(schema: dict[str, Any], column: str) -> None:
    entry = next(c for c in schema["columns"] if c["name"] == column)
    assert entry["required"] in ("yes", "no", "conditional")
    if entry["type"] == "enum":
        assert ", ".join(entry["allowed"]) == allowed_values(column)


# The randomised controlled trials of domain/README.md section 6 with a reported outcome.
RANDOMISED_IN_DOMAIN_NOTES = {
    "bang2005", "lee2010", "prasad2014", "hess2017", "houkin2024", "chung2021",
    "jaillard2020", "actissima", "savitz2019", "moniche2023", "chen2014", "decelis2022",
    "law2021",
}


def test_randomised_trials_of_the_domain_notes_are_present(records: list[TrialRecord]) -> None:
    present = {r.trial_id for r in records if r.randomized is Randomized.YES}
    assert present >= RANDOMISED_IN_DOMAIN_NOTES


def test_source_case_is_present_and_coded_as_not_randomised(
    by_id: dict[str, TrialRecord],
) -> None:
    # domain/README.md section 8: 22 vs 23, odd/even admission day, hUC-MSC, interventional.
    row = by_id["yuan_mbi_12mo"]
    assert (row.randomized, row.stroke_type.value, row.cell_source.value) == (
        Randomized.NO, "ich", "umbilical_cord")
    assert (row.n_rand1, row.n_rand2) == (22, 23)
    assert row.mean1 is None and row.sd1 is None  # numbers not in the abstract: stay empty


def test_li_2013_barthel_matches_domain_notes(by_id: dict[str, TrialRecord]) -> None:
    # domain/README.md section 5.3 and section 6 row 13 (Li et al., Clin Neurol Neurosurg
    # 2013;115:72-76): BI at 6 months, control 46.90 +/- 20.29 (n = 40) vs treated
    # 57.39 +/- 23.51 (n = 60).
    row = by_id["li2013_bi_6mo"]
    assert (row.mean1, row.sd1, row.n1) == (57.39, 23.51, 60)
    assert (row.mean2, row.sd2, row.n2) == (46.90, 20.29, 40)
    assert row.outcome is Outcome.BI and row.time_days == pytest.approx(182.625)


def test_li_2013_nihss_matches_domain_notes(by_id: dict[str, TrialRecord]) -> None:
    # domain/README.md section 5.3: NIHSS at 6 months, control 14.35 +/- 10.14 vs treated
    # 10.09 +/- 8.86.
    row = by_id["li2013_nihss_6mo"]
    assert (row.mean1, row.sd1, row.mean2, row.sd2) == (10.09, 8.86, 14.35, 10.14)


def test_treasure_placebo_deaths_match_domain_notes(by_id: dict[str, TrialRecord]) -> None:
    # domain/README.md section 5.3: TREASURE placebo mRS 6 at day 90 = 2.9% and at day 365
    # = 9.8% of n = 102 (JAMA Neurol 2024, Table 2).
    d90, d365 = by_id["houkin2024_death_d90"], by_id["houkin2024_death_d365"]
    assert d90.n2 == d365.n2 == 102
    assert d90.events2 is not None and d365.events2 is not None
    assert round(100 * d90.events2 / 102, 1) == 2.9
    assert round(100 * d365.events2 / 102, 1) == 9.8


def test_treasure_primary_end_point_matches_domain_notes(by_id: dict[str, TrialRecord]) -> None:
    # domain/README.md section 6 row 5: excellent outcome day 90 11.5% vs 9.8%, day 365
    # 15.4% vs 10.8%; mRS <=2 at day 90 35.1% vs 24.2%.
    expected = {
        "houkin2024_excellent_d90": (11.5, 9.8),
        "houkin2024_excellent_d365": (15.4, 10.8),
        "houkin2024_mrs_0_2_d90": (35.1, 24.2),
    }
    for row_id, (pct1, pct2) in expected.items():
        row = by_id[row_id]
        assert row.events1 is not None and row.events2 is not None
        assert row.n1 is not None and row.n2 is not None
        assert round(100 * row.events1 / row.n1, 1) == pct1
        assert round(100 * row.events2 / row.n2, 1) == pct2


def test_starting_deaths_match_domain_notes(by_id: dict[str, TrialRecord]) -> None:
    # domain/README.md section 6 row 2: deaths 4/16 (25%) vs 21/36 (58.3%).
    row = by_id["lee2010_death_5y"]
    assert (row.events1, row.n1, row.events2, row.n2) == (4, 16, 21, 36)


def test_invest_keeps_means_without_sds_as_text_only(by_id: dict[str, TrialRecord]) -> None:
    # domain/README.md section 5.3 and section 6 row 3: BI 63.1 vs 63.6 at day 180. The SDs
    # were not found, so the numbers stay out of the numeric columns.
    row = by_id["prasad2014_bi_d180"]
    assert row.mean1 is None and row.mean2 is None
    assert row.reported_text is not None and "63.1" in row.reported_text
    assert "63.6" in row.reported_text


def test_every_v_row_has_a_url_and_every_numbered_row_a_locator(
    records: list[TrialRecord],
) -> None:
    for r in records:
        if r.verification.value == "V":
            assert r.verification_url, r.row_id
        if r.has_numbers:
            assert r.numbers_source and r.numbers_locator, r.row_id
