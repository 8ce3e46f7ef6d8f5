"""synthesize(): row selection, time matching, direction, subgroups, regressions, shared
control and the rows left out, on the shipped trials.csv and on small synthetic data sets.

The engine (strokecell.stats.meta) is validated against metafor in tests/stats/meta; here
each synthesis must equal what the engine gives when called directly on the escalc inputs of
the rows it selected. Expected selections are worked out by hand from trials.csv (quoted in
the comments).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from strokecell.errors import InputError
from strokecell.evidence import (
    EvidenceSelectionError,
    TrialRecord,
    dose_category,
    parse_time,
    synthesize,
    validate_rows,
)
from strokecell.stats.meta import escalc, rma, subgroup_analysis

from .conftest import RowFactory

TOL = 1e-12


def _ids(s: object) -> list[str]:
    return [st.record.row_id for st in s.studies]  # type: ignore[attr-defined]


def _left(s: object) -> dict[str, str]:
    return {x.row_id: x.stage for x in s.left_out}  # type: ignore[attr-defined]


# --- time points -------------------------------------------------------------------------

def test_parse_time_and_default_tolerance() -> None:
    six = parse_time("6mo")  # 6 x 365.25/12 = 182.625 days, tolerance one month = 30.4375
    assert six.days == pytest.approx(182.625)
    assert six.tolerance_days == pytest.approx(30.4375)
    assert six.contains(168.0)  # 24 weeks
    assert six.contains(180.0) and not six.contains(91.3) and not six.contains(365.25)
    ninety = parse_time("90d")  # a quarter of 90 days = 22.5 < one month
    assert ninety.tolerance_days == pytest.approx(22.5)
    assert ninety.contains(3 * 365.25 / 12)  # "3 months" = 91.3 days
    assert parse_time("1y").days == pytest.approx(365.25)
    assert parse_time("24 weeks").days == 168.0
    assert parse_time("12mo", tolerance_days=0).tolerance_days == 0


@pytest.mark.parametrize("bad", ["6", "six months", "6 parsecs", "0mo", ""])
def test_parse_time_rejects_with_allowed_forms(bad: str) -> None:
    with pytest.raises(InputError, match="time") as info:
        parse_time(bad)
    assert "6mo" in str(info.value)


# --- the shipped data set ----------------------------------------------------------------

def test_death_longest_follow_up_matches_engine() -> None:
    # trials.csv death rows: lee2010_death_5y (260 weeks, 4/16 vs 21/36),
    # houkin2024_death_d90 (6/104 vs 3/102), houkin2024_death_d365 (13/104 vs 10/102).
    # Without --time each comparison gives its longest follow-up: lee 260 wk, houkin 365 d.
    s = synthesize("mortality", by=(), regress=())
    assert s.outcome.value == "death" and s.measure == "RR" and s.test == "knha"
    assert _ids(s) == ["lee2010_death_5y", "houkin2024_death_d365"]
    assert _left(s) == {"houkin2024_death_d90": "time"}
    es = escalc("RR", ai=[4, 13], n1i=[16, 104], ci=[21, 10], n2i=[36, 102])
    ref = rma(es, method="REML", test="knha")
    assert s.overall is not None
    np.testing.assert_allclose(s.yi, es.yi, rtol=TOL)
    assert s.overall.estimate == pytest.approx(ref.estimate, rel=TOL)
    assert s.overall.se == pytest.approx(ref.se, rel=TOL)
    assert s.overall.tau2 == pytest.approx(ref.tau2, rel=1e-9)
    assert s.to_dict()["overall"]["ratio"]["estimate"] == pytest.approx(math.exp(ref.beta[0]))
    assert any("1 df" in n for n in s.notes)  # k = 2 under Knapp-Hartung is flagged


def test_death_at_12_months_selects_one_trial() -> None:
    # 12 months = 365.25 +/- 30.44 days: houkin 365 d in; lee 1820 d and houkin 90 d out.
    s = synthesize("death", "12mo", by=(), regress=())
    assert _ids(s) == ["houkin2024_death_d365"]
    assert _left(s) == {"lee2010_death_5y": "time", "houkin2024_death_d90": "time"}
    ref = rma(escalc("RR", ai=[13], n1i=[104], ci=[10], n2i=[102]), method="REML", test="z")
    assert s.overall is not None and s.overall.k == 1
    assert s.overall.estimate == pytest.approx(ref.estimate, rel=TOL)
    assert any("k = 1" in n for n in s.notes)  # Knapp-Hartung falls back to z, and says so


def test_bi_6_months_selection_and_left_out_reasons() -> None:
    # BI rows: li2013 6 mo (57.39/23.51/60 vs 46.90/20.29/40) usable; bang2005 6 mo and
    # prasad2014 180 d in the window without means/SDs; bang 3 and 12 mo outside; jaillard
    # without a time point.
    s = synthesize("BI", "6mo")
    assert _ids(s) == ["li2013_bi_6mo"]
    assert _left(s) == {"bang2005_bi_3mo": "time", "bang2005_bi_6mo": "numbers",
                        "bang2005_bi_12mo": "time", "prasad2014_bi_d180": "numbers",
                        "jaillard2020_bi": "time"}
    reasons = {x.row_id: x for x in s.left_out}
    assert "never estimated" in reasons["prasad2014_bi_d180"].reason
    assert "63.1" in (reasons["prasad2014_bi_d180"].reported or "")
    assert s.overall is not None
    assert float(s.overall.beta[0]) == pytest.approx(57.39 - 46.90)
    assert float(s.vi[0]) == pytest.approx(23.51**2 / 60 + 20.29**2 / 40)


def test_direction_natural_and_benefit() -> None:
    # NIHSS (lower is better), li2013: 10.09 vs 14.35 -> MD -4.26; benefit-harmonised +4.26.
    natural = synthesize("nihss", "6mo", by=(), regress=())
    benefit = synthesize("nihss", "6mo", by=(), regress=(), direction="benefit")
    assert float(natural.yi[0]) == pytest.approx(-4.26)
    assert float(benefit.yi[0]) == pytest.approx(4.26)
    assert "below 0 favour cells" in natural.direction_note
    assert "above 0 favour cells" in benefit.direction_note
    # Events: fewer deaths is better, so the benefit scale is -log RR.
    d_nat = synthesize("death", "12mo", by=(), regress=())
    d_ben = synthesize("death", "12mo", by=(), regress=(), direction="benefit")
    assert float(d_ben.yi[0]) == pytest.approx(-float(d_nat.yi[0]))
    assert "below 1 favour cells" in d_nat.direction_note


def test_no_row_at_the_time_lists_what_is_available() -> None:
    # MBI rows: yuan 3 and 12 months, bhasin 24 weeks; nothing within 9 months +/- 30 days.
    with pytest.raises(EvidenceSelectionError) as info:
        synthesize("mbi", "9mo")
    text = str(info.value)
    assert "no rows for outcome mbi at 9 months" in text
    assert "3 months" in text and "12 months" in text and "24 weeks" in text


def test_rows_without_numbers_give_k0_not_a_crash() -> None:
    # MBI at 6 months: bhasin2011_mbi_24wk (168 days) is in the window but has no numbers.
    s = synthesize("mbi", "6mo")
    assert s.k == 0 and s.overall is None and s.by == {} and s.regressions == {}
    assert _left(s)["bhasin2011_mbi_24wk"] == "numbers"
    assert any(n.startswith("nothing to pool") and "bi (k = 1)" in n for n in s.notes)
    assert s.to_dict()["overall"] is None


def test_bad_requests_name_the_allowed_values() -> None:
    with pytest.raises(InputError, match="unknown outcome") as info:
        synthesize("barthel_total")
    assert "mbi" in str(info.value) and "mortality" in str(info.value)
    with pytest.raises(InputError, match="RR, OR, RD"):
        synthesize("death", measure="MD")
    with pytest.raises(InputError, match="cell_type, phase, route, dose"):
        synthesize("death", by="colour")
    with pytest.raises(InputError, match="dose, dose_per_kg, days"):
        synthesize("death", regress="age")
    with pytest.raises(InputError, match="REML"):
        synthesize("death", method="bayes")
    with pytest.raises(InputError, match="z, knha"):
        synthesize("death", test="wald")


def test_equal_effects_defaults_to_z() -> None:
    s = synthesize("death", method="FE", by=(), regress=())
    assert (s.method, s.test) == ("EE", "z")
    ref = rma(escalc("RR", ai=[4, 13], n1i=[16, 104], ci=[21, 10], n2i=[36, 102]),
              method="EE")
    assert s.overall is not None
    assert s.overall.estimate == pytest.approx(ref.estimate, rel=TOL)


def test_too_few_studies_for_a_meta_regression_is_a_message() -> None:
    s = synthesize("death", by=(), regress=("dose", "days", "dose_per_kg"))
    assert s.regressions["dose"].fit is None
    assert "need k >= 3" in (s.regressions["dose"].message or "")
    assert s.regressions["dose_per_kg"].k == 0
    assert "no study reports it" in (s.regressions["dose_per_kg"].message or "")


# --- synthetic data: shared control, subgroups, regressions ------------------------------

@pytest.fixture
def synthetic(make_row: RowFactory) -> list[TrialRecord]:
    """Four comparisons of three trials at 6 months, plus rows to be left out.

    ta: two dose arms (5e7 and 2e8 cells, IV MSC, day 20) sharing one control arm of 38;
    li2013 (the conftest row): 1.3e9 cells, intracerebral BM-MNC, day 5.9;
    tc: 3e8 cells, intra-arterial MSC, day 10-18 (midpoint 14), also a 165-day row;
    td: no numbers; li2013 also at 12 months.
    """
    ta = dict(trial_id="ta", trial_label="Trial A", cell_type="msc", route="intravenous",
              dose_total_min="", dose_total_max="", dose_statistic="fixed",
              days_from_onset_min="10", days_from_onset_max="30", days_from_onset_mean="20",
              phase="subacute", n2="38", n_rand2="38", mean2="50", sd2="22")
    tc = dict(trial_id="tc", trial_label="Trial C", cell_type="msc",
              cell_source="umbilical_cord", donor="allogeneic", route="intra_arterial",
              dose_total="3e8", dose_total_min="", dose_total_max="", dose_statistic="fixed",
              days_from_onset_min="10", days_from_onset_max="18", days_from_onset_mean="",
              phase="subacute", n_rand1="22", n_rand2="23", n1="22", n2="23", mean1="70",
              sd1="15", mean2="62", sd2="16")
    rows = [
        make_row(),  # li2013_bi_6mo
        make_row(row_id="ta_low", comparison="low_vs_control", dose_total="5e7",
                 n_rand1="20", n1="20", mean1="60", sd1="20", **ta),
        make_row(row_id="ta_high", comparison="high_vs_control", dose_total="2e8",
                 n_rand1="19", n1="19", mean1="65", sd1="18", **ta),
        make_row(row_id="tc_6mo", **tc),
        make_row(row_id="td_6mo", trial_id="td", trial_label="Trial D", route="intravenous",
                 mean1="", sd1="", mean2="", sd2="", n1="", n2=""),
        make_row(row_id="li2013_bi_12mo", time_value="12"),
        make_row(row_id="tc_165d", **{**tc, "time_value": "165", "time_unit": "days",
                                      "mean1": "68"}),
    ]
    return validate_rows(rows)


# Expected escalc inputs, in file order: li2013, ta_low, ta_high (control n 38 split in two:
# 19 each, mean and SD unchanged, Cochrane Handbook 23.3.4), tc_6mo.
MD_INPUTS: dict[str, list[float]] = dict(
    m1i=[57.39, 60, 65, 70], sd1i=[23.51, 20, 18, 15], n1i=[60, 20, 19, 22],
    m2i=[46.90, 50, 50, 62], sd2i=[20.29, 22, 22, 16], n2i=[40, 19, 19, 23])


def test_synthetic_selection_and_shared_control_split(synthetic: list[TrialRecord]) -> None:
    s = synthesize("bi", "6mo", records=synthetic, by=(), regress=())
    assert _ids(s) == ["li2013_bi_6mo", "ta_low", "ta_high", "tc_6mo"]
    assert _left(s) == {"td_6mo": "numbers", "li2013_bi_12mo": "time", "tc_165d": "time"}
    assert "tc_6mo" in next(x.reason for x in s.left_out if x.row_id == "tc_165d")
    assert [st.control_split for st in s.studies] == [1, 2, 2, 1]
    assert any("23.3.4" in n and "Trial A" in n for n in s.notes)
    es = escalc("MD", **MD_INPUTS)
    np.testing.assert_allclose(s.yi, es.yi, rtol=TOL)
    np.testing.assert_allclose(s.vi, es.vi, rtol=TOL)
    ref = rma(es, method="REML", test="knha")
    assert s.overall is not None
    np.testing.assert_allclose(s.overall.beta, ref.beta, rtol=TOL)
    np.testing.assert_allclose(s.overall.se_beta, ref.se_beta, rtol=TOL)
    assert s.overall.tau2 == pytest.approx(ref.tau2, rel=1e-9, abs=1e-12)


@pytest.mark.filterwarnings("ignore:k = 1. using test:RuntimeWarning")
def test_synthetic_subgroups_match_engine(synthetic: list[TrialRecord]) -> None:
    s = synthesize("bi", "6mo", records=synthetic, regress=(), measure="SMD", method="DL")
    es = escalc("SMD", **MD_INPUTS)
    expected = {
        "route": ["intracerebral", "intravenous", "intravenous", "intra_arterial"],
        "cell_type": ["bm_mnc", "msc", "msc", "msc"],
        "phase": ["acute", "subacute", "subacute", "subacute"],
        # 1.3e9 >= 1e9 high; 5e7 < 1e8 low; 2e8 and 3e8 medium
        "dose": ["high", "low", "medium", "medium"],
    }
    assert list(s.by) == ["cell_type", "phase", "route", "dose"]
    for aspect, groups in expected.items():
        ref = subgroup_analysis(es.yi, es.vi, subgroup=groups, method="DL", test="knha")
        got = s.by[aspect]
        assert [lev.level for lev in got.levels] == list(ref.levels), aspect
        for lev, fit in zip(got.levels, ref.fits, strict=True):
            assert float(lev.fit.beta[0]) == pytest.approx(float(fit.beta[0]), rel=TOL)
        assert got.Q_between == pytest.approx(ref.Q_between, rel=1e-9)
        assert got.Q_between_df == ref.Q_between_df


def test_synthetic_regressions_match_engine(synthetic: list[TrialRecord]) -> None:
    s = synthesize("bi", "6mo", records=synthetic, by=(), regress=("dose", "days"))
    es = escalc("MD", **MD_INPUTS)
    doses = [math.log10(x) for x in (1.3e9, 5e7, 2e8, 3e8)]
    days = [5.9, 20.0, 20.0, 14.0]  # tc has no mean: midpoint of 10-18
    for name, x in (("dose", doses), ("days", days)):
        reg = s.regressions[name]
        assert reg.fit is not None, reg.message
        assert list(reg.values) == pytest.approx(x)
        ref = rma(es, mods={name: x}, method="REML", test="knha")
        np.testing.assert_allclose(reg.fit.beta, ref.beta, rtol=1e-9)
        assert reg.fit.QM is not None and ref.QM is not None
        assert math.isclose(reg.fit.QM, ref.QM, rel_tol=1e-9)
    d = s.to_dict()["regressions"]["dose"]
    assert {"coefficients", "QM", "QM_pval", "k", "left_out"} <= set(d)


def test_shared_control_split_for_events(make_row: RowFactory) -> None:
    events = dict(outcome="death", measure="events", mean1="", sd1="", mean2="", sd2="",
                  p_reported="")
    arm = dict(trial_id="ta", trial_label="Trial A", cell_type="msc", route="intravenous",
               dose_total_min="", dose_total_max="", dose_statistic="fixed", n_rand2="38",
               n2="38", events2="6")
    recs = validate_rows([
        make_row(events1="5", events2="4", **events),
        make_row(row_id="a_low", comparison="low", dose_total="5e7", n_rand1="20", n1="20",
                 events1="2", **arm, **events),
        make_row(row_id="a_high", comparison="high", dose_total="2e8", n_rand1="19",
                 n1="19", events1="1", **arm, **events),
    ])
    s = synthesize("death", "6mo", records=recs, by=(), regress=(), measure="OR")
    # control arm 6/38 split between the two comparisons: 3/19 each
    es = escalc("OR", ai=[5, 2, 1], n1i=[60, 20, 19], ci=[4, 3, 3], n2i=[40, 19, 19])
    np.testing.assert_allclose(s.yi, es.yi, rtol=TOL)
    np.testing.assert_allclose(s.vi, es.vi, rtol=TOL)


def test_dose_category_per_kg_uses_the_reference_weight(make_row: RowFactory) -> None:
    (per_kg,) = validate_rows([make_row(dose_total="", dose_total_min="", dose_total_max="",
                                        dose_per_kg="2e6", dose_statistic="fixed")])
    assert dose_category(per_kg) == "medium"  # 2e6/kg x 70 kg = 1.4e8 cells
