"""Speed of the serving estimate: one configuration, and 1,000 configurations through the batch form.

    uv run python benchmarks/serving_speed.py

Targets (issue 5): < 50 ms per configuration; 1,000 rows of `servecast estimate --input` in < 10 s (wall clock
of the whole command, interpreter start included).
"""

from __future__ import annotations

import csv
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from servecast.host import PluginHost
from servecast.serving.estimate import estimate
from servecast.serving.request import EstimateRequest

MODELS = [("meta-llama/Llama-3.1-8B", (1, 2)), ("meta-llama/Llama-3.1-70B", (4, 8)), ("Qwen/Qwen3-30B-A3B", (1, 2))]
FRAMEWORKS = ["vllm", "sglang", "trtllm"]
LENGTHS = [(1000, 200), (4000, 500), (128, 1024)]


def configurations() -> list[dict[str, object]]:
    rows = []
    for (model, tps), framework, (isl, osl) in itertools.product(MODELS, FRAMEWORKS, LENGTHS):
        for tp in tps:
            rows.append(
                {"model": model, "system": "h100_sxm", "framework": framework, "isl": isl, "osl": osl, "tp": tp}
            )
    return rows


def single(host: PluginHost) -> list[float]:
    """Milliseconds per configuration, each estimated from scratch (servers built, nothing cached)."""
    times = []
    for values in configurations():
        request = EstimateRequest.parse({**values, "concurrency": 32})
        start = time.perf_counter()
        estimate(host, request)
        times.append((time.perf_counter() - start) * 1000)
    return times


def batch(rows: int = 1000) -> tuple[float, int]:
    """Seconds for `servecast estimate --input` over `rows` configurations (loads varied), and failed rows."""
    loads = [{"concurrency": c} for c in (1, 4, 16, 64, 256)] + [{"request_rate": r} for r in (0.5, 2, 8)]
    combinations = list(itertools.product(configurations(), loads))
    table = [
        {**config, **load, "id": str(n)}
        for n, (config, load) in enumerate(combinations * (rows // len(combinations) + 1))
    ]
    table = table[:rows]
    columns = ["id", "model", "system", "framework", "isl", "osl", "tp", "concurrency", "request_rate"]
    with tempfile.TemporaryDirectory() as folder:
        source, results = Path(folder) / "configs.csv", Path(folder) / "results.csv"
        with source.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(table)
        start = time.perf_counter()
        done = subprocess.run(
            ["servecast", "estimate", "--input", str(source), "--output", str(results)],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - start
        failed = sum(1 for row in csv.DictReader(results.open()) if row["error"])
    if done.returncode not in (0, 2):
        sys.exit(f"servecast estimate failed: {done.stderr}")
    return elapsed, failed


def main() -> int:
    host = PluginHost.from_entry_points()
    times = single(host)
    print(
        f"one configuration (server built, steady state solved), {len(times)} configurations: "
        f"first {times[0]:.1f} ms (lazy imports), median {statistics.median(times[1:]):.1f} ms, "
        f"max {max(times[1:]):.1f} ms  (target < 50 ms)"
    )
    elapsed, failed = batch()
    print(f"batch form, 1000 rows, whole command: {elapsed:.2f} s, {failed} rows rejected  (target < 10 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
