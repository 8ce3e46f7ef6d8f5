"""CLI: ``strokecell power`` — Monte-Carlo power of a protocol's primary analysis.

    strokecell power --protocol FILE [--effect MBI=8] --n 20:200:20 [--sims 1000] [--seed N]
        [--alpha 0.05] [--target-power 0.8] [--plot FILE.png] [--workers N]
        [--scheduler ADDRESS | --dask] [--no-null] [--json]

numpy, the simulator and the MMRM engine are imported inside the command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from strokecell._commands._output import emit_json, fail
from strokecell.errors import InputError, Problem, StrokecellError

if TYPE_CHECKING:
    from strokecell.simulate.power import PowerResult


def register(app: typer.Typer) -> None:
    """Add this family's commands to ``app``."""
    app.command("power")(power)


def power(
    protocol: Annotated[Path, typer.Option("--protocol", "-p", help="Protocol YAML file.")],
    n: Annotated[str, typer.Option(
        "--n", help="Total number randomised: N, N1,N2,... or START:STOP:STEP (stop "
        "included), split by the protocol's allocation ratio.")],
    effect: Annotated[list[str] | None, typer.Option(
        "--effect", help="Treatment effect at the primary visit as INSTRUMENT=VALUE, e.g. "
        "MBI=8 (repeatable). None: no effect (the rejection rate is the type I error).")] = None,
    sims: Annotated[int, typer.Option("--sims", help="Simulated trials per sample size.")] = 1000,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Random seed (drawn and reported when not given).")] = None,
    alpha: Annotated[float | None, typer.Option(
        "--alpha", help="Two-sided significance level (default: the protocol's).")] = None,
    target_power: Annotated[float, typer.Option(
        "--target-power", help="Power to reach; the smallest n reaching it is reported.")] = 0.8,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Write the power curve to this PNG file.")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="Worker processes (default: the number of cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Dask scheduler address (e.g. tcp://host:8786) to fit on.")] = None,
    dask: Annotated[bool, typer.Option(
        "--dask", help="Fit on a local Dask cluster (--workers processes).")] = False,
    no_null: Annotated[bool, typer.Option(
        "--no-null", help="With an effect, skip the run without it (type I error).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Monte-Carlo power: simulate trials, fit the primary MMRM to each, count rejections."""
    try:
        result = _run(protocol, n, effect or [], sims, seed, alpha, target_power, workers,
                      scheduler, dask, not no_null)
        if plot is not None:
            from strokecell.simulate.power import power_plot

            if plot.suffix.lower() != ".png":
                raise InputError(Problem("--plot", "must name a .png file", str(plot),
                                         "FILE.png"))
            power_plot(result, str(plot))
            result.settings["plot"] = str(plot)
    except StrokecellError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        emit_json(result.to_dict())
    else:
        _print(result)


def _run(path: Path, n_text: str, effect: list[str], sims: int, seed: int | None,
         alpha: float | None, target_power: float, workers: int | None,
         scheduler: str | None, use_dask: bool, null: bool) -> PowerResult:
    import numpy as np

    from strokecell.protocol import load_protocol
    from strokecell.simulate import Scenario
    from strokecell.simulate.power import parse_sample_sizes, run_power

    n_totals = parse_sample_sizes(n_text)
    if sims < 1:
        raise InputError(Problem("--sims", "must be at least 1", sims, "1, 2, ..."))
    if not path.is_file():
        raise InputError(Problem("--protocol", "file not found", str(path), "a protocol YAML"))
    prot = load_protocol(path)
    scenario = Scenario.parse(effect)
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    if workers is None:
        workers = os.cpu_count() or 1
    with _ProgressBar() as bar:
        result = run_power(prot, n_totals, sims, seed=seed, scenario=scenario, alpha=alpha,
                           target_power=target_power, workers=workers, scheduler=scheduler,
                           use_dask=use_dask, null=null, progress=bar.update)
    result.settings["protocol"] = str(path)
    return result


class _ProgressBar:
    """A rich progress bar on stderr, started at the first update (after the workers fork)."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _ProgressBar:
        return self

    def update(self, done: int, total: int, description: str) -> None:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("trials"), TimeElapsedColumn(), TextColumn("left"),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task(description, total=total)
        self._progress.update(self._task, completed=done, description=description)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def _ci(ci: list[float] | None) -> str:
    return "-" if not ci else f"{ci[0]:.3f}-{ci[1]:.3f}"


def _print(result: PowerResult) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:   # a file or a pipe: wide enough for the table
        console = Console(width=120)
    s = result.settings
    out = result.to_dict()
    eff = ", ".join(f"{k.upper()} {v:+g}" for k, v in s["effect"].items()) or "none"
    a = s["analysis"]
    console.print(f"[bold]{s['study_id']}[/bold]: {a['contrast']} on {a['instrument']} "
                  f"({a['outcome']}), MMRM us REML, Satterthwaite df, alpha {s['alpha']:g}")
    console.print(f"effect: {eff}; true effect {_fmt(s['true_effect'], 'g')}; "
                  f"{s['sims']} trials per n; seed {s['seed']}")
    has = result.has_effect
    table = Table(title="Power" if has else "Type I error (no effect)")
    for col in ("n", "per arm", "power" if has else "rejected", "95% CI", "type I",
                "95% CI", "mean est.", "bias", "coverage", "failed"):
        table.add_column(col, justify="right")
    for r in out["results"]:
        t1 = r.get("type1_error")
        table.add_row(
            str(r["n_total"]), "/".join(str(v) for v in r["n_per_arm"].values()),
            _fmt(r["rejection_rate"]), _ci(r["rejection_rate_ci"]), _fmt(t1),
            _ci(r.get("type1_error_ci")) if t1 is not None else "-",
            _fmt(r["mean_estimate"], ".2f"), _fmt(r["bias"], ".2f"), _fmt(r["coverage"]),
            str(r["n_failed_fits"] + r.get("n_failed_fits_null", 0)))
    console.print(table)
    if has:
        best = out["smallest_n_for_target"]
        console.print(f"smallest n reaching power {s['target_power']:g}: "
                      + (str(best) if best is not None else "none in the range"))
    ex = s["execution"]
    console.print(f"{ex['runner']}: {ex['seconds']:.1f} s")
    if "plot" in s:
        console.print(f"power curve: {s['plot']}")
