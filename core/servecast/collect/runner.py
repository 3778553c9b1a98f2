"""Running a collection: which ops a backend can measure here, their sweeps, and the measured tables they give."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from servecast.collect.backend import Advance, Backend, OpSupport
from servecast.collect.plan import COLLECTIVES, TIMINGS, RunSize, Sweep, shape_value, sweep
from servecast.collect.stats import OutlierReport, PointTiming
from servecast.ops.estimator import OpKind
from servecast.perfdb.loading import DTYPE_COLUMN, LATENCY_COLUMN


@dataclass(frozen=True)
class MeasuredTable:
    """One op's measurements: a sweep per data type (same axes and fixed parameters), a timing per point."""

    op: OpKind
    kernel: str
    sweeps: tuple[Sweep, ...]
    timings: tuple[tuple[PointTiming, ...], ...]

    @property
    def axes(self) -> tuple[str, ...]:
        return tuple(self.sweeps[0].axes)

    @property
    def fixed(self) -> dict[str, float]:
        return self.sweeps[0].fixed

    def rows(self) -> list[tuple[str, dict[str, float], PointTiming]]:
        """(dtype, shape, timing) for every point, in the CSV's order."""
        return [
            (s.dtype.value, point, timing)
            for s, timings in zip(self.sweeps, self.timings, strict=True)
            for point, timing in zip(s.points(), timings, strict=True)
        ]

    def csv_text(self) -> str:
        """The table as the perf database reads it: dtype, the axes, then the median latency in milliseconds."""
        lines = [",".join([DTYPE_COLUMN, *self.axes, LATENCY_COLUMN])]
        for dtype, point, timing in self.rows():
            values = [shape_value(point[name]) for name in self.axes]
            lines.append(",".join([dtype, *values, f"{timing.median_ms:.6g}"]))
        return "\n".join(lines) + "\n"

    def outliers(self) -> OutlierReport:
        return OutlierReport.of([(_label(dtype, point, self.axes), timing) for dtype, point, timing in self.rows()])


@dataclass(frozen=True)
class Plan:
    """What a collection will measure, and what it leaves out and why."""

    sweeps: dict[OpKind, tuple[Sweep, ...]]
    kernels: dict[OpKind, str]
    skipped: dict[OpKind, str]

    @property
    def points(self) -> int:
        return sum(len(s.points()) for sweeps in self.sweeps.values() for s in sweeps)


def plan(backend: Backend, ops: Sequence[OpKind], size: RunSize, devices: int) -> Plan:
    """The sweeps of every requested op the backend supports here; the others with the reason they are skipped."""
    support = backend.support()
    sweeps: dict[OpKind, tuple[Sweep, ...]] = {}
    kernels: dict[OpKind, str] = {}
    skipped: dict[OpKind, str] = {}
    for op in ops:
        how = support.get(op, f"the {backend.name} backend does not measure it")
        if isinstance(how, OpSupport) and op in COLLECTIVES and devices < 2:
            how = f"{devices} device visible; collectives need at least 2"
        if not isinstance(how, OpSupport):
            skipped[op] = how
            continue
        sweeps[op] = tuple(sweep(op, dtype, size, devices) for dtype in how.dtypes)
        kernels[op] = how.kernel
    return Plan(sweeps, kernels, skipped)


def run(
    backend: Backend, chosen: Plan, size: RunSize, advance: Advance, done: Callable[[MeasuredTable], None]
) -> list[MeasuredTable]:
    """Measure every sweep of the plan, handing each op's table to `done` as soon as it is complete."""
    tables = []
    for op, sweeps in chosen.sweeps.items():
        timings = tuple(
            tuple(PointTiming(samples) for samples in backend.measure(s, TIMINGS[size], advance)) for s in sweeps
        )
        table = MeasuredTable(op, chosen.kernels[op], sweeps, timings)
        done(table)
        tables.append(table)
    return tables


def _label(dtype: str, point: dict[str, float], axes: Sequence[str]) -> str:
    return f"{dtype} " + " ".join(f"{name}={shape_value(point[name])}" for name in axes)
