"""The simulation of an xPyD deployment: prefill workers batching whole prompts, decode workers reserving each
request's KV room before its prompt is prefilled (SGLang's pre-allocation, Dynamo's decode-first flow), and the KV
transfer between them, as a queue of timed events."""

from __future__ import annotations

import heapq
from collections import deque
from enum import IntEnum
from itertools import count

import numpy as np

from servecast.errors import InputError
from servecast.serving.disaggregated import Pool, full_batch_error
from servecast.serving.load import Load
from servecast.serving.server import Server
from servecast.serving.simulation.engine import Instance, StepTimes
from servecast.serving.simulation.requests import RequestStream, SimRequest
from servecast.serving.simulation.result import SimulationResult, measured_result
from servecast.serving.trace import Trace

SIMULATED_WORKERS_LIMIT = 4096
"""Most prefill plus decode workers one disaggregated simulation runs side by side."""


class Event(IntEnum):
    """What happens at a point of the simulated clock, with what its subject is."""

    ARRIVED = 0
    """A request reaches the deployment (subject: the request)."""
    PREFILLED = 1
    """A prefill batch ends (subject: the prefill worker)."""
    TRANSFERRED = 2
    """A request's KV cache reaches its decode worker (subject: the request)."""
    DECODED = 3
    """A decode iteration ends (subject: the decode worker)."""


class PrefillWorker:
    """A disaggregated prefill worker: whole prompts in batches of up to `batch`, first come first served."""

    def __init__(self, server: Server, batch: int) -> None:
        self.step_ms = StepTimes(server)
        self.cached = server.cached_prefix
        self.batch = batch
        self.queue: deque[SimRequest] = deque()
        self.running: list[SimRequest] = []
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


class _Deployment:
    """The workers of both pools, the decode worker each request was sent to, and the event queue."""

    def __init__(self, prefill: Pool, decode: Pool, transfer_ms: float, stream: RequestStream) -> None:
        self.stream = stream
        self.transfer_ms = transfer_ms
        self.prefills = [PrefillWorker(prefill.server, prefill.batch) for _ in range(prefill.workers)]
        batch_limit = min(decode.batch, decode.server.batch_limit)
        self.decodes = [Instance(decode.server, batch_limit) for _ in range(decode.workers)]
        self.home: dict[int, int] = {}
        """The decode worker of each request sent."""
        self.events: list[tuple[float, int, Event, int]] = []
        """(time, order of pushing, event, subject), a heap: events at one time in the order they were pushed."""
        self._order = count()

    def push(self, time: float, event: Event, subject: int) -> None:
        heapq.heappush(self.events, (time, next(self._order), event, subject))

    def run(self) -> None:
        """Process events until none are left."""
        self.take_arrivals()
        handlers = {
            Event.ARRIVED: self.arrived,
            Event.PREFILLED: self.prefilled,
            Event.TRANSFERRED: self.transferred,
            Event.DECODED: self.decoded,
        }
        while self.events:
            clock, _, event, subject = heapq.heappop(self.events)
            handlers[event](subject, clock)
            self.take_arrivals()

    def take_arrivals(self) -> None:
        """Queue the arrival of every request the stream has sent."""
        while (arrival := self.stream.next_arrival()) is not None:
            for request in self.stream.arrived(arrival):
                self.push(arrival, Event.ARRIVED, request.index)

    def arrived(self, request: int, clock: float) -> None:
        """The request waits at the decode worker holding the fewest requests."""
        worker = self.home[request] = min(range(len(self.decodes)), key=lambda w: self.decodes[w].load)
        self.decodes[worker].scheduler.waiting.append(self.stream.requests[request])
        self.admit(worker, clock)

    def prefilled(self, worker: int, clock: float) -> None:
        """The batch's KV caches leave for their decode workers; the prefill worker takes its next batch."""
        for request in self.prefills[worker].running:
            self.push(clock + self.transfer_ms, Event.TRANSFERRED, request.index)
        self.prefills[worker].running = []
        self.start_prefill(worker, clock)

    def transferred(self, index: int, clock: float) -> None:
        """The request joins its decode worker's batch with its first token."""
        request, worker = self.stream.requests[index], self.home[index]
        instance = self.decodes[worker]
        request.past += request.prompt + 1  # the prompt and the token its last position sampled
        request.prompt, request.generated, request.remote = 0, 1, False
        request.first_token_ms = clock
        instance.scheduler.grow(1)
        if request.generated >= request.output_tokens:
            instance.scheduler.release(request)
            self.stream.finish(request, clock)
            self.admit(worker, clock)
        if not instance.busy:
            self.start_decode(worker, clock)

    def decoded(self, worker: int, clock: float) -> None:
        """The iteration's finished requests leave; the worker admits and starts its next iteration."""
        for request in self.decodes[worker].finish(clock):
            self.stream.finish(request, clock)
        self.admit(worker, clock)
        self.start_decode(worker, clock)

    def admit(self, worker: int, clock: float) -> None:
        """Send the requests the decode worker now has room for to the prefill worker with the fewest prompts."""
        for request in self.decodes[worker].scheduler.admit_remote():
            target = min(range(len(self.prefills)), key=lambda w: self.prefills[w].load)
            self.prefills[target].queue.append(request)
            if not self.prefills[target].running:
                self.start_prefill(target, clock)

    def start_prefill(self, worker: int, clock: float) -> None:
        duration = self.prefills[worker].start()
        if duration is not None:
            self.push(clock + duration, Event.PREFILLED, worker)

    def start_decode(self, worker: int, clock: float) -> None:
        duration = self.decodes[worker].start()
        if duration is not None:
            self.push(clock + duration, Event.DECODED, worker)


def simulate_disaggregated(
    prefill: Pool,
    decode: Pool,
    transfer_ms: float,
    load: Load,
    num_requests: int | None = None,
    seed: int = 0,
    trace: Trace | None = None,
) -> SimulationResult:
    """Run `num_requests` requests through an xPyD deployment under `load`. Each request joins the decode worker
    holding the fewest requests and waits there until it fits under the worker's batch limit and KV cache; it then
    joins the prefill worker with the fewest prompts, is prefilled in that worker's next batch, reaches its decode
    worker `transfer_ms` later with its first token, and decodes in the worker's continuous batch."""
    if load.full_batch is not None:
        raise full_batch_error()
    if prefill.workers + decode.workers > SIMULATED_WORKERS_LIMIT:
        raise InputError(
            f"the simulation would run {prefill.workers + decode.workers:,} workers, more than its limit of "
            f"{SIMULATED_WORKERS_LIMIT:,}",
            "simulate one xPyD group at its share of the load; the means (without --percentiles) take any size",
        )
    stream = RequestStream(prefill.server, load, num_requests, np.random.default_rng(seed), trace)
    deployment = _Deployment(prefill, decode, transfer_ms, stream)
    deployment.run()
    if not stream.done:
        raise RuntimeError("simulation stalled: a request can never be admitted by a decode worker")
    preemptions = sum(instance.scheduler.preemptions for instance in deployment.decodes)
    iterations = sum(instance.iterations for instance in deployment.decodes)
    iterations += sum(worker.steps for worker in deployment.prefills)
    return measured_result(stream.requests, load, prefill.server.workload, preemptions, iterations)
