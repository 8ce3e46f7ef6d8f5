"""The study lock sets ``studies.status`` to ``locked`` and its release back to ``active``,
in the lock's transaction and audited like every other change."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from strokecell.errors import ConflictError, NotFoundError, PermissionDeniedError
from strokecell.store import AuditAction, Role, StudyStatus, read_session, session_scope
from strokecell.store import models as m
from strokecell.trial import (
    build_datasets,
    get_study,
    list_locks,
    lock_records,
    save_form,
    unlock_records,
)
from strokecell.trial import locks as locks_module

from .conftest import World, chain_ok, snapshot


def _status_rows(world: World) -> list[m.AuditLog]:
    with read_session(world.db) as s:
        return list(s.scalars(select(m.AuditLog).where(
            m.AuditLog.table_name == "studies", m.AuditLog.field_name == "status",
            m.AuditLog.action == AuditAction.UPDATE)
            .order_by(m.AuditLog.seq)).all())


def _lock_rows(world: World) -> list[m.AuditLog]:
    with read_session(world.db) as s:
        return list(s.scalars(select(m.AuditLog).where(
            m.AuditLog.table_name == "record_locks").order_by(m.AuditLog.seq)).all())


def test_study_lock_sets_the_status_and_unlock_restores_it(world: World) -> None:
    code = world.enrol_one()
    coordinator = world.ctx(Role.COORDINATOR)
    dm = world.ctx(Role.DATA_MANAGER, "ALL")
    assert get_study(world.db, coordinator).status == "active"
    lock = lock_records(world.db, dm, "study")
    assert get_study(world.db, coordinator).status == "locked"
    [row] = _status_rows(world)
    assert (row.old_value, row.new_value) == ("active", "locked")
    assert row.username == "data_manager.all" and row.role == "data_manager"
    assert row.reason == f"study lock #{lock.id}"
    # in the lock's transaction: right after the lock row's audit rows, at the same moment
    lock_audit = [r for r in _lock_rows(world) if r.row_key == str(lock.id)]
    assert row.seq == max(r.seq for r in lock_audit) + 1
    assert row.occurred_at == lock_audit[0].occurred_at
    # writes are refused, with the lock's words (since when, who can lift it)
    with pytest.raises(ConflictError, match="the study is locked"):
        save_form(world.db, coordinator, code, "mbi", {"feeding": 5}, visit_code="baseline")
    # the export rules read the status: an unblinded export is allowed now
    assert build_datasets(world.db, world.ctx(Role.STATISTICIAN, "ALL"), unblinded=True)
    unlock_records(world.db, dm, lock.id, reason="late query answered")
    assert get_study(world.db, coordinator).status == "active"
    back = _status_rows(world)[-1]
    assert (back.old_value, back.new_value) == ("locked", "active")
    assert back.reason == f"study lock #{lock.id} released: late query answered"
    save_form(world.db, coordinator, code, "mbi", {"feeding": 5}, visit_code="baseline")
    with pytest.raises(PermissionDeniedError, match="locked study"):
        build_datasets(world.db, world.ctx(Role.STATISTICIAN, "ALL"), unblinded=True)
    assert chain_ok(world.db)


def test_refused_study_locks_change_nothing(world: World) -> None:
    dm_site = world.ctx(Role.DATA_MANAGER)  # held at S01 only
    dm = world.ctx(Role.DATA_MANAGER, "ALL")
    before = snapshot(world.db)
    with pytest.raises(PermissionDeniedError, match="study-wide"):
        lock_records(world.db, dm_site, "study")
    assert snapshot(world.db) == before and get_study(world.db, dm).status == "active"
    lock = lock_records(world.db, dm, "study")
    before = snapshot(world.db)
    with pytest.raises(ConflictError, match="locked already"):
        lock_records(world.db, dm, "study")
    assert snapshot(world.db) == before and get_study(world.db, dm).status == "locked"
    # a site-scoped data manager cannot release the study lock either
    with pytest.raises(NotFoundError):
        unlock_records(world.db, dm_site, lock.id, reason="x")
    assert snapshot(world.db) == before and get_study(world.db, dm).status == "locked"


def test_lock_and_status_are_one_transaction(world: World,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    dm = world.ctx(Role.DATA_MANAGER, "ALL")
    real = locks_module.audit_update

    def failing(s: Any, scope: Any, obj: Any, table: str, reason: str | None) -> bool:
        if table == "studies":
            raise RuntimeError("audit write failed")
        return real(s, scope, obj, table, reason)

    monkeypatch.setattr(locks_module, "audit_update", failing)
    before = snapshot(world.db)
    with pytest.raises(RuntimeError):
        lock_records(world.db, dm, "study")
    assert snapshot(world.db) == before  # no lock row without its status, and no audit
    assert list_locks(world.db, dm) == [] and get_study(world.db, dm).status == "active"


def test_other_lock_levels_leave_the_status(world: World) -> None:
    code = world.enrol_one()
    dm = world.ctx(Role.DATA_MANAGER)
    lock = lock_records(world.db, dm, "subject", subject_code=code)
    assert get_study(world.db, dm).status == "active"
    unlock_records(world.db, dm, lock.id, reason="correction")
    assert get_study(world.db, dm).status == "active" and _status_rows(world) == []


def test_a_closed_study_stays_closed(world: World) -> None:
    dm = world.ctx(Role.DATA_MANAGER, "ALL")
    with session_scope(world.db) as s:  # no service closes a study yet
        study = s.get(m.Study, dm.study_id)
        assert study is not None
        study.status = StudyStatus.CLOSED
    lock = lock_records(world.db, dm, "study")
    assert get_study(world.db, dm).status == "closed"
    unlock_records(world.db, dm, lock.id, reason="archive copy made")
    assert get_study(world.db, dm).status == "closed" and _status_rows(world) == []
