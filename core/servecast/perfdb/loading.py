"""Reading and validating a measured table: CSV rows on a full, sorted grid, with its TOML sidecar."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from servecast.domain.base import validation_problems
from servecast.errors import SpecFileError
from servecast.estimate.dtypes import OpDtype
from servecast.perfdb.grid import GridTable
from servecast.perfdb.metadata import ANY, TableMetadata
from servecast.perfdb.table import PerfTableRef
from servecast.specfiles.common import read_toml

LATENCY_COLUMN = "latency"
DTYPE_COLUMN = "dtype"


class PerfTableError(SpecFileError):
    """A measured table that cannot be used: the message names the file, row and column."""


def load_table(ref: PerfTableRef) -> dict[OpDtype, GridTable]:
    """The table's grids, one per data type, after checking the sidecar against the registration and the CSV."""
    metadata = load_metadata(ref)
    return read_grid(Path(ref.csv_path), metadata)


def read_metadata(path: Path) -> TableMetadata:
    """A sidecar, validated; a PerfTableError naming each bad field otherwise."""
    try:
        return TableMetadata.model_validate(read_toml(path))
    except ValidationError as error:
        raise PerfTableError(path, validation_problems(error)) from None


def load_metadata(ref: PerfTableRef) -> TableMetadata:
    path = Path(ref.metadata_path)
    metadata = read_metadata(path)
    registered = {
        "hardware": ref.hardware,
        "framework": ref.framework or ANY,
        "framework_version": ref.framework_version or ANY,
        "op": ref.op.value,
    }
    described = {
        "hardware": metadata.hardware,
        "framework": metadata.framework,
        "framework_version": metadata.framework_version,
        "op": metadata.op.value,
    }
    for field, value in registered.items():
        if described[field] != value:
            raise PerfTableError(
                path,
                f"{field} is {described[field]!r} here but the plugin registers the table for {value!r}",
                "make the sidecar and the PerfTableRef agree",
            )
    return metadata


def read_grid(path: Path, metadata: TableMetadata) -> dict[OpDtype, GridTable]:
    """Parse and validate the CSV: columns, numbers, positivity, sort order and grid completeness."""
    columns = [DTYPE_COLUMN, *metadata.axes, LATENCY_COLUMN]
    try:
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise PerfTableError(path, "the file is empty", f"write a header row: {','.join(columns)}")
            header = [name.strip() for name in header]
            if header != columns:
                raise PerfTableError(
                    path,
                    f"header is {','.join(header)!r}, expected {','.join(columns)!r}",
                    "the columns are dtype, the axes in the sidecar's order, then latency",
                )
            rows = list(enumerate(reader, start=2))
    except FileNotFoundError:
        raise PerfTableError(path, "file not found", "reinstall the plugin that ships it") from None
    if not rows:
        raise PerfTableError(path, "no data rows", "add measurements below the header")
    scale = 1e-3 if metadata.latency_unit == "us" else 1.0
    groups: dict[OpDtype, list[tuple[int, tuple[float, ...], float]]] = {}
    previous: tuple[int, tuple[object, ...]] | None = None
    for line, cells in rows:
        if len(cells) != len(columns):
            raise PerfTableError(path, f"row {line}: {len(cells)} cells, expected {len(columns)}")
        dtype = _dtype(path, line, cells[0], metadata)
        values = tuple(_number(path, line, column, cell) for column, cell in zip(columns[1:], cells[1:], strict=True))
        key = (list(metadata.dtypes).index(dtype), *values[:-1])
        if previous is not None and key <= previous[1]:
            raise PerfTableError(
                path,
                f"row {line} is not after row {previous[0]}: rows must be sorted by dtype (in the sidecar's order) "
                f"then by {', '.join(metadata.axes)}, ascending, without repeats",
                "sort the file",
            )
        previous = (line, key)
        groups.setdefault(dtype, []).append((line, values[:-1], values[-1] * scale))
    return {dtype: _grid(path, metadata, entries) for dtype, entries in groups.items()}


def _dtype(path: Path, line: int, cell: str, metadata: TableMetadata) -> OpDtype:
    try:
        dtype = OpDtype(cell.strip())
    except ValueError:
        dtype = None
    if dtype is None or dtype not in metadata.dtypes:
        allowed = ", ".join(d.value for d in metadata.dtypes)
        raise PerfTableError(path, f"row {line}, column dtype: {cell!r} is not one of the sidecar's dtypes ({allowed})")
    return dtype


def _number(path: Path, line: int, column: str, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise PerfTableError(path, f"row {line}, column {column}: {cell!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        what = "latency" if column == LATENCY_COLUMN else "shape value"
        raise PerfTableError(path, f"row {line}, column {column}: {what} {cell!r} must be a positive finite number")
    return value


def _grid(path: Path, metadata: TableMetadata, entries: list[tuple[int, tuple[float, ...], float]]) -> GridTable:
    axes = [sorted({point[i] for _, point, _ in entries}) for i in range(len(metadata.axes))]
    expected = len(entries)
    if math.prod(len(axis) for axis in axes) != expected:
        present = {point for _, point, _ in entries}
        missing = next(point for point in itertools.product(*axes) if point not in present)
        described = ", ".join(f"{name}={value:g}" for name, value in zip(metadata.axes, missing, strict=True))
        raise PerfTableError(path, f"the grid is incomplete: no row for {described}", "measure every combination")
    latency = np.array([value for _, _, value in entries]).reshape([len(axis) for axis in axes])
    return GridTable(
        axes=tuple(metadata.axes),
        points=tuple(np.array(axis) for axis in axes),
        latency_ms=latency,
        held=metadata.held(),
        tied=metadata.tied(),
    )
