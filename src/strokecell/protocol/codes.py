"""Controlled vocabularies of the protocol layer, in one place.

The YAML accepts these codes and nothing else (no free-text cell types, no "IA" for
``intra_arterial``), so that two sites writing the same protocol get the same data.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "ARM_TYPES",
    "CELL_TYPES",
    "CONDITIONS",
    "ENDPOINT_INSTRUMENT_CODES",
    "ENDPOINT_ROLES",
    "ORIGINS",
    "ROUTE_KINDS",
    "SOURCE_TISSUES",
    "TARGET_VESSELS",
    "ArmType",
    "CellType",
    "Condition",
    "EndpointRole",
    "Origin",
    "RouteKind",
    "SourceTissue",
    "TargetVessel",
]

Condition = Literal["ischaemic_stroke", "intracerebral_haemorrhage"]
CONDITIONS: Final = ("ischaemic_stroke", "intracerebral_haemorrhage")

ArmType = Literal["control", "cell_therapy"]
ARM_TYPES: Final = ("control", "cell_therapy")

# Cell types used in published stroke trials (domain/README.md §6): MSC (bone marrow,
# umbilical cord, adipose), BM-MNC, NSC lines (CTX0E03), MAPC (MultiStem), CD34+ PBSC,
# ALDH-bright cells (ALD-401), modified MSC (SB623), cord-blood cells.
CellType = Literal[
    "mesenchymal_stem_cells",
    "modified_mesenchymal_stem_cells",
    "neural_stem_cells",
    "bone_marrow_mononuclear_cells",
    "cord_blood_cells",
    "multipotent_adult_progenitor_cells",
    "cd34_positive_cells",
    "aldh_bright_cells",
]
CELL_TYPES: Final = (
    "mesenchymal_stem_cells", "modified_mesenchymal_stem_cells", "neural_stem_cells",
    "bone_marrow_mononuclear_cells", "cord_blood_cells", "multipotent_adult_progenitor_cells",
    "cd34_positive_cells", "aldh_bright_cells",
)

SourceTissue = Literal[
    "bone_marrow", "umbilical_cord", "cord_blood", "adipose", "brain_fetal", "peripheral_blood",
]
SOURCE_TISSUES: Final = (
    "bone_marrow", "umbilical_cord", "cord_blood", "adipose", "brain_fetal", "peripheral_blood",
)

Origin = Literal["autologous", "allogeneic"]
ORIGINS: Final = ("autologous", "allogeneic")

RouteKind = Literal[
    "intravenous", "intra_arterial", "intracerebral", "intraventricular", "intrathecal",
    "intranasal",
]
ROUTE_KINDS: Final = (
    "intravenous", "intra_arterial", "intracerebral", "intraventricular", "intrathecal",
    "intranasal",
)

TargetVessel = Literal[
    "internal_carotid_artery", "common_carotid_artery", "middle_cerebral_artery",
    "vertebral_artery", "basilar_artery",
]
TARGET_VESSELS: Final = (
    "internal_carotid_artery", "common_carotid_artery", "middle_cerebral_artery",
    "vertebral_artery", "basilar_artery",
)

EndpointRole = Literal["primary", "key_secondary", "secondary", "safety"]
ENDPOINT_ROLES: Final = ("primary", "key_secondary", "secondary", "safety")

# The instrument codes an endpoint may name. This is the protocol layer's own list, because
# protocol/ may not import instruments/; the store layer cross-checks these codes against
# the instruments registry when a study is set up from a protocol. Keep the two in step.
ENDPOINT_INSTRUMENT_CODES: Final[tuple[str, ...]] = (
    # clinical scales
    "mbi", "bi", "fma_ue", "fma_le", "fma_total", "nihss", "mrs",
    # imaging
    "lesion_volume",
    # biomarker panel (cytokines up: BDNF, NGF, NT-3, NT-4, VEGF; down: Nogo-A, MAG, OMgp,
    # caspase-3)
    "bdnf", "ngf", "nt3", "nt4", "vegf", "nogo_a", "mag", "omgp", "caspase3",
    # safety
    "adverse_events",
)
