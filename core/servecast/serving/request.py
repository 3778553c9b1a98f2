"""One configuration to estimate, as the `estimate` command's flags and its batch CSV's columns name it."""

from __future__ import annotations

from typing import Self

from pydantic import Field, ValidationError, model_validator

from servecast.domain.base import FrozenModel
from servecast.domain.layout import ParallelLayout
from servecast.domain.vocabulary import KvCacheDtype, Quantization, ServingMode
from servecast.domain.workload import (
    REQUESTS_PER_USER,
    LengthDistribution,
    UserPhase,
    UserStart,
    Workload,
    length_spread_problem,
    prefix_hit_rate_problem,
    user_phase_problem,
)
from servecast.errors import InputError

_EXCHANGE_FIELDS = ("moe_all_to_all", "two_batch_overlap")
_SERVER_LAYOUT_FIELDS = ("tp", "pp", "dp", "ep", "moe_tp", "redundant_experts", *_EXCHANGE_FIELDS)
"""The aggregated or static server's layout; a disaggregated deployment has none."""
_POOL_FIELDS = tuple(
    f"{role}_{name}"
    for role in ("prefill", "decode")
    for name in ("tp", "pp", "dp", "ep", "moe_tp", "redundant_experts", *_EXCHANGE_FIELDS, "workers")
) + ("prefill_batch_size", "decode_batch_size", "prefill_system", "decode_system")
"""The disaggregated pools' layouts, batches and systems; aggregated and static servers have none."""


INT32_MAX = 2**31 - 1
"""The largest budget a framework's settings hold (32-bit integers in their schedulers and CUDA graphs)."""


