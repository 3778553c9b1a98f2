"""What a search is asked: a model on a number of GPUs of one system, a workload, latency targets, frameworks."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from servecast.domain.base import FrozenModel
from servecast.domain.vocabulary import KvCacheDtype, Quantization, ServingMode
from servecast.domain.workload import (
    REQUESTS_PER_USER,
    Sla,
    UserPhase,
    UserStart,
    Workload,
    prefix_hit_rate_problem,
)

DEFAULT_MODES = (ServingMode.AGGREGATED, ServingMode.DISAGGREGATED)


class Objective(StrEnum):
    """What the best configuration has most of, among those meeting the SLA."""

    THROUGHPUT = "throughput"
    """Tokens/s per GPU."""
    COST = "cost"
    """The fewest dollars per million output tokens."""
    LATENCY = "latency"
    """Tokens/s per user (the shortest time per output token)."""


MOST_GPUS = 1_000_000
"""A bound on the GPUs a search takes, far beyond any cluster, that keeps counts within machine integers."""


class SearchTask(FrozenModel):
    """One search. `frameworks` None means every installed framework plugin."""

    model: str = Field(min_length=1)
    system: str = Field(min_length=1)
    gpus: int = Field(gt=0, le=MOST_GPUS, description="GPUs the deployment may use.")
    frameworks: tuple[str, ...] | None = None
    modes: tuple[ServingMode, ...] = DEFAULT_MODES
    isl: int = Field(gt=0)
    osl: int = Field(gt=0)
    prefix: int = Field(default=0, ge=0)
    prefix_hit_rate: float = Field(default=1.0, ge=0, le=1)
    user_start: UserStart = UserStart.BURST
    user_phase: UserPhase = UserPhase.SPREAD
    requests_per_user: float = Field(default=REQUESTS_PER_USER, ge=1)
    sla: Sla = Sla()
    quant: Quantization | None = None
    moe_quant: Quantization | None = None
    kv_cache_dtype: KvCacheDtype | None = None
    top: int = Field(default=5, gt=0, description="Best configurations listed.")
    replicate: bool = Field(
        default=True, description="Fill the GPUs with replicas of each configuration (False: one unit each)."
    )
    prefill_system: str | None = Field(
        default=None, min_length=1, description="Disaggregated prefill pools on this system (default: `system`)."
    )
    decode_system: str | None = Field(
        default=None, min_length=1, description="Disaggregated decode pools on this system (default: `system`)."
    )
    objective: Objective = Objective.THROUGHPUT
    gpu_prices: dict[str, float] = Field(
        default_factory=dict,
        description="US dollars per GPU-hour by system; a system not listed takes its spec's default price, if any.",
    )
    confidence: bool = Field(
        default=False,
        description="Check the SLA and rank by the pessimistic end of each prediction's interval (latencies at "
        "their p90, throughput at its p10) instead of the prediction.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.prefix >= self.isl:
            raise ValueError(f"prefix={self.prefix} must be shorter than isl={self.isl}")
        problem = prefix_hit_rate_problem(self.prefix, self.prefix_hit_rate)
        if problem:
            raise ValueError(problem)
        if not self.modes:
            raise ValueError("give at least one serving mode")
        if self.frameworks is not None and not self.frameworks:
            raise ValueError("give at least one framework")
        mixed = {self.prefill_system, self.decode_system} - {None, self.system}
        if mixed and ServingMode.DISAGGREGATED not in self.modes:
            raise ValueError(
                f"prefill_system/decode_system {', '.join(sorted(str(s) for s in mixed))} lay out disaggregated pools, "
                "and the modes searched have none: add disagg to the modes"
            )
        if any(price <= 0 for price in self.gpu_prices.values()):
            raise ValueError("every price per GPU-hour must be positive")
        return self

    @classmethod
    def parse(cls, values: dict[str, object]) -> Self:
        """Validate user input; an InputError naming each bad field and value."""
        return cls.parse_input(values, "search", "see `servecast search --help`")

    @property
    def systems(self) -> tuple[str, ...]:
        """Every system the search places GPUs on: the task's, and its pools' own."""
        return tuple(dict.fromkeys(s for s in (self.system, self.prefill_system, self.decode_system) if s))

    def price_of(self, system: str) -> float | None:
        """US dollars per GPU-hour of `system`, None without one."""
        return self.gpu_prices.get(system)

    @property
    def gpu_hour_usd(self) -> float | None:
        """The price per GPU-hour of the task's system."""
        return self.price_of(self.system)

    @property
    def workload(self) -> Workload:
        return Workload(
            input_tokens=self.isl,
            output_tokens=self.osl,
            prefix_tokens=self.prefix,
            prefix_hit_rate=self.prefix_hit_rate,
            user_start=self.user_start,
            user_phase=self.user_phase,
            requests_per_user=self.requests_per_user,
        )
