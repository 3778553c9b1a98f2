"""The fast percentile model (`servecast.serving.tails`) against the discrete-event simulation, on search points.

Each scenario is searched on h100_sxm with a loose SLA; a seeded sample of its feasible points (aggregated and
disaggregated, every load) is simulated request by request as the search confirms percentile targets
(`servecast.search.tail.percentiles_of`: spread users with lengths within ±10 %), and the model's P90 and P99 of
TTFT, TPOT and request latency are compared with the simulation's. Agreement with the simulation checks the fast
model against a slower model of the same mechanisms; it is not accuracy against measured deployments.

    uv run python benchmarks/tail_model.py [--points 12] [--seeds 0 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from servecast.domain.workload import Sla, UserPhase, UserStart
from servecast.host import PluginHost
from servecast.search.runner import run_search
from servecast.search.tail import percentiles_of
from servecast.search.task import SearchTask
from servecast.serving.tails import PERCENTILE_COLUMNS

SCENARIOS: dict[str, dict[str, Any]] = {
    "qwen3-8b vllm 2000/200 burst": {
        "model": "Qwen/Qwen3-8B",
        "gpus": 4,
        "isl": 2000,
        "osl": 200,
        "frameworks": ("vllm",),
    },
    "qwen3-8b sglang 2000/200 burst": {
        "model": "Qwen/Qwen3-8B",
        "gpus": 4,
        "isl": 2000,
        "osl": 200,
        "frameworks": ("sglang",),
    },
    "qwen3-8b trtllm 4000/400 warm": {
        "model": "Qwen/Qwen3-8B",
        "gpus": 4,
        "isl": 4000,
        "osl": 400,
        "frameworks": ("trtllm",),
        "user_start": UserStart.WARM,
    },
    "qwen3-32b vllm 1000/1000 burst": {
        "model": "Qwen/Qwen3-32B",
        "gpus": 8,
        "isl": 1000,
        "osl": 1000,
        "frameworks": ("vllm",),
    },
    "qwen3-32b sglang 8000/500 burst": {
        "model": "Qwen/Qwen3-32B",
        "gpus": 8,
        "isl": 8000,
        "osl": 500,
        "frameworks": ("sglang",),
    },
    "qwen3-30b-a3b trtllm 2000/500 burst": {
        "model": "Qwen/Qwen3-30B-A3B",
        "gpus": 8,
        "isl": 2000,
        "osl": 500,
        "frameworks": ("trtllm",),
    },
    "llama-3.1-8b vllm 1000/300 waves": {
        "model": "meta-llama/Llama-3.1-8B",
        "gpus": 2,
        "isl": 1000,
        "osl": 300,
        "frameworks": ("vllm",),
        "user_phase": UserPhase.WAVES,
    },
}
LOOSE = Sla(ttft_ms=20000, tpot_ms=200)
"""An SLA that leaves almost every point feasible, so the sample spans every load."""
METRICS = [(name, f"p{level}", column) for column, (name, level) in PERCENTILE_COLUMNS.items()]


def run(points: int, seeds: list[int]) -> list[dict[str, Any]]:
    """One record per simulated point: scenario, mode, load, the model's and the simulation's percentiles."""
    host = PluginHost.from_entry_points()
    records = []
    for scenario, values in SCENARIOS.items():
        result = run_search(host, SearchTask.model_validate({"system": "h100_sxm", "sla": LOOSE} | values))
        feasible = np.flatnonzero(result.feasible)
        chosen: set[int] = set()
        for seed in seeds:
            rng = np.random.default_rng(seed)
            chosen |= {int(i) for i in rng.choice(feasible, size=min(points, len(feasible)), replace=False)}
        for index in sorted(chosen):
            started = time.perf_counter()
            simulated = percentiles_of(host, result, index)
            if "ttft_ms" not in simulated:
                continue
            row = result.row(index)
            record: dict[str, Any] = {
                "scenario": scenario,
                "mode": row["mode"],
                "concurrency": row["concurrency"],
                "simulation_s": time.perf_counter() - started,
            }
            for name, level, column in METRICS:
                record[column] = {"model": row[column], "simulated": simulated[name][level]}
            records.append(record)
    return records


def summary(
    records: list[dict[str, Any]], mode: str | None = None, scenario: str | None = None
) -> list[dict[str, Any]]:
    """Per percentile: points, median |error|, the 5th / 50th / 95th percentiles and the extremes of model /
    simulation (of one mode or scenario, or of all)."""
    rows = []
    for _, _, column in METRICS:
        pairs = [
            (record[column]["model"], record[column]["simulated"])
            for record in records
            if mode in (None, record["mode"]) and scenario in (None, record["scenario"])
        ]
        ratios = np.array([m / s for m, s in pairs if np.isfinite(m) and np.isfinite(s) and s > 0])
        if not len(ratios):
            continue
        low, middle, high = np.percentile(ratios, [5, 50, 95])
        rows.append(
            {
                "percentile": column,
                "points": len(ratios),
                "median_abs_error": float(np.median(np.abs(ratios - 1))),
                "ratio_p5": float(low),
                "ratio_p50": float(middle),
                "ratio_p95": float(high),
                "ratio_min": float(ratios.min()),
                "ratio_max": float(ratios.max()),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=12, help="points sampled per scenario and seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--json", action="store_true", help="print every record and the summary as JSON")
    args = parser.parse_args()
    records = run(args.points, args.seeds)
    if args.json:
        print(json.dumps({"records": records, "summary": summary(records)}, indent=1, default=float))
        return
    print(f"{len(records)} points; ratio = model / simulation")
    for mode in (None, "agg", "disagg"):
        print(f"\n{mode or 'all'}")
        print(
            f"{'percentile':<14}{'points':>7}{'median |err|':>14}{'ratio min':>10}"
            f"{'5%':>6}{'50%':>6}{'95%':>6}{'max':>6}"
        )
        for row in summary(records, mode):
            print(
                f"{row['percentile']:<14}{row['points']:>7}{row['median_abs_error']:>13.0%}{row['ratio_min']:>10.2f}"
                f"{row['ratio_p5']:>6.2f}{row['ratio_p50']:>6.2f}{row['ratio_p95']:>6.2f}{row['ratio_max']:>6.2f}"
            )
    print("\nTTFT P99 by scenario: points, median |err|, ratio min / median / max")
    for scenario in SCENARIOS:
        for row in summary(records, scenario=scenario):
            if row["percentile"] == "ttft_p99_ms":
                print(
                    f"  {scenario:<38}{row['points']:>4}{row['median_abs_error']:>6.0%}  "
                    f"{row['ratio_min']:.2f} / {row['ratio_p50']:.2f} / {row['ratio_max']:.2f}"
                )


if __name__ == "__main__":
    main()
