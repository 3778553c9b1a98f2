"""Fitting a system's calibrated roofline to its own measured tables (what `servecast collect` writes), so shapes
outside the measured grids, and ops without tables, are estimated from parameters this GPU's numbers set."""

from __future__ import annotations

from collections.abc import Sequence

from servecast.calibrate.fit import FitGroup
from servecast.calibrate.points import CalibrationPoint
from servecast.domain.kernels import AllReduceKernel
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind
from servecast.perfdb.loading import load_metadata, load_table
from servecast.perfdb.table import PerfTableRef

LOWEST_EFFICIENCY = 1e-4
"""Efficiencies may fall far lower than any GPU's: a table from a CPU or a throttled device is fitted, not clipped."""

GEMM_DTYPES = (OpDtype.BF16, OpDtype.FP16, OpDtype.FP8, OpDtype.FP8_BLOCK, OpDtype.INT8)
"""Data types with a GEMM efficiency of their own in the calibration."""


def points_from_tables(refs: Sequence[PerfTableRef]) -> list[CalibrationPoint]:
    """Every grid point of every table as a measurement to fit; all-reduce tables are taken as NCCL's (what the
    collector times), other kernels as the ones the calibrated model's base parameters describe."""
    points = []
    for ref in refs:
        metadata = load_metadata(ref)
        label = f"{ref.csv_path.name} ({metadata.kernel})"
        for dtype, grid in load_table(ref).items():
            for row, (shapes, latency_ms) in enumerate(grid.measured_points(), start=2):
                points.append(
                    CalibrationPoint(
                        row=row,
                        family=ref.op.value,
                        dtype=dtype,
                        shapes=shapes,
                        measured_ms=latency_ms,
                        label=label,
                        all_reduce_kernel=AllReduceKernel.NCCL if ref.op is OpKind.ALL_REDUCE else None,
                        best_shape_kernel=False,
                        note=f"{metadata.measurement.tool}, {metadata.measurement.date}",
                    )
                )
    return points


def table_fit_groups(points: Sequence[CalibrationPoint]) -> tuple[FitGroup, ...]:
    """The parameter groups the tables' ops constrain, in the order they are fitted (GEMM first: attention reads
    its memory efficiency)."""
    families = {point.family for point in points}
    gemm_dtypes = sorted({p.dtype for p in points if p.family == OpKind.GEMM.value} & set(GEMM_DTYPES))
    groups = []
    if gemm_dtypes:
        groups.append(
            _group(
                OpKind.GEMM,
                {
                    **{f"gemm.efficiency.{dtype.value}": (0.7, LOWEST_EFFICIENCY, 1.0) for dtype in gemm_dtypes},
                    "gemm.k_overhead": (500.0, 0.0, 5000.0),
                    "gemm.memory_efficiency": (0.8, LOWEST_EFFICIENCY, 1.0),
                    "memory.bytes_scale": (4e6, 1e4, 1e9),
                },
            )
        )
    candidates = {
        OpKind.CONTEXT_ATTENTION: {
            "attention.efficiency": (0.6, LOWEST_EFFICIENCY, 1.0),
            "attention.row_overhead": (200.0, 0.0, 5000.0),
            "attention.head_dim_overhead": (50.0, 0.0, 1000.0),
        },
        OpKind.DECODE_ATTENTION: {
            "decode_attention.memory_efficiency": (0.7, LOWEST_EFFICIENCY, 1.0),
            "decode_attention.head_overhead": (1.0, 0.0, 16.0),
            "decode_attention.floor_ms": (0.005, 0.0, 0.1),
        },
        OpKind.ELEMENTWISE: {"elementwise.memory_efficiency": (0.75, LOWEST_EFFICIENCY, 1.0)},
        OpKind.ALL_REDUCE: {
            "all_reduce.nccl.latency_ms": (0.015, 0.0005, 1.0),
            "all_reduce.nccl.ring_efficiency": (0.8, LOWEST_EFFICIENCY, 1.0),
            "all_reduce.nccl.nvls_efficiency": (0.6, LOWEST_EFFICIENCY, 1.0),
        },
        OpKind.ALL_GATHER: {
            "all_gather.latency_ms": (0.01, 0.0005, 1.0),
            "all_gather.bandwidth_efficiency": (0.8, LOWEST_EFFICIENCY, 1.0),
        },
        OpKind.REDUCE_SCATTER: {
            "reduce_scatter.latency_ms": (0.01, 0.0005, 1.0),
            "reduce_scatter.bandwidth_efficiency": (0.8, LOWEST_EFFICIENCY, 1.0),
        },
        OpKind.ALL_TO_ALL: {
            "all_to_all.latency_ms": (0.01, 0.0005, 1.0),
            "all_to_all.intra_efficiency": (0.8, LOWEST_EFFICIENCY, 1.0),
        },
        OpKind.P2P: {"p2p.latency_ms": (0.005, 0.0005, 1.0), "p2p.efficiency": (0.8, LOWEST_EFFICIENCY, 1.0)},
    }
    groups += [_group(op, parameters) for op, parameters in candidates.items() if op.value in families]
    return tuple(groups)


def _group(op: OpKind, parameters: dict[str, tuple[float, float, float]]) -> FitGroup:
    return FitGroup(
        op.value,
        parameters,
        lambda point: point.family == op.value,
        f"{op.value}: this system's measured table",
    )
