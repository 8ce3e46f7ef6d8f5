"""Data queries on a field: open (monitor, data manager), answer (site), close (its opener).

A query points at a saved form and optionally one of its items (the item need not have a
value: "please enter the missing date" is a query too) and carries a thread of messages.
Status moves ``open`` → ``answered`` (site staff) → ``closed`` (only the user who opened it)
or back to ``open`` (re-opened by its opener when the answer does not resolve it). Every
step is a message row plus, for the status, an audited update whose reason is the message.
Queries follow the site isolation and blinding of the forms they point at: a query on the
administration page is invisible to blinded roles.
"""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from strokecell.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
)
from strokecell.store import QueryStatus
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import Scope, ServiceContext, authorize, visible_subject
from strokecell.trial._crf import crf_codes, load_crf
from strokecell.trial._formspec import unblinded_only_form
from strokecell.trial._tx import audit_insert, audit_update, reading, writing
from strokecell.trial.targets import find_form
from strokecell.trial.views import QueryMessageView, QueryView

__all__ = ["answer_query", "close_query", "get_query", "list_queries", "open_query",
           "reopen_query"]


def _text(message: str, what: str) -> str:
    if not isinstance(message, str) or not message.strip():
        raise InputError(Problem("message", f"{what} needs a message", message,
                                 "non-empty text"))
    return message.strip()


def _item_codes(form_code: str) -> list[str]:
    if form_code in crf_codes():
        return [f.code for f in load_crf(form_code).fields]
    from strokecell.instruments import load_instrument

    return list(load_instrument(form_code).item_codes)


def open_query(db: Engine, ctx: ServiceContext, subject_code: str, form_code: str, *,
               message: str, item_code: str | None = None, visit_code: str | None = None,
               repeat_index: int = 1, check_code: str | None = None) -> QueryView:
    """Open a query on a saved form (and one of its items)."""
    body = _text(message, "a query")
    with writing(db) as s:
        scope = authorize(s, ctx, Action.RAISE_QUERY)
        subject = visible_subject(s, scope, subject_code)
        _, form = find_form(s, scope, subject, form_code, visit_code, repeat_index)
        if item_code is not None:
            codes = _item_codes(form_code)
            if item_code not in codes:
                raise InputError(Problem("item_code", f"not an item of {form_code}", item_code,
                                         ", ".join(codes)))
        now = ctx.now()
        query = m.DataQuery(study_id=scope.study_id, subject_id=subject.id,
                            form_instance_id=form.id, item_code=item_code,
                            check_code=check_code, status=QueryStatus.OPEN, opened_at=now,
                            opened_offset_min=ctx.offset_minutes, opened_by_user_id=ctx.user_id)
        audit_insert(s, scope, query, "queries")
        _message(s, scope, query, "open", body)
        return _view(s, query)


def _message(s: Session, scope: Scope, query: m.DataQuery, action: str, body: str) -> None:
    audit_insert(s, scope, m.QueryMessage(
        query_id=query.id, action=action, body=body, author_user_id=scope.ctx.user_id,
        author_role=scope.role, written_at=scope.ctx.now(),
        written_offset_min=scope.ctx.offset_minutes), "query_messages")


def _query(s: Session, scope: Scope, query_id: int, *, lock: bool = False) -> m.DataQuery:
    stmt = select(m.DataQuery).where(m.DataQuery.id == query_id,
                                     m.DataQuery.study_id == scope.study_id)
    if lock:
        stmt = stmt.with_for_update()
    query = s.scalars(stmt).first() if isinstance(query_id, int) else None
    missing = NotFoundError(f"query_id: no query {query_id!r} among the queries you can see")
    if query is None:
        raise missing
    subject = s.get(m.Subject, query.subject_id)
    if subject is None or not scope.covers(subject.site_id):
        raise missing
    form = s.get(m.FormInstance, query.form_instance_id) if query.form_instance_id else None
    if form is not None and scope.blinded and unblinded_only_form(form.form_code):
        raise missing
    return query


def _move(s: Session, scope: Scope, query: m.DataQuery, allowed_from: tuple[QueryStatus, ...],
          to: QueryStatus, action: str, body: str) -> None:
    if query.status not in allowed_from:
        raise ConflictError(f"status: query #{query.id} is {query.status.value}; {action} needs "
                            f"{' or '.join(st.value for st in allowed_from)}")
    query.status = to
    if to is QueryStatus.CLOSED:
        query.closed_at = scope.ctx.now()
        query.closed_offset_min = scope.ctx.offset_minutes
        query.closed_by_user_id = scope.ctx.user_id
    audit_update(s, scope, query, "queries", body)
    _message(s, scope, query, action, body)


