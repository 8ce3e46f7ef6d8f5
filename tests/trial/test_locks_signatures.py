"""Record locks (data manager) and investigator e-signatures (re-authentication, meaning,
invalidation by a later change)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from strokecell.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from strokecell.store import Role, read_session
from strokecell.store import models as m
from strokecell.trial import (
    list_locks,
    list_signatures,
    lock_records,
    record_visit,
    register_lot,
    save_form,
    sign,
    unlock_records,
)

from .conftest import MBI_0, PASSWORD, World, chain_ok, snapshot
from .partb import PRODUCT


def test_lock_levels_refuse_writes_until_unlocked(world: World) -> None:
    code = world.enrol_one()
    site = world.ctx(Role.COORDINATOR)
    form = save_form(world.db, site, code, "mbi", {"feeding": 5}, visit_code="baseline")
    dm = world.ctx(Role.DATA_MANAGER)
    lock = lock_records(world.db, dm, "form", subject_code=code, form_code="mbi",
                        visit_code="baseline")
    assert lock.active and lock.form_code == "mbi" and lock.visit_code == "baseline"
    with pytest.raises(ConflictError, match="form is locked"):
        save_form(world.db, site, code, "mbi", {"bathing": 1}, visit_code="baseline",
                  version=form.version)
    with pytest.raises(ConflictError, match="locked already"):
        lock_records(world.db, dm, "form", subject_code=code, form_code="mbi",
                     visit_code="baseline")
    before = snapshot(world.db)
    with pytest.raises(InputError, match="reason"):
        unlock_records(world.db, dm, lock.id, reason="")
    assert snapshot(world.db) == before
    released = unlock_records(world.db, dm, lock.id, reason="query answered: correction due")
    assert not released.active and released.unlock_reason
    save_form(world.db, site, code, "mbi", {"bathing": 1}, visit_code="baseline",
              version=form.version)
    visit_lock = lock_records(world.db, dm, "visit", subject_code=code, visit_code="baseline")
    with pytest.raises(ConflictError, match="visit is locked"):
        record_visit(world.db, site, code, "baseline", world.clock.now.date())
    unlock_records(world.db, dm, visit_lock.id, reason="visit date missing")
    lock_records(world.db, dm, "subject", subject_code=code)
    with pytest.raises(ConflictError, match="casebook is locked"):
        record_visit(world.db, site, code, "baseline", world.clock.now.date())
    with pytest.raises(PermissionDeniedError, match="study-wide"):
        lock_records(world.db, dm, "study")
    study_lock = lock_records(world.db, world.ctx(Role.DATA_MANAGER, "ALL"), "study")
    other = world.ctx(Role.COORDINATOR, "S02")
    with pytest.raises(ConflictError, match="study is locked"):
        world.enrol_one("S02")
    with pytest.raises(ConflictError, match="study is locked"):
        register_lot(world.db, world.ctx(Role.CELL_LAB, "ALL"), "LOT-L", **PRODUCT)
    assert {v.scope for v in list_locks(world.db, other)} == {"study"}
    assert {v.scope for v in list_locks(world.db, dm)} == {"study", "subject"}
    with pytest.raises(NotFoundError, match="lock_id"):
        unlock_records(world.db, dm, study_lock.id, reason="x")
    with pytest.raises(PermissionDeniedError, match="lock"):
        lock_records(world.db, site, "subject", subject_code=code)
    assert len(list_locks(world.db, dm, include_released=True)) == 4
    assert chain_ok(world.db)


def test_signature_reauthenticates_records_meaning_and_is_invalidated(world: World) -> None:
    code = world.enrol_one()
    other = world.enrol_one()
    site = world.ctx(Role.COORDINATOR)
    form = save_form(world.db, site, code, "mbi", MBI_0, visit_code="baseline")
    pi = world.ctx(Role.INVESTIGATOR)
    before = snapshot(world.db)
    with pytest.raises(PermissionDeniedError, match="password"):
        sign(world.db, pi, password="not my password", subject_code=code)
    with pytest.raises(PermissionDeniedError, match="sign"):
        sign(world.db, site, password=PASSWORD, subject_code=code)
    with pytest.raises(InputError, match="scope"):
        sign(world.db, pi, password=PASSWORD, subject_code=code, scope="study")
    assert snapshot(world.db) == before
    casebook = sign(world.db, pi, password=PASSWORD, subject_code=code)
    assert casebook.valid and casebook.meaning == "I approve the data of this casebook"
    page = sign(world.db, pi, password=PASSWORD, subject_code=code, scope="form",
                form_code="mbi", visit_code="baseline", meaning="I confirm this rating")
    with pytest.raises(ConflictError, match="already"):
        sign(world.db, pi, password=PASSWORD, subject_code=code)
    # a change elsewhere does not touch these signatures; a no-op re-save does not either
    save_form(world.db, site, other, "mbi", {"feeding": 5}, visit_code="baseline")
    assert all(v.valid for v in list_signatures(world.db, pi, code))
    # changing signed data invalidates both, recorded with the reason, rows kept
    save_form(world.db, site, code, "mbi", {"feeding": 10}, visit_code="baseline",
              version=form.version, reason="transcription error")
    after = {v.id: v for v in list_signatures(world.db, pi, code)}
    assert not after[casebook.id].valid and not after[page.id].valid
    assert "mbi saved" in (after[page.id].invalidated_reason or "")
    with read_session(world.db) as s:
        rows = s.scalars(select(m.AuditLog).where(
            m.AuditLog.table_name == "signatures",
            m.AuditLog.field_name == "invalidated_reason")).all()
    assert len(rows) == 2 and all(r.action.value == "update" for r in rows)
    again = sign(world.db, pi, password=PASSWORD, subject_code=code)
    assert again.valid and again.content_sha256 != casebook.content_sha256
    record_visit(world.db, site, code, "baseline", world.clock.now.date())
    assert not {v.id: v for v in list_signatures(world.db, pi, code)}[again.id].valid
    assert chain_ok(world.db)
