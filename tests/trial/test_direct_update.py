"""update_now (strokecell.trial._direct_update): an object's changed columns written by one
UPDATE, the optimistic version checked and moved on as the mapper would, the object clean
afterwards; a stale version refused with nothing written; what it cannot do left to the
flush. Form saves go through it (AuditBatch.write), so their tests cover the audit rows."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from strokecell.errors import ConflictError
from strokecell.store import FormStatus, Role
from strokecell.store import models as m
from strokecell.trial import save_form
from strokecell.trial._direct_update import update_now
from strokecell.trial._tx import writing

from .conftest import MBI_0, World


def _form(world: World) -> int:
    ctx = world.ctx(Role.COORDINATOR, "ALL")
    subject = world.enrol_one("S01")
    save_form(world.db, ctx, subject, "mbi", MBI_0, visit_code="baseline")
    with Session(world.db) as s:
        return int(s.scalars(select(m.FormInstance.id).where(
            m.FormInstance.form_code == "mbi")).one())


def _statements(s: Session) -> list[str]:
    seen: list[str] = []
    event.listen(s.get_bind(), "before_cursor_execute",
                 lambda *args: seen.append(str(args[2]).split()[0]))
    return seen


def test_changed_columns_are_written_and_the_version_moves_on(world: World) -> None:
    form_id = _form(world)
    with writing(world.db) as s:
        inst = s.get(m.FormInstance, form_id)
        assert inst is not None and inst.version == 1
        inst.status = FormStatus.INCOMPLETE
        inst.updated_offset_min = 480
        assert update_now(s, inst) is True
        assert inst.version == 2
        assert inst not in s.dirty  # clean: the flush writes nothing more
        seen = _statements(s)
        s.flush()
        assert seen == []
    with Session(world.db) as s:
        row = s.execute(text("SELECT status, updated_offset_min, version FROM form_instances "
                             "WHERE id = :i"), {"i": form_id}).one()
    assert (row[0], row[1], row[2]) == (FormStatus.INCOMPLETE.value, 480, 2)


def test_a_stale_version_is_refused_and_nothing_is_written(world: World) -> None:
    form_id = _form(world)
    with pytest.raises(ConflictError, match="changed by someone else") as refused, \
            writing(world.db) as s:
        inst = s.get(m.FormInstance, form_id)
        assert inst is not None
        # Someone else saved the form since it was read.
        s.execute(text("UPDATE form_instances SET version = 5 WHERE id = :i"), {"i": form_id})
        inst.status = FormStatus.INCOMPLETE
        update_now(s, inst)
    assert isinstance(refused.value.__cause__, StaleDataError)
    with Session(world.db) as s:
        row = s.execute(text("SELECT status, version FROM form_instances WHERE id = :i"),
                        {"i": form_id}).one()
    assert (row[0], row[1]) == (FormStatus.COMPLETE.value, 1)  # the whole transaction undone


def test_what_it_cannot_write_is_left_to_the_flush(world: World) -> None:
    form_id = _form(world)
    with writing(world.db) as s:
        inst = s.get(m.FormInstance, form_id)
        assert inst is not None
        assert update_now(s, inst) is False  # nothing changed
        inst.version = 7  # set by hand: the mapper decides what that means
        assert update_now(s, inst) is False
        s.expire(inst)
        fresh = m.ItemValue(form_instance_id=form_id, item_code="x", value_type="integer")
        s.add(fresh)
        assert update_now(s, fresh) is False  # not in the database yet
        s.expunge(fresh)
