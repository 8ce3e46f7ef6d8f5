"""Single-threaded BLAS while fitting.

The matrices of an MMRM fit are small (visits x visits, coefficients x coefficients), so a
multi-threaded BLAS gains nothing and, on a machine whose cores are busy, loses a lot: its
threads spin waiting for each other (fits measured 5 to 20 times slower under load). While
fitting, the BLAS thread pools are limited to one thread through ``threadpoolctl`` when it is
installed (the previous limits are restored afterwards); without it this is a no-op.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

_state: dict[str, Any] = {"tried": False, "controller": None}


def single_thread_blas() -> AbstractContextManager[Any]:
    """Context manager limiting BLAS to one thread (no-op without threadpoolctl)."""
    if not _state["tried"]:
        _state["tried"] = True
        try:
            from threadpoolctl import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
                ThreadpoolController,
            )

            _state["controller"] = ThreadpoolController()
        except Exception:  # not installed, or a platform it cannot inspect
            _state["controller"] = None
    controller = _state["controller"]
    if controller is None:
        return nullcontext()
    limited: AbstractContextManager[Any] = controller.limit(limits=1, user_api="blas")
    return limited
