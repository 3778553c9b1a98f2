"""The simulated requests: their lengths, drawn up front, and the stream a load sends them in (Poisson arrivals,
closed-loop users sending the next request on each finish, or all at once), through one front-end thread."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from servecast.arrays import IntArray
from servecast.domain.workload import LengthDistribution, Workload
from servecast.errors import InputError
from servecast.serving.load import Load
from servecast.serving.server import Server
from servecast.serving.trace import Trace


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
class SimRequest:
    index: int
    arrival_ms: float
    input_tokens: int
    output_tokens: int
    user: int = -1
    prompt: int = 0
    """Tokens still to prefill before the next output token."""
    past: int = 0
    """Tokens already in the KV cache."""
    shared: int = 0
    """Of those, the cached prefix shared with other requests (held once, not by this request)."""
    generated: int = 0
    admitted_order: int = 0
    remote: bool = False
    """Admitted by a disaggregated decode worker, its prompt still being prefilled elsewhere."""
    first_token_ms: float = math.nan
    finish_ms: float = math.nan


SIMULATED_REQUESTS_LIMIT = 200_000
"""Most requests one simulation runs (tens of seconds at long outputs); a larger run is refused, not left to hang."""
SIMULATED_ITERATIONS_LIMIT = 10_000_000
"""Most iterations one simulation may need at the least (about two minutes at ~90,000 iterations a second on one
core); a run that needs more is refused, not left to hang."""


def check_simulation_size(server: Server, prompt_tokens: float, output_tokens: float, total: int) -> None:
    """An InputError where `total` requests of these summed prompt and output tokens need more iterations than
    `SIMULATED_ITERATIONS_LIMIT` however they batch: each iteration prefills at most the token budget and decodes
    at most the batch limit."""
    least = max(prompt_tokens / server.settings.max_num_tokens, output_tokens / server.batch_limit)
    if least > SIMULATED_ITERATIONS_LIMIT:
        raise InputError(
            f"simulating {total:,} requests would take at least {least:,.0f} iterations (minutes): the token budget "
            f"({server.settings.max_num_tokens:,}) or the batch limit ({server.batch_limit:,}) is small for them",
            "give fewer requests (--num-requests), a larger --max-num-tokens or --max-batch-size, or leave out "
            "--percentiles",
        )


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


class RequestStream:
    """The requests a load sends, their lengths drawn up front; closed-loop users send the next on each finish."""

    def __init__(
        self,
        server: Server,
        load: Load,
        num_requests: int | None,
        rng: np.random.Generator,
        trace: Trace | None = None,
    ) -> None:
        workload = server.workload
        if trace is not None:  # its requests at their arrival times, with their lengths
            if len(trace) > SIMULATED_REQUESTS_LIMIT:
                raise InputError(
                    f"{trace.source} holds {len(trace):,} requests, more than the simulation's limit of "
                    f"{SIMULATED_REQUESTS_LIMIT:,}",
                    "replay a part of it (its percentiles settle within a few thousand requests)",
                )
            num_requests, inputs, outputs = len(trace), trace.input_tokens, trace.output_tokens
        else:
            num_requests = requests_to_simulate(load, workload, num_requests)
            inputs, outputs = draw_lengths(workload, rng, num_requests)
        self.inputs = np.clip(inputs, workload.prefix_tokens + 1, server.max_model_len - 1)
        self.outputs = np.minimum(outputs, server.max_model_len - self.inputs)
        self.load = load
        self.total = num_requests
        self.cached = server.cached_prefix_on_hit
        hit_rate = workload.prefix_hit_rate
        self.hits = rng.random(num_requests) < hit_rate if hit_rate < 1 else np.ones(num_requests, dtype=bool)
        """Which requests find the shared prefix in the cache (drawn only where some miss: the other draws stay)."""
        prompts = float(self.inputs.sum()) - float(self.hits.sum()) * self.cached
        check_simulation_size(server, prompts, float(self.outputs.sum()), num_requests)
        self.settings = server.settings
        self.offline = load.full_batch is not None
        self.front_free = 0.0
        """When the front-end thread is next free to tokenize a prompt."""
        self.requests: list[SimRequest] = []
        self.finished = 0
        self.arrivals: list[tuple[float, int]] = []
        """(time the engine sees it, index) of every request sent, a heap."""
        if trace is not None:
            for arrival in trace.arrival_ms:
                self._send(float(arrival))
        elif load.request_rate_per_s is not None:
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
        request = SimRequest(index, arrival, int(self.inputs[index]), int(self.outputs[index]), user)
        cached = self.cached if self.hits[index] else 0
        request.prompt, request.past, request.shared = request.input_tokens - cached, cached, cached
        self.requests.append(request)
        seen = arrival
        if not self.offline:  # one front-end thread tokenizes the prompts in turn
            self.front_free = max(arrival, self.front_free) + self.settings.tokenize_ms(request.input_tokens)
            seen = self.front_free + self.settings.request_ms
        heapq.heappush(self.arrivals, (seen, index))

    def arrived(self, clock: float) -> list[SimRequest]:
        """The requests the engine has seen by `clock` and not yet taken, in arrival order."""
        taken = []
        while self.arrivals and self.arrivals[0][0] <= clock:
            taken.append(self.requests[heapq.heappop(self.arrivals)[1]])
        return taken

    def next_arrival(self) -> float | None:
        return self.arrivals[0][0] if self.arrivals else None

    def finish(self, request: SimRequest, clock: float) -> None:
        """`request`'s last token reached its client at `clock`; its user sends the next request."""
        request.finish_ms = clock
        self.finished += 1
        if self.load.concurrency is not None and len(self.requests) < self.total:
            # the user's next request reaches the server after the iteration that is already scheduled
            self._send(clock + 1e-6, request.user)

    @property
    def done(self) -> bool:
        return self.finished >= len(self.requests)
