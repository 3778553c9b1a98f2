"""`servecast hardware`: the GPU systems the installed plugins describe."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from servecast.cli.context import echo_json, json_option, plugin_host, registered_json
from servecast.cli.render import print_table
from servecast.collect.plan import shape_value
from servecast.domain import ComputeDtype, HardwareSpec
from servecast.domain.calibration import ParameterOrigin
from servecast.errors import InputError
from servecast.files import write_text_atomically
from servecast.host import Registry
from servecast.ops.estimator import OpKind
from servecast.ops.shapes import OP_SHAPES
from servecast.specfiles.check import check_hardware_files


@click.group()
def hardware() -> None:
    """GPU systems provided by hardware plugins."""


def _tflops(spec: HardwareSpec, dtype: ComputeDtype) -> str:
    rate = spec.gpu.dense_tensor_flops_per_s.get(dtype)
    return "-" if rate is None else f"{rate / 1e12:,.0f}"


def _calibration_level(spec: HardwareSpec) -> str:
    """How a system's efficiencies were obtained, in a word or two: fitted to its own measurements, some derived
    from its own published measurements and the rest transferred from another system's, transferred, or none (the
    pure roofline)."""
    if spec.calibration is None:
        return "none"
    origins = {parameter.origin for parameter in spec.calibration.parameters.values()}
    if ParameterOrigin.FITTED in origins:
        return "fitted"
    return "derived + transferred" if ParameterOrigin.DERIVED in origins else "transferred"


@hardware.command("list")
@json_option
def list_hardware(as_json: bool) -> None:
    """List every known system with its headline figures (dense peaks, memory, links)."""
    registry: Registry[HardwareSpec] = plugin_host().hardware
    entries = list(registry)
    if as_json:
        echo_json([registered_json(entry) for entry in entries])
        return
    print_table(
        None,
        [
            "name",
            "system",
            "memory GB",
            "HBM TB/s",
            "bf16 TFLOPS",
            "fp8 TFLOPS",
            "fp4 TFLOPS",
            "GPUs/node",
            "NVLink/xGMI domain",
            "GPU-GPU GB/s",
            "calibration",
            "plugin",
        ],
        [
            (
                entry.name,
                entry.value.display_name,
                f"{entry.value.gpu.memory_bytes / 1e9:.1f}",
                f"{entry.value.gpu.mem_bw_bytes_per_s / 1e12:.2f}",
                _tflops(entry.value, ComputeDtype.BF16),
                _tflops(entry.value, ComputeDtype.FP8),
                _tflops(entry.value, ComputeDtype.FP4),
                entry.value.node.gpus_per_node,
                entry.value.node.domain_gpus,
                f"{entry.value.node.intra_node_bw_bytes_per_s / 1e9:.0f}",
                _calibration_level(entry.value),
                entry.owner.name,
            )
            for entry in entries
        ],
    )


@hardware.command("show")
@click.argument("name")
@json_option
def show_hardware(name: str, as_json: bool) -> None:
    """Every figure of system NAME with its source, and its calibrated efficiency parameters."""
    entry = plugin_host().hardware.entry(name)
    if as_json:
        echo_json(registered_json(entry))
        return
    spec = entry.value
    rows = []
    for path in spec.figure_paths():
        value: Any = spec
        for part in path.split("."):
            value = value[ComputeDtype(part)] if isinstance(value, dict) else getattr(value, part)
        provenance = spec.provenance[path]
        source = f"{provenance.source.kind.value}: {provenance.source.citation}"
        shown = f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)
        rows.append((path, shown, source, provenance.note or ""))
    print_table(
        f"{spec.display_name} ({spec.name}, plugin {entry.owner.name})",
        ["figure", "value", "source", "note"],
        rows,
    )
    calibration = spec.calibration
    if calibration is None:
        click.echo("no calibration: estimates on this system are the pure roofline")
        return
    print_table(
        f"calibrated efficiency curves (fitted {calibration.fitted_on} by: {calibration.fitted_by})",
        ["parameter", "value", "origin", "note"],
        [(name, f"{p.value:g}", p.origin.value, p.note) for name, p in sorted(calibration.parameters.items())],
    )


@hardware.command("check")
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--tables",
    "tables_folder",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of measured tables (default: tables/ beside the spec).",
)
@json_option
def check_hardware(spec_file: Path, tables_folder: Path | None, as_json: bool) -> None:
    """Check a hardware spec file, its calibration and its tables before installing the plugin (exit 2 on an
    error, naming the file and every problem in it)."""
    report = check_hardware_files(spec_file, tables_folder)
    spec = report.spec
    tables = [
        {"path": str(table.path), "op": table.op.value, "dtypes": list(table.dtypes), "points": table.points}
        for table in report.tables
    ]
    if as_json:
        figures = len(spec.figure_paths())
        echo_json({"name": spec.name, "figures": figures, "tables": tables, "findings": list(report.findings)})
        return
    calibrated = "no calibration" if spec.calibration is None else f"{len(spec.calibration.parameters)} parameters"
    click.echo(f"{spec.name}: {len(spec.figure_paths())} sourced figures, {calibrated}, {len(tables)} tables")
    for table in report.tables:
        click.echo(f"  {table.op.value}: {table.points} points ({', '.join(table.dtypes)}) in {table.path}")
    for finding in report.findings:
        click.echo(f"warning: {finding}")


@hardware.command("fit")
@click.argument("name")
@click.option(
    "--write",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help='Write the calibration file here (the spec names it with `calibration = "<file>"`).',
)
@click.option("--worst", default=3, show_default=True, help="Residuals to list per op, largest first.")
@json_option
def fit_hardware(name: str, output: Path | None, worst: int, as_json: bool) -> None:
    """Re-fit the calibrated-roofline parameters of system NAME to its measured tables, and print residuals.

    The calibrated roofline answers every shape outside the measured grids (and anchors extrapolation from
    them); parameters no table constrains stay assumptions and say so.
    """
    from servecast.calibrate.fit import fit_calibration  # scipy's optimizer: imported by this command only
    from servecast.calibrate.tables import points_from_tables, table_fit_groups
    from servecast.calibrate.writer import calibration_toml

    host = plugin_host()
    spec = host.hardware.get(name)
    refs = [entry.value for entry in host.perf_tables if entry.value.hardware == name and entry.value.framework is None]
    if not refs:
        raise InputError(
            f"{name} has no measured tables to fit to",
            f"measure them with `servecast collect --into <the {name} plugin package>` and reinstall it",
        )
    points = points_from_tables(refs)
    command = f"servecast hardware fit {name}" + (f" --write {output}" if output else "")
    data = [str(ref.csv_path) for ref in refs]
    calibration, residuals, summaries = fit_calibration(
        points, spec.model_copy(update={"calibration": None}), data, command, table_fit_groups(points)
    )
    if as_json:
        echo_json(
            {
                "calibration": calibration.model_dump(mode="json"),
                "groups": summaries,
                "residuals": [
                    {
                        "op": r.point.family,
                        "dtype": r.point.dtype.value,
                        "shape": dict(r.point.shapes),
                        "measured_ms": r.point.measured_ms,
                        "predicted_ms": r.predicted_ms,
                        "error": r.error,
                    }
                    for r in residuals
                ],
            }
        )
    else:
        print_table(f"fit of {name} to {len(points):,} measured points", ["op", "fit"], list(summaries.items()))
        largest = sorted(residuals, key=lambda r: abs(r.error), reverse=True)
        rows = [
            (
                family,
                r.point.dtype.value,
                _shape(family, r.point.shapes),
                f"{r.point.measured_ms:.4g}",
                f"{r.predicted_ms:.4g}",
                f"{r.error:+.1%}",
            )
            for family in summaries
            for r in [r for r in largest if r.point.family == family][:worst]
        ]
        print_table("largest residuals", ["op", "dtype", "shape", "measured ms", "fitted ms", "error"], rows)
    if output is not None:
        write_text_atomically(output, calibration_toml(calibration, name, summaries))
        click.echo(f'wrote {output}; the spec of {name} must name it: calibration = "{output.name}"', err=True)


def _shape(op: str, shapes: Mapping[str, float]) -> str:
    """The shape's parameters that differ from their defaults, written exactly."""
    defaults = {key.name: key.default for key in OP_SHAPES[OpKind(op)]}
    return " ".join(f"{key}={shape_value(value)}" for key, value in shapes.items() if value != defaults.get(key))
