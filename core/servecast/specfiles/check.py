"""Checking a hardware plugin's files before it is installed: the spec, its calibration and its measured tables.

A spec or table that cannot be read is an error naming the file and every problem in it (what `load_hardware_spec`
and the table loader raise); what can be read but leaves estimates weaker is reported as a finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from servecast.domain.hardware import HardwareSpec
from servecast.domain.kernels import KernelChoices
from servecast.estimate.calibrated import CalibratedModel
from servecast.ops.estimator import OpKind
from servecast.perfdb.folder import tables_in
from servecast.perfdb.loading import load_metadata, load_table
from servecast.specfiles.hardware_file import load_hardware_spec


@dataclass(frozen=True)
class TableSummary:
    """One measured table of the plugin: its op, data types and points."""

    path: Path
    op: OpKind
    dtypes: tuple[str, ...]
    points: int


@dataclass(frozen=True)
class HardwareCheck:
    """What a hardware spec file and the tables beside it hold, and what would make estimates on it weaker."""

    spec: HardwareSpec
    tables: tuple[TableSummary, ...]
    findings: tuple[str, ...]
    """Readable but weak: placeholder sources, no calibration, op kinds the calibration leaves to the roofline."""


def check_hardware_files(spec_path: Path, tables_folder: Path | None = None) -> HardwareCheck:
    """Read the spec at `spec_path` (with its calibration) and every table in `tables_folder` (default: `tables/`
    beside the spec; tables of other systems are read and named, not counted); a SpecFileError or PerfTableError
    names the first file that cannot be read."""
    spec = load_hardware_spec(spec_path)
    folder = spec_path.parent / "tables" if tables_folder is None else tables_folder
    tables, others = [], []
    for ref in tables_in(folder):
        grids = load_table(ref)
        hardware = load_metadata(ref).hardware
        if hardware != spec.name:
            others.append(f"{ref.metadata_path.name} is for {hardware}, not {spec.name}")
            continue
        points = sum(sum(1 for _ in grid.measured_points()) for grid in grids.values())
        tables.append(TableSummary(ref.csv_path, ref.op, tuple(d.value for d in grids), points))
    return HardwareCheck(spec, tuple(tables), (*_findings(spec), *others))


def _findings(spec: HardwareSpec) -> tuple[str, ...]:
    findings = []
    sources = {provenance.source.citation: provenance.source for provenance in spec.provenance.values()}
    placeholders = sum(source.is_placeholder for source in sources.values())
    if placeholders:
        findings.append(
            f"{placeholders} of {len(sources)} cited sources are scaffold placeholders: replace each with the "
            "datasheet or measurement the figure comes from"
        )
    if spec.calibration is None:
        findings.append(
            "no calibration: ops without a measured table are estimated at speed of light; add "
            '`calibration = "<file>"` after `servecast hardware fit`'
        )
        return tuple(findings)
    missing = [kind.value for kind in OpKind if CalibratedModel.build(kind, spec, KernelChoices()) is None]
    if missing:
        findings.append(
            f"the calibration lacks parameters for {', '.join(missing)}: those ops fall back to the pure roofline"
        )
    return tuple(findings)
