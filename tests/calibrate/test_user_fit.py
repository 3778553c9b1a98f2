"""Fitting a user calibration: known parameters recovered from noisy runs, errors cross-validated, and runs that
cannot identify a parameter refused."""

from __future__ import annotations

import numpy as np
import pytest

from servecast.calibrate.user_fit import SHIPPED, fit_user_calibration
from servecast.calibrate.user_rows import CalibrationRow
from servecast.domain.user_calibration import FittedValue, UserCalibration
from servecast.errors import InputError
from servecast.host import PluginHost
from servecast.serving.estimate import estimate
from servecast.serving.request import EstimateRequest

METRICS = ("ttft_ms", "tpot_ms", "throughput_tokens_per_s")


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.from_entry_points()


def _requests(concurrencies: tuple[int, ...], lengths: tuple[int, ...]) -> list[EstimateRequest]:
    return [
        EstimateRequest.parse(
            {
                "model": "meta-llama/Llama-3.1-8B",
                "system": "h100_sxm",
                "framework": "vllm",
                "isl": isl,
                "osl": 200,
                "concurrency": users,
            }
        )
        for users in concurrencies
        for isl in lengths
    ]


def _measured_runs(host: PluginHost, truth: dict[str, float], requests: list[EstimateRequest], noise: float):
    """Runs measured on a 'GPU' whose kernels and front end differ from the shipped model by `truth`."""
    version = host.framework_version("vllm").version
    calibration = UserCalibration(
        system="h100_sxm",
        framework="vllm",
        framework_versions=(version,),
        fitted_by="the truth",
        fitted_on="2026-01-01",
        data=("synthetic",),
        rows=len(requests),
        errors={},
        mape={},
        parameters={
            name: FittedValue(value=v, shipped=SHIPPED[name], sigma=0.0, note="truth") for name, v in truth.items()
        },
    )
    measuring = host.with_user_calibration(calibration)
    rng = np.random.default_rng(7)
    rows = []
    for number, request in enumerate(requests):
        metrics = estimate(measuring, request).metrics
        measured = {name: float(getattr(metrics, name)) * float(np.exp(rng.normal(0, noise))) for name in METRICS}
        rows.append(CalibrationRow(f"run {number}", request, measured))
    return version, rows


def test_known_kernel_speed_and_front_end_time_are_recovered_from_noisy_runs(host):
    truth = {"gemm.efficiency_scale": 0.8, "frontend.request_ms": 30.0}
    version, rows = _measured_runs(host, truth, _requests((1, 8, 64), (500, 2000)), noise=0.03)
    report = fit_user_calibration(host, rows, [version], list(truth), ["synthetic"], "test", prior_widths=(1.0,))
    fitted = report.calibration.parameters
    assert fitted["gemm.efficiency_scale"].value == pytest.approx(0.8, rel=0.05)
    assert fitted["frontend.request_ms"].value == pytest.approx(30.0, rel=0.25)
    assert all(p.sigma is not None and p.sigma > 0 for p in fitted.values())
    mape = report.calibration.mape
    assert mape["ttft_ms"]["cross_validated"] < mape["ttft_ms"]["shipped"] / 2


def test_reported_errors_and_intervals_are_the_cross_validated_ones(host):
    truth = {"gemm.efficiency_scale": 0.85, "frontend.request_ms": 20.0}
    version, rows = _measured_runs(host, truth, _requests((1, 8, 64), (500, 2000)), noise=0.1)
    report = fit_user_calibration(host, rows, [version], list(truth), ["synthetic"], "test", prior_widths=(1.0,))
    calibration = report.calibration
    for metric in METRICS:
        cross = report.cross_validated[metric]
        in_fold = report.in_fold[metric]
        assert calibration.errors[metric].p90 == pytest.approx(float(np.quantile(cross, 0.9)))
        assert calibration.mape[metric]["cross_validated"] == pytest.approx(
            float(np.mean(np.abs(np.expm1(-cross)))) * 100, abs=0.01
        )
        assert calibration.mape[metric]["in_fold"] == pytest.approx(
            float(np.mean(np.abs(np.expm1(-in_fold)))) * 100, abs=0.01
        )
    total = sum(calibration.mape[m]["cross_validated"] for m in METRICS)
    assert total > sum(calibration.mape[m]["in_fold"] for m in METRICS)


def test_the_prior_width_chosen_never_cross_validates_worse_than_the_shipped_model(host):
    version, rows = _measured_runs(host, {}, _requests((1, 16), (500, 2000)), noise=0.05)
    report = fit_user_calibration(host, rows, [version], ["gemm.efficiency_scale"], ["synthetic"], "test")
    calibration = report.calibration
    assert calibration.prior_width in (0.0, 1.0, 0.5, 0.25)
    shipped = sum(errors["shipped"] for errors in calibration.mape.values())
    assert sum(errors["cross_validated"] for errors in calibration.mape.values()) <= shipped * 1.05


def test_runs_that_cannot_move_a_requested_parameter_are_refused(host):
    version, rows = _measured_runs(host, {}, _requests((1, 4, 8), (1000,)), noise=0.02)
    with pytest.raises(InputError, match="do not identify communication.efficiency_scale"):
        fit_user_calibration(host, rows, [version], ["communication.efficiency_scale"], ["synthetic"], "test")
