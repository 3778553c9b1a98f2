"""The load a deployment serves: closed-loop users, an open-loop request rate, or a server kept full."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from servecast.arrays import FloatArray


@dataclass(frozen=True)
class Load:
    """Exactly one of: `concurrency` users each sending the next request when the last finishes (how vllm bench,
    genai-perf and aiperf measure); Poisson arrivals at `request_rate_per_s`; or `full_batch` sequences always
    running (offline maximum throughput, every request queued at once)."""

    concurrency: int | None = None
    request_rate_per_s: float | None = None
    full_batch: int | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.concurrency, self.request_rate_per_s, self.full_batch) if v is not None]
        if len(given) != 1 or given[0] <= 0:
            raise ValueError("a Load is exactly one positive concurrency, request rate or full batch")

    def __str__(self) -> str:
        if self.concurrency is not None:
            return f"concurrency {self.concurrency}"
        if self.request_rate_per_s is not None:
            return f"{self.request_rate_per_s:g} requests/s"
        return f"full batch of {self.full_batch}"


class LoadKind(StrEnum):
    """What a load level counts: closed-loop users, Poisson requests per second, or sequences kept running."""

    CONCURRENCY = "concurrency"
    REQUEST_RATE = "request_rate"
    FULL_BATCH = "full_batch"


@dataclass(frozen=True)
class LoadLevels:
    """One kind of load at several levels: what the serving models evaluate at once (the search sweeps them)."""

    kind: LoadKind
    values: FloatArray

    @classmethod
    def of(cls, load: Load) -> LoadLevels:
        """`load` as a single level."""
        if load.concurrency is not None:
            return cls(LoadKind.CONCURRENCY, np.array([float(load.concurrency)]))
        if load.request_rate_per_s is not None:
            return cls(LoadKind.REQUEST_RATE, np.array([load.request_rate_per_s]))
        return cls(LoadKind.FULL_BATCH, np.array([float(load.full_batch or 0)]))
