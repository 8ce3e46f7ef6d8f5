"""Withdrawal: the end of a subject's participation before the last visit.

``withdraw_subject`` (investigator, coordinator, the subject's site) writes, in one
transaction, the ``withdrawal`` CRF page and the subject's new status (``withdrawn``, or
``lost_to_follow_up`` when the subject is lost), both audited. Visits whose window opens
after the withdrawal date are then "not expected" (as after a death, see :mod:`.visits`).

A death is recorded by a fatal adverse event (the subject is then ``died``); its withdrawal
page is saved here too, with reason ``death``, and leaves the status ``died``. Reason
``death`` for a subject not recorded dead is refused, as is any other reason for a dead one.

Refused, nothing written: an unknown subject or another site's (the same ``NotFoundError``),
a withdrawal date in the future or before enrolment, an unknown reason code; a second
withdrawal is a ``ConflictError`` (correct the page with ``save_form`` and a reason).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from strokecell.errors import ConflictError, InputError, Problem
from strokecell.store import SubjectStatus
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import ServiceContext, authorize, visible_subject
from strokecell.trial._formspec import form_spec
from strokecell.trial._tx import audit_update, writing
from strokecell.trial.forms import write_form
from strokecell.trial.subjects import subject_view
from strokecell.trial.views import SubjectView
from strokecell.trial.visits import enrolment_date, parse_date

__all__ = ["WITHDRAWAL_FORM", "withdraw_subject"]

WITHDRAWAL_FORM = "withdrawal"  # the page (visits.subject_withdrawal_date reads its date)
_ENDED = (SubjectStatus.WITHDRAWN, SubjectStatus.LOST)


def withdraw_subject(db: Engine, ctx: ServiceContext, subject_code: str, *, reason_code: str,
                     date: dt.date | str, reason_text: str | None = None,
                     lost_to_follow_up: bool = False,
                     data_use_allowed: bool = True) -> SubjectView:
    """Record the withdrawal of ``subject_code`` on ``date`` for ``reason_code`` (a choice of
    the ``withdrawal`` page: consent_withdrawn, adverse_event, lost_to_follow_up, death,
    investigator_decision, protocol_deviation, other; ``reason_text`` = the details, needed
    for ``other``). ``lost_to_follow_up`` (or that reason) sets the status
    ``lost_to_follow_up``, otherwise ``withdrawn``; a dead subject stays ``died``."""
    with writing(db) as s:
        scope = authorize(s, ctx, Action.WITHDRAW)
        subject = visible_subject(s, scope, subject_code, for_update=True)
        when = parse_date(date, "date")
        if subject.status in _ENDED or _withdrawal_form(s, subject.id) is not None:
            raise ConflictError(f"subject_code: {subject_code} is already withdrawn (status "
                                f"{subject.status.value}); correct the withdrawal page with "
                                "a reason instead")
        problems = []
        today = ctx.local_now().date()
        if when > today:
            problems.append(Problem("date", "is in the future", when.isoformat(),
                                    f"on or before {today.isoformat()}"))
        enrolled = enrolment_date(subject)
        if when < enrolled:
            problems.append(Problem("date", "is before the enrolment", when.isoformat(),
                                    f"on or after {enrolled.isoformat()}"))
        died = subject.status is SubjectStatus.DIED
        if died != (reason_code == "death"):
            problems.append(Problem(
                "reason_code", "a subject recorded dead (fatal adverse event) is withdrawn "
                "for death, and only such a subject" if not died else
                f"{subject_code} is recorded dead: the reason is death", reason_code,
                "death" if died else "any reason but death (report the fatal adverse event)"))
        if problems:
            raise InputError(problems, context=f"withdrawal of {subject_code}")
        items: dict[str, object] = {"withdrawal_date": when.isoformat(), "reason": reason_code,
                                    "data_use_allowed": data_use_allowed}
        if reason_text is not None and reason_text.strip():
            items["reason_detail"] = reason_text.strip()
        form_spec(WITHDRAWAL_FORM).check(items, partial=False)  # every problem, nothing written
        write_form(s, scope, subject, WITHDRAWAL_FORM, items)
        if not died:
            lost = lost_to_follow_up or reason_code == "lost_to_follow_up"
            subject.status = SubjectStatus.LOST if lost else SubjectStatus.WITHDRAWN
            audit_update(s, scope, subject, "subjects",
                         f"withdrawal on {when.isoformat()}: {reason_code}")
        return subject_view(s, scope, subject)


def _withdrawal_form(s: Session, subject_id: int) -> m.FormInstance | None:
    return s.scalars(select(m.FormInstance).where(
        m.FormInstance.subject_id == subject_id,
        m.FormInstance.form_code == WITHDRAWAL_FORM).limit(1)).first()

