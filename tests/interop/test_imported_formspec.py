"""The trial services on an imported study's own (generic) forms.

Regression: ``trial/_formspec.py`` knew only the shipped scales and CRF pages, so
``list_forms``, ``get_form``, ``sign`` and ``build_datasets`` raised NotFoundError on the
forms of a study imported from REDCap. The form lookup now falls back to the study's
imported form definitions (``trial/imported_forms.py``). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from strokecell.errors import NotFoundError
from strokecell.interop.study import import_redcap
from strokecell.store import Role, read_session, verify_chain
from strokecell.trial import (
    build_datasets,
    context_for,
    create_user,
    get_form,
    grant_role,
    list_forms,
    lock_records,
    sign,
)
from strokecell.trial._formspec import form_spec
from strokecell.trial.imported_forms import imported_design
from strokecell.trial.study_snapshot import study_snapshot

from .conftest import REDCAP

PW = "import-password-1"


def test_services_read_sign_and_export_imported_forms(engine: Engine) -> None:
    result = import_redcap(engine, REDCAP / "dag", username="importer", password=PW)
    code = result.study_code or ""
    admin = context_for(engine, "importer", study_code=code, role=Role.ADMIN)
    for user, role in (("inv", Role.INVESTIGATOR), ("stat", Role.STATISTICIAN),
                       ("dm", Role.DATA_MANAGER)):
        create_user(engine, admin, user, user, PW)
        grant_role(engine, admin, user, role, None)
    inv = context_for(engine, "inv", study_code=code, role=Role.INVESTIGATOR)
    dm = context_for(engine, "dm", study_code=code, role=Role.DATA_MANAGER)
    stat = context_for(engine, "stat", study_code=code, role=Role.STATISTICIAN)
    design = imported_design(engine, inv)
    assert design is not None
    imported = {f.code for f in design.forms}
    with pytest.raises(NotFoundError):  # not a shipped form: known to its study only
        form_spec(next(iter(imported)))
    snap = study_snapshot(engine, dm)
    subject = snap.subjects[0]
    entry = next(f for f in subject.forms if f.form_code in imported)
    forms = list_forms(engine, inv, subject.code)
    assert entry.form_code in {f.form_code for f in forms}
    view = get_form(engine, inv, subject.code, entry.form_code, visit_code=entry.visit_code,
                    repeat_index=entry.repeat_index)
    assert view.form_code == entry.form_code and view.items
    signature = sign(engine, inv, password=PW, subject_code=subject.code, scope="form",
                     visit_code=entry.visit_code, form_code=entry.form_code,
                     repeat_index=entry.repeat_index)
    assert signature.valid
    casebook = sign(engine, inv, password=PW, subject_code=subject.code)
    assert casebook.valid
    data = build_datasets(engine, stat)
    rows = [r for r in data["observations"] if r["FORMCD"] == entry.form_code]
    assert rows and {r["USUBJID"] for r in rows} >= {subject.code}
    lock_records(engine, dm, "study")
    assert build_datasets(engine, stat, unblinded=True)["observations"]
    with read_session(engine) as s:
        assert verify_chain(s).ok
    with pytest.raises(NotFoundError, match="no_such_form"):
        get_form(engine, inv, subject.code, "no_such_form", visit_code=entry.visit_code)
