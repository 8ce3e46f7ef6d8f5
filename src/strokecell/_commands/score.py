"""CLI: ``strokecell score`` — score a clinical scale, list the scales, export one as FHIR.

    strokecell score mbi feeding=10 bathing=5 ... [--json]
    strokecell score fma_total a1_flexors=2 ... e1_knee_flexors=2 ...   # UE + LE items
    strokecell score --list [--json]
    strokecell score --fhir nihss

The instruments layer (pydantic, YAML) is imported inside the command, so ``strokecell
--help`` does not pay for it; nothing here loads numpy or pint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from strokecell._commands._output import emit_json, fail
from strokecell.errors import Problem, ScoringError, StrokecellError

if TYPE_CHECKING:
    from strokecell.instruments import ScoreResult


def register(app: typer.Typer) -> None:
    """Add this family's commands to ``app``."""
    app.command("score")(score)


def score(
    instrument: Annotated[
        str | None, typer.Argument(help="Scale code, e.g. mbi, fma_ue, fma_total, nihss.")] = None,
    assignments: Annotated[
        list[str] | None, typer.Argument(help="Item values as ITEM=VALUE.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result (or error) as JSON.")] = False,
    list_: Annotated[
        bool, typer.Option("--list", help="List the scales: code, name, maximum.")] = False,
    fhir: Annotated[
        bool, typer.Option("--fhir", help="Print the scale as a FHIR R4 Questionnaire.")] = False,
) -> None:
    """Score a clinical scale from its item values; totals are computed, never entered."""
    from strokecell import instruments

    try:
        if list_:
            _list(as_json)
            return
        if not instrument:
            raise ScoringError(Problem("INSTRUMENT", "which scale?",
                                       allowed=", ".join(instruments.list_instruments())))
        scale = instruments.load_instrument(instrument)
        if fhir:
            emit_json(instruments.to_fhir_questionnaire(scale))
            return
        result = scale.score(_parse_assignments(assignments or [], instrument))
    except StrokecellError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        emit_json(result.to_dict())
    else:
        _print_result(scale, result)


def _parse_assignments(args: list[str], context: str) -> dict[str, str]:
    items: dict[str, str] = {}
    problems: list[Problem] = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            problems.append(Problem(arg, "expected ITEM=VALUE", arg, "ITEM=VALUE, e.g. feeding=10"))
        elif key in items:
            problems.append(Problem(key, "item given twice", value, "one value per item"))
        else:
            items[key] = value  # kept as text: the engine accepts exact integers only
    if problems:
        raise ScoringError(problems, context=context)
    return items


def _list(as_json: bool) -> None:
    from strokecell import instruments

    rows: list[dict[str, Any]] = []
    for code in instruments.list_instruments():
        scale = instruments.load_instrument(code)
        rows.append({"code": code, "name": scale.name, "max_total": scale.max_total,
                     "items": len(scale.item_codes), "kind": scale.kind,
                     "components": list(scale.definition.components)})
    if as_json:
        emit_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("code", "name", "max", "items")
    for row in rows:
        parts = f" = {' + '.join(row['components'])}" if row["components"] else ""
        table.add_row(row["code"], row["name"] + parts, str(row["max_total"]),
                      str(row["items"]))
    Console().print(table)


def _print_result(scale: Any, result: ScoreResult) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table("item", "label", "value", title=scale.name)
    for code, value in result.items.items():
        mark = " (by rule)" if code in result.derived else ""
        table.add_row(code, scale.item(code).label, f"{value}{mark}")
    console.print(table)
    unit = f" {result.unit}" if result.unit else ""
    console.print(f"total: [bold]{result.total}[/bold]{unit} of {result.max_total}{unit}"
                  + (f"  (mode: {result.mode})" if result.mode else ""))
    for section, subtotal in result.subtotals.items():
        console.print(f"  {section}: {subtotal}")
    if result.band:
        console.print(f"band: [bold]{result.band}[/bold]")
    for warning in result.warnings:
        console.print(f"[yellow]warning[/yellow] {warning.location}: {warning.message}",
                      markup=True, highlight=False)
