"""CLI: ``strokecell demo``: the reference case end to end.

1. the reference protocol is validated and its dose plan printed; the source's literal
   "2.0×10⁷ L⁻¹" is run through the same dose engine to show the unit-slip warning; a
   modified Barthel index and an NIHSS are scored from item values;
2. the in-silico trial: the reference protocol run through the trial services on a fresh
   SQLite file ``DIR/strokecell-demo.db`` (:func:`strokecell.simulate.run_simulated_trial`:
   set-up, screening, enrolment, randomization, lots, administrations, 12 months of visits
   entered item by item, adverse events, deaths, withdrawals, signatures, locks), then the
   audit chain verified;
3. the analysis data sets derived from the record and the trial report
   (``DIR/report.html``, and ``DIR/report.pdf`` when WeasyPrint is installed or with
   ``--pdf``), read by the demo's statistician after the database lock.

Everything printed is also written to ``DIR/demo.json``; the demo users and their generated
passwords to ``DIR/demo-users.txt`` (readable by the owner only), for ``strokecell serve``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from strokecell._commands._output import emit_json, fail
from strokecell.errors import StrokecellError

if TYPE_CHECKING:
    from rich.console import Console

    from strokecell.simulate.driver import SimulatedTrialSummary

REFERENCE_PROTOCOL = "reference-ich-ia-ucmsc.yaml"
# What the source wrote, read as written: per litre, not per mL (DESIGN.md, the reference case).
LITERAL_CONCENTRATION = "2.0×10⁷ L⁻¹"
DEMO_WEIGHT_KG = 70.0
DB_FILE = "strokecell-demo.db"
USERS_FILE = "demo-users.txt"
REPORT_FILE = "report.html"
PDF_FILE = "report.pdf"
DEFAULT_SEED = 20260

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
        seed: Annotated[int, typer.Option("--seed", help="Seed of every random draw.")] = (
            DEFAULT_SEED),
        protocol_file: Annotated[Path | None, typer.Option(
            "--protocol", help="Protocol file (default: the shipped reference protocol).")] = None,
        n_total: Annotated[int | None, typer.Option(
            "--n", min=2, help="Virtual patients randomized (default: the protocol's "
            "planned_n, 45 for the reference protocol).")] = None,
        pdf: Annotated[bool | None, typer.Option(
            "--pdf/--no-pdf", help="Also write DIR/report.pdf (WeasyPrint; default: when "
            "it is installed, about 2 s more).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Run the reference trial end to end: protocol, in-silico trial, analysis, report."""
        from strokecell._commands.protocol import make_console

        console = make_console()
        progress_console = _stderr_console() if as_json else console
        source = protocol_file or find_reference_protocol()
        try:
            opening = run_demo(source, seed=seed)
            if not as_json:
                print_opening(console, opening)
            if pdf is None:
                from strokecell.report import pdf_available

                pdf = pdf_available()
            result = run_demo_trial(source, out, seed=seed, n_total=n_total, pdf=pdf,
                                    console=progress_console)
        except StrokecellError as exc:
            fail(exc, as_json=as_json)
        payload = {**_to_json(opening), **result}
        path = out / "demo.json"
        import json

        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n",
                        encoding="utf-8")
        if as_json:
            emit_json(payload)
            return
        print_trial(console, result, path)


# --- part 1: protocol, dose plan, unit slip, scores ---------------------------------------


def run_demo(protocol_file: Path, *, seed: int) -> dict[str, Any]:
    """The opening of the demo, computed; printing is the caller's."""
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


def print_opening(console: Console, result: dict[str, Any]) -> None:
    from strokecell._commands.protocol import print_summary, print_warnings

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


def _to_json(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "protocol": str(result["source"]),
        "seed": result["seed"],
        "study": result["protocol"].study.id,
        "dose_plan": [p.to_dict() for p in result["plans"]],
        "literal_reading": result["literal"].to_dict(),
        "scores": [s.to_dict() for s in result["scores"]],
    }


# --- part 2: the in-silico trial, analysis and report -------------------------------------


def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _fresh_sqlite(path: Path) -> bool:
    """Remove a previous demo database (and its WAL files); True if there was one."""
    existed = path.exists()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return existed


