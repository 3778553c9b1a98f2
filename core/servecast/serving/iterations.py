"""What iterations look like in steady state, by the scheduling regime: how many sequences decode per iteration, how
often an iteration carries prompt tokens, and how long each kind of iteration takes at a given request rate.

In the mixed regime prompt chunks ride next to the decodes within the token budget (in-flight batching: vLLM V1,
TensorRT-LLM, SGLang's mixed chunks); in the prefill-first regime waiting prompts run in prompt-only iterations
that pause the decodes (SGLang, vLLM V0 without chunked prefill).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from servecast.arrays import FloatArray, IntArray
from servecast.serving.policy import SchedulingRegime, prefill_room
from servecast.serving.server import Server
from servecast.serving.step_time import StepTimeModel


@dataclass(frozen=True)
class IterationMix:
    """What iterations look like at each request rate (arrays, one element per load level)."""

    tpot_ms: FloatArray
    ttft_service_ms: FloatArray
    """Arrival to first token without admission queueing: the wait for an iteration, then the prompt's chunks."""
    prefill_saturated: FloatArray
    """Prompts arrive faster than the iterations can absorb them (1.0 where they do)."""
    decode_only_ms: FloatArray
    mean_iteration_ms: FloatArray
    prefill_capacity_per_ms: FloatArray
    """The most requests per ms whose prompts the token budget admits (inf where decode time bounds the rate)."""
    in_progress_ms: FloatArray
    """Mean length of the iteration a random arrival finds under way, E[T^2] / E[T] (longer ones are likelier)."""
    prompt_iteration_ms: FloatArray
    """Mean length of an iteration that carries prompt tokens."""

    def take(self, index: NDArray[np.intp]) -> IterationMix:
        """The elements at `index`."""
        return IterationMix(**{name: getattr(self, name)[index] for name in _MIX_FIELDS})

    def put(self, index: NDArray[np.intp], update: IterationMix) -> IterationMix:
        """A copy with the elements at `index` replaced by `update`'s."""
        arrays = {}
        for name in _MIX_FIELDS:
            values = getattr(self, name).copy()
            values[index] = getattr(update, name)
            arrays[name] = values
        return IterationMix(**arrays)


_MIX_FIELDS = tuple(field.name for field in fields(IterationMix))
"""The fields of `IterationMix`, looked up once (the fixed point copies them every iteration)."""

_SHARED_RULES = (
    "chunked_prefill",
    "regime",
    "cuda_graph_batch_sizes",
    "graphs_cover_mixed_steps",
    "overlap_scheduler",
    "prefix_caching",
    "iteration_cpu_ms",
    "per_sequence_cpu_us",
    "scheduler_steps",
    "two_batch_overlap",
    "request_ms",
    "prompt_token_us",
    "stream_token_us",
    "async_output_processing",
)
"""Settings servers solved together must share: all the solve reads from the first server's (the layout, token
budget, chunk cap, batch limit, memory and MoE exchange may differ: they reach the solve through the per-element
arrays and each server's step tables)."""


