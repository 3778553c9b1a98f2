"""The Ada Lovelace plugin's hook implementations: the sourced L40S and L4 specs, with calibrations transferred from
the H100 SXM's."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from servecast.plugin import HardwareSpec, hookimpl, load_hardware_spec

DATA = Path(str(files(__package__) / "data"))
SYSTEMS = ("l40s", "l4")


@hookimpl
def servecast_register_hardware() -> list[HardwareSpec]:
    """L40S and L4 in 8-card PCIe servers, from the sourced datasheet files shipped in this package."""
    return [load_hardware_spec(DATA / f"{name}.toml") for name in SYSTEMS]
