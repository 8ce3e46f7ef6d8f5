"""web layer of strokecell (see DESIGN.md): the JSON API under ``/api/v1`` and the
server-rendered pages, over the services of ``strokecell.trial``. Public API listed in
__all__; see docs/web.md."""

from strokecell.web.app import create_app
from strokecell.web.core.config import Settings

__all__ = ["Settings", "create_app"]
