"""`servecast hardware`: the GPU systems the installed plugins describe."""

from __future__ import annotations

from typing import Any

import click

from servecast.cli.context import echo_json, json_option, plugin_host, registered_json
from servecast.cli.render import print_table
from servecast.domain import ComputeDtype, HardwareSpec
from servecast.host import Registry


@click.group()
def hardware() -> None:
    """GPU systems provided by hardware plugins."""


def _tflops(spec: HardwareSpec, dtype: ComputeDtype) -> str:
    rate = spec.gpu.dense_tensor_flops_per_s.get(dtype)
    return "-" if rate is None else f"{rate / 1e12:,.0f}"


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
            "GPUs/node",
            "NVLink GB/s",
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
                entry.value.node.gpus_per_node,
                f"{entry.value.node.intra_node_bw_bytes_per_s / 1e9:.0f}",
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
        rows.append((path, f"{value:g}", source, provenance.note or ""))
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
