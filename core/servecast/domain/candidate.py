"""One point of the search space before it is evaluated: what a framework plugin may veto."""

from __future__ import annotations

from pydantic import Field

from servecast.domain.base import FrozenModel
from servecast.domain.layout import ParallelLayout
from servecast.domain.vocabulary import KvCacheDtype, Quantization, ServingMode


class Candidate(FrozenModel):
    """A model served in one mode with one layout, quantization and batch/token budget."""

    model: str = Field(min_length=1, description="Model id as the user gave it.")
    mode: ServingMode
    layout: ParallelLayout
    quantization: Quantization
    kv_cache_dtype: KvCacheDtype
    max_batch_size: int | None = Field(default=None, gt=0)
    max_num_tokens: int | None = Field(default=None, gt=0)
