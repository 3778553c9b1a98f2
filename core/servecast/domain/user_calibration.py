"""A calibration fitted to a user's own benchmark runs: a few interpretable corrections for one system, framework
and version, with their uncertainty and the cross-validated errors behind every prediction interval."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from servecast.domain.base import FrozenModel


class Correction(StrEnum):
    """How a user parameter acts on the shipped model."""

    SCALE = "scale"
    """Divides the time of a family of kernels: 1.1 means they run 10 % faster than the shipped model says."""
    OFFSET = "offset"
    """Adds to a quantity the shipped model computes, whatever the framework version (0 is the prior); the sum is
    never below zero."""


@dataclass(frozen=True)
class UserParameter:
    """One parameter `servecast calibrate` may fit: what it means, its unit, and the prior that holds it."""

    correction: Correction
    unit: str
    prior_sigma: float
    """One standard deviation of the prior: in log units for a scale, in `unit` otherwise."""
    bounds: tuple[float, float]
    description: str


USER_PARAMETERS: dict[str, UserParameter] = {
    "gemm.efficiency_scale": UserParameter(
        Correction.SCALE,
        "x",
        0.25,
        (0.25, 4.0),
        "speed of the GEMM and MoE kernels relative to the shipped estimate (measured tables and roofline alike)",
    ),
    "attention.efficiency_scale": UserParameter(
        Correction.SCALE,
        "x",
        0.25,
        (0.25, 4.0),
        "speed of the attention kernels (prefill, decode, MLA) relative to the shipped estimate",
    ),
    "communication.efficiency_scale": UserParameter(
        Correction.SCALE,
        "x",
        0.25,
        (0.25, 4.0),
        "speed of the collectives and pipeline sends relative to the shipped estimate",
    ),
    "frontend.request_ms": UserParameter(
        Correction.OFFSET,
        "ms",
        20.0,
        (-50.0, 2000.0),
        "front-end time of one online request outside the engine (HTTP, tokenizing, first-token return), added to "
        "the framework version's",
    ),
    "scheduler.iteration_cpu_ms": UserParameter(
        Correction.OFFSET,
        "ms",
        2.0,
        (-5.0, 100.0),
        "CPU time of one engine iteration independent of the batch (scheduling, input preparation, outputs), added "
        "to the framework version's",
    ),
    "memory.reserve_gib": UserParameter(
        Correction.OFFSET,
        "GiB",
        2.0,
        (-8.0, 64.0),
        "memory per GPU kept from the KV cache beyond the shipped memory model (negative: more cache than modelled)",
    ),
}
"""Every parameter a user calibration may fit, by name."""


class FittedValue(FrozenModel):
    """One user parameter: its value, the shipped value it started from, and its one-sigma uncertainty."""

    value: float
    shipped: float = Field(description="The value without the user's data: the prior's centre.")
    sigma: float | None = Field(
        ge=0,
        description="One standard deviation of the fitted value (log units for a scale); None when the data do not "
        "identify it and it stays at the shipped value.",
    )
    note: str = Field(min_length=3)


class ErrorQuantiles(FrozenModel):
    """The spread of log(measured / predicted) of one metric over out-of-sample rows: what an interval scales by."""

    p10: float
    p50: float
    p90: float
    rows: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.p10 <= self.p50 <= self.p90:
            raise ValueError(f"quantiles out of order: p10 {self.p10}, p50 {self.p50}, p90 {self.p90}")
        return self


class UserCalibration(FrozenModel):
    """Corrections fitted to measured runs of one framework version on one system, and their out-of-sample errors."""

    system: str = Field(min_length=1)
    framework: str = Field(min_length=1)
    framework_versions: tuple[str, ...] = Field(
        min_length=1, description="The modelled versions the runs were predicted with: the versions it corrects."
    )
    fitted_by: str = Field(min_length=3)
    fitted_on: dt.date
    data: tuple[str, ...] = Field(min_length=1, description="The benchmark files the fit read.")
    rows: int = Field(gt=0, description="Measured runs the fit used.")
    parameters: dict[str, FittedValue]
    prior_width: float = Field(
        default=1.0,
        ge=0,
        description="The width of the priors relative to the default ones that cross-validation chose (0: the "
        "shipped model predicted the runs best and every parameter kept its value).",
    )
    errors: dict[str, ErrorQuantiles] = Field(
        description="Per metric (ttft_ms, tpot_ms, throughput_tokens_per_s, e2e_ms), the cross-validated spread of "
        "log(measured / predicted) with this calibration: its prediction intervals."
    )
    mape: dict[str, dict[str, float]] = Field(
        description="Per metric, mean |error| in % of the shipped model ('shipped'), of this fit on its own rows "
        "('in_fold') and cross-validated ('cross_validated')."
    )

    @model_validator(mode="after")
    def _known_parameters(self) -> Self:
        unknown = sorted(set(self.parameters) - set(USER_PARAMETERS))
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(USER_PARAMETERS)}")
        for name, fitted in self.parameters.items():
            low, high = USER_PARAMETERS[name].bounds
            if not low <= fitted.value <= high:
                raise ValueError(f"{name} = {fitted.value!r} is outside [{low:g}, {high:g}]")
        return self

    def value(self, name: str) -> float | None:
        """The fitted value of parameter `name`, None where the calibration leaves it at the shipped model's."""
        fitted = self.parameters.get(name)
        return None if fitted is None or fitted.sigma is None else fitted.value

    @property
    def label(self) -> str:
        """The calibration in a few words, for outputs: what it covers and when it was fitted."""
        return (
            f"{self.framework} {' / '.join(self.framework_versions)} on {self.system}, fitted "
            f"{self.fitted_on.isoformat()} to {self.rows} measured runs"
        )
