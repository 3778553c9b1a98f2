"""A measurement to calibrate against: an op at a shape, the kernel that ran it, and the time it took."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from servecast.domain.calibration import Calibration
from servecast.domain.hardware import HardwareSpec
from servecast.domain.kernels import AllReduceKernel, AttentionKernel, KernelChoice, KernelChoices
from servecast.domain.provenance import Source, SourceKind
from servecast.estimate.calibrated import CalibratedModel
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind
from servecast.ops.shapes import normalize_shapes

GROUPED_GEMM = "grouped_gemm"
"""A family with no op kind of its own: one grouped GEMM of an MoE layer (shapes: groups, m, n, k)."""


@dataclass(frozen=True)
class CalibrationPoint:
    """One measured kernel time, normalised to milliseconds at an explicit shape."""

    row: int
    """Line of the measurement file (the header is line 1)."""
    family: str
    """Op kind value, or 'grouped_gemm'."""
    dtype: OpDtype
    shapes: Mapping[str, float]
    measured_ms: float
    label: str
    attention_kernel: AttentionKernel | None = None
    all_reduce_kernel: AllReduceKernel | None = None
    variant: str | None = None
    """An algorithm the measurement forced (e.g. 'one_shot', 'nvls'); None: the implementation's own choice."""
    fit: bool = True
    """False: compared by the accuracy benchmark, but not used to fit (the note says why)."""
    best_shape_kernel: bool = True
    """True for the published kernel benchmarks (best shapes, best-in-class kernels), which GEMMs reach without the
    serving-shape efficiency; False for a GPU's own tables, measured at model shapes with the kernels engines use."""
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> OpKind:
        return OpKind.GEMM if self.family == GROUPED_GEMM else OpKind(self.family)

    @property
    def op_family(self) -> str:
        """The accuracy report's grouping: gemm, attention, or communication."""
        if self.family in (OpKind.GEMM.value, GROUPED_GEMM, OpKind.MOE.value):
            return "gemm"
        if "attention" in self.family or self.family.startswith("mla"):
            return "attention"
        return "communication" if self.kind is not OpKind.ELEMENTWISE else "memory"

    def kernels(self) -> KernelChoices:
        source = Source(kind=SourceKind.PUBLISHED_MEASUREMENT, citation=f"calibration row {self.row}")
        return KernelChoices(
            attention=KernelChoice(value=self.attention_kernel, source=source) if self.attention_kernel else None,
            all_reduce=KernelChoice(value=self.all_reduce_kernel, source=source) if self.all_reduce_kernel else None,
        )


def predict_ms(
    points: Sequence[CalibrationPoint], hardware: HardwareSpec, calibration: Calibration
) -> NDArray[np.float64]:
    """The calibrated model's time for each point (forced algorithm variants honoured)."""
    return np.array([_predict(point, hardware, calibration) for point in points])


def _predict(point: CalibrationPoint, hardware: HardwareSpec, calibration: Calibration) -> float:
    model = CalibratedModel(point.kind, hardware, calibration, point.kernels(), point.best_shape_kernel)
    if point.family == GROUPED_GEMM:
        s = {name: np.array([value]) for name, value in point.shapes.items()}
        return float(model.gemm_ms(s["m"], s["n"], s["k"], s["groups"], point.dtype, grouped=True)[0])
    s = normalize_shapes(point.kind, point.shapes)
    if point.variant is None:
        return float(model(s, point.dtype)[0])
    if point.all_reduce_kernel in (None, AllReduceKernel.NCCL):
        return float(model.nccl_all_reduce_variants(s)[point.variant][0])
    return float(model.custom_all_reduce_variants(s, point.all_reduce_kernel)[point.variant][0])
