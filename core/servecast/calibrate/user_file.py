"""The file a user calibration lives in: TOML that `servecast calibrate` writes and `--calibration` reads."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from servecast.domain.base import validation_problems
from servecast.domain.user_calibration import USER_PARAMETERS, UserCalibration
from servecast.errors import InputError, SpecFileError
from servecast.toml_file import SCHEMA_VERSION, read_toml

ENVIRONMENT_VARIABLE = "SERVECAST_CALIBRATION"
"""Names a calibration file every estimating command uses unless --calibration names another."""


def user_calibration_toml(calibration: UserCalibration) -> str:
    """The calibration as TOML: what it covers, every parameter with its uncertainty, and its errors."""
    lines = [
        f"# servecast user calibration: {calibration.label}.",
        f"# Re-create with: {calibration.fitted_by}",
        "# Mean |error| % per metric: shipped model -> this fit on its own runs -> cross-validated:",
        *(
            f"#   {metric}: {errors['shipped']:.1f} -> {errors['in_fold']:.1f} -> {errors['cross_validated']:.1f}"
            for metric, errors in calibration.mape.items()
        ),
        f"schema_version = {SCHEMA_VERSION}",
        f"system = {json.dumps(calibration.system)}",
        f"framework = {json.dumps(calibration.framework)}",
        f"framework_versions = [{', '.join(json.dumps(version) for version in calibration.framework_versions)}]",
        f"fitted_by = {json.dumps(calibration.fitted_by)}",
        f"fitted_on = {calibration.fitted_on.isoformat()}",
        f"data = [{', '.join(json.dumps(item) for item in calibration.data)}]",
        f"rows = {calibration.rows}",
        f"prior_width = {calibration.prior_width:g}  # chosen by cross-validation; 0 keeps the shipped model",
        "",
        "[parameters]",
    ]
    for name, fitted in calibration.parameters.items():
        sigma = "" if fitted.sigma is None else f", sigma = {fitted.sigma:.6g}"
        lines.append(
            f'"{name}" = {{ value = {fitted.value:.6g}, shipped = {fitted.shipped:.6g}{sigma}, '
            f"note = {json.dumps(fitted.note)} }}"
        )
    lines += ["", "[errors]  # cross-validated log(measured / predicted): the prediction intervals"]
    for metric, quantiles in calibration.errors.items():
        lines.append(
            f"{metric} = {{ p10 = {quantiles.p10:.6g}, p50 = {quantiles.p50:.6g}, p90 = {quantiles.p90:.6g}, "
            f"rows = {quantiles.rows} }}"
        )
    lines += ["", "[mape]  # mean |error| in %"]
    for metric, errors in calibration.mape.items():
        lines.append(f"{metric} = {{ {', '.join(f'{key} = {value:g}' for key, value in errors.items())} }}")
    return "\n".join(lines) + "\n"


def read_user_calibration(path: Path) -> UserCalibration:
    """The calibration in `path`; an InputError (the user's file, exit 2) naming it and what is wrong with it."""
    if path.is_dir():
        raise InputError(f"--calibration {str(path)!r} is a folder", "give the TOML file `servecast calibrate` wrote")
    try:
        data = read_toml(path)
    except SpecFileError as error:
        raise InputError(f"--calibration {error.message}", "give a file `servecast calibrate` wrote") from None
    for fitted in data.get("parameters", {}).values():
        if isinstance(fitted, dict):
            fitted.setdefault("sigma", None)
    try:
        return UserCalibration.model_validate(data)
    except ValidationError as error:
        raise InputError(
            f"--calibration {path}: not a servecast calibration: {validation_problems(error)}",
            f"write it with `servecast calibrate` (parameters: {', '.join(USER_PARAMETERS)})",
        ) from None
