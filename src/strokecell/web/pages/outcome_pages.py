"""The study-level outcome plots (what the analysis data sets let the caller see)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from strokecell.web.pages._render import Page
from strokecell.web.presenters import outcome_plots

router = APIRouter()


@router.get("/outcomes")
def outcomes_page(request: Request) -> Response:
    page = Page.of(request)
    return page.render("outcomes.html", plots=outcome_plots(page.db, page.ctx))
