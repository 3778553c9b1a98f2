"""How long the simulation takes to replay a 10,000-request trace (issue target: under 30 s on this machine).

The trace is synthetic, drawn with a fixed seed and written in Mooncake's JSON Lines format: Poisson arrivals at 6
requests/s, lognormal prompt (median 1,000, σ 1.0, at most 8,000) and reply lengths (median 200, σ 0.8), the long
tails of chat traces. It is replayed as a user runs it, `servecast estimate --trace FILE --percentiles` (a whole
process: start-up, reading the trace, the means and the simulation), for Qwen3-8B on one H100 with each framework,
and the time of each run is reported with what the simulation found.

    uv run python benchmarks/trace_replay.py [--requests 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_S = 30.0
FRAMEWORKS = ("vllm", "sglang", "trtllm")


def write_trace(path: Path, requests: int, seed: int = 0) -> None:
    """A Mooncake-format trace of `requests` requests (see the module docstring)."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1000.0 / 6.0, requests)
    arrivals = np.cumsum(gaps) - gaps[0]
    inputs = np.clip(rng.lognormal(np.log(1000), 1.0, requests), 8, 8_000).astype(int)
    outputs = np.clip(rng.lognormal(np.log(200), 0.8, requests), 2, 4_000).astype(int)
    lines = (
        json.dumps({"timestamp": int(t), "input_length": int(i), "output_length": int(o)})
        for t, i, o in zip(arrivals, inputs, outputs, strict=True)
    )
    path.write_text("\n".join(lines) + "\n")


def replay(path: Path, framework: str) -> tuple[float, dict[str, object]]:
    """Seconds one `estimate --trace --percentiles` process takes, and its JSON."""
    command = [str(Path(sys.executable).with_name("servecast")), "estimate", "--model", "Qwen/Qwen3-8B"]
    command += ["--system", "h100_sxm"]
    command += ["--framework", framework, "--trace", str(path), "--percentiles", "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trace.jsonl"
        write_trace(path, args.requests)
        print(f"{args.requests:,}-request trace; target {TARGET_S:g} s a replay")
        print(
            f"{'framework':<10}{'median s':>10}{'fastest s':>11}{'simulated':>11}{'TTFT P99 ms':>13}{'TPOT P99 ms':>13}"
        )
        for framework in FRAMEWORKS:
            runs = [replay(path, framework) for _ in range(args.runs)]
            times = [seconds for seconds, _ in runs]
            percentiles = runs[0][1]["percentiles"]
            assert isinstance(percentiles, dict)
            print(
                f"{framework:<10}{statistics.median(times):>10.2f}{min(times):>11.2f}"
                f"{percentiles['simulated_requests']:>11,}{percentiles['ttft_ms']['p99']:>13,.0f}"
                f"{percentiles['tpot_ms']['p99']:>13.1f}" + ("" if max(times) < TARGET_S else "  target missed")
            )


if __name__ == "__main__":
    main()
