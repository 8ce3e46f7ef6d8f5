"""Screening against the reference protocol's criteria, enrolment ids, visit schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from strokecell.errors import ConflictError, InputError
from strokecell.store import Role, read_session
from strokecell.store import models as m
from strokecell.trial import enrol, get_screening, list_visits, screen

from .conftest import MBI_0, MBI_45, World, chain_ok, snapshot


def test_eligible_patient_passes_every_criterion(world: World) -> None:
    number = world.screen_one()
    view = get_screening(world.db, world.ctx(Role.INVESTIGATOR), number)
    assert view.eligible and view.outcome == "eligible" and view.failed == ()
    assert set(view.answers) == {"age", "stroke_type", "onset_days", "severity_mbi", "consent",
                                 "inclusion_1", "exclusion_1", "exclusion_2"}
    assert view.answers["severity_mbi"] == ("0", True)  # computed by the MBI engine
    assert all(met for _, met in view.answers.values())


def test_screen_failure_names_every_failing_criterion(world: World) -> None:
    heavy = {**MBI_45, "stairs": 10, "dressing": 10}  # MBI 65 > 60
    view = screen(world.db, world.ctx(Role.COORDINATOR), "S01", "SCR-F1", age_years=80,
                  stroke_type="ischaemic_stroke",
                  stroke_onset_at=world.clock.now - timedelta(days=40), consent_date=None,
                  severity={"mbi": heavy}, inclusion=[False], exclusion=[True, False])
    assert not view.eligible and view.outcome == "screen_failed"
    reasons = {f.criterion: f.reason for f in view.failed}
    assert set(reasons) == {"age", "stroke_type", "onset_days", "severity_mbi", "consent",
                            "inclusion_1", "exclusion_1"}
    assert "80" in reasons["age"] and "18-75" in reasons["age"]
    assert "40.0 days" in reasons["onset_days"]
    assert "mbi 65" in reasons["severity_mbi"]
    assert "aneurysm" in reasons["exclusion_1"]
    with pytest.raises(ConflictError, match="screen_failed"):
        enrol(world.db, world.ctx(Role.COORDINATOR), "SCR-F1")
    assert chain_ok(world.db)


def test_unjudgeable_screening_input_is_refused_with_every_problem(world: World) -> None:
    ctx = world.ctx(Role.COORDINATOR)
    before = snapshot(world.db)
    naive = world.clock.now.replace(tzinfo=None)
    with pytest.raises(InputError) as info:
        screen(world.db, ctx, "S01", "SCR-BAD", age_years=True,
               stroke_type="haemorrhage", stroke_onset_at=naive,
               consent_date="04/05/2026", severity={"mbi": {**MBI_0, "feeding": 7}},
               inclusion=[], exclusion=[False, False])
    where = {p.location for p in info.value.problems}
    assert where == {"age_years", "stroke_type", "stroke_onset_at", "severity.mbi.feeding",
                     "consent_date", "inclusion"}
    feeding = next(p for p in info.value.problems if p.location == "severity.mbi.feeding")
    assert feeding.value == 7 and feeding.allowed == "0, 2, 5, 8, 10"
    assert snapshot(world.db) == before


def test_enrolment_ids_per_site_and_visit_schedule(world: World) -> None:
    codes = [world.enrol_one("S01"), world.enrol_one("S02"), world.enrol_one("S01")]
    assert codes == ["SC-ICH-IA-UCMSC-S01-001", "SC-ICH-IA-UCMSC-S02-001",
                     "SC-ICH-IA-UCMSC-S01-002"]
    visits = list_visits(world.db, world.ctx(Role.COORDINATOR), codes[0])
    anchor = world.clock.now.date()
    assert [(v.code, v.number, v.expected_date - anchor, v.window_start, v.window_end,
             v.status) for v in visits][:2] == [
        ("baseline", 0, timedelta(0), anchor - timedelta(days=3), anchor, "scheduled"),
        ("month_1", 1, timedelta(days=30), anchor + timedelta(days=23),
         anchor + timedelta(days=37), "scheduled")]
    assert visits[-1].expected_date == anchor + timedelta(days=365)
    assert [f.form_code for f in visits[1].forms] == ["mbi", "nihss", "rehabilitation"]
    assert all(f.status == "not_started" for f in visits[1].forms)
    with read_session(world.db) as s:
        subject = s.scalars(select(m.Subject).where(m.Subject.subject_code == codes[0])).one()
        assert subject.anchor_date == anchor and subject.strata == {"baseline_mbi": "le_40"}
        assert subject.stroke_onset_at == world.clock.now - timedelta(days=12)
        screening = s.get(m.Screening, subject.screening_id)
        assert screening is not None and screening.outcome.value == "enrolled"
    with pytest.raises(ConflictError, match="enrolled"):
        enrol(world.db, world.ctx(Role.COORDINATOR), "SCR-S01-0001")
    assert chain_ok(world.db)


def test_enrolment_checks_strata_and_day_zero(world: World) -> None:
    number = world.screen_one()
    before = snapshot(world.db)
    with pytest.raises(InputError) as info:
        enrol(world.db, world.ctx(Role.COORDINATOR), number, strata={"baseline_mbi": "high"})
    assert info.value.problems[0].location == "strata.baseline_mbi"
    assert info.value.problems[0].allowed == "le_40, gt_40"
    with pytest.raises(InputError, match="anchor_date"):
        enrol(world.db, world.ctx(Role.COORDINATOR), number,
              anchor_date=world.clock.now.date() - timedelta(days=1))
    with pytest.raises(InputError, match=r"severity.mbi.feeding: Feeding: 3 is off the grid"):
        world.screen_one(mbi={**MBI_0, "feeding": 3})
    assert snapshot(world.db) == before
