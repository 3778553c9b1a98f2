"""The pure roofline: the time an op needs at the datasheet's peak rates, with no latency and no inefficiency.

It is the last-resort estimate and the speed-of-light (`sol_ms`) every other estimate is compared with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from servecast.arrays import FloatArray
from servecast.domain.hardware import HardwareSpec
from servecast.domain.vocabulary import ComputeDtype
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind
from servecast.ops.work import op_work


def uncalibrated_warning(hardware: HardwareSpec) -> str | None:
    """What a user must know when `hardware` has no calibration: every op runs at speed of light."""
    if hardware.calibration is not None:
        return None
    return (
        f"{hardware.name} has no calibration: every op without a measured table is estimated at the datasheet's "
        "peak rates (speed of light), so latencies come out too low and throughput too high; fit one with "
        f"`servecast hardware fit {hardware.name}` from tables `servecast collect` measured"
    )


COMMUNICATION = frozenset({OpKind.ALL_REDUCE, OpKind.ALL_GATHER, OpKind.REDUCE_SCATTER, OpKind.ALL_TO_ALL, OpKind.P2P})


@dataclass(frozen=True)
class LinkTraffic:
    """Bytes one GPU moves over its NVLink ports and over its network port, for a bandwidth-optimal algorithm."""

    intra_bytes: FloatArray
    inter_bytes: FloatArray


def link_traffic(kind: OpKind, s: Mapping[str, FloatArray], domain_gpus: int) -> LinkTraffic:
    """Per-GPU traffic of a collective: hierarchical (inside the scale-up domain first) when it spans domains."""
    size = s["message_bytes"]
    if kind is OpKind.P2P:
        crosses = s["inter_node"] > 0
        return LinkTraffic(np.where(crosses, 0, size), np.where(crosses, size, 0))
    gpus = np.maximum(s["num_gpus"], 1)
    local = np.minimum(gpus, domain_gpus)
    nodes = np.ceil(gpus / domain_gpus)
    if kind is OpKind.ALL_TO_ALL:
        return LinkTraffic(size * (local - 1) / gpus, size * (gpus - local) / gpus)
    # ring / two-phase algorithms: (n-1)/n of the buffer per phase; all-reduce has two phases
    phases = 2.0 if kind is OpKind.ALL_REDUCE else 1.0
    intra = phases * size * (local - 1) / local
    inter = phases * size * (nodes - 1) / nodes / local
    return LinkTraffic(intra, inter)


def roofline_ms(kind: OpKind, s: Mapping[str, FloatArray], dtype: OpDtype, hardware: HardwareSpec) -> FloatArray:
    """Milliseconds at peak rates: max(compute, memory) for kernels, the busiest link for communication."""
    if kind in COMMUNICATION:
        traffic = link_traffic(kind, s, hardware.node.domain_gpus)
        node = hardware.node
        seconds = np.maximum(
            traffic.intra_bytes / node.intra_node_bw_bytes_per_s, traffic.inter_bytes / node.inter_node_bw_bytes_per_s
        )
        return seconds * 1e3
    work = op_work(kind, s, dtype)
    compute = work.flops / peak_flops_per_s(hardware, dtype)
    memory = work.bytes / hardware.gpu.mem_bw_bytes_per_s
    return np.maximum(compute, memory) * 1e3


def native_fp4(hardware: HardwareSpec, dtype: OpDtype) -> bool:
    """Whether `dtype`'s matmuls run on FP4 tensor cores: NVFP4 (e2m1 weights and activations with e4m3 block
    scales, the W4A4 GEMM of TensorRT-LLM, vLLM's CUTLASS and FlashInfer kernels) on a GPU with an FP4 peak
    (Blackwell). Elsewhere NVFP4 weights are dequantized to 16 bits inside the kernel."""
    native = dtype.scheme.native_dtype
    return native is ComputeDtype.FP4 and native in hardware.gpu.dense_tensor_flops_per_s


def peak_flops_per_s(hardware: HardwareSpec, dtype: OpDtype) -> float:
    """The dense tensor-core peak the op's math runs at (fp16 falls back to bf16 and vice versa; NVFP4 at the FP4
    peak where the GPU has one)."""
    rates = hardware.gpu.dense_tensor_flops_per_s
    compute = ComputeDtype.FP4 if native_fp4(hardware, dtype) else dtype.compute_dtype
    if compute in rates:
        return rates[compute]
    for fallback in (OpDtype.BF16, OpDtype.FP16):
        if fallback.compute_dtype in rates:
            return rates[fallback.compute_dtype]
    return hardware.gpu.peak_flops_per_s(compute)
