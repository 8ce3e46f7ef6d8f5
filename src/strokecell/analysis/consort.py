"""CONSORT flow counts (Schulz, Altman & Moher 2010, CONSORT 2010 flow diagram).

From ADSL (screen failures are rows with ``RANDFL == "N"`` and a ``SCRFREAS``): assessed for
eligibility (screened), excluded with reasons, randomised, then per arm: allocated, received
and not received the allocated intervention, then follow-up, where every allocated subject
is counted exactly once:

* ``lost to follow-up``: ``DCSREAS == "LOST TO FOLLOW-UP"``;
* ``discontinued`` with each other ``DCSREAS`` (death, withdrawal, ...);
* ``completed``: no discontinuation and ``COMPLFL == "Y"`` (a missed visit is not a
  discontinuation: the derivation sets COMPLFL for a subject whose follow-up ended without
  one);
* ``ongoing``: neither (still in follow-up at the data cut-off); only listed when some are.

so that allocated = completed + discontinued + lost to follow-up (+ ongoing). Then analysed
(in the ITT population with at least one post-baseline value of the primary endpoint when
BDS is given) and excluded from analysis.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from strokecell.analysis.result import AnalysisResult

__all__ = ["CONSORT_COLUMNS", "consort_flow"]

CONSORT_COLUMNS = ["stage", "ARMCD", "reason", "n"]
LOST = "LOST TO FOLLOW-UP"


def consort_flow(adsl: pd.DataFrame, arms: Sequence[str], *, bds: pd.DataFrame | None = None,
                 primary_paramcd: str | None = None, by_arm: bool = True) -> AnalysisResult:
    """The flow counts; with ``by_arm=False`` (blinded) the arm stages are pooled (``ALL``)."""
    rows: list[dict[str, object]] = []
    messages: list[str] = []

    def add(stage: str, arm: str, n: int, reason: str = "") -> None:
        rows.append({"stage": stage, "ARMCD": arm, "reason": reason, "n": int(n)})

    rand = adsl["RANDFL"] == "Y"
    add("screened", "ALL", len(adsl))
    excluded = adsl[~rand]
    add("excluded", "ALL", len(excluded))
    if excluded.empty:
        messages.append("no screen failures in ADSL: screened equals randomised")
    for reason, n in excluded["SCRFREAS"].fillna("NOT RECORDED").value_counts().sort_index(
            ).items():
        add("excluded", "ALL", int(n), str(reason))
    add("randomised", "ALL", int(rand.sum()))
    analysed_ids: set[str] | None = None
    if bds is not None and primary_paramcd is not None:
        post = bds[(bds["PARAMCD"] == primary_paramcd) & (bds["ANL01FL"] == "Y") &
                   (bds["ABLFL"].fillna("N") != "Y") & bds["AVAL"].notna() &
                   bds["DTYPE"].isna()]
        analysed_ids = set(post["USUBJID"])
    groups = [(a, adsl["ARMCD"] == a) for a in arms] if by_arm else [("ALL", adsl["ARMCD"]
                                                                      .isin(arms))]
    ongoing_any = bool((rand & adsl["DCSREAS"].isna() & (adsl["COMPLFL"] != "Y")).any())
    for arm, in_arm in groups:
        sub = adsl[rand & in_arm]
        if sub.empty:
            messages.append(f"arm {arm} has no randomised subjects")
        add("allocated", arm, len(sub))
        add("received", arm, int((sub["RECFL"] == "Y").sum()))
        add("not received", arm, int((sub["RECFL"] != "Y").sum()))
        stopped = sub["DCSREAS"].notna()
        lost = stopped & (sub["DCSREAS"] == LOST)
        disc = sub[stopped & ~lost]
        add("discontinued", arm, len(disc))
        for reason, n in disc["DCSREAS"].value_counts().sort_index().items():
            add("discontinued", arm, int(n), str(reason))
        add("lost to follow-up", arm, int(lost.sum()))
        add("completed", arm, int((~stopped & (sub["COMPLFL"] == "Y")).sum()))
        ongoing = int((~stopped & (sub["COMPLFL"] != "Y")).sum())
        if ongoing_any:
            add("ongoing", arm, ongoing)
        if ongoing:
            messages.append(f"{'arm ' + arm if by_arm else 'all arms'}: {ongoing} "
                            "subject(s) neither discontinued nor at the end of follow-up "
                            "(still in follow-up at the data cut-off)")
        itt = sub[sub["ITTFL"] == "Y"]
        analysed = itt if analysed_ids is None else itt[itt["USUBJID"].isin(analysed_ids)]
        add("analysed", arm, len(analysed))
        add("excluded from analysis", arm, len(sub) - len(analysed))
    return AnalysisResult("consort", pd.DataFrame(rows, columns=CONSORT_COLUMNS), messages,
                          {"by_arm": by_arm, "primary_paramcd": primary_paramcd,
                           "identity": "allocated = completed + discontinued + lost to "
                           "follow-up" + (" + ongoing" if ongoing_any else ""),
                           "analysed": "ITT with a post-baseline value of the primary "
                           "endpoint" if analysed_ids is not None else "ITT"})
