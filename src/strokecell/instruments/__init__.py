"""instruments layer: clinical scales as data files, one scoring engine, the biomarker panel.

Each scale is ``scales/<code>.yaml`` (items, allowed values, sections, rules, bands, source),
validated when first loaded; :func:`load_instrument` returns an :class:`Instrument` that
validates item values and scores them::

    from strokecell.instruments import load_instrument
    result = load_instrument("mbi").score({"feeding": 10, ...})
    result.total, result.band, result.max_total, result.mode

A ``kind: composite`` scale (``fma_total`` = ``fma_ue`` + ``fma_le``) is a
:class:`CompositeInstrument`: the same calls, given the items of all its components.

The biomarker panel (``biomarkers.yaml``) and its unit conversions live in
:mod:`strokecell.instruments.biomarkers`; pint is imported only when a conversion runs.
This layer imports nothing of strokecell except :mod:`strokecell.errors`.
"""

from strokecell.instruments._loader import ScaleFileError, list_instruments, load_instrument
from strokecell.instruments.biomarkers import (
    Biomarker,
    BiomarkerValue,
    biomarker_panel,
    convert_biomarker,
)
from strokecell.instruments.engine import (
    CompositeInstrument,
    Instrument,
    ScoreResult,
    ScoreWarning,
)
from strokecell.instruments.fhir import to_fhir_questionnaire

__all__ = [
    "Biomarker",
    "BiomarkerValue",
    "CompositeInstrument",
    "Instrument",
    "ScaleFileError",
    "ScoreResult",
    "ScoreWarning",
    "biomarker_panel",
    "convert_biomarker",
    "list_instruments",
    "load_instrument",
    "to_fhir_questionnaire",
]
