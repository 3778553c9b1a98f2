"""The H100 plugin's hook implementations."""

from __future__ import annotations

from importlib.resources import files

from servecast import hookimpl
from servecast.domain import HardwareSpec
from servecast.specfiles import load_hardware_spec


@hookimpl
def servecast_register_hardware() -> list[HardwareSpec]:
    """H100 SXM (HGX 8-GPU node) from the sourced datasheet file shipped in this package."""
    return [load_hardware_spec(str(files(__package__) / "data" / "h100_sxm.toml"))]
