"""Aggregated continuous batching in steady state: a fast mean-value model of iteration-level scheduling.

Each iteration runs every decoding sequence one token and admits prompt tokens by the framework's rule: next to
the decodes within the token budget (decode-first in-flight batching: vLLM V1, TensorRT-LLM, and mixed chunks),
or in prompt-only iterations that pause the decodes (prefill-first: SGLang, vLLM V0). Given a request rate, the
model derives how many sequences decode per iteration, how often an iteration carries a prompt chunk and how
long each kind of iteration takes; the rate then follows from the load (Little's law for closed-loop users, the
arrival rate for open-loop traffic) and the two are iterated to a fixed point. The discrete-event simulation in
`simulation.py` checks this model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from servecast.errors import InputError
from servecast.serving.load import Load
from servecast.serving.metrics import Limiter, ServingMetrics
from servecast.serving.server import Server

_ITERATIONS = 200
_TOLERANCE = 1e-4


@dataclass(frozen=True)
class IterationMix:
    """What iterations look like at one request rate."""

    tpot_ms: float
    ttft_service_ms: float
    """Arrival to first token without admission queueing: the wait for an iteration, then the prompt's chunks."""
    prefill_saturated: bool
    """Prompts arrive faster than the iterations can absorb them."""
    decode_only_ms: float
    mean_iteration_ms: float


def prompt_tokens(server: Server) -> int:
    """Tokens each prompt computes (the cached prefix skipped); an InputError when one can never be scheduled."""
    settings = server.settings
    tokens = server.workload.input_tokens - server.cached_prefix
    if not settings.chunked_prefill and tokens > settings.max_num_tokens:
        raise InputError(
            f"prompts of {tokens} tokens exceed the token budget max_num_tokens={settings.max_num_tokens} and "
            "chunked prefill is off, so the framework never schedules them",
            "raise max_num_tokens or enable chunked prefill",
        )
    return tokens


def iteration_mix(
    server: Server, rate_per_ms: float, decoders: float, users: int | None, previous: IterationMix | None = None
) -> IterationMix:
    """Iteration times when requests complete at `rate_per_ms` with `decoders` sequences decoding on average.

    A prompt first waits for the iteration in progress: a random arrival (`users` None) for its residual
    time, a closed-loop user's next request for the whole iteration the other users' work started as its last
    one finished (none when it is the only user). How many prompt
    tokens an iteration carries depends on how long iterations last; `previous` (the last
    evaluation of the fixed point) supplies that length, so each evaluation costs one vectorised step-time call.
    """
    settings, steps = server.settings, server.steps
    prompt = prompt_tokens(server)
    past = server.cached_prefix
    kv = server.workload.input_tokens + server.workload.output_tokens / 2
    demand = rate_per_ms * prompt  # prompt tokens per ms
    if settings.mixed_prefill_decode:
        room = max(settings.prefill_tokens_per_step(math.ceil(decoders)), 1)
        chunk = min(prompt, room)
        carried = demand * (previous.mean_iteration_ms if previous else 0.0)
        share = min(carried / chunk, 1.0)
        tokens = chunk if carried <= chunk else min(carried, room)
        seen = min(room, chunk + carried)  # the iteration a given prompt rides in also carries others' arrivals
        chunk_past = past + (prompt - chunk) / 2
        decode_only, with_prompt, with_mine = steps.iteration_ms(
            decoders, kv, [0, tokens, seen], [0, tokens / prompt, seen / prompt], chunk_past
        )
        mean = share * with_prompt + (1 - share) * decode_only
        square = share * with_prompt**2 + (1 - share) * decode_only**2
        wait = _arrival_wait(mean, square, users)
        chunks = math.ceil(prompt / chunk)
        return IterationMix(mean, wait + chunks * with_mine, carried > room, decode_only, mean)
    budget = settings.prefill_tokens_per_step(0)
    chunk = min(prompt, budget)
    arrivals = rate_per_ms * (previous.decode_only_ms if previous else 0.0)  # prompts per decode iteration
    batched = arrivals / -math.expm1(-arrivals) if arrivals > 1e-9 else 1.0  # prompts per prefill iteration
    tokens, seen = (
        (min(budget, batched * prompt), min(budget, (1 + arrivals) * prompt))
        if prompt <= budget
        else (
            budget,
            budget,
        )
    )
    decode_only, prefill, prefill_mine = steps.iteration_ms(
        [decoders, 0, 0], [kv, 0, 0], [0, tokens, seen], [0, tokens / chunk, seen / chunk], past + (prompt - chunk) / 2
    )
    prefill_share = demand / tokens * prefill  # of the wall time
    decode_rate = max(1.0 - prefill_share, 1e-3) / decode_only
    chunks = math.ceil(prompt / chunk)
    mean = 1.0 / (decode_rate + demand / tokens)
    share = demand / tokens * mean  # of the iterations
    square = share * prefill**2 + (1 - share) * decode_only**2
    wait = _arrival_wait(mean, square, users)
    return IterationMix(1.0 / decode_rate, wait + chunks * prefill_mine, prefill_share >= 1.0, decode_only, mean)


