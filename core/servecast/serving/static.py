"""Static batching: one batch prefilled together, then decoded step by step while its KV cache grows."""

from __future__ import annotations

import numpy as np

from servecast.errors import InputError
from servecast.serving.metrics import Limiter, ServingMetrics
from servecast.serving.server import Server


def static_batch(server: Server, batch: int) -> ServingMetrics:
    """Every request of a `batch` starts together: TTFT is the batch's prefill, TPOT the mean decode step."""
    workload = server.workload
    longest = workload.input_tokens + workload.output_tokens
    fits = server.sequences_that_fit(longest)
    if batch > fits:
        raise InputError(
            f"a static batch of {batch} requests of {longest} tokens needs more KV cache than the "
            f"{server.kv_tokens:,} tokens this instance holds ({fits} such requests fit)",
            f"use --batch-size {fits} or fewer, or more GPUs per instance",
        )
    past = server.cached_prefix
    steps = server.steps
    prefill = float(steps.iteration_ms(0, 0, batch * (workload.input_tokens - past), batch, past)[0])
    kv = workload.input_tokens + np.arange(1, workload.output_tokens)
    decode = steps.iteration_ms(batch, kv) if len(kv) else np.zeros(0)
    e2e = prefill + float(decode.sum())
    tpot = float(decode.mean()) if len(decode) else 0.0
    warnings: tuple[str, ...] = ()
    if batch > server.settings.max_batch_size:
        warnings = (f"batch {batch} exceeds the framework's max batch size {server.settings.max_batch_size}",)
    return ServingMetrics(
        ttft_ms=prefill,
        tpot_ms=tpot,
        e2e_ms=e2e,
        requests_per_s=batch / e2e * 1000.0,
        output_tokens=workload.output_tokens,
        num_gpus=server.gpus,
        running=float(batch),
        limiter=Limiter.LOAD,
        warnings=warnings,
    )
