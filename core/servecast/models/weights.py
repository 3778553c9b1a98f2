"""The model's weights as groups with a sharding rule: parameter counts, and bytes held by each GPU of a layout."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from servecast.domain.layout import ParallelLayout
from servecast.models.architecture import ModelArchitecture


class Sharding(StrEnum):
    """How a weight group is divided over the GPUs of one pipeline stage."""

    TENSOR = "tensor"
    """Split over the attention tensor-parallel ranks (heads, FFN columns, vocabulary)."""
    KV_HEADS = "kv_heads"
    """Split over tensor-parallel ranks by KV head; replicated when there are fewer KV heads than ranks."""
    EXPERTS = "experts"
    """Routed experts, split over expert-parallel and expert-tensor-parallel ranks (ep x moe_tp)."""
    REPLICATED = "replicated"
    """A full copy on every GPU (norms, routers, MLA down-projections)."""


class WeightRole(StrEnum):
    """What a weight group is, which decides its quantization."""

    ATTENTION = "attention"
    DENSE_MLP = "dense_mlp"
    SHARED_EXPERTS = "shared_experts"
    ROUTED_EXPERTS = "routed_experts"
    ROUTER = "router"
    EMBEDDING = "embedding"
    LM_HEAD = "lm_head"
    NORM = "norm"


@dataclass(frozen=True)
class WeightGroup:
    """Parameters of one kind, repeated over `layers` layers (or once, for embeddings: layers = 0)."""

    name: str
    role: WeightRole
    sharding: Sharding
    params_per_layer: int
    layers: tuple[int, ...]
    """Indices of the layers holding this group, ascending; empty for the embedding (first stage) and LM head (last
    stage)."""
    active_fraction: float = 1.0
    """Share of the group a token uses (top_k / num_experts for routed experts; 0 for the embedding lookup table)."""

    @property
    def params(self) -> int:
        return self.params_per_layer * max(len(self.layers), 1)


def weight_groups(arch: ModelArchitecture) -> tuple[WeightGroup, ...]:
    """Every parameter of the model (the MTP module excluded), grouped by role and sharding."""
    all_layers = tuple(range(arch.num_layers))
    dense = tuple(i for i, moe in enumerate(arch.layer_is_moe) if not moe)
    sparse = tuple(i for i, moe in enumerate(arch.layer_is_moe) if moe)
    hidden = arch.hidden_size
    groups = [
        WeightGroup("embed_tokens", WeightRole.EMBEDDING, Sharding.TENSOR, arch.vocab_size * hidden, (), 0.0),
        WeightGroup("norms", WeightRole.NORM, Sharding.REPLICATED, 2 * hidden, all_layers),
        WeightGroup("final_norm", WeightRole.NORM, Sharding.REPLICATED, hidden, ()),
    ]
    if not arch.tie_word_embeddings:
        groups.append(WeightGroup("lm_head", WeightRole.LM_HEAD, Sharding.TENSOR, arch.vocab_size * hidden, ()))
    groups += _attention_groups(arch, all_layers)
    if dense:
        width = arch.intermediate_size
        groups.append(WeightGroup("mlp", WeightRole.DENSE_MLP, Sharding.TENSOR, _mlp_params(arch, width), dense))
    if sparse and arch.moe is not None:
        moe = arch.moe
        expert = _mlp_params(arch, moe.expert_intermediate_size)
        if moe.expert_bias:  # gate/up biases over the intermediate width, down bias over the hidden width
            expert += (2 if arch.gated_mlp else 1) * moe.expert_intermediate_size + hidden
        groups.append(
            WeightGroup(
                "experts",
                WeightRole.ROUTED_EXPERTS,
                Sharding.EXPERTS,
                moe.num_experts * expert,
                sparse,
                moe.top_k / moe.num_experts,
            )
        )
        router = hidden * moe.num_experts + (moe.num_experts if moe.router_bias else 0)
        groups.append(WeightGroup("router", WeightRole.ROUTER, Sharding.REPLICATED, router, sparse))
        if moe.shared_experts:
            shared = moe.shared_experts * _mlp_params(arch, moe.shared_intermediate_size)
            groups.append(WeightGroup("shared_experts", WeightRole.SHARED_EXPERTS, Sharding.TENSOR, shared, sparse))
    return tuple(groups)


def _mlp_params(arch: ModelArchitecture, width: int) -> int:
    return (3 if arch.gated_mlp else 2) * arch.hidden_size * width


def _attention_groups(arch: ModelArchitecture, layers: tuple[int, ...]) -> list[WeightGroup]:
    hidden = arch.hidden_size
    if arch.mla is not None:
        mla = arch.mla
        heads = arch.num_heads
        down = hidden * mla.cached_width + mla.kv_lora_rank  # kv_a projection + its norm
        if mla.q_lora_rank is None:
            q_up = hidden * heads * mla.qk_head_dim
        else:
            down += hidden * mla.q_lora_rank + mla.q_lora_rank  # q_a projection + its norm
            q_up = mla.q_lora_rank * heads * mla.qk_head_dim
        up = q_up + mla.kv_lora_rank * heads * (mla.qk_nope_head_dim + mla.v_head_dim)
        out = heads * mla.v_head_dim * hidden
        return [
            WeightGroup("attn_down_proj", WeightRole.ATTENTION, Sharding.REPLICATED, down, layers),
            WeightGroup("attn_up_and_o_proj", WeightRole.ATTENTION, Sharding.TENSOR, up + out, layers),
        ]
    q_and_o = 2 * hidden * arch.q_width
    q_and_o += (arch.q_width if arch.qkv_bias else 0) + (hidden if arch.o_bias else 0)
    q_and_o += 2 * arch.head_dim if arch.qk_norm else 0
    q_and_o += arch.num_heads if arch.attention_sinks else 0
    kv = 2 * hidden * arch.kv_width + (2 * arch.kv_width if arch.qkv_bias else 0)
    return [
        WeightGroup("attn_q_o_proj", WeightRole.ATTENTION, Sharding.TENSOR, q_and_o, layers),
        WeightGroup("attn_kv_proj", WeightRole.ATTENTION, Sharding.KV_HEADS, kv, layers),
    ]


@dataclass(frozen=True)
class ParamCounts:
    """Parameter counts; `active` is what one token reads (top-k experts, no embedding table lookup)."""

    total: int
    active: int
    embedding: int

    @property
    def active_with_embedding(self) -> int:
        """Active count the way some model cards quote it, with the input embedding table included."""
        return self.active + self.embedding


def parameter_counts(arch: ModelArchitecture) -> ParamCounts:
    """Total and active parameters of the main model (the MTP module is not counted)."""
    groups = weight_groups(arch)
    total = sum(group.params for group in groups)
    active = sum(round(group.params * group.active_fraction) for group in groups)
    embedding = next(group.params for group in groups if group.role is WeightRole.EMBEDDING)
    return ParamCounts(total=total, active=active, embedding=embedding)


def shard_fraction(group: WeightGroup, arch: ModelArchitecture, layout: ParallelLayout) -> float:
    """Share of `group` one GPU of a pipeline stage holds."""
    if group.sharding is Sharding.TENSOR:
        return 1 / layout.tp
    if group.sharding is Sharding.KV_HEADS:
        return math.ceil(arch.num_kv_heads / layout.tp) / arch.num_kv_heads
    if group.sharding is Sharding.EXPERTS:
        experts = arch.moe.num_experts if arch.moe is not None else 1
        return (experts + layout.redundant_experts) / experts / (layout.ep * layout.moe_tp)
    return 1.0


def stage_layers(num_layers: int, pp: int) -> tuple[range, ...]:
    """The layers of each pipeline stage, split as evenly as possible (earlier stages take the remainder)."""
    base, extra = divmod(num_layers, pp)
    stages, start = [], 0
    for stage in range(pp):
        size = base + (1 if stage < extra else 0)
        stages.append(range(start, start + size))
        start += size
    return tuple(stages)
