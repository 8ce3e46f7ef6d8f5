"""trial layer of strokecell (see DESIGN.md). Public API listed in __all__.

So far: the allocation engines (``strokecell.trial.randomization``), pure and seeded.
"""

from strokecell.trial.randomization import (
    Allocation,
    AllocationRatio,
    BlockPosition,
    Factors,
    MinimizationRandomizer,
    MinimizationScores,
    PermutedBlockRandomizer,
    Randomizer,
    SimpleRandomizer,
    restore_randomizer,
)

__all__ = [
    "Allocation",
    "AllocationRatio",
    "BlockPosition",
    "Factors",
    "MinimizationRandomizer",
    "MinimizationScores",
    "PermutedBlockRandomizer",
    "Randomizer",
    "SimpleRandomizer",
    "restore_randomizer",
]
