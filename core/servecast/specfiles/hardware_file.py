"""Load a HardwareSpec from a TOML file whose every figure is `{ value = …, source = "<id>", note = "…" }`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from servecast.domain.base import validation_problems
from servecast.domain.hardware import HardwareSpec
from servecast.domain.provenance import Provenance, Source
from servecast.errors import SpecFileError
from servecast.estimate.parameters import CALIBRATION_PARAMETERS
from servecast.specfiles.calibration_file import load_calibration
from servecast.specfiles.sources import read_sources, resolve_source
from servecast.toml_file import read_toml


def load_hardware_spec(path: str | Path) -> HardwareSpec:
    """Read and validate a hardware spec file (format: docs/plugins/hardware-specs.md), with its calibration."""
    return _load(Path(path), with_calibration=True)


def hardware_spec_without_calibration(path: str | Path) -> HardwareSpec:
    """The spec's datasheet figures alone: what the calibration script fits against."""
    return _load(Path(path), with_calibration=False)


def _load(path: Path, with_calibration: bool) -> HardwareSpec:
    data = read_toml(path)
    sources = read_sources(path, data)
    provenance: dict[str, Provenance] = {}
    for section in ("gpu", "node"):
        if not isinstance(data.get(section), dict):
            raise SpecFileError(
                path, f"no [{section}] table", f"add the [{section}] figures; see docs/plugins/hardware-specs.md"
            )
        data[section] = _split_figures(path, data[section], section, sources, provenance)
    if isinstance(data.get("pricing"), dict):
        data["pricing"] = _split_figures(path, data["pricing"], "pricing", sources, provenance)
    calibration_file = data.pop("calibration", None)
    if calibration_file is not None and with_calibration:
        if not isinstance(calibration_file, str):
            raise SpecFileError(
                path, f"calibration = {calibration_file!r}", "name the calibration file by a path relative to this one"
            )
        calibration_path = path.parent / calibration_file
        if not calibration_path.is_file():
            raise SpecFileError(
                path,
                f"calibration = {calibration_file!r}, but there is no such file beside the spec",
                f"write it with `servecast hardware fit {data.get('name', '<name>')} --write {calibration_path}` "
                "from the plugin's measured tables, or fix the name (a path relative to the spec)",
            )
        data["calibration"] = load_calibration(calibration_path, CALIBRATION_PARAMETERS)
    try:
        return HardwareSpec.model_validate({**data, "provenance": provenance})
    except ValidationError as error:
        raise SpecFileError(path, validation_problems(error)) from None


def _split_figures(
    path: Path,
    table: dict[str, Any],
    prefix: str,
    sources: dict[str, Source],
    provenance: dict[str, Provenance],
) -> dict[str, Any]:
    """Values of a figure table, recording each figure's provenance under its dotted path."""
    values: dict[str, Any] = {}
    for key, entry in table.items():
        where = f"{prefix}.{key}"
        if isinstance(entry, dict) and "value" in entry:
            extra = set(entry) - {"value", "source", "note"}
            if extra:
                raise SpecFileError(path, f"{where}: unknown keys {sorted(extra)}", "use only value, source, note")
            source = resolve_source(path, sources, entry.get("source"), where)
            provenance[where] = Provenance(source=source, note=entry.get("note"))
            values[key] = entry["value"]
        elif isinstance(entry, dict):
            values[key] = _split_figures(path, entry, where, sources, provenance)
        else:
            raise SpecFileError(
                path,
                f"{where} = {entry!r} has no source",
                f'write it as {key} = {{ value = {entry!r}, source = "<id>" }}',
            )
    return values
