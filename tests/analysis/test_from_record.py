"""The analysis data sets derived from a trial record (strokecell.analysis.from_record), checked
against the records they came from: a small trial recorded through the trial services
(tests/analysis/record_trial.py), on SQLite and once on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, select

from store.conftest import (  # noqa: F401 (pytest fixtures, found by name)
    SKIP_PG,
    _pg_reset,
    pg_shared,
    pg_template,
    sqlite_template,
)
from strokecell.analysis import PARAMS, run_planned_analyses
from strokecell.analysis.from_record import (
    AnalysisDatasets,
    analysis_datasets,
    write_analysis_datasets,
)
from strokecell.errors import PermissionDeniedError
from strokecell.store import Role, make_engine, read_session
from strokecell.store import models as m
from strokecell.trial import ServiceContext, context_for
from trial.conftest import _fast_passwords, snapshot  # noqa: F401 (autouse fixture)

from .record_trial import CELLS, STUDY, RecordedFiles, record_trial, recorded_files


@pytest.fixture(scope="session")
def recorded(sqlite_template: Path,  # noqa: F811 (the store's fixture)
             tmp_path_factory: pytest.TempPathFactory) -> RecordedFiles:
    return recorded_files(sqlite_template, tmp_path_factory.mktemp("recorded"))


@pytest.fixture(scope="module")
def locked_db(recorded: RecordedFiles) -> Iterator[Engine]:
    engine = make_engine(recorded.url(locked=True))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def unlocked_db(recorded: RecordedFiles) -> Iterator[Engine]:
    engine = make_engine(recorded.url(locked=False))
    yield engine
    engine.dispose()


def _ctx(db: Engine, recorded: RecordedFiles, role: Role, site: str = "ALL") -> ServiceContext:
    clock = recorded.trial.world.clock
    return context_for(db, f"{role.value}.{site.lower()}", study_code=STUDY, role=role,
                       clock=lambda: clock.now)


@pytest.fixture(scope="module")
def unblinded(locked_db: Engine, recorded: RecordedFiles) -> AnalysisDatasets:
    return analysis_datasets(locked_db, _ctx(locked_db, recorded, Role.STATISTICIAN))


def _observed(ds: AnalysisDatasets) -> pd.DataFrame:
    return ds.bds[ds.bds["DTYPE"].isna()]


def test_adsl_subjects_arms_and_populations(unblinded: AnalysisDatasets,
                                            recorded: RecordedFiles) -> None:
    t = recorded.trial
    adsl = unblinded.adsl.set_index("USUBJID")
    assert not unblinded.blinded and unblinded.snapshot.locked
    assert unblinded.snapshot.study_status == "locked"  # set by the study lock
    assert set(adsl.index) == {*t.arms, t.not_randomised, t.screen_failure}
    assert adsl.loc[list(t.arms), "ARMCD"].to_dict() == t.arms  # = the cell lab's allocation
    assert adsl.loc[t.screen_failure, ["ARMCD", "RANDFL", "SCRFREAS", "AGE"]].tolist() == [
        "SCRNFAIL", "N", "AGE", 80.0]
    assert adsl.loc[t.not_randomised, ["ARMCD", "SCRFREAS"]].tolist() == [
        "SCRNFAIL", "ENROLLED, NOT RANDOMISED"]
    rand = adsl.loc[list(t.arms)]
    assert (rand[["ITTFL", "RANDFL", "SAFFL", "RECFL", "PPROTFL"]] == "Y").all().all()
    cells = rand["ARMCD"] == CELLS
    assert rand.loc[cells, "TRTSDT"].notna().all() and rand.loc[~cells, "TRTSDT"].isna().all()
    assert (rand.loc[cells, "ONSETDY"] == 12.0).all()  # screened 12 days after onset
    # dose per kg from the unblinded export's administration summary (adm_items: 3.0e7 cells,
    # 70 kg on the administration page); nothing for the control arm
    assert rand.loc[cells, "DOSEKG"].tolist() == pytest.approx([3.0e7 / 70] * int(cells.sum()))
    assert rand.loc[~cells, "DOSEKG"].isna().all()
    day40 = pd.Timestamp(t.baseline_day + timedelta(days=40))
    assert adsl.loc[t.died, ["DTHFL", "DTHDT", "DCSREAS"]].tolist() == ["Y", day40, "DEATH"]
    assert adsl.loc[t.withdrawn, ["DTHFL", "DCSDT", "DCSREAS"]].tolist() == [
        "N", day40, "WITHDRAWAL BY SUBJECT"]
    assert (adsl["DTHFL"] == "Y").sum() == 1 and (adsl["COMPLFL"] == "N").all()
    assert rand["AGE"].tolist() == [50.0 + k for k in range(6)]  # baseline_stroke page
    # demographics page (baseline): sex and weight, in ADSL for the baseline table
    assert rand["SEX"].tolist() == ["M", "F"] * 3
    assert rand["WEIGHTBL"].tolist() == [60.0 + k for k in range(6)]
    assert adsl.loc[[t.not_randomised, t.screen_failure], "SEX"].isna().all()
    assert rand["BNIHSS"].eq(7.0).all()
    assert rand["STRAT_BASELINE_MBI"].tolist() == ["le_40", "gt_40", "le_40", "gt_40",
                                                   "le_40", "le_40"]
    src = unblinded.sources.set_index(["USUBJID", "VARIABLE"])["SOURCE"]
    assert src[(t.not_randomised, "AGE")].startswith("screening:")
    assert src[(t.arms and sorted(t.arms)[0], "AGE")].endswith("/baseline_stroke/item:age_years")
    assert src[(sorted(t.arms)[0], "SEX")].endswith("/demographics/item:sex")
    assert unblinded.snapshot.counts["screened"] == 8


def test_bds_counts_change_and_windows(unblinded: AnalysisDatasets, locked_db: Engine,
                                      recorded: RecordedFiles) -> None:
    t = recorded.trial
    obs = _observed(unblinded)
    with read_session(locked_db) as s:  # the source rows, counted in the database
        derived = s.execute(select(m.DerivedValue.param_code).join(
            m.FormInstance, m.FormInstance.id == m.DerivedValue.form_instance_id)
            .where(m.FormInstance.visit_id.is_not(None))).scalars().all()
        bdnf = s.execute(select(m.ItemValue.id).join(
            m.FormInstance, m.FormInstance.id == m.ItemValue.form_instance_id)
            .where(m.ItemValue.item_code == "bdnf")).scalars().all()
    expected = pd.Series([c for c in derived if c in PARAMS]).value_counts().to_dict()
    expected["BDNF"] = len(bdnf)
    assert obs.groupby("PARAMCD").size().to_dict() == expected
    assert expected == {"MBI": 16, "NIHSS": 10, "MRS": 10, "LESVOL": 6, "FMATOT": 3,
                        "FMAUE": 3, "FMALE": 3, "BDNF": 12}
    s0 = sorted(t.arms)[0]
    row = obs[obs["USUBJID"].eq(s0) & obs["PARAMCD"].eq("MBI") & obs["AVISIT"].eq("month_1")]
    by_hand = t.values[(s0, "MBI", "month_1")] - t.values[(s0, "MBI", "baseline")]
    assert row["CHG"].item() == by_hand == row["AVAL"].item() - row["BASE"].item()
    base = obs[obs["USUBJID"].eq(s0) & obs["AVISIT"].eq("baseline")]
    assert (base["ABLFL"] == "Y").all() and base["CHG"].isna().all()
    assert (obs["ADY"] >= 1).all()
    late = obs[obs["USUBJID"].eq(t.late) & obs["AVISIT"].eq("month_3")]
    assert len(late) == 3 and (late["ANL01FL"] == "N").all()  # day 110: window 77-105
    assert (late["ADY"] > late["AWHI"]).all()
    rest = obs[~(obs["USUBJID"].eq(t.late) & obs["AVISIT"].eq("month_3"))]
    assert (rest["ANL01FL"] == "Y").all()
    worst = unblinded.bds[unblinded.bds["DTYPE"] == "WORST"]
    assert set(worst["USUBJID"]) == {t.died} and (worst["SRCSEQ"] == "ADSL.DTHDT").all()
    lesvol = obs[obs["PARAMCD"].eq("LESVOL")].set_index("USUBJID")["AVAL"]
    assert lesvol[s0] == t.values[(s0, "LESVOL", "baseline")]


def test_traceability_ids_point_at_real_rows(unblinded: AnalysisDatasets,
                                             locked_db: Engine) -> None:
    obs = _observed(unblinded)
    with read_session(locked_db) as s:
        forms = {f.id: f for f in s.scalars(select(m.FormInstance)).all()}
        codes = {sid: c for sid, c in s.execute(select(m.Subject.id, m.Subject.subject_code))}
        for row in obs.itertuples():
            form = forms[int(row.FORMSEQ)]
            assert (codes[form.subject_id], form.form_code) == (row.USUBJID, row.FORMCD)
            if row.ITEMCD is None:
                value = next(d.value_num for d in form.derived if d.param_code == row.PARAMCD)
                source = f"form:{form.id}/{form.form_code}/derived:{row.PARAMCD}"
            else:
                value = next(i.value_num for i in form.items if i.item_code == row.ITEMCD)
                source = f"form:{form.id}/{form.form_code}/item:{row.ITEMCD}"
            assert source == row.SRCSEQ
            assert value == row.AVAL
        for ae in unblinded.adae.itertuples():
            rec = s.scalars(select(m.AdverseEvent).where(
                m.AdverseEvent.form_instance_id == int(ae.FORMSEQ))).one()
            assert (codes[rec.subject_id], rec.ae_number, rec.term, rec.ctcae_grade) == (
                ae.USUBJID, ae.AESEQ, ae.AETERM, ae.AETOXGR)
    adae = unblinded.adae.set_index("AETERM")
    assert adae.loc["Headache", ["AREL_CELL", "AREL_PROC", "AESER", "TRTEMFL"]].tolist() == [
        "N", "Y", "N", "Y"]  # relatedness "possible" to the procedure
    fatal = adae.loc["Recurrent intracerebral haemorrhage"]
    assert [fatal.AETOXGR, fatal.AESDTH, fatal.AEOUT] == [5, "Y", "FATAL"]


def test_blinded_derivation_has_no_arm(unlocked_db: Engine, locked_db: Engine,
                                       recorded: RecordedFiles) -> None:
    for db, site in ((unlocked_db, "ALL"), (locked_db, "S01")):  # not locked; not study-wide
        ds = analysis_datasets(db, _ctx(db, recorded, Role.STATISTICIAN, site))
        assert ds.blinded and "unblinded export needs" in ds.snapshot.blinding_note
        rand = ds.adsl[ds.adsl["RANDFL"] == "Y"]
        assert (rand["ARMCD"] == "").all() and rand["ARM"].isna().all()
        assert rand["TRTSDT"].isna().all() and rand["ONSETDY"].isna().all()
        assert rand["DOSEKG"].isna().all()  # the administration summary is unblinded only
        assert (rand["SAFFL"] == "Y").all()
        assert not ds.adsl.isin([CELLS, "zqcomp"]).any().any()
        adsl, _, _ = ds.for_analysis()
        assert adsl.loc[adsl["RANDFL"] == "Y", "ARMCD"].nunique() == 1  # a pooling stand-in
    assert set(ds.adsl["SITEID"]) == {"S01"}  # the site-limited statistician sees S01 only
    with pytest.raises(PermissionDeniedError, match="locked study"):
        analysis_datasets(unlocked_db, _ctx(unlocked_db, recorded, Role.STATISTICIAN),
                          unblinded=True)
    with pytest.raises(PermissionDeniedError, match="export"):
        analysis_datasets(locked_db, _ctx(locked_db, recorded, Role.INVESTIGATOR, "S01"))


def test_derivation_is_read_only_and_reproducible(locked_db: Engine, recorded: RecordedFiles,
                                                  unblinded: AnalysisDatasets) -> None:
    before = snapshot(locked_db)
    again = analysis_datasets(locked_db, _ctx(locked_db, recorded, Role.DATA_MANAGER))
    assert snapshot(locked_db) == before
    assert again.snapshot.record_sha256 == unblinded.snapshot.record_sha256
    pd.testing.assert_frame_equal(again.bds, unblinded.bds)


def test_write_analysis_datasets(unblinded: AnalysisDatasets, tmp_path: Path) -> None:
    files = write_analysis_datasets(unblinded, tmp_path / "ads")
    for name, frame in (("adsl", unblinded.adsl), ("bds", unblinded.bds),
                        ("adae", unblinded.adae), ("adsl_sources", unblinded.sources)):
        csv = pd.read_csv(files[f"{name}.csv"], keep_default_na=False)
        table = pq.read_table(files[f"{name}.parquet"])
        assert list(csv.columns) == table.column_names == list(frame.columns)
        assert len(csv) == table.num_rows == len(frame)
    adsl = pq.read_table(files["adsl.parquet"]).to_pandas()
    assert str(pq.read_schema(files["adsl.parquet"]).field("RANDDT").type) == "date32[day]"
    assert adsl.set_index("USUBJID")["ARMCD"].to_dict() == unblinded.adsl.set_index(
        "USUBJID")["ARMCD"].to_dict()
    meta = json.loads(Path(files["snapshot.json"]).read_text(encoding="utf-8"))
    assert meta["snapshot"]["record_sha256"] == unblinded.snapshot.record_sha256


def test_planned_analyses_run_on_the_derived_sets(unblinded: AnalysisDatasets) -> None:
    planned = run_planned_analyses(unblinded.protocol, *unblinded.for_analysis(), seed=3,
                                   unblinded=True, imputations=5)
    flow = planned["consort"].table
    screened = flow[flow["stage"] == "screened"]["n"].sum()
    assert screened == 8 and "mmrm:MBI" in planned.results
    # locked on day 112: the four subjects neither dead nor withdrawn are still in follow-up
    # (month 6 and 12 not yet due), not "discontinued - not recorded"; every allocated
    # subject is counted once: completed + discontinued + lost + ongoing
    assert not (flow["reason"] == "NOT RECORDED").any()

    def n(stage: str, arm: str) -> int:
        return int(flow[(flow["stage"] == stage) & (flow["ARMCD"] == arm)
                        & (flow["reason"] == "")]["n"].sum())

    arms = sorted(set(unblinded.adsl.loc[unblinded.adsl["RANDFL"] == "Y", "ARMCD"]))
    assert sum(n("ongoing", a) for a in arms) == 4
    assert sum(n("discontinued", a) for a in arms) == 2
    for arm in arms:
        assert n("allocated", arm) == sum(n(s, arm) for s in (
            "completed", "discontinued", "lost to follow-up", "ongoing"))
    src = unblinded.sources
    notes = src.loc[src["VARIABLE"] == "COMPLFL", "SOURCE"].tolist()
    assert sum("follow-up ongoing" in x for x in notes) == 4


def test_a_missed_final_visit_is_not_a_discontinuation(unblinded: AnalysisDatasets) -> None:
    """COMPLFL: a subject not discontinued whose last scheduled visit was missed (its window
    closed before the data cut-off) completed the follow-up; with the window still open the
    follow-up is ongoing (the demo showed such a subject as "discontinued - not recorded")."""
    from datetime import date

    from strokecell.analysis.from_record import _cutoff, _Derivation
    from strokecell.trial import VisitView

    def visit(number: int, done: bool, end: date) -> VisitView:
        return VisitView(f"v{number}", f"V{number}", number, end, end, end,
                         end if done else None, "done" if done else "scheduled", 1)

    d = _Derivation("S", unblinded.protocol, {"subjects": []}, {}, {}, True, {})
    d.visits = {"A": [visit(0, True, date(2026, 1, 1)), visit(4, False, date(2027, 1, 31))]}
    d.cutoff = (date(2027, 6, 1), "the study lock")
    assert d._completion("A", True, None) == {"COMPLFL": "Y"}
    assert "missed" in d.sources[-1][3] and "not discontinued" in d.sources[-1][3]
    assert d._completion("A", True, "DEATH") == {"COMPLFL": "N"}
    d.cutoff = (date(2027, 1, 15), "the latest visit date of the record")
    assert d._completion("A", True, None) == {"COMPLFL": "N"}
    assert "follow-up ongoing" in d.sources[-1][3]
    assert _cutoff([], d.visits) == (date(2026, 1, 1), "the latest visit date of the record")


@SKIP_PG
def test_derivation_on_postgresql(request: pytest.FixtureRequest,
                                  unblinded: AnalysisDatasets) -> None:
    """The same trial recorded on PostgreSQL derives the same data sets (ids aside; without
    the Fugl-Meyer forms, which PostgreSQL refuses: see record_trial)."""
    engine: Engine = request.getfixturevalue("pg_shared")
    _pg_reset(engine)
    trial = record_trial(engine, fma=False)
    ds = analysis_datasets(engine, trial.ctx(Role.STATISTICIAN))
    assert not ds.blinded and ds.adsl.set_index("USUBJID").loc[
        list(trial.arms), "ARMCD"].to_dict() == trial.arms
    pd.testing.assert_frame_equal(ds.adsl, unblinded.adsl)
    ids = ["SRCSEQ", "FORMSEQ"]
    sq = unblinded.bds[~unblinded.bds["PARAMCD"].str.startswith("FMA")].reset_index(drop=True)
    pd.testing.assert_frame_equal(ds.bds.drop(columns=ids), sq.drop(columns=ids))
    pd.testing.assert_frame_equal(ds.adae.drop(columns=ids), unblinded.adae.drop(columns=ids))
