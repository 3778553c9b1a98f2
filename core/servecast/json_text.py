"""Strict JSON for every document servecast prints or writes: numbers JSON cannot hold (infinity, NaN) become
null, and the object holding them gains a `non_finite` entry saying which they were and what that means."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np

NON_FINITE_KEY = "non_finite"
NON_FINITE_REASON = {
    "inf": "unbounded: never reached at this load (a saturated server, or a request that never starts)",
    "-inf": "unbounded below",
    "nan": "undefined here",
}


def _non_finite(value: object) -> str | None:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return None


def strict(data: object) -> object:
    """`data` as plain JSON values: non-finite floats as None, explained in their object's `non_finite` entry
    (`{"ttft_ms": null, "non_finite": {"ttft_ms": "inf: unbounded: ..."}}`)."""
    if isinstance(data, Mapping):
        cleaned: dict[str, object] = {}
        notes: dict[str, str] = {}
        for key, value in data.items():
            text = _non_finite(value)
            if text is not None:
                notes[str(key)] = f"{text}: {NON_FINITE_REASON[text]}"
            cleaned[str(key)] = None if text is not None else strict(value)
        if notes:
            cleaned[NON_FINITE_KEY] = notes
        return cleaned
    if isinstance(data, list | tuple):
        return [None if _non_finite(item) else strict(item) for item in data]
    if isinstance(data, np.ndarray):
        return strict(data.tolist())
    if isinstance(data, np.generic):
        return data.item()
    if isinstance(data, Enum):
        return data.value
    return data


def json_text(data: object) -> str:
    """`data` as indented, standard JSON (RFC 8259) ending in a newline; see `strict` for non-finite numbers."""
    return json.dumps(strict(data), indent=2, allow_nan=False, default=_fallback) + "\n"


def _fallback(value: Any) -> str:
    return str(value)
