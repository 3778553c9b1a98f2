"""Numbers as users write them in flags and files: text or JSON/TOML numbers, anything else not a number."""

from __future__ import annotations

import math


def parse_number(value: object) -> float:
    """`value` as a float: a number, or text that reads as one; NaN for anything else (a boolean included), so that
    the caller's own check names the value."""
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            pass
    return math.nan
