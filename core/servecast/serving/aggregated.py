"""Aggregated continuous batching in steady state: a fast mean-value model of iteration-level scheduling.

Each iteration runs every decoding sequence one token and admits prompt tokens by the framework's rule: next to
the decodes within the token budget (decode-first in-flight batching: vLLM V1, TensorRT-LLM, and mixed chunks),
or in prompt-only iterations that pause the decodes (prefill-first: SGLang, vLLM V0). Given a request rate, the
model derives how many sequences decode per iteration, how often an iteration carries a prompt chunk and how
long each kind of iteration takes; the rate then follows from the load (Little's law for closed-loop users, the
arrival rate for open-loop traffic) and the two are iterated to a fixed point. Closed-loop users the workload keeps
in step do not arrive independently but in waves (`wave_mix`), which have a closed form. Where the client starts
every user at once and counts every request, the first wave's requests (`first_wave`) are blended into the means
by their share of the run. The discrete-event simulation (`serving.simulation`) checks both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from servecast.arrays import FloatArray
from servecast.errors import InputError
from servecast.serving.load import Load, LoadKind, LoadLevels
from servecast.serving.metrics import LIMITERS, Limiter, ServingMetrics, ServingPoints, queued_users
from servecast.serving.policy import prefill_room
from servecast.serving.queueing import slot_wait_ms
from servecast.serving.server import Server

_ITERATIONS = 200
_TOLERANCE = 1e-4


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
        return IterationMix(*(getattr(self, field.name)[index] for field in fields(IterationMix)))

    def put(self, index: NDArray[np.intp], update: IterationMix) -> IterationMix:
        """A copy with the elements at `index` replaced by `update`'s."""
        arrays = []
        for field in fields(IterationMix):
            values = getattr(self, field.name).copy()
            values[index] = getattr(update, field.name)
            arrays.append(values)
        return IterationMix(*arrays)


_SHARED_RULES = (
    "max_batch_size",
    "chunked_prefill",
    "mixed_prefill_decode",
    "cuda_graph_batch_sizes",
    "graphs_cover_mixed_steps",
    "overlap_scheduler",
    "prefix_caching",
    "iteration_cpu_ms",
    "per_sequence_cpu_us",
    "scheduler_steps",
)
"""Settings servers solved together must share (all but the token budget, the chunk cap and the memory)."""


@dataclass(frozen=True)
class BudgetVariants:
    """Servers that differ only in their token budget (hence chunk cap and KV capacity), solved together: one
    element per load level, each with its own server's budget, chunk cap and running limit."""

    server: Server
    """The first server: its step times, workload and scheduling rules stand for all of them."""
    max_num_tokens: FloatArray
    chunk_size: FloatArray
    """The chunk cap per element (inf where prompts are capped by the token budget only)."""
    running_limit: FloatArray
    batch_limit: FloatArray
    """The batch limit per element (what `running_limit` is when the KV cache does not bind)."""
    concurrency_limit: FloatArray
    """Most closed-loop users per element whose steady state the means follow (`Server.concurrency_limit`)."""

    @classmethod
    def of(cls, servers: Sequence[Server], levels: Sequence[int]) -> BudgetVariants:
        """`levels[i]` elements for `servers[i]`; a ValueError when the servers differ in more than budgets."""
        first = servers[0]
        for other in servers[1:]:
            if not _solvable_together(first, other):
                raise ValueError(f"{other.layout} ({other.role}) differs from {first.layout} in more than its budgets")
        for server in servers:
            server.check_prompts_fit_the_budget()

        def per_level(values: list[float]) -> FloatArray:
            return np.repeat(np.asarray(values, dtype=np.float64), levels)

        return cls(
            server=first,
            max_num_tokens=per_level([s.settings.max_num_tokens for s in servers]),
            chunk_size=per_level([s.settings.chunk_size or np.inf for s in servers]),
            running_limit=per_level([s.running_limit for s in servers]),
            batch_limit=per_level([s.batch_limit for s in servers]),
            concurrency_limit=per_level([s.concurrency_limit for s in servers]),
        )

    @staticmethod
    def groups(servers: Sequence[Server]) -> list[list[Server]]:
        """`servers` split into groups that can be solved together (a policy may tie other settings to the budget)."""
        groups: list[list[Server]] = []
        for server in servers:
            group = next((group for group in groups if _solvable_together(group[0], server)), None)
            if group is None:
                groups.append([server])
            else:
                group.append(server)
        return groups

    def take(self, index: NDArray[np.intp]) -> BudgetVariants:
        """The elements at `index`."""
        arrays = {field.name: getattr(self, field.name)[index] for field in fields(self) if field.name != "server"}
        return BudgetVariants(server=self.server, **arrays)

    def prefill_room(self, decodes: FloatArray) -> FloatArray:
        """Prefill tokens each element's iteration can carry next to `decodes` decoding sequences."""
        mixed = self.server.settings.mixed_prefill_decode
        return prefill_room(self.max_num_tokens, self.chunk_size, mixed, decodes)


