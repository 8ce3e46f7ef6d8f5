"""The trial report: self-contained HTML with every section, table cells equal to the analysis
results they came from (checked against independent computations where the statistic is a
simple one), blinding, the degenerate cases and the reproducibility footer."""

from __future__ import annotations

import html as htmllib
import math
import re

import numpy as np
import pandas as pd
import pytest

from strokecell.analysis import PlannedAnalyses
from strokecell.errors import InputError
from strokecell.report import (
    ProtocolSummary,
    Report,
    build_report,
    data_snapshot_hash,
    mean_ci,
)

from .conftest import Frames
from .htmltables import norm, tables

SECTIONS = ["sec-notes", "sec-consort", "sec-baseline", "sec-estimands", "sec-results",
            "sec-multiplicity", "sec-ep-MBI", "sec-ep-FMATOT", "sec-ep-NIHSS", "sec-ep-LESVOL",
            "sec-mrs", "sec-safety", "sec-exploratory", "sec-reproducibility"]


def close(cell: str, value: float, digits: int = 2) -> bool:
    return abs(float(cell) - value) <= 0.5 * 10 ** -digits + 1e-9


def ci(cell: str) -> tuple[float, float]:
    lo, hi = cell.split(" to ")
    return float(lo), float(hi)


def test_html_is_self_contained(report_unblinded: Report, report_blinded: Report) -> None:
    for rep in (report_unblinded, report_blinded):
        html = rep.html
        assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:|//)", html, re.I)
        assert "http://" not in html and "https://" not in html
        assert "url(" not in html and "@import" not in html
        srcs = re.findall(r'<img[^>]+src="([^"]+)"', html)
        assert srcs and all(s.startswith(("data:image/png;base64,", "data:image/svg+xml;base64,"))
                            for s in srcs)
        assert all(h.startswith("#") for h in re.findall(r'href="([^"]+)"', html))


def test_every_section_and_the_title_page(report_unblinded: Report,
                                          planned_unblinded: PlannedAnalyses) -> None:
    html = report_unblinded.html
    for sec in SECTIONS:
        assert f'id="{sec}"' in html, sec
    therapy = tables(html)["tbl-therapy-1"]
    aspects = {norm(r[0]): norm(r[1]) for r in therapy.rows}
    assert aspects["type (cells, source, donor)"].startswith("mesenchymal stem cells from "
                                                            "umbilical cord, allogeneic")
    assert aspects["time (after onset)"] == "10 to 18 days after onset"
    assert aspects["route"] == "intra arterial, middle cerebral artery"
    assert "2.0e7 cells/mL" in aspects["number (dose)"] and "1.5 mL" in aspects["number (dose)"]
    assert "data:image/svg+xml;base64," in html  # CONSORT diagram
    for alt in ("within-arm change", "forest plot by visit", "distribution of the modified "
                "Rankin scale by arm and visit"):
        assert alt in html
    assert "MMRM, composite (worst score after death)" in html
    assert "ANCOVA, observed cases" in html and "Multiple imputation, J2R" in html
    for message in planned_unblinded.messages:  # shown, not hidden
        assert htmllib.escape(message) in html, message
    assert "Treatment: transplant versus control" not in html  # rendered from the structure
    assert "Estimands (ICH E9(R1))" in html


