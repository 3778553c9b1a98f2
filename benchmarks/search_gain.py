"""What configuration search gains over each framework's default deployment, for the catalog's dense and MoE models:
the winner's tokens/s per GPU over the best the default deployment (one aggregated tensor-parallel server per node,
the version's default flags) serves within the same SLA, both as servecast predicts them.

Run: `uv run python benchmarks/search_gain.py [--gpus N] [--json]`. Every model is searched on H100 SXM with all
installed frameworks, for two workloads (ISL 4000 / OSL 500 and ISL 1000 / OSL 1000) and two SLAs (TTFT 1000 ms with
TPOT 20 ms, and TTFT 2000 ms with TPOT 50 ms). The published reference is the configuration-search paper's summary —
up to 40 % on dense models such as Qwen3-32B and 50 % on MoE models such as DeepSeek-V3 — against which these
predictions are compared in kind only: they are the model's, not measurements, and the paper's baselines and
workloads are not the same.
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from servecast.domain.workload import Sla
from servecast.host import PluginHost
from servecast.search.baseline import gain
from servecast.search.runner import run_search
from servecast.search.task import SearchTask

MODELS = {
    "dense": ("meta-llama/Llama-3.1-8B", "Qwen/Qwen3-32B", "meta-llama/Llama-3.1-70B"),
    "moe": ("Qwen/Qwen3-30B-A3B", "openai/gpt-oss-120b", "Qwen/Qwen3-235B-A22B", "deepseek-ai/DeepSeek-V3"),
}
WORKLOADS = ((4000, 500), (1000, 1000))
SLAS = (Sla(ttft_ms=1000, tpot_ms=20), Sla(ttft_ms=2000, tpot_ms=50))


def run(gpus: int) -> list[dict[str, Any]]:
    host = PluginHost.from_entry_points()
    rows = []
    for family, models in MODELS.items():
        for model in models:
            for isl, osl in WORKLOADS:
                for sla in SLAS:
                    task = SearchTask(model=model, system="h100_sxm", gpus=gpus, isl=isl, osl=osl, sla=sla)
                    result = run_search(host, task, explain=False)
                    row: dict[str, Any] = {"family": family, "model": model, "isl": isl, "osl": osl}
                    row |= {"ttft_ms": sla.ttft_ms, "tpot_ms": sla.tpot_ms, "gain": None}
                    if result.winner is not None:
                        winner = result.row(result.winner)
                        baseline = result.baselines[winner["framework"]]
                        row |= {
                            "winner": f"{winner['framework']} {winner['mode']}",
                            "winner_tokens_per_s_per_gpu": winner["tokens_per_s_per_gpu"],
                            "baseline": baseline.description,
                            "gain": gain(result, baseline),
                            "reason": baseline.reason,
                        }
                    rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpus", type=int, default=16, help="GPUs each search may use (default 16).")
    parser.add_argument("--json", action="store_true", help="Print the rows as JSON.")
    arguments = parser.parse_args()
    rows = run(arguments.gpus)
    if arguments.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        ratio = f"{row['gain']:.2f}x" if row["gain"] else f"- ({row.get('reason') or 'nothing meets the SLA'})"
        print(
            f"{row['model']:<28} ISL {row['isl']:>4} OSL {row['osl']:>4} TTFT {row['ttft_ms']:>4.0f} "
            f"TPOT {row['tpot_ms']:>2.0f}  {row.get('winner', '-'):<15} {ratio}"
        )
    for family in MODELS:
        gains = [row["gain"] for row in rows if row["family"] == family and row["gain"]]
        if gains:
            print(f"{family}: median gain {statistics.median(gains):.2f}x, range {min(gains):.2f}-{max(gains):.2f}x")


if __name__ == "__main__":
    main()
