"""Estimating a table of op rows (what `servecast ops estimate` reads): columns per op, grouped vectorised calls.

Rows are grouped by (op, data type) so each group is one vectorised estimator call; a row with an unknown op,
a missing column or a bad value gets an error naming it, and the other rows are still estimated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from servecast.domain.hardware import HardwareSpec
from servecast.domain.vocabulary import KvCacheDtype
from servecast.estimate.dtypes import OpDtype
from servecast.estimate.estimator import EstimateProvenance, OpEstimator, OpKind
from servecast.estimate.roofline import roofline_ms
from servecast.estimate.shapes import ShapeError, normalize_shapes
from servecast.models.quantization import KV_CACHE_BYTES


@dataclass(frozen=True)
class Column:
    """An input column and the estimator shape parameter(s) it becomes."""

    name: str
    description: str
    targets: tuple[str, ...] = ()
    """Shape parameters it sets (default: the parameter of the same name)."""
    required: bool = True
    convert: Callable[[str], float] = float


def _kv_bytes(value: str) -> float:
    try:
        return float(KV_CACHE_BYTES[KvCacheDtype(value)])
    except ValueError:
        raise ValueError(f"kv_dtype {value!r} is not one of {', '.join(d.value for d in KvCacheDtype)}") from None


@dataclass(frozen=True)
class OpColumns:
    """The columns of one op in an input table."""

    kind: OpKind
    columns: tuple[Column, ...]
    description: str
    has_dtype: bool = True
    dtype_required: bool = True


_HEADS = (
    Column("num_heads", "query heads per GPU", ("heads",)),
    Column("num_kv_heads", "key/value heads per GPU", ("kv_heads",)),
    Column("head_dim", "dimension of one head"),
)
_KV_DTYPE = Column("kv_dtype", "KV-cache data type: bf16, fp16, fp8, int8", ("kv_bytes",), convert=_kv_bytes)
_COLLECTIVE = (
    Column("message_bytes", "bytes each GPU contributes (all-gather: the gathered output; all-to-all: sent in all)"),
    Column("num_gpus", "GPUs taking part (more than a node's worth crosses nodes)"),
)

OP_TABLE_COLUMNS: dict[str, OpColumns] = {
    "gemm": OpColumns(
        OpKind.GEMM,
        (Column("m", "rows (tokens)"), Column("n", "output features"), Column("k", "input features")),
        "dense GEMM C[m,n] = A[m,k] B[k,n]",
    ),
    "context_attention": OpColumns(
        OpKind.CONTEXT_ATTENTION,
        (
            Column("batch", "sequences"),
            Column("seq_len", "tokens per sequence (query length = KV length)", ("q_len", "kv_len")),
            *_HEADS,
            _KV_DTYPE,
        ),
        "causal self-attention prefill",
    ),
    "generation_attention": OpColumns(
        OpKind.DECODE_ATTENTION,
        (Column("batch", "sequences, one new token each"), Column("kv_len", "cached tokens"), *_HEADS, _KV_DTYPE),
        "decode attention over a paged KV cache",
    ),
    "mla_context": OpColumns(
        OpKind.MLA_CONTEXT,
        (
            Column("batch", "sequences"),
            Column("seq_len", "tokens per sequence", ("q_len", "kv_len")),
            Column("num_heads", "query heads per GPU", ("heads",)),
            Column("qk_head_dim", "query/key head dimension"),
            Column("v_head_dim", "value head dimension"),
        ),
        "DeepSeek MLA prefill (decompressed form)",
    ),
    "mla_decode": OpColumns(
        OpKind.MLA_DECODE,
        (
            Column("batch", "sequences"),
            Column("kv_len", "cached tokens"),
            Column("num_heads", "query heads per GPU", ("heads",)),
            Column("latent_dim", "compressed KV dimension"),
            Column("rope_dim", "RoPE key dimension"),
            _KV_DTYPE,
        ),
        "DeepSeek MLA decode (absorbed form)",
    ),
    "moe": OpColumns(
        OpKind.MOE,
        (
            Column("num_tokens", "tokens entering the layer across the expert-parallel group", ("tokens",)),
            Column("hidden", "hidden size"),
            Column("inter", "one expert's intermediate size", ("intermediate",)),
            Column("num_experts", "routed experts", ("experts",)),
            Column("topk", "experts per token", ("top_k",)),
            Column("ep", "expert-parallel size"),
            Column("moe_tp", "tensor-parallel size inside each expert"),
        ),
        "routed experts of one MoE layer on the busiest GPU (gate/up, activation, down)",
    ),
    **{
        name: OpColumns(kind, _COLLECTIVE, description, dtype_required=False)
        for name, kind, description in (
            ("all_reduce", OpKind.ALL_REDUCE, "all-reduce (sum) of a buffer"),
            ("all_gather", OpKind.ALL_GATHER, "all-gather into a buffer of message_bytes"),
            ("reduce_scatter", OpKind.REDUCE_SCATTER, "reduce-scatter of a buffer of message_bytes"),
            ("all_to_all", OpKind.ALL_TO_ALL, "all-to-all exchange (MoE dispatch/combine)"),
        )
    },
    "p2p": OpColumns(OpKind.P2P, (_COLLECTIVE[0],), "point-to-point send to the next pipeline stage", has_dtype=False),
    "elementwise": OpColumns(
        OpKind.ELEMENTWISE, (Column("bytes", "bytes read plus written"),), "memory-bound kernel", has_dtype=False
    ),
}
"""Input columns per op name (the `op` column's values)."""


OUTPUT_COLUMNS = ("latency_ms", "provenance", "sol_ms")


@dataclass
class RowResult:
    """One input row with its estimate, or the reason it has none."""

    row: int
    values: dict[str, str]
    latency_ms: float | None = None
    provenance: str | None = None
    sol_ms: float | None = None
    error: str | None = None


def estimate_rows(
    rows: Sequence[Mapping[str, str]],
    estimator_for: Callable[[OpKind], OpEstimator],
    hardware: HardwareSpec,
    first_row: int = 2,
) -> list[RowResult]:
    """Estimate every row; rows are numbered from `first_row` (the line after a CSV header)."""
    results = [RowResult(first_row + index, dict(row)) for index, row in enumerate(rows)]
    groups: dict[tuple[str, OpDtype], list[tuple[RowResult, dict[str, float]]]] = {}
    for result in results:
        try:
            name, dtype, shape = _parse(result.values)
        except ValueError as error:
            result.error = f"row {result.row}: {error}"
            continue
        groups.setdefault((name, dtype), []).append((result, shape))
    for (name, dtype), members in groups.items():
        kind = OP_TABLE_COLUMNS[name].kind
        shapes = {key: np.array([shape[key] for _, shape in members]) for key in members[0][1]}
        try:
            normalized = normalize_shapes(kind, shapes)
        except ShapeError:
            _estimate_one_by_one(members, kind, dtype, estimator_for, hardware)
            continue
        estimate = estimator_for(kind)(normalized, dtype.value)
        sol = roofline_ms(kind, normalized, dtype, hardware)
        for index, (result, _) in enumerate(members):
            result.latency_ms = float(estimate.latency_ms[index])
            result.provenance = EstimateProvenance(int(estimate.provenance[index])).name.lower()
            result.sol_ms = float(sol[index])
    return results


def _estimate_one_by_one(
    members: list[tuple[RowResult, dict[str, float]]],
    kind: OpKind,
    dtype: OpDtype,
    estimator_for: Callable[[OpKind], OpEstimator],
    hardware: HardwareSpec,
) -> None:
    """The slow path when some row of a group has values the estimator rejects: find and name those rows."""
    for result, shape in members:
        try:
            normalized = normalize_shapes(kind, {key: np.array([value]) for key, value in shape.items()})
        except ShapeError as error:
            result.error = f"row {result.row}: {error}"
            continue
        estimate = estimator_for(kind)(normalized, dtype.value)
        result.latency_ms = float(estimate.latency_ms[0])
        result.provenance = EstimateProvenance(int(estimate.provenance[0])).name.lower()
        result.sol_ms = float(roofline_ms(kind, normalized, dtype, hardware)[0])


def _parse(values: Mapping[str, str]) -> tuple[str, OpDtype, dict[str, float]]:
    name = (values.get("op") or "").strip()
    if name not in OP_TABLE_COLUMNS:
        raise ValueError(f"op {name!r} is not one of {', '.join(OP_TABLE_COLUMNS)}")
    spec = OP_TABLE_COLUMNS[name]
    dtype = OpDtype.BF16
    raw_dtype = (values.get("dtype") or "").strip()
    if spec.has_dtype and (raw_dtype or spec.dtype_required):
        if not raw_dtype:
            raise ValueError(f"{name} needs a dtype ({', '.join(d.value for d in OpDtype)})")
        try:
            dtype = OpDtype(raw_dtype)
        except ValueError:
            raise ValueError(f"dtype {raw_dtype!r} is not one of {', '.join(d.value for d in OpDtype)}") from None
    shape: dict[str, float] = {}
    for column in spec.columns:
        raw = (values.get(column.name) or "").strip()
        if not raw:
            raise ValueError(f"{name} needs column {column.name!r} ({column.description})")
        try:
            value = column.convert(raw)
        except ValueError as error:
            message = str(error) if column.convert is not float else f"{column.name} {raw!r} is not a number"
            raise ValueError(message) from None
        for target in column.targets or (column.name,):
            shape[target] = value
    return name, dtype, shape
