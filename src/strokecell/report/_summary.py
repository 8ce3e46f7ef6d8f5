"""What the trial report needs to know about the protocol, as plain data.

``report/`` may not import ``protocol/`` (DESIGN.md layers): the caller (the CLI, the web
layer) turns its protocol into a :class:`ProtocolSummary`. The four aspects of the cell
therapy (type, time, route, number) are text, as the title page prints them.
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import pandas as pd

from strokecell.errors import InputError, Problem

__all__ = ["ArmSummary", "CellTherapy", "EndpointSummary", "ProtocolSummary", "VisitSummary",
           "data_snapshot_hash", "reproducibility_info"]


@dataclass(frozen=True)
class CellTherapy:
    """The four aspects of a cell therapy, as text (DESIGN.md)."""

    type: str  # cell type, source tissue, autologous or allogeneic
    time: str  # days after onset
    route: str
    number: str  # cells, volume, concentration, administrations


@dataclass(frozen=True)
class ArmSummary:
    code: str
    label: str
    kind: str  # "cell_therapy" or "control"
    planned_n: int | None = None
    description: str = ""
    therapy: CellTherapy | None = None


@dataclass(frozen=True)
class VisitSummary:
    code: str
    label: str
    timing: str = ""  # e.g. "day 0", "month 3 (window -14/+14 days)"
    baseline: bool = False


@dataclass(frozen=True)
class EndpointSummary:
    label: str
    role: str  # primary, key_secondary, secondary, safety, exploratory
    paramcd: str  # AE for adverse events
    visits: tuple[str, ...] = ()
    order: int | None = None


@dataclass(frozen=True)
class ProtocolSummary:
    """The protocol as the report shows it. ``arms`` in protocol order (the control arm is
    the one of kind ``control``); ``visits`` in time order."""

    study_id: str
    title: str
    version: str
    condition: str
    arms: tuple[ArmSummary, ...]
    visits: tuple[VisitSummary, ...]
    endpoints: tuple[EndpointSummary, ...]
    planned_n: int | None = None
    sponsor: str = ""
    source: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)  # further title-page lines

    @property
    def therapy(self) -> CellTherapy | None:
        """The cell therapy of the first cell-therapy arm (None when no arm has one)."""
        return next((a.therapy for a in self.arms if a.therapy is not None), None)

    def visit_label(self, code: str) -> str:
        return next((v.label for v in self.visits if v.code == code), code)

    def arm_label(self, code: str) -> str:
        return next((a.label for a in self.arms if a.code == code), code)

    def validate(self) -> None:
        problems = []
        if not self.arms:
            problems.append(Problem("summary.arms", "must list the protocol's arms", [],
                                    "at least one ArmSummary"))
        codes = [a.code for a in self.arms]
        if len(set(codes)) != len(codes):
            problems.append(Problem("summary.arms", "arm codes repeat", codes, "unique codes"))
        if not self.visits:
            problems.append(Problem("summary.visits", "must list the visit schedule", [],
                                    "at least one VisitSummary"))
        if problems:
            raise InputError(problems, context="protocol summary")


def data_snapshot_hash(*frames: pd.DataFrame) -> str:
    """SHA-256 of the analysis data sets (ADSL, BDS, ADAE): columns sorted, rows in their
    order, values as CSV text. The same data give the same hash on any machine."""
    digest = hashlib.sha256()
    for frame in frames:
        ordered = frame[sorted(frame.columns)]
        digest.update(ordered.to_csv(index=False, date_format="%Y-%m-%d",
                                     float_format="%.12g").encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def reproducibility_info(*frames: pd.DataFrame, seeds: Mapping[str, int] | None = None,
                         **extra: Any) -> dict[str, Any]:
    """The reproducibility footer's content: ``data_snapshot`` (hash of the data sets),
    ``software_version`` (strokecell), ``seeds``, the versions of the numerical packages,
    the time of generation (UTC) and any ``extra`` (e.g. ``database``)."""
    return {"data_snapshot": data_snapshot_hash(*frames),
            "software_version": _version("strokecell"),
            "seeds": dict(seeds or {}),
            "python": platform.python_version(),
            "packages": {n: _version(n) for n in ("numpy", "scipy", "pandas", "matplotlib")},
            "generated_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **extra}
