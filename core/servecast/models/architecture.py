"""A model's architecture, normalised from its Hugging Face config: what the op graph and memory model read."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from servecast.domain.base import FrozenModel


class MlaDims(FrozenModel):
    """Multi-head latent attention (DeepSeek-V2/V3): low-rank query and compressed KV with a decoupled RoPE part."""

    q_lora_rank: int | None = Field(ge=1, description="None: queries are projected directly from the hidden state.")
    kv_lora_rank: int = Field(ge=1, description="Width of the compressed KV latent that the cache stores.")
    qk_nope_head_dim: int = Field(ge=1)
    qk_rope_head_dim: int = Field(ge=1, description="Decoupled RoPE key width, shared by all heads and cached.")
    v_head_dim: int = Field(ge=1)

    @property
    def qk_head_dim(self) -> int:
        """Query/key width per head in the uncompressed (prefill) form."""
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    @property
    def cached_width(self) -> int:
        """Elements cached per token and layer: the latent plus the shared RoPE key."""
        return self.kv_lora_rank + self.qk_rope_head_dim


class MoeDims(FrozenModel):
    """A mixture-of-experts MLP: routed experts (top-k per token) plus optional always-on shared experts."""

    num_experts: int = Field(ge=2)
    top_k: int = Field(ge=1)
    expert_intermediate_size: int = Field(ge=1)
    shared_experts: int = Field(default=0, ge=0)
    shared_intermediate_size: int = Field(default=0, ge=0, description="Per shared expert.")
    expert_bias: bool = Field(default=False, description="Expert projections carry biases (gpt-oss).")
    router_bias: bool = False

    @model_validator(mode="after")
    def _top_k_fits(self) -> Self:
        if self.top_k > self.num_experts:
            raise ValueError(f"top_k={self.top_k} exceeds num_experts={self.num_experts}")
        return self


class ModelArchitecture(FrozenModel):
    """A decoder-only transformer, layer by layer, with the sizes every later stage needs."""

    family: str = Field(description="The servecast model family that read the config.")
    hf_architecture: str
    hidden_size: int = Field(ge=1)
    num_layers: int = Field(ge=1)
    num_heads: int = Field(ge=1)
    num_kv_heads: int = Field(ge=1, description="KV heads (GQA); equals num_heads for MHA; 1 for MLA's latent.")
    head_dim: int = Field(ge=1)
    intermediate_size: int = Field(ge=0, description="Dense MLP width (0 when every layer is MoE).")
    vocab_size: int = Field(ge=1)
    tie_word_embeddings: bool = False
    gated_mlp: bool = Field(default=True, description="SwiGLU-style MLP with gate, up and down projections.")
    qk_norm: bool = Field(default=False, description="RMSNorm on queries and keys per head (Qwen3).")
    qkv_bias: bool = Field(default=False, description="Bias on the q, k and v projections (Qwen2).")
    o_bias: bool = False
    attention_sinks: bool = Field(default=False, description="A learned sink logit per head (gpt-oss).")
    mla: MlaDims | None = None
    moe: MoeDims | None = None
    layer_windows: tuple[int | None, ...] = Field(description="Per layer: sliding-window size, or None for full.")
    layer_is_moe: tuple[bool, ...] = Field(description="Per layer: MoE MLP (True) or dense MLP (False).")
    mtp_layers: int = Field(default=0, ge=0, description="Multi-token-prediction layers; not part of the main model.")
    max_position_embeddings: int = Field(ge=1)
    weights_dtype: str = Field(default="bfloat16", description="The checkpoint's unquantized dtype.")

    @model_validator(mode="after")
    def _per_layer_tables_match(self) -> Self:
        for name in ("layer_windows", "layer_is_moe"):
            if len(getattr(self, name)) != self.num_layers:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries for {self.num_layers} layers")
        if any(self.layer_is_moe) and self.moe is None:
            raise ValueError("MoE layers need the moe dimensions")
        if not all(self.layer_is_moe) and self.intermediate_size == 0:
            raise ValueError("dense layers need intermediate_size")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_heads={self.num_heads} is not a multiple of num_kv_heads={self.num_kv_heads}")
        return self

    @property
    def q_width(self) -> int:
        """Query projection width (all heads)."""
        return self.num_heads * (self.mla.qk_head_dim if self.mla else self.head_dim)

    @property
    def kv_width(self) -> int:
        """Key (or value) projection width of all KV heads (GQA)."""
        return self.num_kv_heads * self.head_dim

    @property
    def attention_out_width(self) -> int:
        """Width entering the output projection."""
        return self.num_heads * (self.mla.v_head_dim if self.mla else self.head_dim)

    @property
    def dense_layers(self) -> int:
        return self.layer_is_moe.count(False)

    @property
    def moe_layers(self) -> int:
        return self.layer_is_moe.count(True)

    @property
    def windowed_layers(self) -> int:
        return sum(window is not None for window in self.layer_windows)
