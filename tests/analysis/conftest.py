"""Fixtures of the analysis tests: the reference protocol and a simulated 45-patient trial."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from strokecell.protocol import Protocol, load_protocol

from .simulated import demo_like_trial, simulated_trial

REFERENCE = Path(__file__).resolve().parents[2] / "protocols" / "reference-ich-ia-ucmsc.yaml"

Frames = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


@pytest.fixture(scope="session")
def protocol() -> Protocol:
    return load_protocol(REFERENCE)


@pytest.fixture(scope="session")
def trial(protocol: Protocol) -> Frames:
    """ADSL, BDS (worst-score rows derived) and ADAE of a simulated reference trial."""
    return simulated_trial(protocol, n=45, seed=2026)


@pytest.fixture(scope="session")
def demo_like(protocol: Protocol) -> Frames:
    """The simulated trial as the demo records it (each parameter at its scheduled visits
    only; a loss to follow-up and a missed final visit in each arm)."""
    return demo_like_trial(protocol, n=45, seed=2026)


@pytest.fixture
def frames(trial: Frames) -> Frames:
    """Copies a test may change."""
    return trial[0].copy(), trial[1].copy(), trial[2].copy()
