"""The op graph: the primitive operations one GPU runs per step, as data with vectorised shapes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from servecast.arrays import FloatArray
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind
from servecast.ops.shapes import normalize_shapes
from servecast.ops.work import Work, op_work


class OpPart(StrEnum):
    """What an op's cost scales with, so step times can be composed from separately tabulated parts."""

    TOKENS = "tokens"
    """Every token the step runs through the layers (projections, MLP/MoE, norms, communication)."""
    LOGITS = "logits"
    """Rows that reach the LM head: one per prefilling sequence and one per decode."""
    CONTEXT = "context"
    """Prefill attention: the prompt chunks and the KV already cached before them."""
    DECODE = "decode"
    """Decode attention: the decoding sequences and their KV lengths."""


@dataclass(frozen=True)
class Op:
    """One primitive, repeated `count` times per step on one GPU (once per layer of the stage that has it).

    `shape` holds the kind-specific parameters (a GEMM's m, n, k; an attention's batch, lengths, heads; a
    collective's bytes and participants) as arrays over the step's points. `flops` and `bytes` are per
    occurrence: for compute ops the arithmetic and the memory traffic (weights plus activations), for
    communication ops `bytes` is the payload one GPU contributes; they are worked out when first asked for.
    """

    name: str
    kind: OpKind
    count: int
    dtype: str
    shape: Mapping[str, NDArray[np.int64] | FloatArray]
    replicated: bool = False
    """Every GPU of the stage computes the same thing (routers, MLA down-projections, norms)."""
    part: OpPart = OpPart.TOKENS
    inputs: Mapping[str, FloatArray] | None = field(default=None, repr=False, compare=False)
    """`shape` as the estimators take it (checked, defaults filled in), when the graph builder has it."""

    @property
    def estimator_shape(self) -> Mapping[str, NDArray[np.int64] | FloatArray]:
        """What to hand the op's estimator: the checked shape where there is one."""
        return self.inputs if self.inputs is not None else self.shape

    @cached_property
    def _work(self) -> Work:
        return op_work(self.kind, normalize_shapes(self.kind, self.estimator_shape), OpDtype(self.dtype))

    @property
    def flops(self) -> FloatArray:
        return self._work.flops

    @property
    def bytes(self) -> FloatArray:
        return self._work.bytes

    @property
    def total_flops(self) -> FloatArray:
        return self.count * self.flops

    @property
    def total_bytes(self) -> FloatArray:
        return self.count * self.bytes

    def summary(self) -> dict[str, object]:
        """A JSON-ready description at the first point (what `servecast model show` prints)."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "count": self.count,
            "dtype": self.dtype,
            "shape": {key: _scalar(value) for key, value in self.shape.items()},
            "flops": float(self.flops[0]),
            "bytes": float(self.bytes[0]),
            "replicated": self.replicated,
            "part": self.part.value,
        }


def _scalar(values: NDArray[np.int64] | FloatArray) -> float | int:
    value = values[0]
    return int(value) if np.issubdtype(values.dtype, np.integer) else float(value)


@dataclass(frozen=True)
class OpGraph:
    """The ops of one pipeline stage's GPU for one step shape."""

    stage: int
    layers: range
    ops: tuple[Op, ...] = field(default_factory=tuple)

    def total_flops(self, kinds: set[OpKind] | None = None) -> FloatArray:
        """FLOPs per step summed over ops (optionally only some kinds)."""
        chosen = [op.total_flops for op in self.ops if kinds is None or op.kind in kinds]
        return np.sum(chosen, axis=0) if chosen else np.zeros(1)

    def by_name(self, name: str) -> Op:
        for op in self.ops:
            if op.name == name:
                return op
        raise KeyError(f"no op {name!r}; ops: {', '.join(op.name for op in self.ops)}")
