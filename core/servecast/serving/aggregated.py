"""Aggregated continuous batching in steady state: a fast mean-value model of iteration-level scheduling.

Each iteration runs every decoding sequence one token and admits prompt tokens by the framework's scheduling
regime (`serving.iterations`). Given a request rate, the regime gives how many sequences decode per iteration, how
often an iteration carries a prompt chunk and how long each kind of iteration takes; the rate then follows from the
load (Little's law for closed-loop users, the arrival rate for open-loop traffic) and the two are iterated to a
fixed point. Closed-loop users the workload keeps in step do not arrive independently but in waves
(`serving.waves`), which have a closed form. Where the client starts every user at once and counts every request,
the first wave's requests are blended into the means by their share of the run. The discrete-event simulation
(`serving.simulation`) checks both.
"""

from __future__ import annotations

import numpy as np

from servecast.arrays import FloatArray
from servecast.errors import InputError
from servecast.serving.aggregated_tails import EngineTails, occupancy_spread, steady_tails
from servecast.serving.iterations import IterationMix, ServerGroup, iteration_mix, select
from servecast.serving.load import Load, LoadKind, LoadLevels
from servecast.serving.metrics import LIMITERS, Limiter, ServingMetrics, ServingPoints, queued_users
from servecast.serving.queueing import erlang_c, slot_wait_ms
from servecast.serving.server import Server
from servecast.serving.tails import LatencyTails, UniformMixture, length_ratios
from servecast.serving.waves import first_wave, wave_mix

_ITERATIONS = 200
_TOLERANCE = 1e-4
_FIRST_STEP = 0.5
"""The first relaxation step: half way to the target."""
_ACCELERATED = 12
"""Iterations whose relaxation steps follow the secant (see `_next_step`)."""
_STUCK_STEP = 2.0**-12
"""A relaxation step this small means the level sits on a jump of the step times (no exact fixed point)."""
_FLIPS = 4
"""Iterations in a row a level's rate may stay put while its iteration length flips back and forth across a jump
before it counts as settled there."""


def _next_step(step: FloatArray, gap: FloatArray, previous_gap: FloatArray, accelerate: bool) -> FloatArray:
    """Each level's next relaxation step, from how its last one changed the gap (target minus rate).

    A step s that took the gap from g0 to g1 = rho g0 implies the gap falls by (1 - rho) / s per unit moved, so
    s / (1 - rho) would have closed it (the secant step). While `accelerate`, steps follow it, up to the whole gap:
    they grow where the gap shrinks slowly and shrink where it changes sign. Step times jump at CUDA-graph sizes
    and whole sequences per rank, so a level can straddle a jump and cycle, which secant steps can sustain;
    afterwards a step only halves, on each change of sign, which settles such a level at the jump.
    """
    if not accelerate:
        return np.where(gap * previous_gap < 0, 0.5 * step, step)
    rho = np.divide(gap, previous_gap, out=np.zeros_like(gap), where=previous_gap != 0)
    secant = np.divide(step, 1.0 - rho, out=4.0 * step, where=rho < 0.75)
    return np.minimum(secant, 1.0)


