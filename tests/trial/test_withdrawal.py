"""withdraw_subject: the withdrawal page and the subject's status in one transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from strokecell.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from strokecell.store import Role, read_session
from strokecell.store import models as m
from strokecell.trial import get_form, get_subject, list_visits, randomize, withdraw_subject

from .conftest import World, chain_ok, snapshot


def test_withdrawal_sets_the_status_saves_the_page_and_ends_the_visits(world: World) -> None:
    subject = world.enrol_one()
    coord = world.ctx(Role.COORDINATOR)
    randomize(world.db, coord, subject)
    world.clock.advance(20)
    when = world.clock.now.date() - timedelta(days=2)
    view = withdraw_subject(world.db, coord, subject, reason_code="consent_withdrawn",
                            date=when)
    assert view.status == "withdrawn"
    page = get_form(world.db, coord, subject, "withdrawal")
    assert page.items["reason"] == "consent_withdrawn"
    assert page.items["withdrawal_date"] == when and page.status == "complete"
    visits = {v.code: v.status for v in list_visits(world.db, coord, subject)}
    assert visits["month_1"] == "not_expected" and visits["month_6"] == "not_expected"
    with read_session(world.db) as s:
        rows = s.scalars(select(m.AuditLog).where(m.AuditLog.table_name == "subjects",
                                                  m.AuditLog.field_name == "status")).all()
        assert any(r.new_value == "withdrawn" and "withdrawal" in (r.reason or "")
                   for r in rows)
    assert chain_ok(world.db)
    # idempotency: a second withdrawal is a conflict, and changes nothing
    before = snapshot(world.db)
    with pytest.raises(ConflictError, match="already withdrawn"):
        withdraw_subject(world.db, coord, subject, reason_code="other", date=when,
                         reason_text="again")
    assert snapshot(world.db) == before


def test_lost_to_follow_up(world: World) -> None:
    subject = world.enrol_one()
    inv = world.ctx(Role.INVESTIGATOR)
    view = withdraw_subject(world.db, inv, subject, reason_code="lost_to_follow_up",
                            date=world.clock.now.date(), lost_to_follow_up=True)
    assert view.status == "lost_to_follow_up"
    assert get_subject(world.db, inv, subject).status == "lost_to_follow_up"


def test_refusals_change_nothing(world: World) -> None:
    subject = world.enrol_one()
    other_site = world.enrol_one("S02")
    coord = world.ctx(Role.COORDINATOR)
    others = [world.ctx(role) for role in (Role.BLINDED_ASSESSOR, Role.CELL_LAB, Role.MONITOR,
                                           Role.DATA_MANAGER)]
    other_coord = world.ctx(Role.COORDINATOR, "S02")
    today = world.clock.now.date()
    before = snapshot(world.db)
    cases: list[tuple[type[Exception], str, dict[str, object]]] = [
        (NotFoundError, "no subject", {"subject_code": "SC-ICH-IA-UCMSC-S01-999"}),
        (NotFoundError, "no subject", {"subject_code": other_site}),
        (InputError, "future", {"date": today + timedelta(days=1)}),
        (InputError, "before the enrolment", {"date": today - timedelta(days=1)}),
        (InputError, "death", {"reason_code": "death"}),
        (InputError, "reason", {"reason_code": "bored"}),
        (InputError, "reason_detail", {"reason_code": "other"}),
        (InputError, "not a date", {"date": "yesterday"}),
    ]
    for error, message, change in cases:
        args: dict[str, object] = {"subject_code": subject, "reason_code": "consent_withdrawn",
                                   "date": today, **change}
        code = str(args.pop("subject_code"))
        with pytest.raises(error, match=message):
            withdraw_subject(world.db, coord, code, **args)  # type: ignore[arg-type]
        assert snapshot(world.db) == before, change
    for ctx in others:
        with pytest.raises(PermissionDeniedError, match="withdraw"):
            withdraw_subject(world.db, ctx, subject, reason_code="consent_withdrawn",
                             date=today)
        assert snapshot(world.db) == before, ctx.role
    # a coordinator of the other site cannot name this one's subject
    with pytest.raises(NotFoundError, match="no subject"):
        withdraw_subject(world.db, other_coord, subject,
                         reason_code="consent_withdrawn", date=today)
    assert snapshot(world.db) == before
