"""The steady-state means (what `estimate` and the search report) against the discrete-event simulation's.

Runs a fixed set of aggregated configurations on h100_sxm through both models and prints the error of the
analytic mean TTFT, TPOT and throughput relative to the simulation's, with the simulation's preemption count:
closed loops in waves and with spread lengths, Poisson traffic, and users waiting for a full KV cache (about a
minute).

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


def main() -> int:
    host = PluginHost.from_entry_points()
    cache = ServerCache()
    errors: dict[str, list[float]] = {"ttft": [], "tpot": [], "throughput": []}
    print(f"{'framework':9} {'model':24} {'isl/osl':10} {'load':14} {'TTFT':>7} {'TPOT':>7} {'thr':>7} {'preempt':>8}")
    for case in CASES:
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
    print("\nmean |error|: " + ", ".join(f"{name} {100 * statistics.fmean(v):.1f} %" for name, v in errors.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
