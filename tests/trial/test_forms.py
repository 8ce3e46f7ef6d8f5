"""Form entry: partial and complete saves, derived values, edits with a reason, stale
versions, the CRF engine, and the audit rows of every change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from strokecell.errors import ConflictError, InputError, PermissionDeniedError, ScoringError
from strokecell.store import Role, read_session
from strokecell.store import models as m
from strokecell.trial import get_form, list_visits, record_visit, save_form

from .conftest import MBI_0, World, chain_ok, snapshot

ICH = {"stroke_type": "intracerebral_haemorrhage", "onset_date": "2026-04-22", "age_years": 81,
       "ich_volume": "32.5", "ich_location": "cerebellum", "intraventricular_extension": True,
       "gcs_eye": 3, "gcs_verbal": "4", "gcs_motor": 5}


def _audit(world: World, table: str) -> list[m.AuditLog]:
    with read_session(world.db) as s:
        return list(s.scalars(select(m.AuditLog).where(m.AuditLog.table_name == table)
                              .order_by(m.AuditLog.seq)).all())


def test_partial_complete_edit_and_stale_version(world: World) -> None:
    code = world.enrol_one()
    rater = world.ctx(Role.BLINDED_ASSESSOR)
    other = world.ctx(Role.COORDINATOR)
    first = save_form(world.db, rater, code, "mbi", {"feeding": "5", "bathing": 1},
                      visit_code="baseline", assessment_date=world.clock.now.date())
    assert first.status == "incomplete" and first.version == 1 and first.derived == {}
    assert first.items == {"feeding": 5, "bathing": 1} and first.raw["feeding"] == "5"
    assert any("transfers" in p and "missing" in p for p in first.problems)
    visit = list_visits(world.db, rater, code)[0]
    assert ("mbi", "incomplete") in [(f.form_code, f.status) for f in visit.forms]
    # adding items to a partial form needs no reason; completing it scores it
    rest = {k: v for k, v in MBI_0.items() if k not in ("feeding", "bathing")}
    done = save_form(world.db, rater, code, "mbi", rest, visit_code="baseline", version=1)
    assert done.status == "complete" and done.version == 2 and done.problems == ()
    assert done.derived == {"MBI": 6.0, "MBIBAND": "total dependency"}
    # a second writer still holding version 1 is refused, not silently applied
    before = snapshot(world.db)
    with pytest.raises(ConflictError, match="version 2"):
        save_form(world.db, other, code, "mbi", {"feeding": 10}, visit_code="baseline",
                  version=1, reason="re-rated")
    with pytest.raises(ConflictError, match="you edited version None"):
        save_form(world.db, other, code, "mbi", {"feeding": 10}, visit_code="baseline")
    # changing a saved value needs a reason
    with pytest.raises(InputError, match="reason for change"):
        save_form(world.db, other, code, "mbi", {"feeding": 10}, visit_code="baseline",
                  version=2)
    assert snapshot(world.db) == before
    edited = save_form(world.db, other, code, "mbi", {"feeding": 10}, visit_code="baseline",
                       version=2, reason="transcription error")
    assert edited.version == 3 and edited.derived["MBI"] == 11.0
    item_rows = [a for a in _audit(world, "item_values") if a.action.value == "update"]
    assert [(a.field_name, a.old_value, a.new_value, a.reason, a.username, a.role)
            for a in item_rows if a.field_name == "value_int"] == [
        ("value_int", "5", "10", "transcription error", "coordinator.s01", "coordinator")]
    derived_rows = [a for a in _audit(world, "derived_values") if a.action.value == "update"]
    assert [(a.old_value, a.new_value) for a in derived_rows if a.field_name == "value_num"] \
        == [("6.0", "11.0")]
    assert "transcription error" in (derived_rows[0].reason or "")
    # clearing an item: audited as a delete, form back to incomplete, totals removed
    cleared = save_form(world.db, other, code, "mbi", {"stairs": None}, visit_code="baseline",
                        version=3, reason="not assessed, patient tired")
    assert cleared.status == "incomplete" and cleared.derived == {}
    deletes = [a for a in _audit(world, "item_values") if a.action.value == "delete"]
    assert {a.reason for a in deletes} == {"not assessed, patient tired"}
    assert {a.field_name for a in deletes} >= {"item_code", "value_int", "raw_text"}
    assert chain_ok(world.db)


def test_rejected_form_input_names_field_value_and_allowed(world: World) -> None:
    code = world.enrol_one()
    ctx = world.ctx(Role.COORDINATOR)
    save_form(world.db, ctx, code, "mbi", {"feeding": 5}, visit_code="baseline")
    rater, monitor = world.ctx(Role.BLINDED_ASSESSOR), world.ctx(Role.MONITOR)
    before = snapshot(world.db)
    with pytest.raises(ScoringError) as info:
        save_form(world.db, ctx, code, "mbi", {"feeding": 7, "stairs": "ten", "walking": 1},
                  visit_code="baseline", version=1, reason="x")
    problems = {p.location: p for p in info.value.problems}
    assert set(problems) == {"feeding", "stairs", "walking"}
    assert problems["feeding"].value == 7 and problems["feeding"].allowed == "0, 2, 5, 8, 10"
    assert "ambulation" in (problems["walking"].allowed or "")
    with pytest.raises(InputError) as place:
        save_form(world.db, ctx, code, "fma_total", {}, visit_code="month_1")
    assert place.value.problems[0].location == "items"
    with pytest.raises(InputError) as place:
        save_form(world.db, ctx, code, "mrs", {"mrs": 3}, visit_code="month_1")
    assert place.value.problems[0].location == "form_code"
    assert "mbi, nihss, rehabilitation" in (place.value.problems[0].allowed or "")
    with pytest.raises(InputError, match="repeat_index"):
        save_form(world.db, ctx, code, "withdrawal", {"reason": "other"}, repeat_index=2)
    with pytest.raises(InputError, match="never saved"):
        save_form(world.db, ctx, code, "mbi", {"bathing": None}, visit_code="baseline",
                  version=1, reason="x")
    with pytest.raises(InputError, match="assessment_date"):
        save_form(world.db, ctx, code, "nihss", {"1a_loc": 0}, visit_code="baseline",
                  assessment_date="2030-01-01")
    with pytest.raises(PermissionDeniedError, match="consent"):
        save_form(world.db, rater, code, "consent",
                  {"consent_date": "2026-05-04"}, visit_code="baseline")
    with pytest.raises(PermissionDeniedError, match="enter_form"):
        save_form(world.db, monitor, code, "mbi", {"feeding": 5},
                  visit_code="baseline", version=1, reason="x")
    assert snapshot(world.db) == before


def test_crf_engine_types_conditions_and_derived_values(world: World) -> None:
    code = world.enrol_one()
    ctx = world.ctx(Role.INVESTIGATOR)
    form = save_form(world.db, ctx, code, "baseline_stroke", ICH, visit_code="baseline")
    # GCS 12 -> 1, volume >= 30 -> 1, IVH -> 1, infratentorial -> 1, age >= 80 -> 1
    assert form.status == "complete" and form.derived == {"GCS": 12.0, "ICHSCORE": 5.0}
    assert form.items["ich_volume"] == 32.5 and form.raw["ich_volume"] == "32.5"
    other = world.enrol_one()
    before = snapshot(world.db)
    with pytest.raises(InputError) as info:
        save_form(world.db, ctx, other, "baseline_stroke",
                  {**ICH, "stroke_type": "ischaemic_stroke", "gcs_eye": 5, "onset_date": "22/4",
                   "age_years": 54.0, "intraventricular_extension": "yes"},
                  visit_code="baseline")
    problems = {p.location: p for p in info.value.problems}
    assert set(problems) == {"gcs_eye", "onset_date", "age_years",
                             "intraventricular_extension", "ich_volume", "ich_location"}
    assert problems["gcs_eye"].allowed == "an integer from 1 to 4"
    assert "applies only when stroke_type = intracerebral_haemorrhage" in str(
        problems["ich_volume"])
    assert snapshot(world.db) == before
    # ischaemic: ICH fields do not apply, so the page is complete without them
    ok = save_form(world.db, ctx, other, "baseline_stroke",
                   {"stroke_type": "ischaemic_stroke", "onset_date": "2026-04-22",
                    "age_years": 54, "gcs_eye": 4, "gcs_verbal": 5, "gcs_motor": 6},
                   visit_code="baseline")
    assert ok.status == "complete" and ok.derived == {"GCS": 15.0}
    # repeating page, a date not before another
    with pytest.raises(InputError, match="stop_date"):
        save_form(world.db, ctx, code, "concomitant_medication",
                  {"drug_name": "Amlodipine", "indication": "hypertension", "route": "oral",
                   "start_date": "2026-05-01", "ongoing": False, "stop_date": "2026-04-01"})
    for i in (1, 2):
        med = save_form(world.db, ctx, code, "concomitant_medication",
                        {"drug_name": f"Drug {i}", "indication": "x", "route": "oral",
                         "start_date": "2026-05-01", "ongoing": True}, repeat_index=i)
        assert med.status == "complete" and med.repeat_index == i
    scan = save_form(world.db, ctx, code, "lesion_volume", {"lesion_volume": "12.75"},
                     visit_code="baseline")
    assert scan.derived == {"LESVOL": 12.75}
    assert get_form(world.db, ctx, code, "lesion_volume", visit_code="baseline").items == {
        "lesion_volume": 12.75}
    assert chain_ok(world.db)


def test_locked_records_refuse_writes(world: World) -> None:
    from strokecell.store import LockScope, session_scope

    code = world.enrol_one()
    ctx = world.ctx(Role.COORDINATOR)
    form = save_form(world.db, ctx, code, "mbi", {"feeding": 5}, visit_code="baseline")
    with session_scope(world.db) as s:  # what the lock service of part B will write
        subject = s.scalars(select(m.Subject).where(m.Subject.subject_code == code)).one()
        s.add(m.RecordLock(study_id=subject.study_id, scope=LockScope.SUBJECT,
                           subject_id=subject.id, locked_at=world.clock.now,
                           locked_offset_min=0, locked_by_user_id=ctx.user_id))
    before = snapshot(world.db)
    with pytest.raises(ConflictError, match="casebook is locked"):
        save_form(world.db, ctx, code, "mbi", {"bathing": 1}, visit_code="baseline",
                  version=form.version)
    with pytest.raises(ConflictError, match="locked"):
        record_visit(world.db, ctx, code, "baseline", world.clock.now.date())
    assert snapshot(world.db) == before
