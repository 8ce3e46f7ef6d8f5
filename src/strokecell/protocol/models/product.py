"""The cell product of a cell-therapy arm: what cells, from where, whose, how viable."""

from __future__ import annotations

from typing import Final

from pydantic import Field, model_validator

from strokecell.protocol.codes import CellType, Origin, SourceTissue
from strokecell.protocol.models._base import Issues, NonEmptyStr, StrictModel

__all__ = ["CellProduct"]

# Which tissues each cell type can come from; a mismatch (cord-blood cells "from adipose")
# is a copying error in a protocol, not a new product.
COMPATIBLE_TISSUES: Final[dict[str, tuple[str, ...]]] = {
    "mesenchymal_stem_cells": ("bone_marrow", "umbilical_cord", "cord_blood", "adipose"),
    "modified_mesenchymal_stem_cells": ("bone_marrow", "umbilical_cord", "adipose"),
    "neural_stem_cells": ("brain_fetal",),
    "bone_marrow_mononuclear_cells": ("bone_marrow",),
    "cord_blood_cells": ("cord_blood",),
    "multipotent_adult_progenitor_cells": ("bone_marrow",),
    "cd34_positive_cells": ("peripheral_blood", "bone_marrow", "cord_blood"),
    "aldh_bright_cells": ("bone_marrow",),
}


class CellProduct(StrictModel):
    """Type, source tissue, autologous/allogeneic and release viability of the cells."""

    cell_type: CellType
    source_tissue: SourceTissue
    origin: Origin
    # Release criterion: lots below this viability (%) are not administered.
    viability_min_percent: float = Field(gt=0, le=100)
    name: NonEmptyStr | None = None  # product name, e.g. SB623, CTX0E03, MultiStem

    @model_validator(mode="after")
    def _tissue_fits_cell_type(self) -> CellProduct:
        issues = Issues()
        allowed = COMPATIBLE_TISSUES[self.cell_type]
        if self.source_tissue not in allowed:
            issues.add("source_tissue", f"{self.cell_type} do not come from this tissue",
                       self.source_tissue, ", ".join(allowed))
        issues.raise_if_any()
        return self
