"""Test and bench helper: a protocol as the report's :class:`ProtocolSummary`.

The function lives in the CLI glue (``strokecell._commands._trial_report``), the layer that
may import both ``protocol/`` and ``report/``; this module re-exports it for the tests and
``bench/bench_report.py``.
"""

from __future__ import annotations

from strokecell._commands._trial_report import summary_from_protocol

__all__ = ["summary_from_protocol"]
