"""Fitting the calibrated roofline's parameters to measurements, family by family, in log space.

Each fit group frees a few physical parameters (an efficiency, a latency, an overhead) and fits them to the
measurements of one op family by least squares on log(predicted / measured), so a 2x over- and a 2x
under-estimate weigh the same. Parameters no measurement constrains are assumptions, stated as such.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares  # type: ignore[import-untyped]

from servecast.calibrate.points import GROUPED_GEMM, CalibrationPoint, predict_ms
from servecast.domain.calibration import Calibration, Parameter, ParameterOrigin
from servecast.domain.hardware import HardwareSpec
from servecast.domain.kernels import AllReduceKernel, AttentionKernel
from servecast.ops.dtypes import OpDtype


@dataclass(frozen=True)
class FitGroup:
    """Parameters fitted together, to the measurements `selects` picks."""

    name: str
    parameters: dict[str, tuple[float, float, float]]
    """name → (initial value, lower bound, upper bound)."""
    selects: Callable[[CalibrationPoint], bool]
    note: str


@dataclass(frozen=True)
class Residual:
    point: CalibrationPoint
    predicted_ms: float

    @property
    def error(self) -> float:
        """Signed relative error of the prediction: (predicted - measured) / measured."""
        return self.predicted_ms / self.point.measured_ms - 1


FIT_GROUPS: tuple[FitGroup, ...] = (
    FitGroup(
        "gemm",
        {
            "gemm.efficiency.bf16": (0.8, 0.3, 1.0),
            "gemm.efficiency.fp8": (0.7, 0.3, 1.0),
            "gemm.efficiency.fp8_block": (0.7, 0.3, 1.0),
            "gemm.k_overhead": (500.0, 0.0, 5000.0),
            "gemm.memory_efficiency": (0.8, 0.3, 1.0),
            "memory.bytes_scale": (4e6, 1e4, 1e9),
        },
        lambda p: p.family == "gemm",
        "dense GEMM: MAMF best-shape H100 bf16/fp8 ceilings and DeepGEMM FP8 block-scaled shapes (H800)",
    ),
    FitGroup(
        "moe",
        {"moe.grouped_efficiency": (0.9, 0.3, 1.0)},
        lambda p: p.family == GROUPED_GEMM,
        "DeepGEMM grouped GEMMs (contiguous and masked layouts, H800), relative to the dense GEMM fit",
    ),
    FitGroup(
        "attention",
        {
            "attention.efficiency": (0.65, 0.2, 1.0),
            "attention.row_overhead": (200.0, 0.0, 5000.0),
            "attention.head_dim_overhead": (50.0, 0.0, 1000.0),
        },
        lambda p: (
            p.family == "context_attention"
            and p.attention_kernel is AttentionKernel.FLASH_ATTN3
            and p.dtype is OpDtype.BF16
        ),
        "FlashAttention-3 forward, bf16 (tritonbench sweeps, TLX comparison, a head-dim-64 report)",
    ),
    FitGroup(
        "attention_fa2_class",
        {"attention.fa2_class_efficiency": (0.75, 0.2, 1.0)},
        lambda p: p.family == "context_attention" and p.attention_kernel is AttentionKernel.TRITON,
        "Triton flash-attention v2 in the same tritonbench runs as FA3",
    ),
    FitGroup(
        "attention_fa2",
        {"attention.fa2_efficiency": (0.75, 0.2, 1.0)},
        lambda p: p.family == "context_attention" and p.attention_kernel is AttentionKernel.FLASH_ATTN2,
        "FlashAttention-2 forward beside FlashAttention-3 at head dimensions 128 and 256, seqlen 512-16k, causal and "
        "not (the FlashAttention-3 paper's charts), relative to the bf16 FA3 fit",
    ),
    FitGroup(
        "attention_fp8",
        {"attention.fp8_speedup": (1200 / 740, 1.0, 2.5)},
        lambda p: (
            p.family == "context_attention"
            and p.attention_kernel is AttentionKernel.FLASH_ATTN3
            and p.dtype is OpDtype.FP8
        ),
        "FlashAttention-3 FP8 forward at head dimension 256, seqlen 512-16k (the FlashAttention-3 paper's chart), "
        "relative to the bf16 fit",
    ),
    FitGroup(
        "decode_attention_floor",
        {"decode_attention.floor_ms": (0.005, 0.0, 0.1)},
        lambda p: p.family == "decode_attention" and p.attention_kernel is not None,
        "FlashAttention-3 paged decode at 128 cached tokens, timed with CUDA graphs (flash-attention issue #1572): "
        "with the KV bytes at the derived bandwidth, the rest is the call's fixed time",
    ),
    FitGroup(
        "mla_decode",
        {"mla_decode.memory_efficiency": (0.85, 0.2, 1.0), "mla_decode.compute_efficiency": (0.6, 0.2, 1.0)},
        lambda p: p.family == "mla_decode",
        "FlashMLA's memory-bound and compute-bound 'up to' figures (H800)",
    ),
    FitGroup(
        "nccl_all_reduce",
        {
            "all_reduce.nccl.latency_ms": (0.015, 0.001, 0.2),
            "all_reduce.nccl.ring_efficiency": (0.8, 0.2, 1.0),
            "all_reduce.nccl.nvls_efficiency": (0.6, 0.2, 1.0),
        },
        lambda p: p.family == "all_reduce" and p.all_reduce_kernel is AllReduceKernel.NCCL,
        "NCCL all-reduce on 8x H100: measured peak bus bandwidth (ring, NVLS) and pynccl latencies at TP 6",
    ),
    FitGroup(
        "vllm_custom_all_reduce",
        {
            "all_reduce.vllm_custom.latency_ms": (0.006, 0.0005, 0.1),
            "all_reduce.vllm_custom.peer_latency_ms": (0.0005, 0.0, 0.02),
            "all_reduce.vllm_custom.bandwidth_efficiency": (0.5, 0.05, 1.0),
        },
        lambda p: p.family == "all_reduce" and p.all_reduce_kernel is AllReduceKernel.VLLM_CUSTOM,
        "vLLM custom all-reduce at TP 2/4/6/8 (SGLang PR #2904 table, vLLM PR #24111 one-/two-stage)",
    ),
    FitGroup(
        "trtllm_custom_all_reduce",
        {
            "all_reduce.trtllm_custom.latency_ms": (0.003, 0.0005, 0.1),
            "all_reduce.trtllm_custom.peer_latency_ms": (0.0003, 0.0, 0.02),
            "all_reduce.trtllm_custom.bandwidth_efficiency": (0.6, 0.05, 1.0),
        },
        lambda p: p.family == "all_reduce" and p.all_reduce_kernel is AllReduceKernel.TRTLLM_CUSTOM,
        "TensorRT-LLM-derived custom all-reduce (SGLang port) at TP 2/4/8",
    ),
    FitGroup(
        "symm_mem_all_reduce",
        {
            "all_reduce.symm_mem.latency_ms": (0.005, 0.0005, 0.1),
            "all_reduce.symm_mem.bandwidth_efficiency": (0.6, 0.05, 1.0),
            "all_reduce.symm_mem.multimem_efficiency": (0.5, 0.05, 1.0),
        },
        lambda p: p.family == "all_reduce" and p.all_reduce_kernel is AllReduceKernel.SYMM_MEM,
        "torch symmetric-memory all-reduce (multimem, two-shot) at TP 6 (vLLM PR #24111)",
    ),
    FitGroup(
        "all_gather",
        {"all_gather.latency_ms": (0.01, 0.0005, 0.2), "all_gather.bandwidth_efficiency": (0.8, 0.1, 1.0)},
        lambda p: p.family == "all_gather",
        "NCCL all-gather device time, 8x H100, 2-32 MiB",
    ),
    FitGroup(
        "reduce_scatter",
        {"reduce_scatter.latency_ms": (0.01, 0.0005, 0.2), "reduce_scatter.bandwidth_efficiency": (0.8, 0.1, 1.0)},
        lambda p: p.family == "reduce_scatter",
        "NCCL reduce-scatter device time, 8x H100, 2-32 MiB",
    ),
    FitGroup(
        "all_to_all_inter_node",
        {"all_to_all.inter_latency_ms": (0.03, 0.001, 0.5), "all_to_all.inter_efficiency": (0.9, 0.1, 1.0)},
        lambda p: p.family == "all_to_all",
        "DeepEP inter-node dispatch/combine over 400 Gb/s InfiniBand (normal and low-latency kernels, EP 16-256)",
    ),
    FitGroup(
        "p2p",
        {"p2p.efficiency": (0.85, 0.1, 1.0)},
        lambda p: p.family == "p2p",
        "GPU-to-GPU copy bandwidth on HGX H100 (one way, and half the bidirectional figure)",
    ),
)


def assumptions(hardware: HardwareSpec) -> dict[str, Parameter]:
    """Parameters no measurement constrains, each with why its value is plausible."""
    sms = hardware.gpu.sm_count
    wave = Parameter(
        value=2 * 128 * 128 * 512 * sms,
        origin=ParameterOrigin.ASSUMPTION,
        note=f"one wave of 128x128 output tiles, 512 deep, on all {sms} SMs: smaller kernels cannot fill the GPU; no "
        "measurement in the calibration set is small enough to fit it",
    )
    return {"compute.flops_scale": wave, **ASSUMPTIONS, **end_to_end(hardware)}


END_TO_END_SYSTEM = "h100_sxm"
"""The system whose published serving runs END_TO_END's parameters were swept on."""


