"""The parameters of the calibrated roofline: every name a calibration file may set, and what it means."""

from __future__ import annotations

from servecast.domain.kernels import AllReduceKernel
from servecast.ops.dtypes import OpDtype

_GEMM_DTYPES = (OpDtype.BF16, OpDtype.FP16, OpDtype.FP8, OpDtype.FP8_BLOCK, OpDtype.INT8)
_CUSTOM_ALL_REDUCE = (AllReduceKernel.VLLM_CUSTOM, AllReduceKernel.TRTLLM_CUSTOM, AllReduceKernel.SYMM_MEM)

CALIBRATION_PARAMETERS: dict[str, str] = {
    "kernel.floor_ms": "shortest time any kernel takes (launch, prologue, one wave's latency)",
    "memory.bytes_scale": "bytes a kernel must move before its bandwidth reaches 63% of the maximum",
    "compute.flops_scale": "FLOPs a kernel must do before its tensor-core utilisation reaches 63% of the maximum",
    **{
        f"gemm.efficiency.{dtype.value}": f"tensor-core efficiency of large {dtype.value} GEMMs (fraction of peak)"
        for dtype in _GEMM_DTYPES
    },
    "gemm.k_overhead": "prologue/epilogue cost of one output tile, in K-steps: efficiency is k / (k + k_overhead)",
    "gemm.memory_efficiency": "fraction of peak HBM bandwidth a large memory-bound GEMM reaches",
    "gemm.weight_only_efficiency": "compute efficiency of dequantize-in-kernel (weight-only) GEMMs relative to bf16",
    "gemm.serving_efficiency": "compute rate of engines' GEMMs at model shapes relative to best-shape kernels",
    "moe.grouped_efficiency": "grouped-GEMM (MoE experts) compute efficiency relative to a dense GEMM",
    "attention.efficiency": "tensor-core efficiency of long, wide flash-attention prefill (fraction of bf16 peak)",
    "attention.row_overhead": "per-query cost of a flash-attention row (softmax, Q load, O store), in keys",
    "attention.head_dim_overhead": "per-head-dimension overhead: efficiency scales with d / (d + head_dim_overhead)",
    "attention.fp8_speedup": "FP8 flash-attention throughput relative to bf16",
    "attention.fa2_class_efficiency": "FlashAttention-2-class kernels (FA2, Triton, xFormers, FlashInfer-FA2) vs FA3",
    "attention.fa2_efficiency": "FlashAttention-2 itself vs FA3 (default: attention.fa2_class_efficiency)",
    "decode_attention.memory_efficiency": "fraction of peak HBM bandwidth paged decode attention reaches",
    "decode_attention.head_overhead": "decode attention's cost per cached token beyond its KV heads, in KV heads",
    "decode_attention.floor_ms": "fixed time of a paged decode-attention call (default: kernel.floor_ms)",
    "mla_decode.memory_efficiency": "fraction of peak HBM bandwidth MLA decode reaches",
    "mla_decode.compute_efficiency": "tensor-core efficiency of compute-bound MLA decode",
    "elementwise.memory_efficiency": "fraction of peak HBM bandwidth memory-bound elementwise kernels reach",
    "all_reduce.custom_max_bytes": "largest message a custom all-reduce handles; larger ones go to NCCL",
    "all_reduce.nccl.latency_ms": "NCCL all-reduce fixed latency",
    "all_reduce.nccl.peer_latency_ms": "NCCL all-reduce latency per additional GPU",
    "all_reduce.nccl.ring_efficiency": "NCCL ring all-reduce bandwidth as a fraction of the NVLink rate",
    "all_reduce.nccl.nvls_efficiency": "NCCL NVLink-SHARP all-reduce: one pass of the buffer, as a fraction of NVLink",
    **{
        f"all_reduce.{kernel.value}.{field}": f"{kernel.value} all-reduce: {meaning}"
        for kernel in _CUSTOM_ALL_REDUCE
        for field, meaning in (
            ("latency_ms", "fixed latency of one exchange"),
            ("peer_latency_ms", "latency per additional GPU"),
            ("bandwidth_efficiency", "bandwidth as a fraction of the NVLink rate"),
        )
    },
    "all_reduce.symm_mem.multimem_efficiency": "symmetric-memory multimem (NVLink SHARP) all-reduce bandwidth fraction",
    "all_gather.latency_ms": "NCCL all-gather fixed latency",
    "all_gather.bandwidth_efficiency": "NCCL all-gather bandwidth as a fraction of the NVLink rate",
    "reduce_scatter.latency_ms": "NCCL reduce-scatter fixed latency",
    "reduce_scatter.bandwidth_efficiency": "NCCL reduce-scatter bandwidth as a fraction of the NVLink rate",
    "all_to_all.latency_ms": "all-to-all fixed latency inside a node",
    "all_to_all.intra_efficiency": "all-to-all bandwidth inside a node as a fraction of the NVLink rate",
    "all_to_all.inter_latency_ms": "all-to-all fixed latency across nodes",
    "all_to_all.inter_efficiency": "all-to-all bandwidth across nodes as a fraction of the network rate",
    "p2p.latency_ms": "point-to-point send fixed latency",
    "p2p.efficiency": "point-to-point bandwidth as a fraction of the link rate",
    "inter_node.efficiency": "collective bandwidth across nodes as a fraction of the network rate",
}
"""Every parameter name, with its meaning. Efficiencies are fractions in (0, 1]."""