def _with_first_wave(
    group: ServerGroup,
    users: FloatArray,
    running: FloatArray,
    front_ms: float,
    steady: IterationMix,
    queueing: FloatArray,
    rate: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, EngineTails]:
    """Engine-side TTFT, TPOT and the request rate a benchmark client reports, over all the requests it counts,
    and the distributions of the two latencies.

    With a burst start every user's first request reaches an idle engine at once (users beyond the running limit
    wait for the first cohort to finish); they are `first_wave_share` of the counted requests. The client reports
    throughput over the whole run, which ends with a drain: spread users finish their last requests over the last
    cycle while the emptying engine speeds up the rest; in the simulation the run outlasts the steady state's by
    about a quarter of a cycle.
    """
    workload = group.server.workload
    decodes = workload.output_tokens - 1
    cycle = users / rate  # the steady state's time between one user's requests
    steady_ttft = steady.ttft_service_ms + queueing
    tails = steady_tails(group, steady, queueing, closed=True)
    share = workload.first_wave_share
    if share == 0.0:
        return steady_ttft, steady.tpot_ms, rate, tails
    wave = first_wave(group, running)
    waiting = np.maximum(users - running, 0) / users
    cohort_cycle = wave.ttft_ms + decodes * wave.tpot_ms + front_ms  # what users beyond the slots wait
    ttft = wave.ttft_ms + waiting * cohort_cycle
    first_cycle = front_ms + ttft + decodes * wave.tpot_ms
    drain = 0.0 if workload.users_in_step else cycle / 4
    per_user = (workload.requests_per_user - 1) * cycle + first_cycle + drain
    return (
        (1 - share) * steady_ttft + share * ttft,
        (1 - share) * steady.tpot_ms + share * wave.tpot_ms,
        users * workload.requests_per_user / per_user,
        tails.with_first_wave(share, waiting, wave, cohort_cycle),
    )


def _fixed_point(
    group: ServerGroup,
    offered: FloatArray | None,
    users: FloatArray,
    cap: FloatArray,
    front: float,
    recomputed: FloatArray,
) -> tuple[IterationMix, FloatArray]:
    """The iteration mix and request rate (per ms) that imply each other: `offered` requests/s of random arrivals
    (None: `users` closed-loop users), at most `cap` requests in the engine, `recomputed` prompt tokens per request
    prefilled again after preemptions."""
    decodes = group.server.workload.output_tokens - 1
    levels = len(users)
    running = np.minimum(users, cap)
    arrivals = None if offered is not None else users
    mix = iteration_mix(group, np.zeros(levels), running, arrivals, recomputed)
    rate = running / (mix.ttft_service_ms + decodes * mix.tpot_ms + front)
    decoders = rate * decodes * mix.tpot_ms
    active = np.ones(levels, dtype=bool)
    step = np.full(levels, _FIRST_STEP)
    previous_gap = np.zeros(levels)
    previous_change = np.zeros(levels)
    flipped_for = np.zeros(levels, dtype=np.int64)
    for iteration in range(_ITERATIONS):
        before = mix.mean_iteration_ms
        index = np.flatnonzero(active)  # only the levels still moving are evaluated again
        share = None if arrivals is None else arrivals[index]
        moving = iteration_mix(
            group.take(index), rate[index], decoders[index], share, recomputed[index], mix.take(index)
        )
        last, mix = mix, mix.put(index, moving)
        service = mix.ttft_service_ms + decodes * mix.tpot_ms
        if offered is not None:
            target = np.minimum(offered / 1000.0, cap / service)
        else:  # each user's cycle also waits for the front-end; the engine holds at most `cap` of them
            target = np.minimum(users / (service + front), cap / service)
        target = np.minimum(target, mix.prefill_capacity_per_ms)  # beyond it, prompts queue for the budget
        new_decoders = target * decodes * mix.tpot_ms
        gap = target - rate
        turned = gap * previous_gap < 0
        step = _next_step(step, gap, previous_gap, iteration < _ACCELERATED)
        previous_gap = gap
        # The iteration length feeds the next evaluation too (prompt tokens carried per iteration): a level has
        # converged once that inner fixed point has settled as well as the rate, or once it is stuck on a jump:
        # its step has shrunk to nothing, or its rate stays put while the iteration length flips between sides.
        change = mix.mean_iteration_ms - before
        settled = np.abs(change) <= _TOLERANCE * mix.mean_iteration_ms
        pinned = step * np.abs(gap) <= 0.5 * _TOLERANCE * np.maximum(rate, 1e-12)
        flipped_for = np.where(pinned & (change * previous_change < 0), flipped_for + 1, 0)
        previous_change = change
        stuck = pinned & ~settled & ((step <= _STUCK_STEP) | (flipped_for >= _FLIPS))
        # a level left on a jump reports the side whose target the rate does not exceed (the engine sustains it)
        sustained = active & stuck & turned & (gap < 0)
        if sustained.any():
            mix = select(mix, last, sustained)
        rate = np.where(active, rate + step * gap, rate)
        decoders = np.where(active, decoders + step * (new_decoders - decoders), decoders)
        active &= ~(pinned & settled | stuck)
        if not active.any():
            break
    return mix, rate