@contextmanager
def _progress(console: Console) -> Iterator[Callable[[str, int, int], None]]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    labels = {"setup": "set-up: study, sites, users", "trial": "trial: simulated days",
              "lock": "signatures and locks"}
    with Progress(TextColumn("{task.description:<30}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def write_users(path: Path, summary: SimulatedTrialSummary, db_url: str) -> None:
    """The demo users and their generated passwords (owner-readable only)."""
    lines = ["# strokecell demo users: generated passwords, for this demo database only.",
             f"# database: {db_url}", f"# study: {summary.study}",
             "# username\trole\tsite\tpassword"]
    lines += [f"{u.username}\t{u.role}\t{u.site or 'all sites'}\t{u.password}"
              for u in summary.users]
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def run_demo_trial(protocol_file: Path, out: Path, *, seed: int, n_total: int | None = None,
                   pdf: bool = False, console: Console | None = None) -> dict[str, Any]:
    """The trial on ``out/strokecell-demo.db`` (replaced if present), the audit check,
    the users file and the report. Returns what ``demo.json`` records under ``trial``."""
    from strokecell.simulate.driver import run_simulated_trial
    from strokecell.store import make_engine, read_session, upgrade_to_head, verify_chain

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    db_path = (out / DB_FILE).resolve()
    replaced = _fresh_sqlite(db_path)
    db_url = f"sqlite:///{db_path}"
    engine = make_engine(db_url)
    try:
        upgrade_to_head(engine)
        if console is not None:
            console.rule("[bold]4. The in-silico trial through the platform's services")
            with _progress(console) as update:
                summary = run_simulated_trial(engine, protocol_file, seed=seed,
                                              n_total=n_total, progress=update)
        else:
            summary = run_simulated_trial(engine, protocol_file, seed=seed, n_total=n_total)
        with read_session(engine) as s:
            chain = verify_chain(s)
    finally:
        engine.dispose()
    users_path = out / USERS_FILE
    write_users(users_path, summary, db_url)
    trial_seconds = time.perf_counter() - started
    report = build_report(db_url, out, summary, seed=seed, pdf=pdf, console=console)
    return {
        "trial": summary.to_dict(),
        "audit_chain": {"ok": chain.ok, "rows_checked": chain.rows_checked,
                        "head_seq": chain.head_seq, "head_hash": chain.head_hash,
                        "first_broken_seq": chain.first_broken_seq, "reason": chain.reason},
        "report": report,
        "files": {"database": str(db_path), "database_url": db_url,
                  "database_replaced": replaced, "users": str(users_path.resolve()),
                  "report_html": report.get("html"), "report_pdf": report.get("pdf")},
        "serve": f"strokecell serve --db {db_url}",
        "seconds": {"trial": round(trial_seconds, 2),
                    "report": report.get("seconds"),
                    "total": round(time.perf_counter() - started, 2)},
    }


def build_report(db_url: str, out: Path, summary: SimulatedTrialSummary, *, seed: int,
                 pdf: bool, console: Console | None) -> dict[str, Any]:
    """The trial report, read by the demo's statistician after the database lock."""
    from strokecell._commands._trial_report import build_trial_report

    statistician = summary.user("statistician")
    if console is not None:
        console.rule("[bold]5. Analysis data sets from the record, planned analyses, report")
        with console.status("deriving the analysis data sets and writing the report ..."):
            return build_trial_report(db_url, out / REPORT_FILE,
                                      pdf=out / PDF_FILE if pdf else None,
                                      username=statistician.username,
                                      password=statistician.password, role="statistician",
                                      study=summary.study, seed=seed)
    return build_trial_report(db_url, out / REPORT_FILE, pdf=out / PDF_FILE if pdf else None,
                              username=statistician.username,
                              password=statistician.password, role="statistician",
                              study=summary.study, seed=seed)


def print_trial(console: Console, result: dict[str, Any], json_path: Path) -> None:
    trial, chain, files = result["trial"], result["audit_chain"], result["files"]
    arms = ", ".join(f"{k} {v}" for k, v in trial["arm_counts"].items())
    console.print(
        f"{trial['n_screened']} screened ({trial['n_screen_failures']} screen failures), "
        f"{trial['n_randomized']} randomized ({arms}), {trial['first_date']} to "
        f"{trial['last_date']} on the simulated calendar")
    console.print(
        f"{trial['visits_done']} visits done ({trial['visits_missed']} missed), "
        f"{trial['forms_saved']} forms saved item by item, {trial['administrations']} "
        f"administrations from {len(trial['lots'])} released lots, "
        f"{trial['adverse_events']} adverse events ({trial['serious_adverse_events']} "
        f"serious), {trial['deaths']} deaths, {trial['withdrawals']} withdrawals")
    console.print(f"{trial['queries']} monitor queries (opened, answered, closed), "
                  f"{trial['signatures']} casebooks signed, {trial['locks']} locks "
                  f"(the last: the study); {trial['service_calls']} service calls")
    status = "[green]verified[/]" if chain["ok"] else f"[red]BROKEN[/] ({chain['reason']})"
    console.print(f"audit chain: {status}, {chain['rows_checked']} rows, head "
                  f"{chain['head_hash'][:16]}…")
    report = result["report"]
    console.print(f"report: {report.get('kind', '')}, "
                  f"{'blinded' if report.get('blinded') else 'by arm'}, "
                  f"{report.get('subjects')} subjects, read by {report.get('role')}")
    console.rule("[bold]Files")
    console.print(f"database:  {files['database']}")
    console.print(f"report:    {files['report_html']}")
    if files.get("report_pdf"):
        console.print(f"PDF:       {files['report_pdf']}")
    console.print(f"users:     {files['users']} (generated passwords, owner-readable only)")
    console.print(f"summary:   {json_path}")
    console.rule("[bold]Open the trial in the web application")
    console.print(f"  {result['serve']}")
    console.print("then sign in at http://127.0.0.1:8000 with study "
                  f"{trial['study']} as one of these users (passwords in {files['users']}):")
    for u in trial["users"]:
        console.print(f"  {u['username']:<14} {u['role']:<17} {u['site'] or 'all sites'}")
    seconds = result["seconds"]
    console.print(f"\ndone in {seconds['total']:.1f} s (trial {seconds['trial']:.1f} s, "
                  f"report {seconds['report'] or 0:.1f} s); seed {trial['seed']}")
