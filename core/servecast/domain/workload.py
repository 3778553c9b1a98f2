"""What the user serves and what they promise: request lengths and latency targets."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from servecast.domain.base import FrozenModel


class LengthDistribution(StrEnum):
    """How per-request lengths vary around the workload's mean input and output lengths."""

    FIXED = "fixed"
    UNIFORM = "uniform"
    """Uniform within ±spread of the mean, as vLLM's random dataset draws with --random-range-ratio."""
    LOGNORMAL = "lognormal"
    """Lognormal with shape σ = spread and the same mean: the long tail of chat traces such as ShareGPT."""


class UserStart(StrEnum):
    """How a closed-loop benchmark client starts its users, and which requests its means count."""

    BURST = "burst"
    """Every user sends its first request at once and every request counts: `vllm bench serve`,
    `sglang.bench_serving` and InferenceMAX with --max-concurrency N and --request-rate inf (their default)."""
    WARM = "warm"
    """Only the steady state counts: the run is measured after a warm-up that brought every user in (genai-perf's
    and perf_analyzer's measurement windows)."""


class UserPhase(StrEnum):
    """Whether closed-loop users keep moving in step after their first requests."""

    SPREAD = "spread"
    """Their requests drift apart: lengths drawn from a range (InferenceMAX's --random-range-ratio 0.8, ShareGPT),
    replies that end at EOS, client and front-end jitter. The default."""
    WAVES = "waves"
    """Requests sent together finish together and the next ones arrive together again: exactly equal lengths
    (--ignore-eos, range ratio 0) on an engine without jitter."""


REQUESTS_PER_USER = 10.0
"""Requests each closed-loop user sends by default: InferenceMAX's runs send --num-prompts CONC * 10 at
--max-concurrency CONC (benchmarks/benchmark_lib.sh in SemiAnalysisAI/InferenceMAX), so the first, simultaneous wave
is a tenth of the requests the means count."""


LOGNORMAL_TAIL_Z = 3.09
"""Lognormal lengths are clipped at their 99.9th percentile (z = 3.09), which bounds the step-time tables."""


def length_spread_problem(distribution: LengthDistribution, spread: float) -> str | None:
    """Why `spread` does not suit `distribution` (what to give instead), or None when it does."""
    if distribution is LengthDistribution.FIXED and spread:
        return f"length_spread={spread:g} needs a varying length distribution: give uniform or lognormal"
    if distribution is LengthDistribution.UNIFORM and not 0 < spread < 1:
        return f"uniform lengths take length_spread={spread:g} as the ± ratio around the mean: give one in (0, 1)"
    if distribution is LengthDistribution.LOGNORMAL and not 0 < spread <= 2:
        return (
            f"lognormal lengths take length_spread={spread:g} as the shape σ: give one in (0, 2] "
            "(chat traces are near 1)"
        )
    return None


def prefix_hit_rate_problem(prefix_tokens: int, hit_rate: float) -> str | None:
    """Why a prefix hit rate does not suit the prefix (what to give instead), or None when it does."""
    if hit_rate != 1.0 and not prefix_tokens:
        return f"prefix_hit_rate={hit_rate:g} needs a shared prefix: give prefix (its tokens) as well"
    return None


def user_phase_problem(distribution: LengthDistribution, phase: UserPhase) -> str | None:
    """Why users cannot keep `phase` with lengths drawn from `distribution`, or None when they can."""
    if phase is UserPhase.WAVES and distribution is not LengthDistribution.FIXED:
        return f"user_phase=waves needs fixed lengths: {distribution.value} lengths spread users out"
    return None


