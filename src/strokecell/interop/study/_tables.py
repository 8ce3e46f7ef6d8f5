"""The analysis tables (CSV and Parquet) of a study holding imported forms.

``strokecell.trial.export`` builds ``subjects``, ``observations`` and ``adverse_events``
from the shipped forms only; a study imported from REDCap also has forms of its own. This
writes the same three tables, with the same columns and Arrow types (``trial.export.SCHEMAS``),
from :func:`~strokecell.trial.study_snapshot.study_snapshot`: imported items as
``<FORM>_<ITEM>`` parameters exactly as the trial export names CRF items, scale totals by
their PARAMCD. Imported studies have no randomization, so ARMCD is always empty.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from strokecell.trial import PARAMCD, ServiceContext
from strokecell.trial.export import SCHEMAS
from strokecell.trial.study_snapshot import StudySnapshot, study_snapshot

__all__ = ["imported_tables", "write_imported_tables"]


def imported_tables(snap: StudySnapshot) -> dict[str, list[dict[str, Any]]]:
    subjects: list[dict[str, Any]] = []
    observations: list[dict[str, Any]] = []
    version = "import-1"
    for subj in snap.subjects:
        common = {"STUDYID": snap.study_code, "USUBJID": subj.code, "SITEID": subj.site_code,
                  "ARMCD": None}
        subjects.append({**common, "ARM": None, "RANDFL": "N", "SUBJSTAT": subj.status,
                         "ENRLDT": subj.enrolled, "PROTVER": version})
        visits = {v[0]: v for v in subj.visits}
        for form in subj.forms:
            if form.visit_code is None:
                continue
            visit = visits[form.visit_code]
            prefix = PARAMCD.get(form.form_code, form.form_code.upper()) \
                if form.kind == "scale" else form.form_code.upper()
            base = {**common, "AVISIT": visit[1], "AVISITN": visit[2], "ADT": visit[4],
                    "FORMCD": form.form_code, "FORMSEQ": form.repeat_index,
                    "FORMSTAT": form.status, "PROTVER": version}
            for param, value in form.derived.items():
                observations.append({**base, "PARAMCD": param, "PARAM": f"{form.form_code}: "
                                     f"{param}", "PARAMTYP": "DERIVED",
                                     "AVAL": value if isinstance(value, float) else None,
                                     "AVALC": value if isinstance(value, str) else None,
                                     "AVALU": None, "ITEMCD": None})
            for item in form.items:
                v = item.value
                aval = float(v) if isinstance(v, int | float) and not isinstance(v, bool) \
                    else None
                avalc = None if aval is not None else (
                    ("Y" if v else "N") if isinstance(v, bool)
                    else v.isoformat() if isinstance(v, date) else str(v))
                observations.append({**base, "PARAMCD": f"{prefix}_{item.code.upper()}",
                                     "PARAM": f"{form.form_code}: {item.code}",
                                     "PARAMTYP": None, "AVAL": aval, "AVALC": avalc,
                                     "AVALU": item.unit, "ITEMCD": item.code})
    return {"subjects": subjects, "observations": observations, "adverse_events": []}


def write_imported_tables(db: Engine, ctx: ServiceContext, out: Path) -> dict[str, Any]:
    """Write the three tables as CSV and Parquet into ``out``; returns files and rows."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    data = imported_tables(study_snapshot(db, ctx))
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for name, rows in data.items():
        schema = SCHEMAS[name]
        csv_path, parquet_path = out / f"{name}.csv", out / f"{name}.parquet"
        with csv_path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(schema.names)
            for row in rows:
                writer.writerow(["" if row.get(c) is None else row[c].isoformat()
                                 if isinstance(row.get(c), date) else repr(row[c])
                                 if isinstance(row.get(c), float) else row[c]
                                 for c in schema.names])
        table = pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows],
                                     schema=schema)
        pq.write_table(table, parquet_path)
        files[f"{name}.csv"] = str(csv_path)
        files[f"{name}.parquet"] = str(parquet_path)
    return {"out": str(out), "unblinded": False, "files": files,
            "rows": {k: len(v) for k, v in data.items()}}
