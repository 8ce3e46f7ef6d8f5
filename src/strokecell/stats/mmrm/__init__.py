"""Mixed models for repeated measures (MMRM), validated against SAS PROC MIXED and R.

No I/O and no dependency on the rest of strokecell (except :mod:`strokecell.errors`).
See ``docs/mmrm.md`` for the likelihood, the covariance parameterisations and the df.
"""

from strokecell.stats.mmrm._api import fit_mmrm, fit_mmrm_batch
from strokecell.stats.mmrm._fit import Convergence
from strokecell.stats.mmrm._inference import DF_METHODS
from strokecell.stats.mmrm._result import MMRMResult
from strokecell.stats.mmrm._structures import STRUCTURES
from strokecell.stats.mmrm._vectorized import (
    VectorizedFit,
    arm_visit_contrast,
    arm_visit_design,
    fit_mmrm_vectorized,
)

__all__ = ["DF_METHODS", "STRUCTURES", "Convergence", "MMRMResult", "VectorizedFit",
           "arm_visit_contrast", "arm_visit_design", "fit_mmrm", "fit_mmrm_batch",
           "fit_mmrm_vectorized"]
