"""SAS transport (XPT v5), SPSS (.sav) and Stata (.dta) files of a study, via pyreadstat.

Datasets: ``subjects`` (STUDYID, USUBJID, SITEID, SUBJSTAT, ENRLDT; blinded: no arm) and
one wide dataset per form (USUBJID, SITEID, AVISIT, AVISITN, FORMSEQ = repeat, FORMSTAT,
then one variable per item in the form's order, then the derived values by PARAMCD).
Variable labels are the items' labels; value labels are the choice grids (numeric codes:
numeric variables with value labels; codes that are not all numbers, such as NIHSS ``UN``,
stay text: value labels on SPSS text variables, none in Stata, which labels integers only)
and ``1 = Yes, 0 = No`` for booleans. Dates are dates.

Limits are respected, never by silent truncation:

| | names | labels | text values |
|---|---|---|---|
| XPT v5 | 8 characters, upper case | 40 | 200 |
| SPSS | 64 | 256 | 32767 |
| Stata | 32 | 80 | 2045 |

A name over the limit (or not a valid name: a leading digit, other characters) is mapped
deterministically: the cleaned name cut to the limit, and on a clash cut shorter with a
number ``_2``, ``_3`` ... in the order of the dataset. ``name_map.csv`` lists every
dataset and variable with its original name, file name and full label (and whether the
label was shortened); a text value over the limit is written shortened and listed in
``truncated_values.csv``, and the result's ``warnings`` say so.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from strokecell.instruments import CompositeInstrument, load_instrument
from strokecell.trial import form_spec, load_crf
from strokecell.trial.study_snapshot import StudySnapshot

__all__ = ["LIMITS", "Column", "Dataset", "stats_datasets", "write_stats"]

#: format -> (name length, label length, text length, upper-case names)
LIMITS: Mapping[str, tuple[int, int, int, bool]] = {
    "xpt": (8, 40, 200, True), "sav": (64, 256, 32767, False), "dta": (32, 80, 2045, False)}


@dataclass
class Column:
    name: str
    label: str
    kind: str  # num, text, date
    value_labels: dict[Any, str] = field(default_factory=dict)


@dataclass
class Dataset:
    name: str
    label: str
    columns: list[Column]
    rows: list[dict[str, Any]]


def _numeric_codes(codes: list[str]) -> bool:
    return bool(codes) and all(re.fullmatch(r"-?[0-9]+", c) for c in codes)


def _form_columns(snap: StudySnapshot, code: str) -> tuple[str, list[Column]]:
    """The item columns of a form from its definition (imported, scale or CRF)."""
    design = snap.design
    imported = design.form(code) if design else None
    cols: list[Column] = []
    if imported is not None:
        for f in imported.fields:
            if f.type == "code":
                codes = [c.code for c in f.choices]
                numeric = _numeric_codes(codes)
                labels = {(float(c.code) if numeric else c.code): c.label for c in f.choices}
                cols.append(Column(f.code, f.label, "num" if numeric else "text", labels))
            elif f.type == "boolean":
                cols.append(Column(f.code, f.label, "num", {1.0: "Yes", 0.0: "No"}))
            elif f.type in ("integer", "decimal"):
                cols.append(Column(f.code, f.label, "num"))
            elif f.type == "date":
                cols.append(Column(f.code, f.label, "date"))
            else:
                cols.append(Column(f.code, f.label, "text"))
        return imported.name, cols
    spec = form_spec(code)
    if spec.kind == "scale":
        inst = load_instrument(code)
        parts = [load_instrument(c) for c in inst.definition.components] \
            if isinstance(inst, CompositeInstrument) else [inst]
        for part in parts:
            for item_code in part.item_codes:
                item = part.item(item_code)
                if item.quantity is not None:
                    cols.append(Column(item_code, f"{item.label} ({item.quantity.unit})",
                                       "num"))
                    continue
                grid: dict[Any, str] = {float(lv.value): lv.label for lv in item.levels}
                if item.untestable is not None:
                    grid = {str(int(k)): v for k, v in grid.items()}
                    grid["UN"] = item.untestable.label
                    cols.append(Column(item_code, item.label, "text", grid))
                else:
                    cols.append(Column(item_code, item.label, "num", grid))
        return spec.name, cols
    crf = load_crf(code)
    for cf in crf.fields:
        if cf.type == "code":
            cols.append(Column(cf.code, cf.label, "text", {c: c for c in cf.choices or []}))
        elif cf.type == "boolean":
            cols.append(Column(cf.code, cf.label, "num", {1.0: "Yes", 0.0: "No"}))
        elif cf.type in ("integer", "decimal"):
            unit = f" ({cf.unit})" if cf.unit else ""
            cols.append(Column(cf.code, cf.label + unit, "num"))
        elif cf.type == "date":
            cols.append(Column(cf.code, cf.label, "date"))
        else:
            cols.append(Column(cf.code, cf.label, "text"))
    return spec.name, cols


def _cell(col: Column, value: Any, raw: str | None) -> Any:
    if value is None:
        return None
    if col.kind == "num":
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        return float(value)
    if col.kind == "date":
        return value if isinstance(value, date) else None
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, int | float) and raw is not None:
        return raw
    return value.isoformat() if isinstance(value, date) else str(value)


_KEYS = [Column("USUBJID", "Unique subject identifier", "text"),
         Column("SITEID", "Study site identifier", "text"),
         Column("AVISIT", "Analysis visit", "text"),
         Column("AVISITN", "Analysis visit (N)", "num"),
         Column("FORMSEQ", "Repeat of the form", "num"),
         Column("FORMSTAT", "Form status", "text")]


def stats_datasets(snap: StudySnapshot) -> list[Dataset]:
    """The datasets (rows keyed by original column names) of a study snapshot."""
    subjects = Dataset("subjects", f"{snap.study_code}: subjects", [
        Column("STUDYID", "Study identifier", "text"),
        Column("USUBJID", "Unique subject identifier", "text"),
        Column("SITEID", "Study site identifier", "text"),
        Column("SUBJSTAT", "Subject status", "text"),
        Column("ENRLDT", "Date of enrolment (or import)", "date")], [])
    forms: dict[str, Dataset] = {}
    for subj in snap.subjects:
        subjects.rows.append({"STUDYID": snap.study_code, "USUBJID": subj.code,
                              "SITEID": subj.site_code, "SUBJSTAT": subj.status,
                              "ENRLDT": subj.enrolled})
        visit_no = {v[0]: v[2] for v in subj.visits}
        for form in subj.forms:
            ds = forms.get(form.form_code)
            if ds is None:
                label, cols = _form_columns(snap, form.form_code)
                ds = Dataset(form.form_code, label, [*_KEYS, *cols], [])
                forms[form.form_code] = ds
            row: dict[str, Any] = {
                "USUBJID": subj.code, "SITEID": subj.site_code, "AVISIT": form.visit_code,
                "AVISITN": None if form.visit_code is None
                else float(visit_no.get(form.visit_code, 0)),
                "FORMSEQ": float(form.repeat_index), "FORMSTAT": form.status}
            by_name = {c.name: c for c in ds.columns}
            for item in form.items:
                col = by_name.get(item.code)
                if col is None:
                    col = Column(item.code, item.code, "text")
                    ds.columns.append(col)
                    by_name[item.code] = col
                row[item.code] = _cell(col, item.value, item.raw_text)
            for param, value in form.derived.items():
                if param not in by_name:
                    kind = "text" if isinstance(value, str) else "num"
                    col = Column(param, f"{ds.label}: {param} (derived)", kind)
                    ds.columns.append(col)
                    by_name[param] = col
                row[param] = value
            ds.rows.append(row)
    return [subjects, *forms.values()]


def _clean(name: str, upper: bool) -> str:
    text = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not text or not text[0].isalpha():
        text = "V" + text
    return text.upper() if upper else text


def _map_names(names: list[str], limit: int, upper: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = _clean(name, upper)[:limit]
        candidate, n = base, 1
        while candidate.lower() in taken:
            n += 1
            suffix = f"_{n}"
            candidate = base[:limit - len(suffix)] + suffix
        taken.add(candidate.lower())
        out[name] = candidate
    return out


@dataclass(frozen=True)
class StatsResult:
    files: dict[str, str]
    warnings: tuple[str, ...]


def write_stats(datasets: list[Dataset], out: Path, fmt: str) -> StatsResult:
    """Write each dataset as ``<name>.<fmt>``, plus ``name_map.csv`` (and
    ``truncated_values.csv`` when a text value was over the format's limit)."""
    import pandas as pd
    import pyreadstat

    name_limit, label_limit, text_limit, upper = LIMITS[fmt]
    out.mkdir(parents=True, exist_ok=True)
    file_names = _map_names([d.name for d in datasets], 8 if fmt == "xpt" else 64, upper)
    files: dict[str, str] = {}
    map_rows: list[list[str]] = []
    truncated: list[list[str]] = []
    for ds in datasets:
        names = _map_names([c.name for c in ds.columns], name_limit, upper)
        data: dict[str, list[Any]] = {}
        labels: dict[str, str | None] = {}
        value_labels: dict[str, dict[Any, str]] = {}
        for col in ds.columns:
            new = names[col.name]
            values = [row.get(col.name) for row in ds.rows]
            if col.kind == "text":
                fixed = []
                for i, v in enumerate(values):
                    text = None if v is None else str(v)
                    if text is not None and len(text.encode("utf-8")) > text_limit:
                        truncated.append([ds.name, new, str(i + 1), str(len(text)), text])
                        text = text.encode("utf-8")[:text_limit].decode("utf-8", "ignore")
                    fixed.append(text)
                values = fixed
            data[new] = values
            label = col.label[:label_limit]
            labels[new] = label
            if col.value_labels and not (fmt == "dta" and col.kind != "num") and fmt != "xpt":
                value_labels[new] = {(int(k) if fmt == "dta" else k): v[:label_limit]
                                     for k, v in col.value_labels.items()}
            vl = " | ".join(f"{k}={v}" for k, v in col.value_labels.items())
            map_rows.append([ds.name, file_names[ds.name], col.name, new, col.label,
                             "yes" if label != col.label else "no", col.kind, vl])
        frame = pd.DataFrame(data, columns=list(data))
        for col in ds.columns:
            if col.kind == "num":
                frame[names[col.name]] = pd.to_numeric(frame[names[col.name]]).astype("float64")
        path = out / f"{file_names[ds.name]}.{fmt}"
        file_label = ds.label[:label_limit]
        if fmt == "xpt":
            pyreadstat.write_xport(frame, str(path), file_label=file_label,
                                   column_labels=labels, table_name=file_names[ds.name],
                                   file_format_version=5)
        elif fmt == "sav":
            pyreadstat.write_sav(frame, str(path), file_label=file_label,
                                 column_labels=labels, variable_value_labels=value_labels)
        else:
            pyreadstat.write_dta(frame, str(path), file_label=file_label,
                                 column_labels=labels, variable_value_labels=value_labels)
        files[ds.name] = str(path)
    map_path = out / "name_map.csv"
    with map_path.open("w", encoding="utf-8", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["dataset", "file", "variable", "name", "label", "label_shortened",
                    "kind", "value_labels"])
        w.writerows(map_rows)
    files["name_map"] = str(map_path)
    warnings: list[str] = []
    if truncated:
        t_path = out / "truncated_values.csv"
        with t_path.open("w", encoding="utf-8", newline="") as handle:
            w = csv.writer(handle)
            w.writerow(["dataset", "variable", "row", "length", "full_value"])
            w.writerows(truncated)
        files["truncated_values"] = str(t_path)
        warnings.append(f"{len(truncated)} text values longer than {text_limit} bytes were "
                        f"shortened in the {fmt} files; full values in {t_path.name}")
    return StatsResult(files, tuple(warnings))
