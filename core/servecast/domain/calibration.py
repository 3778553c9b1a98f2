"""Calibrated efficiency parameters of one GPU system: fitted or assumed values, each saying which it is."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from servecast.domain.base import FrozenModel


class ParameterOrigin(StrEnum):
    """How a calibration parameter got its value."""

    FITTED = "fitted"
    """Least-squares fit to measurements (the file names them and the fit's residuals)."""
    DERIVED = "derived"
    """Computed directly from one published measurement or from other parameters (the note says how)."""
    ASSUMPTION = "assumption"
    """No measurement constrains it yet; the note says why the value is plausible."""
    TRANSFERRED = "transferred"
    """Taken from another system's calibration, whose GPU shares what the parameter describes (the note says what
    carries over and how it was obtained there)."""


class Parameter(FrozenModel):
    """One efficiency-model parameter."""

    value: float
    origin: ParameterOrigin
    note: str = Field(min_length=3)


class Calibration(FrozenModel):
    """The efficiency-curve parameters the calibrated roofline of a system uses, keyed by dotted name."""

    fitted_by: str = Field(min_length=3, description="The command that produced the fitted values.")
    fitted_on: dt.date
    data: tuple[str, ...] = Field(min_length=1, description="The measurement files the fit used.")
    parameters: dict[str, Parameter]

    @model_validator(mode="after")
    def _efficiencies_are_fractions(self) -> Self:
        for name, parameter in self.parameters.items():
            if name.endswith("efficiency") and not 0 < parameter.value <= 1:
                raise ValueError(f"{name} = {parameter.value!r}: an efficiency is a fraction of a peak, in (0, 1]")
            if parameter.value < 0:
                raise ValueError(f"{name} = {parameter.value!r} is negative")
        return self

    def value(self, name: str) -> float:
        """The value of parameter `name` (KeyError naming what exists otherwise)."""
        try:
            return self.parameters[name].value
        except KeyError:
            raise KeyError(f"no calibration parameter {name!r}; have: {', '.join(sorted(self.parameters))}") from None

    def has(self, *names: str) -> bool:
        return all(name in self.parameters for name in names)
