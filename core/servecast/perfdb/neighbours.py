"""Shapes next to a partitioned table: the model corrected by the measured-to-model ratio of the nearest partitions.

A GEMM table holds some (n, k) and not others. A shape whose (n, k) no partition holds gets the model's latency
times the ratio the measurements have to the model at the nearest partitions (in log n, log k), at the same
position on the grid's axes (m). The ratio carries tile-quantisation and wave effects the model does not see from
shapes that share most of them; its weight falls off with distance, so a shape far from every partition keeps the
model's number. Checked out of sample by leaving each model's shapes out (benchmarks/kernels_accuracy.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from servecast.arrays import FloatArray
from servecast.perfdb.grid import Anchor, GridTable, PartitionedTable

NEIGHBOURS = 3
"""Partitions a shape borrows from."""
BANDWIDTH = 0.5
"""Log-distance at which a partition's weight falls to 1/e (a factor 1.65 in n or k)."""
PRIOR_WEIGHT = 0.05
"""Weight of 'no correction': the ratio is shrunk towards 1 as the neighbours' weights fall towards it."""
MIN_SHARE = 0.1
"""Below this share of the weight, the neighbours say too little and the shape keeps the model's number."""


@dataclass(frozen=True)
class NeighbourCorrection:
    """The measured-to-model ratio of `table`'s partitions, lent to the shapes between them."""

    table: PartitionedTable
    anchor: Anchor

    @cached_property
    def _keys(self) -> NDArray[np.float64]:
        return np.log(np.array(list(self.table.parts), dtype=np.float64))

    @cached_property
    def _ratios(self) -> tuple[GridTable, ...]:
        """Per partition, a grid of measured / model latency at its measured points (one model call for all)."""
        shapes = [
            _grid_shapes(grid, dict(zip(self.table.names, key, strict=True))) for key, grid in self.table.parts.items()
        ]
        model = self.anchor({name: np.concatenate([s[name] for s in shapes]) for name in shapes[0]})
        ends = np.cumsum([grid.latency_ms.size for grid in self.table.parts.values()])
        return tuple(
            replace(grid, latency_ms=grid.latency_ms / part.reshape(grid.latency_ms.shape))
            for grid, part in zip(self.table.parts.values(), np.split(model, ends[:-1]), strict=True)
        )

    def __call__(self, s: Mapping[str, FloatArray]) -> tuple[FloatArray, NDArray[np.bool_]]:
        """The factor to multiply the model's latency by at each shape, and where the neighbours are close enough
        to give one (elsewhere the factor is 1)."""
        count = len(next(iter(s.values())))
        factor, applies = np.ones(count), np.zeros(count, dtype=bool)
        if not self.table.parts:
            return factor, applies
        query = np.log(np.stack([s[name] for name in self.table.names], axis=1))
        unique, inverse = np.unique(query, axis=0, return_inverse=True)
        for index, key in enumerate(unique):
            distance = np.sqrt(((self._keys - key) ** 2).sum(axis=1))
            nearest = np.argsort(distance)[:NEIGHBOURS]
            weights = np.exp(-((distance[nearest] / BANDWIDTH) ** 2))
            total = weights.sum() + PRIOR_WEIGHT
            if weights.sum() / total < MIN_SHARE:
                continue
            positions = np.flatnonzero(inverse.reshape(-1) == index)
            at = {name: value[positions] for name, value in s.items()}
            log_ratio = np.zeros(len(positions))
            covered = np.ones(len(positions), dtype=bool)
            for weight, neighbour in zip(weights, nearest, strict=True):
                grid = self._ratios[neighbour]
                covered &= grid.covers(at)
                log_ratio += weight / total * np.log(_interpolated(grid, at))
            factor[positions] = np.where(covered, np.exp(log_ratio), 1.0)
            applies[positions] = covered
        return factor, applies


def _grid_shapes(grid: GridTable, fixed: Mapping[str, float]) -> dict[str, FloatArray]:
    """Every point of `grid` as shape arrays (axes, held and tied parameters, and `fixed`), in the grid's order."""
    mesh = [axis.ravel() for axis in np.meshgrid(*grid.points, indexing="ij")]
    at = dict(zip(grid.axes, mesh, strict=True))
    count = grid.latency_ms.size
    held = {
        name: at[grid.tied[name]] if name in grid.tied else np.full(count, value) for name, value in grid.held.items()
    }
    return {**held, **at, **{name: np.full(count, value) for name, value in fixed.items()}}


def _interpolated(grid: GridTable, s: Mapping[str, FloatArray]) -> FloatArray:
    """The grid's value at `s`, clamped to its edges (the ratio stays what it is at the nearest measured point)."""
    query = np.stack([s[name] for name in grid.axes], axis=1)
    low = np.array([axis[0] for axis in grid.points])
    high = np.array([axis[-1] for axis in grid.points])
    values, _ = grid.interpolate(np.clip(query, low, high))
    return values
