"""The shape parameters each op kind is estimated from: names, meaning, defaults, and their validation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from servecast.arrays import FloatArray
from servecast.ops.estimator import OpKind


@dataclass(frozen=True)
class ShapeKey:
    """One shape parameter of an op kind; `default` None means the caller must give it."""

    name: str
    description: str
    default: float | None = None


_COLLECTIVE = (
    ShapeKey("message_bytes", "bytes of the buffer each GPU contributes (all-gather: the gathered output)"),
    ShapeKey("num_gpus", "GPUs taking part; more than one node's worth means the collective crosses nodes"),
)
_ATTENTION_HEADS = (
    ShapeKey("heads", "query heads on this GPU"),
    ShapeKey("kv_heads", "key/value heads on this GPU"),
    ShapeKey("head_dim", "dimension of one head"),
    ShapeKey("kv_bytes", "bytes per cached key/value element (2: bf16/fp16, 1: fp8/int8)", 2),
    ShapeKey("window", "sliding-window length, 0 for full attention", 0),
)

OP_SHAPES: dict[OpKind, tuple[ShapeKey, ...]] = {
    OpKind.GEMM: (
        ShapeKey("m", "rows of the activation (tokens)"),
        ShapeKey("n", "output features"),
        ShapeKey("k", "input features (the reduction dimension)"),
        ShapeKey("batch", "independent GEMMs of this shape run together (batched GEMM)", 1),
    ),
    OpKind.CONTEXT_ATTENTION: (
        ShapeKey("batch", "sequences"),
        ShapeKey("q_len", "new (query) tokens per sequence"),
        ShapeKey("kv_len", "keys each sequence's last query attends to: cached plus new tokens (0: equal to q_len)", 0),
        *_ATTENTION_HEADS,
        ShapeKey("causal", "1: causal (each query sees the keys before it), 0: every query sees every key", 1),
    ),
    OpKind.DECODE_ATTENTION: (
        ShapeKey("batch", "sequences, one new token each"),
        ShapeKey("kv_len", "cached tokens each sequence attends to"),
        *_ATTENTION_HEADS,
    ),
    OpKind.MLA_CONTEXT: (
        ShapeKey("batch", "sequences"),
        ShapeKey("q_len", "new (query) tokens per sequence"),
        ShapeKey("kv_len", "keys each sequence's last query attends to (0: equal to q_len)", 0),
        ShapeKey("heads", "query heads on this GPU"),
        ShapeKey("qk_head_dim", "query/key head dimension (no-position part plus RoPE part)"),
        ShapeKey("v_head_dim", "value head dimension"),
    ),
    OpKind.MLA_DECODE: (
        ShapeKey("batch", "sequences, one new token each"),
        ShapeKey("kv_len", "cached tokens each sequence attends to"),
        ShapeKey("heads", "query heads on this GPU"),
        ShapeKey("latent_dim", "compressed KV (latent) dimension"),
        ShapeKey("rope_dim", "decoupled RoPE key dimension"),
        ShapeKey("kv_bytes", "bytes per cached element", 2),
    ),
    OpKind.MOE: (
        ShapeKey("tokens", "tokens entering the MoE layer across the expert-parallel group"),
        ShapeKey("hidden", "model hidden size"),
        ShapeKey("intermediate", "one expert's intermediate size (before moe_tp splits it)"),
        ShapeKey("experts", "routed experts"),
        ShapeKey("top_k", "experts each token is routed to"),
        ShapeKey("ep", "expert-parallel ranks the experts are spread over", 1),
        ShapeKey("moe_tp", "tensor-parallel ranks each expert is split over", 1),
        ShapeKey("redundant", "extra expert copies placed by load balancing (EPLB) over the ep ranks", 0),
        ShapeKey(
            "imbalance",
            "tokens on the busiest rank beyond the spread of uniform routing (1: experts equally popular)",
            1,
        ),
        ShapeKey("gated", "1 for gated (SwiGLU) experts with a fused gate/up projection, 0 otherwise", 1),
    ),
    OpKind.ALL_REDUCE: _COLLECTIVE,
    OpKind.ALL_GATHER: _COLLECTIVE,
    OpKind.REDUCE_SCATTER: _COLLECTIVE,
    OpKind.ALL_TO_ALL: (
        ShapeKey("message_bytes", "bytes each GPU sends in total (to all peers)"),
        ShapeKey("num_gpus", "GPUs taking part; more than one node's worth means the exchange crosses nodes"),
    ),
    OpKind.P2P: (
        ShapeKey("message_bytes", "bytes sent from one GPU to another"),
        ShapeKey("inter_node", "1 when the two GPUs are in different nodes", 0),
    ),
    OpKind.ELEMENTWISE: (ShapeKey("bytes", "bytes read plus bytes written"),),
}


ZERO_MEANS_SAME_AS: dict[OpKind, dict[str, str]] = {
    OpKind.CONTEXT_ATTENTION: {"kv_len": "q_len"},
    OpKind.MLA_CONTEXT: {"kv_len": "q_len"},
}
"""Parameters whose 0 stands for another parameter's value: without a cached prefix, kv_len is q_len."""


def _below_one(name: str) -> Callable[[Mapping[str, FloatArray]], NDArray[np.bool_]]:
    return lambda shapes: shapes[name] < 1


_HEADS_RULES = (
    ("heads must be at least 1", lambda v: v["heads"] < 1),
    ("kv_heads must be at least 1", lambda v: v["kv_heads"] < 1),
    (
        "heads must be a multiple of kv_heads (query heads share key/value heads in groups)",
        lambda v: np.fmod(v["heads"], np.maximum(v["kv_heads"], 1)) != 0,
    ),
    ("head_dim must be at least 1", lambda v: v["head_dim"] < 1),
)
_GROUP_RULES = (("num_gpus must be at least 1", lambda v: v["num_gpus"] < 1),)

