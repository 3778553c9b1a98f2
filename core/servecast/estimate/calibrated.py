"""The calibrated roofline: max(compute at a size-dependent efficiency, memory at a size-dependent bandwidth)
plus a latency floor, per op kind, with the efficiency curves' parameters read from the system's calibration.

Every curve is monotone in problem size (efficiency rises with work, time never falls as work grows) and no
efficiency exceeds 1, so estimates never beat the datasheet roofline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from servecast.arrays import FloatArray
from servecast.domain.calibration import Calibration
from servecast.domain.hardware import HardwareSpec
from servecast.domain.kernels import AllReduceKernel, AttentionKernel, KernelChoices
from servecast.estimate.roofline import native_fp4, peak_flops_per_s
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind
from servecast.ops.work import ACTIVATION_BYTES, attended_kv, attention_pairs, causal_pairs, moe_routing, op_work

FA2_CLASS = frozenset({AttentionKernel.FLASH_ATTN2, AttentionKernel.TRITON, AttentionKernel.XFORMERS})
"""Attention kernels without Hopper's asynchronous (TMA/wgmma) pipeline; FA3-class kernels are the rest."""


def saturating(work: FloatArray, scale: float) -> FloatArray:
    """1 - exp(-work/scale): how close a kernel of `work` units gets to its asymptotic rate."""
    return -np.expm1(-work / scale)


