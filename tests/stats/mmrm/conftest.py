"""Fixtures for the MMRM tests: the shared reference data sets and cached fits.

The reference files live in ``<repo>/../shared/reference/mmrm/`` (see DESIGN.md); extra R
output made for these tests (with the script that made it) is in ``reference/`` here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mmrm_refdata import FEV_FORMULA, LOCAL, SAS_REFERENCE, SHARED

from strokecell.stats.mmrm import MMRMResult, fit_mmrm


def _load(path: Path) -> Any:
    if not path.is_file():
        pytest.skip(f"reference file {path} not found")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def fev() -> pd.DataFrame:
    path = SHARED / "fev_data.csv"
    if not path.is_file():
        pytest.skip(f"reference data {path} not found")
    return pd.read_csv(path)


@pytest.fixture(scope="session")
def bcva() -> pd.DataFrame:
    path = SHARED / "bcva_data.csv"
    if not path.is_file():
        pytest.skip(f"reference data {path} not found")
    return pd.read_csv(path)


@pytest.fixture(scope="session")
def nlme_ref() -> Any:
    return _load(SHARED / "fev_nlme_reference.json")


@pytest.fixture(scope="session")
def sas_ref() -> Any:
    return _load(SHARED / "fev_sas_reference.json")


@pytest.fixture(scope="session")
def nlme_extra() -> Any:
    return _load(LOCAL / "nlme_structures.json")


@pytest.fixture(scope="session")
def fev_us_sas(fev: pd.DataFrame) -> MMRMResult:
    """The model of fev_sas_reference.json, coded as SAS was (reference levels)."""
    return fit_mmrm(fev, FEV_FORMULA.format(cov="us"), reference=SAS_REFERENCE)


@pytest.fixture(scope="session")
def fev_us(fev: pd.DataFrame) -> MMRMResult:
    return fit_mmrm(fev, FEV_FORMULA.format(cov="us"))