@dataclass(frozen=True)
class ServerGroup:
    """Servers of one framework that differ in their layouts and token budgets (hence step tables, chunk caps and
    KV capacities), solved together: one element per load level, each with its own server's step times, budget,
    chunk cap and limits."""

    server: Server
    """The first server: its workload and scheduling rules stand for all of them."""
    steps: StepTimeModel
    """Every server's step times (`StepTimeModel.stacked`); `step_model` names each element's."""
    step_model: IntArray
    gpus: FloatArray
    recomputed_prompt_tokens: FloatArray
    """Per element, its server's `Server.recomputed_prompt_tokens`."""
    max_num_tokens: FloatArray
    chunk_size: FloatArray
    """The chunk cap per element (inf where prompts are capped by the token budget only)."""
    running_limit: FloatArray
    batch_limit: FloatArray
    """The batch limit per element (what `running_limit` is when the KV cache does not bind)."""
    concurrency_limit: FloatArray
    """Most closed-loop users per element whose steady state the means follow (`Server.concurrency_limit`)."""

    @classmethod
    def of(cls, servers: Sequence[Server], levels: Sequence[int]) -> ServerGroup:
        """`levels[i]` elements for `servers[i]`; a ValueError when the servers differ in more than their layouts
        and budgets."""
        first = servers[0]
        for other in servers[1:]:
            if not _solvable_together(first, other):
                raise ValueError(
                    f"{other.layout} ({other.role}) differs from {first.layout} in more than its layout and budgets"
                )
        for server in servers:
            server.check_prompts_fit_the_budget()

        def per_level(values: list[float]) -> FloatArray:
            return np.repeat(np.asarray(values, dtype=np.float64), levels)

        return cls(
            server=first,
            steps=StepTimeModel.stacked([s.steps for s in servers]),
            step_model=np.repeat(np.arange(len(servers)), levels),
            gpus=per_level([s.gpus for s in servers]),
            recomputed_prompt_tokens=per_level([s.recomputed_prompt_tokens for s in servers]),
            max_num_tokens=per_level([s.settings.max_num_tokens for s in servers]),
            chunk_size=per_level([s.settings.chunk_size or np.inf for s in servers]),
            running_limit=per_level([s.running_limit for s in servers]),
            batch_limit=per_level([s.batch_limit for s in servers]),
            concurrency_limit=per_level([s.concurrency_limit for s in servers]),
        )

    @staticmethod
    def groups(servers: Sequence[Server]) -> list[list[Server]]:
        """`servers` split into groups that can be solved together (a policy may tie other settings to the layout or
        the budget)."""
        groups: list[list[Server]] = []
        for server in servers:
            group = next((group for group in groups if _solvable_together(group[0], server)), None)
            if group is None:
                groups.append([server])
            else:
                group.append(server)
        return groups

    def take(self, index: NDArray[np.intp]) -> ServerGroup:
        """The elements at `index`."""
        arrays = {name: getattr(self, name)[index] for name in _GROUP_ARRAYS}
        return ServerGroup(server=self.server, steps=self.steps, **arrays)

    def prefill_room(self, decodes: FloatArray) -> FloatArray:
        """Prefill tokens each element's iteration can carry next to `decodes` decoding sequences."""
        mixed = self.server.settings.regime is SchedulingRegime.MIXED
        return prefill_room(self.max_num_tokens, self.chunk_size, mixed, decodes)


_GROUP_ARRAYS = tuple(field.name for field in fields(ServerGroup) if field.name not in ("server", "steps"))
"""The per-element fields of `ServerGroup` (the fixed point takes the active elements every iteration)."""


def _solvable_together(a: Server, b: Server) -> bool:
    """Whether two servers share their workload and the scheduling rules the solve reads (`_SHARED_RULES`)."""
    same_rules = all(getattr(a.settings, name) == getattr(b.settings, name) for name in _SHARED_RULES)
    return a.workload == b.workload and same_rules


def iteration_mix(
    group: ServerGroup,
    rate_per_ms: FloatArray,
    decoders: FloatArray,
    users: FloatArray | None,
    recomputed: FloatArray,
    previous: IterationMix | None = None,
) -> IterationMix:
    """Iteration times when requests complete at `rate_per_ms` with `decoders` sequences decoding on average, by
    the server's scheduling regime.

    A prompt first waits for the iteration in progress: a random arrival (`users` None) for its residual
    time, a closed-loop user's next request for the whole iteration the other users' work started as its last
    one finished (none when it is the only user). How many prompt tokens an iteration carries depends on how
    long iterations last; `previous` (the last evaluation of the fixed point) supplies that length, so each
    evaluation costs one vectorised step-time call. `recomputed`: prompt tokens per completed request prefilled
    again after preemptions (`Server.recomputed_prompt_tokens` where the KV cache binds with requests waiting).
    """
    server = group.server
    prompt = server.workload.input_tokens - server.cached_prefix
    # prompt tokens per ms that interrupt a sequence's decodes: a closed-loop user's own prompt precedes them
    others = 1.0 if users is None else np.maximum(1.0 - 1.0 / np.maximum(users, 1.0), 0.0)
    demand = rate_per_ms * (prompt * others + recomputed)
    regime = _REGIMES[server.settings.regime]
    return regime(group, rate_per_ms, demand, decoders, users, recomputed, previous)