def test_table_cells_equal_the_results(report_unblinded: Report,
                                       planned_unblinded: PlannedAnalyses,
                                       ref_trial: Frames) -> None:
    adsl, bds, adae = ref_trial
    t = tables(report_unblinded.html)
    pa = planned_unblinded
    # Table 1: the printed text, and the mean age recomputed from ADSL
    base = pa["baseline"].table.set_index(["variable", "ARMCD"])
    row = t["tbl-baseline"].row(characteristic="Age (years)")
    assert row["transplant (N = 22)"] == base.loc[("AGE", "transplant"), "text"]
    itt = adsl[(adsl["ITTFL"] == "Y") & (adsl["ARMCD"] == "transplant")]
    assert row["transplant (N = 22)"].startswith(f"{itt['AGE'].mean():.1f} "
                                                 f"({itt['AGE'].std(ddof=1):.1f})")
    # CONSORT: randomised, from ADSL directly
    assert t["tbl-consort"].row(stage="randomised")["All subjects"] == str(
        int((adsl["RANDFL"] == "Y").sum()))
    # LS means (within-arm change) and the differences
    lsm = pa["mmrm:MBI"].tables["lsmeans"].set_index(["AVISIT", "ARMCD"])
    r = t["tbl-lsm-MBI"].row(visit="Month 12", arm="transplant")
    exp = lsm.loc[("month_12", "transplant")]
    assert close(r["LS mean change"], exp["estimate"])
    assert ci(r["95% CI"]) == pytest.approx((exp["lower"], exp["upper"]), abs=0.005)
    assert r["deaths"] == str(int(exp["n_dead"]))
    diff = pa["mmrm:MBI"].table.set_index("AVISIT").loc["month_12"]
    r = t["tbl-diff-MBI"].row(visit="Month 12 (primary)")
    assert close(r["difference"], diff["estimate"]) and close(r["p"], diff["p"], 3)
    # log scale: the ratio
    lv = pa["mmrm:LESVOL"].table.set_index("AVISIT").loc["month_12"]
    assert close(t["tbl-diff-LESVOL"].row(visit="Month 12 (primary)")["ratio"], lv["ratio"], 3)
    # fixed sequence
    mult = pa["multiplicity"].table
    r = t["tbl-multiplicity"].row(order="1")
    assert r["status"] == mult.loc[mult["order"] == 1, "status"].iloc[0]
    # sensitivity: ANCOVA and MI (jump to reference)
    anc = pa["ancova:MBI"].table.iloc[0]
    r = t["tbl-sens-MBI"].row(analysis="ANCOVA, observed cases")
    assert close(r["estimate"], anc["estimate"]) and r["details"] == (
        f"n = {int(anc['n_treatment'])} vs {int(anc['n_reference'])}")
    mi = pa["mi:MBI"].table.set_index("method").loc["J2R"]
    assert close(t["tbl-sens-MBI"].row(analysis="Multiple imputation, J2R")["estimate"],
                 mi["estimate"])
    # mRS: shift, dichotomy, distribution (counted from BDS)
    shift = pa["mrs"].table.set_index("AVISIT").loc["month_12"]
    r = t["tbl-mrs-shift"].row(visit="Month 12")
    assert close(r["common OR"], shift["common_or"])
    dich = pa["mrs"].tables["dichotomy"].set_index("AVISIT").loc["month_12"]
    assert close(t["tbl-mrs-dichotomy"].row(visit="Month 12")["risk difference"], dich["rd"], 3)
    mrs = bds[(bds["PARAMCD"] == "MRS") & (bds["AVISIT"] == "month_12")
              & (bds["ANL01FL"] == "Y")].merge(adsl[["USUBJID", "ARMCD"]], on="USUBJID")
    mrs = mrs[mrs["USUBJID"].isin(adsl.loc[adsl["ITTFL"] == "Y", "USUBJID"])]
    mrs = mrs.sort_values("DTYPE", na_position="first").drop_duplicates("USUBJID")
    ctrl = mrs[mrs["ARMCD"] == "control"]
    r = t["tbl-mrs-distribution"].row(visit="Month 12", arm="control")
    assert r["n"] == str(len(ctrl))
    assert r["mRS 6"].startswith(f"{int((ctrl['AVAL'] == 6).sum())} (")
    # safety: subjects with any / serious events, recomputed from ADAE
    saf = adsl[(adsl["SAFFL"] == "Y") & (adsl["ARMCD"] == "control")]
    ae = adae[(adae["TRTEMFL"] == "Y") & adae["USUBJID"].isin(saf["USUBJID"])]
    r = t["tbl-safety-overview"].row(category="serious")
    n_ser = ae.loc[ae["AESER"] == "Y", "USUBJID"].nunique()
    assert r["control: subjects (%)"] == f"{n_ser} ({100 * n_ser / len(saf):.1f}%)"
    soc = pa["safety"].tables["by_soc_term"]
    one = soc[(soc["AETERM"] == "Pneumonia") & (soc["ARMCD"] == "Total")].iloc[0]
    r = t["tbl-safety-soc"].row(**{"body system / term": "Pneumonia"})
    assert r["Total"].startswith(f"{int(one['subjects'])} (")
    assert len(t["tbl-deaths"].rows) == int((saf["DTHFL"] == "Y").sum()) + int(
        (adsl[(adsl["SAFFL"] == "Y") & (adsl["ARMCD"] == "transplant")]["DTHFL"] == "Y").sum())
    assert t["tbl-stopping"].row(scope="all arms")["status"] == pa["safety"].info[
        "stopping_rule_status"]
    ex = pa["exploratory"].table
    one = ex[(ex["PARAMCD"] == "BDNF") & (ex["AVISIT"] == "month_3")
             & (ex["ARMCD"] == "transplant")].iloc[0]
    r = t["tbl-exploratory"].row(parameter="BDNF*", visit="Month 3", arm="transplant")
    assert close(r["geometric mean ratio to baseline"], one["gm_ratio"], 3)


