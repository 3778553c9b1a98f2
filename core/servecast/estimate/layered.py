"""The default estimator: measured tables first, then the calibrated roofline, then the pure roofline.

Resolved once per (op kind, target): the framework version's kernel tables, the system's tables, and the
calibrated model for the framework's kernel choices are picked up front, so a call is numpy work only. Shapes
between a partitioned table's partitions take the model corrected by the nearest partitions' measured ratio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from servecast.arrays import FloatArray
from servecast.domain.hardware import HardwareSpec
from servecast.domain.kernels import KernelChoices
from servecast.estimate.calibrated import CalibratedModel
from servecast.estimate.roofline import roofline_ms
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import EstimateProvenance, OpEstimate, OpKind
from servecast.ops.shapes import normalize_shapes
from servecast.perfdb.grid import MeasuredGrid, PartitionedTable
from servecast.perfdb.neighbours import NeighbourCorrection

TableGrids = Mapping[OpDtype, MeasuredGrid]


@dataclass(frozen=True)
class LayeredEstimator:
    """Estimates one op kind on one target, each point from the best layer that covers it."""

    kind: OpKind
    hardware: HardwareSpec
    tables: Sequence[TableGrids]
    """Measured tables, most specific first (the framework version's kernels, then the system's)."""
    model: CalibratedModel | None
    _corrections: dict[tuple[int, OpDtype], NeighbourCorrection] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __call__(self, shapes: Mapping[str, ArrayLike], dtype: str = OpDtype.BF16) -> OpEstimate:
        op_dtype = OpDtype(dtype)
        s = normalize_shapes(self.kind, shapes)
        if self.model is not None:
            latency = self.model(s, op_dtype)
            level = EstimateProvenance.CALIBRATED_ROOFLINE
        else:
            latency = roofline_ms(self.kind, s, op_dtype, self.hardware)
            level = EstimateProvenance.ROOFLINE
        provenance = np.full(len(latency), level, dtype=np.int8)
        source = np.zeros(len(latency), dtype=np.int16)
        sources = [self._model_source]
        remaining = np.ones(len(latency), dtype=bool)
        for grids in self.tables:
            grid = grids.get(op_dtype)
            if grid is None:
                continue
            chosen = remaining & grid.covers(s)
            if not chosen.any():
                continue
            subset = {name: value[chosen] for name, value in s.items()}
            latency[chosen], provenance[chosen] = grid.estimate(subset, lambda x: self._anchor(x, op_dtype))
            source[chosen] = len(sources)
            sources.append(grid.source)
            remaining &= ~chosen
        for index, grids in enumerate(self.tables):
            grid = grids.get(op_dtype)
            if not remaining.any() or not isinstance(grid, PartitionedTable):
                continue
            subset = {name: value[remaining] for name, value in s.items()}
            factor, applies = self._correction(index, grid, op_dtype)(subset)
            if not applies.any():
                continue
            positions = np.flatnonzero(remaining)[applies]
            latency[positions] *= factor[applies]
            provenance[positions] = EstimateProvenance.EXTRAPOLATED
            source[positions] = len(sources)
            sources.append(
                f"{self._model_source}, scaled by the measured-to-model ratio of the nearest shapes in {grid.source}"
            )
            remaining[positions] = False
        return OpEstimate(latency_ms=latency, provenance=provenance, source=source, sources=tuple(sources))

    @cached_property
    def _model_source(self) -> str:
        """What the numbers no table covers are, in words (built once, not per call)."""
        name = self.hardware.name
        if self.model is None:
            return f"the roofline of {name}'s datasheet peaks"
        return f"{name}'s calibrated roofline, fitted to {', '.join(self.model.calibration.data)}"

    def _correction(self, index: int, table: PartitionedTable, dtype: OpDtype) -> NeighbourCorrection:
        """The neighbour correction of table `index` in `dtype`, built on first use (its ratios cost one model call)."""
        key = (index, dtype)
        if key not in self._corrections:
            self._corrections[key] = NeighbourCorrection(table, lambda x: self._anchor(x, dtype))
        return self._corrections[key]

    def roofline(self, shapes: Mapping[str, ArrayLike], dtype: str = OpDtype.BF16) -> FloatArray:
        """The pure roofline (speed of light) at `shapes`."""
        return roofline_ms(self.kind, normalize_shapes(self.kind, shapes), OpDtype(dtype), self.hardware)

    def _anchor(self, s: Mapping[str, FloatArray], dtype: OpDtype) -> FloatArray:
        if self.model is not None:
            return self.model(s, dtype)
        return roofline_ms(self.kind, s, dtype, self.hardware)


def default_estimator(
    kind: OpKind, hardware: HardwareSpec, kernels: KernelChoices, tables: Sequence[TableGrids]
) -> LayeredEstimator:
    """The core's estimator for `kind`: `tables` (most specific first), the calibrated model, the roofline."""
    return LayeredEstimator(kind, hardware, tuple(tables), CalibratedModel.build(kind, hardware, kernels))
