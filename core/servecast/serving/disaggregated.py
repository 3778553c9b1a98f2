"""Disaggregated serving: a prefill pool and a decode pool, each with its own layout, and the KV cache between.

A request queues at a prefill worker, is prefilled in a batch of up to `prefill_batch` prompts, has its KV cache
sent to a decode worker (over NVLink when both pools share a node, the scale-out network otherwise, plus the
framework's per-request transfer cost) and decodes there in a continuous batch. TTFT = prefill queueing + prefill
+ transfer; TPOT comes from the decode pool's iterations. The throughput is the lesser of the two pools'. Prompts
arriving at random wait at a batching server (`batch_queue`: exact for Poisson arrivals); closed-loop users the
workload keeps in step come back paced and, served one at a time, do not queue.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from servecast.arrays import FloatArray, IntArray
from servecast.domain.hardware import HardwareSpec
from servecast.errors import InputError
from servecast.serving.batch_queue import BatchQueues
from servecast.serving.load import Load, LoadKind, LoadLevels
from servecast.serving.metrics import LIMITERS, Limiter, ServingMetrics, ServingPoints, queued_users
from servecast.serving.server import Server
from servecast.serving.tails import (
    Components,
    LatencyTails,
    UniformMixture,
    around,
    exponential,
    length_ratios,
    waiting_for_a_slot,
)

_BISECTIONS = 40
PACED_BATCH_LIMIT = 2
"""Largest prefill batch under which paced users settle into single prompts within their first request. Users
start together, so a worker's first steps prefill groups of up to the prefill batch, which come back together; a
worker that is idle when a group returns starts on its first prompt at once and batches the rest, so each cycle
peels one prompt off a group. Groups of two are single after the first wave (which the simulation drops as
warm-up); larger ones take more cycles and merge when they meet, so their queueing is taken as random arrivals'.
Against simulated streams of 40 requests per user at 4-8 prompts per batch (40 points), that wait is 11 % lower to
2.3 times higher than the simulation's mean TTFT (mean |error| 20 %), and no queueing at all 49 % lower to 6 %
higher (15 %): most prompts do not wait, but those that do wait long."""


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


def kv_transfer_ms(
    prefill: Pool, decode: Pool, hardware: HardwareSpec, decode_hardware: HardwareSpec | None = None
) -> float:
    """Time to move one request's KV cache from a prefill worker to a decode worker, fixed cost included: within a
    scale-up domain where both pools fit in one, else over the network; pools on two systems (`decode_hardware`)
    never share a domain and go over the slower of their NICs."""
    node = hardware.node
    if decode_hardware is not None and decode_hardware.name != hardware.name:
        other = decode_hardware.node
        link = min(node.inter_node_bw_bytes_per_s, other.inter_node_bw_bytes_per_s)
        latency = max(node.inter_node_latency_s, other.inter_node_latency_s)
    else:
        one_domain = prefill.gpus + decode.gpus <= node.domain_gpus
        link = node.intra_node_bw_bytes_per_s if one_domain else node.inter_node_bw_bytes_per_s
        latency = node.intra_node_latency_s if one_domain else node.inter_node_latency_s
    lanes = min(prefill.server.gpus, decode.server.gpus)  # each GPU sends its shard over its own link
    seconds = prefill.server.kv_bytes_per_request / (link * lanes) + latency
    return seconds * 1000.0 + decode.server.settings.kv_transfer_ms


@dataclass(frozen=True)
class Compositions:
    """xPyD deployments evaluated together, one element each: which prefill and decode step curves they use (rows
    of the curve matrices, indexed by whole prompts per step and whole sequences per decode worker), how many
    workers of each, and their batches."""

    prefill_curves: FloatArray
    prefill_index: IntArray
    prefill_workers: FloatArray
    prefill_batch: FloatArray
    decode_curves: FloatArray
    decode_index: IntArray
    decode_workers: FloatArray
    decode_limit: FloatArray
    """Most sequences per decode worker: its batch, capped by what its KV cache holds."""
    transfer_ms: FloatArray
    num_gpus: IntArray
    request_ms: float
    """Front-end time of each request before the prefill pool sees it (one framework for every deployment)."""
    tokenize_ms: float = 0.0
    """The front-end thread's time tokenizing one prompt (a burst's prompts are tokenized in turn)."""
    paced: bool = False
    """Closed-loop users in step (waves): they share the decode iterations, so they come back to the prefill pool
    in the order and spacing it served them, not at random."""
    first_wave_share: float = 0.0
    """Share of the counted requests that closed-loop users sent at once, into idle pools (a burst start)."""
    requests_per_user: float = 1.0
    length_ratios: tuple[tuple[float, float, float], ...] = ((1.0, 1.0, 1.0),)
    """Per-request lengths over their means as uniform pieces (`serving.tails.length_ratios`)."""


def prefill_curve(server: Server, largest_batch: int) -> FloatArray:
    """Prefill step times for 0..`largest_batch` prompts per step (0 prompts priced as 1)."""
    prompt = server.workload.input_tokens - server.cached_prefix
    prompts = np.arange(1, largest_batch + 1, dtype=np.float64)
    times = server.steps.iteration_ms(0, 0, prompts * prompt, prompts, server.cached_prefix)
    return np.concatenate([times[:1], times])


def decode_curve(server: Server, largest_batch: int) -> FloatArray:
    """Decode iteration times for 0..`largest_batch` sequences at the mean KV length (0 priced as 1)."""
    workload = server.workload
    sequences = np.arange(1, largest_batch + 1, dtype=np.float64)
    times = server.steps.iteration_ms(sequences, workload.input_tokens + workload.output_tokens / 2)
    return np.concatenate([times[:1], times])


class _Curves:
    """Each element's step curve (a row of `curves`), read by linear interpolation at any position."""

    def __init__(self, curves: FloatArray, index: IntArray) -> None:
        self.flat = curves.ravel()
        self.last = curves.shape[1] - 1
        self.base = index * curves.shape[1]

    def __call__(self, position: FloatArray) -> FloatArray:
        x = np.clip(position, 0, self.last)
        low = np.minimum(x.astype(np.int64), self.last - 1)
        fraction = x - low
        at = self.base + low
        result: FloatArray = self.flat.take(at) * (1 - fraction) + self.flat.take(at + 1) * fraction
        return result


