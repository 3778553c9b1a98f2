"""Why a configuration wins (where its time goes, what limits it) and, when none is feasible, what would help."""

from __future__ import annotations

from typing import Any

import numpy as np

from servecast.domain.hardware import HardwareSpec
from servecast.domain.vocabulary import ComputeDtype
from servecast.host.host import PluginHost
from servecast.search.result import SearchResult, ranking_view, sla_mask
from servecast.serving.estimate import estimate
from servecast.serving.request import EstimateRequest
from servecast.serving.tails import percentile_column

OP_FAMILIES = {
    "gemm": "gemm",
    "context_attention": "attention",
    "decode_attention": "attention",
    "mla_context": "attention",
    "mla_decode": "attention",
    "moe": "moe",
    "all_reduce": "communication",
    "all_gather": "communication",
    "reduce_scatter": "communication",
    "all_to_all": "communication",
    "p2p": "communication",
    "elementwise": "memory",
}
"""Op kinds grouped into the families a reader reasons about."""

_NEAR_LIMIT = 0.9
"""A latency within this fraction of its target is what caps the load."""


def request_from_row(row: dict[str, Any]) -> EstimateRequest:
    """The estimate request that reproduces one search row (its configuration columns)."""
    fields = EstimateRequest.model_fields
    values = {name: value for name, value in row.items() if name in fields and value is not None}
    if row.get("concurrency") and row.get("requests_per_user"):
        values["num_requests"] = round(row["requests_per_user"] * row["concurrency"])
    return EstimateRequest.parse(values)


def explain_winner(host: PluginHost, result: SearchResult, hardware: HardwareSpec) -> dict[str, Any]:
    """Time shares by op family of the winner's decode iteration (and prefill), and what limits it."""
    index = result.winner
    if index is None:
        return {}
    row = result.row(index)
    detailed = estimate(host, request_from_row(row), breakdown=True)
    shares: dict[str, dict[str, float]] = {}
    for step, details in (detailed.breakdown or {}).items():
        families: dict[str, float] = {}
        for op in details["ops"]:
            family = OP_FAMILIES.get(op["kind"], "other")
            families[family] = families.get(family, 0.0) + op["share"]
        shares[step] = dict(sorted(families.items(), key=lambda item: -item[1]))
    return {"shares": shares, "limited_by": _limit(result, index, row, shares, hardware)}


def _limit(
    result: SearchResult, index: int, row: dict[str, Any], shares: dict[str, dict[str, float]], hardware: HardwareSpec
) -> str:
    """Compute, memory bandwidth, KV capacity, communication or the SLA — with the number that says so."""
    sla = result.task.sla
    for name, limit, label in (
        ("tpot_ms", sla.tpot_ms, "TPOT"),
        ("ttft_ms", sla.ttft_ms, "TTFT"),
        ("e2e_ms", sla.request_latency_ms, "request latency"),
    ):
        value = row[name]
        if limit is not None and value is not None and value >= _NEAR_LIMIT * limit:
            return f"the SLA: {label} {value:.1f} ms against the {limit:g} ms target caps the load"
    limiter = row["limiter"]
    if limiter == "kv_capacity":
        return "KV-cache capacity: no more requests fit in memory at their full length"
    if limiter == "batch_limit":
        return "the framework's maximum batch size"
    if limiter in ("prefill", "decode"):
        return f"the {limiter} pool's throughput"
    decode = next((step for name, step in shares.items() if name.endswith("decode")), {})
    if decode.get("communication", 0.0) >= 0.25:
        return f"communication: {decode['communication']:.0%} of a decode iteration"
    gpu = hardware.gpu
    peaks = gpu.dense_tensor_flops_per_s
    ridge = peaks.get(ComputeDtype.BF16, next(iter(peaks.values()))) / gpu.mem_bw_bytes_per_s
    sequences = (row["running_sequences"] or 0.0) / (row.get("dp") or row.get("decode_dp") or 1)
    if sequences < ridge:
        return (
            f"memory bandwidth: ~{sequences:.0f} sequences per decode iteration and rank, below the ~{ridge:.0f} "
            "that would make 16-bit weight reads compute-bound"
        )
    return f"compute: ~{sequences:.0f} sequences per decode iteration and rank, above the ~{ridge:.0f} ridge point"


