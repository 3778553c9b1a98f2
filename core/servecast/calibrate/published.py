"""Reading the published kernel measurements (`shared/calibration/kernels.csv`) as calibration points.

The file is prose-like (one row per published number, shapes written as the source wrote them). Each rule
below recognises one source's rows, turns the number into milliseconds at an explicit shape, and says whether
the row is used to fit; rows no rule applies to are reported as skipped, with the reason.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from servecast.calibrate.points import GROUPED_GEMM, CalibrationPoint
from servecast.domain.kernels import AllReduceKernel, AttentionKernel
from servecast.errors import InputError
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind
from servecast.ops.shapes import normalize_shapes
from servecast.ops.work import op_work

LARGE_MESSAGE_BYTES = 4 * 2**30
"""Where "peak bus bandwidth" rows are evaluated: nccl-tests' largest default sizes reach the plateau."""
COLUMNS = ("source", "gpu", "op", "shape/params", "dtype", "value", "unit", "notes")


@dataclass(frozen=True)
class PublishedRow:
    line: int
    source: str
    gpu: str
    op: str
    shape: str
    dtype: str
    value: float
    unit: str
    notes: str


@dataclass(frozen=True)
class Skipped:
    line: int
    label: str
    reason: str


def read_published_kernels(path: str | Path) -> tuple[list[CalibrationPoint], list[Skipped]]:
    """Calibration points for an H100-class GPU from the published kernel file, and the rows left out."""
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in COLUMNS if column not in (reader.fieldnames or ())]
            if missing:
                raise InputError(
                    f"{path}: missing column(s) {', '.join(missing)}", f"the file needs {', '.join(COLUMNS)}"
                )
            rows = [
                PublishedRow(
                    index + 2,
                    r["source"],
                    r["gpu"],
                    r["op"],
                    r["shape/params"],
                    r["dtype"],
                    float(r["value"]),
                    r["unit"],
                    r["notes"],
                )
                for index, r in enumerate(reader)
            ]
    except FileNotFoundError:
        raise InputError(f"calibration file {str(path)!r} not found", "pass the path of kernels.csv") from None
    points: list[CalibrationPoint] = []
    skipped: list[Skipped] = []
    for row in rows:
        result = _interpret(row)
        if isinstance(result, str):
            skipped.append(Skipped(row.line, f"{row.gpu[:24]} | {row.op[:60]}", result))
        else:
            points.append(result)
    return points, skipped


def _interpret(row: PublishedRow) -> CalibrationPoint | str:
    for rule in _RULES:
        result = rule(row)
        if result is not None:
            return result
    return "no rule recognises this row"


def _label(row: PublishedRow) -> str:
    return f"{row.op[:70]} [{row.shape[:60]}]"


def _ms_from_tflops(family: OpKind, shapes: Mapping[str, float], dtype: OpDtype, tflops: float) -> float:
    flops = op_work(family, normalize_shapes(family, shapes), dtype).flops[0]
    return float(flops / (tflops * 1e12) * 1e3)


def _numbers(pattern: str, text: str) -> tuple[int, ...] | None:
    match = re.search(pattern, text)
    return tuple(int(group) for group in match.groups()) if match else None


# -- GEMM ---------------------------------------------------------------------------------------------------


def _mamf(row: PublishedRow) -> CalibrationPoint | str | None:
    if "max achievable" not in row.op:
        return None
    if not row.gpu.startswith("H100 SXM") or "PCIe" in row.gpu:
        return f"not an H100 SXM ({row.gpu})"
    if row.dtype.startswith("not stated"):
        return "data type not stated"
    dtype = OpDtype.FP8 if "FP8" in row.dtype else OpDtype.BF16
    if "MxKxN" in row.shape:
        m, k, n = _numbers(r"(\d+)x(\d+)x(\d+)", row.shape) or (0, 0, 0)
    else:
        m, n, k = _numbers(r"(\d+)x(\d+)x(\d+)", row.shape) or (0, 0, 0)
    shapes = {"m": m, "n": n, "k": k}
    ms = _ms_from_tflops(OpKind.GEMM, shapes, dtype, row.value)
    return CalibrationPoint(row.line, "gemm", dtype, shapes, ms, _label(row), note="best shape of a brute-force search")


def _deepgemm_dense(row: PublishedRow) -> CalibrationPoint | str | None:
    if "FP8 dense GEMM (DeepGEMM" not in row.op:
        return None
    if row.unit == "GB/s":
        return "same run as the TFLOPS row before it (bandwidth view of one measurement)"
    m, n, k = _numbers(r"M=(\d+) N=(\d+) K=(\d+)", row.shape) or (0, 0, 0)
    shapes = {"m": m, "n": n, "k": k}
    ms = _ms_from_tflops(OpKind.GEMM, shapes, OpDtype.FP8_BLOCK, row.value)
    return CalibrationPoint(
        row.line, "gemm", OpDtype.FP8_BLOCK, shapes, ms, _label(row), note="H800: same SMs and HBM as H100 SXM"
    )


