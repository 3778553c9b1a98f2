"""The Python API: `search`, `estimate` and `recommend`, the same computations the command line runs.

from servecast import api
result = api.search(model="Qwen/Qwen3-32B", system="h100_sxm", gpus=16, isl=4000, osl=500, ttft_ms=1000)
result.best_frame          # pandas DataFrame, one row per framework and mode
api.estimate(model="Qwen/Qwen3-32B", system="h100_sxm", framework="vllm", tp=4, isl=4000, osl=500,
             concurrency=32).metrics.ttft_ms
api.search(..., calibration="cal.toml")   # a calibration `servecast calibrate` fitted to your own runs
api.estimate(..., trace="trace.jsonl", percentiles=True)   # a request trace as the load, replayed
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from servecast.calibrate.user_file import read_user_calibration
from servecast.domain.user_calibration import UserCalibration
from servecast.domain.workload import Sla
from servecast.host.host import PluginHost
from servecast.search.recommend import Recommendation
from servecast.search.recommend import recommend as recommend_units
from servecast.search.result import SearchResult
from servecast.search.runner import run_search
from servecast.search.task import SearchTask
from servecast.serving.estimate import Estimate
from servecast.serving.estimate import estimate as estimate_request
from servecast.serving.request import EstimateRequest
from servecast.serving.trace import TRACE_SETS, Trace, as_trace, with_trace_fields

__all__ = [
    "Estimate",
    "EstimateRequest",
    "Recommendation",
    "SearchResult",
    "SearchTask",
    "Trace",
    "UserCalibration",
    "estimate",
    "recommend",
    "search",
]


@cache
def _installed_host() -> PluginHost:
    return PluginHost.from_entry_points()


def _host(host: PluginHost | None, calibration: str | Path | UserCalibration | None) -> PluginHost:
    """`host` (default: the installed plugins) with the user calibration, given as a file or an object."""
    chosen = host or _installed_host()
    if calibration is None:
        return chosen
    if not isinstance(calibration, UserCalibration):
        calibration = read_user_calibration(Path(calibration))
    return chosen.with_user_calibration(calibration)


def _task(
    ttft_ms: float | None, tpot_ms: float | None, request_latency_ms: float | None, fields: dict[str, Any]
) -> SearchTask:
    """The task of `fields`, its SLA from the mean targets and any percentile targets among them (`ttft_p99_ms`)."""
    tails = {name: fields.pop(name) for name in list(fields) if name in PERCENTILE_FIELDS}
    sla = Sla(ttft_ms=ttft_ms, tpot_ms=tpot_ms, request_latency_ms=request_latency_ms, **tails)
    return SearchTask.parse({**fields, "sla": sla})


PERCENTILE_FIELDS = ("ttft_p90_ms", "ttft_p99_ms", "tpot_p90_ms", "tpot_p99_ms", "e2e_p99_ms")


def search(
    *,
    ttft_ms: float | None = None,
    tpot_ms: float | None = None,
    request_latency_ms: float | None = None,
    trace: str | Path | Trace | None = None,
    host: PluginHost | None = None,
    calibration: str | Path | UserCalibration | None = None,
    **fields: Any,
) -> SearchResult:
    """Search the deployments of `model` on `gpus` GPUs of `system` (fields of `SearchTask`; `trace`'s mean lengths
    as isl and osl where one is given)."""
    if trace is not None:
        fields = with_trace_fields(fields, as_trace(trace), ("isl", "osl"))
    return run_search(_host(host, calibration), _task(ttft_ms, tpot_ms, request_latency_ms, fields))


def estimate(
    *,
    breakdown: bool = False,
    percentiles: bool = False,
    trace: str | Path | Trace | None = None,
    host: PluginHost | None = None,
    calibration: str | Path | UserCalibration | None = None,
    **fields: Any,
) -> Estimate:
    """Estimate one configuration (fields of `EstimateRequest`, named like the estimate command's flags); with
    `trace` (a path or a `Trace`) its rate and lengths are the load, replayed with `percentiles`."""
    loaded = as_trace(trace) if trace is not None else None
    request = EstimateRequest.parse(with_trace_fields(fields, loaded, TRACE_SETS) if loaded is not None else fields)
    return estimate_request(_host(host, calibration), request, breakdown, percentiles, trace=loaded)


def recommend(
    *,
    target_request_rate: float | None = None,
    target_concurrency: int | None = None,
    ttft_ms: float | None = None,
    tpot_ms: float | None = None,
    request_latency_ms: float | None = None,
    trace: str | Path | Trace | None = None,
    host: PluginHost | None = None,
    calibration: str | Path | UserCalibration | None = None,
    **fields: Any,
) -> Recommendation:
    """The fewest GPUs (and the configuration) serving the target load under the SLA (`trace`'s mean lengths and,
    unless a target is given, its rate, where one is given)."""
    loaded = as_trace(trace) if trace is not None else None
    if loaded is not None and target_request_rate is None and target_concurrency is None:
        target_request_rate = loaded.request_rate_per_s
    if loaded is not None:
        fields = with_trace_fields(fields, loaded, ("isl", "osl"))
    fields.setdefault("gpus", 1)
    task = _task(ttft_ms, tpot_ms, request_latency_ms, fields)
    return recommend_units(_host(host, calibration), task, target_request_rate, target_concurrency)
