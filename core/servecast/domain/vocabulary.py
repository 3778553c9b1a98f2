"""The shared words of servecast: data types, parallel modes, quantizations, serving modes."""

from __future__ import annotations

from enum import StrEnum


class ComputeDtype(StrEnum):
    """Tensor-core input data types a GPU's dense throughput is quoted for."""

    TF32 = "tf32"
    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    INT8 = "int8"
    FP4 = "fp4"


class ParallelMode(StrEnum):
    """Ways to split one model instance over several GPUs."""

    TP = "tp"
    """Tensor parallel: heads, FFN columns and vocabulary split; all-reduce after attention and MLP."""
    PP = "pp"
    """Pipeline parallel: layers split into stages; activations passed point to point."""
    EP = "ep"
    """Expert parallel: whole MoE experts placed on different GPUs; tokens dispatched all-to-all."""
    ATTENTION_DP = "attention_dp"
    """Attention data parallel: each rank runs attention for its own requests (MoE models)."""
    MOE_TP = "moe_tp"
    """Tensor parallel inside each MoE expert, combinable with expert parallel."""


class Quantization(StrEnum):
    """Weight/activation quantization schemes a framework can run."""

    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    """FP8 weights and activations with per-tensor or per-channel scales."""
    FP8_BLOCK = "fp8_block"
    """FP8 with fine-grained block scales (e.g. 128x128 weights, 1x128 activations, as DeepSeek-V3)."""
    INT8_W8A8 = "int8_w8a8"
    """INT8 weights and activations (SmoothQuant style)."""
    INT8_WEIGHT_ONLY = "int8_weight_only"
    W4A16_AWQ = "w4a16_awq"
    W4A16_GPTQ = "w4a16_gptq"
    W4A8_AWQ = "w4a8_awq"
    """INT4 weights with FP8 activations."""
    MXFP4 = "mxfp4"
    """OCP microscaling FP4 weights (gpt-oss checkpoints)."""
    NVFP4 = "nvfp4"


class KvCacheDtype(StrEnum):
    """Data types a KV cache can be stored in."""

    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    INT8 = "int8"


class GpuVendor(StrEnum):
    """Who makes a GPU: it decides which frameworks and kernels run on it."""

    NVIDIA = "nvidia"
    AMD = "amd"


class ServingMode(StrEnum):
    """How requests are served."""

    STATIC = "static"
    """One fixed batch: prefill all, then decode all to the end."""
    AGGREGATED = "agg"
    """Continuous (in-flight) batching: prefill and decode share the same workers."""
    DISAGGREGATED = "disagg"
    """Separate prefill and decode worker pools; the KV cache moves between them."""