def _arrival_wait(mean_ms: float, mean_square_ms2: float, users: int | None) -> float:
    """Wait for the iteration in progress: the residual life E[T^2] / 2E[T] for random arrivals, else a whole
    iteration but for the user's own share of the closed loop."""
    if users is None:
        return mean_square_ms2 / (2 * mean_ms) if mean_ms > 0 else 0.0
    return (1.0 - 1.0 / users) * mean_ms


def steady_state(server: Server, load: Load) -> ServingMetrics:
    """Mean TTFT, TPOT, end-to-end latency and throughput of one aggregated instance under `load`."""
    workload = server.workload
    decodes = workload.output_tokens - 1
    limit = server.running_limit
    cap = min(limit, load.full_batch) if load.full_batch else limit
    if cap < 1:
        raise InputError(
            f"no request of {workload.input_tokens}+{workload.output_tokens} tokens can be admitted under the "
            "framework's KV reservation rule",
            "use more GPUs per instance or shorter requests",
        )
    users = load.concurrency if load.concurrency is not None else cap
    running = float(min(users, cap))
    arrivals = None if load.request_rate_per_s is not None else users
    mix = iteration_mix(server, 0.0, running, arrivals)
    rate = running / (mix.ttft_service_ms + decodes * mix.tpot_ms)
    decoders = rate * decodes * mix.tpot_ms
    for _ in range(_ITERATIONS):
        mix = iteration_mix(server, rate, decoders, arrivals, mix)
        service = mix.ttft_service_ms + decodes * mix.tpot_ms
        if load.request_rate_per_s is not None:
            target = min(load.request_rate_per_s / 1000.0, cap / service)
        else:
            target = min(users, cap) / service
        new_decoders = target * decodes * mix.tpot_ms
        converged = abs(target - rate) <= _TOLERANCE * max(rate, 1e-12)
        rate, decoders = 0.5 * (rate + target), 0.5 * (decoders + new_decoders)
        if converged:
            break
    mix = iteration_mix(server, rate, decoders, arrivals, mix)
    service = mix.ttft_service_ms + decodes * mix.tpot_ms
    in_flight = min(rate * service, float(cap))
    warnings: list[str] = []
    queueing = 0.0
    if load.concurrency is not None:
        queueing = max(0.0, load.concurrency / rate - service)
    elif load.request_rate_per_s is not None and load.request_rate_per_s / 1000.0 > rate * (1 + 1e-3):
        queueing = math.inf
        warnings.append(
            f"the offered {load.request_rate_per_s:g} requests/s exceed this instance's capacity of "
            f"{rate * 1000:.3g} requests/s: the queue grows without bound (TTFT is unbounded)"
        )
    if mix.prefill_saturated:
        limiter = Limiter.PREFILL
    elif in_flight >= cap * (1 - 1e-3) and not (load.full_batch and cap == load.full_batch):
        limiter = Limiter.BATCH_LIMIT if cap == server.settings.max_batch_size else Limiter.KV_CAPACITY
    else:
        limiter = Limiter.LOAD
    ttft = mix.ttft_service_ms + queueing
    return ServingMetrics(
        ttft_ms=ttft,
        tpot_ms=mix.tpot_ms,
        e2e_ms=ttft + decodes * mix.tpot_ms,
        requests_per_s=rate * 1000.0,
        output_tokens=workload.output_tokens,
        num_gpus=server.gpus,
        running=in_flight,
        limiter=limiter,
        warnings=tuple(warnings),
    )
