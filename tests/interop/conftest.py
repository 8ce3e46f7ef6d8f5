"""Shared paths and the ODM 1.3.2 schema for the interop tests.

The REDCap projects are real exports from the test suite of the R package REDCapR, kept in
``<repo>/../shared/external/redcap/``; the schema is CDISC's, in ``../shared/external/odm-1.3.2/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REDCAP = SHARED / "external" / "redcap"
ODM_XSD = SHARED / "external" / "odm-1.3.2" / "ODM1-3-2.xsd"
PROJECTS = (
    "simple", "longitudinal", "repeating-instruments", "checkboxes-1", "dag",
    "validation-types-1", "potentially-problematic-dictionary", "potentially-problematic-values",
    "clinical-trial-1", "russian",
)
#: Projects whose data.csv was written by R (row-number column, NA, <U+XXXX> escapes).
WRITTEN_BY_R = {"russian"}


@pytest.fixture(scope="session")
def odm_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(ODM_XSD)))


# --- part 2: studies in the database (the trial tests' fixtures) -------------------------

from trial.conftest import (  # noqa: E402, F401 (pytest fixtures, found by name)
    _fast_passwords,
    db_kind,
    db_url,
    engine,
    pg_shared,
    pg_template,
    sqlite_template,
    world,
)