def _deepgemm_grouped(row: PublishedRow) -> CalibrationPoint | str | None:
    if "grouped GEMM for MoE" not in row.op:
        return None
    groups, m, n, k = _numbers(r"groups=(\d+) M_per_group=(\d+) N=(\d+) K=(\d+)", row.shape) or (0, 0, 0, 0)
    flops = 2.0 * groups * m * n * k
    shapes = {"groups": groups, "m": m, "n": n, "k": k}
    ms = flops / (row.value * 1e12) * 1e3
    return CalibrationPoint(row.line, GROUPED_GEMM, OpDtype.FP8_BLOCK, shapes, ms, _label(row), note="H800")


# -- attention ----------------------------------------------------------------------------------------------


def _flash_attention(row: PublishedRow) -> CalibrationPoint | str | None:
    if not row.op.startswith("attention fwd"):
        return None
    if "peak" in row.op:
        return "a headline best case without its shape"
    shape = _numbers(r"B=(\d+) H=(\d+) S(?:_q=S_kv)?=(\d+) D=(\d+)", row.shape)
    if shape is None:
        shape_dsh = _numbers(r"B=(\d+) H=(\d+) D=(\d+) S=(\d+)", row.shape)
        if shape_dsh is None:
            return "shape not parsed"
        batch, heads, head_dim, seq = shape_dsh
    else:
        batch, heads, seq, head_dim = shape
    kernel = AttentionKernel.TRITON if "triton" in row.op.lower() else AttentionKernel.FLASH_ATTN3
    shapes = {
        "batch": batch,
        "q_len": seq,
        "kv_len": seq,
        "heads": heads,
        "kv_heads": heads,
        "head_dim": head_dim,
        "causal": 0,
    }
    ms = _ms_from_tflops(OpKind.CONTEXT_ATTENTION, shapes, OpDtype.BF16, row.value)
    power_limited = "devgpu" in row.gpu
    return CalibrationPoint(
        row.line,
        "context_attention",
        OpDtype.BF16,
        shapes,
        ms,
        _label(row),
        attention_kernel=kernel,
        fit=not power_limited and "cudnn" not in row.op,
        note="power/clock-limited 'devgpu' H100 per the maintainer"
        if power_limited
        else "non-causal (benchmark default)",
    )


def _flashmla(row: PublishedRow) -> CalibrationPoint | str | None:
    if "MLA" not in row.op:
        return None
    if "sparse" in row.op.lower():
        return "sparse (DSA) attention is not modelled"
    # FlashMLA's benchmark regime: DeepSeek-V3 with all 128 heads on one GPU, long contexts, large batch;
    # the compute-bound configuration decodes two query tokens per sequence (MTP), i.e. twice the heads.
    compute_bound = row.unit == "TFLOPS"
    shapes = {
        "batch": 128,
        "kv_len": 8192,
        "heads": 256 if compute_bound else 128,
        "latent_dim": 512,
        "rope_dim": 64,
    }
    work = op_work(OpKind.MLA_DECODE, normalize_shapes(OpKind.MLA_DECODE, shapes), OpDtype.BF16)
    measured = work.flops[0] / (row.value * 1e12) if compute_bound else work.bytes[0] / (row.value * 1e9)
    return CalibrationPoint(
        row.line,
        "mla_decode",
        OpDtype.BF16,
        shapes,
        float(measured * 1e3),
        _label(row),
        note="'up to' figure, H800; evaluated at a saturating shape (batch 128, 8k context)",
    )


# -- communication ------------------------------------------------------------------------------------------


def _custom_all_reduce(row: PublishedRow) -> CalibrationPoint | str | None:
    if not row.op.startswith("all-reduce latency"):
        return None
    op = row.op.lower()
    if "tp=" in row.shape:
        gpus = (_numbers(r"tp=(\d+)", row.shape) or (0,))[0]
        elements = (_numbers(r"'data size'=(\d+)", row.shape) or (0,))[0]
        size = elements * 2
        note = "'data size' read as bf16 elements (the test allocates tensors of that many elements)"
    else:
        gpus = (_numbers(r"TP=(\d+)", row.gpu) or (0,))[0]
        tokens, hidden = _numbers(r"\((\d+),(\d+)\)", row.shape) or (0, 0)
        size = tokens * hidden * 2
        note = "isolated primitive benchmark"
    variant: str | None = None
    if "pynccl" in op:
        kernel = AllReduceKernel.NCCL
    elif "symm_mem" in op:
        kernel, variant = AllReduceKernel.SYMM_MEM, ("multimem" if "multimem" in op else "two_shot")
    elif "ca_1stage" in op:
        kernel, variant = AllReduceKernel.VLLM_CUSTOM, "one_shot"
    elif "ca_2stage" in op:
        kernel, variant = AllReduceKernel.VLLM_CUSTOM, "two_shot"
    elif "vllm custom" in op:
        kernel = AllReduceKernel.VLLM_CUSTOM
    else:
        kernel = AllReduceKernel.TRTLLM_CUSTOM
    value_ms = row.value if row.unit == "ms" else row.value / 1e3
    shapes = {"message_bytes": size, "num_gpus": gpus}
    return CalibrationPoint(
        row.line,
        "all_reduce",
        OpDtype.BF16,
        shapes,
        value_ms,
        _label(row),
        all_reduce_kernel=kernel,
        variant=variant,
        note=note,
    )