def _mixed(
    group: ServerGroup,
    rate_per_ms: FloatArray,
    demand: FloatArray,
    decoders: FloatArray,
    users: FloatArray | None,
    recomputed: FloatArray,
    previous: IterationMix | None,
) -> IterationMix:
    """The mixed regime: an iteration carries the prompt tokens that arrived during the last one, up to the room
    the decodes leave in the budget (`demand`: prompt tokens per ms)."""
    server = group.server
    settings, steps = server.settings, group.steps
    prompt, past, kv = _lengths(server)
    levels = len(decoders)
    room = np.maximum(group.prefill_room(np.ceil(decoders)), 1)
    chunk = np.minimum(prompt, room)
    carried = demand * (previous.mean_iteration_ms if previous else 0.0)
    share = np.minimum(carried / chunk, 1.0)
    tokens = np.where(carried <= chunk, chunk, np.minimum(carried, room))
    # the iteration a given prompt rides in also carries the others' that arrived during the one under way
    during = demand * (previous.in_progress_ms if previous else 0.0) if users is None else carried
    seen = np.minimum(room, chunk + during)
    # every iteration full of prompt tokens: whole prompts only when the framework does not chunk them
    full = room if settings.chunked_prefill else np.maximum(np.floor(room / prompt), 1) * prompt
    chunk_past = past + (prompt - chunk) / 2
    times = steps.iteration_ms(
        np.tile(decoders, 4),
        kv,
        np.concatenate([np.zeros(levels), tokens, seen, full]),
        np.concatenate([np.zeros(levels), tokens / prompt, seen / prompt, full / prompt]),
        np.tile(chunk_past, 4),
        np.tile(group.step_model, 4),
    ).reshape(4, levels)
    decode_only, with_prompt, with_mine, saturating = times
    mean = share * with_prompt + (1 - share) * decode_only
    square = share * with_prompt**2 + (1 - share) * decode_only**2
    if users is None:  # Poisson prompts: a long iteration gathers more of them for the next one
        token_ms = (with_prompt - decode_only) / tokens
        square = mean**2 + _gathered_variance(token_ms, rate_per_ms, mean, prompt, server.workload.length_cv2())
    wait = _arrival_wait(mean, square, users)
    chunks = np.ceil(prompt / chunk)
    saturated = (carried > room).astype(np.float64)
    capacity = full / (prompt + recomputed) / saturating
    in_progress = square / np.maximum(mean, 1e-12)
    return IterationMix(
        tpot_ms=mean,
        ttft_service_ms=wait + chunks * with_mine,
        prefill_saturated=saturated,
        decode_only_ms=decode_only,
        mean_iteration_ms=mean,
        prefill_capacity_per_ms=capacity,
        in_progress_ms=in_progress,
        prompt_iteration_ms=with_prompt,
    )