def steady_states(server: Server, levels: LoadLevels) -> ServingPoints:
    """Mean TTFT, TPOT and throughput of one aggregated instance at each load level, vectorised.

    Each level iterates the fixed point (or solves its waves) on its own: a level stops changing once it has
    converged, so every element equals what a single-level evaluation gives.
    """
    return group_steady_states(ServerGroup.of([server], [len(levels.values)]), levels)


def group_steady_states(group: ServerGroup, levels: LoadLevels) -> ServingPoints:
    """`steady_states` of a group of servers solved together: element i is the load level `levels.values[i]` on
    the server `group` assigns to it (the same as solving that server alone)."""
    server = group.server
    workload = server.workload
    decodes = workload.output_tokens - 1
    limit = group.running_limit
    values = levels.values.astype(np.float64)
    full_batch = levels.kind is LoadKind.FULL_BATCH
    cap = np.minimum(limit, values) if full_batch else limit
    if limit.min() < 1:
        raise InputError(
            f"no request of {workload.input_tokens}+{workload.output_tokens} tokens can be admitted under the "
            "framework's KV reservation rule",
            "use more GPUs per instance or shorter requests",
        )
    closed = levels.kind is LoadKind.CONCURRENCY
    offered_rate = levels.kind is LoadKind.REQUEST_RATE
    front = server.settings.front_end_ms(offline=full_batch, prompt_tokens=workload.input_tokens)
    users = values if closed else cap
    running = np.minimum(users, cap)
    kv_binds = limit < group.batch_limit
    if closed and workload.users_in_step:
        # preemptions beyond a full KV cache are not modelled for waves (the simulation has them)
        mix = wave_mix(group, running, np.maximum(users - cap, 0), front)
        service = mix.ttft_service_ms + decodes * mix.tpot_ms
        rate = np.minimum(users / (service + front), cap / service)
    else:
        # requests waiting for a KV cache that binds are admitted by what they hold on admission, and some are
        # preempted again: where the load keeps requests waiting, their recomputed prompts load the iterations too
        waiting = (values > limit) & kv_binds & (not offered_rate)
        recomputed = np.where(waiting, group.recomputed_prompt_tokens, 0.0)
        mix, rate = _fixed_point(group, values if offered_rate else None, users, cap, front, recomputed)
        beyond = offered_rate & (values / 1000.0 > rate * (1 + 1e-3)) & kv_binds
        if beyond.any():  # the queue grows without bound: the engine runs as a full batch that keeps requests waiting
            recomputed = np.where(beyond, group.recomputed_prompt_tokens, 0.0)
            full, full_rate = _fixed_point(group, None, users, cap, front, recomputed)
            mix, rate = select(mix, full, beyond), np.where(beyond, full_rate, rate)
    service = mix.ttft_service_ms + decodes * mix.tpot_ms
    in_flight = np.minimum(rate * service, cap)
    queueing = held = np.zeros(len(values))
    overloaded = np.zeros(len(values), dtype=bool)
    ttft, tpot, reported_rate = mix.ttft_service_ms, mix.tpot_ms, rate
    if closed:
        queueing = np.maximum(0.0, values / rate - service - front)
        ttft, tpot, reported_rate, engine = _with_first_wave(group, users, running, front, mix, queueing, rate)
    elif offered_rate:  # random arrivals wait for a slot when all `cap` are taken (M/G/c), or for the front-end
        busy = values / 1000.0 * server.front_end_work_ms
        overloaded = (values / 1000.0 > rate * (1 + 1e-3)) | (busy >= 1)
        queueing = np.where(overloaded, np.inf, slot_wait_ms(cap, rate, service, workload.length_cv2()))
        engine = steady_tails(group, mix, queueing, closed=False).with_slot_wait(
            erlang_c(cap, rate * service), queueing
        )
        engine = engine.with_tpot_spread(occupancy_spread(group, in_flight, cap))
    else:  # a full batch
        engine = steady_tails(group, mix, queueing, closed=False)
    # tokens processed while the next (decode) iteration runs reach the client one iteration late
    late = mix.decode_only_ms if server.settings.delayed_output else np.zeros(len(values))
    ttft = ttft + late
    # the front-end passes every running stream's tokens on one at a time: no client sees them faster
    paced = np.maximum(server.settings.stream_ms(in_flight, offline=full_batch), tpot)
    if closed:
        cycle = users / reported_rate + late + decodes * (paced - tpot)
        # one front-end process works through every user's request once a cycle: where that takes longer, the
        # users wait for it before their prompts reach the engine
        held = np.maximum(users * server.front_end_work_ms - cycle, 0.0)
        ttft, reported_rate = ttft + held, users / (cycle + held)
    limiter = np.full(len(values), LIMITERS.index(Limiter.LOAD))
    bound = np.where(kv_binds, LIMITERS.index(Limiter.KV_CAPACITY), LIMITERS.index(Limiter.BATCH_LIMIT))
    at_cap = (in_flight >= cap * (1 - 1e-3)) & ~(full_batch & (cap == values))
    limiter = np.where(at_cap, bound, limiter)
    # users in step that fill the cache at their full length: more would preempt
    in_step = closed & (values >= group.concurrency_limit) & (group.concurrency_limit < limit)
    limiter = np.where(in_step, LIMITERS.index(Limiter.KV_CAPACITY), limiter)
    at_budget = (mix.prefill_saturated > 0) | (rate >= mix.prefill_capacity_per_ms * (1 - 1e-3))
    limiter = np.where(at_budget, LIMITERS.index(Limiter.PREFILL), limiter)
    offsets = front + late + held
    ttft_tails = UniformMixture.of(*engine.ttft).shifted(offsets)
    tpot_tails = UniformMixture.of(*engine.tpot).at_least(np.where(paced > tpot, paced, 0.0))
    lengths = length_ratios(workload, jittered=closed and not workload.users_in_step)
    tails = LatencyTails(ttft_tails, tpot_tails, decodes, tuple(engine.coupled), lengths)
    return ServingPoints(
        ttft_ms=front + ttft + (0.0 if closed else queueing),
        tpot_ms=paced,
        requests_per_s=reported_rate * 1000.0,
        running=in_flight,
        limiter=limiter,
        overloaded=overloaded,
        output_tokens=workload.output_tokens,
        num_gpus=group.gpus.astype(np.int64),
        tails=tails,
    )


def steady_state(server: Server, load: Load) -> ServingMetrics:
    """Mean TTFT, TPOT, end-to-end latency and throughput of one aggregated instance under `load`."""
    points = steady_states(server, LoadLevels.of(load))
    overload = ""
    if load.request_rate_per_s is not None:
        overload = (
            f"the offered {load.request_rate_per_s:g} requests/s exceed this instance's capacity of "
            f"{float(points.requests_per_s[0]):.3g} requests/s: the queue grows without bound (TTFT is unbounded)"
        )
    queued = queued_users(load.concurrency, float(points.running[0])) if load.concurrency is not None else ""
    in_flight = load.concurrency or load.full_batch or float(points.running[0])
    return points.metrics(0, overload, queued, server.outgrowing(in_flight, "requests in flight", _ROUGH_MEANS))


_ROUGH_MEANS = (
    ". The steady-state means count preemption as an average recomputation where lengths vary, not as the bursts "
    "of users in step: against the simulation such means were up to about 30 % off in throughput, 40 % in TPOT "
    "and further in TTFT; --percentiles simulates it request by request"
)
"""What the aggregated means miss where the requests in flight outgrow the KV cache."""
