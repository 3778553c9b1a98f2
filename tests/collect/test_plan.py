"""The collection plan: grids that the perf database can read back and that every backend can run."""

from __future__ import annotations

import pytest

from servecast.collect.plan import FP8_MIN_M, GRIDS, RunSize, shape_value, sweep
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind
from servecast.ops.shapes import normalize_shapes

ATTENTION = (OpKind.CONTEXT_ATTENTION, OpKind.DECODE_ATTENTION)


@pytest.mark.parametrize("size", list(RunSize))
@pytest.mark.parametrize("op", ATTENTION)
def test_attention_grids_only_hold_grouped_query_shapes(size, op):
    grid = GRIDS[size][op]
    assert all(h >= kv and h % kv == 0 for h in grid["heads"] for kv in grid["kv_heads"])


@pytest.mark.parametrize("size", list(RunSize))
@pytest.mark.parametrize("op", list(GRIDS[RunSize.FULL]))
def test_every_point_is_a_valid_shape_of_its_op(size, op):
    s = sweep(op, OpDtype.BF16, size, devices=8)
    points = s.points()
    shapes = {name: [point[name] for point in points] for name in points[0]}
    normalize_shapes(op, shapes)
    assert len(points) == len({tuple(point.values()) for point in points})


def test_fp8_gemms_start_where_scaled_mm_accepts_them():
    assert min(sweep(OpKind.GEMM, OpDtype.FP8, RunSize.FULL, 1).axes["m"]) == FP8_MIN_M
    assert min(sweep(OpKind.GEMM, OpDtype.BF16, RunSize.FULL, 1).axes["m"]) == 1


def test_single_valued_axes_become_fixed_parameters():
    s = sweep(OpKind.CONTEXT_ATTENTION, OpDtype.BF16, RunSize.QUICK, 1)
    assert "head_dim" not in s.axes and s.fixed == {"head_dim": 128.0}


@pytest.mark.parametrize(("devices", "gpus"), [(2, None), (4, (2.0, 4.0)), (6, (2.0, 4.0)), (8, (2.0, 4.0, 8.0))])
def test_collectives_vary_the_gpu_count_over_visible_powers_of_two(devices, gpus):
    s = sweep(OpKind.ALL_REDUCE, OpDtype.BF16, RunSize.QUICK, devices)
    assert s.axes.get("num_gpus") == gpus
    assert gpus is not None or s.fixed["num_gpus"] == 2.0
    assert "num_gpus" not in sweep(OpKind.P2P, OpDtype.BF16, RunSize.QUICK, devices).axes


def test_the_largest_decode_kv_cache_fits_an_80_gb_gpu():
    grid = GRIDS[RunSize.FULL][OpKind.DECODE_ATTENTION]
    kv_bytes = 2 * 2 * max(grid["batch"]) * max(grid["kv_len"]) * max(grid["kv_heads"]) * max(grid["head_dim"])
    assert kv_bytes < 40e9


def test_shape_values_are_written_exactly():
    assert [shape_value(v) for v in (1048576.0, 2.0**32, 0.5)] == ["1048576", "4294967296", "0.5"]
