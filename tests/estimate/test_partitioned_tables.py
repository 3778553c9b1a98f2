"""Partitioned measured tables: one grid over m per exact (n, k), as real models' GEMMs are measured."""

from __future__ import annotations

import pytest

from servecast.domain.kernels import KernelChoices
from servecast.estimate.layered import default_estimator
from servecast.ops.estimator import EstimateProvenance as P
from servecast.ops.estimator import OpKind
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
    estimate = gemm({"m": [16, 64, 16, 16], "n": [4096, 11008, 65536, 4096], "k": [4096, 4096, 4096, 11008]}, "bf16")
    assert estimate.provenance.tolist() == [P.MEASURED, P.INTERPOLATED, P.CALIBRATED_ROOFLINE, P.MEASURED]
    assert estimate.latency_ms[0] == pytest.approx(measured_latency(16, 4096, 4096), abs=1e-6)


def test_each_number_names_the_table_or_model_it_came_from(h100, tmp_path):
    gemm = default_estimator(OpKind.GEMM, h100, KernelChoices(), [load_table(write(tmp_path))])
    estimate = gemm({"m": [16, 16, 16], "n": [4096, 65536, 5000], "k": [4096, 4096, 4096]}, "bf16")
    assert estimate.source_of(0).startswith("a test kernel; measured by the test suite")
    assert "calibrated roofline" in estimate.source_of(1)
    assert "measured-to-model ratio of the nearest shapes in a test kernel" in estimate.source_of(2)


def scaled_table(h100, tmp_path, factor: float) -> PerfTableRef:
    """A table measuring `factor` times the calibrated model at every point of PARTS x M."""
    model = default_estimator(OpKind.GEMM, h100, KernelChoices(), [])
    rows = []
    for n, k in PARTS:
        latency = model({"m": list(M), "n": n, "k": k}, "bf16").latency_ms * factor
        rows += [f"bf16,{n},{k},{m},{value:.9f}" for m, value in zip(M, latency, strict=True)]
    return write(tmp_path, rows)


def ratio_to_model(h100, tmp_path, m, n, k, factor=1.3):
    """Estimate over model, and the provenance, at each shape with a table `factor` times the model."""
    gemm = default_estimator(OpKind.GEMM, h100, KernelChoices(), [load_table(scaled_table(h100, tmp_path, factor))])
    model = default_estimator(OpKind.GEMM, h100, KernelChoices(), [])
    shapes = {"m": m, "n": n, "k": k}
    estimate = gemm(shapes, "bf16")
    return (estimate.latency_ms / model(shapes, "bf16").latency_ms).tolist(), estimate.provenance.tolist()


def test_shapes_between_partitions_take_their_ratio_to_the_model(h100, tmp_path):
    ratios, provenance = ratio_to_model(h100, tmp_path, [16, 300], [5000, 6000], [4096, 8000])
    assert provenance == [P.EXTRAPOLATED, P.EXTRAPOLATED]
    assert all(1.2 < ratio <= 1.3 for ratio in ratios)


def test_the_borrowed_ratio_fades_with_distance_to_the_partitions(h100, tmp_path):
    ratios, provenance = ratio_to_model(h100, tmp_path, [64] * 4, [4500, 9000, 20000, 65536], [4096] * 4)
    assert ratios[0] > ratios[1] > ratios[2] > 1.0
    assert ratios[3] == pytest.approx(1.0)
    assert provenance[3] == P.CALIBRATED_ROOFLINE


def test_beyond_the_measured_token_counts_the_ratio_at_the_edge_holds(h100, tmp_path):
    ratios, _ = ratio_to_model(h100, tmp_path, [4096, 16384], [5000, 5000], [4096, 4096])
    assert ratios[1] == pytest.approx(ratios[0])


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
