"""report layer of strokecell (see DESIGN.md). Public API listed in __all__.

``evidence_page``: what published trials with a protocol's route and cell type found (HTML).
"""

from strokecell.report.evidence_page import (
    EvidencePage,
    PooledBlock,
    Tier,
    build_evidence_page,
    render_evidence_page,
    write_evidence_page,
)

__all__ = [
    "EvidencePage",
    "PooledBlock",
    "Tier",
    "build_evidence_page",
    "render_evidence_page",
    "write_evidence_page",
]
