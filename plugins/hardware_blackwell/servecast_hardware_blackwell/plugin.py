"""The Blackwell plugin's hook implementations: the sourced B200, B300, GB200 NVL72 and GB300 NVL72 specs and their
calibrations, transferred from H100's."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from servecast.plugin import HardwareSpec, hookimpl, load_hardware_spec

DATA = Path(str(files(__package__) / "data"))
SYSTEMS = ("b200_sxm", "b300_sxm", "gb200_nvl72", "gb300_nvl72")


@hookimpl
def servecast_register_hardware() -> list[HardwareSpec]:
    """B200 and B300 (HGX 8-GPU nodes), GB200 NVL72 and GB300 NVL72 (racks of 18 four-GPU trays in one 72-GPU
    NVLink domain) from the sourced spec files shipped in this package."""
    return [load_hardware_spec(DATA / f"{name}.toml") for name in SYSTEMS]
