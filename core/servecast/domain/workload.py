"""What the user serves and what they promise: request lengths and latency targets."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from servecast.domain.base import FrozenModel


class Workload(FrozenModel):
    """Request shape: tokens in, tokens out, and how many input tokens are a prefix shared by every request."""

    input_tokens: int = Field(gt=0, description="Prompt length (ISL), prefix included.")
    output_tokens: int = Field(gt=0, description="Generated tokens per request (OSL).")
    prefix_tokens: int = Field(default=0, ge=0, description="Leading prompt tokens shared by all requests.")

    @model_validator(mode="after")
    def _prefix_fits_in_prompt(self) -> Self:
        if self.prefix_tokens >= self.input_tokens:
            raise ValueError(
                f"prefix_tokens={self.prefix_tokens} must be shorter than input_tokens={self.input_tokens}: "
                "at least one prompt token is always computed"
            )
        return self


class Sla(FrozenModel):
    """Latency targets a deployment must meet; an unset target does not constrain."""

    ttft_ms: float | None = Field(default=None, gt=0, description="Time to first token, queueing included.")
    tpot_ms: float | None = Field(default=None, gt=0, description="Time per output token after the first.")
    request_latency_ms: float | None = Field(default=None, gt=0, description="End-to-end time of one request.")

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
