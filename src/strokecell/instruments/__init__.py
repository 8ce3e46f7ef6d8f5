"""instruments layer of strokecell (see DESIGN.md). Public API listed in __all__."""

__all__: list[str] = []
