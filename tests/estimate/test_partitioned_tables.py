"""Partitioned measured tables: one grid over m per exact (n, k), as real models' GEMMs are measured."""

from __future__ import annotations

import pytest

from servecast.domain.kernels import KernelChoices
from servecast.estimate.estimator import EstimateProvenance as P
from servecast.estimate.estimator import OpKind
from servecast.estimate.layered import default_estimator
from servecast.perfdb.loading import PerfTableError, load_table
from servecast.perfdb.table import PerfTableRef

from .conftest import SIDECAR, measured_latency

PARTS = ((4096, 4096), (4096, 11008), (11008, 4096))
M = (1, 16, 256, 4096)
PARTITIONED = SIDECAR.replace('axes = ["m", "n", "k"]', 'partition = ["n", "k"]\naxes = ["m"]')


def write(tmp_path, rows=None, sidecar=PARTITIONED) -> PerfTableRef:
    lines = ["dtype,n,k,m,latency"]
    lines += rows or [f"bf16,{n},{k},{m},{measured_latency(m, n, k):.6f}" for n, k in PARTS for m in M]
    (tmp_path / "gemm.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "gemm.toml").write_text(sidecar)
    return PerfTableRef(
        hardware="h100_sxm", op=OpKind.GEMM, csv_path=tmp_path / "gemm.csv", metadata_path=tmp_path / "gemm.toml"
    )


def test_a_partition_answers_only_its_own_n_and_k(h100, tmp_path):
    gemm = default_estimator(OpKind.GEMM, h100, KernelChoices(), [load_table(write(tmp_path))])
    estimate = gemm({"m": [16, 64, 16, 16], "n": [4096, 11008, 8192, 4096], "k": [4096, 4096, 4096, 11008]}, "bf16")
    assert estimate.provenance.tolist() == [P.MEASURED, P.INTERPOLATED, P.CALIBRATED_ROOFLINE, P.MEASURED]
    assert estimate.latency_ms[0] == pytest.approx(measured_latency(16, 4096, 4096), abs=1e-6)


def test_each_number_names_the_table_or_model_it_came_from(h100, tmp_path):
    gemm = default_estimator(OpKind.GEMM, h100, KernelChoices(), [load_table(write(tmp_path))])
    estimate = gemm({"m": [16, 16], "n": [4096, 8192], "k": [4096, 4096]}, "bf16")
    assert estimate.source_of(0).startswith("a test kernel; measured by the test suite")
    assert "calibrated roofline" in estimate.source_of(1)


def test_each_partition_keeps_its_own_grid(h100, tmp_path):
    """A shape measured at fewer token counts interpolates between its own points, not its neighbours'."""
    rows = [f"bf16,{n},{k},{m},{measured_latency(m, n, k):.6f}" for n, k in PARTS for m in M if (n, k) != PARTS[1]]
    rows.insert(4, f"bf16,4096,11008,1,{measured_latency(1, 4096, 11008):.6f}")
    rows.insert(5, f"bf16,4096,11008,4096,{measured_latency(4096, 4096, 11008):.6f}")
    gemm = default_estimator(OpKind.GEMM, h100, KernelChoices(), [load_table(write(tmp_path, rows))])
    assert gemm({"m": [256, 256], "n": [4096, 4096], "k": [4096, 11008]}, "bf16").provenance.tolist() == [
        P.MEASURED,
        P.INTERPOLATED,
    ]


def test_rows_must_be_sorted_by_partition_then_axes(h100, tmp_path):
    rows = [f"bf16,{n},{k},{m},1.0" for n, k in reversed(PARTS) for m in M]
    with pytest.raises(PerfTableError, match="then by n, k, m, ascending"):
        load_table(write(tmp_path, rows))


def test_a_parameter_cannot_be_both_a_partition_and_an_axis(h100, tmp_path):
    sidecar = PARTITIONED.replace('axes = ["m"]', 'axes = ["m", "n"]')
    with pytest.raises(PerfTableError, match="only one of a partition, an axis or fixed"):
        load_table(write(tmp_path, sidecar=sidecar))
