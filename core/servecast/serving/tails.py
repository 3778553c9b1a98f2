"""Latency percentiles at analytic speed: each latency's distribution over the requests a client counts, as a
mixture of uniform components whose quantiles follow exactly (the CDF is piecewise linear between their ends).

The components are the mechanisms the mean-value models already price: a burst start's first wave, whose k-th
prompt iteration gives its prompts their first tokens after k iterations, and its users who wait a cycle for a slot;
the steady state, where a prompt's TTFT is its fastest plus an exponential excess and its TPOT varies with the
prompt iterations its decodes meet; closed-loop users waiting for a slot; and per-request lengths. Each component
keeps its mean where the mean-value models put it, so the mixture's mean is the reported mean: the spread around it
is what this module adds. The discrete-event simulation checks it (docs/serving.md, "Percentiles").
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from servecast.arrays import FloatArray
from servecast.domain.workload import LOGNORMAL_TAIL_Z, LengthDistribution, Workload

SPREAD_USERS_LENGTH_SPREAD = 0.1
"""± ratio of per-request lengths that stands for what spreads closed-loop users out when the workload's lengths
are fixed (replies ending at EOS, client and front-end jitter): the simulation draws them so."""

PIECE_QUANTILES = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99, 0.999)
"""Where an exponential or a lognormal is cut into uniform pieces, exact at these quantiles but for the scale that
keeps its mean (the last 0.1 % is cut; the simulation clips lognormal lengths there)."""

PERCENTILE_LEVELS = (90, 99)
"""The percentiles a search reports and targets."""


def percentile_column(name: str, level: str) -> str:
    """The column of the model's percentile `level` (p90, p99) of the latency column `name`: `ttft_p99_ms`."""
    return f"{name.removesuffix('_ms')}_{level}_ms"


PERCENTILE_COLUMNS = {
    percentile_column(name, f"p{level}"): (name, level)
    for name in ("ttft_ms", "tpot_ms", "e2e_ms")
    for level in PERCENTILE_LEVELS
}
"""The model's percentiles as output columns: column -> (latency column, percentile)."""


@dataclass(frozen=True)
class UniformMixture:
    """One latency's distribution at each load level: weights, lows and highs of its uniform components (arrays of
    shape levels × components; a component whose low equals its high is a point mass)."""

    weights: FloatArray
    low: FloatArray
    high: FloatArray

    @classmethod
    def of(cls, *components: tuple[FloatArray | float, FloatArray, FloatArray]) -> UniformMixture:
        """A mixture of (weight, low, high) components, each an array over the load levels (weights may be
        scalars); components of zero weight are kept (they do not move a quantile)."""
        levels = np.broadcast_shapes(*(np.shape(low) for _, low, _ in components))
        stack = [
            np.broadcast_to(np.asarray(part, dtype=np.float64), levels)
            for component in components
            for part in component
        ]
        weights, low, high = (np.stack(stack[start::3], axis=-1) for start in range(3))
        return cls(weights=weights, low=np.minimum(low, high), high=np.maximum(low, high))

    @property
    def mean(self) -> FloatArray:
        result: FloatArray = (self.weights * (self.low + self.high) / 2).sum(axis=-1)
        return result

    def shifted(self, by: FloatArray | float) -> UniformMixture:
        """Every component moved by `by` (per level)."""
        offset = np.asarray(by, dtype=np.float64)[..., None]
        return UniformMixture(self.weights, self.low + offset, self.high + offset)

    def at_least(self, floor: FloatArray) -> UniformMixture:
        """Every value raised to `floor` (per level), the components' ends clipped."""
        bound = np.asarray(floor, dtype=np.float64)[..., None]
        return UniformMixture(self.weights, np.maximum(self.low, bound), np.maximum(self.high, bound))

    def part(self, levels: slice | NDArray[np.intp]) -> UniformMixture:
        return UniformMixture(self.weights[levels], self.low[levels], self.high[levels])

    def quantiles(self, levels: Sequence[float]) -> list[FloatArray]:
        """The q-quantiles (0 < q < 1) at each level: exact for the mixture (inf where a component is unbounded).

        The CDF is piecewise linear between the components' ends, its slope rising by weight / width at a low end
        and falling by as much at a high end, and it jumps by a point mass's weight at its value: sorted once, the
        ends, a running sum of the slopes and of the jumps give it at every end, between which each quantile is
        interpolated.
        """
        weights, low, high = self.weights, self.low, self.high
        if (high == low).all() and (low == low[:, :1]).all():  # one point at each level (a decode pool's TPOT)
            return [low[:, 0].copy() for _ in levels]
        results = [np.full(low.shape[0], np.inf) for _ in levels]
        finite = np.isfinite(low).all(axis=1) & np.isfinite(high).all(axis=1)
        if not finite.any():
            return results
        used = (weights[finite] > 0).any(axis=0)  # components no level weighs do not move a quantile
        weights, low, high = weights[finite][:, used], low[finite][:, used], high[finite][:, used]
        weights = weights / weights.sum(axis=1, keepdims=True)
        width = high - low
        point = width <= 1e-9 * np.maximum(np.abs(low), 1.0)
        rate = np.where(point, 0.0, weights / np.where(point, 1.0, width))
        ends = np.concatenate([low, high], axis=1)
        order = np.argsort(ends, axis=1)
        ends = np.take_along_axis(ends, order, axis=1)
        slope = np.cumsum(np.take_along_axis(np.concatenate([rate, -rate], axis=1), order, axis=1), axis=1)
        jump = np.take_along_axis(np.concatenate([np.where(point, weights, 0.0), 0 * weights], axis=1), order, axis=1)
        rising = np.concatenate([np.zeros((len(ends), 1)), slope[:, :-1] * np.diff(ends, axis=1)], axis=1)
        after = np.cumsum(rising + jump, axis=1)  # the CDF at each end, its jump included
        before = after - jump
        rows = np.arange(len(ends))
        for result, q in zip(results, levels, strict=True):
            target = q * after[:, -1]
            above = np.argmax(after >= target[:, None] - 1e-12, axis=1)
            below = np.maximum(above - 1, 0)
            start, end = ends[rows, below], ends[rows, above]
            base = np.where(above == 0, 0.0, after[rows, below])
            rise = before[rows, above] - base
            fraction = np.divide(target - base, rise, out=np.ones_like(rise), where=rise > 0)
            result[finite] = start + np.clip(fraction, 0.0, 1.0) * (end - start)
        return results

    def quantile(self, q: float) -> FloatArray:
        """The q-quantile (0 < q < 1) at each level (`quantiles`)."""
        return self.quantiles([q])[0]