@dataclass(frozen=True)
class CalibratedModel:
    """Calibrated latency of one op kind on one system, for one framework's kernel choices."""

    kind: OpKind
    hardware: HardwareSpec
    calibration: Calibration
    kernels: KernelChoices
    best_shape_kernels: bool = False
    """True when predicting the best-shape kernel benchmarks the calibration is fitted to: GEMMs then run at the
    fitted rates, without the serving-shape efficiency that engines' GEMMs at model shapes reach."""

    def __call__(self, s: Mapping[str, FloatArray], dtype: OpDtype) -> FloatArray:
        """Milliseconds at normalized shapes `s`."""
        return _MODELS[self.kind](self, s, dtype)

    @classmethod
    def build(cls, kind: OpKind, hardware: HardwareSpec, kernels: KernelChoices) -> CalibratedModel | None:
        """The model, or None when the system has no calibration or lacks a parameter this kind needs."""
        calibration = hardware.calibration
        if calibration is None or not calibration.has(*required_parameters(kind, kernels)):
            return None
        return cls(kind, hardware, calibration, kernels)

    # -- shared curves ----------------------------------------------------------------------------------

    def p(self, name: str) -> float:
        return self.calibration.value(name)

    def compute_ms(self, flops: FloatArray, rate: float) -> FloatArray:
        """Time of `flops` at `rate` FLOP/s, utilisation rising with the kernel's size."""
        return flops / (rate * saturating(flops, self.p("compute.flops_scale"))) * 1e3

    def memory_ms(self, traffic: FloatArray, efficiency: float) -> FloatArray:
        """Time to move `traffic` bytes through HBM at `efficiency` of peak, bandwidth rising with size."""
        bandwidth = self.hardware.gpu.mem_bw_bytes_per_s * efficiency
        return traffic / (bandwidth * saturating(traffic, self.p("memory.bytes_scale"))) * 1e3

    def gemm_ms(
        self, m: FloatArray, n: FloatArray, k: FloatArray, batch: FloatArray, dtype: OpDtype, grouped: bool = False
    ) -> FloatArray:
        """A (batched) GEMM: tile prologue/epilogue charged as extra K-steps, weights streamed once per GEMM.

        `grouped`: an MoE grouped GEMM (one GEMM of `m` rows per expert holding tokens), which runs at the grouped
        efficiency.
        """
        efficiency = self.gemm_efficiency(dtype) * (self.p("moe.grouped_efficiency") if grouped else 1.0)
        if not self.best_shape_kernels:
            efficiency *= self.p("gemm.serving_efficiency")
        rate = peak_flops_per_s(self.hardware, dtype) * efficiency
        work = op_work(OpKind.GEMM, {"m": m, "n": n, "k": k, "batch": batch}, dtype)
        equivalent = 2 * batch * m * n * (k + self.p("gemm.k_overhead"))
        compute = self.compute_ms(equivalent, rate)
        memory = self.memory_ms(work.bytes, self.p("gemm.memory_efficiency"))
        return np.maximum(compute, memory) + self.p("kernel.floor_ms")

    def gemm_efficiency(self, dtype: OpDtype) -> float:
        if native_fp4(self.hardware, dtype):  # no FP4 GEMM is measured: the FP8 fraction of the peak, assumed
            return self.p("gemm.efficiency.fp8")
        if dtype.weight_only:
            return self.p("gemm.efficiency.bf16") * self.p("gemm.weight_only_efficiency")
        name = f"gemm.efficiency.{dtype.value}"
        if dtype is OpDtype.W4A8 or not self.calibration.has(name):
            return self.p("gemm.efficiency.fp8")
        return self.p(name)

    def flash_attention_ms(
        self,
        batch: FloatArray,
        heads: FloatArray,
        head_dim: FloatArray,
        q_len: FloatArray,
        pairs: FloatArray,
        traffic: FloatArray,
        dtype: OpDtype,
    ) -> FloatArray:
        """Flash-attention prefill: each query row pays a fixed overhead, each head dimension a fixed share."""
        efficiency = self.p("attention.efficiency") * self.attention_backend_factor()
        rate = peak_flops_per_s(self.hardware, OpDtype.BF16) * efficiency
        if dtype in (OpDtype.FP8, OpDtype.FP8_BLOCK):
            rate *= self.p("attention.fp8_speedup")
        equivalent = (
            4
            * batch
            * heads
            * (head_dim + self.p("attention.head_dim_overhead"))
            * (pairs + q_len * self.p("attention.row_overhead"))
        )
        compute = self.compute_ms(equivalent, rate)
        memory = self.memory_ms(traffic, self.p("gemm.memory_efficiency"))
        return np.maximum(compute, memory) + self.p("kernel.floor_ms")

    def attention_backend_factor(self) -> float:
        """The attention kernel's efficiency relative to FlashAttention-3 (FlashAttention-2 itself where measured)."""
        choice = self.kernels.attention
        if choice is None or choice.value not in FA2_CLASS:
            return 1.0
        if choice.value is AttentionKernel.FLASH_ATTN2:
            return self.optional("attention.fa2_efficiency", "attention.fa2_class_efficiency")
        return self.p("attention.fa2_class_efficiency")

    def decode_ms(
        self,
        flops: FloatArray,
        traffic: FloatArray,
        memory_efficiency: float,
        compute_efficiency: float,
        floor_ms: float | None = None,
    ) -> FloatArray:
        """A decode-attention call: compute or KV bandwidth, plus its fixed time (by default one kernel's floor)."""
        compute = self.compute_ms(flops, peak_flops_per_s(self.hardware, OpDtype.BF16) * compute_efficiency)
        floor = self.p("kernel.floor_ms") if floor_ms is None else floor_ms
        return np.maximum(compute, self.memory_ms(traffic, memory_efficiency)) + floor

    def optional(self, name: str, fallback: str) -> float:
        """Parameter `name`, or `fallback` on calibrations that do not set it."""
        return self.p(name if self.calibration.has(name) else fallback)

    # -- communication --------------------------------------------------------------------------------

    def link_ms(self, traffic: FloatArray, efficiency: float, inter_node: bool = False) -> FloatArray:
        node = self.hardware.node
        rate = node.inter_node_bw_bytes_per_s if inter_node else node.intra_node_bw_bytes_per_s
        return traffic / (rate * efficiency) * 1e3

    def spans(self, s: Mapping[str, FloatArray]) -> tuple[FloatArray, FloatArray, FloatArray]:
        """GPUs, GPUs per scale-up domain taking part, and domains (the network joins domains)."""
        gpus = np.maximum(s["num_gpus"], 1)
        per_node = float(self.hardware.node.domain_gpus)
        return gpus, np.minimum(gpus, per_node), np.ceil(gpus / per_node)

    def inter_node_ms(self, s: Mapping[str, FloatArray], phases: float) -> FloatArray:
        """The network part of a hierarchical collective: each GPU's NIC carries its local share."""
        _, local, nodes = self.spans(s)
        traffic = phases * s["message_bytes"] * (nodes - 1) / nodes / local
        latency = np.where(nodes > 1, self.hardware.node.inter_node_latency_s * 1e3, 0.0)
        return latency + self.link_ms(traffic, self.p("inter_node.efficiency"), inter_node=True)

    def nccl_all_reduce_variants(self, s: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
        """NCCL's ring and NVLink-SHARP (NVLS, one pass of the buffer through the switch) algorithms."""
        _, local, _ = self.spans(s)
        size = s["message_bytes"]
        latency = self.p("all_reduce.nccl.latency_ms") + self.p("all_reduce.nccl.peer_latency_ms") * (local - 1)
        network = self.inter_node_ms(s, 2.0)
        ring = self.link_ms(2 * size * (local - 1) / local, self.p("all_reduce.nccl.ring_efficiency"))
        nvls = self.link_ms(size, self.p("all_reduce.nccl.nvls_efficiency"))
        return {"ring": latency + np.maximum(ring, network), "nvls": latency + np.maximum(nvls, network)}

    def nccl_all_reduce_ms(self, s: Mapping[str, FloatArray]) -> FloatArray:
        """NCCL's tuner picks the faster algorithm; NVLS needs more than two GPUs on the switch."""
        variants = self.nccl_all_reduce_variants(s)
        _, local, _ = self.spans(s)
        return np.where(local > 2, np.minimum(variants["ring"], variants["nvls"]), variants["ring"])

    def custom_all_reduce_variants(self, s: Mapping[str, FloatArray], kernel: AllReduceKernel) -> dict[str, FloatArray]:
        """One-shot (each GPU reads every peer's buffer; symmetric memory: one multimem pass) and two-shot."""
        _, local, _ = self.spans(s)
        size = s["message_bytes"]
        prefix = f"all_reduce.{kernel.value}"
        efficiency = self.p(f"{prefix}.bandwidth_efficiency")
        latency = self.p(f"{prefix}.latency_ms") + self.p(f"{prefix}.peer_latency_ms") * (local - 1)
        two_shot = 2 * latency + self.link_ms(2 * size * (local - 1) / local, efficiency)
        if kernel is AllReduceKernel.SYMM_MEM:
            return {
                "multimem": latency + self.link_ms(size, self.p(f"{prefix}.multimem_efficiency")),
                "two_shot": two_shot,
            }
        return {"one_shot": latency + self.link_ms(size * (local - 1), efficiency), "two_shot": two_shot}

    def custom_all_reduce_ms(self, s: Mapping[str, FloatArray], kernel: AllReduceKernel) -> FloatArray:
        """The custom kernels switch between their algorithms by size; modelled as picking the faster."""
        variants = list(self.custom_all_reduce_variants(s, kernel).values())
        return np.minimum(variants[0], variants[1])


def _gemm(m: CalibratedModel, s: Mapping[str, FloatArray], dtype: OpDtype) -> FloatArray:
    return m.gemm_ms(s["m"], s["n"], s["k"], s["batch"], dtype)


def _context_attention(m: CalibratedModel, s: Mapping[str, FloatArray], dtype: OpDtype) -> FloatArray:
    pairs = attention_pairs(s)
    traffic = op_work(OpKind.CONTEXT_ATTENTION, s, dtype).bytes
    return m.flash_attention_ms(s["batch"], s["heads"], s["head_dim"], s["q_len"], pairs, traffic, dtype)


def _mla_context(m: CalibratedModel, s: Mapping[str, FloatArray], dtype: OpDtype) -> FloatArray:
    pairs = causal_pairs(s["q_len"], s["kv_len"], np.zeros_like(s["q_len"]))
    traffic = op_work(OpKind.MLA_CONTEXT, s, dtype).bytes
    head_dim = (s["qk_head_dim"] + s["v_head_dim"]) / 2
    return m.flash_attention_ms(s["batch"], s["heads"], head_dim, s["q_len"], pairs, traffic, dtype)


def _decode_attention(m: CalibratedModel, s: Mapping[str, FloatArray], dtype: OpDtype) -> FloatArray:
    """Bandwidth-bound over the KV cache, each cached token charged `head_overhead` more KV heads than the GPU
    holds (a per-token cost that does not shrink when tensor parallelism leaves fewer KV heads per GPU), plus the
    call's fixed time (split-KV partial and merge kernels, the block-table walk)."""
    work = op_work(OpKind.DECODE_ATTENTION, s, dtype)
    efficiency = m.p("decode_attention.memory_efficiency") * m.attention_backend_factor()
    per_head_bytes = 2 * s["head_dim"] * s["kv_bytes"] * attended_kv(s["kv_len"], s["window"])
    traffic = work.bytes + s["batch"] * per_head_bytes * m.p("decode_attention.head_overhead")
    floor = m.optional("decode_attention.floor_ms", "kernel.floor_ms")
    return m.decode_ms(work.flops, traffic, efficiency, m.p("attention.efficiency"), floor)


def _mla_decode(m: CalibratedModel, s: Mapping[str, FloatArray], dtype: OpDtype) -> FloatArray:
    work = op_work(OpKind.MLA_DECODE, s, dtype)
    return m.decode_ms(
        work.flops, work.bytes, m.p("mla_decode.memory_efficiency"), m.p("mla_decode.compute_efficiency")
    )


def _moe(m: CalibratedModel, s: Mapping[str, FloatArray], dtype: OpDtype) -> FloatArray:
    """Gate/up and down grouped GEMMs over the experts that receive tokens, plus the activation between them."""
    pairs, hit, _ = moe_routing(s, busiest=True)
    rows = pairs / np.maximum(hit, 1e-9)
    width = s["intermediate"] / s["moe_tp"]
    up = m.gemm_ms(rows, (1 + s["gated"]) * width, s["hidden"], hit, dtype, grouped=True)
    down = m.gemm_ms(rows, s["hidden"], width, hit, dtype, grouped=True)
    activation = m.memory_ms(pairs * width * (2 + s["gated"]) * ACTIVATION_BYTES, m.p("elementwise.memory_efficiency"))
    return up + down + activation + m.p("kernel.floor_ms")


def _elementwise(m: CalibratedModel, s: Mapping[str, FloatArray], dtype: OpDtype) -> FloatArray:
    return m.memory_ms(s["bytes"], m.p("elementwise.memory_efficiency")) + m.p("kernel.floor_ms")


def _all_reduce(m: CalibratedModel, s: Mapping[str, FloatArray], dtype: OpDtype) -> FloatArray:
    nccl = m.nccl_all_reduce_ms(s)
    choice = m.kernels.all_reduce
    if choice is None or choice.value is AllReduceKernel.NCCL:
        return _single_gpu_free(s, nccl)
    gpus, local, _ = m.spans(s)
    custom = m.custom_all_reduce_ms(s, choice.value)
    usable = (gpus == local) & (s["message_bytes"] <= m.p("all_reduce.custom_max_bytes"))
    return _single_gpu_free(s, np.where(usable, custom, nccl))


def _ring_collective(name: str) -> Callable[[CalibratedModel, Mapping[str, FloatArray], OpDtype], FloatArray]:
    def model(m: CalibratedModel, s: Mapping[str, FloatArray], dtype: OpDtype) -> FloatArray:
        _, local, _ = m.spans(s)
        intra = m.link_ms(s["message_bytes"] * (local - 1) / local, m.p(f"{name}.bandwidth_efficiency"))
        return _single_gpu_free(s, m.p(f"{name}.latency_ms") + np.maximum(intra, m.inter_node_ms(s, 1.0)))

    return model


def _all_to_all(m: CalibratedModel, s: Mapping[str, FloatArray], dtype: OpDtype) -> FloatArray:
    gpus, local, nodes = m.spans(s)
    size = s["message_bytes"]
    intra = m.link_ms(size * (local - 1) / gpus, m.p("all_to_all.intra_efficiency"))
    inter = m.link_ms(size * (gpus - local) / gpus, m.p("all_to_all.inter_efficiency"), inter_node=True)
    latency = np.where(nodes > 1, m.p("all_to_all.inter_latency_ms"), m.p("all_to_all.latency_ms"))
    return _single_gpu_free(s, latency + np.maximum(intra, inter))


def _p2p(m: CalibratedModel, s: Mapping[str, FloatArray], dtype: OpDtype) -> FloatArray:
    crosses = s["inter_node"] > 0
    intra = m.link_ms(s["message_bytes"], m.p("p2p.efficiency"))
    inter = m.link_ms(s["message_bytes"], m.p("inter_node.efficiency"), inter_node=True)
    return m.p("p2p.latency_ms") + np.where(crosses, inter, intra)


def _single_gpu_free(s: Mapping[str, FloatArray], latency_ms: FloatArray) -> FloatArray:
    """A collective over one GPU costs nothing."""
    return np.where(s["num_gpus"] > 1, latency_ms, 0.0)


_MODELS: dict[OpKind, Callable[[CalibratedModel, Mapping[str, FloatArray], OpDtype], FloatArray]] = {
    OpKind.GEMM: _gemm,
    OpKind.CONTEXT_ATTENTION: _context_attention,
    OpKind.DECODE_ATTENTION: _decode_attention,
    OpKind.MLA_CONTEXT: _mla_context,
    OpKind.MLA_DECODE: _mla_decode,
    OpKind.MOE: _moe,
    OpKind.ELEMENTWISE: _elementwise,
    OpKind.ALL_REDUCE: _all_reduce,
    OpKind.ALL_GATHER: _ring_collective("all_gather"),
    OpKind.REDUCE_SCATTER: _ring_collective("reduce_scatter"),
    OpKind.ALL_TO_ALL: _all_to_all,
    OpKind.P2P: _p2p,
}

_SHARED = ("kernel.floor_ms", "memory.bytes_scale", "compute.flops_scale")
_GEMM = (
    "gemm.efficiency.bf16",
    "gemm.efficiency.fp8",
    "gemm.k_overhead",
    "gemm.memory_efficiency",
    "gemm.weight_only_efficiency",
    "gemm.serving_efficiency",
)
_ATTENTION = (
    "attention.efficiency",
    "attention.row_overhead",
    "attention.head_dim_overhead",
    "attention.fp8_speedup",
    "attention.fa2_class_efficiency",
    "gemm.memory_efficiency",
)
_NCCL = (
    "all_reduce.nccl.latency_ms",
    "all_reduce.nccl.peer_latency_ms",
    "all_reduce.nccl.ring_efficiency",
    "all_reduce.nccl.nvls_efficiency",
    "inter_node.efficiency",
)


def required_parameters(kind: OpKind, kernels: KernelChoices) -> tuple[str, ...]:
    """The calibration parameters the model of `kind` reads under these kernel choices."""
    if kind is OpKind.GEMM:
        return _SHARED + _GEMM
    if kind in (OpKind.CONTEXT_ATTENTION, OpKind.MLA_CONTEXT):
        return _SHARED + _ATTENTION
    if kind is OpKind.DECODE_ATTENTION:
        return (*_SHARED, *_ATTENTION, "decode_attention.memory_efficiency", "decode_attention.head_overhead")
    if kind is OpKind.MLA_DECODE:
        return (*_SHARED, "attention.efficiency", "mla_decode.memory_efficiency", "mla_decode.compute_efficiency")
    if kind is OpKind.MOE:
        return (*_SHARED, *_GEMM, "moe.grouped_efficiency", "elementwise.memory_efficiency")
    if kind is OpKind.ELEMENTWISE:
        return (*_SHARED, "elementwise.memory_efficiency")
    if kind is OpKind.ALL_REDUCE:
        choice = kernels.all_reduce
        if choice is None or choice.value is AllReduceKernel.NCCL:
            return _NCCL
        custom = tuple(
            f"all_reduce.{choice.value.value}.{field}"
            for field in ("latency_ms", "peer_latency_ms", "bandwidth_efficiency")
        )
        extra = ("all_reduce.symm_mem.multimem_efficiency",) if choice.value is AllReduceKernel.SYMM_MEM else ()
        return (*_NCCL, *custom, *extra, "all_reduce.custom_max_bytes")
    if kind in (OpKind.ALL_GATHER, OpKind.REDUCE_SCATTER):
        return (f"{kind.value}.latency_ms", f"{kind.value}.bandwidth_efficiency", "inter_node.efficiency")
    if kind is OpKind.ALL_TO_ALL:
        return (
            "all_to_all.latency_ms",
            "all_to_all.intra_efficiency",
            "all_to_all.inter_latency_ms",
            "all_to_all.inter_efficiency",
        )
    return ("p2p.latency_ms", "p2p.efficiency", "inter_node.efficiency")
