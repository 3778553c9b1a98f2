"""`servecast ops`: estimate a table of primitive ops on a system, and describe the table's columns."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click

from servecast.cli.context import echo_json, json_option, plugin_host
from servecast.cli.csv_io import read_csv_rows, write_csv
from servecast.cli.render import print_table
from servecast.domain.target import Target
from servecast.errors import InputError
from servecast.estimate.op_table import OP_TABLE_COLUMNS, OUTPUT_COLUMNS, TableEstimate, estimate_rows
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import EstimateProvenance


@click.group()
def ops() -> None:
    """Primitive op estimates: latency, provenance and speed of light per row of a table."""


@ops.command("schema")
@json_option
def schema(as_json: bool) -> None:
    """The input columns of each op, the data types, and the output columns."""
    described = {
        name: {
            "op_kind": spec.kind.value,
            "description": spec.description,
            "columns": {column.name: column.description for column in spec.columns},
            "dtype": ("required" if spec.dtype_required else "optional") if spec.has_dtype else "not used",
        }
        for name, spec in OP_TABLE_COLUMNS.items()
    }
    if as_json:
        echo_json(
            {
                "ops": described,
                "dtypes": [dtype.value for dtype in OpDtype],
                "passthrough": ["case_id"],
                "output": list(OUTPUT_COLUMNS),
            }
        )
        return
    print_table(
        "Input: a column 'op' plus that op's columns (an optional case_id passes through)",
        ["op", "columns", "dtype", "what"],
        [(name, ", ".join(d["columns"]), str(d["dtype"]), str(d["description"])) for name, d in described.items()],
    )
    click.echo(f"dtype values: {', '.join(dtype.value for dtype in OpDtype)}")
    click.echo(
        "Output: the input columns plus latency_ms, provenance (measured | interpolated | extrapolated | "
        "calibrated_roofline | roofline), source (the table or model the number came from) and sol_ms (the pure "
        "roofline at datasheet peaks)."
    )


@ops.command("estimate")
@click.option("--system", required=True, help="Hardware id, e.g. h100_sxm (`servecast hardware list`).")
@click.option("--framework", default=None, help="Use this framework's kernels (`servecast frameworks list`).")
@click.option("--framework-version", default=None, help="Framework version (default: the newest modelled).")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    help="CSV of ops ('-' for standard input).",
)
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a CSV here.")
@json_option
def estimate(
    system: str,
    framework: str | None,
    framework_version: str | None,
    input_path: Path,
    output_path: Path | None,
    as_json: bool,
) -> None:
    """Estimate every row of an op table; rows with errors are named on stderr and the rest still estimated.

    Exits with status 2 when any row could not be estimated (the output still lists it, with its error).
    """
    if (output_path is None) == (not as_json):
        raise InputError("give exactly one of --output FILE and --json", "--output writes CSV, --json prints JSON")
    host = plugin_host()
    hardware = host.hardware.get(system)
    if framework is not None:
        version, note = host.nearest_framework_version(framework, framework_version)
        framework_version = version.version
        if note:
            click.echo(f"note: {note}", err=True)
    elif framework_version is not None:
        raise InputError("--framework-version needs --framework", "name the framework too")
    target = Target(hardware=system, framework=framework, framework_version=framework_version)
    header, rows = read_csv_rows(input_path, "op", "op plus the op's columns (`servecast ops schema`)")
    estimate = estimate_rows(rows, lambda kind: host.op_estimator(kind, target), hardware)
    columns = [*header, *OUTPUT_COLUMNS] + (["error"] if estimate.errors else [])
    records = [_record(row, index, estimate, columns) for index, row in enumerate(rows)]
    if as_json:
        echo_json(records)
    else:
        assert output_path is not None
        write_csv(output_path, columns, records)
    _report(estimate, output_path)
    if estimate.errors:
        sys.exit(2)


def _record(row: dict[str, str], index: int, estimate: TableEstimate, columns: list[str]) -> dict[str, object]:
    record: dict[str, object] = {name: row.get(name, "") for name in columns if name not in OUTPUT_COLUMNS}
    failed = index in estimate.errors
    record.update(
        latency_ms=None if failed else float(estimate.latency_ms[index]),
        provenance=estimate.provenance_name(index),
        source=estimate.source.get(index) or None,
        sol_ms=None if failed else float(estimate.sol_ms[index]),
    )
    if "error" in columns:
        record["error"] = estimate.errors.get(index, "")
    return record


def _report(estimate: TableEstimate, output_path: Path | None) -> None:
    for index in sorted(estimate.errors):
        click.echo(f"error: {estimate.errors[index]}", err=True)
    levels = Counter(int(level) for level in estimate.provenance if level >= 0)
    summary = ", ".join(f"{count} {EstimateProvenance(level).label}" for level, count in levels.most_common())
    where = f" -> {output_path}" if output_path else ""
    total = len(estimate.provenance)
    click.echo(f"{sum(levels.values())} of {total} rows estimated ({summary or 'none'}){where}", err=True)
