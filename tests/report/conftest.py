"""Fixtures of the trial-report tests: the simulated 45-patient reference trial (the adapter of
tests/analysis), its planned analyses blinded and unblinded, and the reports built once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.simulated import simulated_trial  # tests/ is on sys.path (rootdir of packages)
from strokecell.analysis import PlannedAnalyses, StoppingRule, run_planned_analyses
from strokecell.protocol import Protocol, load_protocol
from strokecell.report import ProtocolSummary, Report, build_report, reproducibility_info

from .summary import summary_from_protocol

REFERENCE = Path(__file__).resolve().parents[2] / "protocols" / "reference-ich-ia-ucmsc.yaml"
SEED = 20261126

Frames = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


@pytest.fixture(scope="session")
def ref_protocol() -> Protocol:
    return load_protocol(REFERENCE)


@pytest.fixture(scope="session")
def ref_summary(ref_protocol: Protocol) -> ProtocolSummary:
    return summary_from_protocol(ref_protocol)


@pytest.fixture(scope="session")
def ref_trial(ref_protocol: Protocol) -> Frames:
    return simulated_trial(ref_protocol, n=45, seed=2026)


@pytest.fixture(scope="session")
def planned_unblinded(ref_protocol: Protocol, ref_trial: Frames) -> PlannedAnalyses:
    return run_planned_analyses(ref_protocol, *ref_trial, seed=SEED, unblinded=True,
                                stopping_rule=StoppingRule(k=3), imputations=20)


@pytest.fixture(scope="session")
def planned_blinded(ref_protocol: Protocol, ref_trial: Frames) -> PlannedAnalyses:
    return run_planned_analyses(ref_protocol, *ref_trial, seed=SEED, unblinded=False,
                                stopping_rule=StoppingRule(k=3))


@pytest.fixture(scope="session")
def repro(ref_trial: Frames, planned_unblinded: PlannedAnalyses) -> dict[str, object]:
    return reproducibility_info(*ref_trial, seeds=planned_unblinded.seeds)


@pytest.fixture(scope="session")
def report_unblinded(planned_unblinded: PlannedAnalyses, ref_summary: ProtocolSummary,
                     repro: dict[str, object]) -> Report:
    return build_report(planned_unblinded, ref_summary, reproducibility=repro, blinded=False)


@pytest.fixture(scope="session")
def report_blinded(planned_blinded: PlannedAnalyses, ref_summary: ProtocolSummary,
                   repro: dict[str, object]) -> Report:
    return build_report(planned_blinded, ref_summary, reproducibility=repro, blinded=True)
