"""The analysis data set contracts: ADSL, BDS and ADAE (CDISC ADaM names).

The planned analyses read only these three pandas DataFrames, so they run the same on a real
trial's data sets (derived from the record) and on simulated ones. Each contract is a list of
:class:`~strokecell.analysis._contract.Column`; :func:`validate_adsl`, :func:`validate_bds` and
:func:`validate_adae` raise :class:`~strokecell.errors.InputError` naming every column, value
and what is allowed. ``docs/analysis.md`` has the tables.

Conventions: flags are ``"Y"``/``"N"``; dates are ``datetime64``; screen failures are ADSL
rows with ``ARMCD == "SCRNFAIL"`` and ``RANDFL == "N"`` (as in SDTM DM); a subject's strata
are columns ``STRAT_<FACTOR>`` (:func:`strata_columns`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from strokecell.analysis._contract import Column, check_frame
from strokecell.errors import InputError, NotFoundError, Problem
from strokecell.protocol import Protocol

__all__ = [
    "ADAE_COLUMNS",
    "ADSL_COLUMNS",
    "BDS_COLUMNS",
    "DTYPES",
    "PARAMS",
    "SCREEN_FAILURE",
    "Param",
    "arm_codes",
    "control_arm",
    "param",
    "paramcd_for",
    "scheduled_visits",
    "strata_columns",
    "validate_adae",
    "validate_adsl",
    "validate_bds",
]

SCREEN_FAILURE = "SCRNFAIL"
DTYPES = ("WORST",)  # derived rows: the worst score assigned after death (composite)


@dataclass(frozen=True)
class Param:
    """One analysis parameter: its code, label, instrument, direction and worst score."""

    code: str
    label: str
    instrument: str
    higher_is_better: bool
    worst: float | None  # assigned after death in the composite strategy; None: no worst
    log_scale: bool = False
    kind: str = "continuous"  # continuous, ordinal, biomarker, imaging


_BIOMARKERS = {"bdnf": "BDNF", "ngf": "NGF", "nt3": "NT-3", "nt4": "NT-4", "vegf": "VEGF",
               "nogo_a": "Nogo-A", "mag": "MAG", "omgp": "OMgp", "caspase3": "Caspase-3"}

PARAMS: dict[str, Param] = {p.code: p for p in [
    Param("MBI", "Modified Barthel index (0-100)", "mbi", True, 0.0),
    Param("BI", "Barthel index (0-100)", "bi", True, 0.0),
    Param("FMAUE", "Fugl-Meyer upper extremity motor (0-66)", "fma_ue", True, 0.0),
    Param("FMALE", "Fugl-Meyer lower extremity motor (0-34)", "fma_le", True, 0.0),
    Param("FMATOT", "Fugl-Meyer motor total (0-100)", "fma_total", True, 0.0),
    Param("NIHSS", "NIH stroke scale (0-42)", "nihss", False, 42.0),
    Param("MRS", "Modified Rankin scale (0-6)", "mrs", False, 6.0, kind="ordinal"),
    Param("LESVOL", "MRI lesion volume (mL)", "lesion_volume", False, None, log_scale=True,
          kind="imaging"),
    *[Param(code.upper().replace("_", ""), f"{abbr} (serum)", code, True, None,
            log_scale=True, kind="biomarker") for code, abbr in _BIOMARKERS.items()],
]}


def param(code: str) -> Param:
    if code not in PARAMS:
        raise NotFoundError(f"PARAMCD {code!r} is unknown; allowed: {', '.join(PARAMS)}")
    return PARAMS[code]


def paramcd_for(instrument: str) -> str:
    """The PARAMCD of a protocol endpoint's instrument code (``fma_total`` → ``FMATOT``)."""
    for p in PARAMS.values():
        if p.instrument == instrument:
            return p.code
    raise NotFoundError(f"instrument {instrument!r} has no analysis parameter; allowed: "
                        + ", ".join(p.instrument for p in PARAMS.values()))


#: Components recorded by a composite scale's form (the ``fma_total`` form also gives the
#: upper- and lower-extremity subtotals, as the trial's form scoring does).
_COMPONENTS = {"fma_total": ("FMAUE", "FMALE")}


def _recorded_by(instrument: str) -> set[str]:
    """The PARAMCDs a protocol endpoint's instrument has recorded at its visits: its own, a
    composite's components, and for a panel biomarker every analyte of the biomarker page."""
    try:
        code = paramcd_for(instrument)
    except NotFoundError:
        return set()
    if PARAMS[code].kind == "biomarker":
        return {p.code for p in PARAMS.values() if p.kind == "biomarker"}
    return {code, *_COMPONENTS.get(instrument, ())}


def scheduled_visits(protocol: Protocol, paramcd: str) -> list[str]:
    """The post-baseline visits (in schedule order) at which the protocol collects
    ``paramcd``: the visits of every endpoint whose instrument records it, as the trial's
    study design schedules the forms (each endpoint's form at its visits and at baseline).
    Empty when no endpoint records it. Fugl-Meyer of the reference protocol: ``month_12``."""
    wanted: set[str] = set()
    for ep in protocol.endpoints:
        if paramcd in _recorded_by(ep.instrument):
            wanted.update(ep.visits)
    return [v.code for v in protocol.schedule.visits if not v.baseline and v.code in wanted]


