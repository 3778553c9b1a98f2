"""The Hopper plugin's hook implementations: the sourced H100 (SXM, PCIe, NVL), H200 and H20 specs, and H100's
measured tables."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from servecast.plugin import HardwareSpec, PerfTableRef, hookimpl, load_hardware_spec, tables_in

DATA = Path(str(files(__package__) / "data"))
SYSTEMS = ("h100_sxm", "h200_sxm", "h100_pcie", "h100_nvl", "h20")


@hookimpl
def servecast_register_hardware() -> list[HardwareSpec]:
    """H100 SXM, H200 SXM and H20 (HGX 8-GPU nodes), H100 PCIe and H100 NVL (8-GPU PCIe servers) from the sourced
    spec files shipped in this package."""
    return [load_hardware_spec(DATA / f"{name}.toml") for name in SYSTEMS]


@hookimpl
def servecast_register_perf_tables() -> list[PerfTableRef]:
    """Published kernel measurements on H100, built by scripts/build_vidur_tables.py (each CSV with its sidecar)."""
    return tables_in(DATA / "tables")