def end_to_end(hardware: HardwareSpec) -> dict[str, Parameter]:
    """END_TO_END's parameters: fitted on the system they were swept on; on any other, transferred from it, saying
    so, until that GPU's own serving runs refit them."""
    if hardware.name == END_TO_END_SYSTEM:
        return dict(END_TO_END)
    return {
        name: parameter.model_copy(
            update={
                "origin": ParameterOrigin.TRANSFERRED,
                "note": f"from {END_TO_END_SYSTEM}, not refitted on {hardware.name}'s serving runs: " + parameter.note,
            }
        )
        for name, parameter in END_TO_END.items()
    }


END_TO_END: dict[str, Parameter] = {
    "gemm.serving_efficiency": Parameter(
        value=0.75,
        origin=ParameterOrigin.FITTED,
        note="fitted on H100 SXM end-to-end rows, not kernel rows: the GEMM fit above describes best-shape kernels "
        "(MAMF, DeepGEMM), while every published TensorRT-LLM 0.9 / 0.14 serving run (static batches, trtllm-bench "
        "offline, Triton ITL) is slower than those rates predict as batches grow. Swept with "
        "benchmarks/e2e_accuracy.py at 0.83 / 0.77 / 0.75 / 0.71 / 0.67: Triton ITL MAPE 15.9 / 13.9 / 13.6 / 13.2 / "
        "12.9 %, offline throughput (steady state) 31 / 28 / 27 / 26 / 24 %; 0.75 rather than the lowest because the "
        "offline rows also carry decode-attention and memory effects a GEMM term should not absorb. The "
        "weight-bandwidth-bound vLLM CI rows do not move. Out of sample, TensorRT-LLM 0.9's Llama-2 static-batch rows "
        "(added after the fit) have a mean |error| of 7.5 / 3.8 / 6.0 / 9.4 % at 1.0 / 0.83 / 0.75 / 0.67. Other "
        "GPUs inherit it until their own serving rows refit it",
    ),
    "decode_attention.head_overhead": Parameter(
        value=1.5,
        origin=ParameterOrigin.FITTED,
        note="fitted on H100 SXM end-to-end rows, not kernel rows (no GQA decode kernel measurement is published): "
        "with decode attention as pure KV bandwidth, trtllm-bench 0.14's offline throughput is over-predicted the "
        "more, the fewer KV heads each GPU holds. The decode-attention efficiency each decode-heavy row needs "
        "falls from about 0.9 (Llama-2-7B, 32 KV heads per GPU) and 0.75 (Llama-3.1-8B TP1, 8) to 0.5 (TP2-4) and "
        "0.2-0.45 (Llama-3.1-70B TP8, 1), for FP16 and FP8 caches alike: a per-cached-token cost that tensor "
        "parallelism does not divide, here charged as extra KV heads read. The kernel mechanism is not identified; "
        "a decode-attention table measured at 1-8 KV heads refits it. Swept with benchmarks/e2e_accuracy.py at 0 / "
        "1 / 1.5 / 2 / 4: offline throughput MAPE 24.2 / 14.6 / 13.8 / 14.9 / 23.3 % (signed +22.9 / +10.5 / +5.7 "
        "/ +1.4 / -11.4 %), TensorRT-LLM 0.9 static 27.6 / 26.5 / 26.0 / 25.6 / 24.9 %, vLLM 0.6 ShareGPT "
        "throughput 14.5 / 10.4 / 8.4 / 6.5 / 0.4 %, SGLang 0.3 ShareGPT throughput 0.3 / 2.8 / 3.9 / 5.1 / 9.5 %, "
        "Triton ITL 13.6-13.9 % throughout. Lowering decode_attention.memory_efficiency alone instead (0.7 / 0.6 / "
        "0.5) reaches 19.7 / 17.5 / 16.0 % offline but under-predicts the single-GPU and MHA rows (Llama-3.1-8B "
        "-19 to -28 %, Llama-2-7B -22 to -38 % at 0.5). Other GPUs inherit it until their own rows refit it",
    ),
}
"""Parameters fitted to the published serving measurements (e2e.csv) rather than to kernel rows."""