class EstimateRequest(FrozenModel):
    """A model served by one framework on one system in one mode, under one load.

    Aggregated and static servers use `tp, pp, dp, ep, moe_tp`; disaggregated deployments describe their prefill
    and decode pools with the `prefill_*` and `decode_*` fields. The load is a closed-loop `concurrency`, an
    open-loop `request_rate` (requests per second, Poisson), or a fixed `batch_size` (static batching, or an
    aggregated server kept full — offline throughput); with `replicas`, the concurrency and request rate are the
    whole deployment's and the batch size each instance's.
    """

    id: str | None = None
    model: str = Field(min_length=1, description="Model id or alias (`servecast model list`).")
    system: str = Field(min_length=1, description="Hardware id (`servecast hardware list`).")
    framework: str = Field(min_length=1, description="Framework id (`servecast frameworks list`).")
    framework_version: str | None = Field(
        default=None, description="Default: the newest modelled; another release maps to the nearest modelled one."
    )
    mode: ServingMode = Field(default=ServingMode.AGGREGATED, description="static, agg or disagg.")
    isl: int = Field(gt=0, description="Input tokens per request.")
    osl: int = Field(gt=0, description="Output tokens per request.")
    prefix: int = Field(default=0, ge=0, description="Leading input tokens shared by every request.")
    prefix_hit_rate: float = Field(
        default=1.0, ge=0, le=1, description="Share of requests whose prefix is still cached when they arrive."
    )
    concurrency: int | None = Field(default=None, gt=0, description="Closed-loop users.")
    request_rate: float | None = Field(default=None, gt=0, description="Poisson arrivals per second.")
    batch_size: int | None = Field(
        default=None, gt=0, description="One static batch, or an aggregated server kept full (offline throughput)."
    )
    replicas: int = Field(
        default=1, gt=0, description="Identical aggregated or static instances; the load is split evenly."
    )
    tp: int = Field(default=1, gt=0, description="Tensor-parallel ranks.")
    pp: int = Field(default=1, gt=0, description="Pipeline stages.")
    dp: int = Field(default=1, gt=0, description="Attention data-parallel groups (MoE models).")
    ep: int = Field(default=1, gt=0, description="Expert-parallel ranks.")
    moe_tp: int | None = Field(default=None, gt=0, description="Tensor-parallel ranks per expert (default: derived).")
    redundant_experts: int = Field(
        default=0, ge=0, description="Extra expert copies load balancing (EPLB) spreads over the ep ranks."
    )
    quant: Quantization | None = Field(default=None, description="Override the checkpoint's quantization.")
    moe_quant: Quantization | None = Field(default=None, description="Quantization of the routed experts only.")
    kv_cache_dtype: KvCacheDtype | None = Field(default=None, description="Default: the checkpoint's.")
    memory_fraction: float | None = Field(default=None, gt=0, le=1, description="In the framework's own meaning.")
    max_batch_size: int | None = Field(
        default=None,
        gt=0,
        le=INT32_MAX,
        description="Override the framework's batch limit (each attention-DP rank's where the framework's is).",
    )
    max_num_tokens: int | None = Field(
        default=None,
        gt=0,
        le=INT32_MAX,
        description="Override the framework's token budget (each attention-DP rank's where the framework's is).",
    )
    max_model_len: int | None = Field(
        default=None, gt=0, description="Longest request the server accepts (default: the model's context)."
    )
    scheduler_steps: int | None = Field(
        default=None, gt=0, description="Decode iterations per scheduling pass (vLLM V0's --num-scheduler-steps)."
    )
    moe_all_to_all: bool | None = Field(
        default=None,
        description="MoE tokens sent to their experts' ranks by all-to-all (DeepEP) under dp and ep, instead of "
        "all-gathered (default: the framework's).",
    )
    two_batch_overlap: bool | None = Field(
        default=None,
        description="Two micro-batches per step, one's all-to-all overlapping the other's compute (SGLang TBO, "
        "vLLM DBO; default: the framework's).",
    )
    prefill_tp: int = Field(default=1, gt=0)
    prefill_pp: int = Field(default=1, gt=0)
    prefill_dp: int = Field(default=1, gt=0)
    prefill_ep: int = Field(default=1, gt=0)
    prefill_moe_tp: int | None = Field(default=None, gt=0)
    prefill_redundant_experts: int = Field(default=0, ge=0)
    prefill_moe_all_to_all: bool | None = None
    prefill_two_batch_overlap: bool | None = None
    prefill_workers: int = Field(default=1, gt=0)
    prefill_batch_size: int = Field(default=1, gt=0, description="Prompts per prefill step.")
    decode_tp: int = Field(default=1, gt=0)
    decode_pp: int = Field(default=1, gt=0)
    decode_dp: int = Field(default=1, gt=0)
    decode_ep: int = Field(default=1, gt=0)
    decode_moe_tp: int | None = Field(default=None, gt=0)
    decode_redundant_experts: int = Field(default=0, ge=0)
    decode_moe_all_to_all: bool | None = None
    decode_two_batch_overlap: bool | None = None
    decode_workers: int = Field(default=1, gt=0)
    prefill_system: str | None = Field(
        default=None, min_length=1, description="Hardware id of the prefill pool (default: --system)."
    )
    decode_system: str | None = Field(
        default=None, min_length=1, description="Hardware id of the decode pool (default: --system)."
    )
    decode_batch_size: int | None = Field(default=None, gt=0, description="Most sequences per decode worker.")
    length_distribution: LengthDistribution = Field(
        default=LengthDistribution.FIXED,
        description=(
            "How per-request lengths vary around isl and osl; the shape of a varying one enters the simulation "
            "(--percentiles)."
        ),
    )
    length_spread: float | None = Field(
        default=None, gt=0, description="uniform: the ± ratio around the mean (below 1); lognormal: the shape σ."
    )
    num_requests: int | None = Field(
        default=None,
        gt=0,
        description=(
            f"Requests the benchmark run sends (default: {REQUESTS_PER_USER:g} per closed-loop user); with a burst "
            "start its first wave is one user's first request each."
        ),
    )
    user_start: UserStart = Field(
        default=UserStart.BURST,
        description="Closed-loop users: burst (all start at once, every request counted) or warm (steady state only).",
    )
    user_phase: UserPhase = Field(
        default=UserPhase.SPREAD,
        description="Closed-loop users after their first requests: spread out, or waves (in step; fixed lengths only).",
    )

    @model_validator(mode="after")
    def _one_load(self) -> Self:
        loads = [name for name in ("concurrency", "request_rate", "batch_size") if getattr(self, name) is not None]
        if len(loads) != 1:
            given = ", ".join(loads) or "none"
            raise ValueError(f"give exactly one load: concurrency, request_rate or batch_size (given: {given})")
        if self.mode is ServingMode.STATIC and self.batch_size is None:
            raise ValueError("static batching runs one batch: give batch_size")
        if self.mode is ServingMode.DISAGGREGATED and self.batch_size is not None:
            raise ValueError(
                "disaggregated pools take concurrency or request_rate; their batches are prefill_batch_size "
                "and decode_batch_size"
            )
        if self.replicas > 1 and self.mode is ServingMode.DISAGGREGATED:
            raise ValueError("disaggregated deployments scale with prefill_workers and decode_workers, not replicas")
        ignored = self._ignored_layout_fields()
        if ignored:
            raise ValueError(
                f"{', '.join(ignored)} {'has' if len(ignored) == 1 else 'have'} no effect in mode={self.mode.value}: "
                + (
                    "a disaggregated deployment is laid out with the prefill_* and decode_* fields"
                    if self.mode is ServingMode.DISAGGREGATED
                    else "the prefill_* and decode_* fields lay out disaggregated pools (give mode=disagg)"
                )
            )
        if self.concurrency is not None and self.concurrency % self.replicas:
            raise ValueError(
                f"concurrency={self.concurrency} does not split evenly over replicas={self.replicas}; "
                "give a multiple of the replicas"
            )
        if self.prefix >= self.isl:
            raise ValueError(f"prefix={self.prefix} must be shorter than isl={self.isl}")
        problem = prefix_hit_rate_problem(self.prefix, self.prefix_hit_rate)
        if problem:
            raise ValueError(problem)
        problem = length_spread_problem(self.length_distribution, self.length_spread or 0.0)
        if problem:
            raise ValueError(problem)
        problem = user_phase_problem(self.length_distribution, self.user_phase)
        if problem:
            raise ValueError(problem)
        if self.concurrency is not None and self.num_requests is not None and self.num_requests < self.concurrency:
            raise ValueError(
                f"num_requests={self.num_requests} is fewer than concurrency={self.concurrency}: every user sends "
                "at least one request"
            )
        return self

    def _ignored_layout_fields(self) -> list[str]:
        """Layout fields set away from their defaults that this mode does not read (`name=value` each)."""
        disaggregated = self.mode is ServingMode.DISAGGREGATED
        names = _SERVER_LAYOUT_FIELDS if disaggregated else _POOL_FIELDS
        fields = type(self).model_fields
        return [f"{name}={getattr(self, name)}" for name in names if getattr(self, name) != fields[name].get_default()]

    @classmethod
    def parse(cls, values: dict[str, object]) -> Self:
        """Validate user input; an InputError naming each bad field and value."""
        return cls.parse_input(values, "configuration", "see `servecast estimate --help`")

    def system_of(self, prefix: str) -> str:
        """The system a server runs on: a disaggregated pool's own (`prefill`, `decode`), else `system`."""
        own = {"prefill": self.prefill_system, "decode": self.decode_system}.get(prefix)
        return own or self.system

    @property
    def workload(self) -> Workload:
        return Workload(
            input_tokens=self.isl,
            output_tokens=self.osl,
            prefix_tokens=self.prefix,
            prefix_hit_rate=self.prefix_hit_rate,
            length_distribution=self.length_distribution,
            length_spread=self.length_spread or 0.0,
            user_start=self.user_start,
            user_phase=self.user_phase,
            requests_per_user=self.requests_per_user,
        )

    @property
    def requests_per_user(self) -> float:
        """Requests each closed-loop user sends: the run's requests over its users, or the default."""
        if self.concurrency is None or self.num_requests is None:
            return REQUESTS_PER_USER
        return self.num_requests / self.concurrency

    def exchange(self, role: str = "") -> tuple[bool | None, bool | None]:
        """Whether the aggregated server, or the `prefill` / `decode` pool, is asked to move MoE tokens by
        all-to-all and to overlap two micro-batches (None: the framework's default)."""
        prefix = f"{role}_" if role else ""
        return getattr(self, f"{prefix}moe_all_to_all"), getattr(self, f"{prefix}two_batch_overlap")

    def layout(self, role: str = "") -> ParallelLayout:
        """The layout of the aggregated server, or of the `prefill` / `decode` pool's workers."""
        prefix = f"{role}_" if role else ""
        values = {
            "tp": getattr(self, f"{prefix}tp"),
            "pp": getattr(self, f"{prefix}pp"),
            "attention_dp": getattr(self, f"{prefix}dp"),
            "ep": getattr(self, f"{prefix}ep"),
            "moe_tp": getattr(self, f"{prefix}moe_tp"),
            "redundant_experts": getattr(self, f"{prefix}redundant_experts"),
        }
        try:
            return ParallelLayout.model_validate(values)
        except ValidationError as error:
            message = "; ".join(issue["msg"] for issue in error.errors())
            raise InputError(f"invalid {role or 'server'} layout: {message}", "fix the layout flags") from None