def _bisect(function: Callable[[FloatArray], FloatArray], high: FloatArray, target: FloatArray) -> FloatArray:
    """The largest x in [0, high] with function(x) <= target, for increasing functions (elementwise): `high` itself
    where function(high) <= target, else to within high / 2**_BISECTIONS."""
    everywhere = function(high) <= target
    if everywhere.all():
        return high.copy()
    low = np.zeros_like(high)
    upper = high.copy()
    for _ in range(_BISECTIONS):
        middle = 0.5 * (low + upper)
        below = function(middle) <= target
        low = np.where(below, middle, low)
        upper = np.where(below, upper, middle)
    return np.where(everywhere, high, low)


def _decode_rate(workers: FloatArray, sequences: FloatArray, decodes: int, tpot_ms: FloatArray) -> FloatArray:
    """Requests per ms `workers` decode workers complete with `sequences` each, at `tpot_ms` per token (Little's
    law)."""
    result: FloatArray = workers * sequences / (decodes * tpot_ms)
    return result


class _Flows:
    """The deployments' rates and latencies as functions of the sequences n on each decode worker.

    The decode iteration time f(n) sets the request rate y n / (decodes f(n)) (Little's law), and the rate sets
    the prefill workers' queues and so the TTFT.
    """

    def __init__(self, deployments: Compositions, output_tokens: int) -> None:
        self.d = deployments
        self.decodes = output_tokens - 1
        if self.decodes < 1:
            raise InputError(
                "disaggregated serving needs at least 2 output tokens: with one, nothing is decoded",
                "use --osl 2 or more, or aggregated mode",
            )
        d = deployments
        self._decode = _Curves(d.decode_curves, d.decode_index)
        self._prefill = _Curves(d.prefill_curves, d.prefill_index)
        largest = int(d.prefill_batch.max(initial=1))
        self.whole_prefill_ms = [self.prefill_ms(np.full_like(d.prefill_batch, k)) for k in range(1, largest + 1)]
        """Step times of 1, 2, ... whole prompts, the corners of each element's piecewise-linear step curve."""
        self.single_prefill_ms = self.whole_prefill_ms[0]
        self.full_batch_ms = self.prefill_ms(d.prefill_batch)
        # each distinct prefill worker (step curve, batch) once, keyed by one integer per element
        keys, queue = np.unique(d.prefill_index * (largest + 1) + d.prefill_batch.astype(np.int64), return_inverse=True)
        curve, batch = np.divmod(keys, largest + 1)
        self._wait_and_step = BatchQueues(d.prefill_curves[curve, : largest + 1], batch).at(queue)
        """Random arrivals' wait and step at each element's prefill worker."""
        self.prefill_capacity = d.prefill_workers * d.prefill_batch / self.full_batch_ms
        self.decode_capacity = self.decode_rate(d.decode_limit)
        self.capacity = np.minimum(self.prefill_capacity, self.decode_capacity)
        self.top = d.decode_limit.copy()
        """Most sequences per decode worker the prefill pool can feed."""
        starved = np.flatnonzero(self.decode_capacity > self.prefill_capacity)
        if len(starved):  # bisected on those deployments alone
            curves, workers = _Curves(d.decode_curves, d.decode_index[starved]), d.decode_workers[starved]

            def rate(n: FloatArray) -> FloatArray:
                return _decode_rate(workers, n, self.decodes, curves(np.maximum(n, 1.0)))

            self.top[starved] = _bisect(rate, d.decode_limit[starved], self.prefill_capacity[starved])

    def tpot_ms(self, n: FloatArray) -> FloatArray:
        return self._decode(np.maximum(n, 1.0))

    def decode_rate(self, n: FloatArray) -> FloatArray:
        """Requests per ms the decode pool completes with `n` sequences per worker."""
        return _decode_rate(self.d.decode_workers, n, self.decodes, self.tpot_ms(n))

    def prefill_ms(self, prompts: FloatArray) -> FloatArray:
        return self._prefill(prompts)

    def ttft(self, rate: FloatArray) -> tuple[FloatArray, FloatArray]:
        """TTFT and the prefill workers' utilisation (of what they serve at full batches) at `rate` requests per
        ms."""
        d = self.d
        per_worker = rate / d.prefill_workers
        busy = np.minimum(per_worker * self.full_batch_ms / d.prefill_batch, 0.999)
        wait, step = self._wait_and_step(per_worker)
        prefill = wait + step
        if d.paced:  # served one at a time they come back as spaced as they left; batched, they find a step half done
            kept_up = self.prefill_ms(self.batch_kept_up(per_worker))
            paced = np.where(per_worker * self.single_prefill_ms <= 1.0, 0.0, kept_up / 2) + kept_up
            prefill = np.where(d.prefill_batch <= PACED_BATCH_LIMIT, paced, prefill)
        return d.request_ms + prefill + d.transfer_ms, busy

    def with_first_wave(
        self, users: FloatArray, steady_ttft: FloatArray, tpot: FloatArray, rate: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """TTFT and the rate a benchmark client reports over every request when its users all start at once, and
        the first wave's mean TTFT: its prompts queue at the prefill workers in full batches, and spread users
        drain at the end (the aggregated model's `_with_first_wave`)."""
        d = self.d
        steps = np.ceil(users / (d.prefill_workers * d.prefill_batch) - 1e-9)
        wave_ttft = d.request_ms + (users - 1) / 2 * d.tokenize_ms + self.full_batch_ms * (steps + 1) / 2
        wave_ttft = wave_ttft + d.transfer_ms
        share = d.first_wave_share
        cycle = users / rate
        drain = 0.0 if d.paced else cycle / 4
        per_user = (d.requests_per_user - 1) * cycle + wave_ttft + self.decodes * tpot + drain
        return (1 - share) * steady_ttft + share * wave_ttft, users * d.requests_per_user / per_user, wave_ttft

    def batch_kept_up(self, per_worker: FloatArray) -> FloatArray:
        """Prompts per step of a worker receiving `per_worker` prompts per ms: one while a step ends before the next
        prompt comes, else the batch b whose step lasts as long as b prompts take to arrive (the prefill batch if
        none does). Exact on the piecewise-linear step curve, one segment between whole batches at a time."""
        batch = np.ones_like(per_worker)
        for low, (start, end) in enumerate(itertools.pairwise(self.whole_prefill_ms), start=1):
            slope = end - start
            spare = 1 - per_worker * slope  # per prompt added, the time it brings minus the time it takes
            root = np.divide(
                per_worker * (start - slope * low), spare, out=np.full_like(spare, low + 1.0), where=spare > 0
            )
            behind = (per_worker * start > low) & (low < self.d.prefill_batch)
            batch = np.where(behind, np.clip(root, low, low + 1), batch)
        return batch

    def users(self, n: FloatArray) -> FloatArray:
        """Closed-loop users that keep `n` sequences on each decode worker."""
        rate = self.decode_rate(n)
        result: FloatArray = rate * (self.ttft(rate)[0] + self.decodes * self.tpot_ms(n))
        return result


def solve_at_decode_batches(
    deployments: Compositions, output_tokens: int, decoders: FloatArray
) -> tuple[FloatArray, ServingPoints]:
    """The closed-loop users (whole, at least one) that keep `decoders` sequences on each decode worker (capped by
    what prefill feeds), and each deployment at them: how the search loads them, with one set of flows for both."""
    flows = _Flows(deployments, output_tokens)
    users = np.maximum(1.0, np.ceil(flows.users(np.minimum(decoders, flows.top)) - 1e-9))
    return users, _solve(flows, LoadLevels(LoadKind.CONCURRENCY, users))


def solve_compositions(deployments: Compositions, output_tokens: int, levels: LoadLevels) -> ServingPoints:
    """Mean TTFT, TPOT and throughput of each deployment at its load level (closed-loop users or a rate): the
    sequences per decode worker are bisected until the users' cycles, or the request rate, match the load."""
    return _solve(_Flows(deployments, output_tokens), levels)


def _solve(flows: _Flows, levels: LoadLevels) -> ServingPoints:
    deployments, output_tokens = flows.d, flows.decodes + 1
    values = levels.values.astype(np.float64)
    if levels.kind is LoadKind.CONCURRENCY:
        decoders = _bisect(flows.users, flows.top, values)
        rate = flows.decode_rate(decoders)
    elif levels.kind is LoadKind.REQUEST_RATE:
        rate = np.minimum(values / 1000.0, flows.capacity)
        decoders = _bisect(flows.decode_rate, flows.top, rate)
    else:
        raise full_batch_error()
    first, busy = flows.ttft(rate)
    per_token = flows.tpot_ms(decoders)
    overloaded = np.zeros(len(values), dtype=bool)
    share = deployments.first_wave_share if levels.kind is LoadKind.CONCURRENCY else 0.0
    if levels.kind is not LoadKind.CONCURRENCY:
        overloaded = values / 1000.0 > flows.capacity * (1 + 1e-3)
        first = np.where(overloaded, np.inf, first)
    ttft_parts = _prefill_waits(flows, first, busy, rate, 1 - share)
    if levels.kind is LoadKind.CONCURRENCY:
        service = first + flows.decodes * per_token
        queued = np.maximum(0.0, values / rate - service)
        ttft_parts = waiting_for_a_slot(ttft_parts, queued, service)
        first = first + queued
        if share:
            first, rate, wave = flows.with_first_wave(values, first, per_token, rate)
            batch = np.minimum(values, deployments.prefill_batch)
            wave_fastest = deployments.request_ms + flows.prefill_ms(batch) + deployments.transfer_ms
            ttft_parts.append((np.full(len(values), share), *around(wave, wave_fastest)))
    ttft_tails = UniformMixture.of(*ttft_parts)
    tpot_tails = UniformMixture.of(*((weight, per_token, per_token) for weight, _, _ in ttft_parts))
    tails = LatencyTails(ttft_tails, tpot_tails, flows.decodes, (False,) * len(ttft_parts), deployments.length_ratios)
    limit = deployments.decode_limit
    limiter = np.full(len(values), LIMITERS.index(Limiter.LOAD))
    limiter = np.where(decoders >= limit * (1 - 1e-3), LIMITERS.index(Limiter.DECODE), limiter)
    prefill_bound = (busy >= 0.9) | (flows.prefill_capacity <= rate * (1 + 1e-3))
    limiter = np.where(prefill_bound, LIMITERS.index(Limiter.PREFILL), limiter)
    return ServingPoints(
        ttft_ms=first,
        tpot_ms=per_token,
        requests_per_s=rate * 1000.0,
        running=decoders,
        limiter=limiter,
        overloaded=overloaded,
        output_tokens=output_tokens,
        num_gpus=deployments.num_gpus,
        tails=tails,
    )


def _prefill_waits(flows: _Flows, ttft: FloatArray, busy: FloatArray, rate: FloatArray, weight: float) -> Components:
    """The steady TTFT's distribution, carrying `weight`: the fastest prompt finds its prefill worker idle (one
    prompt's step); the wait beyond it is random (exponential) where the workers keep up, and about the same for
    every user's turn where they are saturated."""
    d = flows.d
    fastest = d.request_ms + flows.prefill_ms(np.ones(len(ttft))) + d.transfer_ms
    saturated = (busy >= 0.9) | (flows.prefill_capacity <= rate * (1 + 1e-3))
    excess = np.maximum(ttft - fastest, 0.0)
    waits = [(w, fastest + a, fastest + b) for w, a, b in exponential(np.where(saturated, 0.0, weight), excess)]
    return [*waits, (np.where(saturated, weight, 0.0), *around(ttft, fastest))]


def disaggregated_steady_state(
    prefill: Pool, decode: Pool, hardware: HardwareSpec, load: Load, decode_hardware: HardwareSpec | None = None
) -> ServingMetrics:
    """Mean TTFT, TPOT and throughput of an xPyD deployment under `load` (closed-loop users or a request rate)."""
    workload = prefill.server.workload
    decode_limit = min(decode.batch, decode.server.running_limit)
    if decode_limit < 1:
        raise InputError(
            f"a decode worker cannot hold one request of {workload.input_tokens}+{workload.output_tokens} tokens",
            "give decode workers more GPUs or a smaller KV-cache dtype",
        )
    one = np.zeros(1, dtype=np.int64)
    closed_loop = load.concurrency is not None
    deployments = Compositions(
        prefill_curves=prefill_curve(prefill.server, prefill.batch)[np.newaxis],
        prefill_index=one,
        prefill_workers=np.array([float(prefill.workers)]),
        prefill_batch=np.array([float(prefill.batch)]),
        decode_curves=decode_curve(decode.server, decode_limit)[np.newaxis],
        decode_index=one,
        decode_workers=np.array([float(decode.workers)]),
        decode_limit=np.array([float(decode_limit)]),
        transfer_ms=np.array([kv_transfer_ms(prefill, decode, hardware, decode_hardware)]),
        num_gpus=np.array([prefill.gpus + decode.gpus]),
        request_ms=prefill.server.settings.front_end_ms(False, workload.input_tokens),
        tokenize_ms=prefill.server.settings.tokenize_ms(workload.input_tokens),
        paced=closed_loop and workload.users_in_step,
        first_wave_share=workload.first_wave_share,
        requests_per_user=workload.requests_per_user,
        length_ratios=length_ratios(workload, jittered=closed_loop and not workload.users_in_step),
    )
    points = solve_compositions(deployments, workload.output_tokens, LoadLevels.of(load))
    overload = ""
    if load.request_rate_per_s is not None:
        capacity = float(points.requests_per_s[0])
        bound = LIMITERS[int(points.limiter[0])].value
        overload = (
            f"the offered {load.request_rate_per_s:g} requests/s exceed the deployment's capacity of "
            f"{capacity:.3g} requests/s ({bound} pool bound): TTFT is unbounded"
        )
    unpriced = (
        ", which these means do not price (against the simulation 12-33 % too much throughput); --decode-batch-size "
        f"{decode.server.preemption_free_limit} avoids it, and --percentiles simulates it request by request"
    )
    preempting = decode.server.outgrowing(float(points.running[0]), "sequences per decode worker", unpriced)
    queued = queued_users(load.concurrency, float(points.running[0])) if load.concurrency is not None else ""
    return points.metrics(0, overload, queued, preempting)


def full_batch_error() -> InputError:
    """Disaggregated pools have no full-batch load: what to give instead."""
    return InputError("disaggregated pools take concurrency or a request rate", "give --concurrency or --request-rate")
