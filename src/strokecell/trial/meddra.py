"""The MedDRA System Organ Classes (SOC), as data: the allowed adverse-event body systems.

The 27 SOC names of MedDRA (Medical Dictionary for Regulatory Activities, ICH M1; the SOC
list has been stable since version 13, "Product issues" added in 19.0). Only the SOC level
is checked here; the term itself (MedDRA LLT/PT) is free text coded later by the sponsor.
"""

from __future__ import annotations

__all__ = ["MEDDRA_SOC"]

MEDDRA_SOC: tuple[str, ...] = (
    "Blood and lymphatic system disorders",
    "Cardiac disorders",
    "Congenital, familial and genetic disorders",
    "Ear and labyrinth disorders",
    "Endocrine disorders",
    "Eye disorders",
    "Gastrointestinal disorders",
    "General disorders and administration site conditions",
    "Hepatobiliary disorders",
    "Immune system disorders",
    "Infections and infestations",
    "Injury, poisoning and procedural complications",
    "Investigations",
    "Metabolism and nutrition disorders",
    "Musculoskeletal and connective tissue disorders",
    "Neoplasms benign, malignant and unspecified (incl cysts and polyps)",
    "Nervous system disorders",
    "Pregnancy, puerperium and perinatal conditions",
    "Product issues",
    "Psychiatric disorders",
    "Renal and urinary disorders",
    "Reproductive system and breast disorders",
    "Respiratory, thoracic and mediastinal disorders",
    "Skin and subcutaneous tissue disorders",
    "Social circumstances",
    "Surgical and medical procedures",
    "Vascular disorders",
)
