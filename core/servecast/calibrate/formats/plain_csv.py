"""A plain CSV of measured runs, one a row, for benchmarks that no other format covers.

Each row states its configuration in `EstimateRequest` columns (`servecast estimate`'s batch CSV) and its means in
`ttft_ms`, `tpot_ms`, `e2e_ms` and `throughput_tokens_per_s` (output tokens per second of the whole deployment).

Empty cells state nothing (the command line fills them); numeric fields become int or float, the others stay text.
"""

from __future__ import annotations

import csv
import math
import typing
from pathlib import Path

from servecast.calibrate.formats.fields import measured
from servecast.calibrate.runs import MEASURED_METRICS, MeasuredRun
from servecast.csv_table import parse_csv
from servecast.errors import InputError
from servecast.serving.request import EstimateRequest

FIELDS = tuple(EstimateRequest.model_fields)
"""The configuration columns: EstimateRequest's fields (including `id`)."""
COLUMNS = (*FIELDS, *MEASURED_METRICS)


def header_is_known(text: str) -> bool:
    """Whether the first non-empty line of `text` names at least one column this format reads."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return any(name.strip() in COLUMNS for name in next(csv.reader([first]), []))


def read_rows(path: Path, text: str) -> list[MeasuredRun]:
    """One measured run per row of the CSV `text` read from `path`."""
    table = parse_csv(text, str(path))
    if not table.header:
        raise InputError(f"{path}: empty", "the first row names the columns, each further row is one run")
    _check_header(path, table.header)
    runs = [_run(f"{path}, line {number}", table.header, cells) for number, cells in table.rows]
    if not runs:
        raise InputError(f"{path}: no rows under the header", "add one row per measured run")
    return runs


def _check_header(path: Path, header: list[str]) -> None:
    unknown = [name for name in header if name and name not in COLUMNS]
    if unknown:
        raise InputError(
            f"{path}: unknown column(s) {', '.join(map(repr, unknown))}",
            f"name the columns after EstimateRequest's fields ({', '.join(FIELDS)}) and the measured means "
            f"({', '.join(MEASURED_METRICS)})",
        )
    if not any(name in MEASURED_METRICS for name in header):
        raise InputError(
            f"{path}: no measured column (header: {', '.join(name for name in header if name)})",
            f"add at least one of {', '.join(MEASURED_METRICS)}",
        )


def _run(origin: str, header: list[str], cells: list[str]) -> MeasuredRun:
    settings: dict[str, object] = {}
    means: dict[str, float | None] = {}
    for name, cell in zip(header, cells, strict=False):
        value = cell.strip()
        if not name or not value:
            continue
        if name in MEASURED_METRICS:
            means[name] = _mean(origin, name, value)
        else:
            settings[name] = _setting(origin, name, value)
    return MeasuredRun(origin, settings, measured(origin, means))


def _mean(origin: str, name: str, value: str) -> float | None:
    """A measured mean; None when zero or not finite (not measured), an InputError when negative or not a number."""
    try:
        mean = float(value)
    except ValueError:
        raise InputError(f"{origin}: {name} = {value!r} is not a number", "write the mean as a plain number") from None
    if mean < 0:
        raise InputError(f"{origin}: {name} = {value!r} is negative; a mean time or rate cannot be", "fix the value")
    return mean if math.isfinite(mean) and mean > 0 else None


def _setting(origin: str, name: str, value: str) -> object:
    """A configuration cell as the field's type: int or float where the field is numeric, else the text."""
    kind = _numeric_kind(name)
    try:
        if kind is int:
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        if kind is float:
            return float(value)
    except ValueError:
        raise InputError(
            f"{origin}: {name} = {value!r} is not a {'whole number' if kind is int else 'number'}",
            f"give {name} as a plain number",
        ) from None
    return value


def _numeric_kind(name: str) -> type | None:
    """int or float when EstimateRequest's field `name` holds that number (optionally None), else None."""
    annotation = EstimateRequest.model_fields[name].annotation
    options = typing.get_args(annotation) or (annotation,)
    for kind in (int, float):
        if kind in options:
            return kind
    return None
