"""A discrete-event simulation of iteration-level scheduling over a finite request stream.

Requests arrive (Poisson arrivals, closed-loop users, or all at once), wait, are admitted under the batch limit
and the KV cache (reserving what the framework reserves, preempting the newest request by recompute when
on-demand allocation runs out), have their prompts prefilled in chunks by the framework's rule and then decode one
token per iteration. Each iteration's time comes from the server's step-time model. The per-request TTFT, TPOT
and end-to-end latencies give the percentiles a mean-value model cannot.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from servecast.arrays import FloatArray, IntArray
from servecast.domain.workload import LengthDistribution, Workload
from servecast.serving.load import Load
from servecast.serving.server import Server


def draw_lengths(workload: Workload, rng: np.random.Generator, count: int) -> tuple[IntArray, IntArray]:
    """Per-request input and output lengths around the workload's means, by its length distribution."""
    return _draw(workload, workload.input_tokens, rng, count), _draw(workload, workload.output_tokens, rng, count)


def _draw(workload: Workload, mean: int, rng: np.random.Generator, count: int) -> IntArray:
    low, high = workload.length_bounds(mean)
    spread = workload.length_spread
    if workload.length_distribution is LengthDistribution.UNIFORM:
        return rng.integers(low, high + 1, size=count)
    if workload.length_distribution is LengthDistribution.LOGNORMAL:
        drawn = rng.lognormal(math.log(mean) - spread**2 / 2, spread, size=count)
        return np.clip(np.rint(drawn), low, high).astype(np.int64)
    return np.full(count, mean, dtype=np.int64)


@dataclass
class _Request:
    index: int
    arrival_ms: float
    input_tokens: int
    output_tokens: int
    user: int = -1
    prompt: int = 0
    """Tokens still to prefill before the next output token."""
    past: int = 0
    """Tokens already in the KV cache."""
    generated: int = 0
    admitted_order: int = 0
    first_token_ms: float = math.nan
    finish_ms: float = math.nan


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


