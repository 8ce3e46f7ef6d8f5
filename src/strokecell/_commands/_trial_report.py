"""Glue from the trial record to the trial report, for ``strokecell report`` and ``strokecell
demo``: sign in, derive the analysis data sets (read only, through the trial services), run
the planned analyses, build the HTML (and PDF) report.

:func:`build_trial_report` decides the view from what the export service allows the caller:
a study-wide statistician or data manager on a locked study gets the report by arm; anyone
else who may export gets the blinded, pooled report; ``dsmb=True`` (the closed DSMB report,
by arm) is refused with :class:`~strokecell.errors.PermissionDeniedError` unless the arms
may be read. :func:`summary_from_protocol` turns a protocol into the report's
:class:`~strokecell.report.ProtocolSummary` (``report/`` may not import ``protocol/``).

**A report by arm is written to the audit trail**, like an unblinded export: who, when,
which report (``trial`` or ``dsmb``), which files, how many subjects and the hash of the rows
read (``trial.record_unblinded_report``, table ``reports``). The write happens here because
this is the one place that both reads the record unblinded and writes the report: ``report/``
may import only ``analysis`` and ``evidence`` and never sees the record, and
:func:`~strokecell.analysis.from_record.analysis_datasets` is a read-only derivation (also
behind the web's outcome plots) that must not write. It is recorded after the unblinded
read and before any file is written, in a transaction that checks the export rules again:
no report by arm exists without its audit row, and a refused audit writes no report. The
footer's audit chain head is read after it, so it names that row.

This module imports the heavy packages (pandas, SQLAlchemy, matplotlib through the report)
at module level: import it inside a command function, never at CLI start-up.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from strokecell.analysis import (
    PARAMS,
    StoppingRule,
    arm_codes,
    dsmb_closed_report,
    paramcd_for,
    run_planned_analyses,
)
from strokecell.analysis.from_record import AnalysisDatasets, analysis_datasets
from strokecell.errors import InputError, PermissionDeniedError, Problem, StrokecellError
from strokecell.protocol import Arm, Protocol
from strokecell.report import (
    ArmSummary,
    CellTherapy,
    EndpointSummary,
    ProtocolSummary,
    VisitSummary,
    build_dsmb_report,
    build_report,
    reproducibility_info,
)
from strokecell.store import make_engine, read_session
from strokecell.store import models as m
from strokecell.trial import ServiceContext, record_unblinded_report, sign_in

__all__ = ["EXPORT_ROLES", "build_trial_report", "summary_from_protocol"]

#: Roles tried, in order, when no role is given: the roles that may export (trial/_authz.py).
EXPORT_ROLES = ("statistician", "data_manager")


# --- the protocol as the report shows it ---------------------------------------------------


def _words(code: object) -> str:
    return str(code).replace("_", " ") if code is not None else ""


def _superscript(exponent: int) -> str:
    return str(exponent).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _therapy(arm: Arm) -> CellTherapy | None:
    product, timing, route, dose = arm.product, arm.timing, arm.route, arm.dose
    if product is None:
        return None
    kind = f"{_words(product.cell_type)} from {_words(product.source_tissue)}, " \
           f"{_words(product.origin)}"
    if product.viability_min_percent:
        kind += f" (viability ≥ {product.viability_min_percent:g}%)"
    when = f"{timing.min_days:g} to {timing.max_days:g} days after onset" if timing else ""
    where = _words(route.kind) if route else ""
    if route is not None and route.target_vessel:
        where += f", {_words(route.target_vessel)}"
    if route is not None and route.target:
        where += f", {_words(route.target)}"
    parts: list[str] = []
    if dose is not None:
        for name in ("per_kg", "total_cells", "concentration", "volume", "rate"):
            value = getattr(dose, name, None)
            if value:
                parts.append(f"{name.replace('_', ' ')} {getattr(value, 'text', value)}")
        conc, vol = dose.concentration, dose.volume
        if conc is not None and vol is not None:
            mantissa, exponent = f"{conc.value * vol.value:.1e}".split("e")
            parts.append(f"{mantissa}×10{_superscript(int(exponent))} cells per "
                         "administration")
        n = dose.administrations
        parts.append(f"{n} administration{'s' if n != 1 else ''}"
                     + (f", every {dose.interval_days:g} days" if dose.interval_days else ""))
    return CellTherapy(kind, when, where, "; ".join(parts))


def summary_from_protocol(protocol: Protocol) -> ProtocolSummary:
    """The protocol as the report's plain-data :class:`~strokecell.report.ProtocolSummary`:
    arms with the four aspects of each cell therapy, visits, endpoints."""
    arms = tuple(ArmSummary(a.code, a.name, str(a.type), a.planned_n, a.description or "",
                            _therapy(a)) for a in protocol.arms)
    visits = []
    for v in protocol.schedule.visits:
        when = f"day {v.day}" if v.day is not None else f"month {v.month:g}"
        if v.window_minus_days or v.window_plus_days:
            when += f" (window -{v.window_minus_days or 0}/+{v.window_plus_days or 0} days)"
        visits.append(VisitSummary(v.code, v.label or v.code, when, bool(v.baseline)))
    endpoints = []
    for e in protocol.endpoints:
        code = "AE" if e.instrument == "adverse_events" else paramcd_for(e.instrument)
        name = PARAMS[code].label if code in PARAMS else "Adverse events"
        endpoints.append(EndpointSummary(e.label or name, e.role, code, tuple(e.visits),
                                         e.order))
    s = protocol.study
    return ProtocolSummary(s.id, s.title, s.version, _words(s.condition), arms, tuple(visits),
                           tuple(endpoints), s.planned_n, s.sponsor or "", s.source or "")


# --- the record ----------------------------------------------------------------------------


def _engine(db_url: str) -> Engine:
    """An engine on an existing database: a missing SQLite file is an error, not created."""
    try:
        url = make_url(db_url)
    except Exception:  # SQLAlchemy raises several types for a bad URL
        raise InputError(Problem("--db", "is not a database URL", db_url,
                                 "sqlite:///FILE or postgresql+psycopg://USER@HOST/DB")) \
            from None
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(str(url.database)).is_file():
        raise InputError(Problem("--db", "no such SQLite file", url.database,
                                 "the file of a study set up with strokecell init"))
    return make_engine(url)


def _study_code(engine: Engine, study: str | None) -> str:
    try:
        with read_session(engine) as s:
            codes = list(s.scalars(select(m.Study.code).order_by(m.Study.code)).all())
    except SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise InputError(Problem("--db", "cannot read the studies of this database "
                                 f"({type(exc).__name__}: {cause})", None,
                                 "a reachable database set up with strokecell init")) from None
    if study is not None:
        if study not in codes:
            raise InputError(Problem("--study", "no such study in the database", study,
                                     ", ".join(codes) or "none: set one up with strokecell "
                                     "init"))
        return study
    if len(codes) != 1:
        raise InputError(Problem("--study", f"the database holds {len(codes)} studies: name "
                                 "one" if codes else "the database holds no study", None,
                                 ", ".join(codes) or "set one up with strokecell init"))
    return codes[0]


def _audit_head(engine: Engine) -> str:
    """The audit chain head (last sequence number and hash): anchors the report to the
    state of the trail (docs/data-model.md, "The audit trail")."""
    with read_session(engine) as s:
        row = s.execute(text("SELECT last_seq, last_hash FROM audit_chain_head")).first()
    return f"seq {row[0]}, {row[1]}" if row else "none"


def _sign_in(engine: Engine, username: str, password: str, study: str,
             role: str | None) -> ServiceContext:
    if role is not None:
        return sign_in(engine, username, password, study_code=study, role=role)
    for candidate in EXPORT_ROLES:
        try:
            return sign_in(engine, username, password, study_code=study, role=candidate)
        except PermissionDeniedError:
            continue
    raise PermissionDeniedError(
        f"sign in: unknown user or wrong password, or {username} holds none of the roles "
        f"that may read the trial data for a report ({', '.join(EXPORT_ROLES)}) in study "
        f"{study}; name the role with --role")


def _stopping_rule(protocol: Protocol) -> tuple[StoppingRule | None, list[str]]:
    """The protocol rule the report can show: related serious adverse events >= k."""
    rules = protocol.safety.stopping_rules if protocol.safety else []
    for rule in rules:
        if rule.count == "serious_adverse_event" and rule.related and \
                rule.min_grade is None and rule.within_days_of_administration is None:
            others = [r.code for r in rules if r is not rule]
            return StoppingRule(k=rule.threshold, description=rule.label or rule.text), [
                f"stopping rule {r} is evaluated by the trial service (safety signals) and "
                "not shown here" for r in others]
    return None, [f"stopping rule {r.code} ({r.text}) is evaluated by the trial service "
                  "(safety signals) and not shown here" for r in rules]


def _redacted(db_url: str) -> str:
    return make_url(db_url).render_as_string(hide_password=True)


def build_trial_report(db_url: str, out_html: str | Path, *, pdf: str | Path | None = None,
                       username: str, password: str, role: str | None = None,
                       study: str | None = None, seed: int, dsmb: bool = False
                       ) -> dict[str, Any]:
    """Sign in, derive the analysis data sets, run the planned analyses and write the report.

    ``role`` None: the first of :data:`EXPORT_ROLES` the user holds. The report is by arm
    when the export service allows the caller an unblinded export (study-wide role, locked
    study), else blinded and pooled. ``dsmb``: the closed-session DSMB report (refused for a
    blinded caller). Returns a summary: paths, study, view, subjects, seconds, hashes.
    Raises :class:`~strokecell.errors.StrokecellError` subclasses for anything the user can
    fix (bad URL, wrong password, role, no randomised subject, PDF unavailable).
    """
    started = time.perf_counter()
    engine = _engine(db_url)
    try:
        code = _study_code(engine, study)
        ctx = _sign_in(engine, username, password, code, role)
        try:
            ds = analysis_datasets(engine, ctx, unblinded=True if dsmb else None)
        except PermissionDeniedError as exc:
            if not dsmb:
                raise
            raise PermissionDeniedError(
                f"--dsmb: the closed DSMB report shows results by arm, which a blinded "
                f"{ctx.role.value} may not see ({exc})") from None
        _require_subjects(ds, username)
        extra = {"database": _redacted(db_url), "read_by": f"{username} ({ds.snapshot.role})"}
        if not ds.blinded:
            outputs = [str(Path(out_html))] + ([str(Path(pdf))] if pdf is not None else [])
            seq = record_unblinded_report(engine, ctx, kind="dsmb" if dsmb else "trial",
                                          outputs=outputs, subjects=ds.n_randomised,
                                          record_sha256=ds.snapshot.record_sha256)
            extra["unblinded_report_audited"] = f"audit_log seq {seq} (table reports)"
        extra["audit_chain_head"] = _audit_head(engine)
    finally:
        engine.dispose()
    return _render(ds, out_html, pdf, seed=seed, dsmb=dsmb, started=started, extra=extra)


def _require_subjects(ds: AnalysisDatasets, username: str) -> None:
    counts = ds.snapshot.counts
    if ds.n_randomised == 0:
        raise InputError(Problem(
            "--db", f"study {ds.snapshot.study_id} has no randomised subject among those "
            f"{username} can see ({counts.get('screened', 0)} screened, "
            f"{counts.get('enrolled', 0)} enrolled): there is nothing to analyse yet", 0,
            "a study with at least one randomised subject"))


def _status_text(status: str, locked: bool) -> str:
    """The study status for the report's footer. A study lock sets the status to ``locked``
    (trial/locks.py); a record locked before that rule kept ``active`` beside an active
    study lock, which is said as such rather than shown as a running study."""
    return status if status == "locked" or not locked else f"{status}, with an active study lock"


def _render(ds: AnalysisDatasets, out_html: str | Path, pdf: str | Path | None, *,
            seed: int, dsmb: bool, started: float, extra: dict[str, str]) -> dict[str, Any]:
    protocol = ds.protocol
    rule, notes = _stopping_rule(protocol)
    adsl, bds, adae = ds.for_analysis()
    planned = run_planned_analyses(protocol, adsl, bds, adae, seed=seed,
                                   unblinded=not ds.blinded, stopping_rule=rule)
    planned.messages[:0] = [f"record: {msg}" for msg in (*ds.messages, *notes)]
    snap = ds.snapshot
    repro = reproducibility_info(
        ds.adsl, ds.bds, ds.adae, seeds=planned.seeds, **extra,
        record_snapshot=f"{snap.record_sha256} (rows read at {snap.read_at})",
        protocol_version=f"{snap.protocol_version} (sha256 {snap.protocol_sha256[:12]})",
        study_status=_status_text(snap.study_status, snap.locked),
        view="blinded (pooled)" if ds.blinded else "unblinded (by arm)")
    summary = summary_from_protocol(protocol)
    if dsmb:
        closed = dsmb_closed_report(adsl, adae, arm_codes(protocol), unblinded=True,
                                    stopping_rule=rule)
        report = build_dsmb_report(planned, summary, reproducibility=repro, dsmb=closed)
    else:
        report = build_report(planned, summary, reproducibility=repro, blinded=ds.blinded)
    html_path = Path(out_html)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    report.write_html(html_path)
    pdf_path: Path | None = None
    if pdf is not None:
        try:
            pdf_path = report.write_pdf(pdf)
        except StrokecellError as exc:
            raise type(exc)(f"{exc} (the HTML report was written to {html_path})") from None
    return {"html": str(html_path), "pdf": str(pdf_path) if pdf_path else None,
            "study": snap.study_id, "kind": report.kind, "blinded": report.blinded,
            "role": snap.role, "subjects": ds.n_randomised,
            "screened": int(snap.counts.get("screened", 0)), "seed": seed,
            "data_snapshot": str(repro["data_snapshot"]),
            "record_sha256": snap.record_sha256, "messages": len(report.messages),
            "seconds": round(time.perf_counter() - started, 3)}