SHAPE_RULES: dict[OpKind, tuple[tuple[str, Callable[[Mapping[str, FloatArray]], NDArray[np.bool_]]], ...]] = {
    OpKind.CONTEXT_ATTENTION: _HEADS_RULES,
    OpKind.DECODE_ATTENTION: _HEADS_RULES,
    OpKind.MLA_CONTEXT: (("heads must be at least 1", lambda v: v["heads"] < 1),),
    OpKind.MLA_DECODE: (("heads must be at least 1", lambda v: v["heads"] < 1),),
    OpKind.MOE: (
        ("experts must be at least 1", lambda v: v["experts"] < 1),
        ("top_k must be between 1 and experts", lambda v: (v["top_k"] < 1) | (v["top_k"] > v["experts"])),
        ("ep must be between 1 and experts", lambda v: (v["ep"] < 1) | (v["ep"] > v["experts"])),
        ("moe_tp must be at least 1", lambda v: v["moe_tp"] < 1),
        ("imbalance must be at least 1 (the busiest rank over the mean)", lambda v: v["imbalance"] < 1),
    ),
    OpKind.ALL_REDUCE: _GROUP_RULES,
    OpKind.ALL_GATHER: _GROUP_RULES,
    OpKind.REDUCE_SCATTER: _GROUP_RULES,
    OpKind.ALL_TO_ALL: _GROUP_RULES,
}
"""What makes a shape impossible beyond a negative value: each rule's message and the rows it rejects."""


class ShapeError(ValueError):
    """Shapes that do not fit an op kind: a missing or unknown parameter, a negative or non-finite value."""


class NormalizedShapes(dict[str, FloatArray]):
    """Shapes `normalize_shapes` has checked and filled in for one op kind: passed on between internal callers
    (the op graph to the estimators) without being checked again."""

    def __init__(self, kind: OpKind) -> None:
        super().__init__()
        self.kind = kind


def normalize_shapes(kind: OpKind, shapes: Mapping[str, ArrayLike]) -> NormalizedShapes:
    """Float arrays of one length for every parameter of `kind`, defaults filled in."""
    if isinstance(shapes, NormalizedShapes) and shapes.kind is kind:
        return shapes
    keys = OP_SHAPES[kind]
    known = {key.name for key in keys}
    unknown = sorted(set(shapes) - known)
    if unknown:
        raise ShapeError(
            f"{kind.value} has no shape parameter {', '.join(map(repr, unknown))}; it takes {_names(kind)}"
        )
    missing = [key.name for key in keys if key.default is None and key.name not in shapes]
    if missing:
        raise ShapeError(f"{kind.value} needs {', '.join(map(repr, missing))} (it takes {_names(kind)})")
    arrays = {name: np.atleast_1d(np.asarray(value, dtype=np.float64)) for name, value in shapes.items()}
    lengths = {name: len(array) for name, array in arrays.items() if len(array) != 1}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name!r} has {count}" for name, count in lengths.items())
        raise ShapeError(f"{kind.value}: shape parameters must have one length (or a single value): {described}")
    for name, array in arrays.items():
        bad = ~np.isfinite(array) | (array < 0)
        if bad.any():
            raise ShapeError(f"{kind.value}: {name!r} must be a finite number >= 0, got {float(array[bad][0])!r}")
    out = fill_shapes(kind, arrays, max(lengths.values(), default=1))
    for name, other in ZERO_MEANS_SAME_AS.get(kind, {}).items():
        if (out[name] < out[other]).any():
            raise ShapeError(f"{kind.value}: {name} counts the new tokens too, so it cannot be below {other}")
    return out


def fill_shapes(kind: OpKind, arrays: Mapping[str, NDArray[Any]], length: int) -> NormalizedShapes:
    """`arrays` (arrays of `length` or 1, parameters of `kind` only) as floats with the defaults filled in, unchecked:
    for internal callers whose shapes hold by construction (the op graph builder)."""
    out = NormalizedShapes(kind)
    for key in OP_SHAPES[kind]:
        array = arrays.get(key.name)
        if array is None:
            out[key.name] = np.full(length, key.default, dtype=np.float64)
        elif len(array) == length:
            out[key.name] = np.asarray(array, dtype=np.float64)
        else:
            out[key.name] = np.full(length, array[0], dtype=np.float64)
    for name, other in ZERO_MEANS_SAME_AS.get(kind, {}).items():
        out[name] = np.where(out[name] == 0, out[other], out[name])
    return out


def check_possible(kind: OpKind, shapes: Mapping[str, FloatArray]) -> None:
    """A ShapeError naming the first row no real model has (`SHAPE_RULES`); for shapes users give, whereas the
    estimators take any non-negative shape."""
    sizes = [
        (f"{key.name} must be at least 1 (an op of no size takes no time)", _below_one(key.name))
        for key in OP_SHAPES[kind]
        if key.default is None
    ]
    for message, rejects in (*sizes, *SHAPE_RULES.get(kind, ())):
        bad = rejects(shapes)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            given = ", ".join(f"{key.name}={shapes[key.name][first]:g}" for key in OP_SHAPES[kind])
            raise ShapeError(f"{kind.value}: {message} (got {given})")


def _names(kind: OpKind) -> str:
    return ", ".join(key.name if key.default is None else f"{key.name} (optional)" for key in OP_SHAPES[kind])
