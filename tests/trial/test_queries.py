"""Queries on a field: open (monitor/data manager), answer (site), close (opener only)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from strokecell.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from strokecell.store import Role, read_session
from strokecell.store import models as m
from strokecell.trial import (
    answer_query,
    close_query,
    list_queries,
    open_query,
    reopen_query,
    save_form,
)

from .conftest import World, chain_ok, snapshot


def test_query_thread_open_answer_reopen_close(world: World) -> None:
    code = world.enrol_one()
    save_form(world.db, world.ctx(Role.COORDINATOR), code, "mbi", {"feeding": 5},
              visit_code="baseline")
    monitor, site = world.ctx(Role.MONITOR), world.ctx(Role.COORDINATOR)
    q = open_query(world.db, monitor, code, "mbi", item_code="feeding", visit_code="baseline",
                   message="Feeding 5 but the notes say independent: please check")
    assert q.status == "open" and q.item_code == "feeding" and q.opened_by == "monitor.s01"
    answered = answer_query(world.db, site, q.id, "Source checked: 5 is correct")
    assert answered.status == "answered"
    reopened = reopen_query(world.db, monitor, q.id, "Please attach the source page number")
    assert reopened.status == "open"
    answer_query(world.db, site, q.id, "Page 12 of the nursing notes")
    other_monitor = world.ctx(Role.DATA_MANAGER)
    with pytest.raises(PermissionDeniedError, match="only the user who opened"):
        close_query(world.db, other_monitor, q.id, "ok")
    closed = close_query(world.db, monitor, q.id, "Resolved")
    assert closed.status == "closed" and closed.closed_at is not None
    assert [msg.action for msg in closed.messages] == ["open", "answer", "reopen", "answer",
                                                       "close"]
    assert [(msg.author, msg.role) for msg in closed.messages][:2] == [
        ("monitor.s01", "monitor"), ("coordinator.s01", "coordinator")]
    with pytest.raises(ConflictError, match="closed"):
        answer_query(world.db, site, q.id, "late")
    assert [x.id for x in list_queries(world.db, site, code, status="closed")] == [q.id]
    with read_session(world.db) as s:
        reasons = s.scalars(select(m.AuditLog.reason).where(
            m.AuditLog.table_name == "queries", m.AuditLog.field_name == "status",
            m.AuditLog.action == "update")).all()
    assert reasons == ["Source checked: 5 is correct", "Please attach the source page number",
                       "Page 12 of the nursing notes", "Resolved"]
    assert chain_ok(world.db)


def test_refused_query_actions_change_nothing(world: World) -> None:
    code = world.enrol_one()
    save_form(world.db, world.ctx(Role.COORDINATOR), code, "mbi", {"feeding": 5},
              visit_code="baseline")
    monitor, site = world.ctx(Role.MONITOR), world.ctx(Role.COORDINATOR)
    q = open_query(world.db, monitor, code, "mbi", visit_code="baseline", message="Missing items")
    other_site_monitor = world.ctx(Role.MONITOR, "S02")
    other_site = world.ctx(Role.COORDINATOR, "S02")
    before = snapshot(world.db)
    with pytest.raises(InputError, match="item_code"):
        open_query(world.db, monitor, code, "mbi", item_code="walking", visit_code="baseline",
                   message="x")
    with pytest.raises(NotFoundError, match="form_code"):
        open_query(world.db, monitor, code, "nihss", visit_code="baseline", message="x")
    with pytest.raises(NotFoundError, match="form_code"):  # hidden page, blinded monitor
        open_query(world.db, monitor, code, "administration", message="x")
    with pytest.raises(NotFoundError, match="subject_code"):
        open_query(world.db, other_site_monitor, code, "mbi", visit_code="baseline",
                   message="x")
    with pytest.raises(NotFoundError, match="query_id"):
        answer_query(world.db, other_site, q.id, "x")
    with pytest.raises(InputError, match="message"):
        answer_query(world.db, site, q.id, "  ")
    with pytest.raises(PermissionDeniedError, match="answer_query"):
        answer_query(world.db, monitor, q.id, "x")
    with pytest.raises(PermissionDeniedError, match="raise_query"):
        open_query(world.db, site, code, "mbi", visit_code="baseline", message="x")
    with pytest.raises(ConflictError, match="open"):
        reopen_query(world.db, monitor, q.id, "x")
    assert snapshot(world.db) == before