ASSUMPTIONS: dict[str, Parameter] = {
    name: Parameter(value=value, origin=ParameterOrigin.ASSUMPTION, note=note)
    for name, value, note in (
        ("kernel.floor_ms", 0.002, "a kernel replayed in a CUDA graph takes about 2 us at least (launch and one wave)"),
        (
            "gemm.weight_only_efficiency",
            0.7,
            "dequantize-in-kernel GEMMs (Marlin/Machete class) reach about 70% of bf16 tensor-core throughput on "
            "large M; small-M time is weight-bandwidth-bound and does not depend on this",
        ),
        (
            "all_reduce.nccl.peer_latency_ms",
            0.0005,
            "the NCCL rows are all at TP 6 or 8, which cannot separate a per-peer latency from the fixed one",
        ),
        (
            "all_reduce.custom_max_bytes",
            8 * 2**20,
            "vLLM's custom all-reduce default buffer is 8 MiB; TensorRT-LLM and SGLang switch to NCCL at similar sizes",
        ),
        ("all_to_all.latency_ms", 0.01, "an NVLink all-to-all inside a node: two exchanges plus a kernel launch"),
        ("p2p.latency_ms", 0.005, "a pipeline-stage send: copy engine or kernel launch plus NVLink latency"),
        (
            "elementwise.memory_efficiency",
            0.75,
            "device-local copies on H100 reach 2.57 TB/s (calibration row 189, byte counting not stated): ~0.77 of "
            "3.35 TB/s; fused norm/activation kernels are assumed slightly lower",
        ),
    )
}


