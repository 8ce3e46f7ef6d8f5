"""CLI: ``strokecell evidence summary|meta|page`` — the curated trials and their synthesis.

``summary`` lists the trials, ``meta`` pools one outcome at one time point (overall, by an
aspect, regressed on dose or days), ``page`` writes the evidence page of a protocol. Heavy
libraries (numpy, pandas, matplotlib, jinja2) load inside the commands only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from strokecell._commands._output import emit_json, fail
from strokecell.errors import InputError, Problem, StrokecellError

FileOpt = Annotated[Path | None, typer.Option(
    "--file", help="A trials CSV to use instead of the packaged data set.")]


def _split(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def _records(file: Path | None) -> Any:
    from strokecell.evidence import load_trials

    return load_trials(file)


def _summary(file: Path | None, as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from strokecell.evidence import summarize_trials

    rows = summarize_trials(_records(file))
    if as_json:
        emit_json({"n_comparisons": len(rows), "n_trials": len({r.trial_id for r in rows}),
                   "trials": [r.to_dict() for r in rows]})
        return
    table = Table(title=f"Controlled trials of cell therapy in stroke ({len(rows)} comparisons)",
                  show_lines=True)
    for col in ("trial", "design", "n (cells vs control)", "stroke", "cells", "phase (day)",
                "route", "dose", "outcomes: time points", "ver."):
        table.add_column(col, overflow="fold")
    for r in rows:
        f = r.first
        cells = f"{f.cell_type.value} ({f.cell_source.value}, {f.donor.value})"
        route = f.route.value + (f" + {f.route_2.value}" if f.route_2 else "")
        label = r.label + (f"\n{f.comparison}" if len([x for x in rows
                                                      if x.trial_id == r.trial_id]) > 1 else "")
        table.add_row(label, r.design, r.n_text, f.stroke_type.value, cells, r.timing_text,
                      route, r.dose_text, "\n".join(r.outcomes_short),
                      "/".join(r.verification))
    Console().print(table)
    typer.echo("* = usable numbers (can be pooled); other time points document the trial only. "
               "V = seen in a public source, K = to be checked (docs/evidence.md)")


def _meta(opts: dict[str, Any]) -> None:
    from strokecell.evidence import forest, synthesize

    by = _split(opts["by"])
    by_arg: Any = None if by == ["all"] else tuple(by)
    regress = _split(opts["regress"])
    res = synthesize(opts["outcome"], opts["time"], by=by_arg, regress=tuple(regress),
                     measure=opts["measure"], method=opts["method"], test=opts["test"],
                     direction=opts["direction"], tolerance_days=opts["tolerance_days"],
                     records=_records(opts["file"]))
    out = res.to_dict()
    if opts["forest"] is not None:
        aspect = by[0] if len(by) == 1 and by != ["all"] else None
        forest(res, opts["forest"], by=aspect)
        out["forest"] = str(opts["forest"])
    if opts["as_json"]:
        emit_json(out)
        return
    typer.echo(res.summary())
    if "forest" in out:
        typer.echo(f"\nforest plot written to {out['forest']}")


def _page(protocol_file: Path, out: Path, arm_code: str | None, file: Path | None) -> None:
    from strokecell.protocol import load_protocol
    from strokecell.report.evidence_page import write_evidence_page

    protocol = load_protocol(protocol_file)
    arms = protocol.cell_therapy_arms
    if arm_code is not None:
        arms = [a for a in arms if a.code == arm_code]
    if not arms:
        raise InputError(Problem("--arm", "no such cell-therapy arm in the protocol", arm_code,
                                 ", ".join(a.code for a in protocol.cell_therapy_arms)
                                 or "none"))
    arm = arms[0]
    if arm.route is None or arm.product is None:  # pragma: no cover - protocol validates
        raise InputError(Problem(f"arms.{arm.code}", "cell-therapy arm without route or "
                                 "product"))
    path = write_evidence_page(
        out, route=arm.route.kind, cell_type=arm.product.cell_type,
        condition=protocol.study.condition,
        phase=arm.timing.derived_phase if arm.timing is not None else None,
        title=f"{protocol.study.id}: {protocol.study.title} (arm {arm.code})",
        records=_records(file) if file is not None else None)
    typer.echo(f"evidence page written to {path}")


def register(app: typer.Typer) -> None:
    """Add the ``evidence`` family to ``app``."""
    evidence_app = typer.Typer(
        name="evidence",
        help="The curated trials of cell therapy in stroke and their synthesis.",
        no_args_is_help=True,
    )

    @evidence_app.command("summary")
    def summary(
        as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
        file: FileOpt = None,
    ) -> None:
        """The trials: design, n, the four aspects, outcomes with time points, verification."""
        try:
            _summary(file, as_json)
        except StrokecellError as exc:
            fail(exc, as_json=as_json)

    @evidence_app.command("meta")
    def meta(
        outcome: Annotated[str, typer.Option(
            "--outcome", help="Outcome code: bi, mbi, nihss, mrs, fma, death (mortality), "
            "mrs_0_2, excellent_outcome, ...")],
        time: Annotated[str | None, typer.Option(
            "--time", help="Time point: 90d, 24wk, 6mo, 12mo, 1y; default: each comparison's "
            "longest follow-up.")] = None,
        by: Annotated[list[str] | None, typer.Option(
            "--by", help="Subgroups by cell_type, phase, route or dose (or 'all').")] = None,
        regress: Annotated[list[str] | None, typer.Option(
            "--regress", help="Meta-regression on dose, dose_per_kg or days.")] = None,
        measure: Annotated[str | None, typer.Option(
            "--measure", help="MD or SMD (continuous), RR, OR or RD (events).")] = None,
        method: Annotated[str, typer.Option(
            "--method", help="EE, DL, REML, ML, PM, HE, SJ, HS or EB.")] = "REML",
        test: Annotated[str | None, typer.Option(
            "--test", help="knha (default) or z.")] = None,
        direction: Annotated[str, typer.Option(
            "--direction", help="natural (cells vs control) or benefit (positive favours "
            "cells).")] = "natural",
        tolerance_days: Annotated[float | None, typer.Option(
            "--tolerance-days", help="Time-matching tolerance (default 1 month, at most a "
            "quarter of the time).")] = None,
        forest: Annotated[Path | None, typer.Option(
            "--forest", help="Write a forest plot PNG.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
        file: FileOpt = None,
    ) -> None:
        """Pool one outcome at one time point over the curated trials."""
        opts = {"outcome": outcome, "time": time, "by": by, "regress": regress,
                "measure": measure, "method": method, "test": test, "direction": direction,
                "tolerance_days": tolerance_days, "forest": forest, "as_json": as_json,
                "file": file}
        try:
            _meta(opts)
        except StrokecellError as exc:
            fail(exc, as_json=as_json)

    @evidence_app.command("page")
    def page(
        protocol: Annotated[Path, typer.Option("--protocol", help="Protocol YAML file.")],
        out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path(
            "evidence.html"),
        arm: Annotated[str | None, typer.Option(
            "--arm", help="Cell-therapy arm code (default: the first).")] = None,
        file: FileOpt = None,
    ) -> None:
        """What published trials with this protocol's route and cell type found (HTML)."""
        try:
            _page(protocol, out, arm, file)
        except StrokecellError as exc:
            fail(exc)

    app.add_typer(evidence_app, name="evidence")
