"""The kernels a framework version runs on a GPU, named from a shared vocabulary so estimators can map them."""

from __future__ import annotations

from enum import StrEnum
from typing import Generic, TypeVar

from servecast.domain.base import FrozenModel
from servecast.domain.provenance import Source


class AttentionKernel(StrEnum):
    """Prefill and decode attention for multi-head and grouped-query attention."""

    FLASH_ATTN2 = "flash_attn2"
    FLASH_ATTN3 = "flash_attn3"
    FLASHINFER = "flashinfer"
    TRITON = "triton"
    TRTLLM_FMHA = "trtllm_fmha"
    XFORMERS = "xformers"


class MlaKernel(StrEnum):
    """Multi-head latent attention (DeepSeek)."""

    FLASHMLA = "flashmla"
    FLASHINFER_MLA = "flashinfer_mla"
    TRITON_MLA = "triton_mla"
    TRTLLM_MLA = "trtllm_mla"
    CUTLASS_MLA = "cutlass_mla"
    FLASH_ATTN3 = "flash_attn3"


class AllReduceKernel(StrEnum):
    """The tensor-parallel all-reduce inside a node."""

    NCCL = "nccl"
    VLLM_CUSTOM = "vllm_custom"
    """vLLM's custom all-reduce: copy into IPC buffers, one-stage for small and two-stage for larger messages."""
    TRTLLM_CUSTOM = "trtllm_custom"
    """TensorRT-LLM's one-shot/two-shot custom all-reduce (and SGLang's port of it)."""
    SYMM_MEM = "symm_mem"
    """PyTorch symmetric-memory all-reduce (NVLink SHARP multimem, or two-shot)."""


class MoeKernel(StrEnum):
    """The fused-MoE grouped GEMM."""

    TRITON_FUSED_MOE = "triton_fused_moe"
    DEEPGEMM = "deepgemm"
    CUTLASS = "cutlass"
    FLASHINFER_CUTLASS = "flashinfer_cutlass"


K = TypeVar("K", bound=StrEnum)


class KernelChoice(FrozenModel, Generic[K]):
    """Which kernel a framework version uses for one primitive, and where that was read."""

    value: K
    source: Source
    note: str | None = None


class KernelChoices(FrozenModel):
    """A framework version's default kernels on the GPUs it is modelled for; None where it has no such kernel."""

    attention: KernelChoice[AttentionKernel] | None = None
    mla_attention: KernelChoice[MlaKernel] | None = None
    all_reduce: KernelChoice[AllReduceKernel] | None = None
    moe: KernelChoice[MoeKernel] | None = None
