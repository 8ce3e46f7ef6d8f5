"""Paths and constants shared by the MMRM tests (a uniquely named helper module)."""

from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[4] / "shared" / "reference" / "mmrm"
LOCAL = Path(__file__).resolve().parent / "reference"
FEV_FORMULA = "FEV1 ~ ARMCD * AVISIT + RACE + SEX + {cov}(AVISIT | USUBJID)"
BCVA_FORMULA = "BCVA_CHG ~ ARMCD * AVISIT + RACE + BCVA_BL + us(AVISIT | USUBJID)"
# the CLASS statement of fev_sas_reference.json: RACE(ref='Asian') AVISIT(ref='VIS1') ...
SAS_REFERENCE = {"RACE": "Asian", "AVISIT": "VIS1", "SEX": "Male", "ARMCD": "PBO"}


def simulate(n_subjects: int = 30, n_visits: int = 4, *, seed: int = 1, rho: float = 0.5,
             p_missing: float = 0.0, covariate: bool = False):  # type: ignore[no-untyped-def]
    """A small two-arm trial in long format (ID, ARM, VIS, [X], Y); seeded."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    sd = np.linspace(1.0, 2.0, n_visits)
    corr = rho ** np.abs(np.subtract.outer(np.arange(n_visits), np.arange(n_visits)))
    chol = np.linalg.cholesky(corr * np.outer(sd, sd))
    rows = []
    for i in range(n_subjects):
        arm = "TRT" if i % 2 else "PBO"
        x = rng.normal()
        e = chol @ rng.normal(size=n_visits)
        for t in range(n_visits):
            if t > 0 and rng.random() < p_missing:
                continue
            y = 10 + t + (0.5 * t if arm == "TRT" else 0.0) + (0.8 * x if covariate else 0) + e[t]
            rec = {"ID": f"S{i:03d}", "ARM": arm, "VIS": f"V{t + 1}", "Y": y}
            if covariate:
                rec["X"] = x
            rows.append(rec)
    return pd.DataFrame(rows)