def _prefill_first(
    group: ServerGroup,
    rate_per_ms: FloatArray,
    demand: FloatArray,
    decoders: FloatArray,
    users: FloatArray | None,
    recomputed: FloatArray,
    previous: IterationMix | None,
) -> IterationMix:
    """The prefill-first regime: prompts that arrived during a decode iteration (or a multi-step pass) run in
    prompt-only iterations before the decodes resume (`demand`: prompt tokens per ms)."""
    server = group.server
    settings, steps = server.settings, group.steps
    prompt, past, kv = _lengths(server)
    levels = len(decoders)
    zeros = np.zeros(levels)
    budget = group.prefill_room(zeros)
    prompt_chunk = np.minimum(prompt, budget)
    # prompts per decode iteration: random arrivals during it, or the closed-loop users it completes (their next
    # prompts come together), one per user every TPOT
    gap = 0.0 if previous is None else previous.decode_only_ms if users is None else previous.tpot_ms
    arrivals = rate_per_ms * gap
    # prefill iterations per decode iteration: one after a decode iteration that saw a prompt arrive, and random
    # arrivals during a prefill iteration call for another before the decodes resume
    excursion = -np.expm1(-arrivals)
    if users is None and previous is not None:
        excursion = excursion / np.maximum(np.exp(-rate_per_ms * previous.prompt_iteration_ms), 1e-6)
        arrivals = arrivals + excursion * rate_per_ms * previous.prompt_iteration_ms
    batched = np.where(excursion > 1e-9, arrivals / np.maximum(excursion, 1e-9), 1.0)  # prompts per prefill iteration
    batched = np.maximum(batched, 1.0)
    whole = prompt <= budget  # prompts batch whole; longer ones fill every prefill iteration with one chunk
    tokens = np.where(whole, np.minimum(budget, batched * prompt), budget)
    # the prefill iteration a given prompt rides in also carries those that arrived during the unit under way
    during = rate_per_ms * previous.in_progress_ms if users is None and previous else arrivals
    seen = np.where(whole, np.minimum(budget, (1 + during) * prompt), budget)
    decode_only, prefill, prefill_mine = steps.iteration_ms(
        np.concatenate([decoders, zeros, zeros]),
        np.concatenate([np.full(levels, kv), zeros, zeros]),
        np.concatenate([zeros, tokens, seen]),
        np.concatenate([zeros, tokens / prompt_chunk, seen / prompt_chunk]),
        np.tile(past + (prompt - prompt_chunk) / 2, 3),
        np.tile(group.step_model, 3),
    ).reshape(3, levels)
    prefill_share = demand / tokens * prefill  # of the wall time
    decode_rate = np.maximum(1.0 - prefill_share, 1e-3) / decode_only
    chunks = np.ceil(prompt / prompt_chunk)
    mean = 1.0 / (decode_rate + demand / tokens)
    # a prompt waits for the unit under way: a prefill iteration, or a whole multi-step pass of decodes
    steps_per_pass = settings.scheduler_steps
    unit = 1.0 / (decode_rate / steps_per_pass + demand / tokens)
    share = demand / tokens * unit  # of the units
    square = share * prefill**2 + (1 - share) * (steps_per_pass * decode_only) ** 2
    wait = _arrival_wait(unit, square, users)
    saturated = (prefill_share >= 1.0).astype(np.float64)
    unbounded = np.full(levels, np.inf)  # prompt-only iterations lengthen TPOT, which slows the rate itself
    in_progress = square / np.maximum(unit, 1e-12)
    return IterationMix(
        tpot_ms=1.0 / decode_rate,
        ttft_service_ms=wait + chunks * prefill_mine,
        prefill_saturated=saturated,
        decode_only_ms=decode_only,
        mean_iteration_ms=mean,
        prefill_capacity_per_ms=unbounded,
        in_progress_ms=in_progress,
        prompt_iteration_ms=prefill,
    )


def _lengths(server: Server) -> tuple[int, int, float]:
    """Prompt tokens a request prefills, its cached prefix, and a decoding sequence's mean KV length."""
    workload = server.workload
    return (
        workload.input_tokens - server.cached_prefix,
        server.cached_prefix,
        workload.input_tokens + workload.output_tokens / 2,
    )


RegimeMix = Callable[
    [ServerGroup, FloatArray, FloatArray, FloatArray, FloatArray | None, FloatArray, IterationMix | None],
    IterationMix,
]
_REGIMES: dict[SchedulingRegime, RegimeMix] = {
    SchedulingRegime.MIXED: _mixed,
    SchedulingRegime.PREFILL_FIRST: _prefill_first,
}
"""The iteration model of each scheduling regime."""


def _gathered_variance(
    token_ms: FloatArray, rate_per_ms: FloatArray, mean_ms: FloatArray, prompt: int, length_cv2: float
) -> FloatArray:
    """Variance of iteration lengths when each iteration carries the Poisson prompts that arrived during the last:
    T' = D + c * (tokens arrived in T), so Var T = c^2 * rate * E[T] * E[p^2] / (1 - rho^2), rho = c * rate * p."""
    load = np.minimum(token_ms * rate_per_ms * prompt, 0.99)
    variance: FloatArray = token_ms**2 * rate_per_ms * mean_ms * prompt**2 * (1 + length_cv2) / (1 - load**2)
    return variance


def _arrival_wait(mean_ms: FloatArray, mean_square_ms2: FloatArray, users: FloatArray | None) -> FloatArray:
    """Wait for the iteration in progress: the residual life E[T^2] / 2E[T] for random arrivals, else a whole
    iteration but for the user's own share of the closed loop."""
    if users is None:
        residual: FloatArray = np.divide(mean_square_ms2, 2 * mean_ms, out=np.zeros_like(mean_ms), where=mean_ms > 0)
        return residual
    whole: FloatArray = (1.0 - 1.0 / users) * mean_ms
    return whole


def select(mix: IterationMix, update: IterationMix, where: NDArray[np.bool_]) -> IterationMix:
    """`update` where `where` is set, `mix` elsewhere (converged levels stay as they were)."""
    return IterationMix(**{name: np.where(where, getattr(update, name), getattr(mix, name)) for name in _MIX_FIELDS})
