"""Whole-step estimates: every op of a stage's graph estimated, summed, and the time split by provenance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from servecast.arrays import FloatArray
from servecast.models.ops import Op, OpGraph
from servecast.ops.estimator import EstimateProvenance, OpEstimator, OpKind


@dataclass(frozen=True)
class OpTiming:
    """One op's latency per occurrence, and where each point's number came from."""

    op: Op
    latency_ms: FloatArray
    provenance: NDArray[np.int8]
    source: str = ""
    """Where the first point's number came from (a table and its publisher, or the model), where the estimator says."""

    @property
    def total_ms(self) -> FloatArray:
        return self.op.count * self.latency_ms


@dataclass(frozen=True)
class StepEstimate:
    """The time of one step of a pipeline stage, at every point of the step shape."""

    timings: tuple[OpTiming, ...]

    @property
    def total_ms(self) -> FloatArray:
        total: FloatArray = np.sum([timing.total_ms for timing in self.timings], axis=0)
        return total

    def provenance_shares(self) -> dict[EstimateProvenance, FloatArray]:
        """Fraction of the step's time estimated at each provenance level (the shares sum to 1 per point)."""
        total = self.total_ms
        shares = {}
        for level in EstimateProvenance:
            time = np.sum([np.where(t.provenance == level, t.total_ms, 0.0) for t in self.timings], axis=0)
            shares[level] = np.divide(time, total, out=np.zeros_like(total), where=total > 0)
        return shares


def estimate_graph(graph: OpGraph, estimator_for: Callable[[OpKind], OpEstimator]) -> StepEstimate:
    """Estimate every op of `graph` with the estimator of its kind (one vectorised call per op)."""
    timings = []
    for op in graph.ops:
        estimate = estimator_for(op.kind)(op.estimator_shape, op.dtype)
        timings.append(OpTiming(op, estimate.latency_ms, estimate.provenance, estimate.source_of(0)))
    return StepEstimate(tuple(timings))