def strata_columns(protocol: Protocol) -> list[str]:
    """ADSL columns holding the randomisation strata: ``STRAT_`` + factor in capitals."""
    if protocol.randomization is None:
        return []
    return [f"STRAT_{f.upper()}" for f in protocol.randomization.stratify_by]


def control_arm(protocol: Protocol) -> str:
    """The reference arm of comparisons: the first arm of type control (else the last arm)."""
    for arm in protocol.arms:
        if arm.type == "control":
            return arm.code
    return protocol.arms[-1].code


def arm_codes(protocol: Protocol) -> list[str]:
    """Arms in protocol order."""
    return [a.code for a in protocol.arms]


_FLAGS = [("ITTFL", "intention-to-treat population (randomised)"),
          ("PPROTFL", "per-protocol population"),
          ("SAFFL", "safety population (received any study intervention)"),
          ("RANDFL", "randomised"),
          ("RECFL", "received the allocated intervention"),
          ("COMPLFL", "completed the scheduled follow-up"),
          ("DTHFL", "died during the study")]

ADSL_COLUMNS: tuple[Column, ...] = (
    Column("STUDYID", "text", "study identifier"),
    Column("USUBJID", "text", "unique subject identifier"),
    Column("SITEID", "text", "site identifier"),
    Column("ARMCD", "text", "randomised arm code (SCRNFAIL for screen failures)"),
    Column("ARM", "text", "randomised arm name", nullable=True),
    Column("STRKTYPE", "text", "stroke type",
           allowed=("ischaemic_stroke", "intracerebral_haemorrhage")),
    Column("AGE", "int", "age at randomisation (years)", nullable=True, low=0, high=120),
    Column("SEX", "text", "sex", nullable=True, allowed=("M", "F", "U")),
    Column("BNIHSS", "float", "baseline NIHSS (severity)", nullable=True, low=0, high=42),
    Column("ONSETDY", "float", "days from stroke onset to first administration",
           nullable=True, low=0),
    Column("DOSEKG", "float", "cells per kg body weight (first administration)",
           nullable=True, low=0),
    Column("WEIGHTBL", "float", "baseline weight (kg)", required=False, nullable=True,
           low=0),
    *[Column(n, "flag", lab) for n, lab in _FLAGS],
    Column("RANDDT", "date", "date of randomisation", nullable=True),
    Column("TRTSDT", "date", "date of first administration", nullable=True),
    Column("DTHDT", "date", "date of death", nullable=True),
    Column("DCSDT", "date", "date of discontinuation from the study", nullable=True),
    Column("DCSREAS", "text", "reason for discontinuation", nullable=True,
           allowed=("DEATH", "WITHDRAWAL BY SUBJECT", "LOST TO FOLLOW-UP", "ADVERSE EVENT",
                    "PHYSICIAN DECISION", "OTHER")),
    Column("SCRFREAS", "text", "screen-failure reason", nullable=True),
    Column("REHABCHG", "flag", "change of rehabilitation programme (intercurrent event)",
           required=False, nullable=True),
)

BDS_COLUMNS: tuple[Column, ...] = (
    Column("USUBJID", "text", "unique subject identifier"),
    Column("PARAMCD", "text", "parameter code", allowed=tuple(PARAMS)),
    Column("PARAM", "text", "parameter label"),
    Column("AVISIT", "text", "analysis visit (protocol visit code)"),
    Column("AVISITN", "float", "analysis visit number (0 = baseline, increasing in time)"),
    Column("ADT", "date", "assessment date", nullable=True),
    Column("ADY", "float", "study day of assessment", nullable=True),
    Column("AVAL", "float", "analysis value", nullable=True),
    Column("BASE", "float", "baseline value", nullable=True),
    Column("CHG", "float", "change from baseline (AVAL - BASE)", nullable=True),
    Column("ABLFL", "flag", "baseline record", nullable=True),
    Column("ANL01FL", "flag", "record used for the visit (in window, one per visit)"),
    Column("DTYPE", "text", "derivation type (empty: observed; WORST: worst score after "
           "death)", nullable=True, allowed=DTYPES),
    Column("SRCSEQ", "text", "source record(s) the value came from", nullable=True),
)

ADAE_COLUMNS: tuple[Column, ...] = (
    Column("USUBJID", "text", "unique subject identifier"),
    Column("AETERM", "text", "reported term"),
    Column("AEBODSYS", "text", "body system or organ class (MedDRA SOC)"),
    Column("ASTDT", "date", "onset date", nullable=True),
    Column("AETOXGR", "int", "CTCAE grade", low=1, high=5),
    Column("AESER", "flag", "serious"),
    Column("AREL_CELL", "flag", "related to the cells (related or possibly related)"),
    Column("AREL_PROC", "flag", "related to the procedure (related or possibly related)"),
    Column("AEOUT", "text", "outcome", nullable=True,
           allowed=("RECOVERED", "RECOVERING", "NOT RECOVERED", "RECOVERED WITH SEQUELAE",
                    "FATAL", "UNKNOWN")),
    Column("AESDTH", "flag", "results in death"),
    Column("TRTEMFL", "flag", "treatment emergent"),
    Column("SRCSEQ", "text", "source record", required=False, nullable=True),
)


