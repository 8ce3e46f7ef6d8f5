"""What a site would type on the CRF pages that are not scales, for one virtual patient.

The trial driver (:mod:`~strokecell.simulate.driver`) enters these pages through the
``trial/`` services; here they are only built, from the patient record and a seeded
generator. Every value is on the page's grid (``trial/crf/*.yaml``); the choices that the
virtual-patient model does not decide (haematoma location, consent by whom, rehabilitation
hours, release-test results, ...) are assumptions [A] drawn here and named in the docstrings.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from strokecell.simulate.adverse_events import AdverseEvent
from strokecell.simulate.records import VirtualPatient

__all__ = ["BODY_SYSTEM", "adverse_event_page", "at", "baseline_stroke_page", "consent_page",
           "demographics_page", "eligibility_page", "medication_pages", "merged_items",
           "mri_page", "rehabilitation_page", "release_results", "withdrawal_page"]

#: MedDRA system organ class of every event term the model draws (trial/meddra.py names).
BODY_SYSTEM = {
    "New DWI lesion (asymptomatic)": "Nervous system disorders",
    "Seizure": "Nervous system disorders",
    "Puncture site haematoma": "Injury, poisoning and procedural complications",
    "Fever": "General disorders and administration site conditions",
    "Headache": "Nervous system disorders",
    "Post-dural puncture headache": "Injury, poisoning and procedural complications",
    "Intracranial haemorrhage (procedural)": "Injury, poisoning and procedural complications",
    "Nasal discomfort": "Respiratory, thoracic and mediastinal disorders",
    "Pneumonia": "Infections and infestations",
    "Urinary tract infection": "Infections and infestations",
    "Fall": "Injury, poisoning and procedural complications",
    "Depression": "Psychiatric disorders",
    "Recurrent stroke": "Nervous system disorders",
    "Death NOS": "General disorders and administration site conditions",
}
_OTHER_SOC = "General disorders and administration site conditions"

#: The model's relatedness words to WHO-UMC causality (product, procedure) [A].
_RELATEDNESS = {
    "related": ("possible", "probable"),
    "possibly_related": ("possible", "possible"),
    "unlikely_related": ("unlikely", "unlikely"),
    "not_related": ("not_related", "not_related"),
}


def consent_page(patient: VirtualPatient, consent_date: date,
                 rng: np.random.Generator) -> dict[str, object]:
    """Consent by the patient, or by a legal representative (more often with a low GCS) [A]."""
    representative = rng.random() < (0.5 if patient.gcs < 13 else 0.1)
    return {"consent_date": consent_date.isoformat(), "consent_form_version": "1.0",
            "consented_by": "legal_representative" if representative else "patient",
            "copy_given": True}


def eligibility_page(patient: VirtualPatient, days_since_onset: float,
                     confirmed_on: date) -> dict[str, object]:
    """The investigator's summary of the screening judgement (all met: an eligible patient)."""
    return {"age_years": patient.age_years, "stroke_type": patient.condition,
            "days_since_onset": f"{days_since_onset:.1f}", "all_inclusion_met": True,
            "any_exclusion_present": False, "confirmed_on": confirmed_on.isoformat()}


def _gcs_components(gcs: int) -> tuple[int, int, int]:
    """Eye, verbal, motor summing to ``gcs``: verbal first, then eye, then motor lose."""
    deficit = 15 - gcs
    verbal = 5 - min(deficit, 4)
    deficit -= 5 - verbal
    eye = 4 - min(deficit, 3)
    deficit -= 4 - eye
    return eye, verbal, 6 - deficit


def demographics_page(patient: VirtualPatient) -> dict[str, object]:
    """Sex and body weight (kg, one decimal, as on the administration page)."""
    return {"sex": {"M": "male", "F": "female"}.get(patient.sex, "unknown"),
            "weight_kg": f"{patient.weight_kg:.1f}"}


def baseline_stroke_page(patient: VirtualPatient,
                         rng: np.random.Generator) -> dict[str, object]:
    """Stroke type, onset, age, GCS components and (ICH) volume, location, ventricular
    extension, chosen so that the page's ICH score (Hemphill 2001) is the patient's.

    The model keeps the ICH score, not which of its two location items (intraventricular
    extension, infratentorial origin) made it; when one of them did, it is drawn in the
    ratio of their population fractions (0.3 : 0.1) [A]; supratentorial locations are
    basal ganglia 50 %, lobar 30 %, thalamus 20 % and infratentorial cerebellum 80 %,
    brainstem 20 % [A].
    """
    eye, verbal, motor = _gcs_components(patient.gcs)
    page: dict[str, object] = {
        "stroke_type": patient.condition, "onset_date": patient.onset_date.isoformat(),
        "age_years": patient.age_years, "gcs_eye": eye, "gcs_verbal": verbal,
        "gcs_motor": motor}
    if patient.condition != "intracerebral_haemorrhage" or patient.haematoma_volume_ml is None:
        return page
    volume = round(patient.haematoma_volume_ml, 1)
    known = (2 if patient.gcs <= 4 else 1 if patient.gcs <= 12 else 0) + int(volume >= 30) \
        + int(patient.age_years >= 80)
    rest = min(max((patient.ich_score or 0) - known, 0), 2)
    ivh, infra = rest == 2, rest == 2
    if rest == 1:
        ivh = bool(rng.random() < 0.75)
        infra = not ivh
    if infra:
        location = "cerebellum" if rng.random() < 0.8 else "brainstem"
    else:
        location = str(rng.choice(["basal_ganglia", "lobar", "thalamus"], p=[0.5, 0.3, 0.2]))
    page.update({"ich_volume": f"{volume:.1f}", "ich_location": location,
                 "intraventricular_extension": ivh})
    return page


