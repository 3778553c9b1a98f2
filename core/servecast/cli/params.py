"""Parameter types of the command line that refuse nonsense where it is typed (exit 2, naming the flag)."""

from __future__ import annotations

import math
from typing import Any

import click


class PositiveNumber(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.2
    """A finite number above zero: latency targets, rates, ratios (not 0, negative, NaN or infinity)."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            number = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number) or number <= 0:
            self.fail(f"{value!r} is not a finite number above 0", param, ctx)
        return number


POSITIVE_NUMBER = PositiveNumber()
COUNT = click.IntRange(min=1)
"""A whole number of at least 1: tokens, GPUs, users."""
NON_NEGATIVE_COUNT = click.IntRange(min=0)


def flag_name(field: str) -> str:
    """The command-line flag of a field: `--prefill-tp` for prefill_tp."""
    return "--" + field.replace("_", "-")
