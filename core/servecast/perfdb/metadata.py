"""The TOML sidecar of a measured table: what was measured, on what, with which kernel and tool, and when."""

from __future__ import annotations

import datetime as dt
from typing import Literal, Self

from pydantic import Field, model_validator

from servecast.domain.base import FrozenModel
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind
from servecast.ops.shapes import OP_SHAPES, ZERO_MEANS_SAME_AS

ANY = "any"
"""`framework` / `framework_version` value of a table that holds framework-agnostic kernels."""


class Measurement(FrozenModel):
    """How and when the numbers were taken."""

    kind: Literal["measured", "published_measurement"] = Field(
        description="'measured': taken with servecast's collector; 'published_measurement': transcribed from a source."
    )
    tool: str = Field(min_length=2, description="What produced the numbers, with its version.")
    date: dt.date
    gpu: str = Field(min_length=2, description="The device name the tool reported.")
    software: str = Field(min_length=2, description="Driver, CUDA and library versions.")
    method: str = Field(min_length=3, description="Timing method: events or profiler, warm-up, repetitions, statistic.")
    by: str = Field(min_length=2, description="Who measured, or the source that published it.")
    command: str | None = Field(default=None, description="The command line that took the measurements.")
    notes: str | None = None


class TableMetadata(FrozenModel):
    """Everything a measured table's numbers mean."""

    hardware: str
    framework: str = Field(description="'any' for framework-agnostic kernels, else the framework's name.")
    framework_version: str = Field(description="'any', or the framework version whose kernels were measured.")
    op: OpKind
    dtypes: tuple[OpDtype, ...] = Field(min_length=1, description="Values the CSV's dtype column may hold.")
    kernel: str = Field(min_length=2, description="The kernel or library measured, e.g. 'cuBLASLt via torch.matmul'.")
    axes: tuple[str, ...] = Field(min_length=1, description="Shape parameters that vary over the grid, in CSV order.")
    partition: tuple[str, ...] = Field(
        default=(),
        description=(
            "Shape parameters whose values split the table into separate grids, each over the axes, matched exactly "
            "(the (n, k) of real models' GEMMs, measured at many token counts m); in CSV order before the axes."
        ),
    )
    fixed: dict[str, float] = Field(default_factory=dict, description="Shape parameters held constant.")
    latency_unit: Literal["ms", "us"] = "ms"
    measurement: Measurement

    @model_validator(mode="after")
    def _shape_is_covered(self) -> Self:
        keys = OP_SHAPES[self.op]
        names = {key.name for key in keys}
        given = [*self.partition, *self.axes, *self.fixed]
        unknown = sorted(set(given) - names)
        if unknown:
            raise ValueError(f"{self.op.value} has no shape parameter(s) {unknown}; it has {sorted(names)}")
        repeated = sorted({name for name in given if given.count(name) > 1})
        if repeated:
            raise ValueError(f"{repeated} can be only one of a partition, an axis or fixed")
        missing = [k.name for k in keys if k.default is None and k.name not in given]
        if missing:
            raise ValueError(f"{self.op.value} needs {missing} as an axis, a partition or under [fixed]")
        return self

    def held(self) -> dict[str, float]:
        """Every non-axis shape parameter's value over the table: fixed ones, and the defaults of the rest."""
        defaults = {key.name: key.default for key in OP_SHAPES[self.op] if key.default is not None}
        varying = {*self.axes, *self.partition}
        return {name: value for name, value in {**defaults, **self.fixed}.items() if name not in varying}

    @property
    def source(self) -> str:
        """What a number from this table is, in one line: the kernel and who measured or published it."""
        return f"{self.kernel}; {self.measurement.kind.replace('_', ' ')} by {self.measurement.by}"

    def tied(self) -> dict[str, str]:
        """Held parameters at 0 that stand for an axis (kv_len 0: equal to q_len), so they follow it point by point."""
        held = self.held()
        return {
            name: other
            for name, other in ZERO_MEANS_SAME_AS.get(self.op, {}).items()
            if held.get(name) == 0 and other in self.axes
        }
