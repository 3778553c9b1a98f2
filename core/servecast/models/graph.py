"""Building the op graph of one pipeline stage: attention, MLP or MoE per layer group, communication, head."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from servecast.arrays import FloatArray, IntArray
from servecast.domain.layout import ParallelLayout
from servecast.domain.quantization import KV_CACHE_BYTES
from servecast.models.architecture import ModelArchitecture
from servecast.models.model import Model
from servecast.models.ops import Op, OpGraph, OpPart
from servecast.models.step import StepShape
from servecast.models.weights import WeightRole, stage_layers
from servecast.ops.dtypes import OpDtype, op_dtype
from servecast.ops.estimator import OpKind
from servecast.ops.shapes import fill_shapes
from servecast.ops.work import ACTIVATION_BYTES


@dataclass(frozen=True)
class GraphOptions:
    """Assumptions that are not part of the model or layout."""

    moe_imbalance: float = 1.0
    """Tokens on the busiest expert rank relative to the mean (1.0: perfectly balanced routing)."""
    moe_all_to_all: bool = True
    """With attention-DP and EP, dispatch/combine by all-to-all (else all-gather + reduce-scatter)."""


class _Builder:
    """Accumulates the ops of one stage."""

    def __init__(
        self,
        model: Model,
        layout: ParallelLayout,
        step: StepShape,
        options: GraphOptions,
        parts: frozenset[OpPart] | None = None,
    ) -> None:
        self.parts = parts
        """The parts whose ops to build (None: every part)."""
        self.model = model
        self.arch: ModelArchitecture = model.architecture
        self.layout = layout
        self.step = step
        self.options = options
        self.ops: list[Op] = []
        self.tokens = step.tokens.astype(np.float64)

    def _arr(self, value: float | NDArray[Any]) -> FloatArray:
        if np.ndim(value) == 0:
            return np.full(self.step.points, value, dtype=np.float64)
        return np.asarray(value, dtype=np.float64)

    def _ints(self, value: int | IntArray) -> IntArray:
        if np.ndim(value) == 0:
            return np.full(self.step.points, value, dtype=np.int64)
        return np.asarray(value, dtype=np.int64)

    def add(
        self,
        name: str,
        kind: OpKind,
        count: int,
        shape: Mapping[str, IntArray | FloatArray],
        dtype: OpDtype = OpDtype.BF16,
        replicated: bool = False,
        part: OpPart = OpPart.TOKENS,
    ) -> None:
        """Append an op (of a part the graph wants); its shapes hold by construction (one length, finite,
        non-negative), so they are filled in for the estimators without being checked."""
        if not self.wants(part):
            return
        inputs = fill_shapes(kind, shape, self.step.points)
        self.ops.append(Op(name, kind, count, dtype.value, shape, replicated, part, inputs))

    def wants(self, part: OpPart) -> bool:
        return self.parts is None or part in self.parts

    def gemm(
        self,
        name: str,
        count: int,
        m: IntArray | int,
        n: int,
        k: int,
        role: WeightRole,
        batch: int = 1,
        replicated: bool = False,
        part: OpPart = OpPart.TOKENS,
    ) -> None:
        if not self.wants(part):
            return
        dtype = op_dtype(self.model.quantization.scheme(role).quantization)
        shape = {"m": self._ints(m), "n": self._ints(n), "k": self._ints(k), "batch": self._ints(batch)}
        self.add(name, OpKind.GEMM, count, shape, dtype, replicated, part)

    def elementwise(
        self,
        name: str,
        count: int,
        elements: FloatArray,
        reads: int = 1,
        writes: int = 1,
        element_bytes: float = ACTIVATION_BYTES,
        replicated: bool = False,
        part: OpPart = OpPart.TOKENS,
    ) -> None:
        if not self.wants(part):
            return
        touched = self._arr(elements * (reads + writes) * element_bytes)
        self.add(name, OpKind.ELEMENTWISE, count, {"bytes": touched}, replicated=replicated, part=part)

    def collective(
        self, name: str, kind: OpKind, count: int, payload: FloatArray, participants: int, part: OpPart = OpPart.TOKENS
    ) -> None:
        if not self.wants(part):
            return
        shape: dict[str, IntArray | FloatArray] = {
            "message_bytes": self._arr(payload),
            "num_gpus": self._ints(participants),
        }
        self.add(name, kind, count, shape, part=part)


def build_stage_graph(
    model: Model,
    layout: ParallelLayout,
    step: StepShape,
    stage: int = -1,
    options: GraphOptions | None = None,
    parts: frozenset[OpPart] | None = None,
) -> OpGraph:
    """The ops one GPU of pipeline stage `stage` (default: the last) runs for `step` (only those of `parts`, where
    given: the step tables tabulate one part at a time)."""
    arch = model.architecture
    stages = stage_layers(arch.num_layers, layout.pp)
    index = stage % layout.pp
    builder = _Builder(model, layout, step, options or GraphOptions(), parts)
    layers = stages[index]
    if index == 0:
        builder.elementwise("embedding", 1, builder.tokens * arch.hidden_size, replicated=True)
    groups = Counter((arch.layer_windows[i], arch.layer_is_moe[i]) for i in layers)
    for (window, is_moe), count in sorted(groups.items(), key=lambda item: (item[0][0] or 0, item[0][1])):
        suffix = _suffix(window, is_moe, groups)
        _attention_ops(builder, count, window, suffix)
        if is_moe:
            _moe_ops(builder, count, suffix)
        else:
            _dense_mlp_ops(builder, count, suffix)
    if index == layout.pp - 1:
        _head_ops(builder)
    else:
        payload = builder._arr(builder.tokens * arch.hidden_size * ACTIVATION_BYTES)
        builder.add("pp_send", OpKind.P2P, 1, {"message_bytes": payload})
    return OpGraph(stage=index, layers=layers, ops=tuple(builder.ops))


def _suffix(window: int | None, is_moe: bool, groups: Counter[tuple[int | None, bool]]) -> str:
    windows = {key[0] for key in groups}
    kinds = {key[1] for key in groups}
    parts = []
    if len(windows) > 1:
        parts.append(f"swa{window}" if window else "full")
    if len(kinds) > 1:
        parts.append("moe" if is_moe else "dense")
    return f"[{','.join(parts)}]" if parts else ""


def _attention_ops(b: _Builder, count: int, window: int | None, suffix: str) -> None:
    arch, layout, step = b.arch, b.layout, b.step
    hidden = arch.hidden_size
    heads = arch.num_heads // layout.tp
    b.elementwise(f"input_norm{suffix}", count, b.tokens * hidden, replicated=True)
    kv_bytes = KV_CACHE_BYTES[b.model.kv_cache_dtype]
    if arch.mla is not None:
        _mla_ops(b, count, suffix, heads, kv_bytes)
    else:
        kv_heads = math.ceil(arch.num_kv_heads / layout.tp)
        head_dim = arch.head_dim
        qkv_width = (heads + 2 * kv_heads) * head_dim
        b.gemm(f"qkv_proj{suffix}", count, step.tokens, qkv_width, hidden, WeightRole.ATTENTION)
        if arch.qk_norm:
            b.elementwise(f"qk_norm{suffix}", count, b.tokens * (heads + kv_heads) * head_dim)
        b.elementwise(f"rope{suffix}", count, b.tokens * (heads + kv_heads) * head_dim)
        b.elementwise(
            f"kv_cache_write{suffix}", count, b.tokens * 2 * kv_heads * head_dim, reads=0, element_bytes=kv_bytes
        )
        heads_shape = {
            "heads": b._ints(heads),
            "kv_heads": b._ints(kv_heads),
            "head_dim": b._ints(head_dim),
            "kv_bytes": b._ints(kv_bytes),
            "window": b._ints(window or 0),
        }
        if step.prefill_seqs.any():
            shape = {
                "batch": step.prefill_seqs,
                "q_len": step.prefill_tokens,
                "kv_len": step.prefill_tokens + step.prefill_past,
                **heads_shape,
            }
            b.add(f"context_attention{suffix}", OpKind.CONTEXT_ATTENTION, count, shape, part=OpPart.CONTEXT)
        if step.decode_seqs.any():
            shape = {"batch": step.decode_seqs, "kv_len": step.decode_kv_len, **heads_shape}
            b.add(f"decode_attention{suffix}", OpKind.DECODE_ATTENTION, count, shape, part=OpPart.DECODE)
        b.gemm(f"o_proj{suffix}", count, step.tokens, hidden, heads * head_dim, WeightRole.ATTENTION)
    if layout.tp > 1:
        payload = b.tokens * hidden * ACTIVATION_BYTES
        b.collective(f"attn_all_reduce{suffix}", OpKind.ALL_REDUCE, count, payload, layout.tp)
    b.elementwise(f"post_attention_norm{suffix}", count, b.tokens * hidden, replicated=True)


def _mla_ops(b: _Builder, count: int, suffix: str, heads: int, kv_bytes: int) -> None:
    """MLA: replicated down-projections, prefill in the decompressed form, decode in the absorbed form."""
    arch, step = b.arch, b.step
    mla = arch.mla
    assert mla is not None
    hidden = arch.hidden_size
    if mla.q_lora_rank:
        b.gemm(f"q_a_proj{suffix}", count, step.tokens, mla.q_lora_rank, hidden, WeightRole.ATTENTION, replicated=True)
        b.gemm(f"q_b_proj{suffix}", count, step.tokens, heads * mla.qk_head_dim, mla.q_lora_rank, WeightRole.ATTENTION)
    else:
        b.gemm(f"q_proj{suffix}", count, step.tokens, heads * mla.qk_head_dim, hidden, WeightRole.ATTENTION)
    b.gemm(f"kv_a_proj{suffix}", count, step.tokens, mla.cached_width, hidden, WeightRole.ATTENTION, replicated=True)
    b.elementwise(
        f"mla_norms_rope{suffix}", count, b.tokens * (mla.cached_width + heads * mla.qk_rope_head_dim), replicated=True
    )
    b.elementwise(
        f"kv_cache_write{suffix}", count, b.tokens * mla.cached_width, reads=0, element_bytes=kv_bytes, replicated=True
    )
    if step.prefill_seqs.any():
        kv_len = step.prefill_tokens + step.prefill_past
        b.gemm(
            f"kv_b_proj{suffix}",
            count,
            step.prefill_seqs * kv_len,
            heads * (mla.qk_nope_head_dim + mla.v_head_dim),
            mla.kv_lora_rank,
            WeightRole.ATTENTION,
            part=OpPart.CONTEXT,
        )
        shape = {
            "batch": step.prefill_seqs,
            "q_len": step.prefill_tokens,
            "kv_len": kv_len,
            "heads": b._ints(heads),
            "qk_head_dim": b._ints(mla.qk_head_dim),
            "v_head_dim": b._ints(mla.v_head_dim),
        }
        b.add(f"mla_context{suffix}", OpKind.MLA_CONTEXT, count, shape, part=OpPart.CONTEXT)
    if step.decode_seqs.any():
        b.gemm(
            f"q_absorb{suffix}",
            count,
            step.decode_seqs,
            mla.kv_lora_rank,
            mla.qk_nope_head_dim,
            WeightRole.ATTENTION,
            batch=heads,
            part=OpPart.DECODE,
        )
        shape = {
            "batch": step.decode_seqs,
            "kv_len": step.decode_kv_len,
            "heads": b._ints(heads),
            "latent_dim": b._ints(mla.kv_lora_rank),
            "rope_dim": b._ints(mla.qk_rope_head_dim),
            "kv_bytes": b._ints(kv_bytes),
        }
        b.add(f"mla_decode{suffix}", OpKind.MLA_DECODE, count, shape, part=OpPart.DECODE)
        b.gemm(
            f"v_absorb{suffix}",
            count,
            step.decode_seqs,
            mla.v_head_dim,
            mla.kv_lora_rank,
            WeightRole.ATTENTION,
            batch=heads,
            part=OpPart.DECODE,
        )
    b.gemm(f"o_proj{suffix}", count, step.tokens, hidden, heads * mla.v_head_dim, WeightRole.ATTENTION)


def _dense_mlp_ops(b: _Builder, count: int, suffix: str) -> None:
    arch, layout = b.arch, b.layout
    width = arch.intermediate_size // layout.tp
    _mlp(b, f"mlp{suffix}", count, b.step.tokens, width, WeightRole.DENSE_MLP)
    if layout.tp > 1:
        payload = b.tokens * arch.hidden_size * ACTIVATION_BYTES
        b.collective(f"mlp_all_reduce{suffix}", OpKind.ALL_REDUCE, count, payload, layout.tp)


def _mlp(b: _Builder, name: str, count: int, tokens: IntArray, width: int, role: WeightRole) -> None:
    hidden = b.arch.hidden_size
    if b.arch.gated_mlp:
        b.gemm(f"{name}.gate_up_proj", count, tokens, 2 * width, hidden, role)
    else:
        b.gemm(f"{name}.up_proj", count, tokens, width, hidden, role)
    b.elementwise(f"{name}.act", count, tokens.astype(np.float64) * width * (2 if b.arch.gated_mlp else 1), writes=1)
    b.gemm(f"{name}.down_proj", count, tokens, hidden, width, role)


def _moe_ops(b: _Builder, count: int, suffix: str) -> None:
    """Router, shared experts, routed experts on this GPU's expert shard, and the layout's MoE communication."""
    arch, layout, step = b.arch, b.layout, b.step
    moe = arch.moe
    assert moe is not None
    hidden = arch.hidden_size
    b.gemm(f"router{suffix}", count, step.tokens, moe.num_experts, hidden, WeightRole.ROUTER, replicated=True)
    if moe.shared_experts:
        width = moe.shared_experts * moe.shared_intermediate_size // layout.tp
        _mlp(b, f"shared_experts{suffix}", count, step.tokens, width, WeightRole.SHARED_EXPERTS)
    stage_tokens = b.tokens * layout.attention_dp  # tokens entering the MoE across the stage
    shape: dict[str, IntArray | FloatArray] = {
        "tokens": b._arr(stage_tokens),
        "hidden": b._ints(hidden),
        "intermediate": b._ints(moe.expert_intermediate_size),
        "experts": b._ints(moe.num_experts),
        "top_k": b._ints(moe.top_k),
        "ep": b._ints(layout.ep),
        "moe_tp": b._ints(layout.moe_tp),
        "redundant": b._ints(layout.redundant_experts),
        "imbalance": b._arr(b.options.moe_imbalance),
        "gated": b._ints(1 if arch.gated_mlp else 0),
    }
    dtype = op_dtype(b.model.quantization.scheme(WeightRole.ROUTED_EXPERTS).quantization)
    b.add(f"moe_experts{suffix}", OpKind.MOE, count, shape, dtype)
    stage_gpus = layout.tp * layout.attention_dp
    if stage_gpus == 1:
        return
    if layout.attention_dp == 1:
        payload = b.tokens * hidden * ACTIVATION_BYTES
        b.collective(f"moe_all_reduce{suffix}", OpKind.ALL_REDUCE, count, payload, stage_gpus)
    elif layout.ep > 1 and b.options.moe_all_to_all:
        copies = b.tokens / layout.tp * moe.top_k * hidden
        b.collective(f"moe_dispatch{suffix}", OpKind.ALL_TO_ALL, count, copies * dispatch_bytes(dtype), stage_gpus)
        b.collective(f"moe_combine{suffix}", OpKind.ALL_TO_ALL, count, copies * ACTIVATION_BYTES, stage_gpus)
    else:
        gathered = stage_tokens * hidden * ACTIVATION_BYTES
        b.collective(f"moe_all_gather{suffix}", OpKind.ALL_GATHER, count, gathered, stage_gpus)
        b.collective(f"moe_reduce_scatter{suffix}", OpKind.REDUCE_SCATTER, count, gathered, stage_gpus)


def dispatch_bytes(dtype: OpDtype) -> float:
    """Bytes per element an all-to-all dispatch sends: experts with 8-bit activations get tokens quantized before
    they leave (DeepEP's FP8 dispatch, one fp32 scale per 128 elements); the combine returns 16-bit outputs."""
    if dtype.activation_bytes == 1:
        return 1 + 4 / 128
    return ACTIVATION_BYTES


def _head_ops(b: _Builder) -> None:
    arch, layout, step = b.arch, b.layout, b.step
    rows = step.logit_rows.astype(np.float64)
    logits = OpPart.LOGITS
    b.elementwise("final_norm", 1, rows * arch.hidden_size, replicated=True, part=logits)
    vocab = math.ceil(arch.vocab_size / layout.tp)
    b.gemm("lm_head", 1, step.logit_rows, vocab, arch.hidden_size, WeightRole.LM_HEAD, part=logits)
    if layout.tp > 1:
        payload = rows * vocab * layout.tp * 4  # fp32 logits gathered for sampling
        b.collective("logits_all_gather", OpKind.ALL_GATHER, 1, payload, layout.tp, part=logits)
    b.elementwise("sampling", 1, rows * arch.vocab_size, writes=0, element_bytes=4, replicated=True, part=logits)
