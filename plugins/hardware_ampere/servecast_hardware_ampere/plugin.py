"""The Ampere plugin's hook implementations: the sourced A100 SXM4 80GB and 40GB specs, their calibrations
transferred from H100's, and the 80 GB part's measured GEMM table."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from servecast.plugin import HardwareSpec, PerfTableRef, hookimpl, load_hardware_spec, tables_in

DATA = Path(str(files(__package__) / "data"))
SYSTEMS = ("a100_sxm", "a100_sxm_40gb")


@hookimpl
def servecast_register_hardware() -> list[HardwareSpec]:
    """A100 SXM4 80GB and 40GB (HGX A100 8-GPU nodes) from the sourced datasheet files shipped in this package."""
    return [load_hardware_spec(DATA / f"{name}.toml") for name in SYSTEMS]


@hookimpl
def servecast_register_perf_tables() -> list[PerfTableRef]:
    """Vidur's published GEMM profiles on A100, built by scripts/build_vidur_tables.py --gpu A100."""
    return tables_in(DATA / "tables")
