"""A calibration transferred from another system whose GPU shares what the parameters describe.

The calibrated roofline's parameters are fractions of a system's datasheet peaks, latencies and overheads; where
two GPUs share the silicon that sets them (the H200 SXM is the H100 SXM's GH100 with HBM3e), the fractions carry
over and the new spec's peaks do the scaling. Every parameter becomes `transferred`, its note saying from where,
why, and how it was obtained there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from servecast.domain.calibration import Calibration, Parameter, ParameterOrigin


def transfer_calibration(
    calibration: Calibration,
    source: str,
    reason: str,
    command: str,
    derived: Mapping[str, float] | None = None,
    derived_why: str = "",
) -> Calibration:
    """`calibration` of system `source` as a transferred calibration for another system (`reason`: why its
    parameters carry over), re-creatable with `command`; the `derived` parameters take their given values instead,
    derived from this system's own measurements as `derived_why` says."""
    unknown = sorted(set(derived or {}) - set(calibration.parameters))
    if unknown:
        raise KeyError(f"no parameter {', '.join(unknown)} in {source}'s calibration")
    parameters = {
        name: parameter.model_copy(
            update={
                "origin": ParameterOrigin.TRANSFERRED,
                "note": f"from {source} ({reason}); there {parameter.origin.value}: {parameter.note}",
            }
        )
        for name, parameter in calibration.parameters.items()
    }
    for name, value in (derived or {}).items():
        parameters[name] = Parameter(
            value=value,
            origin=ParameterOrigin.DERIVED,
            note=f"{derived_why} ({source}'s value: {calibration.parameters[name].value:.6g})",
        )
    return Calibration(
        fitted_by=command,
        fitted_on=dt.date.today(),
        data=(f"{source}'s calibration", *calibration.data),
        parameters=parameters,
    )
