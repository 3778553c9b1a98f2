"""The latency distributions of one aggregated instance's engine, as the uniform components `serving.tails` mixes:
its steady state, a burst start's first wave, random arrivals' wait for a slot and the spread of their batch. The
means they keep are `serving.aggregated`'s."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from servecast.arrays import FloatArray
from servecast.serving.iterations import IterationMix, ServerGroup
from servecast.serving.tails import (
    Components,
    around,
    exponential,
    length_ratio_half_width,
    spread_by,
    waiting_for_a_slot,
)
from servecast.serving.waves import FirstWave


@dataclass(frozen=True)
class EngineTails:
    """Engine-side TTFT and TPOT distributions as uniform components: (weight, low, high) each, and whether each
    component's TTFT and TPOT are coupled (`serving.tails.request_latency`)."""

    ttft: Components
    tpot: Components
    coupled: list[bool]

    def with_first_wave(self, share: float, waiting: FloatArray, wave: FirstWave, cycle_ms: FloatArray) -> EngineTails:
        """The steady components weighted by the rest of the run, next to a burst start's first wave: its prompts
        take their first tokens one prompt iteration after another (the first ones then decode through the later
        ones) and the users beyond the running limit wait a whole cycle of the first cohort."""
        ttft = around(wave.ttft_ms, wave.fastest_ttft_ms)
        tpot = around(wave.tpot_ms, wave.decode_ms)
        rest = [(weight * (1 - share), low, high) for weight, low, high in self.ttft]
        rest_tpot = [(weight * (1 - share), low, high) for weight, low, high in self.tpot]
        cohort, queued = share * (1 - waiting), share * waiting
        return EngineTails(
            ttft=[*rest, (cohort, *ttft), (queued, ttft[0] + cycle_ms, ttft[1] + cycle_ms)],
            tpot=[*rest_tpot, (cohort, *tpot), (queued, *tpot)],
            coupled=[*self.coupled, False, False],
        )

    def with_slot_wait(self, waits: FloatArray, mean_wait_ms: FloatArray) -> EngineTails:
        """Random arrivals of which the share `waits` find every slot taken and wait for one, exponentially (the
        M/G/c wait, of mean `mean_wait_ms` over all arrivals), before their steady TTFT."""
        given = np.divide(mean_wait_ms, waits, out=np.zeros_like(waits), where=waits > 0)
        ttft = [(weight * (1 - waits), low, high) for weight, low, high in self.ttft]
        tpot, coupled = list(self.tpot), list(self.coupled)
        for (weight, low, high), decoding, paired in zip(self.ttft, self.tpot, self.coupled, strict=True):
            pieces = exponential(waits, given)
            ttft += [(weight * share, (low + high) / 2 + a, (low + high) / 2 + b) for share, a, b in pieces]
            tpot += [(weight * share, decoding[1], decoding[2]) for share, _, _ in pieces]
            coupled += [paired] * len(pieces)
        return EngineTails(ttft=ttft, tpot=tpot, coupled=coupled)

    def with_tpot_spread(self, half_width: FloatArray) -> EngineTails:
        """The TPOT components widened by an independent spread of half-width `half_width` (same variance)."""
        tpot = []
        for weight, low, high in self.tpot:
            low, high = spread_by((low + high) / 2, np.hypot((high - low) / 2, half_width))
            tpot.append((weight, low, high))
        return EngineTails(ttft=self.ttft, tpot=tpot, coupled=self.coupled)


def occupancy_spread(group: ServerGroup, running: FloatArray, cap: FloatArray) -> FloatArray:
    """Half-width of the TPOT spread random arrivals bring: the requests in flight vary about their mean by its
    square root (Poisson, as with unlimited slots), and a request decodes at the iteration length its stay sees."""
    workload = group.server.workload
    spread = np.sqrt(running)
    more, fewer = group.steps.iteration_ms(
        np.concatenate([np.minimum(running + spread, cap), np.maximum(running - spread, 1.0)]),
        workload.input_tokens + workload.output_tokens / 2,
        model=np.tile(group.step_model, 2),
    ).reshape(2, len(running))
    half: FloatArray = np.sqrt(3) * np.maximum(more - fewer, 0.0) / 2
    return half


def steady_tails(group: ServerGroup, steady: IterationMix, queueing: FloatArray, closed: bool) -> EngineTails:
    """The steady state's engine-side TTFT and TPOT distributions (`closed`: of closed-loop users).

    Closed-loop users in step: a wave's prompts take their first tokens one prompt iteration after another, and
    every request of a wave decodes alike. Otherwise a prompt waits for the iteration in progress (up to its
    length) and its own chunks take longer or shorter with its length; its decodes meet prompt iterations at
    random, binomially many of its `decodes` at the share of iterations that carry prompts.
    """
    workload = group.server.workload
    ones = np.ones(len(queueing))
    decodes = max(workload.output_tokens - 1, 1)
    service = steady.ttft_service_ms + decodes * steady.tpot_ms
    if closed and workload.users_in_step:
        wave = [(ones, *around(steady.ttft_service_ms, steady.prompt_iteration_ms))]
        ttft = waiting_for_a_slot(wave, queueing, service)
        tpot = [(weight, steady.tpot_ms, steady.tpot_ms) for weight, _, _ in ttft]
        return EngineTails(ttft=ttft, tpot=tpot, coupled=[True] * len(ttft))
    lengths = length_ratio_half_width(workload, jittered=closed)
    excess = np.minimum(np.hypot(steady.in_progress_ms, lengths * steady.ttft_service_ms), steady.ttft_service_ms)
    fastest = steady.ttft_service_ms - excess
    arrivals = [(weight, fastest + low, fastest + high) for weight, low, high in exponential(ones, excess)]
    ttft = waiting_for_a_slot(arrivals, queueing, service)
    extra = np.maximum(steady.prompt_iteration_ms - steady.decode_only_ms, 0.0)
    share = np.clip(
        np.divide(steady.tpot_ms - steady.decode_only_ms, extra, out=np.zeros_like(extra), where=extra > 0), 0, 1
    )
    tpot_half = np.sqrt(3 * decodes * share * (1 - share)) * extra / decodes
    low, high = spread_by(steady.tpot_ms, tpot_half)
    return EngineTails(ttft=ttft, tpot=[(weight, low, high) for weight, _, _ in ttft], coupled=[False] * len(ttft))
