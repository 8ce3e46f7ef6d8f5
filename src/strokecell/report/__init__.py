"""report layer of strokecell (see DESIGN.md). Public API listed in __all__.

``evidence_page``: what published trials with a protocol's route and cell type found (HTML).
``build_report`` / ``build_dsmb_report``: the trial report and the DSMB closed-session report
from the planned analyses (one self-contained HTML file; PDF with WeasyPrint), with the
protocol given as a :class:`ProtocolSummary` (plain data) and a reproducibility record
(:func:`reproducibility_info`). See docs/analysis.md, section "Report".
"""

from strokecell.report._pdf import PdfUnavailableError, html_to_pdf, pdf_available
from strokecell.report._plots import OKABE_ITO
from strokecell.report._summary import (
    ArmSummary,
    CellTherapy,
    EndpointSummary,
    ProtocolSummary,
    VisitSummary,
    data_snapshot_hash,
    reproducibility_info,
)
from strokecell.report._tables import Table, mean_ci
from strokecell.report._trial_report import (
    CLOSED_SESSION,
    Report,
    build_dsmb_report,
    build_report,
)
from strokecell.report.evidence_page import (
    EvidencePage,
    PooledBlock,
    Tier,
    build_evidence_page,
    render_evidence_page,
    write_evidence_page,
)

__all__ = [
    "CLOSED_SESSION",
    "OKABE_ITO",
    "ArmSummary",
    "CellTherapy",
    "EndpointSummary",
    "EvidencePage",
    "PdfUnavailableError",
    "PooledBlock",
    "ProtocolSummary",
    "Report",
    "Table",
    "Tier",
    "VisitSummary",
    "build_dsmb_report",
    "build_evidence_page",
    "build_report",
    "data_snapshot_hash",
    "html_to_pdf",
    "mean_ci",
    "pdf_available",
    "render_evidence_page",
    "reproducibility_info",
    "write_evidence_page",
]