def derived(parameters: dict[str, Parameter], fitted: Collection[str] = ()) -> dict[str, Parameter]:
    """Parameters that follow from others because no measurement separates them (none of those in `fitted`)."""

    def same_as(source: str, why: str) -> Parameter:
        return Parameter(
            value=parameters[source].value, origin=ParameterOrigin.DERIVED, note=f"equal to {source}: {why}"
        )

    rules = {
        "gemm.efficiency.fp16": same_as("gemm.efficiency.bf16", "fp16 and bf16 share tensor-core rates"),
        "gemm.efficiency.int8": same_as("gemm.efficiency.fp8", "Hopper runs int8 at the fp8 rate; no int8 rows"),
        "decode_attention.memory_efficiency": same_as(
            "mla_decode.memory_efficiency", "no GQA decode measurements; paged decode kernels are bandwidth-bound alike"
        ),
        "all_reduce.symm_mem.peer_latency_ms": same_as(
            "all_reduce.vllm_custom.peer_latency_ms", "the symmetric-memory rows are all at TP 6"
        ),
        "all_to_all.intra_efficiency": same_as(
            "p2p.efficiency", "an all-to-all inside a node is concurrent P2P copies"
        ),
        "inter_node.efficiency": same_as("all_to_all.inter_efficiency", "the same InfiniBand NIC carries both"),
    }
    return {name: parameter for name, parameter in rules.items() if name not in fitted}


