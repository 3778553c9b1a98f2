"""Closed-loop users in step: requests of equal lengths that start together and finish together move in waves,
which have a closed form (`wave_mix`); `first_wave` is the burst of every user's first request at an idle engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from servecast.arrays import FloatArray
from servecast.serving.iterations import IterationMix, ServerGroup, select
from servecast.serving.policy import SchedulingRegime


def wave_mix(group: ServerGroup, wave: FloatArray, queued: FloatArray, front_ms: float) -> IterationMix:
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
    regrouped = _waves(group, wave, queued, front_ms, keep_formation=False)
    settings = group.server.settings
    if settings.chunked_prefill or settings.regime is SchedulingRegime.PREFILL_FIRST:
        return regrouped
    formed = _waves(group, wave, queued, front_ms, keep_formation=True)
    return select(regrouped, formed, formed.ttft_service_ms > regrouped.ttft_service_ms)


def _waves(
    group: ServerGroup, wave: FloatArray, queued: FloatArray, front_ms: float, keep_formation: bool
) -> IterationMix:
    """`wave_mix` with sub-waves of the size the first prompts formed (`keep_formation`) or of what fits."""
    server = group.server
    settings, steps = server.settings, group.steps
    prompt = server.workload.input_tokens - server.cached_prefix
    outputs = server.workload.output_tokens
    decodes = outputs - 1
    mixed = settings.regime is SchedulingRegime.MIXED
    levels = len(wave)

    def prompts_per_iteration(decoding: FloatArray) -> FloatArray:
        """Prompts an iteration next to `decoding` decodes completes (whole ones unless chunked)."""
        room = np.maximum(group.prefill_room(decoding), 1)
        return room / prompt if settings.chunked_prefill else np.maximum(np.floor(room / prompt), 1)

    # a whole wave returns to an idle engine; sub-waves return while the others decode
    burst = prompts_per_iteration(np.zeros(levels))  # as the users' first prompts find an idle engine
    single = wave <= burst
    if mixed:
        full = burst
        for _ in range(2):  # the room next to the prompt iterations' decodes, which depend on the room
            full = np.where(single, wave, full)  # prompts of each full prompt iteration
            sub_wave = np.maximum(full, 1)  # requests of a sub-wave (a prompt longer than the room is one alone)
            spans = sub_wave / full  # iterations each sub-wave's prompts take
            waits = np.where(single, 0.0, 1 - np.minimum(queued / sub_wave, 1))  # share of a sub-wave that waits
            heavy = np.where(single, 1, np.maximum(np.ceil(wave / full), 2))  # prompt iterations per wave
            # a request's cycle: its prompt iterations, its decodes and, unless its slot refills at once, a wait
            light = np.where(single, decodes, np.maximum(decodes + spans + waits - heavy, 0))
            returning = waits * sub_wave  # the next sub-wave, between its last token and its next prompt
            # without decode-only iterations each request decodes in `decodes` of the wave's prompt iterations
            full_decodes = np.where(light > 0, np.maximum(wave - sub_wave - returning, 0), wave * decodes / heavy)
            full_decodes = np.where(single, 0.0, full_decodes)
            if not keep_formation:
                full = prompts_per_iteration(full_decodes)
        full = np.where(single, wave, full)
        rest = wave - (heavy - 1) * full  # prompts of the last prompt iteration
        rest_decodes = np.where(single, 0.0, np.where(light > 0, wave - rest, full_decodes))
        light_decodes = wave - np.where(light > 0, waits * sub_wave / np.maximum(light, 1), 0.0)
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
        np.tile(group.step_model, 3),
    ).reshape(3, levels)
    cycle = (heavy - 1) * full_ms + rest_ms + light * decode_ms  # the engine's time per wave
    if mixed:
        # the first sub-wave waits for a decode-only iteration, the others for the last prompt iteration before
        first_wait = np.where(light > 0, decode_ms, rest_ms)
        waited = (sub_wave * first_wait + (wave - sub_wave) * full_ms) / wave
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
    return IterationMix(
        tpot_ms=tpot,
        ttft_service_ms=ttft,
        prefill_saturated=saturated,
        decode_only_ms=decode_ms,
        mean_iteration_ms=mean,
        prefill_capacity_per_ms=capacity,
        in_progress_ms=mean,
        prompt_iteration_ms=full_ms,
    )


@dataclass(frozen=True)
class FirstWave:
    """What the requests of a burst start's first wave see (engine side, arrays over the load levels)."""

    ttft_ms: FloatArray
    tpot_ms: FloatArray
    fastest_ttft_ms: FloatArray
    """The first prompts' TTFT: one prompt iteration (or one prompt alone, as the front-end hands it over)."""
    decode_ms: FloatArray
    """A decode-only iteration of the whole wave: the TPOT of the prompts prefilled last."""


