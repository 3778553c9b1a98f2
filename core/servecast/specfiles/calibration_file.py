"""Load a system's calibration file: efficiency parameters as `{ value, origin, note }` under dotted tables."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from servecast.domain.base import validation_problems
from servecast.domain.calibration import Calibration, Parameter
from servecast.errors import SpecFileError
from servecast.toml_file import read_toml


def load_calibration(path: str | Path, known: Collection[str]) -> Calibration:
    """Read and validate a calibration file; every parameter name must be one the estimators know (`known`)."""
    path = Path(path)
    data = read_toml(path)
    raw = data.pop("parameters", None)
    if not isinstance(raw, dict) or not raw:
        raise SpecFileError(path, "no [parameters] table", "run the calibration script to write this file")
    parameters: dict[str, Parameter] = {}
    _collect(path, raw, "", parameters)
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise SpecFileError(
            path,
            f"unknown calibration parameter(s) {', '.join(unknown)}",
            f"use the names the estimators read: {', '.join(sorted(known))}",
        )
    try:
        return Calibration.model_validate({**data, "parameters": parameters})
    except ValidationError as error:
        raise SpecFileError(path, validation_problems(error)) from None


def _collect(path: Path, table: dict[str, Any], prefix: str, out: dict[str, Parameter]) -> None:
    for key, entry in table.items():
        name = f"{prefix}{key}"
        if not isinstance(entry, dict):
            raise SpecFileError(
                path, f"parameters.{name} = {entry!r}", 'write it as { value = ..., origin = "fitted", note = "..." }'
            )
        if "value" not in entry:
            _collect(path, entry, f"{name}.", out)
            continue
        try:
            out[name] = Parameter.model_validate(entry)
        except ValidationError as error:
            raise SpecFileError(path, validation_problems(error, prefix=f"parameters.{name}")) from None
