"""simulate layer of strokecell: virtual patients and in-silico trials (see DESIGN.md).

One model (:mod:`~strokecell.simulate.cohort`), two outputs:

- :func:`simulate_trials`: many trials at once as arrays of the primary endpoint (power);
- :func:`simulate_patients`: per-patient records with item-level values, dates, weights,
  stroke characteristics, eligibility answers, deaths, dropout and adverse events, under
  every arm (the trial driver enters them through ``trial/`` services).

Every assumption is a named parameter in :mod:`~strokecell.simulate.assumptions` with its
unit and source (``docs/simulation.md``); treatment effects are :class:`Scenario` settings.
"""

from strokecell.simulate.adverse_events import AdverseEvent
from strokecell.simulate.assumptions import Assumptions, assumption_table
from strokecell.simulate.cohort import Cohort, SeedRecord, simulate_cohort
from strokecell.simulate.design import SIMULATED_INSTRUMENTS, ArmDesign, Design, VisitDesign
from strokecell.simulate.events import STATUS_NAMES
from strokecell.simulate.grids import ItemBlock, item_map, map_items
from strokecell.simulate.records import (
    Administration,
    Course,
    PatientCohort,
    ScreenFailure,
    VirtualPatient,
    VisitRecord,
    simulate_patients,
)
from strokecell.simulate.scenario import EFFECT_INSTRUMENTS, Scenario, aspect_multiplier
from strokecell.simulate.trials import TrialArrays, simulate_trials

__all__ = [
    "EFFECT_INSTRUMENTS",
    "SIMULATED_INSTRUMENTS",
    "STATUS_NAMES",
    "Administration",
    "AdverseEvent",
    "ArmDesign",
    "Assumptions",
    "Cohort",
    "Course",
    "Design",
    "ItemBlock",
    "PatientCohort",
    "Scenario",
    "ScreenFailure",
    "SeedRecord",
    "TrialArrays",
    "VirtualPatient",
    "VisitDesign",
    "VisitRecord",
    "aspect_multiplier",
    "assumption_table",
    "item_map",
    "map_items",
    "simulate_cohort",
    "simulate_patients",
    "simulate_trials",
]