def first_wave(group: ServerGroup, wave: FloatArray) -> FirstWave:
    """Mean TTFT (engine side) and TPOT of `wave` requests that reach an idle engine at once, as a benchmark
    client's users do with their first requests.

    The prompts go in as many full prompt iterations as the token budget (or prompt-only iterations) needs, the
    k-th of them finishing after k iterations, or as fast as the front-end tokenizes them one after another,
    whichever is slower; a request prefilled early then decodes through the later prompt iterations, which take
    longer than decode-only ones (or, prefill-first, pause the decodes), before the wave decodes alone.
    """
    server = group.server
    settings = server.settings
    prompt = server.workload.input_tokens - server.cached_prefix
    outputs = server.workload.output_tokens
    decodes = outputs - 1
    levels = len(wave)
    room = np.maximum(group.prefill_room(np.zeros(levels)), 1)
    per_iteration = room / prompt if settings.chunked_prefill else np.maximum(np.floor(room / prompt), 1)
    per_iteration = np.minimum(per_iteration, wave)
    heavy = np.ceil(wave / per_iteration - 1e-9)
    mixed = settings.regime is SchedulingRegime.MIXED
    decoding = np.where(mixed, wave * (heavy - 1) / (2 * heavy), 0.0)  # prefilled requests decoding alongside
    prompt_ms, decode_ms = group.steps.iteration_ms(
        np.concatenate([decoding, wave]),
        server.workload.input_tokens + outputs / 2,
        np.concatenate([per_iteration * prompt, np.zeros(levels)]),
        np.concatenate([np.maximum(per_iteration, 1), np.zeros(levels)]),
        np.concatenate([np.full(levels, float(server.cached_prefix)), np.zeros(levels)]),
        np.tile(group.step_model, 2),
    ).reshape(2, levels)
    ttft = prompt_ms * (heavy + 1) / 2
    fastest = prompt_ms
    tokenize_ms = settings.tokenize_ms(server.workload.input_tokens)
    if tokenize_ms > 0:
        # the front-end hands the prompts over one tokenizing time apart: the first goes alone, the others follow
        # in full iterations, or at the front-end's pace where that is slower
        single_ms, rest_ms = group.steps.iteration_ms(
            np.zeros(2 * levels),
            0.0,
            np.concatenate([np.full(levels, float(prompt)), np.minimum(per_iteration, wave - 1) * prompt]),
            np.concatenate([np.ones(levels), np.maximum(np.minimum(per_iteration, wave - 1), 1)]),
            float(server.cached_prefix),
            np.tile(group.step_model, 2),
        ).reshape(2, levels)
        rest = np.ceil(np.maximum(wave - 1, 0) / per_iteration - 1e-9)
        staggered = (single_ms + (wave - 1) * (single_ms + rest_ms * (rest + 1) / 2)) / wave
        ttft = np.maximum(staggered, (wave - 1) / 2 * tokenize_ms + single_ms)
        fastest = single_ms
    # the later prompt iterations a request sits through after its own, each longer than a decode iteration
    delay = (heavy - 1) / 2 * (prompt_ms - (decode_ms if mixed else 0.0))
    tpot = decode_ms + delay / decodes if decodes else decode_ms
    return FirstWave(ttft_ms=ttft, tpot_ms=tpot, fastest_ttft_ms=fastest, decode_ms=decode_ms)
