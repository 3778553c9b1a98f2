"""A benchmark run as calibration reads it: the configuration its file states and the means it measured."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MEASURED_METRICS = ("ttft_ms", "tpot_ms", "e2e_ms", "throughput_tokens_per_s")
"""The measured means a run may carry: time to first token, time per output token after the first, request
latency, and output tokens per second of the whole deployment."""


@dataclass(frozen=True)
class MeasuredRun:
    """One measured configuration: where it was read, the `EstimateRequest` fields its file states, and its means."""

    origin: str
    """Where the run was read, for messages: 'path' or 'path, line N'."""
    settings: Mapping[str, object] = field(default_factory=dict)
    """EstimateRequest fields the file states (model, isl, osl, one load, layout, ...); the command line fills
    the rest and must not contradict them."""
    measured: Mapping[str, float] = field(default_factory=dict)
    """Measured means by MEASURED_METRICS name, each positive."""
