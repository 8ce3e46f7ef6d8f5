"""HTML to PDF with WeasyPrint (PyPI ``weasyprint``; it needs Pango from the system:
Debian ``libpango-1.0-0 libpangoft2-1.0-0``, installed by ``scripts/ensure-system-deps.sh``).

WeasyPrint is imported on first use, so that the HTML report works without it; a missing
package or system library gives a :class:`PdfUnavailableError` that says what to install.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from types import ModuleType

from strokecell.errors import StrokecellError

__all__ = ["PdfUnavailableError", "html_to_pdf", "pdf_available"]


class PdfUnavailableError(StrokecellError):
    """WeasyPrint or the system libraries it needs are missing."""


def _weasyprint() -> ModuleType:
    try:
        return importlib.import_module("weasyprint")
    except (ImportError, OSError) as exc:  # OSError: Pango not found by cffi
        raise PdfUnavailableError(
            f"PDF output needs WeasyPrint and Pango ({exc}); install them with "
            "'pip install weasyprint==70.0' and 'scripts/ensure-system-deps.sh' "
            "(Debian: libpango-1.0-0 libpangoft2-1.0-0)") from exc


def pdf_available() -> bool:
    try:
        _weasyprint()
    except PdfUnavailableError:
        return False
    return True


def html_to_pdf(html: str, path: str | Path | None = None) -> bytes:
    """Render a self-contained HTML document (no external resources are fetched) to PDF;
    write it to ``path`` when given and return the bytes."""
    wp = _weasyprint()
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)

    # data: URIs only; anything else stops the rendering (the report is self-contained)
    fetcher = wp.URLFetcher(allowed_protocols=["data"], fail_on_errors=True)
    data: bytes = wp.HTML(string=html, url_fetcher=fetcher).write_pdf()
    if path is not None:
        Path(path).write_bytes(data)
    return data
