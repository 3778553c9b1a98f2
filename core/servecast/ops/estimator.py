"""The contract of a primitive estimator: arrays of shapes in, latencies with provenance out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray


class OpKind(StrEnum):
    """The primitive operations inference decomposes into."""

    GEMM = "gemm"
    CONTEXT_ATTENTION = "context_attention"
    DECODE_ATTENTION = "decode_attention"
    MLA_CONTEXT = "mla_context"
    MLA_DECODE = "mla_decode"
    MOE = "moe"
    ALL_REDUCE = "all_reduce"
    ALL_GATHER = "all_gather"
    REDUCE_SCATTER = "reduce_scatter"
    ALL_TO_ALL = "all_to_all"
    P2P = "p2p"
    ELEMENTWISE = "elementwise"
    """Memory-bound ops: norms, activations, RoPE, KV-cache writes, embedding lookups."""


class EstimateProvenance(IntEnum):
    """How an estimate was obtained, best first; stored per point as a small integer."""

    MEASURED = 0
    INTERPOLATED = 1
    EXTRAPOLATED = 2
    CALIBRATED_ROOFLINE = 3
    ROOFLINE = 4

    @property
    def label(self) -> str:
        """The lower-case name reports and output files use ('calibrated_roofline')."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class OpEstimate:
    """Latencies of a batch of shapes and, point by point, where each number came from."""

    latency_ms: NDArray[np.float64]
    provenance: NDArray[np.int8]
    source: NDArray[np.int16] | None = None
    """Per point, an index into `sources`: the table or model each number came from (None: not said)."""
    sources: tuple[str, ...] = ()

    def source_of(self, index: int) -> str:
        """Where point `index`'s number came from, in words ("" where the estimator does not say)."""
        return "" if self.source is None else self.sources[int(self.source[index])]

    def __post_init__(self) -> None:
        if self.latency_ms.shape != self.provenance.shape:
            raise ValueError(f"latency_ms has shape {self.latency_ms.shape} but provenance has {self.provenance.shape}")


@runtime_checkable
class OpEstimator(Protocol):
    """Estimates one op kind on one target.

    Called with the shape parameters of the op kind (`servecast.ops.shapes.OP_SHAPES`) as arrays of one
    length, or scalars, and the op's data type (`servecast.ops.dtypes.OpDtype` values); returns one
    latency and provenance per point.
    """

    def __call__(self, shapes: Mapping[str, ArrayLike], dtype: str) -> OpEstimate: ...
