"""The Ampere plugin's hook implementations: the sourced A100 spec, its calibration transferred from H100's, and
A100's measured GEMM table."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from servecast.plugin import HardwareSpec, PerfTableRef, hookimpl, load_hardware_spec, tables_in

DATA = Path(str(files(__package__) / "data"))


@hookimpl
def servecast_register_hardware() -> list[HardwareSpec]:
    """A100 SXM4 80GB (HGX A100 8-GPU nodes) from the sourced datasheet file shipped in this package."""
    return [load_hardware_spec(DATA / "a100_sxm.toml")]


@hookimpl
def servecast_register_perf_tables() -> list[PerfTableRef]:
    """Vidur's published GEMM profiles on A100, built by scripts/build_vidur_tables.py --gpu A100."""
    return tables_in(DATA / "tables")
