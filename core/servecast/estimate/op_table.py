"""Estimating a table of op rows (what `servecast ops estimate` reads): columns per op, grouped vectorised calls.

Rows are grouped by (op, data type) so each group is one vectorised estimator call; a row with an unknown op,
a missing column or a bad value gets an error naming it, and the other rows are still estimated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from servecast.arrays import FloatArray
from servecast.domain.hardware import HardwareSpec
from servecast.domain.quantization import KV_CACHE_BYTES
from servecast.domain.vocabulary import KvCacheDtype
from servecast.estimate.roofline import roofline_ms
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import EstimateProvenance, OpEstimator, OpKind
from servecast.ops.shapes import check_possible, normalize_shapes


@dataclass(frozen=True)
class Column:
    """An input column and the estimator shape parameter(s) it becomes."""

    name: str
    description: str
    targets: tuple[str, ...] = ()
    """Shape parameters it sets (default: the parameter of the same name)."""
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


OUTPUT_COLUMNS = ("latency_ms", "provenance", "source", "sol_ms")


@dataclass(frozen=True)
class TableEstimate:
    """Per input row: latency, provenance and speed of light, or (for rows that could not be estimated) an error."""

    latency_ms: FloatArray
    provenance: NDArray[np.int8]
    """EstimateProvenance values; -1 where the row has an error."""
    sol_ms: FloatArray
    errors: dict[int, str]
    """Row index (0-based, in input order) → what is wrong with it, naming the input line."""
    source: dict[int, str] = field(default_factory=dict)
    """Row index → the table or model its number came from, where the estimator says."""

    def provenance_name(self, index: int) -> str | None:
        level = int(self.provenance[index])
        return None if level < 0 else EstimateProvenance(level).label


def estimate_rows(
    rows: Sequence[Mapping[str, str]],
    estimator_for: Callable[[OpKind], OpEstimator],
    hardware: HardwareSpec,
    first_row: int = 2,
) -> TableEstimate:
    """Estimate every row, one vectorised call per (op, dtype); rows are numbered from `first_row` in errors."""
    count = len(rows)
    result = TableEstimate(np.full(count, np.nan), np.full(count, -1, dtype=np.int8), np.full(count, np.nan), {})
    groups: dict[tuple[str, str], list[int]] = {}
    for index, row in enumerate(rows):
        key = ((row.get("op") or "").strip(), (row.get("dtype") or "").strip())
        groups.setdefault(key, []).append(index)
    for (name, raw_dtype), indices in groups.items():
        try:
            spec, dtype = _op_and_dtype(name, raw_dtype)
        except ValueError as error:
            result.errors.update({index: f"row {first_row + index}: {error}" for index in indices})
            continue
        try:
            shapes = _shapes(name, spec, [rows[index] for index in indices])
        except ValueError:
            for index in indices:  # find and name the bad rows; the good ones are estimated one by one
                try:
                    single = _shapes(name, spec, [rows[index]])
                except ValueError as error:
                    result.errors[index] = f"row {first_row + index}: {error}"
                    continue
                _fill(result, [index], spec.kind, single, dtype, estimator_for, hardware)
            continue
        _fill(result, indices, spec.kind, shapes, dtype, estimator_for, hardware)
    return result


def _shapes(name: str, spec: OpColumns, rows: Sequence[Mapping[str, str]]) -> dict[str, FloatArray]:
    """The shapes of rows of one op, checked to be ones a real model has; a ValueError naming the problem."""
    shapes = normalize_shapes(spec.kind, _columns(name, spec, rows))
    check_possible(spec.kind, shapes)
    return shapes


def _fill(
    result: TableEstimate,
    indices: list[int],
    kind: OpKind,
    shapes: Mapping[str, FloatArray],
    dtype: OpDtype,
    estimator_for: Callable[[OpKind], OpEstimator],
    hardware: HardwareSpec,
) -> None:
    estimate = estimator_for(kind)(shapes, dtype.value)
    result.latency_ms[indices] = estimate.latency_ms
    result.provenance[indices] = estimate.provenance
    result.source.update({index: estimate.source_of(position) for position, index in enumerate(indices)})
    result.sol_ms[indices] = roofline_ms(kind, shapes, dtype, hardware)


def _op_and_dtype(name: str, raw_dtype: str) -> tuple[OpColumns, OpDtype]:
    if name not in OP_TABLE_COLUMNS:
        raise ValueError(f"op {name!r} is not one of {', '.join(OP_TABLE_COLUMNS)}")
    spec = OP_TABLE_COLUMNS[name]
    if not spec.has_dtype or not (raw_dtype or spec.dtype_required):
        return spec, OpDtype.BF16
    if not raw_dtype:
        raise ValueError(f"{name} needs a dtype ({', '.join(d.value for d in OpDtype)})")
    try:
        return spec, OpDtype(raw_dtype)
    except ValueError:
        raise ValueError(f"dtype {raw_dtype!r} is not one of {', '.join(d.value for d in OpDtype)}") from None


def _columns(name: str, spec: OpColumns, rows: Sequence[Mapping[str, str]]) -> dict[str, FloatArray]:
    """The shape arrays of rows of one op; a ValueError naming the column when a value is missing or bad."""
    shapes: dict[str, FloatArray] = {}
    for column in spec.columns:
        raw = [row.get(column.name) or "" for row in rows]
        try:
            if column.convert is float:
                values = np.array(raw, dtype=np.float64)
            else:
                values = np.array([column.convert(value.strip()) for value in raw], dtype=np.float64)
        except ValueError as error:
            if len(rows) == 1 and not raw[0].strip():
                raise ValueError(f"{name} needs column {column.name!r} ({column.description})") from None
            if len(rows) == 1 and column.convert is float:
                raise ValueError(f"{column.name} {raw[0]!r} is not a number") from None
            raise ValueError(str(error)) from None
        for target in column.targets or (column.name,):
            shapes[target] = values
    return shapes
