"""CLI: ``strokecell demo``: the reference case end to end, as far as the platform is built.

Today: the reference protocol is validated and its dose plan printed; the source's literal
"2.0×10⁷ L⁻¹" is run through the same dose engine to show the unit-slip warning; a modified
Barthel index and an NIHSS are scored from item values. Everything printed is also written to
``DIR/demo.json``. The in-silico trial, its analysis and report join as they are built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from strokecell._commands._output import emit_json

REFERENCE_PROTOCOL = "reference-ich-ia-ucmsc.yaml"
# What the source wrote, read as written: per litre, not per mL (DESIGN.md, the reference case).
LITERAL_CONCENTRATION = "2.0×10⁷ L⁻¹"
DEMO_WEIGHT_KG = 70.0

# A patient three months after an intracerebral haemorrhage: walks with help, needs help with
# bathing and stairs (item grids of Shah 1989, domain/README.md §1.1).
EXAMPLE_MBI = {
    "personal_hygiene": 4, "bathing": 1, "feeding": 8, "toilet": 5, "stairs": 2,
    "dressing": 5, "bowels": 10, "bladder": 8, "ambulation": 8, "transfers": 12,
}
# Moderate left-hemisphere stroke; the right arm is untestable (UN) after a fracture.
EXAMPLE_NIHSS = {
    "1a_loc": 0, "1b_loc_questions": 1, "1c_loc_commands": 0, "2_gaze": 1,
    "3_visual": 0, "4_facial_palsy": 2, "5a_motor_arm_left": 0, "5b_motor_arm_right": "UN",
    "6a_motor_leg_left": 0, "6b_motor_leg_right": 2, "7_limb_ataxia": 0, "8_sensory": 1,
    "9_language": 1, "10_dysarthria": 1, "11_extinction": 0,
}


def find_reference_protocol() -> Path:
    """The shipped reference protocol: ``./protocols`` first, then the source checkout's."""
    import strokecell

    candidates = [Path.cwd() / "protocols" / REFERENCE_PROTOCOL,
                  Path(strokecell.__file__).resolve().parents[2] / "protocols" / REFERENCE_PROTOCOL]
    for path in candidates:
        if path.is_file():
            return path
    from strokecell.errors import NotFoundError

    raise NotFoundError(f"reference protocol {REFERENCE_PROTOCOL} not found; looked in "
                        + ", ".join(str(p.parent) for p in candidates)
                        + "; pass --protocol FILE")


def register(app: typer.Typer) -> None:
    """Add ``strokecell demo`` to ``app``."""

    @app.command("demo")
    def demo(
        out: Annotated[Path, typer.Option("--out", help="Folder for the demo's output.")] = Path(
            "demo-output"),
        seed: Annotated[int, typer.Option("--seed", help="Seed of every random draw.")] = 20260,
        protocol_file: Annotated[Path | None, typer.Option(
            "--protocol", help="Protocol file (default: the shipped reference protocol).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Run the reference case end to end and write DIR/demo.json."""
        import json

        from strokecell._commands.protocol import make_console, print_summary, print_warnings

        result = run_demo(protocol_file or find_reference_protocol(), seed=seed)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "demo.json"
        path.write_text(json.dumps(_to_json(result), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        if as_json:
            emit_json(_to_json(result))
            return
        console = make_console()
        console.rule("[bold]1. The reference protocol and its dose plan")
        print_summary(result["protocol"], result["plans"], source=str(result["source"]))
        console.rule(f"[bold]2. The source's concentration read literally: {LITERAL_CONCENTRATION}")
        print_warnings(console, [result["literal"]])
        console.rule("[bold]3. Scored examples (item values in, totals computed)")
        for score in result["scores"]:
            console.print(f"{score.instrument}: total {score.total} of {score.max_total}"
                          f" — {score.band}"
                          + (f" (untestable: {', '.join(score.untestable)})"
                             if score.untestable else ""))
        console.print(f"\nwritten: {path}")
        console.print("[dim]the in-silico trial, its analysis and report are added as they are"
                      " built (see README).[/]")


def run_demo(protocol_file: Path, *, seed: int) -> dict[str, Any]:
    """Everything the demo shows, computed; printing is the caller's."""
    from strokecell.instruments import load_instrument
    from strokecell.protocol import dose_for_regimen, dose_plan, load_protocol, parse_quantity

    protocol = load_protocol(protocol_file)
    plans = dose_plan(protocol)
    arm = protocol.cell_therapy_arms[0]
    if arm.route is None or arm.dose is None:  # the model requires both for a cell-therapy arm
        raise RuntimeError(f"arm {arm.code} has no route or dose")
    literal = arm.dose.model_copy(update={"concentration": parse_quantity(
        LITERAL_CONCENTRATION, "concentration", "dose.concentration")})
    literal_plan = dose_for_regimen(arm.route, literal, DEMO_WEIGHT_KG,
                                    arm_code=f"{arm.code} (literal {LITERAL_CONCENTRATION})")
    scores = [load_instrument("mbi").score(EXAMPLE_MBI),
              load_instrument("nihss").score(EXAMPLE_NIHSS)]
    return {"source": protocol_file, "seed": seed, "protocol": protocol, "plans": plans,
            "literal": literal_plan, "scores": scores}


def _to_json(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "protocol": str(result["source"]),
        "seed": result["seed"],
        "study": result["protocol"].study.id,
        "dose_plan": [p.to_dict() for p in result["plans"]],
        "literal_reading": result["literal"].to_dict(),
        "scores": [s.to_dict() for s in result["scores"]],
    }