class Workload(FrozenModel):
    """Request shape: tokens in, tokens out (means, and how they vary per request), and how many input tokens are
    a prefix shared by every request."""

    input_tokens: int = Field(gt=0, description="Prompt length (ISL), prefix included; the mean when lengths vary.")
    output_tokens: int = Field(gt=0, description="Generated tokens per request (OSL); the mean when lengths vary.")
    prefix_tokens: int = Field(default=0, ge=0, description="Leading prompt tokens shared by all requests.")
    prefix_hit_rate: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of requests whose prefix a prefix cache still holds when they arrive (1: every one).",
    )
    length_distribution: LengthDistribution = Field(
        default=LengthDistribution.FIXED, description="How per-request lengths vary around the means."
    )
    length_spread: float = Field(
        default=0.0, ge=0, description="uniform: the ± ratio around the mean (below 1); lognormal: the shape σ."
    )
    user_start: UserStart = Field(
        default=UserStart.BURST, description="Closed-loop users: how the client starts them and what it counts."
    )
    user_phase: UserPhase = Field(
        default=UserPhase.SPREAD, description="Closed-loop users: spread out, or in step (waves; equal lengths only)."
    )
    requests_per_user: float = Field(
        default=REQUESTS_PER_USER, ge=1, description="Closed-loop users: requests each sends in the measured run."
    )

    @model_validator(mode="after")
    def _prefix_fits_in_prompt(self) -> Self:
        if self.prefix_tokens >= self.input_tokens:
            raise ValueError(
                f"prefix_tokens={self.prefix_tokens} must be shorter than input_tokens={self.input_tokens}: "
                "at least one prompt token is always computed"
            )
        return self

    @model_validator(mode="after")
    def _hit_rate_needs_a_prefix(self) -> Self:
        problem = prefix_hit_rate_problem(self.prefix_tokens, self.prefix_hit_rate)
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _lengths_suit_distribution_and_phase(self) -> Self:
        for problem in (
            length_spread_problem(self.length_distribution, self.length_spread),
            user_phase_problem(self.length_distribution, self.user_phase),
        ):
            if problem:
                raise ValueError(problem)
        return self

    @property
    def users_in_step(self) -> bool:
        """Whether closed-loop users move in waves (equal lengths, and the client keeps them in step)."""
        return self.user_phase is UserPhase.WAVES

    @property
    def first_wave_share(self) -> float:
        """Share of a closed-loop run's counted requests that were sent at once, into an idle engine."""
        return 1.0 / self.requests_per_user if self.user_start is UserStart.BURST else 0.0

    def describe_users(self, users: int | None = None) -> str:
        """The closed-loop client behaviour, in words, as `estimate` and `search` print it."""
        who = f"{users} users" if users else "users"
        start = (
            f"{who} start at once, {self.requests_per_user:g} requests each, the first wave counted"
            if self.user_start is UserStart.BURST
            else f"{who}, measured after a warm-up (steady state only)"
        )
        phase = "they stay in step (waves)" if self.users_in_step else "after their first requests they spread out"
        return f"{start}; {phase}"

    def length_cv2(self) -> float:
        """Squared coefficient of variation of per-request lengths around their mean (0 when fixed)."""
        spread = self.length_spread
        if self.length_distribution is LengthDistribution.UNIFORM:
            return spread**2 / 3
        if self.length_distribution is LengthDistribution.LOGNORMAL:
            return math.expm1(spread**2)
        return 0.0

    def length_bounds(self, mean: int) -> tuple[int, int]:
        """Shortest and longest per-request length drawn around `mean` (equal when lengths are fixed)."""
        spread = self.length_spread
        if self.length_distribution is LengthDistribution.UNIFORM:
            return max(1, round(mean * (1 - spread))), max(1, round(mean * (1 + spread)))
        if self.length_distribution is LengthDistribution.LOGNORMAL:
            return 1, max(1, math.ceil(mean * math.exp(LOGNORMAL_TAIL_Z * spread - spread**2 / 2)))
        return mean, mean

    @property
    def longest_input(self) -> int:
        return self.length_bounds(self.input_tokens)[1]

    @property
    def longest_request(self) -> int:
        """Tokens of the longest request drawn: its prompt plus its output."""
        return self.longest_input + self.length_bounds(self.output_tokens)[1]


class Sla(FrozenModel):
    """Latency targets a deployment must meet; an unset target does not constrain."""

    ttft_ms: float | None = Field(default=None, gt=0, description="Time to first token, queueing included.")
    tpot_ms: float | None = Field(default=None, gt=0, description="Time per output token after the first.")
    request_latency_ms: float | None = Field(default=None, gt=0, description="End-to-end time of one request.")
    ttft_p90_ms: float | None = Field(default=None, gt=0, description="TTFT of nine requests in ten.")
    ttft_p99_ms: float | None = Field(default=None, gt=0, description="TTFT of 99 requests in 100.")
    tpot_p90_ms: float | None = Field(default=None, gt=0, description="TPOT of nine requests in ten.")
    tpot_p99_ms: float | None = Field(default=None, gt=0, description="TPOT of 99 requests in 100.")
    e2e_p99_ms: float | None = Field(default=None, gt=0, description="End-to-end time of 99 requests in 100.")

    @property
    def percentile_targets(self) -> dict[tuple[str, str], float]:
        """The set percentile targets: (metric column, percentile) -> limit, e.g. ("ttft_ms", "p99") -> 2000."""
        targets = {
            ("ttft_ms", "p90"): self.ttft_p90_ms,
            ("ttft_ms", "p99"): self.ttft_p99_ms,
            ("tpot_ms", "p90"): self.tpot_p90_ms,
            ("tpot_ms", "p99"): self.tpot_p99_ms,
            ("e2e_ms", "p99"): self.e2e_p99_ms,
        }
        return {key: limit for key, limit in targets.items() if limit is not None}

    def is_met(self, ttft_ms: float, tpot_ms: float, request_latency_ms: float) -> bool:
        """Whether one operating point meets every set target."""
        return all(
            limit is None or value <= limit
            for value, limit in (
                (ttft_ms, self.ttft_ms),
                (tpot_ms, self.tpot_ms),
                (request_latency_ms, self.request_latency_ms),
            )
        )
