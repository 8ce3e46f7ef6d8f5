"""``strokecell demo`` end to end (issue 7: under a minute on this machine): the reference
protocol's 45 patients through the trial services on a fresh SQLite file, the audit-chain
check, the users file and the report (HTML; the PDF is timed apart, it is optional).

Measured once (a run is ~1 minute and writes ~110,000 audit rows): ``total_s`` (trial +
report, what ``make demo`` prints), ``trial_s`` (set-up to study lock, audit check
included), ``report_s`` (analysis data sets, planned analyses, HTML),
``report_with_pdf_s`` (the report built again with its PDF, when WeasyPrint is
available), the counts, the five slowest services with their calls and seconds, and
``target_s``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEED = 20260
TARGET_S = 60.0


def run() -> dict[str, Any]:
    from strokecell._commands.demo import run_demo, run_demo_trial

    protocol = ROOT / "protocols" / "reference-ich-ia-ucmsc.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t0 = time.perf_counter()
        run_demo(protocol, seed=SEED)
        result = run_demo_trial(protocol, out, seed=SEED, pdf=False)
        total = time.perf_counter() - t0
        pdf_s: float | None = None
        try:
            from strokecell.report import pdf_available

            if pdf_available():
                t1 = time.perf_counter()
                run_demo_trial_pdf(out, result)
                pdf_s = time.perf_counter() - t1
        except ImportError:
            pdf_s = None
    trial = result["trial"]
    slowest = dict(list(trial["service_seconds"].items())[:5])
    return {
        "subjects": trial["n_randomized"], "screened": trial["n_screened"],
        "forms_saved": trial["forms_saved"], "service_calls": trial["service_calls"],
        "audit_rows": result["audit_chain"]["rows_checked"],
        "total_s": round(total, 2), "trial_s": result["seconds"]["trial"],
        "report_s": result["seconds"]["report"],
        "report_with_pdf_s": round(pdf_s, 2) if pdf_s else None,
        "slowest_services": slowest, "seed": SEED, "target_s": TARGET_S,
        "within_target": total <= TARGET_S,
    }


def run_demo_trial_pdf(out: Path, result: dict[str, Any]) -> None:
    """The report again, with its PDF (same database, same reader)."""
    from strokecell._commands._trial_report import build_trial_report

    users = (out / "demo-users.txt").read_text(encoding="utf-8").splitlines()
    row = next(line.split("\t") for line in users if line.startswith("statistician\t"))
    build_trial_report(result["files"]["database_url"], out / "report.html",
                       pdf=out / "report.pdf", username=row[0], password=row[3],
                       role="statistician", study=result["trial"]["study"], seed=SEED)
