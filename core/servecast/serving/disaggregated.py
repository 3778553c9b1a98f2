"""Disaggregated serving: a prefill pool and a decode pool, each with its own layout, and the KV cache between.

A request queues at a prefill worker, is prefilled in a batch of up to `prefill_batch` prompts, has its KV cache
sent to a decode worker (over NVLink when both pools share a node, the scale-out network otherwise, plus the
framework's per-request transfer cost) and decodes there in a continuous batch. TTFT = prefill queueing + prefill
+ transfer; TPOT comes from the decode pool's iterations. The throughput is the lesser of the two pools'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from servecast.domain.hardware import HardwareSpec
from servecast.domain.layout import ParallelLayout
from servecast.errors import InputError
from servecast.models.memory import stage_memory
from servecast.serving.load import Load
from servecast.serving.metrics import Limiter, ServingMetrics
from servecast.serving.server import Server

_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Pool:
    """Identical workers of one role."""

    server: Server
    workers: int
    batch: int
    """Prompts per prefill step, or most sequences per decode worker."""

    @property
    def gpus(self) -> int:
        return self.server.gpus * self.workers


def kv_transfer_ms(prefill: Pool, decode: Pool, hardware: HardwareSpec) -> float:
    """Time to move one request's KV cache from a prefill worker to a decode worker, fixed cost included."""
    tokens = prefill.server.workload.input_tokens
    request_bytes = sum(
        stage.kv_bytes_per_token * tokens + stage.window_kv_bytes_per_token * min(tokens, stage.window or tokens)
        for stage in stage_memory(prefill.server.model, ParallelLayout())  # the whole model's KV, unsplit
    )
    node = hardware.node
    one_node = prefill.gpus + decode.gpus <= node.gpus_per_node
    link = node.intra_node_bw_bytes_per_s if one_node else node.inter_node_bw_bytes_per_s
    latency = node.intra_node_latency_s if one_node else node.inter_node_latency_s
    lanes = min(prefill.server.gpus, decode.server.gpus)  # each GPU sends its shard over its own link
    seconds = request_bytes / (link * lanes) + latency
    return seconds * 1000.0 + decode.server.settings.kv_transfer_ms


def disaggregated_steady_state(prefill: Pool, decode: Pool, hardware: HardwareSpec, load: Load) -> ServingMetrics:
    """Mean TTFT, TPOT and throughput of an xPyD deployment under `load` (closed-loop users or a request rate)."""
    workload = prefill.server.workload
    prompt = workload.input_tokens - prefill.server.cached_prefix
    past = prefill.server.cached_prefix
    decodes = workload.output_tokens - 1
    kv = workload.input_tokens + workload.output_tokens / 2
    decode_limit = min(decode.batch, decode.server.running_limit)
    if decode_limit < 1:
        raise InputError(
            f"a decode worker cannot hold one request of {workload.input_tokens}+{workload.output_tokens} tokens",
            "give decode workers more GPUs or a smaller KV-cache dtype",
        )
    transfer = kv_transfer_ms(prefill, decode, hardware)
    prefill_steps, decode_steps = prefill.server.steps, decode.server.steps

    def prefill_ms(prompts: float) -> float:
        return float(prefill_steps.iteration_ms(0, 0, prompts * prompt, prompts, past)[0])

    def tpot_ms(decoders: float) -> float:
        return float(decode_steps.iteration_ms(decoders, kv)[0]) if decodes else 0.0

    full_prefill = prefill_ms(prefill.batch)
    prefill_capacity = prefill.workers * prefill.batch / full_prefill  # requests per ms
    full_tpot = tpot_ms(decode_limit)
    decode_capacity = decode.workers * decode_limit / (decodes * full_tpot) if decodes else math.inf
    capacity = min(prefill_capacity, decode_capacity)

    def tpot_at(rate: float) -> float:
        tpot = full_tpot
        for _ in range(50):  # decoders per worker (Little's law) and the iteration time they make
            updated = tpot_ms(min(decode_limit, rate * decodes * tpot / decode.workers))
            if abs(updated - tpot) <= _TOLERANCE * tpot:
                return updated
            tpot = updated
        return tpot

    def ttft_at(rate: float) -> tuple[float, float]:
        """TTFT and the prefill workers' utilisation at `rate` requests per ms."""
        per_worker = rate / prefill.workers
        batch = min(float(prefill.batch), max(1.0, per_worker * prefill_ms(1.0)))  # prompts waiting per step
        step = prefill_ms(batch)
        busy = min(per_worker * step / batch, 0.999)
        return busy / (2 * (1 - busy)) * step + step + transfer, busy  # M/D/1 wait, prefill, transfer

    if load.request_rate_per_s is not None:
        rate = min(load.request_rate_per_s / 1000.0, capacity)
    else:
        users = load.concurrency or 1
        low, high = 0.0, capacity
        for _ in range(60):  # users / (TTFT + decode time) falls as the rate rises: bisect for the crossing
            rate = 0.5 * (low + high)
            ttft, _ = ttft_at(rate)
            if users / (ttft + decodes * tpot_at(rate)) > rate:
                low = rate
            else:
                high = rate
        rate = low
    ttft, busy = ttft_at(rate)
    tpot = tpot_at(rate)
    warnings: list[str] = []
    decoders = rate * decodes * tpot / decode.workers
    limiter = Limiter.LOAD
    if busy >= 0.9 or prefill_capacity <= rate * (1 + 1e-3):
        limiter = Limiter.PREFILL
    elif decoders >= decode_limit * (1 - 1e-3):
        limiter = Limiter.DECODE
    if load.request_rate_per_s is not None and load.request_rate_per_s / 1000.0 > capacity * (1 + 1e-3):
        ttft = math.inf
        warnings.append(
            f"the offered {load.request_rate_per_s:g} requests/s exceed the deployment's capacity of "
            f"{capacity * 1000:.3g} requests/s ({limiter.value} pool bound): TTFT is unbounded"
        )
    if load.concurrency is not None:
        ttft += max(0.0, load.concurrency / rate - (ttft + decodes * tpot))
    return ServingMetrics(
        ttft_ms=ttft,
        tpot_ms=tpot,
        e2e_ms=ttft + decodes * tpot,
        requests_per_s=rate * 1000.0,
        output_tokens=workload.output_tokens,
        num_gpus=prefill.gpus + decode.gpus,
        running=decoders,
        limiter=limiter,
        warnings=tuple(warnings),
    )