def _nccl_bus_bandwidth(row: PublishedRow) -> CalibrationPoint | str | None:
    peak_bus_bandwidth = "all_reduce" in row.op and ("bus" in row.unit.lower() or "busbw" in row.op.lower())
    if not peak_bus_bandwidth and "effective NVLink bw" not in row.op:
        return None
    if "H100" not in row.gpu:
        return f"not H100 NVLink ({row.gpu})"
    nvls = "NVLS disabled" not in row.op and "RING" not in row.shape
    gpus = 8
    algorithm_bytes = 2 * LARGE_MESSAGE_BYTES * (gpus - 1) / gpus
    ms = algorithm_bytes / (row.value * 1e9) * 1e3
    stated = "maintainer-stated" in row.notes or "not a measured table" in row.notes
    return CalibrationPoint(
        row.line,
        "all_reduce",
        OpDtype.BF16,
        {"message_bytes": LARGE_MESSAGE_BYTES, "num_gpus": gpus},
        ms,
        _label(row),
        all_reduce_kernel=AllReduceKernel.NCCL,
        variant="nvls" if nvls else "ring",
        fit=not stated,
        note="stated expectation, not a measurement" if stated else "bus bandwidth at a 4 GiB message",
    )


def _nccl_gather_scatter(row: PublishedRow) -> CalibrationPoint | str | None:
    if "NCCL all-gather" not in row.op and "NCCL reduce-scatter" not in row.op:
        return None
    if "symmetric memory" in row.op:
        return "NCCL symmetric-memory kernels are opt-in and not modelled"
    mib = (_numbers(r"buffer (\d+) MiB", row.shape) or (0,))[0]
    family = "all_gather" if "all-gather" in row.op else "reduce_scatter"
    shapes = {"message_bytes": mib * 2**20, "num_gpus": 8}
    return CalibrationPoint(row.line, family, OpDtype.BF16, shapes, row.value / 1e3, _label(row), note="device time")


def _p2p(row: PublishedRow) -> CalibrationPoint | str | None:
    if not row.op.startswith("P2P"):
        return None
    per_direction = row.value / 2 if "bidirectional" in row.op else row.value
    shapes = {"message_bytes": 2**30}
    ms = 2**30 / (per_direction * 1e9) * 1e3
    return CalibrationPoint(row.line, "p2p", OpDtype.BF16, shapes, ms, _label(row), note="1 GiB copy")


def _deepep(row: PublishedRow) -> CalibrationPoint | str | None:
    if "MoE" not in row.op or ("dispatch" not in row.op and "combine" not in row.op):
        return None
    if "Intranode" in row.op:
        return "H800 NVLink (400 GB/s class) is not H100's"
    gpus = (_numbers(r"EP=(\d+)", row.shape) or (0,))[0]
    # combine rows say "same setting" as the dispatch row before them: 4096 tokens per batch
    tokens = (_numbers(r"(\d+) tokens", row.shape) or (4096,))[0]
    element = 1 if "dispatch" in row.op else 2
    size = tokens * 8 * 7168 * element
    crossing = size * (gpus - 8) / gpus
    if row.unit == "us":
        if gpus <= 8:
            return "low-latency kernels send over RDMA even inside one node; not modelled at EP 8"
        ms = row.value / 1e3
        note = "low-latency kernel: pure RDMA"
    else:
        ms = crossing / (row.value * 1e9) * 1e3
        note = "bottleneck (RDMA) bandwidth; node-limited routing not modelled"
    shapes = {"message_bytes": size, "num_gpus": gpus}
    return CalibrationPoint(row.line, "all_to_all", OpDtype.BF16, shapes, ms, _label(row), note=note)


def _not_applicable(row: PublishedRow) -> str | None:
    if "device-local copy" in row.op:
        return "how the sample counts read and write bytes is not stated"
    if row.gpu.startswith("H800") and "NVLink" in row.op:
        return "H800 NVLink"
    return None


_RULES: tuple[Callable[[PublishedRow], CalibrationPoint | str | None], ...] = (
    _not_applicable,
    _mamf,
    _deepgemm_dense,
    _deepgemm_grouped,
    _flash_attention,
    _flashmla,
    _custom_all_reduce,
    _nccl_bus_bandwidth,
    _nccl_gather_scatter,
    _p2p,
    _deepep,
)
