"""The steady-state means (what `estimate` and the search report) against the discrete-event simulation's.

Runs a fixed set of configurations on h100_sxm through both models and prints the error of the analytic mean
TTFT, TPOT and throughput relative to the simulation's, with the simulation's preemption count. Aggregated: closed
loops in waves and with spread lengths, Poisson traffic, and users waiting for a full KV cache. Disaggregated: xPyD
pools under closed loops (decode workers filled to their limit included) and Poisson traffic. Then, apart, users
who outgrow the KV cache on frameworks that preempt, whose preemptions the means do not follow and where the
estimate warns (about 30 s).

    uv run python benchmarks/des_agreement.py
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

from servecast.host import PluginHost
from servecast.serving.estimate import ServerCache, estimate
from servecast.serving.request import EstimateRequest

LLAMA_8B = "meta-llama/Llama-3.1-8B"
LLAMA_70B = "meta-llama/Llama-3.1-70B"
SPREAD = {"length_distribution": "uniform", "length_spread": 0.3}
CASES: list[dict[str, Any]] = [
    {"framework": "vllm", "model": LLAMA_8B, "isl": 1000, "osl": 200, "concurrency": 16},
    {"framework": "sglang", "model": LLAMA_8B, "isl": 1000, "osl": 200, "concurrency": 64},
    {"framework": "trtllm", "model": LLAMA_8B, "isl": 1000, "osl": 200, "concurrency": 64},
    {"framework": "vllm", "model": LLAMA_70B, "tp": 4, "isl": 2000, "osl": 100, "request_rate": 4},
    {"framework": "sglang", "model": "Qwen/Qwen3-30B-A3B", "tp": 2, "isl": 500, "osl": 300, "request_rate": 10},
    {"framework": "vllm", "model": LLAMA_8B, "isl": 2000, "osl": 2000, "concurrency": 400, **SPREAD},
    {"framework": "vllm", "model": LLAMA_8B, "isl": 128, "osl": 2000, "concurrency": 800, **SPREAD},
    {"framework": "vllm", "model": LLAMA_70B, "tp": 4, "isl": 1000, "osl": 2000, "concurrency": 400, **SPREAD},
    {"framework": "sglang", "model": LLAMA_8B, "isl": 2000, "osl": 2000, "concurrency": 400, **SPREAD},
    {"framework": "trtllm", "model": LLAMA_8B, "isl": 2000, "osl": 2000, "concurrency": 400, **SPREAD},
]
"""Waves, Poisson traffic, then closed loops beyond the KV cache (the last five)."""


def pools(prefill: int = 1, decode: int = 1, batch: int = 1, **layouts: int) -> dict[str, Any]:
    """An xPyD deployment's flags: `prefill` workers prefilling up to `batch` prompts a step, `decode` workers."""
    counts = {"prefill_workers": prefill, "decode_workers": decode, "prefill_batch_size": batch}
    return {"mode": "disagg", **counts, **layouts}


DISAGGREGATED: list[dict[str, Any]] = [
    {"framework": "vllm", "model": LLAMA_8B, "isl": 2000, "osl": 500, "concurrency": 64, **pools()},
    {"framework": "trtllm", "model": LLAMA_8B, "isl": 2000, "osl": 500, "concurrency": 256, **pools()},
    {"framework": "trtllm", "model": LLAMA_8B, "isl": 2000, "osl": 500, "concurrency": 64, **pools(batch=4)},
    {
        "framework": "sglang",
        "model": LLAMA_70B,
        "isl": 4000,
        "osl": 1000,
        "concurrency": 64,
        **pools(prefill=2, batch=2, prefill_tp=4, decode_tp=4),
        **SPREAD,
    },
    {"framework": "sglang", "model": LLAMA_8B, "isl": 1000, "osl": 1000, "request_rate": 5, **pools()},
    {  # at 94 % of the prefill capacity the queue needs ten times the usual stream to settle (1,500: +19 %)
        "framework": "vllm",
        "model": LLAMA_8B,
        "isl": 300,
        "osl": 100,
        "request_rate": 112,
        "num_requests": 15000,
        **pools(decode=4, batch=4),
    },
    {
        "framework": "trtllm",
        "model": LLAMA_8B,
        "isl": 1000,
        "osl": 1000,
        "request_rate": 5,
        **pools(decode=2),
        **SPREAD,
    },
]
"""Disaggregated pools: closed loops (equal lengths, paced; the TensorRT-LLM decode worker at its running limit; prompts
prefilled up to four at a time, whose start-up groups the means do not follow), spread lengths and Poisson
traffic (the vLLM 300/100 case above what single prompts could carry: four to a step)."""

OUTGROWN: list[dict[str, Any]] = [
    {"framework": "vllm", "model": LLAMA_8B, "isl": 2000, "osl": 2000, "concurrency": 200},
    {"framework": "vllm", "model": LLAMA_70B, "tp": 4, "isl": 1000, "osl": 2000, "concurrency": 256},
    {"framework": "vllm", "model": LLAMA_70B, "tp": 4, "isl": 1000, "osl": 2000, "concurrency": 400},
    {"framework": "sglang", "model": LLAMA_70B, "tp": 4, "isl": 1000, "osl": 2000, "concurrency": 256},
    {
        "framework": "vllm",
        "framework_version": "0.10.2",
        "model": "Qwen/Qwen3-32B-FP8",
        "isl": 128,
        "osl": 1000,
        "concurrency": 256,
        **SPREAD,
    },
    {"framework": "vllm", "model": LLAMA_8B, "isl": 2000, "osl": 500, "concurrency": 256, **pools()},
]
"""Users who start together and outgrow the KV cache (preemption in bursts), and a vLLM decode worker run past
the requests its cache holds whole: where the estimate warns."""


def main() -> int:
    host = PluginHost.from_entry_points()
    cache = ServerCache()
    print(f"{'framework':9} {'model':24} {'isl/osl':10} {'load':14} {'TTFT':>7} {'TPOT':>7} {'thr':>7} {'preempt':>8}")
    _summarise(_compare(host, cache, CASES))
    print("\ndisaggregated pools:")
    _summarise(_compare(host, cache, DISAGGREGATED))
    print("\nrequests outgrowing the KV cache where the framework preempts (the estimate warns these are rough):")
    _compare(host, cache, OUTGROWN)
    return 0


def _summarise(errors: dict[str, list[float]]) -> None:
    print("mean |error|: " + ", ".join(f"{name} {100 * statistics.fmean(v):.1f} %" for name, v in errors.items()))


def _compare(host: PluginHost, cache: ServerCache, cases: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Print each case's analytic error against the simulation; the absolute errors by metric."""
    errors: dict[str, list[float]] = {"ttft": [], "tpot": [], "throughput": []}
    for case in cases:
        users = case.get("concurrency", 0)
        values = {"system": "h100_sxm", "mode": "agg", "num_requests": max(1500, 10 * users), **case}
        if users and "length_spread" not in case:  # the simulated users send equal lengths: they stay in step
            values["user_phase"] = "waves"
        request = EstimateRequest.parse(values)
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
        if case.get("mode") == "disagg":
            load += f" {case['prefill_workers']}P{case['decode_workers']}D"
            load += f" ×{case['prefill_batch_size']}" if case["prefill_batch_size"] > 1 else ""
        print(
            f"{case['framework']:9} {case['model'][-24:]:24} {case['isl']}/{case['osl']:<5} {load:14} "
            + " ".join(f"{100 * row[name]:+6.1f}%" for name in errors)
            + f" {simulated['preemptions']:8d}"
        )
    return errors


if __name__ == "__main__":
    sys.exit(main())
