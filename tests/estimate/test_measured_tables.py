"""Measured tables: exact hits, log-space interpolation, roofline-anchored extrapolation, and validation."""

from __future__ import annotations

import numpy as np
import pytest

from servecast.domain.kernels import KernelChoices
from servecast.domain.target import Target
from servecast.estimate.layered import default_estimator
from servecast.host import PluginHost
from servecast.ops.estimator import EstimateProvenance as P
from servecast.ops.estimator import OpKind
from servecast.perfdb.folder import tables_in
from servecast.perfdb.loading import PerfTableError, load_table

from ..conftest import FRAMEWORK_TOML


def estimator(h100, ref):
    return default_estimator(OpKind.GEMM, h100, KernelChoices(), [load_table(ref)])


def test_interpolation_reproduces_grid_points_exactly(h100, gemm_table, grid_points, table_latency):
    points = grid_points
    estimate = estimator(h100, gemm_table())(points, "bf16")
    expected = [round(table_latency(m, n, k), 6) for m, n, k in zip(points["m"], points["n"], points["k"], strict=True)]
    assert estimate.latency_ms.tolist() == expected
    assert (estimate.provenance == P.MEASURED).all()


def test_provenance_says_hit_inside_outside_or_no_table(h100, gemm_table):
    gemm = estimator(h100, gemm_table())
    shapes = {"m": [16, 64, 4096, 64, 64], "n": [4096, 6000, 8192, 8192, 8192], "k": [4096, 4096, 8192, 8192, 8192]}
    shapes["batch"] = [1, 1, 1, 1, 2]  # a batched GEMM is not what the table measured
    assert gemm(shapes, "bf16").provenance.tolist() == [
        P.MEASURED,
        P.INTERPOLATED,
        P.EXTRAPOLATED,
        P.INTERPOLATED,
        P.CALIBRATED_ROOFLINE,
    ]
    assert (gemm({"m": 16, "n": 4096, "k": 4096}, "fp8").provenance == P.CALIBRATED_ROOFLINE).all()


def test_estimates_are_continuous_across_the_table_edge(h100, gemm_table):
    gemm = estimator(h100, gemm_table())
    edge = gemm({"m": 1024, "n": 8192, "k": 8192}, "bf16").latency_ms[0]
    just_outside = gemm({"m": 1024 * (1 + 1e-9), "n": 8192, "k": 8192}, "bf16").latency_ms[0]
    assert just_outside == pytest.approx(edge, rel=1e-6)


def test_table_estimates_are_monotone_in_problem_size(h100, gemm_table):
    gemm = estimator(h100, gemm_table())
    m = np.geomspace(1, 16384, 200)
    latency = gemm({"m": m, "n": 6000, "k": 8192}, "bf16").latency_ms
    assert (np.diff(latency) >= -1e-12).all()


def test_extrapolation_keeps_the_edge_ratio_to_the_calibrated_model(h100, gemm_table):
    table = estimator(h100, gemm_table())
    model = default_estimator(OpKind.GEMM, h100, KernelChoices(), [])
    edge, far = {"m": 1024, "n": 8192, "k": 8192}, {"m": 8192, "n": 8192, "k": 8192}
    ratio_edge = table(edge, "bf16").latency_ms[0] / model(edge, "bf16").latency_ms[0]
    ratio_far = table(far, "bf16").latency_ms[0] / model(far, "bf16").latency_ms[0]
    assert ratio_far == pytest.approx(ratio_edge)


def _replace_latency(row: int, value: str):
    def edit(lines):
        cells = lines[row - 1].split(",")
        cells[-1] = value
        lines[row - 1] = ",".join(cells)
        return lines

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_replace_latency(5, "nan"), r"row 5, column latency: latency 'nan' must be a positive finite number"),
        (_replace_latency(7, "-0.2"), r"row 7, column latency: latency '-0.2' must be a positive finite number"),
        (_replace_latency(3, "fast"), r"row 3, column latency: 'fast' is not a number"),
        (lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], r"row 3 is not after row 2: rows must be sorted"),
        (lambda lines: lines[:-1], r"the grid is incomplete: no row for m=1024, n=8192, k=8192"),
        (
            lambda lines: ["dtype,m,n,latency", *lines[1:]],
            r"header is 'dtype,m,n,latency', expected 'dtype,m,n,k,latency'",
        ),
        (lambda lines: [lines[0], "fp8" + lines[1][4:], *lines[2:]], r"row 2, column dtype: 'fp8' is not one of"),
        (lambda lines: [lines[0], lines[1] + ",9", *lines[2:]], r"row 2: 6 cells, expected 5"),
    ],
)
def test_a_corrupted_table_is_a_clear_error_naming_file_row_and_column(gemm_table, edit, message):
    with pytest.raises(PerfTableError, match=message) as raised:
        load_table(gemm_table(edit))
    assert "gemm.csv" in str(raised.value.message) or "gemm.csv" in str(raised.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('hardware = "h100_sxm"', 'hardware = "h200_sxm"'), "hardware is 'h200_sxm' here but the plugin registers"),
        (('axes = ["m", "n", "k"]', 'axes = ["m", "n"]'), r"gemm needs \[.k.\] as an axis, a partition or"),
        (('axes = ["m", "n", "k"]', 'axes = ["m", "n", "q"]'), r"gemm has no shape parameter\(s\) \['q'\]"),
        (('tool = "test-collector 0.1"\n', ""), r"measurement.tool: is required"),
    ],
)
def test_a_wrong_sidecar_is_a_clear_error_naming_the_field(gemm_table, sidecar, change, message):
    with pytest.raises(PerfTableError, match=message):
        load_table(gemm_table(sidecar=sidecar.replace(*change)))


