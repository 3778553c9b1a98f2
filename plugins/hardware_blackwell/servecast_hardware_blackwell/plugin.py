"""The Blackwell plugin's hook implementations: the sourced B200 spec and its calibration, transferred from H100's."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from servecast.plugin import HardwareSpec, hookimpl, load_hardware_spec

DATA = Path(str(files(__package__) / "data"))


@hookimpl
def servecast_register_hardware() -> list[HardwareSpec]:
    """B200 (HGX B200 8-GPU nodes) from the sourced datasheet file shipped in this package."""
    return [load_hardware_spec(DATA / "b200_sxm.toml")]
