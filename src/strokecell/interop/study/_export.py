"""``strokecell export --format odm|redcap|xpt|sav|dta``: a study out in other formats.

Every format reads the study once through
:func:`strokecell.trial.study_snapshot.study_snapshot` (export role, the caller's sites,
blinded: no arm and no page only unblinded roles see). ``csv`` and ``parquet`` stay the
trial layer's analysis export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from strokecell.errors import InputError, Problem
from strokecell.interop.study._project import study_project
from strokecell.interop.study._stats import stats_datasets, write_stats
from strokecell.trial import ServiceContext
from strokecell.trial.study_snapshot import study_snapshot

__all__ = ["FORMATS", "InteropExport", "export_study"]

FORMATS = ("odm", "redcap", "xpt", "sav", "dta")


@dataclass(frozen=True)
class InteropExport:
    format: str
    out: str
    files: dict[str, str]
    subjects: int
    warnings: tuple[str, ...] = ()


def export_study(db: Engine, ctx: ServiceContext, fmt: str, out: Path, *,
                 created: datetime | None = None) -> InteropExport:
    """Write the caller's study as ``fmt`` into ``out`` (a folder; for ``odm`` a folder or
    a ``.xml`` file)."""
    if fmt not in FORMATS:
        raise InputError(Problem("format", "unknown export format", fmt, ", ".join(FORMATS)))
    snap = study_snapshot(db, ctx)
    if fmt in ("xpt", "sav", "dta"):
        result = write_stats(stats_datasets(snap), out, fmt)
        return InteropExport(fmt, str(out), result.files, len(snap.subjects), result.warnings)
    project = study_project(snap)
    if fmt == "redcap":
        from strokecell.interop.redcap import write_project

        paths = write_project(project, out)
        return InteropExport(fmt, str(out), {p.name: str(p) for p in paths},
                             len(snap.subjects))
    from strokecell.interop.odm import write_odm

    xml = write_odm(project, file_oid=f"{snap.study_code}.odm", created=created)
    target = out if out.suffix.lower() == ".xml" else out / f"{snap.study_code}.odm.xml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(xml)
    return InteropExport(fmt, str(out), {target.name: str(target)}, len(snap.subjects))
