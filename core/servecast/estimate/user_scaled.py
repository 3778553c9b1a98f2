"""A user calibration's kernel corrections: an estimator whose times are divided by the fitted speed of its family."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from servecast.domain.user_calibration import UserCalibration
from servecast.ops.estimator import OpEstimate, OpEstimator, OpKind

SCALED_FAMILIES: dict[str, frozenset[OpKind]] = {
    "gemm.efficiency_scale": frozenset({OpKind.GEMM, OpKind.MOE}),
    "attention.efficiency_scale": frozenset(
        {OpKind.CONTEXT_ATTENTION, OpKind.DECODE_ATTENTION, OpKind.MLA_CONTEXT, OpKind.MLA_DECODE}
    ),
    "communication.efficiency_scale": frozenset(
        {OpKind.ALL_REDUCE, OpKind.ALL_GATHER, OpKind.REDUCE_SCATTER, OpKind.ALL_TO_ALL, OpKind.P2P}
    ),
}
"""The op kinds each speed parameter of a user calibration acts on (elementwise ops keep the shipped estimate)."""


@dataclass(frozen=True)
class UserScaledEstimator:
    """`inner`'s estimates divided by `speed`; each source names the calibration that scaled it."""

    inner: OpEstimator
    speed: float
    parameter: str

    def __call__(self, shapes: Mapping[str, ArrayLike], dtype: str) -> OpEstimate:
        estimate = self.inner(shapes, dtype)
        note = f"calibrated by user data: {self.parameter} {self.speed:.3g}"
        if estimate.source is not None and estimate.sources:
            source = estimate.source
            sources = tuple(f"{text} ({note})" if text else note for text in estimate.sources)
        else:
            source, sources = np.zeros(len(estimate.latency_ms), dtype=np.int16), (note,)
        return OpEstimate(estimate.latency_ms / self.speed, estimate.provenance, source, sources)


def user_scaled(op: OpKind, estimator: OpEstimator, calibration: UserCalibration) -> OpEstimator:
    """`estimator` corrected by the calibration's fitted speed of `op`'s family (itself where none is fitted)."""
    for parameter, kinds in SCALED_FAMILIES.items():
        speed = calibration.value(parameter)
        if op in kinds and speed is not None and speed != 1.0:
            return UserScaledEstimator(estimator, speed, parameter)
    return estimator
