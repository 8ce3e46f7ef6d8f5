"""CLI: `strokecell protocol` (placeholder until its layer exists)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this family's commands to ``app``."""
