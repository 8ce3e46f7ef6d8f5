"""The report of a trial recorded as the demo records it (each parameter at the visits the
protocol schedules; a loss to follow-up and a missed final visit in each arm): what the
demo report got wrong, checked in the HTML."""

from __future__ import annotations

import base64
import re

import pytest

from analysis.simulated import demo_like_trial  # tests/ is on sys.path
from strokecell.analysis import PlannedAnalyses, run_planned_analyses
from strokecell.protocol import Protocol
from strokecell.report import ProtocolSummary, Report, build_report, reproducibility_info

from .htmltables import norm, tables


@pytest.fixture(scope="module")
def demo_planned(ref_protocol: Protocol) -> PlannedAnalyses:
    frames = demo_like_trial(ref_protocol)
    return run_planned_analyses(ref_protocol, *frames, seed=20260, unblinded=True,
                                imputations=10)


@pytest.fixture(scope="module")
def demo_report(ref_protocol: Protocol, demo_planned: PlannedAnalyses,
                ref_summary: ProtocolSummary) -> Report:
    frames = demo_like_trial(ref_protocol)
    return build_report(demo_planned, ref_summary, blinded=False,
                        reproducibility=reproducibility_info(*frames,
                                                             seeds=demo_planned.seeds))


def _section(html: str, sec: str) -> str:
    start = html.index(f'id="{sec}"')
    end = html.find('<section', start + 1)
    return html[start:end if end > 0 else None]


def test_fugl_meyer_modelled_and_imputed_at_month_12_only(demo_report: Report) -> None:
    t = tables(demo_report.html)
    assert [norm(r[0]) for r in t["tbl-lsm-FMATOT"].rows] == ["Month 12", "Month 12"]
    sens = _section(demo_report.html, "sec-ep-FMATOT")
    assert "Multiple imputation, MAR" in sens and "not estimable" not in sens
    text = re.sub(r"\s+", " ", sens.replace("\u00a0", " "))
    assert "Visits: Month 12, those at which the protocol collects this parameter" in text
    assert "covariance us;" in text or "covariance toep;" in text  # never empty
    assert "observed values" not in demo_report.html


def test_consort_lists_loss_to_follow_up_once(demo_report: Report,
                                              demo_planned: PlannedAnalyses) -> None:
    t = tables(demo_report.html)["tbl-consort"]
    stages = [(norm(r[0]), norm(r[1])) for r in t.rows]
    assert stages.count(("lost to follow-up", "")) == 1
    assert ("discontinued", "lost to follow-up") not in stages
    assert all(reason != "not recorded" for _, reason in stages)
    for arm in ("transplant", "control"):
        def n(stage: str, arm: str = arm) -> int:
            return int(t.row(stage=stage, reason="")[arm])
        assert n("allocated") == n("completed") + n("discontinued") + n("lost to follow-up")
    svg = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', demo_report.html)
    assert svg is not None
    drawing = base64.b64decode(svg.group(1)).decode("utf-8")
    assert "lost to follow-up (n =" not in drawing  # not a bullet under discontinued
    assert drawing.count("Lost to follow-up (n =") == 2  # one per arm
