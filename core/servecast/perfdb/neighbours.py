"""Shapes next to a partitioned table: the model corrected by the measured-to-model ratio of the nearest partitions.

A GEMM table holds some (n, k) and not others. A shape whose (n, k) no partition holds gets the model's latency
times the ratio the measurements have to the model at the nearest partitions (in log n, log k), at the same
position on the grid's axes (m). The ratio carries tile-quantisation and wave effects the model does not see from
shapes that share most of them; its weight falls off with distance, so a shape far from every partition keeps the
model's number. Checked out of sample by leaving each model's shapes out (benchmarks/kernels_accuracy.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
    _curves: dict[tuple[tuple[str, ...], tuple[float, ...]], tuple[FloatArray, FloatArray] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

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
        to give one (elsewhere the factor is 1). Tables with more than one axis, or with parameters tied to their
        axis, lend nothing."""
        count = len(next(iter(s.values())))
        factor, applies = np.ones(count), np.zeros(count, dtype=bool)
        if not self.table.parts or any(len(grid.axes) != 1 or grid.tied for grid in self._ratios):
            return factor, applies
        axis = self._ratios[0].axes[0]
        others = tuple(sorted(name for name in s if name != axis))
        unique, inverse = np.unique(np.stack([s[name] for name in others], axis=1), axis=0, return_inverse=True)
        for index, row in enumerate(unique):
            curve = self._curve(others, tuple(row.tolist()), axis)
            if curve is None:
                continue
            positions = np.flatnonzero(inverse.reshape(-1) == index)
            factor[positions] = np.exp(np.interp(np.log(s[axis][positions]), *curve))
            applies[positions] = True
        return factor, applies

    def _curve(
        self, names: tuple[str, ...], values: tuple[float, ...], axis: str
    ) -> tuple[FloatArray, FloatArray] | None:
        """Log axis points and log factors of one shape (every parameter but the axis), built on first use: the
        search asks for the same few GEMM shapes again and again. None where the neighbours lend nothing."""
        key = (names, values)
        if key not in self._curves:
            self._curves[key] = self._build_curve(dict(zip(names, values, strict=True)), axis)
        return self._curves[key]

    def _build_curve(self, shape: Mapping[str, float], axis: str) -> tuple[FloatArray, FloatArray] | None:
        """The neighbours' weighted ratio on the union of their axis points, its product with the model made
        non-decreasing along the axis (a larger GEMM never takes less time; single measurements jitter), as a
        factor over the model in log space (np.interp holds it at the edges)."""
        distance = np.sqrt(((self._keys - np.log([shape[name] for name in self.table.names])) ** 2).sum(axis=1))
        nearest = np.argsort(distance)[:NEIGHBOURS]
        weights = np.exp(-((distance[nearest] / BANDWIDTH) ** 2))
        total = weights.sum() + PRIOR_WEIGHT
        if weights.sum() / total < MIN_SHARE:
            return None
        arrays = {name: np.array([value]) for name, value in shape.items()}
        if not all(self._ratios[n].covers(arrays)[0] for n in nearest):
            return None
        points = np.unique(np.concatenate([self._ratios[n].points[0] for n in nearest]))
        log_points = np.log(points)
        log_ratio = np.zeros(len(points))
        for weight, neighbour in zip(weights / total, nearest, strict=True):
            grid = self._ratios[neighbour]
            log_ratio += weight * np.interp(log_points, np.log(grid.points[0]), np.log(grid.latency_ms))
        on_points = {name: np.full(len(points), value) for name, value in shape.items()}
        model = self.anchor({**on_points, axis: points})
        corrected = _non_decreasing(model * np.exp(log_ratio))
        return log_points, np.log(corrected / model)


def _grid_shapes(grid: GridTable, fixed: Mapping[str, float]) -> dict[str, FloatArray]:
    """Every point of `grid` as shape arrays (axes, held and tied parameters, and `fixed`), in the grid's order."""
    mesh = [axis.ravel() for axis in np.meshgrid(*grid.points, indexing="ij")]
    at = dict(zip(grid.axes, mesh, strict=True))
    count = grid.latency_ms.size
    held = {
        name: at[grid.tied[name]] if name in grid.tied else np.full(count, value) for name, value in grid.held.items()
    }
    return {**held, **at, **{name: np.full(count, value) for name, value in fixed.items()}}


def _non_decreasing(values: FloatArray) -> FloatArray:
    """The geometric mean of the upper and lower non-decreasing envelopes of `values`: non-decreasing, and neither
    lifted by every dip (the upper envelope alone) nor lowered by every peak."""
    upper = np.maximum.accumulate(values)
    lower = np.minimum.accumulate(values[::-1])[::-1]
    envelope: FloatArray = np.sqrt(upper * lower)
    return envelope
