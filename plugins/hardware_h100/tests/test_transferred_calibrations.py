"""Systems whose calibration is H100's, transferred: every parameter H100's value, marked and explained."""

import pytest

from servecast.domain.calibration import ParameterOrigin
from servecast_hardware_h100.plugin import servecast_register_hardware


@pytest.mark.parametrize(
    ("system", "reason"),
    [("h200_sxm", "the same GH100 SMs, clocks and tensor peaks"), ("h20", "the same GH100 SMs")],
)
def test_every_calibration_parameter_is_h100s_value_transferred(system, reason):
    """Fails when H100's calibration changes and this one's is not written again (scripts/transfer_calibration.py)."""
    by_name = {spec.name: spec for spec in servecast_register_hardware()}
    h100, spec = by_name["h100_sxm"], by_name[system]
    assert h100.calibration is not None and spec.calibration is not None
    assert spec.calibration.parameters.keys() == h100.calibration.parameters.keys()
    for name, parameter in spec.calibration.parameters.items():
        assert parameter.value == pytest.approx(h100.calibration.parameters[name].value, rel=1e-5), name
        assert parameter.origin is ParameterOrigin.TRANSFERRED
        assert parameter.note.startswith(f"from h100_sxm ({reason}"), name