class _StepTimes:
    """Memoised iteration times, keyed on the iteration's shape with KV lengths rounded to ~1.5 %."""

    def __init__(self, server: Server) -> None:
        self._steps = server.steps
        self._cache: dict[tuple[int, int, int, int, int], float] = {}

    @staticmethod
    def _round(value: float) -> int:
        quantum = max(16, int(value) // 64)
        return int(round(value / quantum) * quantum)

    def __call__(self, decodes: int, decode_kv: float, prompt_tokens: int, prompts: int, past: float) -> float:
        key = (decodes, self._round(decode_kv), prompt_tokens, prompts, self._round(past))
        if key not in self._cache:
            self._cache[key] = float(self._steps.iteration_ms(decodes, key[1], prompt_tokens, prompts, key[4])[0])
        return self._cache[key]


class _Scheduler:
    """Iteration-level scheduling of one instance, by the framework's resolved settings."""

    def __init__(self, server: Server, batch_limit: int) -> None:
        self.server = server
        self.settings = server.settings
        self.capacity = server.kv_tokens
        self.batch_limit = batch_limit
        self.reservation = server.settings.kv_output_reservation
        self.waiting: deque[_Request] = deque()
        self.running: list[_Request] = []
        self.used = 0.0
        self.admissions = 0
        self.preemptions = 0
        self.pass_left = 0
        """Decode iterations left in the multi-step pass under way (none: the next iteration is scheduled)."""

    def holding(self, request: _Request) -> float:
        """KV tokens a request holds or has reserved: its context, the rest of its prompt, the reserved outputs."""
        return request.past + request.prompt + self.reservation * (request.output_tokens - request.generated)

    def _admit(self, request: _Request) -> bool:
        need = self.holding(request)
        if len(self.running) >= self.batch_limit or self.used + need > self.capacity:
            return False
        self.waiting.popleft()
        self.admissions += 1
        request.admitted_order = self.admissions
        self.running.append(request)
        self.used += need
        return True

    def form(self) -> tuple[list[_Request], list[tuple[_Request, int]]]:
        """The decodes and prompt chunks of the next iteration: inside a multi-step pass the pass's decodes
        alone; otherwise what the framework's rule schedules, a decode-only batch starting a new pass."""
        settings = self.settings
        decoding = [r for r in self.running if r.prompt == 0]
        if self.pass_left > 0 and decoding:
            self.pass_left -= 1
            return decoding, []
        decodes, chunks = self._schedule(decoding)
        self.pass_left = settings.scheduler_steps - 1 if decodes and not chunks else 0
        return decodes, chunks

    @property
    def in_pass(self) -> bool:
        """Whether the iteration just run leaves its multi-step pass unfinished (outputs are held until it ends)."""
        return self.pass_left > 0 and any(r.prompt == 0 for r in self.running)

    def _schedule(self, decoding: list[_Request]) -> tuple[list[_Request], list[tuple[_Request, int]]]:
        settings = self.settings
        prefilling = [r for r in self.running if r.prompt > 0]
        mixed = settings.mixed_prefill_decode
        budget = int(settings.prefill_tokens_per_step(np.array(len(decoding))))
        chunks: list[tuple[_Request, int]] = []
        for request in prefilling:
            if budget <= 0:
                break
            take = min(request.prompt, budget)
            chunks.append((request, take))
            budget -= take
        while self.waiting and budget > 0:
            request = self.waiting[0]
            if not settings.chunked_prefill and request.prompt > budget:
                break
            if not self._admit(request):
                break
            take = min(request.prompt, budget)
            chunks.append((request, take))
            budget -= take
        if chunks and not mixed:
            return [], chunks
        return decoding, chunks

    def grow(self, new_tokens: int) -> None:
        """Account for the tokens just generated (beyond what was reserved for them)."""
        self.used += (1 - self.reservation) * new_tokens

    def preempt_overflow(self) -> None:
        """Preempt the newest requests while the cache overflows (finished requests must be released first)."""
        while self.used > self.capacity and len(self.running) > 1:
            victim = max(self.running, key=lambda r: r.admitted_order)
            self.release(victim)
            self.preemptions += 1
            victim.prompt, victim.past = victim.past + victim.prompt, 0  # recomputed from scratch
            self.waiting.appendleft(victim)

    def release(self, request: _Request) -> None:
        self.running.remove(request)
        self.used -= self.holding(request)


def simulate(
    server: Server,
    load: Load,
    num_requests: int | None = None,
    seed: int = 0,
) -> SimulationResult:
    """Run `num_requests` requests (default: enough for a steady state) through one instance under `load`, their
    lengths drawn by the server's workload."""
    workload = server.workload
    server.check_prompts_fit_the_budget()
    rng = np.random.default_rng(seed)
    if num_requests is None:
        users = load.concurrency or load.full_batch or 64
        num_requests = max(200, 8 * users)
    inputs, outputs = draw_lengths(workload, rng, num_requests)
    inputs = np.clip(inputs, workload.prefix_tokens + 1, server.max_model_len - 1)
    outputs = np.minimum(outputs, server.max_model_len - inputs)
    cached = server.cached_prefix
    batch_limit = min(server.batch_limit, load.full_batch or server.batch_limit)
    scheduler = _Scheduler(server, batch_limit)
    step_ms = _StepTimes(server)
    requests: list[_Request] = []
    front = server.settings.front_end_ms(offline=load.full_batch is not None)

    def issue(arrival: float, user: int = -1) -> None:
        """A request the client sends at `arrival`; the engine sees it after the front-end's time."""
        index = len(requests)
        request = _Request(index, arrival, int(inputs[index]), int(outputs[index]), user)
        request.prompt, request.past = request.input_tokens - cached, cached
        requests.append(request)
        heapq.heappush(pending, (arrival + front, index))

    pending: list[tuple[float, int]] = []  # (arrival, index), a heap
    if load.request_rate_per_s is not None:
        gaps = rng.exponential(1.0, size=num_requests)
        gaps *= 1000.0 / load.request_rate_per_s / gaps[1:].mean()  # the sample's rate is the offered rate
        for arrival in np.cumsum(gaps) - gaps[0]:
            issue(float(arrival))
    elif load.concurrency is not None:  # every user sends its first request at once, as benchmark tools start
        for user in range(min(load.concurrency, num_requests)):
            issue(0.0, user)
    else:
        for _ in range(num_requests):
            issue(0.0)
    clock, iterations = 0.0, 0
    finished = 0
    held: list[_Request] = []  # finished inside a multi-step pass, reported when it ends
    while finished < len(requests):
        while pending and pending[0][0] <= clock:
            scheduler.waiting.append(requests[heapq.heappop(pending)[1]])
        decodes, chunks = scheduler.form()
        if not decodes and not chunks:
            if not pending:
                raise RuntimeError("simulation stalled: a request can never be admitted")
            clock = max(clock, pending[0][0])
            continue
        kv = sum(r.past for r in decodes) / len(decodes) if decodes else 0.0
        chunk_tokens = sum(take for _, take in chunks)
        past = sum(r.past for r, _ in chunks) / len(chunks) if chunks else 0.0
        clock += step_ms(len(decodes), kv, chunk_tokens, len(chunks), past)
        iterations += 1
        done: list[_Request] = []
        new_tokens = len(decodes)
        for request in decodes:
            request.generated += 1
            request.past += 1
            if request.generated >= request.output_tokens:
                done.append(request)
        for request, take in chunks:
            request.prompt -= take
            request.past += take
            if request.prompt == 0:  # the prompt's last chunk samples the next token
                if math.isnan(request.first_token_ms):
                    request.first_token_ms = clock
                request.generated += 1
                request.past += 1
                new_tokens += 1
                if request.generated >= request.output_tokens:
                    done.append(request)
        scheduler.grow(new_tokens)
        for request in done:
            scheduler.release(request)
        held += done
        if not scheduler.in_pass:  # a multi-step pass streams its tokens when it ends
            for request in held:
                request.finish_ms = clock
                finished += 1
                if load.concurrency is not None and len(requests) < num_requests:
                    # the user's next request reaches the server after the iteration that is already scheduled
                    issue(clock + 1e-6, request.user)
            held = []
        scheduler.preempt_overflow()
    return _result(requests, load, scheduler.preemptions, iterations)


def _result(requests: list[_Request], load: Load, preemptions: int, iterations: int) -> SimulationResult:
    """Latencies of the steady part of the run: closed loops drop the first and last wave of users."""
    skip = load.concurrency or 0
    measured = requests[skip : len(requests) - skip] if len(requests) > 3 * skip else requests
    arrival = np.array([r.arrival_ms for r in measured])
    first = np.array([r.first_token_ms for r in measured])
    finish = np.array([r.finish_ms for r in measured])
    inputs = np.array([r.input_tokens for r in measured], dtype=np.int64)
    outputs = np.array([r.output_tokens for r in measured], dtype=np.int64)
    ttft = first - arrival
    e2e = finish - arrival
    tpot = np.where(outputs > 1, (e2e - ttft) / np.maximum(outputs - 1, 1), np.nan)
    if load.concurrency is not None:  # Little's law over the steady middle: each user always has one request out
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