def validate_adsl(adsl: pd.DataFrame, protocol: Protocol | None = None) -> None:
    """Check ADSL against its contract (and the protocol's arms and strata when given)."""
    check_frame(adsl, ADSL_COLUMNS, "ADSL", key=("USUBJID",))
    if protocol is None:
        return
    problems: list[Problem] = []
    allowed = [*arm_codes(protocol), SCREEN_FAILURE]
    off = ~adsl["ARMCD"].isin(allowed)
    if off.any():
        problems.append(Problem("ADSL.ARMCD", "arm code not in the protocol",
                                adsl.loc[off, "ARMCD"].iloc[0], ", ".join(allowed)))
    rand = adsl["RANDFL"] == "Y"
    if (adsl.loc[rand, "ARMCD"] == SCREEN_FAILURE).any():
        problems.append(Problem("ADSL.ARMCD", "randomised subject without an arm",
                                SCREEN_FAILURE, ", ".join(arm_codes(protocol))))
    if protocol.randomization is not None:
        levels = {f"STRAT_{s.factor.upper()}": s.levels for s in protocol.randomization.strata}
        for col in strata_columns(protocol):
            if col not in adsl.columns:
                problems.append(Problem(f"ADSL.{col}", "stratum column is missing", None,
                                        "one column per stratify_by factor"))
                continue
            vals = adsl.loc[rand, col]
            ok = levels.get(col)
            if ok is not None and not vals.isin(ok).all():
                problems.append(Problem(f"ADSL.{col}", "stratum level not in the protocol",
                                        vals[~vals.isin(ok)].iloc[0], ", ".join(ok)))
    if problems:
        raise InputError(problems, context="ADSL does not match the protocol")


def validate_bds(bds: pd.DataFrame, adsl: pd.DataFrame | None = None,
                 protocol: Protocol | None = None) -> None:
    """Check BDS: its contract, one analysed record per subject, parameter, visit and type,
    CHG = AVAL - BASE, (with ADSL) that every subject is in ADSL and (with the protocol)
    that every AVISIT is a visit of its schedule."""
    check_frame(bds, BDS_COLUMNS, "BDS")
    problems: list[Problem] = []
    anl = bds[bds["ANL01FL"] == "Y"]
    dup = anl.duplicated(["USUBJID", "PARAMCD", "AVISIT", "DTYPE"], keep=False)
    if dup.any():
        first = anl.loc[dup, ["USUBJID", "PARAMCD", "AVISIT"]].iloc[0].tolist()
        problems.append(Problem("BDS.ANL01FL", f"{int(dup.sum())} analysed rows share "
                                "subject/parameter/visit", first, "one ANL01FL=Y row each"))
    both = bds["AVAL"].notna() & bds["BASE"].notna() & bds["CHG"].notna()
    sub = bds[both]
    if sub.empty is False and ((sub["AVAL"] - sub["BASE"] - sub["CHG"]).abs() > 1e-6).any():
        bad = sub[(sub["AVAL"] - sub["BASE"] - sub["CHG"]).abs() > 1e-6].iloc[0]
        problems.append(Problem("BDS.CHG", "is not AVAL - BASE",
                                [bad["USUBJID"], bad["PARAMCD"], bad["AVISIT"]],
                                "CHG = AVAL - BASE"))
    if adsl is not None and "USUBJID" in adsl.columns:
        unknown = ~bds["USUBJID"].isin(adsl["USUBJID"])
        if unknown.any():
            problems.append(Problem("BDS.USUBJID", "subject not in ADSL",
                                    bds.loc[unknown, "USUBJID"].iloc[0], "ADSL subjects"))
    if protocol is not None:
        codes = [v.code for v in protocol.schedule.visits]
        off = ~bds["AVISIT"].isin(codes)
        if off.any():
            problems.append(Problem("BDS.AVISIT", "visit not in the protocol's schedule",
                                    bds.loc[off, "AVISIT"].iloc[0], ", ".join(codes)))
    if problems:
        raise InputError(problems, context="BDS is not consistent")


def validate_adae(adae: pd.DataFrame, adsl: pd.DataFrame | None = None) -> None:
    """Check ADAE against its contract (and that every subject is in ADSL)."""
    check_frame(adae, ADAE_COLUMNS, "ADAE")
    if adsl is not None and "USUBJID" in adsl.columns and len(adae):
        unknown = ~adae["USUBJID"].isin(adsl["USUBJID"])
        if unknown.any():
            raise InputError(Problem("ADAE.USUBJID", "subject not in ADSL",
                                     adae.loc[unknown, "USUBJID"].iloc[0], "ADSL subjects"))
