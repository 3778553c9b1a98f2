"""A measured grid: exact hits, interpolation in log space inside it, roofline-anchored extrapolation outside."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from servecast.arrays import FloatArray
from servecast.ops.estimator import EstimateProvenance

Anchor = Callable[[Mapping[str, FloatArray]], FloatArray]
"""A model evaluated at shapes: outside the grid the table keeps its ratio to this model at the nearest edge."""


@dataclass(frozen=True)
class GridTable:
    """Latencies on the full grid `points[0] x points[1] x ...` of the shape parameters `axes`."""

    axes: tuple[str, ...]
    points: tuple[FloatArray, ...]
    latency_ms: FloatArray
    held: Mapping[str, float]
    """The other shape parameters' values over the whole table; shapes that differ are not covered."""
    tied: Mapping[str, str] = field(default_factory=dict)
    """Held parameters that equal an axis at every point (kv_len held at 0 means kv_len = q_len): name -> axis."""
    source: str = ""
    """What the numbers are and who measured them (the sidecar's kernel and measurement)."""

    def measured_points(self) -> Iterator[tuple[dict[str, float], float]]:
        """Every grid point as (its full shape, its latency in ms), in the table's order."""
        for position in np.ndindex(self.latency_ms.shape):
            at = {name: float(values[i]) for name, values, i in zip(self.axes, self.points, position, strict=True)}
            yield {**self.held, **at}, float(self.latency_ms[position])

    def covers(self, s: Mapping[str, FloatArray]) -> NDArray[np.bool_]:
        """Which shapes this table can answer (their held parameters match the table's)."""
        covered = np.ones(len(next(iter(s.values()))), dtype=bool)
        for name, value in self.held.items():
            covered &= s[name] == (s[self.tied[name]] if name in self.tied else value)
        return covered

    def estimate(self, s: Mapping[str, FloatArray], anchor: Anchor) -> tuple[FloatArray, NDArray[np.int8]]:
        """Latency and provenance at every shape in `s` (call with covered shapes only)."""
        query = np.stack([s[name] for name in self.axes], axis=1)
        low = np.array([axis[0] for axis in self.points])
        high = np.array([axis[-1] for axis in self.points])
        clamped = np.clip(query, low, high)
        outside = (query != clamped).any(axis=1)
        values, exact = self.interpolate(clamped)
        provenance = np.where(
            outside,
            EstimateProvenance.EXTRAPOLATED,
            np.where(exact, EstimateProvenance.MEASURED, EstimateProvenance.INTERPOLATED),
        ).astype(np.int8)
        if outside.any():
            at_edge = {name: self._at_edge(name, clamped[outside], value[outside]) for name, value in s.items()}
            at_query = {name: value[outside] for name, value in s.items()}
            values[outside] *= anchor(at_query) / anchor(at_edge)
        return values, provenance

    def _at_edge(self, name: str, clamped: FloatArray, value: FloatArray) -> FloatArray:
        """Parameter `name` at the grid's nearest edge: axes clamped, tied parameters following their axis."""
        axis = self.tied.get(name, name)
        return clamped[:, self.axes.index(axis)] if axis in self.axes else value

    def interpolate(self, clamped: FloatArray) -> tuple[FloatArray, NDArray[np.bool_]]:
        """Multilinear interpolation of log latency over log shape values at points inside the grid (one row per
        point, one column per axis); grid points are returned as stored, and flagged."""
        count, dims = clamped.shape
        lower = np.empty((count, dims), dtype=np.intp)
        weight = np.zeros((count, dims))
        exact = np.ones(count, dtype=bool)
        for i, axis in enumerate(self.points):
            if len(axis) == 1:
                lower[:, i] = 0
                continue
            index = np.clip(np.searchsorted(axis, clamped[:, i], side="right") - 1, 0, len(axis) - 2)
            lower[:, i] = index
            log_axis = np.log(axis)
            weight[:, i] = (np.log(clamped[:, i]) - log_axis[index]) / (log_axis[index + 1] - log_axis[index])
            exact &= (clamped[:, i] == axis[index]) | (clamped[:, i] == axis[index + 1])
        log_latency = np.log(self.latency_ms)
        result = np.zeros(count)
        for corner in itertools.product((0, 1), repeat=dims):
            offsets = np.array(corner)
            factor = np.prod(np.where(offsets == 1, weight, 1 - weight), axis=1)
            corner_index = tuple(np.minimum(lower[:, i] + offsets[i], len(self.points[i]) - 1) for i in range(dims))
            result += factor * log_latency[corner_index]
        values = np.exp(result)
        if exact.any():
            grid_index = tuple(np.searchsorted(self.points[i], clamped[exact, i]) for i in range(dims))
            values[exact] = self.latency_ms[grid_index]
        return values, exact


@dataclass(frozen=True)
class PartitionedTable:
    """Separate grids for exact values of the `names` parameters (a GEMM's (n, k)): a shape is covered only where
    its values are one of the partitions' and that partition's grid covers it."""

    names: tuple[str, ...]
    parts: Mapping[tuple[float, ...], GridTable]
    source: str = ""

    def _groups(self, s: Mapping[str, FloatArray]) -> list[tuple[GridTable, NDArray[np.intp]]]:
        """The partition grid of each set of equal keys in `s`, with the positions holding that key."""
        candidates = np.flatnonzero(np.isin(s[self.names[0]], self._first_values))
        if not len(candidates):  # the common case in a search: none of these shapes was measured
            return []
        keys = np.stack([s[name][candidates] for name in self.names], axis=1)
        unique, inverse = np.unique(keys, axis=0, return_inverse=True)
        groups = []
        for index, key in enumerate(map(tuple, unique.tolist())):
            grid = self.parts.get(key)
            if grid is not None:
                groups.append((grid, candidates[inverse.reshape(-1) == index]))
        return groups

    @cached_property
    def _first_values(self) -> FloatArray:
        return np.array(sorted({key[0] for key in self.parts}))

    def measured_points(self) -> Iterator[tuple[dict[str, float], float]]:
        """Every point of every partition as (its full shape, its latency in ms)."""
        for key, grid in self.parts.items():
            for shape, latency in grid.measured_points():
                yield {**shape, **dict(zip(self.names, key, strict=True))}, latency

    def covers(self, s: Mapping[str, FloatArray]) -> NDArray[np.bool_]:
        covered = np.zeros(len(next(iter(s.values()))), dtype=bool)
        for grid, positions in self._groups(s):
            covered[positions] = grid.covers({name: value[positions] for name, value in s.items()})
        return covered

    def estimate(self, s: Mapping[str, FloatArray], anchor: Anchor) -> tuple[FloatArray, NDArray[np.int8]]:
        """Latency and provenance at every shape in `s` (call with covered shapes only)."""
        count = len(next(iter(s.values())))
        latency, provenance = np.empty(count), np.empty(count, dtype=np.int8)
        for grid, positions in self._groups(s):
            latency[positions], provenance[positions] = grid.estimate(
                {name: value[positions] for name, value in s.items()}, anchor
            )
        return latency, provenance


MeasuredGrid = GridTable | PartitionedTable
"""What one data type of a measured table is to the estimators."""
