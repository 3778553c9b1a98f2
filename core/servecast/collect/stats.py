"""From repeated timings of one shape to its measurement: the median, and which repeats were outliers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

OUTLIER_MADS = 3.0
"""A repeat further than this many scaled median absolute deviations from the median is an outlier."""
MAD_SCALE = 1.4826
"""Scales the median absolute deviation to a standard deviation for normally distributed timings."""
JITTER_FLOOR = 0.01
"""Deviations under 1 % of the median are timer jitter, never outliers (repeats often tie, making the MAD 0)."""


@dataclass(frozen=True)
class PointTiming:
    """The timings of one shape: the median is the table's number; outliers are reported, not dropped."""

    samples_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return float(np.median(self.samples_ms))

    @property
    def outliers(self) -> int:
        samples = np.asarray(self.samples_ms)
        deviation = np.abs(samples - np.median(samples))
        threshold = max(OUTLIER_MADS * MAD_SCALE * float(np.median(deviation)), JITTER_FLOOR * self.median_ms)
        return int((deviation > threshold).sum())

    @property
    def spread(self) -> float:
        """(max - min) / median of the repeats."""
        return (max(self.samples_ms) - min(self.samples_ms)) / self.median_ms


@dataclass(frozen=True)
class OutlierReport:
    """How noisy a table's timings were, in a sentence the sidecar and the console share."""

    points: int
    noisy_points: int
    repeats: int
    worst_point: str | None
    worst_outliers: int

    @classmethod
    def of(cls, labelled: Sequence[tuple[str, PointTiming]]) -> OutlierReport:
        counts = [(timing.outliers, label) for label, timing in labelled]
        worst = max(counts, default=(0, None))
        repeats = max((len(timing.samples_ms) for _, timing in labelled), default=0)
        return cls(
            len(counts), sum(1 for count, _ in counts if count), repeats, worst[1] if worst[0] else None, worst[0]
        )

    def sentence(self) -> str:
        rule = f"beyond {OUTLIER_MADS:g} scaled MADs of the point's median; kept, the median is robust to them"
        if not self.noisy_points:
            return f"outliers: none in {self.points} points x {self.repeats} repeats ({rule})"
        return (
            f"outliers: {self.noisy_points} of {self.points} points had outlying repeats ({rule}); "
            f"most: {self.worst_outliers} of {self.repeats} at {self.worst_point}"
        )
