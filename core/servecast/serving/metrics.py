"""What a serving estimate reports: the latencies and throughputs benchmark tools measure."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import cast

import numpy as np
from numpy.typing import NDArray

from servecast.arrays import FloatArray
from servecast.json_text import strict
from servecast.serving.tails import LatencyTails


class Limiter(StrEnum):
    """What keeps a configuration from serving more."""

    LOAD = "load"
    """The offered load: the server has room for more."""
    BATCH_LIMIT = "batch_limit"
    """The framework's maximum batch size."""
    KV_CAPACITY = "kv_capacity"
    """The KV cache: no more sequences fit."""
    PREFILL = "prefill"
    """Prompt processing (the token budget or the prefill pool) cannot keep up."""
    DECODE = "decode"
    """The decode pool cannot keep up."""


@dataclass(frozen=True)
class ServingMetrics:
    """Steady-state means for one configuration under one load (TPOT as benchmark tools define it)."""

    ttft_ms: float
    """Arrival to first token, queueing included (infinite when the offered rate exceeds the capacity)."""
    tpot_ms: float
    """(end-to-end - TTFT) / (output tokens - 1)."""
    e2e_ms: float
    requests_per_s: float
    output_tokens: int
    num_gpus: int
    running: float
    """Mean sequences in flight on one instance (decode instance for disaggregated)."""
    limiter: Limiter
    warnings: tuple[str, ...] = field(default=())
    percentiles: dict[str, float] = field(default_factory=dict)
    """The fast model's P90 and P99 of each latency (`ttft_p99_ms`, ...; `serving.tails`), where it prices them."""

    @property
    def throughput_tokens_per_s(self) -> float:
        """Output tokens per second of the whole deployment."""
        return self.requests_per_s * self.output_tokens

    @property
    def tokens_per_s_per_gpu(self) -> float:
        return self.throughput_tokens_per_s / self.num_gpus

    @property
    def tokens_per_s_per_user(self) -> float:
        """The generation speed one user sees."""
        return 1000.0 / self.tpot_ms if self.tpot_ms > 0 else math.inf

    def replicated(self, replicas: int) -> ServingMetrics:
        """The metrics of `replicas` identical instances sharing the load evenly."""
        if replicas == 1:
            return self
        return replace(self, requests_per_s=self.requests_per_s * replicas, num_gpus=self.num_gpus * replicas)

    def as_dict(self) -> dict[str, object]:
        """The JSON fields of `servecast estimate` (infinite values as null, explained under `non_finite`)."""
        values: dict[str, object] = {
            "ttft_ms": self.ttft_ms,
            "tpot_ms": self.tpot_ms,
            "e2e_ms": self.e2e_ms,
            "throughput_tokens_per_s": self.throughput_tokens_per_s,
            "tokens_per_s_per_gpu": self.tokens_per_s_per_gpu,
            "tokens_per_s_per_user": self.tokens_per_s_per_user,
            "requests_per_s": self.requests_per_s,
            "num_gpus": self.num_gpus,
            "running_sequences": self.running,
            "limiter": self.limiter.value,
            **self.percentiles,
        }
        return cast(dict[str, object], strict(values))


LIMITERS = tuple(Limiter)
"""Limiters by code, the order `ServingPoints.limiter` indexes."""


@dataclass(frozen=True)
class ServingPoints:
    """Steady-state means of one deployment at several load levels, as arrays (one element per level)."""

    ttft_ms: FloatArray
    tpot_ms: FloatArray
    requests_per_s: FloatArray
    running: FloatArray
    limiter: NDArray[np.int64]
    """Index into `LIMITERS`."""
    overloaded: NDArray[np.bool_]
    """The offered request rate exceeds the capacity (TTFT is unbounded)."""
    output_tokens: int
    num_gpus: NDArray[np.int64]
    tails: LatencyTails | None = None
    """The latencies' distributions (`serving.tails`), where the model prices them."""

    @property
    def e2e_ms(self) -> FloatArray:
        result: FloatArray = self.ttft_ms + (self.output_tokens - 1) * self.tpot_ms
        return result

    def part(self, levels: slice) -> ServingPoints:
        """The points of the load levels `levels`."""
        return replace(
            self,
            ttft_ms=self.ttft_ms[levels],
            tpot_ms=self.tpot_ms[levels],
            requests_per_s=self.requests_per_s[levels],
            running=self.running[levels],
            limiter=self.limiter[levels],
            overloaded=self.overloaded[levels],
            num_gpus=self.num_gpus[levels],
            tails=self.tails.part(levels) if self.tails is not None else None,
        )

    def metrics(self, index: int, overload_warning: str = "", *caveats: str) -> ServingMetrics:
        """The metrics of one level, with `overload_warning` when that level is overloaded and the `caveats`
        (warnings that hold at any load) that are not empty."""
        overload = (overload_warning,) if overload_warning and self.overloaded[index] else ()
        warnings = (*overload, *(caveat for caveat in caveats if caveat))
        return ServingMetrics(
            ttft_ms=float(self.ttft_ms[index]),
            tpot_ms=float(self.tpot_ms[index]),
            e2e_ms=float(self.e2e_ms[index]),
            requests_per_s=float(self.requests_per_s[index]),
            output_tokens=self.output_tokens,
            num_gpus=int(self.num_gpus[index]),
            running=float(self.running[index]),
            limiter=LIMITERS[int(self.limiter[index])],
            warnings=warnings,
            percentiles={} if self.tails is None else self.tails.point_percentiles(index),
        )


def queued_users(users: int, running: float) -> str:
    """A warning where most closed-loop users wait in the queue (TTFT is mostly that wait), or ""."""
    if users <= QUEUED_USERS_RATIO * max(running, 1.0):
        return ""
    return (
        f"of the {users:,} users only about {running:,.0f} run at once (the batch limit or the KV cache): the others "
        "wait in the queue, which is most of the TTFT; fewer users or more instances serve them"
    )


QUEUED_USERS_RATIO = 2.0
"""Users per running sequence above which the queue, not the server, sets the TTFT."""
