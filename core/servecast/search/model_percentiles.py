"""The fast model's percentiles of a search's points (`serving.tails`), computed when asked: a search reports them
for the points it prints and writes, and prices every point only when a percentile target needs them all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from servecast.arrays import FloatArray, IntArray
from servecast.serving.tails import PERCENTILE_COLUMNS, LatencyTails


@dataclass(frozen=True)
class ModelPercentiles:
    """The latency distributions of consecutive blocks of points, in the order of the search's columns."""

    blocks: tuple[LatencyTails, ...]
    starts: IntArray
    """The first row of each block, and after them the number of rows."""

    @classmethod
    def of(cls, blocks: Sequence[LatencyTails]) -> ModelPercentiles:
        sizes = [len(block.ttft.weights) for block in blocks]
        return cls(tuple(blocks), np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))

    def rows(self, index: IntArray) -> dict[str, FloatArray]:
        """Every `PERCENTILE_COLUMNS` column at the rows `index`."""
        index = np.asarray(index, dtype=np.int64)
        result = {column: np.empty(len(index)) for column in PERCENTILE_COLUMNS}
        block = np.searchsorted(self.starts, index, side="right") - 1
        for number in np.unique(block):
            chosen = block == number
            values = self.blocks[number].part(index[chosen] - self.starts[number]).percentiles()
            for column, column_values in values.items():
                result[column][chosen] = column_values
        return result

    def columns(self) -> dict[str, FloatArray]:
        """Every `PERCENTILE_COLUMNS` column at every row."""
        parts = [block.percentiles() for block in self.blocks]
        return {column: np.concatenate([part[column] for part in parts]) for column in PERCENTILE_COLUMNS}
