"""Bad rows are refused with a problem naming the line, the row, the column, the value and
what is allowed; good rows pass; every problem of a file is reported at once."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from strokecell.errors import InputError
from strokecell.evidence import (
    COLUMNS,
    EvidenceFileError,
    load_trials,
    read_trials_csv,
    validate_rows,
)

from .conftest import RowFactory


def _problems(*rows: dict[str, str]) -> list[str]:
    with pytest.raises(EvidenceFileError) as info:
        validate_rows(rows)
    assert isinstance(info.value, InputError)
    return [str(p) for p in info.value.problems]


def _one(row: dict[str, str], column: str) -> str:
    found = [p for p in _problems(row) if f"column {column}" in p]
    assert found, _problems(row)
    return found[0]


def test_the_base_row_is_valid(make_row: RowFactory) -> None:
    (record,) = validate_rows([make_row()])
    assert record.row_id == "li2013_bi_6mo" and record.has_continuous


def test_unknown_vocabulary_value_names_row_column_value_and_allowed(
    make_row: RowFactory,
) -> None:
    text = _one(make_row(route="intra-arterial"), "route")
    assert "trials.csv line 2 (li2013_bi_6mo), column route" in text
    assert "'intra-arterial'" in text
    assert "intravenous, intra_arterial, intracerebral" in text


def test_line_numbers_count_from_the_header(make_row: RowFactory) -> None:
    good = make_row()
    bad = make_row(row_id="li2013_nihss_6mo", outcome="nihss", cell_type="stem")
    (problem,) = _problems(good, bad)
    assert problem.startswith("trials.csv line 3 (li2013_nihss_6mo), column cell_type")


def test_not_a_number(make_row: RowFactory) -> None:
    text = _one(make_row(sd1="23.5 (SE)"), "sd1")
    assert "'23.5 (SE)'" in text and "a number > 0" in text


def test_negative_sd_and_zero_n_are_refused(make_row: RowFactory) -> None:
    problems = _problems(make_row(sd2="-1", n1="0"))
    assert any("column sd2" in p and "> 0" in p for p in problems)
    assert any("column n1" in p and ">= 1" in p for p in problems)


def test_unknown_column(make_row: RowFactory) -> None:
    text = _one(make_row(se1="2.1"), "se1")
    assert "unknown column" in text


def test_means_need_sds_and_n(make_row: RowFactory) -> None:
    problems = _problems(make_row(sd2="", n2=""))
    assert any("column sd2" in p and "mean, SD and n of both arms" in p for p in problems)
    assert any("column n2" in p for p in problems)


def test_sd_without_mean(make_row: RowFactory) -> None:
    problems = _problems(make_row(mean1="", mean2=""))
    assert any("column mean1" in p for p in problems)
    assert any("column mean2" in p for p in problems)


def test_events_cannot_exceed_n(make_row: RowFactory) -> None:
    row = make_row(outcome="death", measure="events", mean1="", sd1="", mean2="", sd2="",
                   events1="61", events2="3")
    text = _one(row, "events1")
    assert "more events than patients (n1 = 60)" in text and "61" in text


def test_events_need_both_arms(make_row: RowFactory) -> None:
    row = make_row(outcome="death", measure="events", mean1="", sd1="", mean2="", sd2="",
                   events1="4")
    assert "events and n of both arms" in _one(row, "events2")


def test_means_for_an_event_outcome_are_refused(make_row: RowFactory) -> None:
    text = _one(make_row(outcome="death"), "outcome")
    assert "means and SDs given for an event outcome" in text


def test_events_for_a_continuous_outcome_are_refused(make_row: RowFactory) -> None:
    row = make_row(measure="events", mean1="", sd1="", mean2="", sd2="", events1="3",
                   events2="4")
    assert any("event counts given for a continuous outcome" in p for p in _problems(row))


def test_phase_must_agree_with_days(make_row: RowFactory) -> None:
    text = _one(make_row(phase="subacute"), "phase")
    assert "'subacute'" in text and "day 5.9" in text and "allowed: acute" in text


def test_phase_uses_median_then_midpoint(make_row: RowFactory) -> None:
    median = make_row(days_from_onset_mean="", days_from_onset_median="6.5",
                      days_from_onset_max="30", phase="acute")
    validate_rows([median])
    midpoint = make_row(days_from_onset_mean="", days_from_onset_min="180",
                        days_from_onset_max="1826", phase="subacute")
    assert "allowed: chronic" in _one(midpoint, "phase")


def test_phase_required_when_days_are_known(make_row: RowFactory) -> None:
    assert "required" in _one(make_row(phase=""), "phase")


def test_mean_day_outside_the_range(make_row: RowFactory) -> None:
    text = _one(make_row(days_from_onset_mean="9", phase="subacute"), "days_from_onset_mean")
    assert "above days_from_onset_max" in text


def test_per_kg_and_total_dose_are_exclusive(make_row: RowFactory) -> None:
    text = _one(make_row(dose_per_kg="1e6"), "dose_total")
    assert "either per kg or total, not both" in text


def test_dose_value_needs_its_statistic_and_lies_in_its_range(make_row: RowFactory) -> None:
    assert "fixed, mean, median" in _one(make_row(dose_statistic=""), "dose_statistic")
    assert "above dose_total_max" in _one(make_row(dose_total="3e9"), "dose_total")


def test_randomised_trial_needs_n_per_arm(make_row: RowFactory) -> None:
    text = _one(make_row(randomized="yes", n_rand1="", n_rand2=""), "n_rand1")
    assert "randomized trial needs n randomized per arm" in text
    validate_rows([make_row(randomized="yes", n_rand1="", n_rand2="", n_rand_total="100")])


def test_verified_row_needs_a_url(make_row: RowFactory) -> None:
    assert "needs the URL" in _one(make_row(verification_url=""), "verification_url")


def test_numbers_need_a_source_and_locator(make_row: RowFactory) -> None:
    problems = _problems(make_row(numbers_source="", numbers_locator=""))
    assert any("column numbers_source" in p for p in problems)
    assert any("column numbers_locator" in p for p in problems)


def test_citation_must_be_an_identifier(make_row: RowFactory) -> None:
    text = _one(make_row(citation="Li 2013"), "citation")
    assert "doi:10.x/y, pmid:123" in text


def test_duplicate_row_id_and_inconsistent_trial_fields(make_row: RowFactory) -> None:
    problems = _problems(make_row(), make_row(stroke_type="ischaemic"))
    assert any("line 3 (li2013_bi_6mo), column row_id" in p and "duplicate of line 2" in p
               for p in problems)
    assert any("column stroke_type" in p and "differs from line 2" in p for p in problems)


def test_every_problem_of_a_file_is_reported(make_row: RowFactory) -> None:
    problems = _problems(make_row(route="iv"), make_row(row_id="x2", sd1="", phase="chronic"))
    assert len(problems) >= 3


def test_missing_column_in_the_header(make_row: RowFactory) -> None:
    row = make_row()
    del row["notes"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    with pytest.raises(EvidenceFileError) as info:
        read_trials_csv(buffer.getvalue())
    assert "line 1, column notes: missing column" in str(info.value)


def test_load_trials_from_a_path(tmp_path: Path, make_row: RowFactory) -> None:
    path = tmp_path / "mine.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerow(make_row(route="nasal"))
    with pytest.raises(EvidenceFileError) as info:
        load_trials(path)
    assert "mine.csv line 2 (li2013_bi_6mo), column route" in str(info.value)
    with pytest.raises(EvidenceFileError, match="cannot read"):
        load_trials(tmp_path / "absent.csv")
