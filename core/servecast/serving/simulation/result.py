"""What a simulation reports: the latencies of the requests a benchmark client counts, and the run's totals."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from servecast.arrays import FloatArray, IntArray
from servecast.domain.workload import UserStart, Workload
from servecast.serving.load import Load
from servecast.serving.simulation.requests import SimRequest


@dataclass(frozen=True)
class SimulationResult:
    """Per-request latencies of the measured requests (warm-up and drain excluded) and the run's totals."""

    ttft_ms: FloatArray
    tpot_ms: FloatArray
    e2e_ms: FloatArray
    input_tokens: IntArray
    output_tokens: IntArray
    requests_per_s: float
    output_tokens_per_s: float
    iterations: int
    preemptions: int
    completed: int = field(default=0)

    def percentiles(self) -> dict[str, dict[str, float]]:
        """Mean, P50, P90 and P99 of TTFT, TPOT and end-to-end latency (ms)."""
        summary = {}
        for name, values in (("ttft_ms", self.ttft_ms), ("tpot_ms", self.tpot_ms), ("e2e_ms", self.e2e_ms)):
            finite = values[np.isfinite(values)]
            summary[name] = {
                "mean": float(finite.mean()) if len(finite) else math.nan,
                **{f"p{q}": float(np.percentile(finite, q)) if len(finite) else math.nan for q in (50, 90, 99)},
            }
        return summary


def measured_result(
    requests: list[SimRequest], load: Load, workload: Workload, preemptions: int, iterations: int
) -> SimulationResult:
    """Latencies of the requests the client counts: every one, or with a warm start the steady part of the run
    (the first and last wave of closed-loop users dropped)."""
    skip = load.concurrency or 0
    steady = workload.user_start is UserStart.WARM and len(requests) > 3 * skip
    measured = requests[skip : len(requests) - skip] if steady else requests
    arrival = np.array([r.arrival_ms for r in measured])
    first = np.array([r.first_token_ms for r in measured])
    finish = np.array([r.finish_ms for r in measured])
    inputs = np.array([r.input_tokens for r in measured], dtype=np.int64)
    outputs = np.array([r.output_tokens for r in measured], dtype=np.int64)
    ttft = first - arrival
    e2e = finish - arrival
    tpot = np.where(outputs > 1, (e2e - ttft) / np.maximum(outputs - 1, 1), np.nan)
    if load.concurrency is not None and steady:  # Little's law over the steady middle: each user has one out
        rate = load.concurrency / float(e2e.mean()) * 1000.0 if len(measured) else math.nan
    else:  # as benchmark tools report it: every request over the run's duration
        window = float(finish.max() - arrival.min())
        rate = len(measured) / window * 1000.0 if window > 0 else math.nan
    return SimulationResult(
        ttft_ms=ttft,
        tpot_ms=tpot,
        e2e_ms=e2e,
        input_tokens=inputs,
        output_tokens=outputs,
        requests_per_s=rate,
        output_tokens_per_s=rate * float(outputs.mean()) if len(outputs) else math.nan,
        iterations=iterations,
        preemptions=preemptions,
        completed=len(requests),
    )
