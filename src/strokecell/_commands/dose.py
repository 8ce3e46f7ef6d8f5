"""CLI: ``strokecell dose``: one patient's dose, from a protocol arm or ad hoc."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from strokecell._commands._output import emit_json, fail
from strokecell.errors import InputError, Problem, StrokecellError

if TYPE_CHECKING:
    from strokecell.protocol import DosePlan

# The ad hoc regimen options, by DoseRegimen field; an error at a field names the option.
_REGIMEN_OPTIONS = {
    "per_kg": "--per-kg", "total_cells": "--total-cells", "concentration": "--concentration",
    "volume": "--volume", "rate": "--rate", "administrations": "--administrations",
    "interval_days": "--interval-days",
}

_HELP = "\n\n".join((
    "Per-patient dose: cells, volume, concentration, infusion time, with warnings.",
    "From a protocol arm: strokecell dose --protocol FILE --arm CODE --weight KG",
    'Ad hoc: strokecell dose --route intra_arterial --concentration "2e7 cells/mL" '
    '--volume "1.5 mL" [--rate "0.5 mL/min"] [--weight KG] [--limit "max_volume=2 mL"]',
    "Give the cell number one way: --per-kg (needs --weight), --total-cells, or "
    "--concentration with --volume. Quantities take units: \"2.0×10^7 cells/mL\", "
    "\"250 µL\", \"0.5 mL/min\".",
    "Exit 0 with the plan (warnings for implausible doses), 2 on bad input.",
))


def register(app: typer.Typer) -> None:
    """Add this family's commands to ``app``."""

    @app.command("dose", help=_HELP)
    def dose(
        protocol: Annotated[Path | None, typer.Option(
            "--protocol", help="Protocol YAML file (with --arm).")] = None,
        arm: Annotated[str | None, typer.Option(
            "--arm", help="Arm code; may be left out if the protocol has one cell arm.")] = None,
        weight: Annotated[float | None, typer.Option(
            "--weight", help="Body weight in kg (30-250).")] = None,
        route: Annotated[str | None, typer.Option(
            "--route", help="Ad hoc: intravenous, intra_arterial, intracerebral, "
            "intraventricular, intrathecal, intranasal.")] = None,
        per_kg: Annotated[str | None, typer.Option(
            "--per-kg", help='Ad hoc: dose per body mass, e.g. "1e6 cells/kg".')] = None,
        total_cells: Annotated[str | None, typer.Option(
            "--total-cells", help='Ad hoc: fixed number, e.g. "2e7 cells".')] = None,
        concentration: Annotated[str | None, typer.Option(
            "--concentration", help='Ad hoc: e.g. "2e7 cells/mL".')] = None,
        volume: Annotated[str | None, typer.Option(
            "--volume", help='Ad hoc: e.g. "1.5 mL".')] = None,
        rate: Annotated[str | None, typer.Option(
            "--rate", help='Ad hoc: infusion rate, e.g. "0.5 mL/min".')] = None,
        administrations: Annotated[int | None, typer.Option(
            "--administrations", help="Ad hoc: number of administrations (default 1).")] = None,
        interval_days: Annotated[float | None, typer.Option(
            "--interval-days", help="Ad hoc: days between administrations.")] = None,
        deposits: Annotated[int | None, typer.Option(
            "--deposits", help="Ad hoc, intracerebral: number of deposits.")] = None,
        volume_per_deposit: Annotated[str | None, typer.Option(
            "--volume-per-deposit", help='Ad hoc, intracerebral: e.g. "20 µL".')] = None,
        limit: Annotated[list[str] | None, typer.Option(
            "--limit", help='Ad hoc: override a route limit, NAME=VALUE, e.g. '
            '--limit "max_volume=2 mL" (repeatable).')] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    ) -> None:
        regimen = {"per_kg": per_kg, "total_cells": total_cells,
                   "concentration": concentration, "volume": volume, "rate": rate,
                   "administrations": administrations, "interval_days": interval_days}
        adhoc_given = [_REGIMEN_OPTIONS[k] for k, v in regimen.items() if v is not None]
        adhoc_given += [name for name, value in (("--deposits", deposits), ("--limit", limit),
                        ("--volume-per-deposit", volume_per_deposit)) if value]
        try:
            if protocol is not None:
                mixed = [*adhoc_given, *(["--route"] if route else [])]
                if mixed:
                    raise InputError(Problem(mixed[0], "ad hoc options do not mix with "
                                             "--protocol: the protocol fixes the regimen",
                                             mixed, "--protocol FILE --arm CODE --weight KG"))
                plan = _from_protocol(protocol, arm, weight)
            elif route is not None:
                if arm is not None:
                    raise InputError(Problem("--arm", "needs --protocol", arm,
                                             "--protocol FILE --arm CODE"))
                plan = _adhoc(route, regimen, weight, deposits, volume_per_deposit,
                              limit or [])
            else:
                raise InputError(Problem("--protocol", "give --protocol FILE (with --arm) or "
                                         "--route ROUTE (ad hoc)", None,
                                         "--protocol or --route"))
        except StrokecellError as exc:
            _fail(exc, as_json)
        if as_json:
            emit_json(plan.to_dict())
        else:
            _print_plan(plan)


