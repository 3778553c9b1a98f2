"""Reading the public measured-kernel pack (`shared/calibration/measured/`) as calibration points for an H100 SXM.

The pack keeps one row per published measurement with its source (see its SOURCES.md). The rows read here are the
H100 attention kernels (FlashAttention-3 paged decode timed with CUDA graphs; the FlashAttention-3 paper's forward
charts) and Vidur's NCCL sweeps on a DGX H100 (all-reduce on 2, 4 and 8 GPUs; send/recv between two GPUs of one
node). The decode rows at small KV lengths fit the decode call's fixed time, the FlashAttention-3 FP8 rows the FP8
speed-up over bf16 and the FlashAttention-2 rows FlashAttention-2's efficiency; the rest (FlashAttention-3 and
Triton in bf16, the NCCL sweeps) are compared out of sample by `benchmarks/kernels_accuracy.py`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from servecast.calibrate.points import CalibrationPoint
from servecast.domain.kernels import AllReduceKernel, AttentionKernel
from servecast.errors import InputError
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind

SMALL_DECODE_KV = 512
"""Decode rows at or below this KV length are small enough that the call's fixed time dominates: they fit it."""
PAPER_KERNELS = {
    "FlashAttention-3": (AttentionKernel.FLASH_ATTN3, OpDtype.BF16),
    "FlashAttention-3 (FP8)": (AttentionKernel.FLASH_ATTN3, OpDtype.FP8),
    "FlashAttention-2": (AttentionKernel.FLASH_ATTN2, OpDtype.BF16),
    "Triton (fused attention)": (AttentionKernel.TRITON, OpDtype.BF16),
}
"""The FlashAttention-3 paper's kernels servecast models, with the data type of their chart (cuDNN is not one)."""


def read_measured_kernels(folder: str | Path) -> list[CalibrationPoint]:
    """Calibration points from the pack's attention and collective files in `folder`."""
    folder = Path(folder)
    frames = {}
    for name in ("attention", "collectives"):
        path = folder / f"{name}.csv.gz"
        try:
            frames[name] = pd.read_csv(path, low_memory=False)
        except FileNotFoundError:
            raise InputError(f"measured file {str(path)!r} not found", "pass the measured pack's folder") from None
    return [
        *_decode_attention(frames["attention"]),
        *_paper_attention(frames["attention"]),
        *_collectives(frames["collectives"]),
    ]


def _row(index: object) -> int:
    """The file line of a data-frame row (the header is line 1)."""
    return int(str(index)) + 2


def _decode_attention(rows: pd.DataFrame) -> list[CalibrationPoint]:
    decode = rows[(rows["source"] == "fa-issue1572") & (rows["gpu"] == "H100")]
    points = []
    for index, row in decode.iterrows():
        kv_len = float(row["kv_len"])
        shapes = {
            "batch": float(row["batch"]),
            "kv_len": kv_len,
            "heads": float(row["num_heads"]),
            "kv_heads": float(row["num_kv_heads"]),
            "head_dim": float(row["head_dim"]),
            "kv_bytes": 2.0,
        }
        small = kv_len <= SMALL_DECODE_KV
        points.append(
            CalibrationPoint(
                _row(index),
                OpKind.DECODE_ATTENTION.value,
                OpDtype.BF16,
                shapes,
                float(row["latency_us"]) / 1e3,
                f"FA3 paged decode, CUDA graph (fa-issue1572) [B={row['batch']} kv={kv_len:g} page "
                f"{row['page_size']:g}]",
                attention_kernel=AttentionKernel.FLASH_ATTN3,
                fit=small,
                best_shape_kernel=False,
                note="small KV: the call's fixed time" if small else "page size 8: below the bandwidth engines reach",
            )
        )
    return points


def _paper_attention(rows: pd.DataFrame) -> list[CalibrationPoint]:
    paper = rows[(rows["source"] == "fa3-paper-figures") & rows["kernel"].isin(PAPER_KERNELS)]
    paper = paper[paper["latency_us"].notna()]
    points = []
    for index, row in paper.iterrows():
        kernel, dtype = PAPER_KERNELS[str(row["kernel"])]
        causal = str(row["causal"]) == "True"
        seq = float(row["seq_len_q"])
        shapes = {
            "batch": float(row["batch"]),
            "q_len": seq,
            "kv_len": seq,
            "heads": float(row["num_heads"]),
            "kv_heads": float(row["num_heads"]),
            "head_dim": float(row["head_dim"]),
            "causal": 1.0 if causal else 0.0,
        }
        points.append(
            CalibrationPoint(
                _row(index),
                OpKind.CONTEXT_ATTENTION.value,
                dtype,
                shapes,
                float(row["latency_us"]) / 1e3,
                f"{row['kernel']} fwd, FA3 paper [B={row['batch']} S={seq:g} H={row['num_heads']} "
                f"D={row['head_dim']}{' causal' if causal else ''}]",
                attention_kernel=kernel,
                fit=dtype is OpDtype.FP8 or kernel is AttentionKernel.FLASH_ATTN2,
                note="chart labels transcribed by a third party; the causal flag inferred",
            )
        )
    return points


def _collectives(rows: pd.DataFrame) -> list[CalibrationPoint]:
    """Vidur's NCCL sweeps inside one DGX H100: all-reduce on 2, 4 and 8 GPUs, and send/recv between two GPUs."""
    sweeps = rows[(rows["source"] == "vidur") & (rows["gpu"] == "H100-SXM") & (rows["num_nodes"] == 1)]
    points = []
    for index, row in sweeps.iterrows():
        size = float(row["message_bytes"])
        all_reduce = row["op"] == "all_reduce"
        if not all_reduce and row["op"] != "send_recv":
            continue
        points.append(
            CalibrationPoint(
                _row(index),
                (OpKind.ALL_REDUCE if all_reduce else OpKind.P2P).value,
                OpDtype.FP16,
                {"message_bytes": size, "num_gpus": float(row["num_gpus"])}
                if all_reduce
                else {"message_bytes": size, "inter_node": 0.0},
                float(row["latency_us"]) / 1e3,
                f"NCCL {row['op']}, DGX H100 (Vidur) [{row['num_gpus']} GPUs, {size:g} B]",
                all_reduce_kernel=AllReduceKernel.NCCL if all_reduce else None,
                fit=False,
                best_shape_kernel=False,
                note="rank 0's NCCL kernel time, waits for peers included; no CUDA graphs",
            )
        )
    return points
