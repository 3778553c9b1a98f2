"""Wall-clock time of `servecast search`, interpreter start included, for the speed issue's three cases.

Run: `uv run python benchmarks/search_speed.py [--runs N]` (targets on a 2-core machine: Qwen3-32B on 16 GPUs
<= 1.5 s, Qwen3-30B-A3B on 16 GPUs <= 5 s, DeepSeek-V3 on 32 GPUs <= 10 s). Each case runs once to warm the disk
cache, then N times (default 5); the median and the fastest are reported with the configurations evaluated, and
the start-up alone (`servecast --version`) the same way. Whole processes, as a user runs them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = (
    ("Qwen/Qwen3-32B", 16, 1.5),
    ("Qwen/Qwen3-30B-A3B", 16, 5.0),
    ("deepseek-ai/DeepSeek-V3", 32, 10.0),
)
COMMON = ["--system", "h100_sxm", "--isl", "4000", "--osl", "500", "--ttft", "1000", "--tpot", "20", "--json"]
SERVECAST = str(Path(sys.executable).with_name("servecast"))


def timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    elapsed = time.perf_counter() - started
    if completed.returncode not in (0, 4):
        raise SystemExit(completed.stderr)
    return elapsed, completed.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(f"{'case':<40} {'evaluated':>10} {'median s':>9} {'best s':>7} {'target s':>9}  met")
    timed([SERVECAST, "--version"])
    startup = [timed([SERVECAST, "--version"])[0] for _ in range(runs)]
    print(f"{'start-up (servecast --version)':<40} {'':>10} {statistics.median(startup):>9.2f} {min(startup):>7.2f}")
    for model, gpus, target in CASES:
        command = [SERVECAST, "search", "--model", model, "--gpus", str(gpus), *COMMON]
        timed(command)
        results = [timed(command) for _ in range(runs)]
        times = [elapsed for elapsed, _ in results]
        evaluated = int(json.loads(results[0][1])["evaluated"])
        median = statistics.median(times)
        name = f"{model} on {gpus} GPUs"
        print(f"{name:<40} {evaluated:>10,} {median:>9.2f} {min(times):>7.2f} {target:>9.1f}  {median <= target}")


if __name__ == "__main__":
    main()
