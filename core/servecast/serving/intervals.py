"""Prediction intervals: the range a measurement falls in around a prediction, from the model's out-of-sample errors
(the shipped model's on the published rows, or a user calibration's cross-validated ones)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from servecast.domain.target import Target
from servecast.domain.user_calibration import ErrorQuantiles, UserCalibration
from servecast.host.host import PluginHost
from servecast.toml_file import read_toml

INTERVAL_METRICS = ("ttft_ms", "tpot_ms", "e2e_ms", "throughput_tokens_per_s")
"""Metrics that carry an interval; tokens per second per GPU and per user scale with throughput and TPOT."""

POOLED = "all"
"""The regime key of errors pooled over every serving mode."""

MIN_ROWS = 10
"""Fewest out-of-sample rows a regime's own quantiles rest on; below it the pooled ones apply."""

SHIPPED_ERRORS = "prediction_errors.toml"


@dataclass(frozen=True)
class Interval:
    """Where the measurement of one metric is expected: between `low` and `high` in 8 of 10 deployments."""

    low: float
    high: float

    def as_list(self) -> list[float]:
        return [self.low, self.high]


@dataclass(frozen=True)
class PredictionErrors:
    """Quantiles of log(measured / predicted) by metric and serving mode, and what they were measured on."""

    basis: str
    quantiles: dict[tuple[str, str], ErrorQuantiles]
    fallback: PredictionErrors | None = None
    """Where a metric has too few rows here (below MIN_ROWS even pooled), the errors that answer instead."""

    def quantiles_of(self, metric: str, regime: str) -> ErrorQuantiles | None:
        """The regime's own quantiles where enough rows stand behind them, else the pooled ones, else the
        fallback's (None: no data)."""
        own = self.quantiles.get((metric, regime))
        if own is not None and own.rows >= MIN_ROWS:
            return own
        pooled = self.quantiles.get((metric, POOLED))
        if pooled is not None and (pooled.rows >= MIN_ROWS or self.fallback is None):
            return pooled
        if self.fallback is not None:
            return self.fallback.quantiles_of(metric, regime)
        return own

    def interval(self, metric: str, regime: str, predicted: float) -> Interval | None:
        """The p10-p90 range of the measurement given the prediction (None where no errors are known or the
        prediction is unbounded)."""
        quantiles = self.quantiles_of(metric, regime)
        if quantiles is None or not math.isfinite(predicted):
            return None
        return Interval(predicted * math.exp(quantiles.p10), predicted * math.exp(quantiles.p90))


def prediction_intervals(errors: PredictionErrors, regime: str, metrics: object) -> dict[str, Interval]:
    """The interval of every INTERVAL_METRICS attribute of `metrics` that has one."""
    result = {}
    for metric in INTERVAL_METRICS:
        interval = errors.interval(metric, regime, float(getattr(metrics, metric)))
        if interval is not None:
            result[metric] = interval
    return result


def errors_for(host: PluginHost, target: Target) -> PredictionErrors:
    """The errors behind `target`'s intervals: the user calibration's where it covers the target, the shipped
    model's elsewhere."""
    calibration = host.user_calibration
    if calibration is not None and host.user_calibration_covers(target):
        return user_errors(calibration)
    return shipped_errors()


def user_errors(calibration: UserCalibration) -> PredictionErrors:
    """A user calibration's cross-validated errors, pooled over modes (a user's runs are few); a metric with fewer
    than MIN_ROWS cross-validated runs takes the shipped model's."""
    quantiles = {(metric, POOLED): q for metric, q in calibration.errors.items()}
    few = sorted(metric for metric, q in calibration.errors.items() if q.rows < MIN_ROWS)
    basis = f"cross-validated errors of the user calibration ({calibration.label})"
    if few or len(quantiles) < len(INTERVAL_METRICS):
        basis += f"; where it has fewer than {MIN_ROWS} runs of a metric, the shipped model's errors"
    return PredictionErrors(basis, quantiles, shipped_errors())


@cache
def shipped_errors() -> PredictionErrors:
    """The shipped model's out-of-sample errors on the published rows (scripts/prediction_errors.py writes them)."""
    path = Path(str(resources.files("servecast.serving").joinpath(SHIPPED_ERRORS)))
    return read_prediction_errors(path)


def read_prediction_errors(path: Path) -> PredictionErrors:
    """Prediction errors from a TOML file: `basis`, then `[quantiles.<metric>.<regime>]` tables."""
    data = read_toml(path)
    quantiles = {
        (metric, regime): ErrorQuantiles.model_validate(values)
        for metric, regimes in data["quantiles"].items()
        for regime, values in regimes.items()
    }
    return PredictionErrors(str(data["basis"]), quantiles)
