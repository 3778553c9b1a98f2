"""A calibration transferred from another system whose GPU shares what the parameters describe.

The calibrated roofline's parameters are fractions of a system's datasheet peaks, latencies and overheads; where
two GPUs share the silicon that sets them (the H200 SXM is the H100 SXM's GH100 with HBM3e), the fractions carry
over and the new spec's peaks do the scaling. Every parameter becomes `transferred`, its note saying from where,
why, and how it was obtained there.
"""

from __future__ import annotations

import datetime as dt

from servecast.domain.calibration import Calibration, ParameterOrigin


def transfer_calibration(calibration: Calibration, source: str, reason: str, command: str) -> Calibration:
    """`calibration` of system `source` as a transferred calibration for another system (`reason`: why its
    parameters carry over), re-creatable with `command`."""
    parameters = {
        name: parameter.model_copy(
            update={
                "origin": ParameterOrigin.TRANSFERRED,
                "note": f"from {source} ({reason}); there {parameter.origin.value}: {parameter.note}",
            }
        )
        for name, parameter in calibration.parameters.items()
    }
    return Calibration(
        fitted_by=command,
        fitted_on=dt.date.today(),
        data=(f"{source}'s calibration", *calibration.data),
        parameters=parameters,
    )