def _solvable_together(a: Server, b: Server) -> bool:
    """Whether two servers share step tables, workload and every scheduling rule but their budgets."""
    same_rules = all(getattr(a.settings, name) == getattr(b.settings, name) for name in _SHARED_RULES)
    return a.steps.tables is b.steps.tables and a.workload == b.workload and same_rules


def iteration_mix(
    variants: BudgetVariants,
    rate_per_ms: FloatArray,
    decoders: FloatArray,
    users: FloatArray | None,
    recomputed: FloatArray,
    previous: IterationMix | None = None,
) -> IterationMix:
    """Iteration times when requests complete at `rate_per_ms` with `decoders` sequences decoding on average.

    A prompt first waits for the iteration in progress: a random arrival (`users` None) for its residual
    time, a closed-loop user's next request for the whole iteration the other users' work started as its last
    one finished (none when it is the only user). How many prompt tokens an iteration carries depends on how
    long iterations last; `previous` (the last evaluation of the fixed point) supplies that length, so each
    evaluation costs one vectorised step-time call. `recomputed`: prompt tokens per completed request prefilled
    again after preemptions (`Server.recomputed_prompt_tokens` where the KV cache binds with requests waiting).
    """
    server = variants.server
    settings, steps = server.settings, server.steps
    prompt = server.workload.input_tokens - server.cached_prefix
    past = server.cached_prefix
    kv = server.workload.input_tokens + server.workload.output_tokens / 2
    # prompt tokens per ms that interrupt a sequence's decodes: a closed-loop user's own prompt precedes them
    others = 1.0 if users is None else np.maximum(1.0 - 1.0 / np.maximum(users, 1.0), 0.0)
    demand = rate_per_ms * (prompt * others + recomputed)
    levels = len(decoders)
    if settings.mixed_prefill_decode:
        room = np.maximum(variants.prefill_room(np.ceil(decoders)), 1)
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
            mean, wait + chunks * with_mine, saturated, decode_only, mean, capacity, in_progress, with_prompt
        )
    zeros = np.zeros(levels)
    budget = variants.prefill_room(zeros)
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
        1.0 / decode_rate, wait + chunks * prefill_mine, saturated, decode_only, mean, unbounded, in_progress, prefill
    )


def wave_mix(variants: BudgetVariants, wave: FloatArray, queued: FloatArray, front_ms: float) -> IterationMix:
    """Iterations of closed-loop users whose requests all have the same lengths: they move in waves.

    Benchmark tools start every user at once, and requests prefilled together finish together, so their users'
    next prompts arrive together again. A prefill-first framework prefills a wave in back-to-back prompt-only
    iterations, which keeps it whole; a decode-first one splits it into sub-waves, one per iteration the budget
    fills (the last one partly), that keep their spacing: each returns while the others' iterations run and first
    waits for the one already under way (its front-end time overlaps that wait). `wave`: requests running
    together; `queued`: users beyond them, waiting for a slot, who take a finishing sub-wave's slots at once.

    Where a sub-wave's whole prompts stop fitting next to the decodes, the users either keep the sub-waves they
    formed (whose prompts then also wait for room, which is not modelled) or regroup into what fits: the slower
    of the two stands, a lower bound the simulation exceeds by up to a fifth.
    """
    regrouped = _waves(variants, wave, queued, front_ms, keep_formation=False)
    settings = variants.server.settings
    if settings.chunked_prefill or not settings.mixed_prefill_decode:
        return regrouped
    formed = _waves(variants, wave, queued, front_ms, keep_formation=True)
    return _select(regrouped, formed, formed.ttft_service_ms > regrouped.ttft_service_ms)


