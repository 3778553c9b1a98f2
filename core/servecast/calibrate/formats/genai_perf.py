"""NVIDIA genai-perf and AIPerf profile exports read as measured runs, so users calibrate on NVIDIA's benchmarks.

Both tools write one JSON object: each metric an object with `unit`, `avg`, `p50`, ... and the run's configuration
under `input_config`. Sources:

- genai-perf: triton-inference-server/perf_analyzer `genai-perf/genai_perf/export_data/json_exporter.py` and
  `metrics/statistics.py`, `metrics/llm_metrics.py` at commit 263c5f6e0c7a (genai-perf 0.0.16dev). Metrics
  `time_to_first_token`, `inter_token_latency`, `request_latency` (unit "ms"), `output_token_throughput`
  ("tokens/sec"), `input_sequence_length`, `output_sequence_length` ("tokens"), `request_count` ("count", avg only).
  `input_config` is the config object (`config/input/config_command.py`): `model_names` and
  `perf_analyzer.stimulus` = {"concurrency": N} or {"request_rate": R}; before the config file (0.0.11, commit
  9fd79801^) it was the flat argument namespace: `model` (a list), `concurrency`, `request_rate`.
- AIPerf: ai-dynamo/aiperf `aiperf/exporters/json_exporter.py` and `aiperf/common/models/export_models.py` at
  v0.1.1 (commit db4f6397d11e): the same metric records (time units "ns", "us", "ms", "sec"), plus `was_cancelled`,
  `error_summary`, `start_time`; `input_config` is the user config with unset fields left out: `endpoint.model_names`,
  `loadgen.concurrency`, `loadgen.request_rate`.

Inter-token latency in both is per request (request latency - TTFT) / (output tokens - 1): servecast's TPOT. A run
that states neither a concurrency nor a rate ran at the tools' default, concurrency 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from servecast.calibrate.formats.fields import (
    FIX_FILE,
    Record,
    completed,
    count,
    load,
    mean_length,
    measured,
    metric,
    nested,
    number,
    text,
)
from servecast.calibrate.runs import MeasuredRun
from servecast.errors import InputError

METRICS = ("time_to_first_token", "inter_token_latency", "request_latency", "output_token_throughput")
TIME_UNITS_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3, "sec": 1e3}
"""Milliseconds per unit of the time metrics."""
AIPERF_KEYS = ("was_cancelled", "error_summary", "start_time", "end_time", "benchmark_duration")


def is_export(data: Record) -> bool:
    """Whether `data` is a genai-perf or AIPerf profile export: a metric record with a unit."""
    return any(isinstance(record, Mapping) and "unit" in record for record in map(data.get, METRICS))


def tool(data: Record) -> str:
    """'aiperf' or 'genai-perf', by the keys only AIPerf writes."""
    config = data.get("input_config")
    aiperf = any(key in data for key in AIPERF_KEYS) or (
        isinstance(config, Mapping) and ("loadgen" in config or "cli_command" in config)
    )
    return "aiperf" if aiperf else "genai-perf"


def read_export(data: Record, origin: str) -> MeasuredRun:
    """One profile export as a measured run."""
    config = data.get("input_config")
    config = config if isinstance(config, Mapping) else {}
    done = completed(nested(data, "request_count", "avg"), "request_count.avg", origin)
    settings: dict[str, object] = {}
    aiperf = tool(data) == "aiperf"
    model = _model(nested(config, "endpoint", "model_names") if aiperf else config.get("model_names"), origin)
    model = model or (None if aiperf else _model(config.get("model"), origin))
    if model:
        settings["model"] = model
    for name, key, side in (("isl", "input_sequence_length", "input"), ("osl", "output_sequence_length", "output")):
        mean = number(nested(data, key, "avg"), f"{key}.avg", origin)
        if mean is not None:
            settings[name] = mean_length(mean, 1, side, origin)
    users, rate = _load(nested(config, "loadgen") if aiperf else nested(config, "perf_analyzer", "stimulus"), origin)
    if not aiperf and users is None and rate is None:
        users, rate = _load(config, origin)  # genai-perf before its config file: the flat argument namespace
    if users is None and rate is None:
        users = 1
    settings |= load(origin, users=users, rate=rate, requests=done)
    settings["num_requests"] = done
    means = {
        "ttft_ms": _mean(data, "time_to_first_token", origin),
        "tpot_ms": _mean(data, "inter_token_latency", origin),
        "e2e_ms": _mean(data, "request_latency", origin),
        "throughput_tokens_per_s": _mean(data, "output_token_throughput", origin),
    }
    return MeasuredRun(origin, settings, measured(origin, means))


def _mean(data: Record, name: str, origin: str) -> float | None:
    """A metric's average in milliseconds (times) or tokens per second (throughput)."""
    record = data.get(name)
    if not isinstance(record, Mapping):
        return None
    unit = record.get("unit")
    if name == "output_token_throughput":
        if unit not in ("tokens/sec", "tokens/s"):
            raise InputError(f"{origin}: {name} has unit {unit!r}, not tokens/sec", FIX_FILE)
        return metric(record.get("avg"), f"{name}.avg", origin)
    if not isinstance(unit, str) or unit not in TIME_UNITS_MS:
        raise InputError(f"{origin}: {name} has unit {unit!r}, not a time unit ({', '.join(TIME_UNITS_MS)})", FIX_FILE)
    return metric(record.get("avg"), f"{name}.avg", origin, scale=TIME_UNITS_MS[unit])


def _model(names: object, origin: str) -> str | None:
    """The one model profiled, from the tool's list of model names."""
    if isinstance(names, str):
        return text(names, "input_config model", origin)
    if isinstance(names, Sequence) and names:
        if len(names) > 1:
            raise InputError(
                f"{origin}: the run profiles {len(names)} models at once ({', '.join(map(str, names))})",
                "calibrate on runs of one model each",
            )
        return text(names[0], "input_config model", origin)
    return None


def _load(place: object, origin: str) -> tuple[int | None, float | None]:
    """The configured concurrency and request rate in one section of `input_config`."""
    if not isinstance(place, Mapping):
        return None, None
    users = count(place.get("concurrency"), "input_config concurrency", origin)
    return users, number(place.get("request_rate"), "input_config request_rate", origin)
