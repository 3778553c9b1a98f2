"""The steady-state means (what `estimate` and the search report) against the discrete-event simulation's.

Runs a fixed set of aggregated configurations on h100_sxm through both models and prints the error of the
analytic mean TTFT, TPOT and throughput relative to the simulation's, with the simulation's preemption count:
closed loops in waves and with spread lengths, Poisson traffic, and users waiting for a full KV cache; then, apart,
users who start together and outgrow the KV cache, whose bursts of preemptions the means do not follow (about two
minutes).

    uv run python benchmarks/des_agreement.py
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

from servecast.host import PluginHost
from servecast.serving.estimate import ServerCache, estimate
from servecast.serving.request import EstimateRequest

SPREAD = {"length_distribution": "uniform", "length_spread": 0.3}
CASES: list[dict[str, Any]] = [
    {"framework": "vllm", "model": "meta-llama/Llama-3.1-8B", "isl": 1000, "osl": 200, "concurrency": 16},
    {"framework": "sglang", "model": "meta-llama/Llama-3.1-8B", "isl": 1000, "osl": 200, "concurrency": 64},
    {"framework": "trtllm", "model": "meta-llama/Llama-3.1-8B", "isl": 1000, "osl": 200, "concurrency": 64},
    {"framework": "vllm", "model": "meta-llama/Llama-3.1-70B", "tp": 4, "isl": 2000, "osl": 100, "request_rate": 4},
    {"framework": "sglang", "model": "Qwen/Qwen3-30B-A3B", "tp": 2, "isl": 500, "osl": 300, "request_rate": 10},
    {"framework": "vllm", "model": "meta-llama/Llama-3.1-8B", "isl": 2000, "osl": 2000, "concurrency": 400, **SPREAD},
    {"framework": "vllm", "model": "meta-llama/Llama-3.1-8B", "isl": 128, "osl": 2000, "concurrency": 800, **SPREAD},
    {
        "framework": "vllm",
        "model": "meta-llama/Llama-3.1-70B",
        "tp": 4,
        "isl": 1000,
        "osl": 2000,
        "concurrency": 400,
        **SPREAD,
    },
    {"framework": "sglang", "model": "meta-llama/Llama-3.1-8B", "isl": 2000, "osl": 2000, "concurrency": 400, **SPREAD},
    {"framework": "trtllm", "model": "meta-llama/Llama-3.1-8B", "isl": 2000, "osl": 2000, "concurrency": 400, **SPREAD},
]
"""Waves, Poisson traffic, then closed loops beyond the KV cache (the last five)."""

OUTGROWN: list[dict[str, Any]] = [
    {"framework": "vllm", "model": "meta-llama/Llama-3.1-8B", "isl": 2000, "osl": 2000, "concurrency": 200},
    {"framework": "vllm", "model": "meta-llama/Llama-3.1-70B", "tp": 4, "isl": 1000, "osl": 2000, "concurrency": 256},
    {"framework": "vllm", "model": "meta-llama/Llama-3.1-70B", "tp": 4, "isl": 1000, "osl": 2000, "concurrency": 400},
    {"framework": "sglang", "model": "meta-llama/Llama-3.1-70B", "tp": 4, "isl": 1000, "osl": 2000, "concurrency": 256},
    {
        "framework": "vllm",
        "framework_version": "0.10.2",
        "model": "Qwen/Qwen3-32B-FP8",
        "isl": 128,
        "osl": 1000,
        "concurrency": 256,
        **SPREAD,
    },
]
"""Users who start together and outgrow the KV cache: preemption in bursts, where the estimate warns."""


def main() -> int:
    host = PluginHost.from_entry_points()
    cache = ServerCache()
    print(f"{'framework':9} {'model':24} {'isl/osl':10} {'load':14} {'TTFT':>7} {'TPOT':>7} {'thr':>7} {'preempt':>8}")
    errors = _compare(host, cache, CASES)
    print("\nmean |error|: " + ", ".join(f"{name} {100 * statistics.fmean(v):.1f} %" for name, v in errors.items()))
    print("\nusers in step outgrowing the KV cache (the estimate warns that these means are rough):")
    _compare(host, cache, OUTGROWN)
    return 0


def _compare(host: PluginHost, cache: ServerCache, cases: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Print each case's analytic error against the simulation; the absolute errors by metric."""
    errors: dict[str, list[float]] = {"ttft": [], "tpot": [], "throughput": []}
    for case in cases:
        users = case.get("concurrency", 0)
        request = EstimateRequest.parse(
            {"system": "h100_sxm", "mode": "agg", "num_requests": max(1500, 10 * users), **case}
        )
        result = estimate(host, request, percentiles=True, cache=cache)
        analytic, simulated = result.metrics, result.percentiles or {}
        row = {
            "ttft": analytic.ttft_ms / simulated["ttft_ms"]["mean"] - 1,
            "tpot": analytic.tpot_ms / simulated["tpot_ms"]["mean"] - 1,
            "throughput": analytic.throughput_tokens_per_s / simulated["throughput_tokens_per_s"] - 1,
        }
        for name, value in row.items():
            errors[name].append(abs(value))
        load = f"{users} users" if users else f"{case['request_rate']} req/s"
        load += " ±30 %" if "length_spread" in case else ""
        print(
            f"{case['framework']:9} {case['model'][-24:]:24} {case['isl']}/{case['osl']:<5} {load:14} "
            + " ".join(f"{100 * row[name]:+6.1f}%" for name in errors)
            + f" {simulated['preemptions']:8d}"
        )
    return errors


if __name__ == "__main__":
    sys.exit(main())
