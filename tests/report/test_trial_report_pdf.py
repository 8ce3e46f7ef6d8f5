"""The PDF (WeasyPrint) of the trial report, and the DSMB closed-session report.

One full PDF is rendered (the slow part, about 3 s); the DSMB report's PDF is short. Pages are
counted with poppler's ``pdfinfo`` and read with ``pdftotext`` where installed
(``scripts/ensure-system-deps.sh`` installs them), else with WeasyPrint's own layout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from strokecell.analysis import (
    PlannedAnalyses,
    StoppingRule,
    arm_codes,
    dsmb_closed_report,
)
from strokecell.errors import PermissionDeniedError
from strokecell.protocol import Protocol
from strokecell.report import (
    CLOSED_SESSION,
    ProtocolSummary,
    Report,
    build_dsmb_report,
    pdf_available,
)

from .conftest import Frames
from .htmltables import tables

needs_pdf = pytest.mark.skipif(not pdf_available(), reason="WeasyPrint or Pango not installed "
                               "(pip install weasyprint; scripts/ensure-system-deps.sh)")


def _pages(pdf: Path, html: str) -> int:
    if shutil.which("pdfinfo"):
        out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
        return int(re.search(r"^Pages:\s+(\d+)", out.stdout, re.M).group(1))  # type: ignore[union-attr]
    import weasyprint  # type: ignore[import-untyped]

    return len(weasyprint.HTML(string=html).render().pages)


@needs_pdf
def test_pdf_is_a_valid_multi_page_pdf(tmp_path: Path, report_unblinded: Report) -> None:
    out = report_unblinded.write_pdf(tmp_path / "report.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF")
    assert _pages(out, report_unblinded.html) >= 12
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert "Participant flow (CONSORT)" in text and "Reproducibility" in text
        assert "page 1 of" in text


def _dsmb(planned: PlannedAnalyses, summary: ProtocolSummary, protocol: Protocol,
          trial: Frames, repro: dict[str, object]) -> Report:
    adsl, _, adae = trial
    closed = dsmb_closed_report(adsl, adae, arm_codes(protocol), unblinded=True,
                                stopping_rule=StoppingRule(k=3))
    return build_dsmb_report(planned, summary, reproducibility=repro, dsmb=closed)


def test_dsmb_report_by_arm(planned_unblinded: PlannedAnalyses, ref_summary: ProtocolSummary,
                            ref_protocol: Protocol, ref_trial: Frames,
                            repro: dict[str, object]) -> None:
    rep = _dsmb(planned_unblinded, ref_summary, ref_protocol, ref_trial, repro)
    assert rep.kind == "dsmb" and not rep.blinded
    assert rep.html.count(CLOSED_SESSION) >= 3  # banner, title page, page margin (CSS), end
    assert f'@top-center {{ content: "{CLOSED_SESSION}";' in rep.html
    t = tables(rep.html)
    assert "control: subjects (%)" in t["tbl-safety-overview"].header
    assert t["tbl-deaths"].header[1] == "arm"
    disc = t["tbl-discontinuations"]
    assert {r[0] for r in disc.rows} <= {"transplant", "control"}
    assert "sec-ep-MBI" in rep.info["sections"]


def test_dsmb_report_refuses_blinded(planned_blinded: PlannedAnalyses,
                                     ref_summary: ProtocolSummary,
                                     repro: dict[str, object]) -> None:
    with pytest.raises(PermissionDeniedError, match="unblinded"):
        build_dsmb_report(planned_blinded, ref_summary, reproducibility=repro)


@needs_pdf
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_dsmb_pdf_says_closed_session_on_every_page(
        tmp_path: Path, planned_unblinded: PlannedAnalyses, ref_summary: ProtocolSummary,
        ref_protocol: Protocol, ref_trial: Frames, repro: dict[str, object]) -> None:
    rep = _dsmb(planned_unblinded, ref_summary, ref_protocol, ref_trial, repro)
    out = rep.write_pdf(tmp_path / "dsmb.pdf")
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    pages = [p for p in text.split("\f") if p.strip()]
    assert len(pages) >= 3
    assert all(CLOSED_SESSION in p for p in pages)
