"""Request traces: when each request arrived and how long its prompt and reply were, read from the public formats
that serving benchmarks replay, for the simulation to replay and the means to summarise.

Formats (`read_trace` tells them apart by their fields):
- Mooncake JSON Lines (kvcache-ai/Mooncake's traces, replayed by AIPerf and Dynamo's tools): one object a line
  with `timestamp` (ms since the first request), `input_length`, `output_length` and optional `hash_ids` (prompt
  blocks, shared where prompts share a prefix) and `session_id`;
- Azure LLM inference traces (Azure/AzurePublicDataset, 2023 and 2024): CSV columns `TIMESTAMP` (date and time),
  `ContextTokens`, `GeneratedTokens`;
- BurstGPT (HPMLL/BurstGPT): CSV columns `Timestamp` (s), `Request tokens`, `Response tokens`;
- plain CSV: `timestamp_s` or `timestamp_ms`, `input_tokens`, `output_tokens`, optional `session_id`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from servecast.arrays import FloatArray, IntArray
from servecast.csv_table import parse_csv
from servecast.domain.workload import LOGNORMAL_TAIL_Z
from servecast.errors import InputError
from servecast.files import read_input_text
from servecast.numbers import parse_number

_HINT = (
    "give a Mooncake JSON Lines trace (timestamp ms, input_length, output_length), an Azure LLM inference or "
    "BurstGPT CSV, or a CSV with timestamp_s or timestamp_ms, input_tokens and output_tokens"
)
_CSV_FORMATS: dict[str, tuple[str, str, str, float | None]] = {
    "azure": ("TIMESTAMP", "ContextTokens", "GeneratedTokens", None),
    "burstgpt": ("Timestamp", "Request tokens", "Response tokens", 1000.0),
    "csv (s)": ("timestamp_s", "input_tokens", "output_tokens", 1000.0),
    "csv (ms)": ("timestamp_ms", "input_tokens", "output_tokens", 1.0),
}
"""CSV formats: (time column, input column, output column, ms per time unit; None: a date and time)."""


@dataclass(frozen=True)
class Trace:
    """Requests in arrival order: arrival times from the first request's, prompt and reply lengths."""

    arrival_ms: FloatArray
    input_tokens: IntArray
    output_tokens: IntArray
    source: str
    format: str

    def __len__(self) -> int:
        return len(self.arrival_ms)

    @property
    def duration_s(self) -> float:
        return float(self.arrival_ms[-1] - self.arrival_ms[0]) / 1000.0

    @property
    def request_rate_per_s(self) -> float:
        """Requests per second over the trace (arrivals after the first over the time they span)."""
        if len(self) < 2 or self.duration_s <= 0:
            raise InputError(
                f"{self.source}: its {len(self)} request(s) arrive at one instant: the trace has no rate",
                "give a trace whose requests span some time, or --concurrency / --request-rate",
            )
        return (len(self) - 1) / self.duration_s

    def lognormal_spread(self) -> float:
        """σ of the lognormal with the spread of the trace's request lengths (prompt plus reply), in (0, 2], and no
        wider than keeps the lognormal's longest (where it is cut, `LOGNORMAL_TAIL_Z`) within the trace's longest
        prompt and reply: the means then check the budget and the cache against what the trace holds."""
        sigma = float(np.log(self.input_tokens + self.output_tokens).std())
        for lengths in (self.input_tokens, self.output_tokens):
            # exp(z σ - σ² / 2) = longest / mean at the smaller root σ = z - sqrt(z² - 2 ln(longest / mean))
            room = LOGNORMAL_TAIL_Z**2 - 2 * math.log(float(lengths.max()) / float(lengths.mean()))
            if room > 0:
                sigma = min(sigma, LOGNORMAL_TAIL_Z - math.sqrt(room))
        return float(np.clip(sigma, 1e-3, 2.0))

    def request_fields(self) -> dict[str, Any]:
        """What the trace says of an estimate request: its mean lengths, its rate as random arrivals and its
        lengths' spread as a lognormal's."""
        return {
            "isl": max(1, round(float(self.input_tokens.mean()))),
            "osl": max(2, round(float(self.output_tokens.mean()))),
            "request_rate": self.request_rate_per_s,
            "length_distribution": "lognormal",
            "length_spread": self.lognormal_spread(),
        }

    def replica(self, replicas: int) -> Trace:
        """The requests one of `replicas` identical instances receives when they take turns."""
        return Trace(
            self.arrival_ms[::replicas] - self.arrival_ms[0],
            self.input_tokens[::replicas],
            self.output_tokens[::replicas],
            self.source,
            self.format,
        )

    def summary(self) -> dict[str, Any]:
        """What the trace holds: its size, span, rate and length percentiles."""
        lengths = {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}
        return {
            "source": self.source,
            "format": self.format,
            "requests": len(self),
            "duration_s": self.duration_s,
            "requests_per_s": self.request_rate_per_s,
            **{
                name: {
                    "mean": float(values.mean()),
                    **{f"p{q}": float(np.percentile(values, q)) for q in (50, 90, 99)},
                    "max": int(values.max()),
                }
                for name, values in lengths.items()
            },
        }


