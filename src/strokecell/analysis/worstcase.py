"""Worst-score rows after death: the composite strategy for death (ICH E9(R1)).

For a subject who died, each parameter with a worst score (mRS 6, modified Barthel 0,
Barthel 0, Fugl-Meyer 0, NIHSS 42; none for lesion volume and biomarkers) gets, at every
post-baseline visit the protocol schedules for that parameter
(:func:`~strokecell.analysis.datasets.scheduled_visits`: Fugl-Meyer of the reference
protocol only at month 12) and due on or after the date of death, a BDS row with
``DTYPE = "WORST"``, ``AVAL`` the worst score, ``SRCSEQ = "ADSL.DTHDT"``. A visit at which
the parameter is not collected gets none (a worst score there would be the only value of
the visit, and the analyses would try to model a visit without observed data). Existing
rows are kept; a visit that already has an analysed row for the parameter gets none.
"""

from __future__ import annotations

import pandas as pd

from strokecell.analysis.datasets import PARAMS, scheduled_visits
from strokecell.protocol import Protocol

__all__ = ["derive_worst_case"]


def derive_worst_case(adsl: pd.DataFrame, bds: pd.DataFrame, protocol: Protocol
                      ) -> pd.DataFrame:
    """``bds`` with the worst-score rows of dead subjects appended (idempotent)."""
    if bds["DTYPE"].eq("WORST").any():
        return bds
    dead = adsl[(adsl["DTHFL"] == "Y") & adsl["DTHDT"].notna() & adsl["RANDDT"].notna()]
    visits = [(i, v) for i, v in enumerate(protocol.schedule.visits) if not v.baseline]
    observed = set(zip(bds.loc[bds["ANL01FL"] == "Y", "USUBJID"],
                       bds.loc[bds["ANL01FL"] == "Y", "PARAMCD"],
                       bds.loc[bds["ANL01FL"] == "Y", "AVISIT"], strict=True))
    base = bds[(bds["ABLFL"] == "Y") & bds["AVAL"].notna()].drop_duplicates(
        ["USUBJID", "PARAMCD"]).set_index(["USUBJID", "PARAMCD"])
    visitn = bds.drop_duplicates("AVISIT").set_index("AVISIT")["AVISITN"]
    collected = {code: set(scheduled_visits(protocol, code)) for code in PARAMS}
    new = []
    for subj in dead.itertuples(index=False):
        death_day = (subj.DTHDT - subj.RANDDT).days
        for i, visit in visits:
            if visit.target_day < death_day:
                continue
            for code, prm in PARAMS.items():
                if prm.worst is None or (subj.USUBJID, code) not in base.index:
                    continue
                if visit.code not in collected[code]:
                    continue
                if (subj.USUBJID, code, visit.code) in observed:
                    continue
                b = float(base.loc[(subj.USUBJID, code), "AVAL"])
                new.append({"USUBJID": subj.USUBJID, "PARAMCD": code, "PARAM": prm.label,
                            "AVISIT": visit.code,
                            "AVISITN": float(visitn.get(visit.code, float(i))),
                            "ADT": pd.NaT, "ADY": float("nan"), "AVAL": prm.worst,
                            "BASE": b, "CHG": prm.worst - b, "ABLFL": "N", "ANL01FL": "Y",
                            "DTYPE": "WORST", "SRCSEQ": "ADSL.DTHDT"})
    if not new:
        return bds
    extra = pd.DataFrame(new).astype({"ADT": "datetime64[ns]"})
    return pd.concat([bds, extra[bds.columns.intersection(extra.columns)]],
                     ignore_index=True)
