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
from itertools import count

import numpy as np

from servecast.arrays import FloatArray, IntArray
from servecast.domain.workload import LengthDistribution, UserStart, Workload
from servecast.errors import InputError
from servecast.serving.disaggregated import Pool, full_batch_error
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
    remote: bool = False
    """Admitted by a disaggregated decode worker, its prompt still being prefilled elsewhere."""
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

    def admit_remote(self) -> list[_Request]:
        """Admit waiting requests not prefilled yet, in order, while the batch limit and the KV cache allow: a
        disaggregated decode worker reserves their room before their prompts are prefilled elsewhere."""
        admitted: list[_Request] = []
        while self.waiting and self.waiting[0].generated == 0 and self._admit(self.waiting[0]):
            admitted.append(self.running[-1])
            admitted[-1].remote = True
        return admitted

    def form(self) -> tuple[list[_Request], list[tuple[_Request, int]]]:
        """The decodes and prompt chunks of the next iteration: inside a multi-step pass the pass's decodes
        alone; otherwise what the framework's rule schedules, a decode-only batch starting a new pass."""
        settings = self.settings
        decoding = [r for r in self.running if r.prompt == 0 and not r.remote]
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
        prefilling = [r for r in self.running if r.prompt > 0 and not r.remote]
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
            victim = max((r for r in self.running if not r.remote), key=lambda r: r.admitted_order, default=None)
            if victim is None:
                return
            self.release(victim)
            self.preemptions += 1
            victim.prompt, victim.past = victim.past + victim.prompt, 0  # recomputed from scratch
            self.waiting.appendleft(victim)

    def release(self, request: _Request) -> None:
        self.running.remove(request)
        self.used -= self.holding(request)


SIMULATED_REQUESTS_LIMIT = 200_000
"""Most requests one simulation runs (tens of seconds at long outputs); a larger run is refused, not left to hang."""


SIMULATED_WORKERS_LIMIT = 4096
"""Most prefill plus decode workers one disaggregated simulation runs side by side."""


def requests_to_simulate(load: Load, workload: Workload, num_requests: int | None) -> int:
    """The requests a simulation of `load` runs: `num_requests`, or by default every closed-loop user's share of
    the benchmark run, else enough for a steady state; an InputError above SIMULATED_REQUESTS_LIMIT."""
    if num_requests is None and load.concurrency is not None:
        num_requests = max(load.concurrency, round(workload.requests_per_user * load.concurrency))
    elif num_requests is None:
        num_requests = max(200, 8 * (load.full_batch or 64))
    if num_requests > SIMULATED_REQUESTS_LIMIT:
        raise InputError(
            f"the simulation would run {num_requests:,} requests, more than its limit of {SIMULATED_REQUESTS_LIMIT:,}",
            "give --num-requests at most that (percentiles settle within a few thousand), or fewer users",
        )
    return num_requests


class _RequestStream:
    """The requests a load sends, their lengths drawn up front; closed-loop users send the next on each finish."""

    def __init__(self, server: Server, load: Load, num_requests: int | None, rng: np.random.Generator) -> None:
        workload = server.workload
        num_requests = requests_to_simulate(load, workload, num_requests)
        inputs, outputs = draw_lengths(workload, rng, num_requests)
        self.inputs = np.clip(inputs, workload.prefix_tokens + 1, server.max_model_len - 1)
        self.outputs = np.minimum(outputs, server.max_model_len - self.inputs)
        self.load = load
        self.total = num_requests
        self.cached = server.cached_prefix
        self.settings = server.settings
        self.offline = load.full_batch is not None
        self.front_free = 0.0
        """When the front-end thread is next free to tokenize a prompt."""
        self.requests: list[_Request] = []
        self.finished = 0
        self.arrivals: list[tuple[float, int]] = []
        """(time the engine sees it, index) of every request sent, a heap."""
        if load.request_rate_per_s is not None:
            gaps = rng.exponential(1.0, size=num_requests)
            gaps *= 1000.0 / load.request_rate_per_s / gaps[1:].mean()  # the sample's rate is the offered rate
            for arrival in np.cumsum(gaps) - gaps[0]:
                self._send(float(arrival))
        elif load.concurrency is not None:  # every user sends its first request at once, as benchmark tools start
            for user in range(min(load.concurrency, num_requests)):
                self._send(0.0, user)
        else:
            for _ in range(num_requests):
                self._send(0.0)

    def _send(self, arrival: float, user: int = -1) -> None:
        """A request the client sends at `arrival`; the engine sees it after the front-end's time."""
        index = len(self.requests)
        request = _Request(index, arrival, int(self.inputs[index]), int(self.outputs[index]), user)
        request.prompt, request.past = request.input_tokens - self.cached, self.cached
        self.requests.append(request)
        seen = arrival
        if not self.offline:  # one front-end thread tokenizes the prompts in turn
            self.front_free = max(arrival, self.front_free) + self.settings.tokenize_ms(request.input_tokens)
            seen = self.front_free + self.settings.request_ms
        heapq.heappush(self.arrivals, (seen, index))

    def arrived(self, clock: float) -> list[_Request]:
        """The requests the engine has seen by `clock` and not yet taken, in arrival order."""
        taken = []
        while self.arrivals and self.arrivals[0][0] <= clock:
            taken.append(self.requests[heapq.heappop(self.arrivals)[1]])
        return taken

    def next_arrival(self) -> float | None:
        return self.arrivals[0][0] if self.arrivals else None

    def finish(self, request: _Request, clock: float) -> None:
        """`request`'s last token reached its client at `clock`; its user sends the next request."""
        request.finish_ms = clock
        self.finished += 1
        if self.load.concurrency is not None and len(self.requests) < self.total:
            # the user's next request reaches the server after the iteration that is already scheduled
            self._send(clock + 1e-6, request.user)

    @property
    def done(self) -> bool:
        return self.finished >= len(self.requests)


