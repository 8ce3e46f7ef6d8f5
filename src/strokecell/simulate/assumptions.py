"""Every assumption of the virtual-patient model, in one place, with its unit and source.

Each parameter is a field of a pydantic model (``extra="forbid"``, frozen) declared with
:func:`param`: default, unit, evidence tag and source. Tags follow ``domain/README.md``:

- ``V`` seen in a public source (the citation says which);
- ``K`` background knowledge, not re-checked;
- ``A`` a modelling assumption with no source (calibrated or guessed): configurable.

``§`` refers to sections of ``domain/README.md``. :func:`assumption_table` lists every
parameter (dotted name, default, unit, tag, source) for the docs and for the ``settings`` of a
simulation report; override any of them with ``Assumptions.model_validate({...})`` or
:meth:`Assumptions.with_overrides`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from strokecell.errors import InputError, Problem

__all__ = [
    "AdverseEventSpec",
    "AdverseEvents",
    "Assumptions",
    "Barthel",
    "Deaths",
    "Dropout",
    "EffectModifiers",
    "FuglMeyer",
    "Lesion",
    "Nihss",
    "Population",
    "Rankin",
    "Visits",
    "assumption_table",
    "param",
]

Tag = Literal["V", "K", "A"]


def param(default: Any, unit: str, tag: Tag, source: str, **kw: Any) -> Any:
    """A model parameter: default, unit, evidence tag (V/K/A) and source."""
    return Field(default, description=source, json_schema_extra={"unit": unit, "tag": tag},
                 **kw)


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


COPENHAGEN = ("Copenhagen Stroke Study, Jørgensen et al., Arch Phys Med Rehabil 1995;76:406-412 "
              "(§5.2)")


class Population(_Group):
    """Who is enrolled: demographics and stroke characteristics at randomisation."""

    age_mean_years: float = param(62.0, "years", "A", "ICH trial populations; truncated to "
                                  "the protocol's age range")
    age_sd_years: float = param(11.0, "years", "A", "ICH trial populations", gt=0)
    male_fraction: float = param(0.6, "1", "A", "ICH cohorts are male-predominant [K]",
                                 ge=0, le=1)
    weight_mean_kg: float = param(70.0, "kg", "A", "brief: normal mean 70, SD 12 kg, "
                                  "truncated to the dose engine's plausible range")
    weight_sd_kg: float = param(12.0, "kg", "A", "brief", gt=0)
    weight_min_kg: float = param(40.0, "kg", "A", "truncation (inside protocol "
                                 "WEIGHT_RANGE_KG 30-250 kg)")
    weight_max_kg: float = param(130.0, "kg", "A", "truncation", gt=0)
    left_hemisphere_fraction: float = param(0.5, "1", "A", "side of the lesion", ge=0, le=1)
    infratentorial_fraction: float = param(0.1, "1", "A", "ICH location (ICH score item)",
                                           ge=0, le=1)
    ivh_fraction: float = param(0.3, "1", "A", "intraventricular extension of ICH (ICH "
                                "score item)", ge=0, le=1)
    haematoma_median_ml: float = param(15.0, "mL", "A", "initial ICH volume, lognormal",
                                       gt=0)
    haematoma_log_sd: float = param(0.7, "log mL", "A", "initial ICH volume", gt=0)
    infarct_median_ml: float = param(30.0, "mL", "A", "initial infarct volume, lognormal",
                                     gt=0)
    infarct_log_sd: float = param(1.0, "log mL", "A", "initial infarct volume", gt=0)
    lesion_severity_loading: float = param(0.4, "log mL per SD", "A", "larger lesions in "
                                           "more severe patients")
    motor_correlation: float = param(0.7, "1", "A", "correlation of baseline UE/LE/NIHSS "
                                     "with the shared severity factor", ge=0, le=1)
    recovery_correlation: float = param(0.6, "1", "A", "correlation of recovery "
                                        "propensities across instruments", ge=0, le=1)
    recovery_severity_loading: float = param(0.5, "1", "A", "less severe patients regain a "
                                             "larger share (lifts the baseline-to-12-month "
                                             "correlation into 0.5-0.7, §5.3)", ge=0, lt=1)
    admission_delay_max_days: int = param(1, "days", "A", "onset to admission, uniform "
                                          "0..max", ge=0)
    enrolment_period_days: int = param(365, "days", "A", "onsets spread uniformly over it",
                                       ge=1)
    study_start: str = param("2026-01-05", "ISO date", "A", "first possible onset date")


class Barthel(_Group):
    """Modified Barthel (Shah): B(t) = B0 + (B∞ − B0)(1 − exp(−t/τ)), t since baseline.

    The exponential is memoryless, so τ fitted from onset applies unchanged from a baseline
    taken 1-3 weeks after onset. B∞ = B0 + g (100 − B0) with g logit-normal.
    """

    baseline_mean: float = param(30.0, "MBI points", "A", "latent MBI at randomisation "
                                 "before the eligibility cut (ICH, 1-3 weeks)")
    baseline_sd: float = param(18.0, "MBI points", "A", "between-patient", gt=0)
    plateau_fraction_mean: float = param(0.30, "1", "A", "share of the potential (100 − B0) "
                                         "regained; calibrated so the 6-month control mean "
                                         "≈ 45-50 with SD ≈ 20-24 as in Li 2013 (§5.3: ICH "
                                         "control BI 46.9 ± 20.3)", gt=0, lt=1)
    plateau_fraction_sd: float = param(0.20, "1", "A", "between-patient SD of g", gt=0)
    tau_weeks_very_severe: float = param(6.2, "weeks", "A", f"{COPENHAGEN}: best ADL at 20 "
                                         "weeks (very severe) vs 13 (moderate); τ = 4 × 20/13",
                                         gt=0)
    tau_weeks_severe: float = param(5.2, "weeks", "A", f"{COPENHAGEN}: 17 weeks severe; "
                                    "τ = 4 × 17/13", gt=0)
    tau_weeks_moderate: float = param(4.0, "weeks", "A", f"{COPENHAGEN}: τ ≈ 3.7-4.2 weeks "
                                      "from the 80%/6 wk and 95%/12.5 wk quantiles", gt=0)
    tau_weeks_mild: float = param(2.6, "weeks", "A", f"{COPENHAGEN}: 8.5 weeks mild; "
                                  "τ = 4 × 8.5/13", gt=0)
    band_very_severe_max: float = param(20.0, "MBI points", "A", "Copenhagen severity groups "
                                        "mapped onto the Shah bands (§1.1): ≤20 very severe")
    band_severe_max: float = param(60.0, "MBI points", "A", "21-60 severe (Shah band)")
    band_moderate_max: float = param(90.0, "MBI points", "A", "61-90 moderate (Shah band)")
    tau_ich_multiplier: float = param(1.2, "1", "K", "surviving ICH patients recover later "
                                      "(§5.2, Paolucci 2003 and [K])", gt=0)
    tau_log_sd: float = param(0.3, "log weeks", "A", "between-patient variation of τ", ge=0)
    measurement_sd: float = param(8.0, "MBI points", "A", "visit-to-visit variation (rater "
                                  "and day-to-day) on the latent total; calibrated so the "
                                  "adjacent-visit correlation stays ≤ 0.85 (§5.3)", ge=0)
    item_offset_sd: float = param(0.06, "fraction of range", "A", "persistent patient-item "
                                  "deviation (item profile)", ge=0)
    item_visit_sd: float = param(0.03, "fraction of range", "A", "per-visit item noise", ge=0)
    item_difficulty: dict[str, float] = param(
        {"feeding": 0.25, "bowels": 0.3, "bladder": 0.35, "personal_hygiene": 0.4,
         "transfers": 0.45, "toilet": 0.5, "dressing": 0.55, "ambulation": 0.62,
         "bathing": 0.7, "stairs": 0.8},
        "0-1", "K", "Rasch order of Barthel items: feeding/continence easiest, bathing and "
        "stairs hardest [K]")
    item_spread: float = param(0.6, "0-1", "A", "spread of an item's steps around its "
                               "difficulty", ge=0)


class FuglMeyer(_Group):
    """FMA-UE/LE by the proportional recovery rule (§5.1), approached with time constant τ."""

    ue_baseline_mean: float = param(22.0, "FMA-UE points", "A", "ICH with residual deficit")
    ue_baseline_sd: float = param(18.0, "FMA-UE points", "A", "between-patient", gt=0)
    le_baseline_mean: float = param(15.0, "FMA-LE points", "A", "ICH with residual deficit")
    le_baseline_sd: float = param(8.0, "FMA-LE points", "A", "between-patient", gt=0)
    ue_prr: float = param(0.7, "1", "V", "Kundert et al., Neurorehabil Neural Repair 2019;"
                          "33:876 (§5.1): ΔFM-UE ≈ 0.7 × (66 − FM0)", gt=0, lt=1)
    ue_prr_sd: float = param(0.15, "1", "A", "§5.1 simulation recipe: r ~ Beta(0.7, SD 0.15)",
                             gt=0)
    ue_severe_below: float = param(20.0, "FMA-UE points", "K", "severe initial paresis "
                                   "(FM-UE0 < ~20, §5.1)")
    ue_nonfitter_fraction: float = param(0.3, "1", "V", "≈30% of severe patients do not fit "
                                         "(Kundert 2019, §5.1)", ge=0, le=1)
    le_prr: float = param(0.64, "1", "V", "Veerbeek et al., PLoS One 2018;13:e0189279 "
                          "(§5.1): fitters regain 64% of (34 − FM-LE0)", gt=0, lt=1)
    le_prr_sd: float = param(0.15, "1", "A", "as UE", gt=0)
    le_severe_below: float = param(14.0, "FMA-LE points", "V", "all LE non-fitters had "
                                   "FM-LE0 ≤ 13 (Veerbeek 2018)")
    le_nonfitter_fraction: float = param(0.35, "1", "V", "below 14 points 65% still fitted "
                                         "(Veerbeek 2018)", ge=0, le=1)
    nonfitter_max_fraction: float = param(0.1, "1", "A", "non-fitters regain U(0, 10%) of "
                                          "their potential (§5.1 recipe)", ge=0, le=1)
    tau_weeks: float = param(4.0, "weeks", "A", "PRR measured from day 3 to 3 months "
                             "(Prabhakaran 2008 [K]): most of it within ~12 weeks", gt=0)
    measurement_sd: float = param(2.0, "FMA points", "A", "rating noise", ge=0)
    item_offset_sd: float = param(0.05, "fraction of range", "A", "item profile", ge=0)
    item_visit_sd: float = param(0.03, "fraction of range", "A", "per-visit item noise", ge=0)
    item_spread: float = param(0.5, "0-1", "A", "spread of steps around a section's "
                               "difficulty", ge=0)
    section_difficulty: dict[str, float] = param(
        {"a_i": 0.02, "a_ii": 0.3, "a_iii": 0.5, "b": 0.55, "c": 0.6, "a_iv": 0.75,
         "d": 0.8, "a_v": 0.97, "e_i": 0.02, "e_ii": 0.35, "e_iii": 0.6, "f": 0.7,
         "e_iv": 0.8, "e_v": 0.97},
        "0-1", "K", "reflexes first, then synergies, then isolated movement, coordination; "
        "section V last (Fugl-Meyer 1975 stages [K])")


class Nihss(_Group):
    """NIHSS deficit: N(t) = N0 − q N0 (1 − exp(−t/τ)), q logit-normal."""

    baseline_mean: float = param(12.0, "NIHSS points", "A", "ICH 1-3 weeks with MBI ≤ 60; "
                                 "Li 2013 control 14.4 at 6 months (§5.3) was more severe")
    baseline_sd: float = param(6.0, "NIHSS points", "A", "between-patient", gt=0)
    improvement_mean: float = param(0.45, "1", "A", "share of the deficit resolved; "
                                    "InveST day-180 control NIHSS 7.0 (§5.3)", gt=0, lt=1)
    improvement_sd: float = param(0.22, "1", "A", "between-patient", gt=0)
    tau_weeks: float = param(4.0, "weeks", "A", "as MBI moderate", gt=0)
    measurement_sd: float = param(1.0, "NIHSS points", "A", "rating noise", ge=0)
    item_offset_sd: float = param(0.05, "fraction of range", "A", "item profile", ge=0)
    item_visit_sd: float = param(0.02, "fraction of range", "A", "per-visit item noise", ge=0)
    item_spread: float = param(0.2, "0-1", "A", "spread of an item's steps", ge=0)
    item_difficulty_affected: dict[str, float] = param(
        {"motor_arm": 0.05, "motor_leg": 0.1, "4_facial_palsy": 0.12, "10_dysarthria": 0.2,
         "8_sensory": 0.25, "9_language": 0.3, "11_extinction": 0.35, "3_visual": 0.4,
         "2_gaze": 0.5, "1c_loc_commands": 0.55, "1b_loc_questions": 0.6, "1a_loc": 0.7,
         "7_limb_ataxia": 0.8, "motor_arm_other": 0.85, "motor_leg_other": 0.9},
        "0-1", "A", "order in which deficits appear with severity; language is easier after a "
        "left, extinction after a right hemisphere lesion (see item_hemisphere_shift)")
    item_hemisphere_shift: float = param(0.15, "0-1", "A", "9_language harder after a right "
                                         "and 11_extinction harder after a left lesion")


class Rankin(_Group):
    """mRS from the functional state: cut points on latent MBI + noise; 6 = dead."""

    noise_sd: float = param(8.0, "MBI points", "A", "disagreement between mRS and MBI", ge=0)
    cut_5_below: float = param(25.0, "MBI points", "A", "bedridden, incontinent: Shah "
                               "'total dependency' ≤ 20 (§1.1, §4)")
    cut_4_below: float = param(60.0, "MBI points", "A", "cannot walk or attend to bodily "
                               "needs unaided: Shah 'severe dependency' ≤ 60")
    cut_3_below: float = param(90.0, "MBI points", "K", "BI ≥ 90 ~ mRS ≤ 2 (Uyttenboogaart "
                               "2005 [K])")
    cut_2_below: float = param(95.0, "MBI points", "K", "BI ≥ 95 ~ mRS ≤ 1 (Uyttenboogaart "
                               "2005 [K]; 'excellent outcome' BI ≥ 95, §4)")
    cut_1_below: float = param(100.0, "MBI points", "A", "mRS 0 needs MBI 100 and NIHSS 0")


class Lesion(_Group):
    """Lesion volume V(t) = V0 (r + (1 − r) exp(−t/τ)), t from onset."""

    haematoma_residual_fraction: float = param(0.25, "1", "A", "residual cavity/slit of a "
                                               "resolved haematoma", ge=0, le=1)
    haematoma_tau_days: float = param(30.0, "days", "A", "haematoma resolution (~0.75 mL/day "
                                      "for a medium haematoma [K])", gt=0)
    infarct_residual_fraction: float = param(0.7, "1", "A", "infarct after oedema resolves",
                                             ge=0, le=1)
    infarct_tau_days: float = param(30.0, "days", "A", "infarct shrinkage", gt=0)
    measurement_cv: float = param(0.1, "1", "A", "MRI volumetry coefficient of variation",
                                  ge=0)


class Deaths(_Group):
    """Death after randomisation: Weibull, hazard × HR^severity (z)."""

    mortality_12_months: float = param(0.10, "1", "A", "enrolled survivors of the acute phase; "
                                       "TREASURE placebo 9.8% dead at day 365 (§5.3 [V]); "
                                       "all-comer ICH 1-year case fatality is ~50% but "
                                       "mostly before day 10 [K]", ge=0, lt=1)
    weibull_shape: float = param(0.7, "1", "A", "deaths front-loaded", gt=0)
    hazard_ratio_per_sd: float = param(1.5, "1", "A", "per SD of baseline severity", gt=0)


class Dropout(_Group):
    """Monotone dropout before each post-baseline visit and intermittent missed visits."""

    mechanism: Literal["mcar", "mar", "mnar"] = param(
        "mcar", "-", "A", "mcar: constant; mar: on the last observed MBI; mnar: on the "
        "current, unobserved MBI")
    per_visit: float = param(0.02, "1", "A", "probability of dropping out before each "
                             "post-baseline visit (4 visits: ~8%)", ge=0, lt=1)
    log_odds_per_10_points: float = param(0.3, "log-odds per 10 MBI points lower", "A",
                                          "mar/mnar: worse function, more dropout", ge=0)
    reference_mbi: float = param(50.0, "MBI points", "A", "centre of the mar/mnar logit")
    missed_visit: float = param(0.03, "1", "A", "intermittent missed visit (MCAR)",
                                ge=0, lt=1)


class Visits(_Group):
    """When visits happen inside their windows and when cells are given."""

    jitter: Literal["triangular", "uniform", "none"] = param(
        "triangular", "-", "A", "visit day inside its window: triangular peaked at target")


class AdverseEventSpec(_Group):
    term: str
    probability: float = Field(ge=0, le=1)
    serious_fraction: float = Field(ge=0, le=1)
    grades: dict[int, float]  # CTCAE grade -> probability (sums to 1)
    onset_days: tuple[int, int]  # after administration (related) or day 0 (background)
    related: Literal["related", "possibly_related", "unlikely_related", "not_related"]
    source: str
    tag: Tag = "A"


def _ae(term: str, p: float, serious: float, grades: dict[int, float], onset: tuple[int, int],
        related: str, tag: Tag, source: str) -> AdverseEventSpec:
    return AdverseEventSpec.model_validate({
        "term": term, "probability": p, "serious_fraction": serious, "grades": grades,
        "onset_days": onset, "related": related, "tag": tag, "source": source})


_MILD = {1: 0.7, 2: 0.3}
_MOD = {1: 0.3, 2: 0.5, 3: 0.2}
_SERIOUS = {3: 0.7, 4: 0.3}  # grade 5 (death) comes from the death model


class AdverseEvents(_Group):
    """Per-patient probabilities over follow-up. Route events apply once per administration
    and are scaled by the cell-type multiplier; background events apply to every arm."""

    by_route: dict[str, list[AdverseEventSpec]] = param({
        "intra_arterial": [
            _ae("New DWI lesion (asymptomatic)", 0.15, 0.0, {1: 1.0}, (0, 3), "related", "A",
                "RECOVER-Stroke: more small new MRI lesions after IA cells (§7 [V]); rate [A]"),
            _ae("Seizure", 0.05, 0.5, _MOD, (0, 14), "possibly_related", "A",
                "Moniche 2012: seizures 2/10 after IA BM-MNC (§6 [V]); rate [A]"),
            _ae("Puncture site haematoma", 0.03, 0.0, _MILD, (0, 2), "related", "A",
                "angiography complication [A]"),
        ],
        "intravenous": [
            _ae("Fever", 0.10, 0.0, _MILD, (0, 2), "related", "A",
                "fever and headache commonest AEs of MSC (Stem Cells Transl Med 2024, §6.1 "
                "[V]); rate [A]"),
            _ae("Headache", 0.10, 0.0, _MILD, (0, 2), "possibly_related", "A", "as fever"),
        ],
        "intrathecal": [
            _ae("Fever", 0.75, 0.0, _MILD, (0, 2), "related", "V",
                "9/12 transient fever after IT BM-MSC in ICH (§7 [V])"),
            _ae("Post-dural puncture headache", 0.10, 0.0, _MILD, (0, 3), "related", "A",
                "lumbar puncture [A]"),
        ],
        "intraventricular": [
            _ae("Headache", 0.30, 0.0, _MILD, (0, 3), "related", "A", "[A]"),
            _ae("Fever", 0.20, 0.0, _MILD, (0, 2), "related", "A", "[A]"),
        ],
        "intracerebral": [
            _ae("Headache", 0.889, 0.0, _MOD, (0, 7), "related", "V",
                "88.9% headache, SB623 2-year study (§7 [V])"),
            _ae("Intracranial haemorrhage (procedural)", 0.03, 1.0, _SERIOUS, (0, 2),
                "related", "A", "stereotactic surgery [A]"),
        ],
        "intranasal": [
            _ae("Nasal discomfort", 0.05, 0.0, {1: 1.0}, (0, 1), "possibly_related", "A",
                "PASSIoN: no serious AE (§7 [V]); rate [A]"),
        ],
    }, "per patient", "A", "see each event's source")
    background: list[AdverseEventSpec] = param([
        _ae("Pneumonia", 0.10, 0.6, _MOD, (0, 365), "not_related", "A", "post-stroke [A]"),
        _ae("Urinary tract infection", 0.12, 0.1, _MOD, (0, 365), "not_related", "A", "[A]"),
        _ae("Fall", 0.08, 0.2, _MOD, (0, 365), "not_related", "A", "[A]"),
        _ae("Depression", 0.15, 0.0, _MOD, (0, 365), "not_related", "A",
            "post-stroke depression [A]"),
        _ae("Seizure", 0.04, 0.5, _MOD, (0, 365), "not_related", "A",
            "post-ICH epilepsy [A]"),
        _ae("Recurrent stroke", 0.03, 1.0, _SERIOUS, (0, 365), "not_related", "A", "[A]"),
    ], "per patient per year", "A", "see each event's source")
    cell_type_multiplier: dict[str, float] = param({}, "1", "A", "scales route events per cell "
                                                   "type; a missing type is 1")


class EffectModifiers(_Group):
    """Treatment-effect multipliers by the four aspects (all 1 by default [A]).

    effect = scenario effect × cell_type[type] × phase[phase at administration] ×
    route[kind] × (total cells / dose_reference_cells) ** dose_exponent, total cells = cells
    per administration × administrations. A missing key is 1.
    The source describes acute as better than chronic (DESIGN.md): a scenario may set
    e.g. phase = {"acute": 1.0, "subacute": 0.8, "chronic": 0.5}.
    """

    cell_type: dict[str, float] = param({}, "1", "A", "e.g. mesenchymal_stem_cells: 1")
    phase: dict[str, float] = param({}, "1", "A", "acute / subacute / chronic (SRRR phases, "
                                    "protocol.phases)")
    route: dict[str, float] = param({}, "1", "A", "e.g. intra_arterial: 1")
    dose_exponent: float = param(0.0, "1", "A", "0: no dose-response; BM-MNC pooled data "
                                 "suggest more is better (§6.1 [V], not quantified)")
    dose_reference_cells: float = param(1e8, "cells", "A", "dose at which the dose factor "
                                        "is 1", gt=0)


class Assumptions(_Group):
    """All groups; ``Assumptions()`` is the documented default model."""

    population: Population = Field(default_factory=Population)
    barthel: Barthel = Field(default_factory=Barthel)
    fugl_meyer: FuglMeyer = Field(default_factory=FuglMeyer)
    nihss: Nihss = Field(default_factory=Nihss)
    rankin: Rankin = Field(default_factory=Rankin)
    lesion: Lesion = Field(default_factory=Lesion)
    deaths: Deaths = Field(default_factory=Deaths)
    dropout: Dropout = Field(default_factory=Dropout)
    visits: Visits = Field(default_factory=Visits)
    adverse_events: AdverseEvents = Field(default_factory=AdverseEvents)
    effect_modifiers: EffectModifiers = Field(default_factory=EffectModifiers)

    @classmethod
    def load(cls, data: dict[str, Any]) -> Assumptions:
        """Validate a mapping (e.g. from YAML); errors name the dotted field and value."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InputError([
                Problem(".".join(str(p) for p in err["loc"]), err["msg"],
                        err.get("input") if not isinstance(err.get("input"), dict) else None,
                        "see docs/simulation.md for the parameters")
                for err in exc.errors()], context="simulation assumptions") from None

    def with_overrides(self, **dotted: Any) -> Assumptions:
        """A copy with ``group__field=value`` (or ``{"group.field": value}``) overrides."""
        data = self.model_dump()
        for key, value in dotted.items():
            group, _, name = key.replace("__", ".").partition(".")
            if group not in data or not name or name not in data[group]:
                raise InputError(Problem(key, "is not a simulation parameter", key,
                                         "group.field, see docs/simulation.md"))
            data[group][name] = value
        return Assumptions.load(data)


def assumption_table(assumptions: Assumptions | None = None) -> list[dict[str, Any]]:
    """Every parameter as ``{name, value, default, unit, tag, source}`` (dotted names)."""
    current = assumptions or Assumptions()
    rows: list[dict[str, Any]] = []
    for group_name in Assumptions.model_fields:
        group = getattr(current, group_name)
        for name, info in type(group).model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            default = info.get_default(call_default_factory=True)
            rows.append({
                "name": f"{group_name}.{name}",
                "value": _plain(getattr(group, name)),
                "default": _plain(default),
                "unit": extra.get("unit", ""),
                "tag": extra.get("tag", ""),
                "source": info.description or "",
            })
    return rows


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
