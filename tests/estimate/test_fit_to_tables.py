"""`servecast hardware fit`: the calibrated roofline re-fitted to a system's own measured tables.

The tables here are synthetic on purpose: written by the calibrated model with known parameters (and labelled
so in their sidecars), so a correct fit must recover those parameters and leave no residual.
"""

from __future__ import annotations

import itertools
import json
import textwrap

import numpy as np
import pytest

from servecast.calibrate.fit import fit_calibration
from servecast.calibrate.tables import points_from_tables, table_fit_groups
from servecast.domain.calibration import ParameterOrigin
from servecast.domain.kernels import KernelChoices
from servecast.estimate.calibrated import CalibratedModel
from servecast.estimate.parameters import CALIBRATION_PARAMETERS
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind
from servecast.ops.shapes import normalize_shapes
from servecast.perfdb.folder import tables_in
from servecast.specfiles.calibration_file import load_calibration

TRUE_VALUES = {
    "gemm.efficiency.bf16": 0.55,
    "gemm.memory_efficiency": 0.6,
    "elementwise.memory_efficiency": 0.5,
    "decode_attention.memory_efficiency": 0.7,
    "decode_attention.head_overhead": 3.0,
}
GRIDS = {
    OpKind.GEMM: {"m": (1, 16, 256, 4096), "n": (1024, 8192), "k": (1024, 8192)},
    OpKind.ELEMENTWISE: {"bytes": (2**16, 2**20, 2**24, 2**28)},
    OpKind.DECODE_ATTENTION: {
        "batch": (16, 256),
        "kv_len": (1024, 8192),
        "heads": (8,),
        "kv_heads": (1, 2, 8),
        "head_dim": (128,),
    },
}


def sidecar(hardware: str, op: OpKind, axes) -> str:
    return textwrap.dedent(
        f"""
        schema_version = 1
        hardware = "{hardware}"
        framework = "any"
        framework_version = "any"
        op = "{op.value}"
        dtypes = ["bf16"]
        kernel = "synthetic: the calibrated model with known parameters"
        axes = {json.dumps(list(axes))}

        [measurement]
        kind = "published_measurement"
        tool = "the test suite's synthetic generator"
        date = 2026-11-21
        gpu = "none: synthetic"
        software = "none"
        method = "computed, not measured"
        by = "the test suite"
        """
    )


@pytest.fixture
def synthetic_tables(tmp_path, h100):
    """Tables the calibrated model writes for h100_sxm with TRUE_VALUES in place of the shipped parameters."""
    folder = tmp_path / "tables"
    folder.mkdir()
    calibration = h100.calibration
    changed = {
        name: parameter.model_copy(update={"value": TRUE_VALUES[name]})
        for name, parameter in calibration.parameters.items()
        if name in TRUE_VALUES
    }
    truth = h100.model_copy(
        update={"calibration": calibration.model_copy(update={"parameters": {**calibration.parameters, **changed}})}
    )
    for op, axes in GRIDS.items():
        model = CalibratedModel.build(op, truth, KernelChoices())
        points = list(itertools.product(*axes.values()))
        shapes = {name: np.array([p[i] for p in points], dtype=float) for i, name in enumerate(axes)}
        latency = model(normalize_shapes(op, shapes), OpDtype.BF16)
        rows = [",".join(["bf16", *map(str, p), f"{ms:.9g}"]) for p, ms in zip(points, latency, strict=True)]
        (folder / f"{op.value}.csv").write_text("\n".join(["dtype," + ",".join(axes) + ",latency", *rows]) + "\n")
        (folder / f"{op.value}.toml").write_text(sidecar("h100_sxm", op, axes))
    return tables_in(folder)


def test_the_fit_recovers_the_parameters_that_made_the_tables(synthetic_tables, h100):
    points = points_from_tables(synthetic_tables)
    assert len(points) == 16 + 4 + 12
    bare = h100.model_copy(update={"calibration": None})
    calibration, residuals, summaries = fit_calibration(points, bare, ["t"], "test", table_fit_groups(points))
    assert max(abs(r.error) for r in residuals) < 0.01
    for name, value in TRUE_VALUES.items():
        assert calibration.parameters[name].value == pytest.approx(value, rel=0.03), name
        assert calibration.parameters[name].origin is ParameterOrigin.FITTED
    assert set(summaries) == {"gemm", "elementwise", "decode_attention"}


def test_parameters_no_table_constrains_stay_assumptions(synthetic_tables, h100):
    points = points_from_tables(synthetic_tables)
    bare = h100.model_copy(update={"calibration": None})
    calibration, _, _ = fit_calibration(points, bare, ["t"], "test", table_fit_groups(points))
    attention = calibration.parameters["attention.efficiency"]
    assert attention.origin is ParameterOrigin.ASSUMPTION and "no measurement constrains it" in attention.note
    assert calibration.parameters["inter_node.efficiency"].origin is ParameterOrigin.DERIVED


def test_another_gpu_gets_the_h100_end_to_end_parameters_as_transferred(synthetic_tables, h100):
    points = points_from_tables(synthetic_tables)
    other = h100.model_copy(update={"calibration": None, "name": "h200_sxm"})
    calibration, _, _ = fit_calibration(points, other, ["t"], "test", table_fit_groups(points))
    serving = calibration.parameters["gemm.serving_efficiency"]
    assert serving.origin is ParameterOrigin.TRANSFERRED
    assert serving.note.startswith("from h100_sxm, not refitted on h200_sxm's serving runs")
    bare = h100.model_copy(update={"calibration": None})
    own, _, _ = fit_calibration(points, bare, ["t"], "test", table_fit_groups(points))
    assert own.parameters["gemm.serving_efficiency"].origin is ParameterOrigin.FITTED


def test_hardware_fit_prints_residuals_and_writes_a_loadable_calibration(
    synthetic_tables, run_cli, fake_site, tmp_path
):
    folder = synthetic_tables[0].csv_path.parent
    fake_site.add_hardware_plugin("gpu", "h100_sxm")
    fake_site.add_plugin(
        "tables",
        f"""
        from pathlib import Path
        from servecast import hookimpl
        from servecast.perfdb.folder import tables_in

        @hookimpl
        def servecast_register_perf_tables():
            return tables_in(Path({str(folder)!r}))
        """,
    )
    output = tmp_path / "fitted.toml"
    result = run_cli("hardware", "fit", "h100_sxm", "--write", str(output))
    assert result.exit_code == 0, result.output
    assert "fit of h100_sxm to 32 measured points" in result.output and "largest residuals" in result.output
    calibration = load_calibration(output, CALIBRATION_PARAMETERS)
    assert calibration.parameters["gemm.efficiency.bf16"].value == pytest.approx(0.55, rel=0.03)
    assert calibration.fitted_by == f"servecast hardware fit h100_sxm --write {output}"


def test_hardware_fit_without_tables_says_how_to_measure_them(run_cli, fake_site):
    fake_site.add_hardware_plugin("gpu", "bare_gpu")
    result = run_cli("hardware", "fit", "bare_gpu")
    assert result.exit_code == 2
    assert "bare_gpu has no measured tables" in result.output and "servecast collect --into" in result.output
