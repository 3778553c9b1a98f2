"""The user calibration file: written and read back unchanged; a broken one refused with the file named."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from servecast.calibrate.user_file import read_user_calibration, user_calibration_toml
from servecast.domain.user_calibration import ErrorQuantiles, FittedValue, UserCalibration
from servecast.errors import InputError


@pytest.fixture
def calibration(make_user_calibration: Callable[..., UserCalibration]) -> UserCalibration:
    return make_user_calibration(
        fitted_by='servecast calibrate --input "runs.json"',
        rows=6,
        parameters={
            "gemm.efficiency_scale": FittedValue(value=0.9, shipped=1.0, sigma=0.02, note="GEMM speed"),
            "memory.reserve_gib": FittedValue(value=0.0, shipped=0.0, sigma=None, note="not identified"),
        },
        errors={"ttft_ms": ErrorQuantiles(p10=-0.1, p50=0.0, p90=0.12, rows=6)},
        mape={"ttft_ms": {"shipped": 40.0, "in_fold": 5.0, "cross_validated": 8.0}},
    )


def test_a_written_calibration_reads_back_equal(tmp_path, calibration):
    path = tmp_path / "cal.toml"
    path.write_text(user_calibration_toml(calibration))
    assert read_user_calibration(path) == calibration


def test_a_parameter_left_at_the_shipped_value_has_no_effect(calibration):
    assert calibration.value("memory.reserve_gib") is None
    assert calibration.value("gemm.efficiency_scale") == 0.9


def test_an_unknown_parameter_is_refused_naming_the_file(tmp_path, calibration):
    path = tmp_path / "cal.toml"
    path.write_text(user_calibration_toml(calibration).replace("gemm.efficiency_scale", "gemm.speedup"))
    with pytest.raises(InputError, match=r"cal\.toml.*unknown parameter\(s\) gemm\.speedup"):
        read_user_calibration(path)


def test_a_value_outside_its_bounds_is_refused(tmp_path, calibration):
    path = tmp_path / "cal.toml"
    path.write_text(user_calibration_toml(calibration).replace("value = 0.9,", "value = 40,"))
    with pytest.raises(InputError, match=r"gemm\.efficiency_scale = 40"):
        read_user_calibration(path)


def test_a_folder_or_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        read_user_calibration(tmp_path)
    with pytest.raises(InputError, match="file not found"):
        read_user_calibration(tmp_path / "missing.toml")