def _waves(
    variants: BudgetVariants, wave: FloatArray, queued: FloatArray, front_ms: float, keep_formation: bool
) -> IterationMix:
    """`wave_mix` with sub-waves of the size the first prompts formed (`keep_formation`) or of what fits."""
    server = variants.server
    settings, steps = server.settings, server.steps
    prompt = server.workload.input_tokens - server.cached_prefix
    outputs = server.workload.output_tokens
    decodes = outputs - 1
    mixed = settings.mixed_prefill_decode
    levels = len(wave)

    def prompts_per_iteration(decoding: FloatArray) -> FloatArray:
        """Prompts an iteration next to `decoding` decodes completes (whole ones unless chunked)."""
        room = np.maximum(variants.prefill_room(decoding), 1)
        return room / prompt if settings.chunked_prefill else np.maximum(np.floor(room / prompt), 1)

    # a whole wave returns to an idle engine; sub-waves return while the others decode
    burst = prompts_per_iteration(np.zeros(levels))  # as the users' first prompts find an idle engine
    single = wave <= burst
    if mixed:
        full = burst
        for _ in range(2):  # the room next to the prompt iterations' decodes, which depend on the room
            full = np.where(single, wave, full)  # prompts of each full prompt iteration
            group = np.maximum(full, 1)  # requests of a sub-wave (a prompt longer than the room is one alone)
            spans = group / full  # iterations each sub-wave's prompts take
            waits = np.where(single, 0.0, 1 - np.minimum(queued / group, 1))  # share of a sub-wave that waits
            heavy = np.where(single, 1, np.maximum(np.ceil(wave / full), 2))  # prompt iterations per wave
            # a request's cycle: its prompt iterations, its decodes and, unless its slot refills at once, a wait
            light = np.where(single, decodes, np.maximum(decodes + spans + waits - heavy, 0))
            returning = waits * group  # the next sub-wave, between its last token and its next prompt
            # without decode-only iterations each request decodes in `decodes` of the wave's prompt iterations
            full_decodes = np.where(light > 0, np.maximum(wave - group - returning, 0), wave * decodes / heavy)
            full_decodes = np.where(single, 0.0, full_decodes)
            if not keep_formation:
                full = prompts_per_iteration(full_decodes)
        full = np.where(single, wave, full)
        rest = wave - (heavy - 1) * full  # prompts of the last prompt iteration
        rest_decodes = np.where(single, 0.0, np.where(light > 0, wave - rest, full_decodes))
        light_decodes = wave - np.where(light > 0, waits * group / np.maximum(light, 1), 0.0)
    else:
        full = np.where(single, wave, burst)
        heavy = np.where(single, 1, np.maximum(np.ceil(wave / full), 2))
        rest = wave - (heavy - 1) * full
        light = np.full(levels, float(decodes))
        full_decodes = rest_decodes = np.zeros(levels)
        light_decodes = wave
    # an iteration with less than a prompt carries a chunk of one, past its earlier chunks on average
    chunks = np.concatenate([full, rest])
    full_ms, rest_ms, decode_ms = steps.iteration_ms(
        np.concatenate([full_decodes, rest_decodes, light_decodes]),
        server.workload.input_tokens + outputs / 2,
        np.concatenate([chunks * prompt, np.zeros(levels)]),
        np.concatenate([np.maximum(chunks, 1), np.zeros(levels)]),
        np.concatenate([server.cached_prefix + prompt * (1 - np.minimum(chunks, 1)) / 2, np.zeros(levels)]),
    ).reshape(3, levels)
    cycle = (heavy - 1) * full_ms + rest_ms + light * decode_ms  # the engine's time per wave
    if mixed:
        # the first sub-wave waits for a decode-only iteration, the others for the last prompt iteration before
        first_wait = np.where(light > 0, decode_ms, rest_ms)
        waited = (group * first_wait + (wave - group) * full_ms) / wave
        waited = waits * np.maximum(waited - front_ms, 0)
        # a prompt longer than the room shares its first and last iterations with its neighbours' chunks
        own = np.where(
            full >= 1, ((heavy - 1) * full * full_ms + rest * rest_ms) / wave, (1 / full + 1 - 1 / wave) * full_ms
        )
        ttft = waited + own
        mean_heavy_ms = ((heavy - 1) * full_ms + rest_ms) / heavy
        # prompt-bound (no decode-only iteration left): a request decodes only in the others' prompt iterations
        ttft = np.where(light > 0, ttft, cycle - decodes * mean_heavy_ms)
        capacity = wave / ((heavy - 1) * full_ms + rest_ms)
        saturated = (light == 0).astype(np.float64)
    else:  # a prompt's first token comes at its own iteration's end; the wave's later prompts follow
        ttft = (full * full_ms * heavy * (heavy - 1) / 2 + rest * ((heavy - 1) * full_ms + rest_ms)) / wave
        capacity, saturated = np.full(levels, np.inf), np.zeros(levels)
    tpot = (cycle - ttft) / decodes if decodes else decode_ms
    mean = cycle / (heavy + light)
    return IterationMix(tpot, ttft, saturated, decode_ms, mean, capacity, mean, full_ms)


