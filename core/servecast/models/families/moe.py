"""MoE decoders with standard attention: Mixtral, Qwen3-MoE, MiniMax-M2, gpt-oss (sinks, alternating windows)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from servecast.models.architecture import ModelArchitecture, MoeDims
from servecast.models.families.reader import ConfigReader


@dataclass(frozen=True)
class MixtralFamily:
    """Mixtral: every layer MoE (8 experts, top-2), GQA, optional sliding window."""

    name: str = "mixtral"
    architectures: tuple[str, ...] = ("MixtralForCausalLM",)

    def build(self, config: Mapping[str, Any]) -> ModelArchitecture:
        reader = ConfigReader(config, self.name)
        common = reader.common()
        layers = common["num_layers"]
        return ModelArchitecture(
            **common,
            intermediate_size=0,
            moe=MoeDims(
                num_experts=reader.integer("num_local_experts"),
                top_k=reader.integer("num_experts_per_tok"),
                expert_intermediate_size=reader.integer("intermediate_size"),
            ),
            layer_windows=reader.layer_windows(layers, reader.optional_integer("sliding_window")),
            layer_is_moe=(True,) * layers,
        )


@dataclass(frozen=True)
class Qwen3MoeFamily:
    """Qwen3-MoE: qk-norm GQA attention; MoE every `decoder_sparse_step` layers except `mlp_only_layers`."""

    name: str = "qwen3_moe"
    architectures: tuple[str, ...] = ("Qwen3MoeForCausalLM",)

    def build(self, config: Mapping[str, Any]) -> ModelArchitecture:
        reader = ConfigReader(config, self.name)
        common = reader.common()
        layers = common["num_layers"]
        step = reader.integer("decoder_sparse_step", 1) or 1
        dense_only = set(config.get("mlp_only_layers") or [])
        is_moe = tuple(index not in dense_only and (index + 1) % step == 0 for index in range(layers))
        return ModelArchitecture(
            **common,
            intermediate_size=reader.integer("intermediate_size", 0) if not all(is_moe) else 0,
            qk_norm=True,
            moe=MoeDims(
                num_experts=reader.integer("num_experts"),
                top_k=reader.integer("num_experts_per_tok"),
                expert_intermediate_size=reader.integer("moe_intermediate_size"),
            ),
            layer_windows=(None,) * layers,
            layer_is_moe=is_moe,
        )


@dataclass(frozen=True)
class MiniMaxM2Family:
    """MiniMax-M2: full GQA attention with per-layer qk-norm, every layer MoE with many small experts."""

    name: str = "minimax_m2"
    architectures: tuple[str, ...] = ("MiniMaxM2ForCausalLM",)

    def build(self, config: Mapping[str, Any]) -> ModelArchitecture:
        reader = ConfigReader(config, self.name)
        common = reader.common()
        layers = common["num_layers"]
        return ModelArchitecture(
            **common,
            intermediate_size=0,
            qk_norm=reader.flag("use_qk_norm", True),
            moe=MoeDims(
                num_experts=reader.integer("num_local_experts"),
                top_k=reader.integer("num_experts_per_tok"),
                expert_intermediate_size=reader.integer("intermediate_size"),
                shared_experts=1 if reader.integer("shared_intermediate_size", 0) else 0,
                shared_intermediate_size=reader.integer("shared_intermediate_size", 0),
                router_bias=reader.flag("use_routing_bias", False),
            ),
            layer_windows=reader.layer_windows(layers, None),
            layer_is_moe=(True,) * layers,
            mtp_layers=reader.integer("num_mtp_modules", 0) if reader.flag("use_mtp", False) else 0,
        )


@dataclass(frozen=True)
class GptOssFamily:
    """gpt-oss: alternating sliding-window (128) and full attention with sinks, biased projections, MoE top-4."""

    name: str = "gpt_oss"
    architectures: tuple[str, ...] = ("GptOssForCausalLM",)

    def build(self, config: Mapping[str, Any]) -> ModelArchitecture:
        reader = ConfigReader(config, self.name)
        common = reader.common()
        layers = common["num_layers"]
        return ModelArchitecture(
            **common,
            intermediate_size=0,
            qkv_bias=True,
            o_bias=True,
            attention_sinks=True,
            moe=MoeDims(
                num_experts=reader.integer("num_local_experts"),
                top_k=reader.integer("num_experts_per_tok", None, "experts_per_token"),
                expert_intermediate_size=reader.integer("intermediate_size"),
                expert_bias=True,
                router_bias=True,
            ),
            layer_windows=reader.layer_windows(layers, reader.optional_integer("sliding_window")),
            layer_is_moe=(True,) * layers,
        )
