"""Where collected tables go and how they are written: a hardware plugin package's tables folder or any folder,
each table a CSV and its TOML sidecar, written whole or not at all."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from servecast import __version__
from servecast.collect.backend import CollectError, DeviceInfo
from servecast.collect.plan import shape_value
from servecast.collect.runner import MeasuredTable
from servecast.files import write_text_atomically
from servecast.perfdb.metadata import ANY
from servecast.scaffold.package import NAME


@dataclass(frozen=True)
class Destination:
    """A folder of measured tables for system `hardware`."""

    folder: Path
    hardware: str

    @classmethod
    def package(cls, root: Path) -> Destination:
        """The tables folder of the hardware plugin package at `root` (as `servecast new-plugin hardware` lays it
        out); the system is the one the package is named after."""
        found = sorted(root.glob("servecast_hardware_*/data"))
        if len(found) != 1:
            what = "no servecast_hardware_<name>/data folder" if not found else f"{len(found)} hardware packages"
            raise CollectError(
                f"{root} is not a hardware plugin package: {what} in it",
                "pass the folder `servecast new-plugin hardware NAME --out DIR` created, or use --out DIR --hardware "
                "NAME to write the tables to a plain folder",
            )
        data = found[0]
        hardware = data.parent.name.removeprefix("servecast_hardware_")
        if not (data / f"{hardware}.toml").is_file():
            raise CollectError(f"{data} has no {hardware}.toml spec", "restore the spec file the scaffold wrote")
        return cls(data / "tables", hardware)

    @classmethod
    def folder_for(cls, folder: Path, hardware: str) -> Destination:
        if not NAME.fullmatch(hardware):
            raise CollectError(
                f"hardware name {hardware!r} is not a system name",
                "use the name the hardware plugin registers (lower-case letters, digits, underscores)",
            )
        return cls(folder, hardware)

    def paths(self, table: MeasuredTable | str) -> tuple[Path, Path]:
        """The CSV and sidecar of an op's table."""
        op = table if isinstance(table, str) else table.op.value
        return self.folder / f"{op}.csv", self.folder / f"{op}.toml"

    def refuse_overwriting(self, ops: list[str]) -> None:
        """Fail before measuring anything if a table would be replaced."""
        existing = [path.name for op in ops for path in self.paths(op) if path.exists()]
        if existing:
            raise CollectError(
                f"{self.folder} already holds {', '.join(existing)}",
                "pass --force to replace them, or --op to measure other ops",
            )

    def write(self, table: MeasuredTable, sidecar: str) -> None:
        """The CSV, then its sidecar (a table is registered by its sidecar), each replaced atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        csv_path, sidecar_path = self.paths(table)
        write_text_atomically(csv_path, table.csv_text())
        write_text_atomically(sidecar_path, sidecar)


@dataclass(frozen=True)
class Provenance:
    """Who measured, with what command, on which device."""

    device: DeviceInfo
    backend: str
    by: str
    command: str
    date: dt.date


def sidecar_text(table: MeasuredTable, hardware: str, provenance: Provenance) -> str:
    """The table's TOML sidecar in the format of docs/plugins/measured-tables.md."""
    device = provenance.device
    lines = [
        f"# Measured by `{provenance.command}`; the numbers are in {table.op.value}.csv beside this file.",
        "schema_version = 1",
        f"hardware = {_string(hardware)}",
        f"framework = {_string(ANY)}",
        f"framework_version = {_string(ANY)}",
        f"op = {_string(table.op.value)}",
        f"dtypes = [{', '.join(_string(s.dtype.value) for s in table.sweeps)}]",
        f"kernel = {_string(table.kernel)}",
        f"axes = [{', '.join(map(_string, table.axes))}]",
        'latency_unit = "ms"',
    ]
    if table.fixed:
        lines += ["", "[fixed]", *(f"{name} = {shape_value(value)}" for name, value in table.fixed.items())]
    repeats = len(table.timings[0][0].samples_ms)
    lines += [
        "",
        "[measurement]",
        'kind = "measured"',
        f"tool = {_string(f'servecast collect {__version__}, {provenance.backend} backend')}",
        f"date = {provenance.date.isoformat()}",
        f"gpu = {_string(device.name)}",
        f"software = {_string(device.software)}",
        f"method = {_string(f'{device.method}; median of {repeats} timed repeats after warm-up runs')}",
        f"by = {_string(provenance.by)}",
        f"command = {_string(provenance.command)}",
        f"notes = {_string(table.outliers().sentence())}",
    ]
    return "\n".join(lines) + "\n"


def _string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)
