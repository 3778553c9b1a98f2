"""A user calibration applied: the kernel families it speeds up, the runtime costs it replaces, the memory it keeps
from the KV cache, only on the system, framework and version it was fitted on, and named in the estimate."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from servecast.domain.target import Target
from servecast.domain.user_calibration import FittedValue, UserCalibration
from servecast.host import PluginHost
from servecast.ops import OpKind
from servecast.serving.estimate import estimate
from servecast.serving.request import EstimateRequest


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.from_entry_points()


@pytest.fixture
def calibration(
    host: PluginHost, make_user_calibration: Callable[..., UserCalibration]
) -> Callable[..., UserCalibration]:
    """A calibration of the newest vLLM fitting `values` (parameter name: value)."""

    def make(**values: float) -> UserCalibration:
        parameters = {name: FittedValue(value=v, shipped=0.0, sigma=0.1, note="test") for name, v in values.items()}
        version = host.framework_version("vllm").version
        return make_user_calibration(framework_versions=(version,), parameters=parameters)

    return make


def request(**changes: object) -> EstimateRequest:
    values = {"model": "meta-llama/Llama-3.1-8B", "system": "h100_sxm", "framework": "vllm", "isl": 1000, "osl": 100}
    return EstimateRequest.parse({**values, "concurrency": 1, **changes})


def test_slower_gemms_make_decoding_slower_and_say_so_in_the_provenance(host, calibration):
    shipped = estimate(host, request(), breakdown=True)
    calibrated_host = host.with_user_calibration(calibration(**{"gemm.efficiency_scale": 0.5}))
    calibrated = estimate(calibrated_host, request(), breakdown=True)
    assert calibrated.metrics.tpot_ms > 1.3 * shipped.metrics.tpot_ms
    assert calibrated.calibration is not None and "vllm" in calibrated.calibration
    target = Target(hardware="h100_sxm", framework="vllm", framework_version=calibrated.framework_version)
    gemm = calibrated_host.op_estimator(OpKind.GEMM, target)({"m": 8, "n": 4096, "k": 4096}, "bf16")
    assert "calibrated by user data: gemm.efficiency_scale 0.5" in gemm.source_of(0)


def test_front_end_time_is_added_to_every_online_request(host, calibration):
    shipped = estimate(host, request())
    calibrated = estimate(host.with_user_calibration(calibration(**{"frontend.request_ms": 100.0})), request())
    assert calibrated.metrics.ttft_ms == pytest.approx(shipped.metrics.ttft_ms + 100.0, abs=5.0)


def test_memory_reserve_shrinks_the_kv_cache_by_that_much(host, calibration):
    shipped = estimate(host, request())
    calibrated = estimate(host.with_user_calibration(calibration(**{"memory.reserve_gib": 10.0})), request())
    shrink = shipped.servers["server"].capacity.kv_cache_bytes - calibrated.servers["server"].capacity.kv_cache_bytes
    assert shrink == 10 * 2**30


def test_other_frameworks_keep_the_shipped_model_and_are_told_so(host, calibration):
    calibrated_host = host.with_user_calibration(calibration(**{"gemm.efficiency_scale": 0.5}))
    shipped = estimate(host, request(framework="sglang"))
    other = estimate(calibrated_host, request(framework="sglang"))
    assert other.metrics == shipped.metrics
    assert other.calibration is None
    assert any("does not cover sglang" in warning for warning in other.warnings)


def test_every_estimate_carries_an_interval_around_its_prediction(host):
    result = estimate(host, request())
    for metric in ("ttft_ms", "tpot_ms", "throughput_tokens_per_s"):
        interval = result.intervals[metric]
        assert interval.low < getattr(result.metrics, metric) * 1.5
        assert interval.low < interval.high
    assert result.as_dict()["intervals"]["basis"]
