"""Finding what a query, a lock or a signature points at: a form, a visit, a casebook.

A form hidden from the caller (the administration page for a blinded role) is reported
exactly like a form that was never saved.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from strokecell.errors import InputError, NotFoundError, Problem
from strokecell.store import LockScope
from strokecell.store import models as m
from strokecell.trial._context import Scope, visible_subject
from strokecell.trial._formspec import study_form_codes, unblinded_only_form

__all__ = ["Target", "find_form", "find_visit", "lock_scope", "resolve_target"]

Target = tuple[m.Subject | None, m.Visit | None, m.FormInstance | None]


def lock_scope(value: LockScope | str) -> LockScope:
    try:
        return LockScope(value)
    except ValueError:
        raise InputError(Problem("scope", "unknown scope", value,
                                 ", ".join(s.value for s in LockScope))) from None


def find_visit(s: Session, subject: m.Subject, visit_code: str) -> m.Visit:
    visit = s.scalars(select(m.Visit).where(m.Visit.subject_id == subject.id,
                                            m.Visit.visit_code == visit_code)).first()
    if visit is None:
        raise NotFoundError(f"visit_code: no visit {visit_code!r} for {subject.subject_code}; "
                            f"visits: {', '.join(v.visit_code for v in subject.visits)}")
    return visit


def find_form(s: Session, scope: Scope, subject: m.Subject, form_code: str,
              visit_code: str | None, repeat_index: int = 1,
              ) -> tuple[m.Visit | None, m.FormInstance]:
    """A saved form instance the caller may see, or NotFoundError."""
    missing = NotFoundError(f"form_code: no saved form {form_code!r} here among those you "
                            "can see")
    if form_code not in study_form_codes(s, scope.study_id):
        raise missing
    if scope.blinded and unblinded_only_form(form_code):
        raise missing
    visit = find_visit(s, subject, visit_code) if visit_code is not None else None
    form = s.scalars(select(m.FormInstance).where(
        m.FormInstance.subject_id == subject.id, m.FormInstance.form_code == form_code,
        m.FormInstance.repeat_index == repeat_index,
        m.FormInstance.visit_id.is_(None) if visit is None
        else m.FormInstance.visit_id == visit.id)).first()
    if form is None:
        raise missing
    return visit, form


def resolve_target(s: Session, scope: Scope, level: LockScope, subject_code: str | None,
                   visit_code: str | None, form_code: str | None, repeat_index: int,
                   ) -> Target:
    """The subject, visit and form a study/subject/visit/form-level action points at."""
    needs = {LockScope.STUDY: (), LockScope.SUBJECT: ("subject_code",),
             LockScope.VISIT: ("subject_code", "visit_code"),
             LockScope.FORM: ("subject_code", "form_code")}[level]
    given = {"subject_code": subject_code, "visit_code": visit_code, "form_code": form_code}
    problems = [Problem(name, f"is required for a {level.value}-level action", None,
                        "a code") for name in needs if given[name] is None]
    problems += [Problem(name, f"means nothing for a {level.value}-level action", value,
                         "leave it out") for name, value in given.items()
                 if value is not None and name not in needs
                 and not (level is LockScope.FORM and name == "visit_code")]
    if problems:
        raise InputError(problems, context=f"{level.value} target")
    if level is LockScope.STUDY:
        return None, None, None
    assert subject_code is not None  # checked above
    subject = visible_subject(s, scope, subject_code)
    if level is LockScope.SUBJECT:
        return subject, None, None
    if level is LockScope.VISIT:
        assert visit_code is not None
        return subject, find_visit(s, subject, visit_code), None
    assert form_code is not None
    visit, form = find_form(s, scope, subject, form_code, visit_code, repeat_index)
    return subject, visit, form
