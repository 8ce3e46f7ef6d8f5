"""A neutral project into a strokecell study and a strokecell study out (see docs/interop.md).

Import: :func:`import_redcap` / :func:`import_odm` / :func:`import_project` (one transaction,
all or nothing unless ``skip_invalid``). Export: :func:`export_study` in the formats
``odm``, ``redcap``, ``xpt``, ``sav``, ``dta``.
"""

from strokecell.interop.study._export import FORMATS, InteropExport, export_study
from strokecell.interop.study._import import (
    StudyImportResult,
    import_odm,
    import_project,
    import_redcap,
    load_mapping,
)
from strokecell.interop.study._plan import StudyPlan, plan_study
from strokecell.interop.study._tables import imported_tables, write_imported_tables

__all__ = [
    "FORMATS",
    "InteropExport",
    "StudyImportResult",
    "StudyPlan",
    "export_study",
    "import_odm",
    "import_project",
    "import_redcap",
    "imported_tables",
    "load_mapping",
    "plan_study",
    "write_imported_tables",
]