def test_mean_ci_is_the_t_interval() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(10, 3, 17)
    lo, hi = mean_ci(float(x.mean()), float(x.std(ddof=1)), len(x))
    stats = pytest.importorskip("statsmodels.stats.weightstats")
    ref = stats.DescrStatsW(x).tconfint_mean(alpha=0.05)
    assert (lo, hi) == pytest.approx(ref, rel=1e-12)
    assert all(math.isnan(v) for v in mean_ci(1.0, 0.0, 1))


def test_blinded_report_is_pooled(report_blinded: Report, planned_blinded: PlannedAnalyses,
                                  ref_summary: ProtocolSummary) -> None:
    html = report_blinded.html
    assert report_blinded.blinded
    for arm in ref_summary.arms:
        assert arm.label not in html
    assert not re.search(r"transplant", html, re.I)
    t = tables(html)
    assert t["tbl-baseline"].header == ["characteristic", "Total (N = 45)"]
    assert t["tbl-safety-overview"].header == ["category", "All subjects: subjects (%)",
                                               "events"]
    assert "tbl-arms" not in t and "tbl-multiplicity" not in t
    assert 'id="sec-ep-MBI"' in html and "tbl-pooled-MBI" in t
    pooled = planned_blinded["pooled:MBI"].table.set_index("AVISIT").loc["month_12"]
    r = t["tbl-pooled-MBI"].row(visit="Month 12")
    assert close(r["mean"], pooled["mean"])
    lo, hi = mean_ci(pooled["mean"], pooled["sd"], int(pooled["n"]))
    assert ci(r["95% CI of the mean"]) == pytest.approx((lo, hi), abs=0.005)


def test_blinded_report_names_no_arm(tmp_path: object, ref_protocol: object) -> None:
    """Distinctive arm codes and names, so that a scan of the whole file is meaningful."""
    from pathlib import Path

    from analysis.simulated import simulated_trial
    from strokecell.analysis import StoppingRule, run_planned_analyses
    from strokecell.protocol import load_protocol
    from strokecell.report import reproducibility_info

    from .conftest import REFERENCE
    from .summary import summary_from_protocol

    text = REFERENCE.read_text(encoding="utf-8")
    text = (text.replace("code: transplant", "code: zqcells")
            .replace("code: control", "code: zqcomp")
            .replace("name: hUC-MSC intra-arterial plus rehabilitation", "name: Zeta cells arm")
            .replace("name: Routine rehabilitation", "name: Zeta comparator arm"))
    path = Path(str(tmp_path)) / "protocol.yaml"
    path.write_text(text, encoding="utf-8")
    protocol = load_protocol(path)
    frames = simulated_trial(protocol, n=30, seed=11)
    planned = run_planned_analyses(protocol, *frames, seed=1, unblinded=False,
                                   stopping_rule=StoppingRule(k=2, arm="zqcells"))
    assert any("zqcells" in m for m in planned.messages)  # the analysis names the arm ...
    rep = build_report(planned, summary_from_protocol(protocol), blinded=True,
                       reproducibility=reproducibility_info(*frames))
    low = rep.html.lower()
    for word in ("zqcells", "zqcomp", "zeta cells", "zeta comparator", "zeta"):
        assert word not in low, word  # ... the blinded report does not
    assert "stopping rule on arm [arm]: blinded view counts all arms" in rep.html


def test_blinded_report_refuses_unblinded_analyses(planned_unblinded: PlannedAnalyses,
                                                   ref_summary: ProtocolSummary,
                                                   repro: dict[str, object]) -> None:
    with pytest.raises(InputError, match="blinded report"):
        build_report(planned_unblinded, ref_summary, reproducibility=repro, blinded=True)


