"""An ORM object's pending column changes written at once by one plain UPDATE.

A form save changes three rows (the form, an item, a derived total), and the ORM's unit of
work spends more time sorting and collecting those three updates than SQLite spends running
them: about a sixth of a save's CPU on the server. :func:`update_now` writes one object's
changed columns with a prebuilt ``UPDATE ... WHERE <primary key> [AND version = <read>]``,
checks that exactly one row matched (else :class:`StaleDataError`, as the flush would
raise, which ``writing()`` turns into a ConflictError), moves the optimistic version on
exactly as the mapper's ``version_id_col`` would, and marks the object clean so that the
next flush leaves it alone. Anything else (inserts, deletes, relationship changes, objects
that are not plain single-table rows) is left to the flush.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table, bindparam, inspect, update
from sqlalchemy.orm import ColumnProperty, Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.dml import Update

__all__ = ["update_now"]

_VERSION_PARAM = "_expected_version"
_STATEMENTS: dict[tuple[Table, bool], Update] = {}


def _statement(table: Table, primary_key: tuple[Column[Any], ...],
               version: Column[Any] | None) -> Update:
    cached = _STATEMENTS.get((table, version is not None))
    if cached is None:
        where = [column == bindparam(f"_pk_{column.key}") for column in primary_key]
        if version is not None:
            where.append(version == bindparam(_VERSION_PARAM))
        cached = update(table).where(*where)  # SET: the columns named in the parameters
        _STATEMENTS[table, version is not None] = cached
    return cached


def update_now(session: Session, obj: object) -> bool:
    """Write ``obj``'s changed columns now; False if left to the flush (nothing done)."""
    state = inspect(obj)
    mapper = state.mapper
    table = mapper.local_table
    if not state.persistent or state.deleted or mapper.inherits is not None \
            or not isinstance(table, Table) or state.identity is None:
        return False
    values: dict[str, Any] = {}
    keys: list[str] = []
    for key in state.committed_state:
        prop = mapper.attrs.get(key)
        if not isinstance(prop, ColumnProperty):
            continue  # a collection or reference: the flush keeps track of those
        if len(prop.columns) != 1 or prop.columns[0].table is not table:
            return False
        values[prop.columns[0].key] = state.dict.get(key)
        keys.append(key)
    if not values:
        return False
    params = {f"_pk_{column.key}": value
              for column, value in zip(mapper.primary_key, state.identity, strict=True)}
    version_column = mapper.version_id_col
    version_key: str | None = None
    if version_column is not None:
        version_key = mapper.get_property_by_column(version_column).key
        if version_key in keys:
            return False  # set by hand: let the mapper decide what that means
        read = state.dict[version_key]
        params[_VERSION_PARAM] = read
        values[version_column.key] = read + 1
    statement = _statement(table, tuple(mapper.primary_key), version_column)
    result = session.connection().execute(statement, {**values, **params})
    if result.rowcount != 1:
        raise StaleDataError(f"UPDATE of {table.name} matched {result.rowcount} rows, "
                             "expected 1 (changed by someone else since it was read)")
    if version_key is not None:
        state.dict[version_key] = values[version_column.key]
        keys.append(version_key)
    state._commit(state.dict, keys)
    if not state.committed_state:  # nothing left for the flush: the object is clean
        state._commit_all(state.dict, session.identity_map)
    return True
