"""What `servecast collect` measures: per op kind, the grid of shapes and how often each is timed, by run size."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum

from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind

Axes = dict[str, tuple[float, ...]]


class RunSize(StrEnum):
    """How much to measure: `full` is sized for about 15 minutes on one GPU, `quick` for a few, `tiny` for tests."""

    FULL = "full"
    QUICK = "quick"
    TINY = "tiny"


@dataclass(frozen=True)
class Timing:
    """Untimed warm-up runs, then timed repeats whose median is the measurement."""

    warmup: int
    repeats: int


@dataclass(frozen=True)
class Sweep:
    """One op in one data type over the full grid of `axes` (in CSV column order), other parameters `fixed`."""

    op: OpKind
    dtype: OpDtype
    axes: Axes
    fixed: dict[str, float]

    def points(self) -> list[dict[str, float]]:
        """Every shape of the grid, axes varying last-fastest (the CSV's sort order), fixed parameters included."""
        names = list(self.axes)
        return [
            {**dict(zip(names, values, strict=True)), **self.fixed}
            for values in itertools.product(*(self.axes[name] for name in names))
        ]


def _powers(low: int, high: int, step: int = 2) -> tuple[float, ...]:
    values, value = [], low
    while value <= high:
        values.append(float(value))
        value *= step
    return tuple(values)


_DIMENSIONS = (256, 512, 1024, 1536, 2048, 3072, 4096, 5120, 6144, 8192, 12288, 16384, 24576, 32768)
"""GEMM n and k of the full run: the hidden and intermediate sizes of common models lie on or between them."""

GRIDS: dict[RunSize, dict[OpKind, Axes]] = {
    RunSize.FULL: {
        OpKind.GEMM: {"m": _powers(1, 16384), "n": tuple(map(float, _DIMENSIONS)), "k": tuple(map(float, _DIMENSIONS))},
        OpKind.CONTEXT_ATTENTION: {
            "batch": (1.0, 4.0, 16.0),
            "q_len": _powers(128, 16384),
            "heads": _powers(8, 64),
            "kv_heads": _powers(1, 8),
            "head_dim": (64.0, 128.0),
        },
        OpKind.DECODE_ATTENTION: {
            "batch": _powers(1, 256),
            "kv_len": _powers(128, 32768),
            "heads": _powers(8, 64),
            "kv_heads": _powers(1, 8),
            "head_dim": (64.0, 128.0),
        },
        OpKind.ELEMENTWISE: {"bytes": _powers(2**16, 2**32, 4)},
        OpKind.ALL_REDUCE: {"message_bytes": _powers(2**12, 2**30, 4)},
        OpKind.ALL_GATHER: {"message_bytes": _powers(2**12, 2**30, 4)},
        OpKind.REDUCE_SCATTER: {"message_bytes": _powers(2**12, 2**30, 4)},
        OpKind.ALL_TO_ALL: {"message_bytes": _powers(2**12, 2**30, 4)},
        OpKind.P2P: {"message_bytes": _powers(2**12, 2**30, 4)},
    },
    RunSize.QUICK: {
        OpKind.GEMM: {"m": _powers(1, 16384, 4), "n": (1024.0, 4096.0, 8192.0, 16384.0), "k": (1024.0, 4096.0, 8192.0)},
        OpKind.CONTEXT_ATTENTION: {
            "batch": (1.0, 8.0),
            "q_len": _powers(256, 16384, 4),
            "heads": (8.0, 32.0),
            "kv_heads": (1.0, 8.0),
            "head_dim": (128.0,),
        },
        OpKind.DECODE_ATTENTION: {
            "batch": (1.0, 8.0, 64.0, 256.0),
            "kv_len": (256.0, 2048.0, 16384.0),
            "heads": (8.0, 32.0),
            "kv_heads": (1.0, 8.0),
            "head_dim": (128.0,),
        },
        OpKind.ELEMENTWISE: {"bytes": _powers(2**16, 2**32, 16)},
        OpKind.ALL_REDUCE: {"message_bytes": _powers(2**12, 2**30, 16)},
        OpKind.ALL_GATHER: {"message_bytes": _powers(2**12, 2**30, 16)},
        OpKind.REDUCE_SCATTER: {"message_bytes": _powers(2**12, 2**30, 16)},
        OpKind.ALL_TO_ALL: {"message_bytes": _powers(2**12, 2**30, 16)},
        OpKind.P2P: {"message_bytes": _powers(2**12, 2**30, 16)},
    },
    RunSize.TINY: {
        OpKind.GEMM: {"m": (1.0, 8.0, 64.0), "n": (32.0, 128.0), "k": (32.0, 128.0)},
        OpKind.CONTEXT_ATTENTION: {
            "batch": (1.0, 2.0),
            "q_len": (16.0, 64.0),
            "heads": (2.0, 4.0),
            "kv_heads": (1.0, 2.0),
            "head_dim": (16.0,),
        },
        OpKind.DECODE_ATTENTION: {
            "batch": (1.0, 4.0),
            "kv_len": (64.0, 256.0),
            "heads": (2.0, 4.0),
            "kv_heads": (1.0, 2.0),
            "head_dim": (16.0,),
        },
        OpKind.ELEMENTWISE: {"bytes": _powers(2**16, 2**24, 16)},
        OpKind.ALL_REDUCE: {"message_bytes": _powers(2**12, 2**20, 16)},
        OpKind.ALL_GATHER: {"message_bytes": _powers(2**12, 2**20, 16)},
        OpKind.REDUCE_SCATTER: {"message_bytes": _powers(2**12, 2**20, 16)},
        OpKind.ALL_TO_ALL: {"message_bytes": _powers(2**12, 2**20, 16)},
        OpKind.P2P: {"message_bytes": _powers(2**12, 2**20, 16)},
    },
}
"""Grids per run size. Attention grids keep heads >= kv_heads at every point (grouped-query attention); the
decode grid's largest KV cache (batch 256 x 32k tokens x 8 KV heads x 128) is 34 GB, so it fits an 80 GB GPU."""

TIMINGS: dict[RunSize, Timing] = {
    RunSize.FULL: Timing(warmup=3, repeats=15),
    RunSize.QUICK: Timing(warmup=2, repeats=7),
    RunSize.TINY: Timing(warmup=1, repeats=5),
}

COLLECTIVES = (OpKind.ALL_REDUCE, OpKind.ALL_GATHER, OpKind.REDUCE_SCATTER, OpKind.ALL_TO_ALL, OpKind.P2P)
"""Ops measured across devices: only when more than one is visible."""

FP8_MIN_M = 16
"""FP8 GEMMs (torch._scaled_mm) need every dimension a multiple of 16, so their m axis starts there."""


def sweep(op: OpKind, dtype: OpDtype, size: RunSize, devices: int) -> Sweep:
    """The grid of `op` in `dtype` for a run of `size` on `devices` visible devices. Single-valued axes become fixed
    parameters; collectives vary the GPU count over the powers of two that are visible."""
    axes = dict(GRIDS[size][op])
    if op is OpKind.GEMM and dtype is OpDtype.FP8:
        axes["m"] = tuple(m for m in axes["m"] if m >= FP8_MIN_M)
    if op in COLLECTIVES and op is not OpKind.P2P:
        axes = {**axes, "num_gpus": _powers(2, devices)}
    fixed = {name: values[0] for name, values in axes.items() if len(values) == 1}
    return Sweep(op, dtype, {name: values for name, values in axes.items() if name not in fixed}, fixed)


def shape_value(value: float) -> str:
    """A shape parameter written exactly: integers without a fraction or exponent (1048576, not 1.04858e+06)."""
    return str(int(value)) if value.is_integer() else repr(value)


@dataclass(frozen=True)
class AttentionShape:
    """One attention point as a kernel sees it: grouped-query heads, query and key lengths, causal or not."""

    batch: int
    heads: int
    kv_heads: int
    head_dim: int
    q_len: int
    kv_len: int
    causal: bool

    @classmethod
    def of(cls, op: OpKind, point: dict[str, float]) -> AttentionShape:
        """A prefill attends causally over its own tokens (kv_len 0: as many as q_len); a decode's one query token
        sees the whole cache."""
        batch, heads, kv_heads, head_dim = (int(point[name]) for name in ("batch", "heads", "kv_heads", "head_dim"))
        if op is OpKind.DECODE_ATTENTION:
            return cls(batch, heads, kv_heads, head_dim, 1, int(point["kv_len"]), causal=False)
        q_len = int(point["q_len"])
        return cls(batch, heads, kv_heads, head_dim, q_len, int(point.get("kv_len") or q_len), causal=True)
