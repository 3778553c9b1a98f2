"""Writing a calibration file: the fitted parameters, how each was obtained, and the fit's residuals."""

from __future__ import annotations

import json
from collections.abc import Mapping

from servecast.domain.calibration import Calibration

FIT_SUMMARY = "Fit residuals, |predicted / measured - 1| per fit group:"


def calibration_toml(
    calibration: Calibration, hardware: str, summaries: Mapping[str, str], summary_title: str = FIT_SUMMARY
) -> str:
    """The calibration as TOML, with `summaries` (by default the per-group fit residuals) as a header comment."""
    lines = [
        f"# Calibrated efficiency parameters of {hardware}: written by a script, do not edit by hand.",
        f"# Re-create with: {calibration.fitted_by}",
        f"# {summary_title}",
        *(f"#   {group}: {summary}" for group, summary in summaries.items()),
        "schema_version = 1",
        f"fitted_by = {json.dumps(calibration.fitted_by)}",
        f"fitted_on = {calibration.fitted_on.isoformat()}",
        f"data = [{', '.join(json.dumps(item) for item in calibration.data)}]",
        "",
        "[parameters]",
    ]
    for name in sorted(calibration.parameters):
        parameter = calibration.parameters[name]
        lines.append(
            f'"{name}" = {{ value = {parameter.value:.6g}, origin = "{parameter.origin.value}", '
            f"note = {json.dumps(parameter.note)} }}"
        )
    return "\n".join(lines) + "\n"