def first_wave(variants: BudgetVariants, wave: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Mean TTFT (engine side) and TPOT of `wave` requests that reach an idle engine at once, as a benchmark
    client's users do with their first requests.

    The prompts go in as many full prompt iterations as the token budget (or prompt-only iterations) needs, the
    k-th of them finishing after k iterations, or as fast as the front-end tokenizes them one after another,
    whichever is slower; a request prefilled early then decodes through the later prompt iterations, which take
    longer than decode-only ones (or, prefill-first, pause the decodes), before the wave decodes alone.
    """
    server = variants.server
    settings = server.settings
    prompt = server.workload.input_tokens - server.cached_prefix
    outputs = server.workload.output_tokens
    decodes = outputs - 1
    levels = len(wave)
    room = np.maximum(variants.prefill_room(np.zeros(levels)), 1)
    per_iteration = room / prompt if settings.chunked_prefill else np.maximum(np.floor(room / prompt), 1)
    per_iteration = np.minimum(per_iteration, wave)
    heavy = np.ceil(wave / per_iteration - 1e-9)
    mixed = settings.mixed_prefill_decode
    decoding = np.where(mixed, wave * (heavy - 1) / (2 * heavy), 0.0)  # prefilled requests decoding alongside
    prompt_ms, decode_ms = server.steps.iteration_ms(
        np.concatenate([decoding, wave]),
        server.workload.input_tokens + outputs / 2,
        np.concatenate([per_iteration * prompt, np.zeros(levels)]),
        np.concatenate([np.maximum(per_iteration, 1), np.zeros(levels)]),
        np.concatenate([np.full(levels, float(server.cached_prefix)), np.zeros(levels)]),
    ).reshape(2, levels)
    ttft = prompt_ms * (heavy + 1) / 2
    tokenize_ms = settings.tokenize_ms(server.workload.input_tokens)
    if tokenize_ms > 0:
        # the front-end hands the prompts over one tokenizing time apart: the first goes alone, the others follow
        # in full iterations, or at the front-end's pace where that is slower
        single_ms, rest_ms = server.steps.iteration_ms(
            np.zeros(2 * levels),
            0.0,
            np.concatenate([np.full(levels, float(prompt)), np.minimum(per_iteration, wave - 1) * prompt]),
            np.concatenate([np.ones(levels), np.maximum(np.minimum(per_iteration, wave - 1), 1)]),
            float(server.cached_prefix),
        ).reshape(2, levels)
        rest = np.ceil(np.maximum(wave - 1, 0) / per_iteration - 1e-9)
        staggered = (single_ms + (wave - 1) * (single_ms + rest_ms * (rest + 1) / 2)) / wave
        ttft = np.maximum(staggered, (wave - 1) / 2 * tokenize_ms + single_ms)
    # the later prompt iterations a request sits through after its own, each longer than a decode iteration
    delay = (heavy - 1) / 2 * (prompt_ms - (decode_ms if mixed else 0.0))
    tpot = decode_ms + delay / decodes if decodes else decode_ms
    return ttft, tpot


def _with_first_wave(
    variants: BudgetVariants,
    users: FloatArray,
    running: FloatArray,
    front_ms: float,
    steady: IterationMix,
    queueing: FloatArray,
    rate: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Engine-side TTFT, TPOT and the request rate a benchmark client reports, over all the requests it counts.

    With a burst start every user's first request reaches an idle engine at once (users beyond the running limit
    wait for the first cohort to finish); they are `first_wave_share` of the counted requests. The client reports
    throughput over the whole run, which ends with a drain: spread users finish their last requests over the last
    cycle while the emptying engine speeds up the rest; in the simulation the run outlasts the steady state's by
    about a quarter of a cycle.
    """
    workload = variants.server.workload
    decodes = workload.output_tokens - 1
    cycle = users / rate  # the steady state's time between one user's requests
    steady_ttft = steady.ttft_service_ms + queueing
    share = workload.first_wave_share
    if share == 0.0:
        return steady_ttft, steady.tpot_ms, rate
    ttft, tpot = first_wave(variants, running)
    waiting = np.maximum(users - running, 0) / users
    ttft = ttft + waiting * (ttft + decodes * tpot + front_ms)
    first_cycle = front_ms + ttft + decodes * tpot
    drain = 0.0 if workload.users_in_step else cycle / 4
    per_user = (workload.requests_per_user - 1) * cycle + first_cycle + drain
    return (
        (1 - share) * steady_ttft + share * ttft,
        (1 - share) * steady.tpot_ms + share * tpot,
        users * workload.requests_per_user / per_user,
    )


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


def _select(mix: IterationMix, update: IterationMix, where: NDArray[np.bool_]) -> IterationMix:
    """`update` where `where` is set, `mix` elsewhere (converged levels stay as they were)."""
    names = (field.name for field in fields(IterationMix))
    return IterationMix(*(np.where(where, getattr(update, name), getattr(mix, name)) for name in names))


def _fixed_point(
    variants: BudgetVariants,
    offered: FloatArray | None,
    users: FloatArray,
    cap: FloatArray,
    front: float,
    recomputed: FloatArray,
) -> tuple[IterationMix, FloatArray]:
    """The iteration mix and request rate (per ms) that imply each other: `offered` requests/s of random arrivals
    (None: `users` closed-loop users), at most `cap` requests in the engine, `recomputed` prompt tokens per request
    prefilled again after preemptions."""
    decodes = variants.server.workload.output_tokens - 1
    levels = len(users)
    running = np.minimum(users, cap)
    arrivals = None if offered is not None else users
    mix = iteration_mix(variants, np.zeros(levels), running, arrivals, recomputed)
    rate = running / (mix.ttft_service_ms + decodes * mix.tpot_ms + front)
    decoders = rate * decodes * mix.tpot_ms
    active = np.ones(levels, dtype=bool)
    step = np.full(levels, 0.5)
    previous_gap = np.zeros(levels)
    for _ in range(_ITERATIONS):
        before = mix.mean_iteration_ms
        index = np.flatnonzero(active)  # only the levels still moving are evaluated again
        share = None if arrivals is None else arrivals[index]
        moving = iteration_mix(
            variants.take(index), rate[index], decoders[index], share, recomputed[index], mix.take(index)
        )
        mix = mix.put(index, moving)
        service = mix.ttft_service_ms + decodes * mix.tpot_ms
        if offered is not None:
            target = np.minimum(offered / 1000.0, cap / service)
        else:  # each user's cycle also waits for the front-end; the engine holds at most `cap` of them
            target = np.minimum(users / (service + front), cap / service)
        target = np.minimum(target, mix.prefill_capacity_per_ms)  # beyond it, prompts queue for the budget
        new_decoders = target * decodes * mix.tpot_ms
        gap = target - rate
        # Step times jump at CUDA-graph sizes and whole sequences per rank, so a level can straddle a jump and
        # cycle; halving its step whenever the update changes direction settles it at the jump.
        step = np.where(gap * previous_gap < 0, 0.5 * step, step)
        previous_gap = gap
        # The iteration length feeds the next evaluation too (prompt tokens carried per iteration): a level has
        # converged only when that inner fixed point has settled as well as the rate.
        settled = np.abs(mix.mean_iteration_ms - before) <= _TOLERANCE * mix.mean_iteration_ms
        converged = settled & (step * np.abs(gap) <= 0.5 * _TOLERANCE * np.maximum(rate, 1e-12))
        rate = np.where(active, rate + step * gap, rate)
        decoders = np.where(active, decoders + step * (new_decoders - decoders), decoders)
        active &= ~converged
        if not active.any():
            break
    return mix, rate


def steady_states(server: Server, levels: LoadLevels) -> ServingPoints:
    """Mean TTFT, TPOT and throughput of one aggregated instance at each load level, vectorised.

    Each level iterates the fixed point (or solves its waves) on its own: a level stops changing once it has
    converged, so every element equals what a single-level evaluation gives.
    """
    return budget_steady_states(BudgetVariants.of([server], [len(levels.values)]), levels)


def budget_steady_states(variants: BudgetVariants, levels: LoadLevels) -> ServingPoints:
    """`steady_states` of servers that differ only in their budgets, solved together: element i is the load level
    `levels.values[i]` on the server `variants` assigns to it (the same as solving that server alone)."""
    server = variants.server
    workload = server.workload
    decodes = workload.output_tokens - 1
    limit = variants.running_limit
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
    kv_binds = limit < variants.batch_limit
    if closed and workload.users_in_step:
        # preemptions beyond a full KV cache are not modelled for waves (the simulation has them)
        mix = wave_mix(variants, running, np.maximum(users - cap, 0), front)
        service = mix.ttft_service_ms + decodes * mix.tpot_ms
        rate = np.minimum(users / (service + front), cap / service)
    else:
        # requests waiting for a KV cache that binds are admitted by what they hold on admission, and some are
        # preempted again: where the load keeps requests waiting, their recomputed prompts load the iterations too
        waiting = (values > limit) & kv_binds & (not offered_rate)
        recomputed = np.where(waiting, server.recomputed_prompt_tokens, 0.0)
        mix, rate = _fixed_point(variants, values if offered_rate else None, users, cap, front, recomputed)
        beyond = offered_rate & (values / 1000.0 > rate * (1 + 1e-3)) & kv_binds
        if beyond.any():  # the queue grows without bound: the engine runs as a full batch that keeps requests waiting
            recomputed = np.where(beyond, server.recomputed_prompt_tokens, 0.0)
            full, full_rate = _fixed_point(variants, None, users, cap, front, recomputed)
            mix, rate = _select(mix, full, beyond), np.where(beyond, full_rate, rate)
    service = mix.ttft_service_ms + decodes * mix.tpot_ms
    in_flight = np.minimum(rate * service, cap)
    queueing = np.zeros(len(values))
    overloaded = np.zeros(len(values), dtype=bool)
    ttft, tpot, reported_rate = mix.ttft_service_ms, mix.tpot_ms, rate
    if closed:
        queueing = np.maximum(0.0, values / rate - service - front)
        ttft, tpot, reported_rate = _with_first_wave(variants, users, running, front, mix, queueing, rate)
    elif offered_rate:  # random arrivals wait for a slot when all `cap` are taken (M/G/c), or for the front-end
        busy = values / 1000.0 * server.front_end_work_ms
        overloaded = (values / 1000.0 > rate * (1 + 1e-3)) | (busy >= 1)
        queueing = np.where(overloaded, np.inf, slot_wait_ms(cap, rate, service, workload.length_cv2()))
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
    in_step = closed & (values >= variants.concurrency_limit) & (variants.concurrency_limit < limit)
    limiter = np.where(in_step, LIMITERS.index(Limiter.KV_CAPACITY), limiter)
    at_budget = (mix.prefill_saturated > 0) | (rate >= mix.prefill_capacity_per_ms * (1 - 1e-3))
    limiter = np.where(at_budget, LIMITERS.index(Limiter.PREFILL), limiter)
    return ServingPoints(
        ttft_ms=front + ttft + (0.0 if closed else queueing),
        tpot_ms=paced,
        requests_per_s=reported_rate * 1000.0,
        running=in_flight,
        limiter=limiter,
        overloaded=overloaded,
        output_tokens=workload.output_tokens,
        num_gpus=np.full(len(values), server.gpus),
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
