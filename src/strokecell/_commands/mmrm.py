"""CLI: ``strokecell mmrm`` — fit a mixed model for repeated measures on a long-format CSV.

    strokecell mmrm DATA.csv --formula "FEV1 ~ ARMCD * AVISIT + RACE + us(AVISIT | USUBJID)" \\
        [--ml] [--df satterthwaite|kenward-roger|kenward-roger-linear|between-within|residual] \\
        [--lsmeans ARMCD --by AVISIT] [--reference ARMCD=PBO] [--fallback toeph,ar1h,cs] \\
        [--empirical] [--weights COLUMN] [--information observed|expected] [--json]

pandas, numpy and the engine are imported inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from strokecell._commands._output import emit_json, fail
from strokecell.errors import InputError, Problem, StrokecellError

if TYPE_CHECKING:
    from strokecell.stats.mmrm import MMRMResult


def register(app: typer.Typer) -> None:
    """Add this family's commands to ``app``."""
    app.command("mmrm")(mmrm)


def mmrm(
    data: Annotated[Path, typer.Argument(help="Long-format CSV, one row per subject and visit.")],
    formula: Annotated[str, typer.Option(
        "--formula", "-f",
        help='e.g. "FEV1 ~ ARMCD * AVISIT + RACE + us(AVISIT | USUBJID)"')],
    ml: Annotated[bool, typer.Option("--ml", help="Maximum likelihood instead of REML.")] = False,
    df: Annotated[str, typer.Option(
        "--df", help="satterthwaite, kenward-roger, kenward-roger-linear, between-within, "
        "residual.")] = "satterthwaite",
    lsmeans: Annotated[str | None, typer.Option(
        "--lsmeans", help="Factor whose least-squares means (and contrasts with its "
        "reference level) to report.")] = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Report the LS means within each level of this factor.")] = None,
    reference: Annotated[list[str] | None, typer.Option(
        "--reference", help="Reference level as FACTOR=LEVEL (repeatable).")] = None,
    fallback: Annotated[str | None, typer.Option(
        "--fallback", help="Comma-separated structures to try if the fit does not "
        "converge, e.g. toeph,ar1h,cs.")] = None,
    empirical: Annotated[bool, typer.Option(
        "--empirical", help="Sandwich (empirical) covariance of the coefficients.")] = False,
    weights: Annotated[str | None, typer.Option(
        "--weights", help="Column of observation weights.")] = None,
    information: Annotated[str, typer.Option(
        "--information", help="Covariance of the covariance parameters for df and KR: "
        "observed (SAS, mmrm) or expected (Kenward-Roger 1997, pbkrtest).")] = "observed",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Fit an MMRM (as SAS PROC MIXED / R mmrm) and print coefficients, LS means, tests."""
    import pandas as pd

    from strokecell.stats.mmrm import fit_mmrm

    try:
        if by is not None and lsmeans is None:
            raise InputError(Problem("--by", "needs --lsmeans", by, "--lsmeans FACTOR --by VAR"))
        refs = _parse_reference(reference or [])
        if not data.is_file():
            raise InputError(Problem("DATA", "file not found", str(data), "a CSV file"))
        try:
            frame = pd.read_csv(data)
        except Exception as exc:  # pandas parser errors of all kinds
            raise InputError(Problem("DATA", f"cannot read CSV: {exc}", str(data))) from exc
        fb = [s.strip() for s in fallback.split(",") if s.strip()] if fallback else None
        result = fit_mmrm(frame, formula, reml=not ml, df=df, reference=refs or None,
                          fallback=fb, empirical=empirical, weights=weights,
                          information=information)
        out = result.to_dict(lsmeans=lsmeans, by=by)
    except StrokecellError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        emit_json(out)
    else:
        _print(result, out, lsmeans, by)


def _parse_reference(items: list[str]) -> dict[str, str]:
    refs: dict[str, str] = {}
    problems = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            problems.append(Problem("--reference", "expected FACTOR=LEVEL", item,
                                    "e.g. ARMCD=PBO"))
        else:
            refs[key.strip()] = value.strip()
    if problems:
        raise InputError(problems)
    return refs


def _table(title: str, rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(title=title)
    if not rows:
        return table
    for col in rows[0]:
        table.add_column(str(col), justify="left" if col in ("term", "label") else "right")
    for row in rows:
        table.add_row(*[_fmt(v) for v in row.values()])
    return table


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}"
    return str(value)


def _print(result: MMRMResult, out: dict[str, Any], lsmeans: str | None,
           by: str | None) -> None:
    from rich.console import Console

    console = Console()
    conv = out["convergence"]
    status = "converged" if out["converged"] else "[bold red]NOT CONVERGED[/bold red]"
    console.print(
        f"MMRM ({'REML' if out['reml'] else 'ML'}), covariance [bold]{out['structure']}[/bold], "
        f"df {out['df_method']}: {status} ({conv['message']}; "
        f"gradient {conv['gradient_norm']:.2g})")
    for a in out["attempts"][:-1]:
        console.print(f"  tried {a['structure']}: not converged ({a['message']})")
    console.print(f"subjects {out['n_subjects']}, observations {out['n_obs']}, rows dropped "
                  f"for missing values {out['n_dropped']}")
    console.print(f"-2 log-likelihood {out['neg2_loglik']:.4f}   AIC {out['aic']:.4f}   "
                  f"BIC {out['bic']:.4f}")
    console.print(_table("Coefficients", out["coefficients"]))
    if lsmeans:
        console.print(_table(f"LS means of {lsmeans}" + (f" by {by}" if by else ""),
                             out["lsmeans"]))
        console.print(_table("Contrasts with the reference level", out["contrasts"]))
    console.print(_table("Type III tests", out["type3"]))
    cov = out["covariance"]
    mats = cov if isinstance(cov, dict) else {"": cov}
    for g, mat in mats.items():
        rows = [{"visit": v, **{w: x for w, x in zip(out["visits"], r, strict=True)}}
                for v, r in zip(out["visits"], mat, strict=True)]
        console.print(_table("Covariance" + (f" ({g})" if g else ""), rows))
    del result