def test_tables_registered_by_plugins_are_used_framework_version_first(fake_site, gemm_table, tmp_path):
    hardware_table = gemm_table()
    framework_dir = tmp_path / "toyserve"
    framework_dir.mkdir()
    framework_csv = framework_dir / "gemm.csv"
    lines = hardware_table.csv_path.read_text().splitlines()
    doubled = [lines[0]] + [
        ",".join([*row.split(",")[:-1], f"{2 * float(row.split(',')[-1]):.6f}"]) for row in lines[1:]
    ]
    framework_csv.write_text("\n".join(doubled) + "\n")
    framework_toml = framework_dir / "gemm.toml"
    framework_toml.write_text(
        hardware_table.metadata_path.read_text()
        .replace('framework = "any"', 'framework = "toyserve"')
        .replace('framework_version = "any"', 'framework_version = "2.0.0"')
    )
    fake_site.add_hardware_plugin("gpu", "h100_sxm")
    fake_site.add_framework_plugin("toy", FRAMEWORK_TOML)
    fake_site.add_plugin(
        "tables",
        f"""
        from servecast import hookimpl
        from servecast.ops.estimator import OpKind
        from servecast.perfdb.table import PerfTableRef

        @hookimpl
        def servecast_register_perf_tables():
            return [
                PerfTableRef(hardware="h100_sxm", op=OpKind.GEMM, csv_path=r"{hardware_table.csv_path}",
                             metadata_path=r"{hardware_table.metadata_path}"),
                PerfTableRef(hardware="h100_sxm", framework="toyserve", framework_version="2.0.0", op=OpKind.GEMM,
                             csv_path=r"{framework_csv}", metadata_path=r"{framework_toml}"),
            ]
        """,
    )
    host: PluginHost = fake_site.host()
    point = {"m": [16, 16], "n": 4096, "k": 4096, "batch": [1, 2]}

    def estimate(framework=None, version=None):
        target = Target(hardware="h100_sxm", framework=framework, framework_version=version)
        return host.op_estimator(OpKind.GEMM, target)(point, "bf16")

    plain, newer, older = estimate(), estimate("toyserve", "2.0.0"), estimate("toyserve", "1.0.0")
    assert plain.provenance.tolist() == [P.MEASURED, P.ROOFLINE]  # the test GPU has no calibration
    assert newer.latency_ms[0] == pytest.approx(2 * plain.latency_ms[0], rel=1e-5)
    assert older.latency_ms[0] == plain.latency_ms[0]


def test_a_context_attention_table_without_prefix_answers_kv_len_equal_to_q_len(h100, tmp_path, sidecar):
    header = sidecar.replace('op = "gemm"', 'op = "context_attention"').replace('axes = ["m", "n", "k"]', "")
    (tmp_path / "attention.toml").write_text(
        header.replace(
            "[measurement]",
            'axes = ["batch", "q_len"]\n[fixed]\nheads = 32\nkv_heads = 8\nhead_dim = 128\n\n[measurement]',
        )
    )
    rows = [f"bf16,{b},{q},{0.01 * b * (q / 1024) ** 2 + 0.005:.6f}" for b in (1, 4) for q in (1024, 4096)]
    (tmp_path / "attention.csv").write_text("\n".join(["dtype,batch,q_len,latency", *rows]) + "\n")
    (ref,) = tables_in(tmp_path)
    attention = default_estimator(OpKind.CONTEXT_ATTENTION, h100, KernelChoices(), [load_table(ref)])
    shapes = {"batch": [4, 4, 2, 4, 4], "q_len": [1024, 1024, 2048, 8192, 1024], "kv_len": [0, 1024, 2048, 8192, 4096]}
    estimate = attention({**shapes, "heads": 32, "kv_heads": 8, "head_dim": 128}, "bf16")
    assert estimate.provenance.tolist() == [
        P.MEASURED,
        P.MEASURED,
        P.INTERPOLATED,
        P.EXTRAPOLATED,
        P.CALIBRATED_ROOFLINE,
    ]
    assert estimate.latency_ms[0] == pytest.approx(0.045)
    edge = attention({"batch": 4, "q_len": 4096, "heads": 32, "kv_heads": 8, "head_dim": 128}, "bf16").latency_ms[0]
    assert estimate.latency_ms[3] > 3 * edge  # beyond the grid, kv_len grows with q_len in the anchor too