def read_trace(path: Path) -> Trace:
    """The trace in the file at `path`; an InputError naming the line of a missing field, a bad value or a timestamp
    earlier than the one before it."""
    text = read_input_text(path, "trace", _HINT)
    if text.lstrip().startswith("{"):
        rows, fmt = _jsonl_rows(text, str(path)), "mooncake"
    else:
        rows, fmt = _csv_rows(text, str(path))
    if not rows:
        raise InputError(f"{path}: no requests", _HINT)
    times = np.array([row[1] for row in rows])
    backwards = np.flatnonzero(np.diff(times) < 0)
    if len(backwards):
        line, before = rows[backwards[0] + 1][0], rows[backwards[0]][0]
        raise InputError(
            f"{path}, line {line}: its timestamp comes before line {before}'s: a trace lists requests in arrival order",
            "sort the trace by timestamp",
        )
    return Trace(
        times - times[0],
        np.array([row[2] for row in rows], dtype=np.int64),
        np.array([row[3] for row in rows], dtype=np.int64),
        str(path),
        fmt,
    )


TRACE_SETS = (
    "isl",
    "osl",
    "concurrency",
    "request_rate",
    "batch_size",
    "num_requests",
    "length_distribution",
    "length_spread",
)
"""The estimate fields a trace sets (`Trace.request_fields` and the replay), which may not be given beside it."""


def with_trace_fields(
    given: Mapping[str, Any], trace: Trace, sets: Sequence[str], spell: Callable[[str], str] = str
) -> dict[str, Any]:
    """`given` with the fields among `sets` that `trace` sets (`Trace.request_fields`); an InputError naming (as
    `spell` writes them) those of `sets` given too."""
    clash = [spell(name) for name in sets if given.get(name) is not None]
    if clash:
        what = "the lengths" if set(sets) <= {"isl", "osl"} else "the lengths and the load"
        raise InputError(
            f"{spell('trace')} sets {what}; also given: {', '.join(clash)}", "leave those out, or the trace"
        )
    return {**given, **{name: value for name, value in trace.request_fields().items() if name in sets}}


def as_trace(trace: str | Path | Trace) -> Trace:
    """`trace`, read where it is a path."""
    return trace if isinstance(trace, Trace) else read_trace(Path(trace))


Row = tuple[int, float, int, int]
"""(line, arrival ms, input tokens, output tokens)."""


def _jsonl_rows(text: str, name: str) -> list[Row]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{name}, line {number}: not a JSON object: {error.msg}", _HINT) from None
        if not isinstance(record, dict):
            raise InputError(f"{name}, line {number}: not a JSON object", _HINT)
        fields = []
        for key in ("timestamp", "input_length", "output_length"):
            if key not in record:
                raise InputError(f"{name}, line {number}: no {key!r}", _HINT)
            fields.append(_number(record[key], key, name, number, whole=key != "timestamp"))
        rows.append((number, fields[0], int(fields[1]), int(fields[2])))
    return rows


def _csv_rows(text: str, name: str) -> tuple[list[Row], str]:
    table = parse_csv(text, name)
    fmt = next((fmt for fmt, columns in _CSV_FORMATS.items() if set(columns[:3]) <= set(table.header)), None)
    if fmt is None:
        columns = ", ".join(table.header) or "none"
        raise InputError(f"{name}: columns {columns} are no trace format servecast reads", _HINT)
    time_column, input_column, output_column, unit = _CSV_FORMATS[fmt]
    rows = []
    for (number, _), record in zip(table.rows, table.records(), strict=True):
        values = {}
        for column in (time_column, input_column, output_column):
            if not record.get(column):
                raise InputError(f"{name}, line {number}: no {column!r}", _HINT)
        stamp = record[time_column]
        if unit is None:
            values["time"] = _timestamp_ms(stamp, name, number)
        else:
            values["time"] = unit * _number(stamp, time_column, name, number, whole=False)
        values["input"] = _number(record[input_column], input_column, name, number, whole=True)
        values["output"] = _number(record[output_column], output_column, name, number, whole=True)
        rows.append((number, values["time"], int(values["input"]), int(values["output"])))
    return rows, fmt


def _number(value: object, field: str, name: str, number: int, whole: bool) -> float:
    """`value` as a finite number (a positive whole one where `whole`)."""
    result = parse_number(value)
    if not math.isfinite(result) or (whole and (result < 1 or result != int(result))):
        kind = "a whole number of tokens, at least 1" if whole else "a number"
        raise InputError(f"{name}, line {number}: {field} = {value!r} is not {kind}", _HINT)
    return result


def _timestamp_ms(value: str, name: str, number: int) -> float:
    """An Azure trace's `2023-11-16 18:15:46.6805900` as ms since the epoch (fractions beyond microseconds cut)."""
    stamp, _, fraction = value.partition(".")
    try:
        moment = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
    except ValueError:
        raise InputError(f"{name}, line {number}: TIMESTAMP = {value!r} is not a date and time", _HINT) from None
    seconds = moment.timestamp() + (float(f"0.{fraction}") if fraction.isdigit() else 0.0)
    return seconds * 1000.0
