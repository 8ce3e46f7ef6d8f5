"""The evidence page of a protocol: matching trials, the closest pooled subgroup with its
forest plot, caveats, and a citation for every number (trials.csv as shipped)."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest

from strokecell.errors import InputError
from strokecell.report import build_evidence_page, render_evidence_page, write_evidence_page

# The reference protocol's aspects, as the CLI reads them from
# protocols/reference-ich-ia-ucmsc.yaml (protocol codes, not data-set codes).
REFERENCE: dict[str, Any] = dict(route="intra_arterial", cell_type="mesenchymal_stem_cells",
                 condition="intracerebral_haemorrhage", phase="subacute")


def _trial_ids(html: str, tier: str) -> list[str]:
    start = html.index(f"<h3>{tier}")
    end = html.index("<h3>", start + 4)
    return re.findall(r'data-trial="([^"]+)"', html[start:end])


def test_reference_protocol_tiers_and_pooled_subgroup() -> None:
    page = build_evidence_page(**REFERENCE)
    tiers = {t.name: [r["trial_id"] for r in t.rows] for t in page.tiers}
    # trials.csv: intra-arterial MSC = Yuan (the source case); other intra-arterial trials =
    # RECOVER-Stroke (ALDH-br) and IBIS (BM-MNC, two arms); MSC by other routes = Bang,
    # STARTING, STARTING-2, ISIS-HERMES, AMASCIS, Bhasin, Law (all IV).
    assert tiers["same route and cell type"] == ["yuan_ucmsc_ich"]
    assert tiers["same route, other cell types"] == ["savitz2019", "moniche2023",
                                                     "moniche2023"]
    assert sorted(tiers["same cell type, other routes"]) == sorted(
        ["bang2005", "lee2010", "chung2021", "jaillard2020", "decelis2022", "bhasin2011",
         "law2021"])
    yuan = page.tiers[0].rows[0]
    assert yuan["stroke_match"] and yuan["phase_match"]
    # No intra-arterial trial has usable numbers; among MSC trials only STARTING's deaths
    # (4/16 vs 21/36 at 260 weeks) can be pooled.
    assert page.pooled_tier == "same cell type, any route"
    assert [b.title for b in page.pooled] == ["death (any cause) at 260 weeks"]
    block = page.pooled[0]
    assert block.headline.startswith("RR 0.43 [0.18, 1.05]")
    assert block.studies[0]["source"][0]["url"] == "https://doi.org/10.1002/stem.430"
    assert any("wider subgroup" in n for n in page.notes)


def test_rendered_page_has_trials_forest_caveats_and_citations(tmp_path: Path) -> None:
    path = write_evidence_page(tmp_path / "evidence.html", title="SC-ICH-IA-UCMSC",
                               **REFERENCE)
    html = path.read_text(encoding="utf-8")
    assert _trial_ids(html, "same route and cell type") == ["yuan_ucmsc_ich"]
    # Yuan's finding as reported, with where it was read
    assert "modified Barthel index higher in the treatment group" in html
    match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert match is not None
    assert base64.b64decode(match.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    # caveats from domain/README.md section 6.1, each number with its source
    assert "neutral on their primary end points" in html
    assert "-1.69 (95% CI -2.66 to -0.73)" in html
    assert "https://academic.oup.com/stcltm/article/13/9/886/7736084" in html
    assert 'href="https://doi.org/10.1002/stem.430"' in html


def test_page_accepts_data_set_codes_and_ich_stereotactic() -> None:
    page = build_evidence_page(route="intracerebral", cell_type="nsc", phase="chronic")
    assert page.tiers[0].rows == ()
    # Li 2013 (intracerebral BM-MNC) is the only intracerebral trial with numbers:
    # BI, NIHSS and "improved" at 6 months.
    assert page.pooled_tier == "same route, any cell type"
    assert len(page.pooled) == 3
    html = render_evidence_page(page)
    assert html.count("data:image/png;base64,") == 3


def test_page_without_poolable_numbers_says_so() -> None:
    page = build_evidence_page(route="intranasal", cell_type="cd34_positive_cells")
    assert page.pooled == () and page.pooled_tier is None
    assert any("No trial sharing this route or cell type" in n for n in page.notes)
    assert "No pooled estimate" in render_evidence_page(page)


def test_unknown_aspect_value_names_allowed() -> None:
    with pytest.raises(InputError, match="intra_arterial"):
        build_evidence_page(route="carotid", cell_type="msc")