class _Instance:
    """One serving instance stepping through iterations: its scheduler, step times and the iteration under way."""

    def __init__(self, server: Server, batch_limit: int) -> None:
        self.scheduler = _Scheduler(server, batch_limit)
        self.step_ms = _StepTimes(server)
        self.iterations = 0
        self.decodes: list[_Request] = []
        self.chunks: list[tuple[_Request, int]] = []
        self.held: list[_Request] = []
        """Finished inside a multi-step pass, reported when it ends."""
        self.delayed = server.settings.delayed_output

    def start(self) -> float | None:
        """Schedule the next iteration and return its time, or None when there is nothing to run."""
        self.decodes, self.chunks = decodes, chunks = self.scheduler.form()
        if not decodes and not chunks:
            return None
        kv = sum(r.past for r in decodes) / len(decodes) if decodes else 0.0
        chunk_tokens = sum(take for _, take in chunks)
        past = sum(r.past for r, _ in chunks) / len(chunks) if chunks else 0.0
        self.iterations += 1
        return self.step_ms(len(decodes), kv, chunk_tokens, len(chunks), past)

    def late_ms(self) -> float:
        """How long after an iteration its tokens reach the clients: a decode iteration of the running requests
        where outputs are processed while the next iteration runs, else nothing."""
        running = self.scheduler.running
        if not self.delayed or not running:
            return 0.0
        return self.step_ms(len(running), sum(r.past for r in running) / len(running), 0, 0, 0.0)

    def finish(self, clock: float, late: float = 0.0) -> list[_Request]:
        """Apply the iteration that ends at `clock`; the requests whose last token reaches the client now (`late`
        ms after it where the outputs are processed while the next iteration runs)."""
        done: list[_Request] = []
        new_tokens = len(self.decodes)
        for request in self.decodes:
            request.generated += 1
            request.past += 1
            if request.generated >= request.output_tokens:
                done.append(request)
        for request, take in self.chunks:
            request.prompt -= take
            request.past += take
            if request.prompt == 0:  # the prompt's last chunk samples the next token
                if math.isnan(request.first_token_ms):
                    request.first_token_ms = clock + late
                request.generated += 1
                request.past += 1
                new_tokens += 1
                if request.generated >= request.output_tokens:
                    done.append(request)
        scheduler = self.scheduler
        scheduler.grow(new_tokens)
        for request in done:
            scheduler.release(request)
        self.held += done
        reported: list[_Request] = []
        if not scheduler.in_pass:  # a multi-step pass streams its tokens when it ends
            reported, self.held = self.held, []
        scheduler.preempt_overflow()
        self.decodes, self.chunks = [], []
        return reported

    @property
    def busy(self) -> bool:
        """Whether an iteration is under way."""
        return bool(self.decodes or self.chunks)

    @property
    def load(self) -> int:
        """Requests on this instance, running or waiting."""
        return len(self.scheduler.running) + len(self.scheduler.waiting)


def simulate(
    server: Server,
    load: Load,
    num_requests: int | None = None,
    seed: int = 0,
) -> SimulationResult:
    """Run `num_requests` requests (default: enough for a steady state) through one instance under `load`, their
    lengths drawn by the server's workload."""
    server.check_prompts_fit_the_budget()
    stream = _RequestStream(server, load, num_requests, np.random.default_rng(seed))
    instance = _Instance(server, min(server.batch_limit, load.full_batch or server.batch_limit))
    clock = 0.0
    while not stream.done:
        instance.scheduler.waiting.extend(stream.arrived(clock))
        duration = instance.start()
        if duration is None:
            arrival = stream.next_arrival()
            if arrival is None:
                raise RuntimeError("simulation stalled: a request can never be admitted")
            clock = max(clock, arrival)
            continue
        clock += duration
        late = instance.late_ms()
        for request in instance.finish(clock, late):
            stream.finish(request, clock + late)
    return _result(stream.requests, load, server.workload, instance.scheduler.preemptions, instance.iterations)


