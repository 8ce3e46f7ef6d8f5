"""CLI: ``strokecell meta DATA.csv ...`` — a meta-analysis on any CSV (engine: stats/meta)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from strokecell._commands._output import emit_json, fail
from strokecell.errors import InputError, Problem, StrokecellError

ROLE_OPTIONS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i", "ai", "bi", "ci", "di", "xi", "ni")


def _split(text: str | None) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()] if text else []


def _need_columns(frame: Any, names: list[str], option: str) -> None:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InputError(Problem(option, f"no column {missing[0]!r} in the data", missing[0],
                                 allowed=", ".join(map(str, frame.columns))))


def _numeric(frame: Any, name: str, option: str) -> Any:
    import pandas as pd

    _need_columns(frame, [name], option)
    col = frame[name]
    converted = pd.to_numeric(col, errors="coerce")
    bad = converted.isna() & col.notna() & (col.astype(str).str.strip() != "")
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(Problem(f"{option} {name}", f"not a number in row {row + 1}",
                                 str(col.iloc[row]), allowed="numbers"))
    return converted.to_numpy(dtype=float)


def _read(path: Path) -> Any:
    import pandas as pd

    if not path.exists():
        raise InputError(Problem("DATA", "file not found", str(path)))
    try:
        return pd.read_csv(path)
    except (ValueError, OSError) as exc:
        raise InputError(Problem("DATA", f"cannot read CSV: {exc}", str(path))) from exc


def _effects(frame: Any, yi: str | None, vi: str | None, measure: str | None,
             roles: dict[str, str | None]) -> Any:
    from strokecell.stats.meta import escalc

    given = {k: v for k, v in roles.items() if v}
    if measure is None:
        if not (yi and vi):
            raise InputError(Problem("--yi/--vi", "give --yi and --vi, or --measure with its "
                                     "columns", allowed="--yi COL --vi COL | --measure "
                                     "MD|SMD|RR|OR|RD|PLO"))
        return _numeric(frame, yi, "--yi"), _numeric(frame, vi, "--vi")
    if yi or vi:
        raise InputError(Problem("--measure", "use either --yi/--vi or --measure, not both"))
    cols = {role: _numeric(frame, col, f"--{role}") for role, col in given.items()}
    return escalc(measure, **cols), None


def _print_human(res: Any, extra: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from strokecell.stats.meta import SubgroupResult

    console = Console()
    overall = res.overall if isinstance(res, SubgroupResult) else res
    table = Table(title="Studies")
    for col in ("study", "yi", "vi", "weight %"):
        table.add_column(col, justify="left" if col == "study" else "right")
    for lab, y, v, w in zip(overall.labels, overall.yi, overall.vi, overall.weights,
                            strict=True):
        table.add_row(lab, f"{y:.4f}", f"{v:.4f}", f"{w:.2f}")
    console.print(table)
    console.print(res.summary(), markup=False, highlight=False)
    for key, value in extra.items():
        console.print(f"\n{key}: {value}", markup=False, highlight=False)


def _run(data: Path, yi: str | None, vi: str | None, measure: str | None,
         roles: dict[str, str | None], method: str, test: str, mods: str | None,
         subgroup: str | None, label: str | None, level: float, forest: Path | None,
         funnel: Path | None, diagnostics: bool, as_json: bool,
         caught: list[warnings.WarningMessage]) -> None:
    from strokecell.stats import meta as M

    frame = _read(data)
    effects, vcol = _effects(frame, yi, vi, measure, roles)
    labels = None
    if label:
        _need_columns(frame, [label], "--label")
        labels = frame[label].astype(str).tolist()
    mod_cols = _split(mods)
    _need_columns(frame, mod_cols, "--mods")
    res: Any
    if subgroup:
        if mod_cols:
            raise InputError(Problem("--subgroup", "cannot be combined with --mods",
                                     allowed="--mods for a meta-regression or --subgroup"))
        _need_columns(frame, [subgroup], "--subgroup")
        groups = [None if g != g else g for g in frame[subgroup].tolist()]
        res = M.subgroup_analysis(effects, vcol, subgroup=groups, method=method, test=test,
                                  level=level, labels=labels)
        fit = res.overall
    else:
        res = M.rma(effects, vcol, method=method, test=test, level=level, labels=labels,
                    mods=frame[mod_cols] if mod_cols else None, measure=measure)
        fit = res
    out = res.to_dict()
    extra: dict[str, Any] = {}
    if diagnostics and fit.int_only:
        extra["egger"] = M.regtest(fit).to_dict()
        tf = M.trimfill(fit)
        extra["trimfill"] = {"k0": tf.k0, "side": tf.side, "estimate": float(tf.result.beta[0]),
                             "ci_lb": float(tf.result.ci_lb_beta[0]),
                             "ci_ub": float(tf.result.ci_ub_beta[0])}
        extra["leave_one_out"] = M.leave_one_out(fit).to_dict()
    if diagnostics:
        extra["influence"] = M.influence(fit).to_dict()
    if forest is not None:
        M.forest_plot(res, forest)
        out["forest"] = str(forest)
    if funnel is not None:
        M.funnel_plot(fit, funnel)
        out["funnel"] = str(funnel)
    notes = list(dict.fromkeys(str(w.message) for w in caught))
    if as_json:
        emit_json({**out, **extra, "warnings": notes})
    else:
        for note in notes:
            typer.echo(f"note: {note}", err=True)
        _print_human(res, {k: v for k, v in extra.items() if k in ("egger", "trimfill")})
        for key in ("forest", "funnel"):
            if key in out:
                typer.echo(f"{key} plot written to {out[key]}")


def register(app: typer.Typer) -> None:
    """Add this family's commands to ``app``."""

    @app.command("meta")
    def meta(
        data: Annotated[Path, typer.Argument(help="CSV file, one row per study.")],
        yi: Annotated[str | None, typer.Option("--yi", help="Column of effect sizes.")] = None,
        vi: Annotated[str | None, typer.Option(
            "--vi", help="Column of sampling variances.")] = None,
        measure: Annotated[str | None, typer.Option(
            "--measure", help="Compute effect sizes: MD, SMD, RR, OR, RD or PLO.")] = None,
        m1i: Annotated[str | None, typer.Option("--m1i", help="Mean, group 1.")] = None,
        sd1i: Annotated[str | None, typer.Option("--sd1i", help="SD, group 1.")] = None,
        n1i: Annotated[str | None, typer.Option("--n1i", help="Size of group 1.")] = None,
        m2i: Annotated[str | None, typer.Option("--m2i", help="Mean, group 2.")] = None,
        sd2i: Annotated[str | None, typer.Option("--sd2i", help="SD, group 2.")] = None,
        n2i: Annotated[str | None, typer.Option("--n2i", help="Size of group 2.")] = None,
        ai: Annotated[str | None, typer.Option("--ai", help="Events, group 1.")] = None,
        bi: Annotated[str | None, typer.Option("--bi", help="Non-events, group 1.")] = None,
        ci: Annotated[str | None, typer.Option("--ci", help="Events, group 2.")] = None,
        di: Annotated[str | None, typer.Option("--di", help="Non-events, group 2.")] = None,
        xi: Annotated[str | None, typer.Option("--xi", help="Events (single proportion).")] = None,
        ni: Annotated[str | None, typer.Option(
            "--ni", help="Sample size (single proportion).")] = None,
        method: Annotated[str, typer.Option(
            "--method", help="EE, DL, REML, ML, PM, HE, SJ, HS or EB.")] = "REML",
        test: Annotated[str, typer.Option("--test", help="z or knha (Knapp-Hartung).")] = "z",
        mods: Annotated[str | None, typer.Option(
            "--mods", help="Moderator columns, COL,COL.")] = None,
        subgroup: Annotated[str | None, typer.Option("--subgroup", help="Subgroup column.")] = None,
        label: Annotated[str | None, typer.Option("--label", help="Study label column.")] = None,
        level: Annotated[float, typer.Option(
            "--level", help="Confidence level in percent.")] = 95.0,
        forest: Annotated[Path | None, typer.Option(
            "--forest", help="Write a forest plot PNG.")] = None,
        funnel: Annotated[Path | None, typer.Option(
            "--funnel", help="Write a funnel plot PNG.")] = None,
        diagnostics: Annotated[bool, typer.Option(
            "--diagnostics", help="Add Egger, trim-and-fill, leave-one-out, influence.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Meta-analysis of a CSV (metafor conventions): pooled effect, moderators, subgroups.

        Effect sizes come from --yi/--vi or are computed with --measure from raw columns.
        """
        roles = {"m1i": m1i, "sd1i": sd1i, "n1i": n1i, "m2i": m2i, "sd2i": sd2i, "n2i": n2i,
                 "ai": ai, "bi": bi, "ci": ci, "di": di, "xi": xi, "ni": ni}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                _run(data, yi, vi, measure, roles, method, test, mods, subgroup, label, level,
                     forest, funnel, diagnostics, as_json, caught)
        except StrokecellError as exc:
            fail(exc, as_json=as_json)