def infeasibility(result: SearchResult) -> dict[str, Any]:
    """Which constraint binds when nothing is feasible, the closest points, and what would make one feasible."""
    columns = ranking_view(result.task, result.columns)
    sla = result.task.sla
    advice: list[str] = []
    if not result.evaluated:
        reasons = sorted({rejection.reason for rejection in result.rejections})
        return {
            "binding": "memory or capabilities",
            "reasons": reasons[:8],
            "closest": [],
            "advice": [
                f"more GPUs than {result.task.gpus}",
                "a smaller quantization (--quant fp8) or KV-cache dtype (--kv-cache-dtype fp8)",
                "shorter requests",
            ],
        }
    if result.tails:
        return _tail_infeasibility(result)
    targets = [
        (name, field, _LABEL[name], getattr(sla, field)) for name, field in _SLA_FIELD.items() if getattr(sla, field)
    ]
    targets += [  # the model's percentile (the simulation ran nothing: the model ruled every point out)
        (percentile_column(name, level), percentile_column(name, level), f"{level.upper()} {_LABEL[name]}", limit)
        for (name, level), limit in sla.percentile_targets.items()
    ]
    ratios = [np.where(np.isfinite(columns[name]), columns[name] / limit, np.inf) for name, _, _, limit in targets]
    worst = np.max(ratios, axis=0) if ratios else np.zeros(result.evaluated)
    closest = np.argsort(worst, kind="stable")[:3]
    binding = []
    for name, field, label, limit in targets:
        relaxed = sla_mask(columns, sla.model_copy(update={field: None}))
        if relaxed.any():
            needed = float(np.min(columns[name][relaxed]))
            binding.append(label)
            about = "about " if field not in _SLA_FIELD.values() else ""  # the model's percentile, not simulated
            advice.append(f"loosen the {label} target to {about}{needed:.0f} ms (from {limit:g} ms)")
    advice += [f"more GPUs than {result.task.gpus}", "a smaller quantization (--quant fp8)"]
    return {
        "binding": ", ".join(binding) or "several targets together",
        "closest": [result.row(int(i)) for i in closest],
        "advice": advice,
    }


def _tail_infeasibility(result: SearchResult) -> dict[str, Any]:
    """Nothing the simulation ran meets the percentile targets: the closest it ran, and the targets that would admit
    it."""
    targets = result.task.sla.percentile_targets

    def worst(percentiles: dict[str, Any]) -> float:
        return float(
            max(percentiles.get(name, {}).get(level, np.inf) / limit for (name, level), limit in targets.items())
        )

    closest = sorted(result.tails, key=lambda index: worst(result.tails[index]))[:3]
    advice, binding = [], []
    for (name, level), limit in targets.items():
        reached = [result.tails[index].get(name, {}).get(level, np.inf) for index in result.tails]
        best = min(reached, default=np.inf)
        if best > limit:
            binding.append(f"{level.upper()} {_LABEL[name]}")
            if np.isfinite(best):
                advice.append(f"loosen the {level.upper()} {_LABEL[name]} target to {best:.0f} ms (from {limit:g} ms)")
    advice += [
        f"more GPUs than {result.task.gpus}",
        "a warm start (--user-start warm) if the first wave is not counted",
    ]
    return {
        "binding": ", ".join(binding) or "the percentile targets together",
        "closest": [result.row(index) for index in closest],
        "advice": advice,
    }


_SLA_FIELD = {"ttft_ms": "ttft_ms", "tpot_ms": "tpot_ms", "e2e_ms": "request_latency_ms"}
"""Each mean column and the SLA field that bounds it (a percentile target's field: `ttft_p99_ms` for ttft_ms)."""
_LABEL = {"ttft_ms": "TTFT", "tpot_ms": "TPOT", "e2e_ms": "request latency"}