def mri_page(scan_date: date, field_strength: float, new_dwi_lesions: int = 0,
             new_haemorrhage: bool = False) -> dict[str, object]:
    return {"scan_date": scan_date.isoformat(), "field_strength": f"{field_strength:.1f}",
            "dwi_done": True, "new_dwi_lesions": new_dwi_lesions,
            "new_haemorrhage": new_haemorrhage}


#: Average rehabilitation hours per week by months since day 0 (routine care, both arms) [A].
_REHAB_HOURS = ((1, 10.0, 15.0), (3, 6.0, 10.0), (6, 3.0, 6.0), (1200, 1.0, 4.0))


def rehabilitation_page(day: int, rng: np.random.Generator) -> dict[str, object]:
    months = day / 30.4
    low, high = next((lo, hi) for m, lo, hi in _REHAB_HOURS if months <= m + 0.5)
    return {"hours_per_week": f"{rng.uniform(low, high):.1f}", "physiotherapy": True,
            "occupational_therapy": bool(rng.random() < 0.8),
            "speech_therapy": bool(rng.random() < 0.4)}


#: Concomitant medications after ICH [A]: (drug, indication, dose, route, share of patients).
_MEDICATIONS = (
    ("amlodipine", "hypertension", "5 mg once daily", "oral", 0.7),
    ("atorvastatin", "hyperlipidaemia", "20 mg once daily", "oral", 0.3),
    ("omeprazole", "stress ulcer prophylaxis", "20 mg once daily", "oral", 0.4),
)


def medication_pages(start: date, rng: np.random.Generator) -> list[dict[str, object]]:
    return [{"drug_name": drug, "indication": why, "dose_text": dose, "route": route,
             "start_date": start.isoformat(), "ongoing": True}
            for drug, why, dose, route, share in _MEDICATIONS if rng.random() < share]


def adverse_event_page(event: AdverseEvent, *, resolved_on: date | None) -> dict[str, object]:
    """The adverse-event page of a model event as first reported (``resolved_on`` None:
    still ongoing). Seriousness criteria: death for grade 5, life-threatening for grade 4,
    hospitalisation otherwise [A]; expected = not serious [A]."""
    product, procedure = _RELATEDNESS.get(event.related, ("unlikely", "unlikely"))
    fatal = event.grade == 5
    page: dict[str, object] = {
        "term": event.term, "body_system": BODY_SYSTEM.get(event.term, _OTHER_SOC),
        "onset_date": event.onset_date.isoformat(), "ctcae_grade": event.grade,
        "serious": event.serious, "related_to_product": product,
        "related_to_procedure": procedure, "expected": not event.serious,
        "action_taken": "treatment_given" if event.serious and not fatal else "none",
    }
    if event.serious:
        page.update({"sc_death": fatal, "sc_life_threatening": event.grade == 4,
                     "sc_hospitalisation": event.grade < 4})
    if fatal:
        page.update({"ongoing": False, "resolution_date": event.onset_date.isoformat(),
                     "outcome": "fatal"})
    elif resolved_on is not None:
        page.update({"ongoing": False, "resolution_date": resolved_on.isoformat(),
                     "outcome": "recovered"})
    else:
        page.update({"ongoing": True, "outcome": "recovering"})
    return page


def withdrawal_page(when: date, reason: str) -> dict[str, object]:
    return {"withdrawal_date": when.isoformat(), "reason": reason, "data_use_allowed": True}


def release_results(viability_min: float, rng: np.random.Generator,
                    allogeneic: bool) -> dict[str, object]:
    """Release-test results of a good lot: every ISCT marker and safety test passes
    (Dominici 2006: CD73/CD90/CD105 >= 95 %, CD34/CD45/HLA-DR <= 2 %) [A]."""
    out: dict[str, object] = {
        "sterility": "negative", "mycoplasma": "negative",
        "endotoxin": f"{rng.uniform(0.05, 0.3):.2f}",
        "viability": f"{rng.uniform(max(viability_min, 70.0) + 1.0, 98.5):.1f}"}
    if allogeneic:
        out["donor_eligibility"] = "eligible"
    for marker in ("CD73", "CD90", "CD105"):
        out[marker] = f"{rng.uniform(95.5, 99.8):.1f}"
    for marker in ("CD34", "CD45", "HLA-DR"):
        out[marker] = f"{rng.uniform(0.1, 1.5):.1f}"
    return out


def at(day: date, hour: float, tz: Any) -> datetime:
    """``day`` at ``hour`` (decimal hours) in the time zone ``tz``."""
    return datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(hours=hour)


def merged_items(assessments: Mapping[str, Mapping[str, Any]], form_code: str,
                 components: Mapping[str, tuple[str, ...]]) -> dict[str, Any] | None:
    """The items of scale form ``form_code`` from a visit's assessments (a composite such as
    fma_total takes its components' items); None when the model did not rate it."""
    if form_code in assessments:
        return dict(assessments[form_code])
    parts = components.get(form_code)
    if parts and all(p in assessments for p in parts):
        out: dict[str, Any] = {}
        for p in parts:
            out.update(assessments[p])
        return out
    return None