def _fail(exc: StrokecellError, as_json: bool) -> NoReturn:
    fail(exc, as_json=as_json)


def _from_protocol(file: Path, arm: str | None, weight: float | None) -> DosePlan:
    from strokecell.protocol import compute_dose, load_protocol

    protocol = load_protocol(file)
    cell_arms = [a.code for a in protocol.cell_therapy_arms]
    if arm is None:
        if len(cell_arms) != 1:
            raise InputError(Problem("--arm", "is required: the protocol has several cell "
                                     "therapy arms", None, ", ".join(cell_arms)))
        arm = cell_arms[0]
    if arm not in {a.code for a in protocol.arms}:
        raise InputError(Problem("--arm", "is not an arm of the protocol", arm,
                                 ", ".join(cell_arms)))
    try:
        return compute_dose(protocol, arm, weight)
    except InputError as exc:
        raise _as_options(exc) from None


def _adhoc(route: str, regimen: Mapping[str, object], weight: float | None,
           deposits: int | None, volume_per_deposit: str | None,
           limit_args: list[str]) -> DosePlan:
    from strokecell.protocol import compute_adhoc_dose

    limits: dict[str, str] = {}
    for item in limit_args:
        name, sep, value = item.partition("=")
        if not sep:
            raise InputError(Problem("--limit", "expects NAME=VALUE", item,
                                     "e.g. 'max_volume=2 mL'"))
        limits[name.strip()] = value.strip()
    try:
        return compute_adhoc_dose(route, weight_kg=weight, limits=limits, deposits=deposits,
                                  volume_per_deposit=volume_per_deposit,
                                  **{k: v for k, v in regimen.items() if v is not None})
    except InputError as exc:
        raise _as_options(exc) from None


def _as_options(exc: InputError) -> InputError:
    """Rename problem locations from model fields to the command-line options."""

    def option(location: str) -> str:
        head, _, rest = location.partition(".")
        if head == "limits":
            return f"--limit {rest}"
        if head in ("weight_kg", "route", "arm"):
            return {"weight_kg": "--weight"}.get(head, f"--{head}")
        return _REGIMEN_OPTIONS.get(head, f"--{head.replace('_', '-')}")

    problems = [Problem(option(p.location), p.message, p.value, p.allowed)
                for p in exc.problems]
    return type(exc)(problems, context=exc.context)


def _print_plan(plan: DosePlan) -> None:
    from strokecell._commands.protocol import dose_table, make_console, print_warnings

    console = make_console()
    console.print(dose_table([plan]))
    if plan.deposits and plan.volume_per_deposit_ml:
        console.print(f"{plan.deposits} deposits × {plan.volume_per_deposit_ml:g} mL")
    for note in plan.notes:
        console.print(f"note: {note}", style="dim")
    print_warnings(console, [plan])
