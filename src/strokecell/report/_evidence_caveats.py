"""The standing caveats of the evidence page, each number with its source.

From ``domain/README.md`` section 6.1 ("take-home for effect-size priors") and the data set
itself (docs/evidence.md). Citations are identifiers the page turns into links.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CAVEATS", "Caveat"]


@dataclass(frozen=True)
class Caveat:
    text: str
    citations: tuple[str, ...]


CAVEATS: tuple[Caveat, ...] = (
    Caveat("The large, blinded, placebo- or sham-controlled randomised trials were neutral on "
           "their primary end points: InveST (Prasad 2014), MASTERS (Hess 2017), TREASURE "
           "(Houkin 2024), STARTING-2 (Chung 2021), IBIS (Moniche 2023) and ACTIsSIMA.",
           ("doi:10.1161/STROKEAHA.114.007028", "doi:10.1016/S1474-4422(17)30046-7",
            "doi:10.1001/jamaneurol.2023.5200", "doi:10.1212/WNL.0000000000011440",
            "doi:10.1016/S1474-4422(22)00526-9", "nct:NCT02448641")),
    Caveat("Pooled benefits across randomised trials of MSC in ischaemic stroke are small: "
           "NIHSS mean difference -1.69 (95% CI -2.66 to -0.73), mRS -0.26 (-0.50 to -0.01), "
           "mortality RR 0.44 (0.28 to 0.69) (15 RCTs; Stem Cells Transl Med 2024;13(9):886).",
           ("url:https://academic.oup.com/stcltm/article/13/9/886/7736084",)),
    Caveat("Large gains in Barthel index and Fugl-Meyer (about +10 points at 3-6 months) come "
           "mainly from small, open-label trials (Xue et al. 2018, 23 Asian trials: BI +10.10 "
           "(3.07 to 17.14) and FMA +10.82 (6.45 to 15.18) at 6 months), which are likely "
           "optimistic.",
           ("url:https://pmc.ncbi.nlm.nih.gov/articles/PMC5957058",)),
    Caveat("The Cochrane review of stem-cell transplantation for ischaemic stroke (Boncoraglio "
           "et al. 2019; about 7 RCTs, about 400 participants) found a small NIHSS benefit of "
           "low certainty and no clear effect on mRS or BI.",
           ("doi:10.1002/14651858.CD007231.pub3",)),
    Caveat("Only numbers read from a table or the text of a trial report enter a pooled "
           "estimate; trials that report p-values, medians or percentages only are listed "
           "with what they reported but never pooled (docs/evidence.md). Non-randomised "
           "trials (allocation by alternation or not described) and rows marked K (not "
           "re-read in a public source) deserve the least weight.",
           ()),
)
