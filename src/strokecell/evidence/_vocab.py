"""Controlled vocabularies of the evidence data set, the outcome table and the phase rule.

Every coded column of ``trials.csv`` takes its values from one enum here; ``trials.schema.yaml``
lists the same values for readers of the file (a test keeps the two in step).

Phase of stroke at treatment (the rule the ``phase`` column must follow), from the Stroke
Recovery and Rehabilitation Roundtable time bands (Bernhardt et al., Int J Stroke 2017;12:444,
[K]) collapsed to three: hyperacute and acute (onset to day 7) are ``acute``; early and late
subacute (more than 7 days to 6 months, taken as 180 days) are ``subacute``; beyond 180 days
is ``chronic``. The day used is the reported mean, else the median, else the midpoint of the
reported minimum and maximum; with none of these the phase cannot be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ACUTE_MAX_DAYS",
    "DAYS_PER_UNIT",
    "OUTCOMES",
    "SUBACUTE_MAX_DAYS",
    "Blinding",
    "CellSource",
    "CellType",
    "Control",
    "Donor",
    "DoseStatistic",
    "Measure",
    "Outcome",
    "OutcomeInfo",
    "OutcomeKind",
    "Phase",
    "Randomized",
    "Route",
    "StrokeType",
    "TimeFrom",
    "TimeUnit",
    "Verification",
    "phase_for_day",
]


class StrokeType(StrEnum):
    ISCHAEMIC = "ischaemic"
    ICH = "ich"  # intracerebral haemorrhage
    MIXED = "mixed"  # ischaemic and haemorrhagic patients in one trial


class CellType(StrEnum):
    MSC = "msc"  # mesenchymal stem/stromal cells
    MODIFIED_MSC = "modified_msc"  # genetically modified MSC (e.g. SB623)
    BM_MNC = "bm_mnc"  # bone-marrow mononuclear cells
    MAPC = "mapc"  # multipotent adult progenitor cells (MultiStem)
    NSC = "nsc"  # neural stem cells (incl. lines such as CTX0E03)
    CD34 = "cd34"  # CD34+ selected cells
    ALDH_BR = "aldh_br"  # aldehyde-dehydrogenase-bright cells (ALD-401)
    UC_MNC = "uc_mnc"  # umbilical-cord (blood) mononuclear cells
    OTHER = "other"


class CellSource(StrEnum):
    BONE_MARROW = "bone_marrow"
    UMBILICAL_CORD = "umbilical_cord"  # cord tissue (Wharton's jelly)
    CORD_BLOOD = "cord_blood"
    ADIPOSE = "adipose"
    PERIPHERAL_BLOOD = "peripheral_blood"
    FETAL_BRAIN = "fetal_brain"
    CELL_LINE = "cell_line"


class Donor(StrEnum):
    AUTOLOGOUS = "autologous"
    ALLOGENEIC = "allogeneic"


class DoseStatistic(StrEnum):
    FIXED = "fixed"  # every patient got this dose
    MEAN = "mean"
    MEDIAN = "median"


class Route(StrEnum):
    INTRAVENOUS = "intravenous"
    INTRA_ARTERIAL = "intra_arterial"
    INTRACEREBRAL = "intracerebral"
    INTRATHECAL = "intrathecal"
    INTRAVENTRICULAR = "intraventricular"
    INTRANASAL = "intranasal"


class Phase(StrEnum):
    ACUTE = "acute"
    SUBACUTE = "subacute"
    CHRONIC = "chronic"


class Randomized(StrEnum):
    YES = "yes"
    NO = "no"  # includes quasi-random allocation (alternation, odd/even days)
    UNCLEAR = "unclear"  # the sources seen do not say


class Blinding(StrEnum):
    OPEN = "open"
    ASSESSOR = "assessor"  # outcome assessor blinded (PROBE, "single-blind" with assessor)
    DOUBLE = "double"  # patients and assessors blinded (placebo or sham)


class Control(StrEnum):
    STANDARD_CARE = "standard_care"
    SHAM = "sham"  # sham procedure (sham harvest, sham surgery)
    PLACEBO = "placebo"  # placebo infusion


class Measure(StrEnum):
    FINAL = "final"  # value at the time point, per arm
    CHANGE = "change"  # change from baseline to the time point, per arm
    EVENTS = "events"  # number of patients with the event, per arm


class TimeUnit(StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"


#: Days per time unit (a month is 365.25/12 days).
DAYS_PER_UNIT: dict[TimeUnit, float] = {
    TimeUnit.DAYS: 1.0,
    TimeUnit.WEEKS: 7.0,
    TimeUnit.MONTHS: 365.25 / 12,
    TimeUnit.YEARS: 365.25,
}


class TimeFrom(StrEnum):
    ONSET = "onset"
    TREATMENT = "treatment"
    RANDOMIZATION = "randomization"


class Verification(StrEnum):
    V = "V"  # seen in a public source, URL given
    K = "K"  # from background knowledge or a secondary note, to be checked


class OutcomeKind(StrEnum):
    CONTINUOUS = "continuous"
    EVENTS = "events"


class Outcome(StrEnum):
    # continuous scores
    BI = "bi"
    MBI = "mbi"
    NIHSS = "nihss"
    NIHSS_MOTOR = "nihss_motor"
    MRS = "mrs"
    FMA = "fma"
    FMA_UE = "fma_ue"
    FMA_LE = "fma_le"
    ESS = "ess"
    # dichotomous outcomes (patients with the event)
    DEATH = "death"
    SAE = "sae"
    MRS_0_1 = "mrs_0_1"
    MRS_0_2 = "mrs_0_2"
    MRS_0_3 = "mrs_0_3"
    MRS_GT_3 = "mrs_gt_3"
    EXCELLENT_OUTCOME = "excellent_outcome"
    GLOBAL_RECOVERY = "global_recovery"
    BI_GE_95 = "bi_ge_95"
    NIHSS_LE_1 = "nihss_le_1"
    FM_MOTOR_GAIN_GE10 = "fm_motor_gain_ge10"
    IMPROVED = "improved"


@dataclass(frozen=True)
class OutcomeInfo:
    """What an outcome code means and which direction is good."""

    kind: OutcomeKind
    higher_is_better: bool
    label: str

    @property
    def sign(self) -> int:
        """+1 when a higher value (or more events) is better, -1 when lower is better."""
        return 1 if self.higher_is_better else -1


_C, _E = OutcomeKind.CONTINUOUS, OutcomeKind.EVENTS

OUTCOMES: dict[Outcome, OutcomeInfo] = {
    Outcome.BI: OutcomeInfo(_C, True, "Barthel index (0-100)"),
    Outcome.MBI: OutcomeInfo(_C, True, "modified Barthel index (Shah, 0-100)"),
    Outcome.NIHSS: OutcomeInfo(_C, False, "NIH stroke scale (0-42)"),
    Outcome.NIHSS_MOTOR: OutcomeInfo(_C, False, "motor items of the NIHSS"),
    Outcome.MRS: OutcomeInfo(_C, False, "modified Rankin scale (0-6)"),
    Outcome.FMA: OutcomeInfo(_C, True, "Fugl-Meyer motor, upper + lower extremity (0-100)"),
    Outcome.FMA_UE: OutcomeInfo(_C, True, "Fugl-Meyer upper extremity motor (0-66)"),
    Outcome.FMA_LE: OutcomeInfo(_C, True, "Fugl-Meyer lower extremity motor (0-34)"),
    Outcome.ESS: OutcomeInfo(_C, True, "European stroke scale (0-100)"),
    Outcome.DEATH: OutcomeInfo(_E, False, "death (any cause)"),
    Outcome.SAE: OutcomeInfo(_E, False, "patients with a serious adverse event"),
    Outcome.MRS_0_1: OutcomeInfo(_E, True, "mRS 0-1"),
    Outcome.MRS_0_2: OutcomeInfo(_E, True, "mRS 0-2 (functional independence)"),
    Outcome.MRS_0_3: OutcomeInfo(_E, True, "mRS 0-3"),
    Outcome.MRS_GT_3: OutcomeInfo(_E, False, "mRS 4-6"),
    Outcome.EXCELLENT_OUTCOME: OutcomeInfo(_E, True, "mRS <=1 and NIHSS <=1 and BI >=95"),
    Outcome.GLOBAL_RECOVERY: OutcomeInfo(
        _E, True, "mRS <=2, NIHSS improvement >=75% and BI >=95 (MASTERS)"
    ),
    Outcome.BI_GE_95: OutcomeInfo(_E, True, "Barthel index >=95"),
    Outcome.NIHSS_LE_1: OutcomeInfo(_E, True, "NIHSS <=1"),
    Outcome.FM_MOTOR_GAIN_GE10: OutcomeInfo(_E, True, "Fugl-Meyer motor gain >=10 points"),
    Outcome.IMPROVED: OutcomeInfo(_E, True, "improved, as the trial defined it"),
}

#: Upper bounds of the phase bands, in days from onset (see the module docstring).
ACUTE_MAX_DAYS = 7.0
SUBACUTE_MAX_DAYS = 180.0


def phase_for_day(day: float) -> Phase:
    """The phase band that a day after onset falls in (acute <= 7 < subacute <= 180 < chronic)."""
    if day <= ACUTE_MAX_DAYS:
        return Phase.ACUTE
    if day <= SUBACUTE_MAX_DAYS:
        return Phase.SUBACUTE
    return Phase.CHRONIC
