"""MoE decoders with standard attention: Mixtral, Qwen3-MoE, MiniMax-M2, gpt-oss (sinks, alternating windows)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from servecast.models.architecture import ModelArchitecture, MoeDims
from servecast.models.families.reader import ConfigReader


@dataclass(frozen=True)
class MoeDecoderFamily:
    """GQA attention with MoE MLPs; the families differ in config key names and a few switches."""

    name: str
    architectures: tuple[str, ...]
    experts_key: str
    expert_width_key: str
    qk_norm: bool = False
    biased: bool = False
    """Biased projections, experts and router, plus attention sinks (gpt-oss)."""

    def build(self, config: Mapping[str, Any]) -> ModelArchitecture:
        """The architecture described by a config.json of this family."""
        reader = ConfigReader(config, self.name)
        common = reader.common()
        layers = common["num_layers"]
        step = reader.integer("decoder_sparse_step", 1) or 1  # Qwen3-MoE: MoE every `step` layers
        dense_only = set(config.get("mlp_only_layers") or [])
        is_moe = tuple(index not in dense_only and (index + 1) % step == 0 for index in range(layers))
        shared_width = reader.integer("shared_intermediate_size", 0)
        return ModelArchitecture(
            **common,
            intermediate_size=0 if all(is_moe) else reader.integer("intermediate_size"),
            qk_norm=reader.flag("use_qk_norm", self.qk_norm),
            qkv_bias=self.biased,
            o_bias=self.biased,
            attention_sinks=self.biased,
            moe=MoeDims(
                num_experts=reader.integer(self.experts_key),
                top_k=reader.integer("num_experts_per_tok", None, "experts_per_token"),
                expert_intermediate_size=reader.integer(self.expert_width_key),
                shared_experts=1 if shared_width else 0,
                shared_intermediate_size=shared_width,
                expert_bias=self.biased,
                router_bias=self.biased or reader.flag("use_routing_bias", False),
            ),
            layer_windows=reader.layer_windows(layers, reader.sliding_window()),
            layer_is_moe=is_moe,
            mtp_layers=reader.integer("num_mtp_modules", 0) if reader.flag("use_mtp", False) else 0,
        )


MIXTRAL = MoeDecoderFamily("mixtral", ("MixtralForCausalLM",), "num_local_experts", "intermediate_size")
QWEN3_MOE = MoeDecoderFamily(
    "qwen3_moe", ("Qwen3MoeForCausalLM",), "num_experts", "moe_intermediate_size", qk_norm=True
)
MINIMAX_M2 = MoeDecoderFamily(
    "minimax_m2", ("MiniMaxM2ForCausalLM",), "num_local_experts", "intermediate_size", qk_norm=True
)
GPT_OSS = MoeDecoderFamily("gpt_oss", ("GptOssForCausalLM",), "num_local_experts", "intermediate_size", biased=True)
