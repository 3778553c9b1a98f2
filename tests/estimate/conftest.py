"""Fixtures for estimation tests: the shipped H100 spec, and a measured GEMM table written on demand."""

from __future__ import annotations

import textwrap
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from servecast.domain.hardware import HardwareSpec
from servecast.ops.estimator import OpKind
from servecast.perfdb.table import PerfTableRef
from servecast.specfiles import load_hardware_spec

GRID_M = (1, 16, 128, 1024)
GRID_N = (4096, 8192)
GRID_K = (4096, 8192)

SIDECAR = textwrap.dedent(
    """
    schema_version = 1
    hardware = "h100_sxm"
    framework = "any"
    framework_version = "any"
    op = "gemm"
    dtypes = ["bf16"]
    kernel = "a test kernel"
    axes = ["m", "n", "k"]
    latency_unit = "ms"

    [measurement]
    kind = "measured"
    tool = "test-collector 0.1"
    date = 2026-11-01
    gpu = "NVIDIA H100 80GB HBM3"
    software = "CUDA 12.8"
    method = "CUDA events, median of 50 after 10 warm-up"
    by = "the test suite"
    """
)


def measured_latency(m: float, n: float, k: float) -> float:
    """A plausible, monotone GEMM time: weights streamed at 2.5 TB/s or math at 700 TFLOPS, plus 3 us."""
    return max(2 * m * n * k / 700e12, (n * k * 2 + m * (n + k) * 2) / 2.5e12) * 1e3 + 0.003


@pytest.fixture(scope="session")
def h100() -> HardwareSpec:
    return load_hardware_spec(Path(str(files("servecast_hardware_h100") / "data" / "h100_sxm.toml")))


@pytest.fixture
def gemm_table(tmp_path: Path):
    """Write a GEMM table (optionally corrupted by `edit`) and return its PerfTableRef."""

    def write(edit=lambda lines: lines, sidecar: str = SIDECAR) -> PerfTableRef:
        lines = ["dtype,m,n,k,latency"]
        lines += [f"bf16,{m},{n},{k},{measured_latency(m, n, k):.6f}" for m in GRID_M for n in GRID_N for k in GRID_K]
        csv_path = tmp_path / "gemm.csv"
        csv_path.write_text("\n".join(edit(lines)) + "\n")
        metadata_path = tmp_path / "gemm.toml"
        metadata_path.write_text(sidecar)
        return PerfTableRef(hardware="h100_sxm", op=OpKind.GEMM, csv_path=csv_path, metadata_path=metadata_path)

    return write


@pytest.fixture
def grid_points() -> dict[str, np.ndarray]:
    """Every point of the test table's grid."""
    points = [(m, n, k) for m in GRID_M for n in GRID_N for k in GRID_K]
    return {name: np.array([p[i] for p in points], dtype=float) for i, name in enumerate("mnk")}


@pytest.fixture
def sidecar() -> str:
    return SIDECAR


@pytest.fixture
def table_latency():
    return measured_latency
