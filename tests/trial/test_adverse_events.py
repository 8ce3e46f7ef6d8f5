"""Adverse events: edit checks, expedited reporting (ICH E2A), death, stopping rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from strokecell.errors import ConflictError, InputError, PermissionDeniedError
from strokecell.store import Role
from strokecell.trial import (
    get_subject,
    list_adverse_events,
    list_safety_signals,
    list_visits,
    mark_expedited_reported,
    record_administration,
    report_adverse_event,
    update_adverse_event,
)

from .conftest import REFERENCE, World, build_world, chain_ok, snapshot
from .partb import AE_MILD, adm_items, released_lot, subjects_by_arm

RULES = """
safety:
  stopping_rules:
    - code: related_saes
      label: Related serious adverse events
      count: serious_adverse_event
      related: true
      threshold: 2
    - code: early_deaths
      count: death
      within_days_of_administration: 30
      threshold: 1
"""

FATAL = {**AE_MILD, "term": "Cerebral infarction", "ctcae_grade": 5, "serious": True,
         "sc_death": True, "ongoing": False, "resolution_date": "2026-05-06",
         "onset_date": "2026-05-05", "related_to_procedure": "probable", "expected": False,
         "outcome": "fatal", "action_taken": "none"}
HOSPITAL = {**AE_MILD, "term": "Fever", "body_system": "General disorders and administration "
            "site conditions", "ctcae_grade": 2, "serious": True, "sc_hospitalisation": True,
            "related_to_product": "possible"}


@pytest.fixture
def ruled(engine: Engine) -> World:
    return build_world(engine, protocol_text=REFERENCE.read_text(encoding="utf-8") + RULES)


def test_mild_event_and_follow_up_update(world: World) -> None:
    code = world.enrol_one()
    ctx = world.ctx(Role.INVESTIGATOR)
    ae = report_adverse_event(world.db, ctx, code, AE_MILD)
    assert ae.ae_number == 1 and not ae.serious and not ae.expedited_report_required
    assert ae.expedited_report_due is None and ae.related  # "possible" to the procedure
    with pytest.raises(InputError, match="reason"):
        update_adverse_event(world.db, ctx, code, 1, {"ongoing": False}, version=1,
                             reason="")
    done = update_adverse_event(world.db, ctx, code, 1,
                                {"ongoing": False, "resolution_date": "2026-05-04",
                                 "outcome": "recovered"}, version=1,
                                reason="follow-up: resolved")
    assert done.version == 2 and done.outcome == "recovered" and done.form_version == 2
    with pytest.raises(ConflictError, match="version"):
        update_adverse_event(world.db, ctx, code, 1, {"ctcae_grade": 2}, version=1,
                             reason="x")
    second = report_adverse_event(world.db, ctx, code, HOSPITAL)
    assert second.ae_number == 2 and second.expedited_report_required
    assert second.expedited_report_days == 15  # serious, expected? no: not fatal -> 15
    assert second.expedited_report_due == world.clock.now.date() + timedelta(days=15)
    sent = mark_expedited_reported(world.db, ctx, code, 2, version=1)
    assert sent.expedited_reported_at == world.clock.now
    assert [a.ae_number for a in list_adverse_events(world.db, ctx)] == [1, 2]
    assert chain_ok(world.db)


def test_rejected_events_change_nothing(world: World) -> None:
    code = world.enrol_one()
    ctx = world.ctx(Role.INVESTIGATOR)
    assessor = world.ctx(Role.BLINDED_ASSESSOR)
    before = snapshot(world.db)
    cases: list[tuple[dict[str, object], str]] = [
        ({**AE_MILD, "body_system": "Brain"}, "body_system"),
        ({**AE_MILD, "ctcae_grade": 5}, "ctcae_grade"),
        ({**AE_MILD, "serious": True}, "serious"),
        ({**AE_MILD, "onset_date": "2026-04-01"}, "onset_date"),
        ({**AE_MILD, "onset_date": "2026-06-01"}, "onset_date"),
        ({**AE_MILD, "ctcae_grade": 6}, "ctcae_grade"),
        ({k: v for k, v in AE_MILD.items() if k != "outcome"}, "outcome"),
    ]
    for items, field in cases:
        with pytest.raises(InputError) as info:
            report_adverse_event(world.db, ctx, code, items)
        assert field in {p.location for p in info.value.problems}, info.value
    with pytest.raises(PermissionDeniedError, match="report_ae"):
        report_adverse_event(world.db, assessor, code, AE_MILD)
    assert snapshot(world.db) == before


def test_fatal_event_death_visits_and_stopping_rules(ruled: World) -> None:
    world = ruled
    arms = subjects_by_arm(world)
    released_lot(world)
    lab = world.ctx(Role.CELL_LAB, "ALL")
    record_administration(world.db, lab, arms["transplant"], adm_items(world))
    world.clock.advance(3)
    ctx = world.ctx(Role.INVESTIGATOR)
    first = report_adverse_event(world.db, ctx, arms["transplant"], HOSPITAL)
    assert list_safety_signals(world.db, world.ctx(Role.MONITOR, "ALL")) == []
    assert first.signals == ()  # an investigator is never shown signals (blinding)
    fatal = report_adverse_event(world.db, ctx, arms["transplant"], FATAL)
    assert fatal.expedited_report_days == 7  # fatal, unexpected, related: ICH E2A 7 days
    assert get_subject(world.db, ctx, arms["transplant"]).status == "died"
    visits = {v.code: v.status for v in list_visits(world.db, ctx, arms["transplant"])}
    assert visits["month_1"] == "not_expected" and visits["month_12"] == "not_expected"
    signals = list_safety_signals(world.db, world.ctx(Role.MONITOR, "ALL"))
    assert {(g.rule_code, g.observed, g.threshold) for g in signals} == {
        ("related_saes", 2, 2), ("early_deaths", 1, 1)}
    assert all(g.subject_code is None for g in signals)  # blinded monitor
    unblinded = list_safety_signals(world.db, lab)
    assert {g.subject_code for g in unblinded} == {arms["transplant"]}
    # a death on the control arm (no administration) does not count for early_deaths
    report_adverse_event(world.db, ctx, arms["control"], FATAL)
    rules = {(g.rule_code, g.observed) for g in
             list_safety_signals(world.db, world.ctx(Role.MONITOR, "ALL"))}
    assert ("early_deaths", 2) not in rules and ("related_saes", 3) in rules
    with pytest.raises(PermissionDeniedError, match="safety signals"):
        list_safety_signals(world.db, ctx)
    assert chain_ok(world.db)