def test_degenerate_trial_renders_messages(ref_protocol: object, ref_trial: Frames,
                                           ref_summary: ProtocolSummary) -> None:
    """No month-12 data, no adverse events in the cell arm, every mRS at the ceiling."""
    from strokecell.analysis import run_planned_analyses
    from strokecell.report import reproducibility_info

    adsl, bds, adae = (f.copy() for f in ref_trial)
    bds = bds[bds["AVISIT"] != "month_12"].copy()
    post = (bds["PARAMCD"] == "MRS") & (bds["ABLFL"] != "Y")
    bds.loc[post, "AVAL"] = 6.0
    bds.loc[post, "CHG"] = 6.0 - bds.loc[post, "BASE"]
    adae = adae[~adae["USUBJID"].isin(adsl.loc[adsl["ARMCD"] == "transplant", "USUBJID"])]
    planned = run_planned_analyses(ref_protocol, adsl, bds, adae,  # type: ignore[arg-type]
                                   seed=5, unblinded=True, imputations=5)
    rep = build_report(planned, ref_summary, blinded=False,
                       reproducibility=reproducibility_info(adsl, bds, adae))
    html = rep.html
    for text in ("visit month_12 has no data for MBI", "arm transplant has no adverse events",
                 "all subjects at mRS 6 (the ceiling): odds ratio not estimable",
                 "visit month_12 has no data for MBI: MI not done"):
        assert htmllib.escape(text) in html, text
    t = tables(html)
    assert [r[6] for r in t["tbl-multiplicity"].rows] == ["not estimable", "not tested"]
    assert t["tbl-mrs-shift"].rows == [["Not estimable: see the notes from the analyses above."]]
    assert "Month 12" not in " ".join(" ".join(r) for r in t["tbl-lsm-MBI"].rows)


def test_empty_adverse_events(ref_protocol: object, ref_trial: Frames,
                              ref_summary: ProtocolSummary) -> None:
    from strokecell.analysis import run_planned_analyses
    from strokecell.report import reproducibility_info

    adsl, bds, adae = ref_trial
    none = adae.iloc[0:0]
    planned = run_planned_analyses(ref_protocol, adsl, bds, none,  # type: ignore[arg-type]
                                   seed=5, unblinded=False)
    rep = build_report(planned, ref_summary, blinded=True,
                       reproducibility=reproducibility_info(adsl, bds, none))
    assert "no treatment-emergent adverse events recorded" in rep.html
    assert "No treatment-emergent adverse events." in rep.html


def test_reproducibility_footer(report_unblinded: Report, repro: dict[str, object],
                                planned_unblinded: PlannedAnalyses, ref_trial: Frames,
                                ref_summary: ProtocolSummary) -> None:
    html = report_unblinded.html
    footer = html[html.index('id="sec-reproducibility"'):]
    assert str(repro["data_snapshot"]) in footer and len(str(repro["data_snapshot"])) == 64
    assert f"strokecell {repro['software_version']}" in footer
    for key, seed in planned_unblinded.seeds.items():
        assert f"{key} = {seed}" in footer
    assert data_snapshot_hash(*ref_trial) == repro["data_snapshot"]
    changed = ref_trial[0].copy()
    changed.loc[0, "AGE"] = 99
    assert data_snapshot_hash(changed, *ref_trial[1:]) != repro["data_snapshot"]
    with pytest.raises(InputError, match=r"reproducibility\.data_snapshot"):
        build_report(planned_unblinded, ref_summary, blinded=False,
                     reproducibility={"software_version": "0"})


def test_summary_must_list_the_analysed_arms(planned_unblinded: PlannedAnalyses,
                                             ref_summary: ProtocolSummary,
                                             repro: dict[str, object]) -> None:
    from dataclasses import replace

    with pytest.raises(InputError, match=r"summary\.arms"):
        build_report(planned_unblinded, replace(ref_summary, arms=ref_summary.arms[:1]),
                     reproducibility=repro, blinded=False)


def test_no_figure_left_open(report_unblinded: Report) -> None:
    plt = pytest.importorskip("matplotlib.pyplot")
    assert plt.get_fignums() == []
    assert isinstance(report_unblinded.html, str)


def test_write_html(tmp_path: object, report_blinded: Report) -> None:
    from pathlib import Path

    out = report_blinded.write_html(Path(str(tmp_path)) / "r.html")
    assert out.read_text(encoding="utf-8") == report_blinded.html
    assert pd.notna(out.stat().st_size)
