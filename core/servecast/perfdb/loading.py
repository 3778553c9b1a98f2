"""Reading and validating a measured table: CSV rows on a full, sorted grid, with its TOML sidecar."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from servecast.arrays import FloatArray, IntArray
from servecast.domain.base import validation_problems
from servecast.errors import SpecFileError
from servecast.ops.dtypes import OpDtype
from servecast.perfdb.grid import GridTable, MeasuredGrid, PartitionedTable
from servecast.perfdb.metadata import ANY, TableMetadata
from servecast.perfdb.table import PerfTableRef
from servecast.toml_file import read_toml

LATENCY_COLUMN = "latency"
DTYPE_COLUMN = "dtype"


class PerfTableError(SpecFileError):
    """A measured table that cannot be used: the message names the file, row and column."""


def load_table(ref: PerfTableRef) -> dict[OpDtype, MeasuredGrid]:
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


def read_grid(path: Path, metadata: TableMetadata) -> dict[OpDtype, MeasuredGrid]:
    """Parse and validate the CSV: columns, numbers, positivity, sort order and grid completeness (of each
    partition's grid, where the table is partitioned)."""
    keyed = [*metadata.partition, *metadata.axes]
    columns = [DTYPE_COLUMN, *keyed, LATENCY_COLUMN]
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
                    "the columns are dtype, the partition and the axes in the sidecar's order, then latency",
                )
            rows = list(enumerate(reader, start=2))
    except FileNotFoundError:
        raise PerfTableError(path, "file not found", "reinstall the plugin that ships it") from None
    if not rows:
        raise PerfTableError(path, "no data rows", "add measurements below the header")
    lines = np.array([line for line, _ in rows])
    for line, cells in rows:
        if len(cells) != len(columns):
            raise PerfTableError(path, f"row {line}: {len(cells)} cells, expected {len(columns)}")
    order = {dtype.value: index for index, dtype in enumerate(metadata.dtypes)}
    dtype_index = np.array([order.get(cells[0].strip(), -1) for _, cells in rows])
    for position in np.flatnonzero(dtype_index < 0)[:1]:
        _dtype(path, int(lines[position]), rows[position][1][0], metadata)
    values = _numbers(path, rows, columns)
    keys = np.column_stack([dtype_index, values[:, :-1]])
    _check_sorted(path, lines, keys, keyed)
    latency = values[:, -1] * (1e-3 if metadata.latency_unit == "us" else 1.0)
    split = len(metadata.partition)
    starts = np.flatnonzero(np.r_[True, (np.diff(keys[:, : 1 + split], axis=0) != 0).any(axis=1)])
    groups: dict[OpDtype, dict[tuple[float, ...], GridTable]] = {}
    for start, end in zip(starts, [*starts[1:], len(rows)], strict=True):
        dtype = metadata.dtypes[int(keys[start, 0])]
        key = tuple(float(value) for value in values[start, :split])
        grid = _grid(path, metadata, values[start:end, split:-1], latency[start:end])
        groups.setdefault(dtype, {})[key] = grid
    if not split:
        return {dtype: parts[()] for dtype, parts in groups.items()}
    return {
        dtype: PartitionedTable(names=metadata.partition, parts=parts, source=metadata.source)
        for dtype, parts in groups.items()
    }


def _numbers(path: Path, rows: list[tuple[int, list[str]]], columns: list[str]) -> FloatArray:
    """Every cell after the dtype as a float array, each a positive finite number (the first bad cell named)."""
    try:
        values = np.array([cells[1:] for _, cells in rows], dtype=np.float64)
    except ValueError:
        values = None
    bad = None if values is None else ~np.isfinite(values) | (values <= 0)
    if values is None or (bad is not None and bad.any()):
        for line, cells in rows:  # find and name the first bad cell
            for column, cell in zip(columns[1:], cells[1:], strict=True):
                _number(path, line, column, cell)
    assert values is not None
    return values


def _check_sorted(path: Path, lines: IntArray, keys: FloatArray, keyed: list[str]) -> None:
    """Rows strictly ascending by dtype (in the sidecar's order), then the partition and axes: no repeats."""
    if len(keys) < 2:
        return
    step = np.diff(keys, axis=0)
    changed = step != 0
    first = changed.argmax(axis=1)
    ascending = changed.any(axis=1) & (step[np.arange(len(step)), first] > 0)
    for position in np.flatnonzero(~ascending)[:1]:
        raise PerfTableError(
            path,
            f"row {lines[position + 1]} is not after row {lines[position]}: rows must be sorted by dtype (in the "
            f"sidecar's order) then by {', '.join(keyed)}, ascending, without repeats",
            "sort the file",
        )


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


def _grid(path: Path, metadata: TableMetadata, points: FloatArray, latency: FloatArray) -> GridTable:
    """One full grid over the axes from its rows (sorted, without repeats): an error naming a missing point."""
    axes = [np.array(sorted(set(points[:, i].tolist()))) for i in range(len(metadata.axes))]
    if math.prod(len(axis) for axis in axes) != len(points):
        present = {tuple(point) for point in points.tolist()}
        missing = next(point for point in itertools.product(*(a.tolist() for a in axes)) if point not in present)
        described = ", ".join(f"{name}={value:g}" for name, value in zip(metadata.axes, missing, strict=True))
        raise PerfTableError(path, f"the grid is incomplete: no row for {described}", "measure every combination")
    return GridTable(
        axes=tuple(metadata.axes),
        points=tuple(axes),
        latency_ms=latency.reshape([len(axis) for axis in axes]),
        held=metadata.held(),
        tied=metadata.tied(),
        source=metadata.source,
    )
