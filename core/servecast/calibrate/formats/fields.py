"""The numbers, names and loads a benchmark result states, read so that a bad value is an error naming its file."""

from __future__ import annotations

import math
from collections.abc import Mapping

from servecast.errors import InputError

Record = Mapping[str, object]
"""One JSON object of a result file."""

FIX_FILE = "pass the file the benchmark tool wrote, unedited, or fix the value"


def nested(data: Record, *keys: str) -> object:
    """The value under `keys` (one level each), or None where a level is missing or not an object."""
    value: object = data
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def number(value: object, name: str, origin: str) -> float | None:
    """`value` as a float; None when absent (null). An InputError quoting it when it is not a number; the strings
    'inf' and 'Infinity' that some tools write for an unlimited rate read as infinity."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "infinity"):
        return math.inf
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{origin}: {name} = {value!r} is not a number", FIX_FILE)
    return float(value)


def count(value: object, name: str, origin: str) -> int | None:
    """A whole, finite, non-negative count (of requests, tokens, GPUs); None when absent."""
    amount = number(value, name, origin)
    if amount is None:
        return None
    if not math.isfinite(amount) or amount < 0 or not amount.is_integer():
        raise InputError(f"{origin}: {name} = {value!r} is not a whole number of at least 0", FIX_FILE)
    return int(amount)


def completed(value: object, name: str, origin: str) -> int:
    """The requests a run completed: stated, and at least one."""
    done = count(value, name, origin)
    if done is None:
        raise InputError(f"{origin}: no {name!r}: the run does not say how many requests it completed", FIX_FILE)
    if done == 0:
        raise InputError(
            f"{origin}: {name} = 0: the run completed no request, so it measured nothing",
            "check the server and the benchmark's errors, rerun it, and drop this result",
        )
    return done


def mean_length(total: float, requests: int, what: str, origin: str) -> int:
    """Tokens per request: the run's total over its completed requests, rounded; at least one."""
    mean = total / requests
    if not math.isfinite(mean) or round(mean) < 1:
        raise InputError(
            f"{origin}: {total:g} {what} tokens over {requests} requests is not a length of at least one token",
            FIX_FILE,
        )
    return round(mean)


def metric(value: object, name: str, origin: str, scale: float = 1.0) -> float | None:
    """A measured mean times `scale` (a unit change); None when absent, zero or not finite (a tool's placeholder
    for a metric it did not measure); an InputError when negative."""
    mean = number(value, name, origin)
    if mean is None or not math.isfinite(mean) or mean == 0:
        return None
    if mean < 0:
        raise InputError(f"{origin}: {name} = {value!r} is negative; a mean time or rate cannot be", FIX_FILE)
    return mean * scale


def measured(origin: str, means: Mapping[str, float | None]) -> dict[str, float]:
    """The usable means by MEASURED_METRICS name; an InputError when none is."""
    kept = {name: value for name, value in means.items() if value is not None}
    if not kept:
        raise InputError(
            f"{origin}: no usable measured mean (TTFT, TPOT, end-to-end latency or output throughput)",
            "use a streaming benchmark run, which measures time to first token and per output token",
        )
    return kept


def load(origin: str, *, users: int | None, rate: float | None, requests: int | None) -> dict[str, object]:
    """The one load a run states: a concurrency limit as closed-loop users (no more than the requests sent); else a
    finite request rate as Poisson arrivals; else, with an unlimited rate, every request sent at once: a batch of
    all of them. Empty when the run states neither a limit nor a rate."""
    if users:
        return {"concurrency": min(users, requests) if requests else users}
    if rate is None:
        return {}
    if math.isfinite(rate):
        if rate <= 0:
            raise InputError(
                f"{origin}: request rate {rate:g} is not a positive number of requests per second", FIX_FILE
            )
        return {"request_rate": rate}
    if math.isnan(rate) or rate < 0:
        raise InputError(f"{origin}: request rate {rate!r} is not a positive number of requests per second", FIX_FILE)
    return {"batch_size": requests} if requests else {}


def text(value: object, name: str, origin: str) -> str | None:
    """A non-empty name (a model id, a version); None when absent or empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{origin}: {name} = {value!r} is not a name", FIX_FILE)
    return value.strip() or None


def positive_layout(settings: dict[str, object], name: str, value: object, origin: str) -> None:
    """Set `settings[name]` to a stated GPU count (tp, pp, ep, ...) when it is at least one; tools write 0 or -1
    for a size they leave to the runtime, which states nothing."""
    amount = number(value, name, origin)
    if amount is None or not math.isfinite(amount) or amount < 1:
        return
    if not amount.is_integer():
        raise InputError(f"{origin}: {name} = {value!r} is not a whole number of GPUs", FIX_FILE)
    settings[name] = int(amount)