def fit_calibration(
    points: Sequence[CalibrationPoint],
    hardware: HardwareSpec,
    data: Sequence[str],
    command: str,
    groups: Sequence[FitGroup] = FIT_GROUPS,
) -> tuple[Calibration, list[Residual], dict[str, str]]:
    """Fit every group in order; returns the calibration, every point's residual, and a note per group.

    Every parameter of FIT_GROUPS starts at its initial value as an assumption; a group with measurements
    turns its parameters into fitted ones (and stops them being derived from others)."""
    fitted: dict[str, Parameter] = assumptions(hardware)
    for group in FIT_GROUPS:
        for name, (initial, _, _) in group.parameters.items():
            fitted[name] = Parameter(
                value=initial,
                origin=ParameterOrigin.ASSUMPTION,
                note="no measurement constrains it: the fit's starting value, typical of an H100-class GPU",
            )
    constrained: set[str] = set()
    fitted.update(derived(fitted))
    summaries: dict[str, str] = {}
    for group in groups:
        chosen = [p for p in points if p.fit and group.selects(p)]
        if not chosen:
            summaries[group.name] = "no measurements: starting values kept, as assumptions"
            continue
        fitted, errors = _fit_group(group, chosen, fitted, hardware)
        constrained |= set(group.parameters)
        fitted.update(derived(fitted, constrained))
        summaries[group.name] = (
            f"{len(chosen)} rows, median |error| {np.median(errors):.1%}, max {np.max(errors):.1%}; {group.note}"
        )
    calibration = _calibration(fitted, data, command)
    predicted = predict_ms(points, hardware, calibration)
    return calibration, [Residual(p, float(v)) for p, v in zip(points, predicted, strict=True)], summaries


def _fit_group(
    group: FitGroup,
    chosen: Sequence[CalibrationPoint],
    fitted: dict[str, Parameter],
    hardware: HardwareSpec,
) -> tuple[dict[str, Parameter], np.ndarray]:
    """Least squares on log(predicted / measured) over the group's free parameters; returns |relative errors|."""
    names = list(group.parameters)
    lower = [group.parameters[name][1] for name in names]
    upper = [group.parameters[name][2] for name in names]
    measured = np.log([point.measured_ms for point in chosen])

    def residuals(values: np.ndarray) -> np.ndarray:
        trial = _with(fitted, dict(zip(names, values, strict=True)))
        predicted = predict_ms(chosen, hardware, _calibration(trial, ("fit",), "fit in progress"))
        difference: np.ndarray = np.log(predicted) - measured
        return difference

    start = np.clip([fitted[name].value for name in names], lower, upper)
    result = least_squares(residuals, start, bounds=(lower, upper), x_scale="jac")
    fitted_values = dict(zip(names, result.x, strict=True))
    return _with(fitted, fitted_values, group.note), np.expm1(np.abs(residuals(result.x)))


def _with(parameters: dict[str, Parameter], values: dict[str, float], note: str | None = None) -> dict[str, Parameter]:
    """`parameters` with `values` in place; with a note, those become fitted parameters explained by it."""
    updated = dict(parameters)
    for name, value in values.items():
        change: dict[str, object] = {"value": float(value)}
        if note is not None:
            change |= {"origin": ParameterOrigin.FITTED, "note": note}
        updated[name] = updated[name].model_copy(update=change)
    return updated


def _calibration(parameters: dict[str, Parameter], data: Sequence[str], command: str) -> Calibration:
    return Calibration(fitted_by=command, fitted_on=dt.date.today(), data=tuple(data), parameters=parameters)


__all__ = [
    "ASSUMPTIONS",
    "END_TO_END",
    "END_TO_END_SYSTEM",
    "FIT_GROUPS",
    "FitGroup",
    "Residual",
    "assumptions",
    "end_to_end",
    "fit_calibration",
]