def answer_query(db: Engine, ctx: ServiceContext, query_id: int, message: str) -> QueryView:
    """The site's answer (investigator, coordinator): open → answered."""
    body = _text(message, "an answer")
    with writing(db) as s:
        scope = authorize(s, ctx, Action.ANSWER_QUERY)
        query = _query(s, scope, query_id, lock=True)
        _move(s, scope, query, (QueryStatus.OPEN,), QueryStatus.ANSWERED, "answer", body)
        return _view(s, query)


def _opener(scope: Scope, query: m.DataQuery, what: str) -> None:
    if query.opened_by_user_id != scope.ctx.user_id:
        raise PermissionDeniedError(f"query_id: only the user who opened query #{query.id} "
                                    f"may {what} it")


def close_query(db: Engine, ctx: ServiceContext, query_id: int,
                message: str = "resolved") -> QueryView:
    """Close a query (only the user who opened it): open or answered → closed."""
    body = _text(message, "closing a query")
    with writing(db) as s:
        scope = authorize(s, ctx, Action.RAISE_QUERY)
        query = _query(s, scope, query_id, lock=True)
        _opener(scope, query, "close")
        _move(s, scope, query, (QueryStatus.OPEN, QueryStatus.ANSWERED), QueryStatus.CLOSED,
              "close", body)
        return _view(s, query)


def reopen_query(db: Engine, ctx: ServiceContext, query_id: int, message: str) -> QueryView:
    """Re-open an answered query whose answer does not resolve it (its opener only)."""
    body = _text(message, "re-opening a query")
    with writing(db) as s:
        scope = authorize(s, ctx, Action.RAISE_QUERY)
        query = _query(s, scope, query_id, lock=True)
        _opener(scope, query, "re-open")
        _move(s, scope, query, (QueryStatus.ANSWERED,), QueryStatus.OPEN, "reopen", body)
        return _view(s, query)


def _view(s: Session, query: m.DataQuery) -> QueryView:
    subject = s.get(m.Subject, query.subject_id)
    form = s.get(m.FormInstance, query.form_instance_id) if query.form_instance_id else None
    visit = s.get(m.Visit, form.visit_id) if form is not None and form.visit_id else None
    names = {a: b for a, b in s.execute(select(m.User.id, m.User.username)).all()}
    messages = tuple(QueryMessageView(msg.action, msg.body,
                                      names.get(msg.author_user_id or -1, "?"),
                                      msg.author_role.value if msg.author_role else None,
                                      msg.written_at)
                     for msg in s.scalars(select(m.QueryMessage).where(
                         m.QueryMessage.query_id == query.id)
                         .order_by(m.QueryMessage.id)).all())
    return QueryView(query.id, subject.subject_code if subject else "?",
                     form.form_code if form else None, visit.visit_code if visit else None,
                     form.repeat_index if form else None, query.item_code, query.check_code,
                     query.status.value, query.opened_at,
                     names.get(query.opened_by_user_id or -1, "?"), query.closed_at, messages)


def get_query(db: Engine, ctx: ServiceContext, query_id: int) -> QueryView:
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        return _view(s, _query(s, scope, query_id))


def list_queries(db: Engine, ctx: ServiceContext, subject_code: str | None = None, *,
                 status: str | None = None) -> list[QueryView]:
    """Queries at the caller's sites (one subject, one status), oldest first."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        stmt = (select(m.DataQuery, m.FormInstance.form_code)
                .join(m.Subject, m.Subject.id == m.DataQuery.subject_id)
                .outerjoin(m.FormInstance, m.FormInstance.id == m.DataQuery.form_instance_id)
                .where(m.DataQuery.study_id == scope.study_id,
                       scope.site_filter(m.Subject.site_id)).order_by(m.DataQuery.id))
        if subject_code is not None:
            stmt = stmt.where(m.DataQuery.subject_id == visible_subject(
                s, scope, subject_code).id)
        if status is not None:
            try:
                stmt = stmt.where(m.DataQuery.status == QueryStatus(status))
            except ValueError:
                raise InputError(Problem("status", "unknown query status", status, ", ".join(
                    q.value for q in QueryStatus))) from None
        out = []
        for query, form_code in s.execute(stmt).all():
            if form_code and scope.blinded and unblinded_only_form(form_code):
                continue
            out.append(_view(s, query))
        return out