def around(mean: FloatArray, lowest: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The uniform with mean `mean` whose low end is `lowest` (clipped to [0, mean]): values spread evenly from the
    fastest a request gets to its mirror image above the mean."""
    low = np.clip(lowest, 0.0, mean)
    return low, 2 * mean - low


def spread_by(mean: FloatArray, half_width: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The uniform of mean `mean` and half-width `half_width` (narrowed to stay non-negative)."""
    with np.errstate(invalid="ignore"):  # an unbounded mean stays unbounded
        return around(mean, mean - half_width)


def length_ratio_half_width(workload: Workload, jittered: bool) -> float:
    """Half-width, as a ratio of the mean, of the uniform that has the variance of per-request lengths; where
    lengths are fixed and closed-loop users spread out (`jittered`), the spread that stands for their jitter."""
    cv2 = workload.length_cv2()
    if cv2 == 0.0 and jittered:
        cv2 = SPREAD_USERS_LENGTH_SPREAD**2 / 3
    return math.sqrt(3 * cv2)


def length_ratios(workload: Workload, jittered: bool) -> tuple[tuple[float, float, float], ...]:
    """Per-request length over its mean as uniform pieces (share, low, high): one for fixed or uniform lengths (the
    jitter's ±10 % where fixed lengths stand for spread users), a lognormal's between `PIECE_QUANTILES`, cut where
    the simulation clips it and scaled to keep the mean."""
    if workload.length_distribution is not LengthDistribution.LOGNORMAL:
        half = length_ratio_half_width(workload, jittered)
        return ((1.0, 1 - half, 1 + half),)
    sigma = workload.length_spread
    z = [NormalDist().inv_cdf(q) for q in PIECE_QUANTILES[1:-1]] + [LOGNORMAL_TAIL_Z]  # where the simulation clips
    return _scaled_to_mean_one(_shares(), [0.0, *(math.exp(sigma * value - sigma**2 / 2) for value in z)])


@dataclass(frozen=True)
class LatencyTails:
    """The distributions of TTFT, TPOT and request latency at each load level; the request latency's is built from
    the other two when first asked (`request_latency`: `decodes` per request, each component's TTFT and TPOT
    `coupled` or not, output lengths in `lengths` pieces)."""

    ttft: UniformMixture
    tpot: UniformMixture
    decodes: int
    coupled: tuple[bool, ...]
    lengths: tuple[tuple[float, float, float], ...] = ((1.0, 1.0, 1.0),)

    @classmethod
    def at(cls, ttft: FloatArray, tpot: FloatArray, decodes: int) -> LatencyTails:
        """Every request at the means (a static batch's requests share one timeline)."""
        ones = np.ones(len(ttft))
        return cls(UniformMixture.of((ones, ttft, ttft)), UniformMixture.of((ones, tpot, tpot)), decodes, (False,))

    @cached_property
    def e2e(self) -> UniformMixture:
        return request_latency(self.ttft, self.tpot, self.decodes, self.coupled, self.lengths)

    def part(self, levels: slice | NDArray[np.intp]) -> LatencyTails:
        return replace(self, ttft=self.ttft.part(levels), tpot=self.tpot.part(levels))

    def percentiles(self) -> dict[str, FloatArray]:
        """Every `PERCENTILE_COLUMNS` column at each load level."""
        columns = {}
        for name in ("ttft", "tpot", "e2e"):
            mixture: UniformMixture = getattr(self, name)
            values = mixture.quantiles([level / 100 for level in PERCENTILE_LEVELS])
            for level, value in zip(PERCENTILE_LEVELS, values, strict=True):
                columns[percentile_column(f"{name}_ms", f"p{level}")] = value
        return columns

    def point_percentiles(self, index: int) -> dict[str, float]:
        """Every `PERCENTILE_COLUMNS` value at one load level."""
        return {column: float(values[0]) for column, values in self.part(slice(index, index + 1)).percentiles().items()}


Components = list[tuple[FloatArray, FloatArray, FloatArray]]
"""Uniform components as (weight, low, high), each an array over the load levels."""


def waiting_for_a_slot(components: Components, queued_ms: FloatArray, service_ms: FloatArray) -> Components:
    """`components` with closed-loop users beyond the running slots waiting for one, `queued_ms` on average.

    Slots free as the requests in them finish, which those that started together do about together: a request
    that finds none free waits up to one request's service time, evenly. So a share 2 × queued / service of the
    requests waits, the others not at all (all of them wait, up to twice `queued_ms`, where the queue is longer).
    The waiting requests are one uniform component, of the mean and variance of `components` plus that wait.
    """
    waits = np.clip(np.divide(2 * queued_ms, service_ms, out=np.zeros_like(queued_ms), where=service_ms > 0), 0, 1)
    wait = np.divide(queued_ms, waits, out=np.zeros_like(queued_ms), where=waits > 0)
    total = sum(weight for weight, _, _ in components)
    with np.errstate(invalid="ignore"):  # an unbounded component (an overloaded queue) stays unbounded
        mean = sum(weight * (low + high) / 2 for weight, low, high in components) / total
        spread = sum(
            weight * ((high - low) ** 2 / 12 + ((low + high) / 2 - mean) ** 2) for weight, low, high in components
        )
        half = np.sqrt(3 * (spread / total + wait**2 / 3))
    result: Components = [(weight * (1 - waits), low, high) for weight, low, high in components]
    return [*result, (total * waits, *spread_by(mean + wait, half))]


def exponential(weight: FloatArray, mean: FloatArray) -> Components:
    """Components that carry `weight` of an exponential of mean `mean`: uniform pieces between `PIECE_QUANTILES`,
    scaled by the little (3 %) that keeps the mean."""
    with np.errstate(invalid="ignore"):  # an unbounded mean (an overloaded queue) stays unbounded
        return [(weight * share, mean * start, mean * end) for share, start, end in _UNIT_EXPONENTIAL]


def _shares() -> list[float]:
    """The probability between consecutive `PIECE_QUANTILES`, the last piece taking the cut tail's."""
    shares = [b - a for a, b in itertools.pairwise(PIECE_QUANTILES)]
    shares[-1] += 1 - PIECE_QUANTILES[-1]
    return shares


def _scaled_to_mean_one(shares: list[float], ends: list[float]) -> tuple[tuple[float, float, float], ...]:
    """Pieces (share, low, high) between `ends`, scaled so that their mixture's mean is 1."""
    scale = sum(share * (a + b) / 2 for share, a, b in zip(shares, ends, ends[1:], strict=False))
    return tuple((share, a / scale, b / scale) for share, a, b in zip(shares, ends, ends[1:], strict=False))


def _unit_exponential() -> tuple[tuple[float, float, float], ...]:
    """The pieces (share, low, high) of an exponential of mean 1 (`exponential`)."""
    return _scaled_to_mean_one(_shares(), [-math.log1p(-q) for q in PIECE_QUANTILES])


_UNIT_EXPONENTIAL = _unit_exponential()


def request_latency(
    ttft: UniformMixture,
    tpot: UniformMixture,
    decodes: int,
    coupled: Sequence[bool],
    lengths: Sequence[tuple[float, float, float]],
) -> UniformMixture:
    """Request latency = TTFT + decodes × TPOT, component by component. Where a component is `coupled` (a wave:
    the prompts prefilled first decode through the later ones' prompt iterations) its fastest TTFT comes with its
    slowest TPOT and the two spreads cancel; elsewhere they vary independently (the half-width of the uniform of the
    same variance). Output lengths then scale the decode time by each of the `lengths` pieces (`length_ratios`)."""
    with np.errstate(invalid="ignore"):  # an unbounded TTFT (an overloaded queue) stays unbounded
        ttft_half = (ttft.high - ttft.low) / 2
        decode_half = decodes * (tpot.high - tpot.low) / 2
        decode_ms = decodes * (tpot.low + tpot.high) / 2
        paired = np.where(np.asarray(coupled), np.abs(ttft_half - decode_half), np.hypot(ttft_half, decode_half))
        middle = (ttft.low + ttft.high) / 2
        pieces = [
            (
                ttft.weights * share,
                *spread_by(middle + decode_ms * (low + high) / 2, np.hypot(paired, decode_ms * (high - low) / 2)),
            )
            for share, low, high in lengths
        ]
    return UniformMixture(*(np.concatenate(parts, axis=-1) for parts in zip(*pieces, strict=True)))