def _result(
    requests: list[_Request], load: Load, workload: Workload, preemptions: int, iterations: int
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


class _PrefillWorker:
    """A disaggregated prefill worker: whole prompts in batches of up to `batch`, first come first served."""

    def __init__(self, server: Server, batch: int) -> None:
        self.step_ms = _StepTimes(server)
        self.cached = server.cached_prefix
        self.batch = batch
        self.queue: deque[_Request] = deque()
        self.running: list[_Request] = []
        self.steps = 0

    def start(self) -> float | None:
        """Take the next batch of prompts and return its step time, or None when none wait."""
        if not self.queue:
            return None
        self.running = [self.queue.popleft() for _ in range(min(self.batch, len(self.queue)))]
        self.steps += 1
        tokens = sum(request.prompt for request in self.running)
        return self.step_ms(0, 0.0, tokens, len(self.running), self.cached)

    @property
    def load(self) -> int:
        return len(self.queue) + len(self.running)


def simulate_disaggregated(
    prefill: Pool,
    decode: Pool,
    transfer_ms: float,
    load: Load,
    num_requests: int | None = None,
    seed: int = 0,
) -> SimulationResult:
    """Run `num_requests` requests through an xPyD deployment under `load`. Each request joins the decode worker
    holding the fewest requests and waits there until it fits under the worker's batch limit and KV cache (the
    decode side reserves the room before the prompt is prefilled, as SGLang's pre-allocation and Dynamo's
    decode-first flow do); it then joins the prefill worker with the fewest prompts, is prefilled in that worker's
    next batch, reaches its decode worker `transfer_ms` later with its first token, and decodes in the worker's
    continuous batch."""
    if load.full_batch is not None:
        raise full_batch_error()
    if prefill.workers + decode.workers > SIMULATED_WORKERS_LIMIT:
        raise InputError(
            f"the simulation would run {prefill.workers + decode.workers:,} workers, more than its limit of "
            f"{SIMULATED_WORKERS_LIMIT:,}",
            "simulate one xPyD group at its share of the load; the means (without --percentiles) take any size",
        )
    stream = _RequestStream(prefill.server, load, num_requests, np.random.default_rng(seed))
    prefills = [_PrefillWorker(prefill.server, prefill.batch) for _ in range(prefill.workers)]
    batch_limit = min(decode.batch, decode.server.batch_limit)
    decodes = [_Instance(decode.server, batch_limit) for _ in range(decode.workers)]
    home: dict[int, int] = {}
    """The decode worker of each request sent."""
    events: list[tuple[float, int, int, int]] = []  # (time, order, kind, prefill worker / request / decode worker)
    order = count()

    def push(time: float, kind: int, subject: int) -> None:
        heapq.heappush(events, (time, next(order), kind, subject))

    def start_prefill(worker: int, clock: float) -> None:
        duration = prefills[worker].start()
        if duration is not None:
            push(clock + duration, _PREFILLED, worker)

    def start_decode(worker: int, clock: float) -> None:
        duration = decodes[worker].start()
        if duration is not None:
            push(clock + duration, _DECODED, worker)

    def admit(worker: int, clock: float) -> None:
        """Send the requests the decode worker now has room for to the prefill pool."""
        for request in decodes[worker].scheduler.admit_remote():
            target = min(range(len(prefills)), key=lambda w: prefills[w].load)
            prefills[target].queue.append(request)
            if not prefills[target].running:
                start_prefill(target, clock)

    def take_arrivals() -> None:
        while (arrival := stream.next_arrival()) is not None:
            for request in stream.arrived(arrival):
                push(arrival, _ARRIVED, request.index)

    take_arrivals()
    while events:
        clock, _, kind, subject = heapq.heappop(events)
        if kind == _ARRIVED:
            worker = home[subject] = min(range(len(decodes)), key=lambda w: decodes[w].load)
            decodes[worker].scheduler.waiting.append(stream.requests[subject])
            admit(worker, clock)
        elif kind == _PREFILLED:
            for request in prefills[subject].running:
                push(clock + transfer_ms, _TRANSFERRED, request.index)
            prefills[subject].running = []
            start_prefill(subject, clock)
        elif kind == _TRANSFERRED:
            request, worker = stream.requests[subject], home[subject]
            instance = decodes[worker]
            request.past += request.prompt + 1  # the prompt and the token its last position sampled
            request.prompt, request.generated, request.remote = 0, 1, False
            request.first_token_ms = clock
            instance.scheduler.grow(1)
            if request.generated >= request.output_tokens:
                instance.scheduler.release(request)
                stream.finish(request, clock)
                admit(worker, clock)
            if not instance.busy:
                start_decode(worker, clock)
        else:
            for request in decodes[subject].finish(clock):
                stream.finish(request, clock)
            admit(subject, clock)
            start_decode(subject, clock)
        take_arrivals()
    if not stream.done:
        raise RuntimeError("simulation stalled: a request can never be admitted by a decode worker")
    preemptions = sum(instance.scheduler.preemptions for instance in decodes)
    iterations = sum(instance.iterations for instance in decodes) + sum(worker.steps for worker in prefills)
    return _result(stream.requests, load, prefill.server.workload, preemptions, iterations)


_ARRIVED, _PREFILLED, _TRANSFERRED, _DECODED = range(4)
"""Disaggregated simulation events: a request reaches the deployment, a prefill batch ends, a KV cache reaches its
decode worker, a decode iteration ends."""
