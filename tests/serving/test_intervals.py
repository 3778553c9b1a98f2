"""Prediction intervals: a mode's own errors where enough rows stand behind them, pooled or shipped ones otherwise."""

from __future__ import annotations

import math

import pytest

from servecast.domain.user_calibration import ErrorQuantiles
from servecast.serving.intervals import POOLED, PredictionErrors, shipped_errors, user_errors


def quantiles(spread: float, rows: int) -> ErrorQuantiles:
    return ErrorQuantiles(p10=-spread, p50=0.0, p90=spread, rows=rows)


def test_a_mode_with_few_rows_takes_the_pooled_errors():
    errors = PredictionErrors(
        "test",
        {
            ("ttft_ms", "agg"): quantiles(0.1, 40),
            ("ttft_ms", "static"): quantiles(0.9, 3),
            ("ttft_ms", POOLED): quantiles(0.2, 43),
        },
    )
    assert errors.quantiles_of("ttft_ms", "agg") == quantiles(0.1, 40)
    assert errors.quantiles_of("ttft_ms", "static") == quantiles(0.2, 43)
    assert errors.quantiles_of("ttft_ms", "disagg") == quantiles(0.2, 43)


def test_the_interval_scales_the_prediction_and_an_unbounded_one_has_none():
    errors = PredictionErrors("test", {("tpot_ms", POOLED): quantiles(0.1, 20)})
    interval = errors.interval("tpot_ms", "agg", 10.0)
    assert interval is not None
    assert (interval.low, interval.high) == pytest.approx((10 * math.exp(-0.1), 10 * math.exp(0.1)))
    assert errors.interval("tpot_ms", "agg", math.inf) is None
    assert errors.interval("ttft_ms", "agg", 10.0) is None


def test_a_calibration_with_few_runs_of_a_metric_takes_the_shipped_errors_for_it(make_user_calibration):
    calibration = make_user_calibration(errors={"ttft_ms": quantiles(0.3, 12), "tpot_ms": quantiles(0.3, 4)})
    errors = user_errors(calibration)
    assert errors.quantiles_of("ttft_ms", "agg") == quantiles(0.3, 12)
    assert errors.quantiles_of("tpot_ms", "agg") == shipped_errors().quantiles_of("tpot_ms", "agg")
    assert "shipped model's errors" in errors.basis


def test_the_shipped_errors_cover_every_metric_pooled():
    shipped = shipped_errors()
    for metric in ("ttft_ms", "tpot_ms", "throughput_tokens_per_s"):
        assert shipped.quantiles_of(metric, POOLED) is not None
