"""Prediction intervals over a search's points, and the pessimistic view `search --confidence` ranks by."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from servecast.domain.target import Target
from servecast.host.host import PluginHost
from servecast.search.evaluate import Columns
from servecast.serving.intervals import PredictionErrors, errors_for

INTERVALS = {
    "ttft_ms": "ttft_ms",
    "tpot_ms": "tpot_ms",
    "e2e_ms": "e2e_ms",
    "tokens_per_s_per_gpu": "throughput_tokens_per_s",
}
"""Each search column with an interval, and the metric whose errors give it."""

INTERVAL_COLUMNS = tuple(f"{column}_{end}" for column in INTERVALS for end in ("low", "high"))
"""The p10 and p90 ends of each column's interval."""


def errors_by_framework(host: PluginHost, system: str, versions: Mapping[str, str]) -> dict[str, PredictionErrors]:
    """The errors behind each framework's intervals: the user calibration's where it covers the framework's
    evaluated version on `system`, the shipped model's elsewhere."""
    return {
        framework: errors_for(host, Target(hardware=system, framework=framework, framework_version=version))
        for framework, version in versions.items()
    }


def interval_columns(columns: Columns, errors: Mapping[str, PredictionErrors]) -> Columns:
    """INTERVAL_COLUMNS for every point, from the errors of its framework and serving mode (nan where none)."""
    size = len(columns["framework"])
    result = {name: np.full(size, np.nan) for name in INTERVAL_COLUMNS}
    groups = np.char.add(columns["framework"].astype(str), np.char.add("/", columns["mode"].astype(str)))
    for group in dict.fromkeys(groups.tolist()):
        framework, mode = group.split("/", 1)
        rows = groups == group
        for column, metric in INTERVALS.items():
            quantiles = errors[framework].quantiles_of(metric, mode)
            if quantiles is not None:
                result[f"{column}_low"][rows] = columns[column][rows] * np.exp(quantiles.p10)
                result[f"{column}_high"][rows] = columns[column][rows] * np.exp(quantiles.p90)
    return result


def pessimistic(columns: Columns) -> Columns:
    """The columns as the pessimistic ends of their intervals see them: latencies at p90, throughputs (and the
    request rate) at p10; a column without an interval keeps its prediction."""
    view = dict(columns)
    for column in ("ttft_ms", "tpot_ms", "e2e_ms"):
        high = columns[f"{column}_high"]
        view[column] = np.where(np.isnan(high), columns[column], high)
    per_gpu = columns["tokens_per_s_per_gpu"]
    low = columns["tokens_per_s_per_gpu_low"]
    ratio = np.divide(low, per_gpu, out=np.ones(len(low)), where=~np.isnan(low) & (per_gpu > 0))
    for column in ("tokens_per_s_per_gpu", "throughput_tokens_per_s", "requests_per_s"):
        view[column] = columns[column] * ratio
    tpot = view["tpot_ms"]
    view["tokens_per_s_per_user"] = np.divide(1000.0, tpot, out=np.full(len(tpot), np.inf), where=tpot > 0)
    return view
