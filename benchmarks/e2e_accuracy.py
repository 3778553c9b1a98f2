"""Serving predictions against the published end-to-end measurements in ../shared/calibration/e2e.csv.

Every row the model can express is predicted with the same code the `estimate` command runs; rows it cannot
express are counted with the reason. Errors are summarised per source and per metric family. Runs that measured a
finite request stream (TRT-LLM 0.14's trtllm-bench offline runs, the Triton online table, SGLang 0.3's and vLLM
0.6's ShareGPT runs) go through the discrete-event simulation with the published request counts, ramp-up and
drain included (about two minutes).

    uv run python benchmarks/e2e_accuracy.py [--rows] [--csv PATH] [--loso] [--gpu H100|H200]

`--loso` adds leave-one-source-out errors (about forty minutes on the H100 rows alone, `--gpu H100`; twice that
with the H200 rows): the two parameters fitted on these rows across sources (`gemm.serving_efficiency` and
`decode_attention.head_overhead` of the H100 calibration, and of H200's, transferred from it) are refitted on a grid
without the source scored, and the parameters fitted on one source alone (SGLang 0.3's CPU time) go back to the
assumptions they replaced when that source is scored. H200 rows are sources of their own (`[H200]`): H200's
calibration is transferred from H100's and none of its rows fit anything.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

from servecast.domain import KvCacheDtype, ParallelLayout, Quantization
from servecast.errors import ServecastError
from servecast.host import PluginHost
from servecast.models.memory import stage_memory
from servecast.models.model import load_model
from servecast.serving.estimate import Estimate, ServerCache, estimate
from servecast.serving.request import EstimateRequest

DATA = Path(__file__).resolve().parents[2] / "shared" / "calibration" / "e2e.csv"

MODELS = {
    "meta-llama/Llama-3.1-70B": "meta-llama/Llama-3.1-70B",
    "meta-llama/Llama-3.1-70B-Instruct": "meta-llama/Llama-3.1-70B",
    "meta-llama/Llama-3.1-8B": "meta-llama/Llama-3.1-8B",
    "meta-llama/Llama-3.1-405B": "meta-llama/Llama-3.1-405B",
    "mistralai/Mixtral-8x7B": "mistralai/Mixtral-8x7B-v0.1",
    "mistralai/Mixtral-8x7B-Instruct-v0.1": "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "mistralai/Mixtral-8x22B": "mistralai/Mixtral-8x22B-Instruct-v0.1",
    "meta-llama/Meta-Llama-3(.1)-8B": "meta-llama/Llama-3.1-8B",
    "meta-llama/Meta-Llama-3-70B-Instruct": "meta-llama/Llama-3.1-70B",  # same shapes; 8K context instead of 128K
    "mistralai/Mistral-7B": "mistralai/Mistral-7B-v0.3",  # v0.1's 4K sliding window is not modelled
    "meta-llama/Llama-2-7b (doc: 'LLaMA 7B', build section says Llama2-7b)": "meta-llama/Llama-2-7b-hf",
    "meta-llama/Llama-2-70b (doc: 'LLaMA 70B')": "meta-llama/Llama-2-70b-hf",
}
"""Published model names -> the catalog entry with the same architecture (noted where it is an approximation)."""

FAMILIES = {
    "throughput": {"output_throughput", "output_throughput_per_gpu", "request_throughput", "total_token_throughput"},
    "ttft": {"ttft", "mean_ttft", "median_ttft"},
    "tpot/itl": {"mean_itl", "median_tpot"},
    "e2e latency": {"mean_latency"},
}


PERF_OVERVIEW_REQUESTS = {
    (128, 128): 30000,
    (128, 2048): 3000,
    (128, 4096): 1500,
    (2048, 128): 3000,
    (2048, 2048): 1500,
    (5000, 500): 1500,
    (1000, 1000): 3000,
    (500, 2000): 3000,
    (20000, 2000): 1000,
}
"""Requests per trtllm-bench run, by ISL/OSL: the table under 'Preparing a Dataset' in the 0.14 perf-overview."""

SHAREGPT = {"isl": 225, "osl": 194, "length_distribution": "lognormal", "length_spread": 1.0}
"""A stand-in for the ShareGPT sample `sglang.bench_serving --dataset-name sharegpt` sends with Llama-3's tokenizer
(replies forced to their dataset length). Mean output 194.4: the published offline output over request throughput
(3856.01 / 19.84, the same for vLLM's 3700.64 / 19.04). Mean input 225: two published runs of the same filter and
tokenizer family, 453,502 tokens / 2,000 prompts (sglang issue #1639) and 369,103 / 1,648 (sglang issue #2805).
Lognormal with σ = 1: the four online runs put the median reply near 120 tokens ((median E2E − median TTFT) /
median TPOT + 1 = 117-123), and a lognormal with mean 194.4 and median 120 has σ ≈ 0.98; the prompts are assumed
to share it. Because the median E2E rows set that shape, they are not scored."""


@dataclass(frozen=True)
class Case:
    """One measured row and how servecast predicts it."""

    row: dict[str, str]
    request: EstimateRequest | None
    simulate: bool
    skip: str | None = None


def _int(text: str) -> int | None:
    match = re.match(r"\s*(\d+)", text)
    return int(match.group(1)) if match else None


SYSTEMS = {"H100": "h100_sxm", "H200": "h200_sxm"}
"""The system each published GPU label maps to (H200's calibration is transferred from H100, none of its rows fit
anything: its rows are out of sample for every parameter)."""


def _gpu(row: dict[str, str]) -> str | None:
    return next((gpu for gpu in SYSTEMS if gpu in row["gpu"]), None)


def _source(row: dict[str, str]) -> str:
    gpu = _gpu(row)
    name = _source_name(row)
    return name if gpu in (None, "H100") else f"{name} [{gpu}]"


def _source_name(row: dict[str, str]) -> str:
    source = row["source"]
    if "Online Serving" in source:
        return "TRT-LLM 0.14 Triton online"
    if "perf-overview" in source:
        return "TRT-LLM 0.14 offline max throughput"
    if "0.9.0" in source:
        return "TRT-LLM 0.9 static batching"
    if "buildkite" in source:
        return "vLLM CI (v0.6.x)"
    if "benchmark_vllm_060" in source:
        return f"{row['framework']} {row['version'][:3]} ShareGPT (approx.)"
    return "TRT-LLM 0.5 GPT-J"


def _quant(precision: str) -> str | None:
    return {"FP8": "fp8", "FP16": "fp16", "BF16": "bf16"}.get(precision.strip())


def _trtllm_bench_budgets(
    host: PluginHost, system: str, model_id: str, quant: str, fp8_kv: bool, tp: int, pp: int, isl: int, osl: int
) -> tuple[int, int]:
    """trtllm-bench 0.14's build heuristic (tuning.py, described in the TRT-LLM plugin's data): max batch size and
    max_num_tokens from the KV cache 95 % of the memory left after the weights holds."""
    kv = KvCacheDtype.FP8 if fp8_kv else None
    model = load_model(model_id, host.architectures, Quantization(quant), kv)
    stages = stage_memory(model, ParallelLayout(tp=tp, pp=pp))
    weights = max(stage.weight_bytes for stage in stages)
    per_token = max(stage.kv_bytes_per_token + stage.window_kv_bytes_per_token for stage in stages)
    memory = host.hardware.get(system).gpu.memory_bytes
    kv_requests = 0.95 * (memory - weights) / (per_token * (isl + osl))
    raw = min(kv_requests, 4096) / pp
    if raw < 256:
        batch = max(64, 32 * math.ceil(raw / 32))
    elif raw < 1024:
        batch = 128 * math.ceil(raw / 128)
    else:
        batch = 256 * math.ceil(raw / 256)
    tokens = min(raw * (1 + isl / osl), 32768)
    step = 256 if tokens < 4096 else 512 if tokens < 8192 else 1024
    return batch, max(2048, step * math.ceil(tokens / step))


def case_for(host: PluginHost, row: dict[str, str]) -> Case:
    """The request predicting `row`, or why none can."""
    gpu = _gpu(row)
    if gpu is None:
        return Case(row, None, False, f"no system for {row['gpu']!r}")
    model = MODELS.get(row["model"])
    if model is None:
        return Case(row, None, False, f"model {row['model']!r} is not in the offline catalog")
    if "benchmark_vllm_060" in row["source"]:
        return _sharegpt_case(row, model)
    isl, osl = _int(row["isl"]), _int(row["osl"])
    if isl is None or osl is None:
        return Case(row, None, False, "ShareGPT lengths: the length distribution is not published")
    source = _source_name(row)
    tp, pp = int(row["tp"] or 1), int(row["pp"] or 1)
    system = SYSTEMS[gpu]
    base: dict[str, Any] = {"model": model, "system": system, "isl": isl, "osl": osl, "tp": tp, "pp": pp}
    quant = _quant(row["precision"])
    if quant:
        base["quant"] = quant
    load = row["concurrency_or_rate"]
    if source == "TRT-LLM 0.14 offline max throughput":
        fp8_kv = quant == "fp8"  # `trtllm-bench build --quantization FP8` also stores the KV cache in FP8
        batch, tokens = _trtllm_bench_budgets(host, system, model, quant or "bf16", fp8_kv, tp, pp, isl, osl)
        values = {**base, "framework": "trtllm", "framework_version": "0.14.0", "mode": "agg", "batch_size": batch}
        if fp8_kv:
            values["kv_cache_dtype"] = "fp8"
        values.update(max_batch_size=batch, max_num_tokens=tokens, memory_fraction=0.95)
        values["num_requests"] = PERF_OVERVIEW_REQUESTS[(isl, osl)]
        return Case(row, EstimateRequest.parse(values), True)
    if source == "TRT-LLM 0.9 static batching":
        batch = _int(load.removeprefix("static batch size"))
        values = {**base, "framework": "trtllm", "framework_version": "0.9.0", "mode": "static", "batch_size": batch}
        if quant == "fp8":  # the document's checkpoint configs set kv_cache_quant_algo FP8 next to quant_algo FP8
            values["kv_cache_dtype"] = "fp8"
        return Case(row, EstimateRequest.parse(values), False)
    if source == "TRT-LLM 0.14 Triton online":
        values = {**base, "framework": "trtllm", "framework_version": "0.14.0", "mode": "agg", "num_requests": 500}
        if load == "QPS=INF":
            values["batch_size"] = 2048  # every request at once; the engine's max batch bounds the running set
        else:
            values["request_rate"] = float(load.removeprefix("QPS="))
        return Case(row, EstimateRequest.parse(values), True)
    if source == "vLLM CI (v0.6.x)" and row["metric"] == "mean_latency":
        values = {**base, "framework": "vllm", "framework_version": "0.6.0", "mode": "static", "batch_size": 8}
        return Case(row, EstimateRequest.parse(values), False)
    return Case(row, None, False, f"{source} {row['metric']}: not a quantity this benchmark maps")


def _sharegpt_case(row: dict[str, str], model: str) -> Case:
    """SGLang 0.3.0's and vLLM 0.6.0's ShareGPT runs through their HTTP servers (sglang benchmark_vllm_060), on the
    SHAREGPT stand-in. vLLM was launched with `--num-scheduler-steps 10 --max_model_len 4096`."""
    if row["metric"] not in {"median_ttft", "median_tpot", "request_throughput", "output_throughput"}:
        why = "sets the ShareGPT stand-in's shape" if row["metric"] == "median_e2e_latency" else "per-token gaps"
        return Case(row, None, False, f"{row['metric']}: {why}, not scored")
    load = row["concurrency_or_rate"]  # "request rate 4/s, 1200 prompts" or "request rate inf, 5000 prompts"
    rate, prompts = re.findall(r"[\d.]+|inf", load)
    values: dict[str, Any] = {"model": model, "system": "h100_sxm", "framework": "sglang", "framework_version": "0.3.0"}
    if row["framework"] == "vLLM":
        values.update(framework="vllm", framework_version="0.6.0", scheduler_steps=10, max_model_len=4096)
    values.update(SHAREGPT, mode="agg", tp=int(row["tp"]), num_requests=int(prompts))
    if rate == "inf":
        values.update(batch_size=int(prompts), memory_fraction=0.88)  # the offline launch sets --mem-frac 0.88
    else:
        values["request_rate"] = float(rate)
    return Case(row, EstimateRequest.parse(values), True)


def predicted(result: Estimate, row: dict[str, str], simulated: bool) -> float:
    """The prediction of the row's metric."""
    metrics = result.metrics
    percentiles = result.percentiles or {}
    isl, osl = _int(row["isl"]) or 0, _int(row["osl"]) or 0
    if simulated:
        rate = percentiles["requests_per_s"]
        values = {
            "request_throughput": rate,
            "output_throughput": percentiles["throughput_tokens_per_s"],
            "total_token_throughput": rate * (isl + osl),
            "mean_ttft": percentiles["ttft_ms"]["mean"],
            "mean_itl": percentiles["tpot_ms"]["mean"],
            "median_ttft": percentiles["ttft_ms"]["p50"],
            "median_tpot": percentiles["tpot_ms"]["p50"],
        }
    else:
        values = {
            "output_throughput": metrics.throughput_tokens_per_s,
            "output_throughput_per_gpu": metrics.tokens_per_s_per_gpu,
            "ttft": metrics.ttft_ms,
            "mean_latency": metrics.e2e_ms,
        }
    return float(values[row["metric"]])


GRID = {
    "gemm.serving_efficiency": (0.6, 0.67, 0.75, 0.83),
    "decode_attention.head_overhead": (1.0, 1.5, 2.0, 3.0),
}
"""The refit grid of the parameters fitted across sources (it holds the shipped 0.75 and 1.5)."""


SOURCE_ONLY = {
    "SGLang 0.3 ShareGPT (approx.)": ("sglang", "0.3.0", {"iteration_cpu_ms": 1.0, "per_sequence_cpu_us": 5.0}),
}
"""Parameters fitted on one source, with the assumptions they replaced (their notes in the plugins' data)."""


def with_calibration(host: PluginHost, values: dict[str, float]) -> PluginHost:
    """A host whose H100 calibration, and H200's transferred from it, have `values` for the named parameters (every
    other plugin unchanged)."""
    for system in SYSTEMS.values():
        hardware = host.hardware.get(system)
        assert hardware.calibration is not None
        parameters = dict(hardware.calibration.parameters)
        for name, value in values.items():
            parameters[name] = parameters[name].model_copy(update={"value": value})
        calibration = hardware.calibration.model_copy(update={"parameters": parameters})
        host = host.with_hardware(hardware.model_copy(update={"calibration": calibration}))
    return host


def with_overheads(host: PluginHost, framework: str, version: str, values: dict[str, float]) -> PluginHost:
    """A host whose `framework` `version` runs with the given scheduling overheads."""
    spec = host.frameworks.get(framework)
    modelled = spec.version(version)
    assert modelled.scheduling is not None
    overheads = modelled.scheduling.overheads
    changed = {name: getattr(overheads, name).model_copy(update={"value": value}) for name, value in values.items()}
    scheduling = modelled.scheduling.model_copy(update={"overheads": overheads.model_copy(update=changed)})
    replaced = modelled.model_copy(update={"scheduling": scheduling})
    versions = tuple(replaced if v is modelled else v for v in spec.versions)
    return host.with_framework(spec.model_copy(update={"versions": versions}))


def evaluate(host: PluginHost, rows: list[dict[str, str]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every row servecast can express, predicted, with its error; the others counted by reason."""
    cache = ServerCache()
    results: dict[str, Estimate] = {}
    skipped: dict[str, int] = defaultdict(int)
    table = []
    for row in rows:
        case = case_for(host, row)
        source = _source(row)
        if case.request is None:
            skipped[f"{source}: {case.skip}"] += 1
            continue
        key = case.request.model_dump_json()
        try:
            if key not in results:
                results[key] = estimate(host, case.request, percentiles=case.simulate, cache=cache)
            value = predicted(results[key], row, case.simulate)
        except ServecastError as error:
            skipped[f"{source}: {error.message[:80]}"] += 1
            continue
        measured = float(row["value"])
        family = next(name for name, metrics in FAMILIES.items() if row["metric"] in metrics)
        error_pct = (value - measured) / measured * 100
        entry = {**row, "source_name": source, "predicted": value, "error_pct": error_pct, "family": family}
        table.append({**entry, "regime": case.request.mode.value})
    return table, skipped


def mape_by_group(table: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """Mean |error| per (source, metric family)."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for entry in table:
        groups[(entry["source_name"], entry["family"])].append(abs(entry["error_pct"]))
    return {key: statistics.fmean(values) for key, values in groups.items()}


def leave_one_source_out(
    host: PluginHost, rows: list[dict[str, str]]
) -> tuple[dict[tuple[str, str], float], list[dict[str, Any]]]:
    """MAPE per (source, family) with the shared parameters refitted without that source (the grid point with the
    lowest mean of the other sources' group MAPEs) and its own single-source parameters back at their assumptions;
    and every row predicted that way (its out-of-sample prediction)."""
    points = [dict(zip(GRID, values, strict=True)) for values in product(*GRID.values())]
    tables = []
    for point in points:
        print(f"  grid {point}", file=sys.stderr, flush=True)
        tables.append(evaluate(with_calibration(host, point), rows)[0])
    scored = [mape_by_group(table) for table in tables]
    sources = sorted({source for groups in scored for source, _ in groups})
    result: dict[tuple[str, str], float] = {}
    predictions: list[dict[str, Any]] = []
    for held_out in sources:
        fits = [statistics.fmean(v for (s, _), v in groups.items() if s != held_out) for groups in scored]
        best = min(range(len(points)), key=fits.__getitem__)
        print(f"  without {held_out}: {points[best]}", file=sys.stderr, flush=True)
        table = [entry for entry in tables[best] if entry["source_name"] == held_out]
        if held_out in SOURCE_ONLY:
            framework, version, values = SOURCE_ONLY[held_out]
            refitted = with_overheads(with_calibration(host, points[best]), framework, version, values)
            table = evaluate(refitted, [row for row in rows if _source(row) == held_out])[0]
        result.update({key: value for key, value in mape_by_group(table).items() if key[0] == held_out})
        predictions += table
    return result, predictions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", action="store_true", help="Print every predicted row.")
    parser.add_argument("--csv", type=Path, help="Write every row with its prediction and error here.")
    parser.add_argument("--loso", action="store_true", help="Add leave-one-source-out errors (about 40 minutes).")
    parser.add_argument("--gpu", choices=sorted(SYSTEMS), help="Only the rows measured on this GPU.")
    parser.add_argument(
        "--loso-csv",
        type=Path,
        help="With --loso: write every row's out-of-sample prediction here (scripts/prediction_errors.py reads it).",
    )
    args = parser.parse_args()
    if args.loso_csv and not args.loso:
        parser.error("--loso-csv needs --loso")
    host = PluginHost.from_entry_points()
    rows = [row for row in csv.DictReader(DATA.open()) if args.gpu is None or _gpu(row) == args.gpu]
    table, skipped = evaluate(host, rows)
    if args.rows:
        for entry in table:
            print(
                f"{entry['family']:12} {entry['source_name'][:30]:30} {entry['model'][:28]:28} tp{entry['tp']} "
                f"{entry['isl']}/{entry['osl']} {entry['concurrency_or_rate'][:22]:22} {entry['metric']:24} "
                f"measured {float(entry['value']):10.1f} predicted {entry['predicted']:10.1f} "
                f"({entry['error_pct']:+.1f} %)"
            )
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
    loso, out_of_sample = leave_one_source_out(host, rows) if args.loso else ({}, [])
    if args.loso_csv:
        with args.loso_csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(out_of_sample[0]))
            writer.writeheader()
            writer.writerows(out_of_sample)
    print(f"{len(table)} of {len(rows)} rows predicted\n")
    print(f"{'source':38} {'metric':13} {'rows':>5} {'MAPE %':>8} {'median %':>9} {'max %':>7} {'LOSO %':>7}")
    errors: dict[tuple[str, str], list[float]] = defaultdict(list)
    for entry in table:
        errors[(entry["source_name"], entry["family"])].append(abs(entry["error_pct"]))
    by_family: dict[str, list[float]] = defaultdict(list)
    loso_by_family: dict[str, list[float]] = defaultdict(list)
    for (source, family), values in sorted(errors.items()):
        by_family[family] += values
        out = f"{loso[(source, family)]:7.1f}" if (source, family) in loso else f"{'':7}"
        if (source, family) in loso:
            loso_by_family[family] += [loso[(source, family)]] * len(values)
        print(
            f"{source:38} {family:13} {len(values):5d} {statistics.fmean(values):8.1f} "
            f"{statistics.median(values):9.1f} {max(values):7.1f} {out}"
        )
    print()
    for family, values in by_family.items():
        out = f"{statistics.fmean(loso_by_family[family]):7.1f}" if loso_by_family.get(family) else ""
        print(
            f"{'all':38} {family:13} {len(values):5d} {statistics.fmean(values):8.1f} "
            f"{statistics.median(values):9.1f} {'':7} {out}"
        )
    by_gpu: dict[tuple[str, str], list[float]] = defaultdict(list)
    for entry in table:
        by_gpu[(_gpu(entry) or "", entry["family"])].append(abs(entry["error_pct"]))
    for (gpu, family), values in sorted(by_gpu.items()):
        print(
            f"{'all ' + gpu:38} {family:13} {len(values):5d} {statistics.fmean(values):8.1f} "
            f"{statistics.median(values):9.1f}"
        )
    print("\nnot predicted:")
    for reason, count in sorted(skipped.items(), key=lambda item: -item[1]):
        print(f"  {count:4d}  {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
