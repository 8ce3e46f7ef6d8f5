"""CLI: ``strokecell protocol check FILE``: validate a protocol and print its dose plan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from strokecell._commands._output import emit_json, fail

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from strokecell.protocol import DosePlan, Protocol

_WEIGHTS_HELP = "Reference body weights (kg) for the dose plan, comma-separated."


def register(app: typer.Typer) -> None:
    """Add this family's commands to ``app``."""
    protocol_app = typer.Typer(
        help="Treatment protocols: validate a protocol file and show its dose plan.",
        no_args_is_help=True)

    @protocol_app.command("check")
    def check(
        file: Annotated[Path, typer.Argument(help="Protocol YAML file.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
        weights: Annotated[str, typer.Option("--weights", help=_WEIGHTS_HELP)] = "50,70,90",
    ) -> None:
        """Validate FILE and print a summary with the dose plan.

        Every problem is reported with its YAML path and line. The dose plan is computed at
        the reference weights; implausible doses are warnings. Exit 0 if valid, 2 if not.
        """
        from strokecell.errors import InputError, Problem, StrokecellError
        from strokecell.protocol import dose_plan, load_protocol

        try:
            weight_list = _parse_weights(weights)
            protocol = load_protocol(file)
            plans = dose_plan(protocol, weight_list)
        except ValueError as exc:
            if isinstance(exc, StrokecellError):
                fail(exc, as_json=as_json)
            fail(InputError(Problem("--weights", str(exc), weights, "e.g. 50,70,90")),
                 as_json=as_json)
        except StrokecellError as exc:
            fail(exc, as_json=as_json)
        if as_json:
            emit_json(_as_json(protocol, plans))
        else:
            print_summary(protocol, plans, source=str(file))

    app.add_typer(protocol_app, name="protocol")


def _parse_weights(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError("weights must be numbers in kg separated by commas") from None


def _as_json(protocol: Protocol, plans: list[DosePlan]) -> dict[str, Any]:
    arms = []
    for arm in protocol.arms:
        entry: dict[str, Any] = {"code": arm.code, "type": arm.type, "ratio": arm.ratio}
        if arm.timing is not None:
            entry["phase"] = arm.timing.derived_phase
            entry["phases"] = list(arm.timing.phases)
        arms.append(entry)
    warnings = [{"arm": p.arm, "weight_kg": p.weight_kg, **w.to_dict()}
                for p in plans for w in p.warnings]
    return {
        "valid": True,
        "study": protocol.study.model_dump(mode="json"),
        "arms": arms,
        "dose_plan": [p.to_dict() for p in plans],
        "warnings": warnings,
        "protocol": protocol.model_dump(mode="json"),
    }


# Rendering; rich is imported inside, so importing this module stays cheap.


def _num(value: float | None, digits: str = ".3g") -> str:
    return "-" if value is None else format(value, digits)


def _count(value: float | None) -> str:
    from strokecell.protocol.units import format_count

    return "-" if value is None else format_count(value)


def make_console() -> Console:
    """A console for tables: 120 columns when not a terminal (pipes, CI logs, tests)."""
    from rich.console import Console

    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=120)


def _table(title: str, columns: tuple[str, ...], right: tuple[str, ...] = ()) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    return table


def print_summary(protocol: Protocol, plans: list[DosePlan], *, source: str) -> None:
    from strokecell.protocol.phases import PHASE_SOURCE

    console = make_console()
    study = protocol.study
    console.print(f"[bold green]valid[/]: {source}")
    console.print(f"[bold]{study.id}[/] v{study.version}: {study.title}")
    console.print(f"condition {study.condition}; sponsor {study.sponsor}"
                  + (f"; registry {study.registry_id}" if study.registry_id else "")
                  + (f"; planned n {study.planned_n}" if study.planned_n else ""))
    _print_arms(console, protocol)
    console.print(f"  [dim]phases per {PHASE_SOURCE}[/]")
    if protocol.randomization is not None:
        r = protocol.randomization
        ratio = ":".join(str(a.ratio) for a in protocol.arms)
        detail = f"blocks {r.block_sizes}" if r.block_sizes else (
            f"random element {r.random_element}" if r.random_element else "")
        strata = ", ".join(f"{f.factor} ({'/'.join(f.levels)})" for f in r.strata
                           if f.factor in r.stratify_by)
        console.print(f"randomisation: {r.method}, ratio {ratio}"
                      + (f", {detail}" if detail else "")
                      + (f", strata {strata}" if strata else ""))
    console.print(_visits_table(protocol))
    console.print(_endpoints_table(protocol))
    console.print(dose_table(plans))
    _print_limits(console, protocol)
    print_warnings(console, plans)


def _print_arms(console: Console, protocol: Protocol) -> None:
    console.print("[bold]arms[/]")
    for arm in protocol.arms:
        n = f", n {arm.planned_n}" if arm.planned_n else ""
        console.print(f"  [bold]{arm.code}[/] ({arm.type}, ratio {arm.ratio}{n}): {arm.name}")
        if arm.product is not None:
            p = arm.product
            console.print(f"    cells   {p.name + ': ' if p.name else ''}{p.cell_type} from "
                          f"{p.source_tissue}, {p.origin}, viability ≥ "
                          f"{p.viability_min_percent:g}%")
        if arm.timing is not None:
            t = arm.timing
            console.print(f"    timing  days {t.min_days:g}-{t.max_days:g} after onset: "
                          f"{t.derived_phase} ({', '.join(t.phases)})")
        if arm.route is not None:
            r = arm.route
            where = f" via {r.target_vessel}" if r.target_vessel else (
                f" into {r.target}" if r.target else "")
            deposits = (f", {r.deposits} deposits × {r.volume_per_deposit.text}"
                        if r.deposits and r.volume_per_deposit else "")
            console.print(f"    route   {r.kind}{where}{deposits}")
        if arm.dose is not None:
            d = arm.dose
            amount = d.per_kg or d.total_cells
            parts = [amount.text] if amount else []
            parts += [q.text for q in (d.concentration, d.volume, d.rate) if q is not None]
            every = f", every {d.interval_days:g} days" if d.interval_days else ""
            console.print(f"    dose    {', '.join(parts)}; {d.administrations} "
                          f"administration(s){every}")


def _visits_table(protocol: Protocol) -> Table:
    table = _table(f"visits (day 0 = {protocol.schedule.day_zero})",
                   ("code", "label", "target day", "window (days)"), right=("target day",))
    for v in protocol.schedule.visits:
        low, high = v.window
        table.add_row(v.code + (" (baseline)" if v.baseline else ""), v.label,
                      str(v.target_day), f"{low} to {high}")
    return table


def _endpoints_table(protocol: Protocol) -> Table:
    table = _table("endpoints (order = hierarchical testing)",
                   ("order", "role", "instrument", "variable", "visits"))
    for e in sorted(protocol.endpoints, key=lambda e: e.order or 99):
        table.add_row(str(e.order) if e.order else "", e.role, e.instrument, e.variable,
                      ", ".join(e.visits))
    return table


def dose_table(plans: list[DosePlan]) -> Table:
    """The dose plan as a rich table; rows with warnings in red."""
    numeric = ("kg", "cells", "cells/kg", "times", "total cells", "cells/mL", "mL", "mL/min",
               "min")
    table = _table("dose plan (per administration; total over all administrations)",
                   ("arm", *numeric, "warnings"), right=numeric)
    for p in plans:
        flag = f"[bold red]{len(p.warnings)}[/]" if p.warnings else "[green]none[/]"
        table.add_row(
            p.arm or p.route, _num(p.weight_kg, "g"), _count(p.cells_per_administration),
            _count(p.cells_per_kg), str(p.administrations), _count(p.total_cells),
            _count(p.concentration_cells_per_ml), _num(p.volume_ml), _num(p.rate_ml_per_min),
            _num(p.infusion_minutes), flag, style="red" if p.warnings else None)
    return table


def _print_limits(console: Console, protocol: Protocol) -> None:
    from strokecell.protocol import effective_limits

    for arm in protocol.cell_therapy_arms:
        if arm.route is None:
            continue
        limits = effective_limits(arm.route)
        console.print(f"[bold]{arm.code}[/]: {arm.route.kind} limits (per administration)")
        for limit in limits.limits.values():
            shown = (_count(limit.value) if limit.quantity.kind in ("count", "dose_per_kg")
                     else f"{limit.value:g}")
            console.print(f"  {limit.name} {shown} {limit.quantity.unit}  "
                          f"[dim]{limit.source}[/]")
        for note in limits.notes:
            console.print(f"  note: {note}", style="dim")


def print_warnings(console: Console, plans: list[DosePlan]) -> None:
    """Warnings in yellow; one repeated at every reference weight is printed once."""
    seen: dict[tuple[str | None, str], list[str]] = {}
    for p in plans:
        for w in p.warnings:
            seen.setdefault((p.arm, w.message), []).append(_num(p.weight_kg, "g"))
    if not seen:
        console.print("[green]no dose warnings[/]")
        return
    console.print(f"[bold yellow]{len(seen)} dose warning(s)[/]")
    for (arm, message), weights in seen.items():
        who = f"[bold]{arm}[/] " if arm else ""
        at = f"({', '.join(weights)} kg)" if weights != ["-"] else ""
        console.print(f"[yellow]warning[/] {who}{at}: {message}")
