"""DeepSeek-V2/V3/R1: multi-head latent attention, dense first layers, shared plus routed experts, MTP noted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from servecast.models.architecture import MlaDims, ModelArchitecture, MoeDims
from servecast.models.families.reader import ConfigReader


@dataclass(frozen=True)
class DeepseekFamily:
    """MLA attention (q/kv LoRA ranks, decoupled RoPE) and DeepSeekMoE (first_k_dense_replace dense layers)."""

    name: str = "deepseek"
    architectures: tuple[str, ...] = ("DeepseekV2ForCausalLM", "DeepseekV3ForCausalLM")

    def build(self, config: Mapping[str, Any]) -> ModelArchitecture:
        reader = ConfigReader(config, self.name)
        common = reader.common()
        layers = common["num_layers"]
        mla = MlaDims(
            q_lora_rank=reader.optional_integer("q_lora_rank"),
            kv_lora_rank=reader.integer("kv_lora_rank"),
            qk_nope_head_dim=reader.integer("qk_nope_head_dim"),
            qk_rope_head_dim=reader.integer("qk_rope_head_dim"),
            v_head_dim=reader.integer("v_head_dim"),
        )
        first_dense = reader.integer("first_k_dense_replace", 0)
        frequency = reader.integer("moe_layer_freq", 1) or 1
        shared = reader.integer("n_shared_experts", 0)
        expert_width = reader.integer("moe_intermediate_size")
        common.update(num_kv_heads=common["num_heads"], head_dim=mla.qk_head_dim)
        return ModelArchitecture(
            **common,
            intermediate_size=reader.integer("intermediate_size"),
            mla=mla,
            moe=MoeDims(
                num_experts=reader.integer("n_routed_experts"),
                top_k=reader.integer("num_experts_per_tok"),
                expert_intermediate_size=expert_width,
                shared_experts=shared,
                shared_intermediate_size=expert_width if shared else 0,
                router_bias=reader.config.get("topk_method") == "noaux_tc",
            ),
            layer_windows=(None,) * layers,
            layer_is_moe=tuple(index >= first_dense and index % frequency == 0 for index in range(layers)),
            mtp_layers=reader.integer("num_nextn_predict_layers", 0),
        )
