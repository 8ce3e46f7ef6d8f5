"""Trial report timings (issue 6): the report of 45 subjects x 5 visits in under 10 s, of
2,000 subjects in under 60 s, from the planned analyses to the HTML and the PDF.

The trials are simulated (``strokecell.simulate``) and turned into ADSL/BDS/ADAE by the test
adapter ``tests/analysis/simulated.py``; the protocol summary comes from
``tests/report/summary.py``. ``analysis/`` may not import ``simulate/`` and the adapter is not
part of the package, so this script puts the repository's ``tests/`` folder on ``sys.path``
(acceptable for a bench script; the CLI gets its data sets from the trial database).

Measured per size (unblinded, stopping rule k = 3, 50 imputations, seed 20261126):
``analysis_s`` (run_planned_analyses), ``html_s`` (build_report), ``pdf_s`` (WeasyPrint),
``total_s`` and the sizes; ``blinded_total_s`` for the blinded report (analysis + HTML).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261126
TARGETS = {45: 10.0, 2000: 60.0}


def _imports() -> tuple[Any, Any]:
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from analysis.simulated import simulated_trial  # type: ignore[import-not-found]
    from report.summary import summary_from_protocol  # type: ignore[import-not-found]

    return simulated_trial, summary_from_protocol


def _one(n: int, pdf: bool) -> dict[str, Any]:
    from strokecell.analysis import StoppingRule, run_planned_analyses
    from strokecell.protocol import load_protocol
    from strokecell.report import build_report, pdf_available, reproducibility_info

    simulated_trial, summary_from_protocol = _imports()
    protocol = load_protocol(ROOT / "protocols" / "reference-ich-ia-ucmsc.yaml")
    frames = simulated_trial(protocol, n=n, seed=2026, screen_failures=max(8, n // 6))
    summary = summary_from_protocol(protocol)
    out: dict[str, Any] = {"subjects": n, "visits": len(protocol.schedule.visits),
                           "bds_rows": len(frames[1]), "ae_rows": len(frames[2]),
                           "target_s": TARGETS.get(n)}
    t0 = time.perf_counter()
    planned = run_planned_analyses(protocol, *frames, seed=SEED, unblinded=True,
                                   stopping_rule=StoppingRule(k=3))
    t1 = time.perf_counter()
    rep = build_report(planned, summary, blinded=False,
                       reproducibility=reproducibility_info(*frames, seeds=planned.seeds))
    t2 = time.perf_counter()
    out.update(analysis_s=t1 - t0, html_s=t2 - t1, html_bytes=len(rep.html.encode("utf-8")))
    if pdf and pdf_available():
        with tempfile.TemporaryDirectory() as tmp:
            path = rep.write_pdf(Path(tmp) / "report.pdf")
            out["pdf_bytes"] = path.stat().st_size
        out["pdf_s"] = time.perf_counter() - t2
    else:
        out["pdf_s"] = None
    out["total_s"] = time.perf_counter() - t0
    out["within_target"] = out["target_s"] is None or out["total_s"] < out["target_s"]
    t3 = time.perf_counter()
    blinded = run_planned_analyses(protocol, *frames, seed=SEED, unblinded=False)
    build_report(blinded, summary, blinded=True,
                 reproducibility=reproducibility_info(*frames, seeds=blinded.seeds))
    out["blinded_total_s"] = time.perf_counter() - t3
    return out


def run() -> dict[str, Any]:
    return {str(n): _one(n, pdf=True) for n in TARGETS}


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=2))
