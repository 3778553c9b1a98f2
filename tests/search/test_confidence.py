"""Search with prediction intervals: every point carries them, `confidence` meets the SLA at their pessimistic end,
and a user calibration moves the calibrated framework to its version and its own intervals."""

from __future__ import annotations

import numpy as np
import pytest

from servecast import api
from servecast.domain.user_calibration import ErrorQuantiles, FittedValue

TASK = {"model": "meta-llama/Llama-3.1-8B", "system": "h100_sxm", "gpus": 2, "isl": 1000, "osl": 200}


def test_every_point_carries_an_interval_around_its_prediction():
    result = api.search(**TASK, frameworks=("vllm",), modes=("agg",))
    columns = result.columns
    finite = np.isfinite(columns["ttft_ms"])
    assert np.all(columns["ttft_ms_low"][finite] < columns["ttft_ms_high"][finite])
    assert np.all(columns["tokens_per_s_per_gpu_low"] <= columns["tokens_per_s_per_gpu_high"])
    assert {"ttft_ms_low", "tpot_ms_high", "tokens_per_s_per_gpu_low"} <= set(result.row(result.best[0]))


def test_confidence_meets_the_sla_at_the_pessimistic_end_of_each_interval():
    sla = {"ttft_ms": 300.0, "tpot_ms": 15.0}
    plain = api.search(**TASK, **sla, frameworks=("vllm",), modes=("agg",))
    careful = api.search(**TASK, **sla, frameworks=("vllm",), modes=("agg",), confidence=True)
    chosen = careful.columns
    feasible = careful.feasible
    assert np.all(chosen["ttft_ms_high"][feasible] <= 300.0)
    assert np.all(chosen["tpot_ms_high"][feasible] <= 15.0)
    assert feasible.sum() < plain.feasible.sum()
    winner = careful.row(careful.best[0])
    assert winner["tokens_per_s_per_gpu"] <= plain.row(plain.best[0])["tokens_per_s_per_gpu"]


def test_a_calibration_searches_its_framework_at_its_version_with_its_own_intervals(make_user_calibration):
    calibration = make_user_calibration(
        parameters={"gemm.efficiency_scale": FittedValue(value=0.8, shipped=1.0, sigma=0.02, note="test")},
        errors={"ttft_ms": ErrorQuantiles(p10=-0.5, p50=0.0, p90=0.5, rows=12)},
    )
    result = api.search(**TASK, frameworks=("vllm", "sglang"), modes=("agg",), calibration=calibration)
    assert result.versions["vllm"] == "0.11.0"
    assert result.calibration == calibration.label
    columns = result.columns
    vllm = (columns["framework"] == "vllm") & np.isfinite(columns["ttft_ms"])
    ratio = columns["ttft_ms_high"][vllm] / columns["ttft_ms"][vllm]
    assert ratio == pytest.approx(np.exp(0.5))
    sglang = (columns["framework"] == "sglang") & np.isfinite(columns["ttft_ms"])
    assert not np.allclose(columns["ttft_ms_high"][sglang] / columns["ttft_ms"][sglang], np.exp(0.5))
