"""The AMD Instinct plugin's hooks: the sourced MI300X, MI325X and MI355X specs and their calibrations."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from servecast.plugin import HardwareSpec, hookimpl, load_hardware_spec

DATA = Path(str(files(__package__) / "data"))
SYSTEMS = ("mi300x", "mi325x", "mi355x")


@hookimpl
def servecast_register_hardware() -> list[HardwareSpec]:
    """MI300X, MI325X and MI355X (8-GPU Infinity Fabric platforms) from the sourced datasheet files in this package."""
    return [load_hardware_spec(DATA / f"{name}.toml") for name in SYSTEMS]
