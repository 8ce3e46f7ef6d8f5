"""Rows to metafor's raw columns, with direction, and without guessing missing numbers."""

from __future__ import annotations

import pytest

from strokecell.errors import InputError
from strokecell.evidence import (
    CONTINUOUS_COLUMNS,
    EVENT_COLUMNS,
    OUTCOMES,
    Outcome,
    effect_size_inputs,
    load_trials,
    validate_rows,
)

from .conftest import RowFactory


def test_continuous_columns_for_li_2013() -> None:
    # domain/README.md section 5.3: BI 57.39 +/- 23.51 (n = 60) vs 46.90 +/- 20.29 (n = 40).
    inputs = effect_size_inputs(load_trials(), "continuous", outcome="bi")
    row = inputs.frame.set_index("row_id").loc["li2013_bi_6mo"]
    assert [row[c] for c in CONTINUOUS_COLUMNS] == [57.39, 23.51, 60, 46.90, 20.29, 40]
    assert bool(row["higher_is_better"]) and row["sign"] == 1
    assert row["route"] == "intracerebral" and row["phase"] == "acute"
    # Bang 2005 and InveST report BI without usable numbers: listed, not filled in.
    assert {"bang2005_bi_6mo", "prasad2014_bi_d180"} <= set(inputs.dropped)


def test_nihss_is_lower_is_better() -> None:
    inputs = effect_size_inputs(load_trials(), "continuous", outcome=Outcome.NIHSS)
    row = inputs.frame.set_index("row_id").loc["li2013_nihss_6mo"]
    assert not bool(row["higher_is_better"]) and row["sign"] == -1


def test_event_columns_for_treasure_day_90() -> None:
    # JAMA Neurol 2024 Table 2 (TREASURE): mRS <=2 at day 90, 34/97 vs 23/95.
    inputs = effect_size_inputs(load_trials(), "events", outcome="mrs_0_2",
                                time_days=(80, 100))
    row = inputs.frame.set_index("row_id").loc["houkin2024_mrs_0_2_d90"]
    assert [row[c] for c in EVENT_COLUMNS] == [34, 63, 23, 72, 97, 95]
    assert row["sign"] == 1
    # IBIS reports mRS 0-2 at day 180, outside the window: neither used nor dropped.
    assert not any(r.startswith("moniche2023") for r in inputs.dropped)


def test_deaths_are_lower_is_better() -> None:
    inputs = effect_size_inputs(load_trials(), "events", outcome="death")
    assert set(inputs.frame["sign"]) == {-1}
    assert inputs.k == 3


def test_direction_table_covers_every_outcome() -> None:
    assert set(OUTCOMES) == set(Outcome)
    assert OUTCOMES[Outcome.MBI].higher_is_better and OUTCOMES[Outcome.FMA].higher_is_better
    assert not OUTCOMES[Outcome.MRS].higher_is_better


def test_shared_control_is_flagged(make_row: RowFactory) -> None:
    low = make_row(row_id="a_low", comparison="low_vs_control")
    high = make_row(row_id="a_high", comparison="high_vs_control", mean1="60")
    inputs = effect_size_inputs(validate_rows([low, high]), "continuous")
    assert list(inputs.frame["shared_control"]) == [True, True]


def test_wrong_kind_or_outcome_is_refused() -> None:
    records = load_trials()
    with pytest.raises(InputError, match="not a events outcome"):
        effect_size_inputs(records, "events", outcome="bi")
    with pytest.raises(InputError, match="unknown outcome"):
        effect_size_inputs(records, "continuous", outcome="barthel")
    with pytest.raises(InputError, match="unknown kind"):
        effect_size_inputs(records, "ratio")  # type: ignore[arg-type]


def test_empty_selection_gives_an_empty_frame() -> None:
    inputs = effect_size_inputs(load_trials(), "continuous", outcome="fma_ue")
    assert inputs.k == 0 and list(inputs.frame.columns)[-1] == "shared_control"
