"""`trtllm-bench throughput --report_json` reports read as measured runs, to calibrate TensorRT-LLM on them.

Field names are those of `ReportUtility.get_statistics_dict` in NVIDIA/TensorRT-LLM
`tensorrt_llm/bench/dataclasses/reporting.py` (read at commit 0249976575050d2c; the same keys in the 0.2x-era copy of
the Ataraksia/TensorRT-LLM fork):

- `engine`: `model` (the `--model` name), `model_path`, `version` (TensorRT-LLM's), `backend`, `dtype`,
  `quantization`, `kv_cache_dtype`;
- `world_info`: `tp_size`, `pp_size`, `ep_size`, `world_size`, `max_batch_size`, `max_num_tokens`, ...;
- `request_info`: `num_requests`, `avg_input_length`, `avg_output_length` (tokens),
  `avg_num_concurrent_requests` (measured, not configured);
- `performance`: `avg_request_latency_ms`, `system_output_throughput_tok_s` (output tokens/s), ...;
- `streaming_metrics` (only with `--streaming`): `avg_ttft_ms`, `avg_tpot_ms`.

Every time is in milliseconds (the report converts from nanoseconds) and every rate per second. The report does not
state the load (`--concurrency`, unlimited by default) nor attention data parallelism, so both come from the
command line; nor is `quantization` mapped, its names being TensorRT-LLM's own.
"""

from __future__ import annotations

from collections.abc import Mapping

from servecast.calibrate.formats.fields import (
    FIX_FILE,
    Record,
    completed,
    count,
    mean_length,
    measured,
    metric,
    nested,
    number,
    positive_layout,
    text,
)
from servecast.calibrate.runs import MeasuredRun
from servecast.errors import InputError

FRAMEWORK = "trtllm"


def is_report(data: Record) -> bool:
    """Whether `data` is a trtllm-bench report."""
    return isinstance(data.get("world_info"), Mapping) and isinstance(data.get("performance"), Mapping)


def read_report(data: Record, origin: str) -> MeasuredRun:
    """One trtllm-bench report as a measured run."""
    done = completed(nested(data, "request_info", "num_requests"), "request_info.num_requests", origin)
    settings: dict[str, object] = {"framework": FRAMEWORK, "num_requests": done}
    for name, key in (("model", "model"), ("framework_version", "version")):
        value = text(nested(data, "engine", key), f"engine.{key}", origin)
        if value:
            settings[name] = value
    for name, key, side in (("isl", "avg_input_length", "input"), ("osl", "avg_output_length", "output")):
        mean = number(nested(data, "request_info", key), f"request_info.{key}", origin)
        if mean is None:
            raise InputError(f"{origin}: no request_info.{key}: the report states no {side} length", FIX_FILE)
        settings[name] = mean_length(mean, 1, side, origin)
    for name, key in (("tp", "tp_size"), ("pp", "pp_size"), ("ep", "ep_size")):
        positive_layout(settings, name, nested(data, "world_info", key), f"{origin}, world_info")
    for key in ("max_batch_size", "max_num_tokens"):
        limit = count(nested(data, "world_info", key), f"world_info.{key}", origin)
        if limit:
            settings[key] = limit
    means = {
        "ttft_ms": metric(nested(data, "streaming_metrics", "avg_ttft_ms"), "streaming_metrics.avg_ttft_ms", origin),
        "tpot_ms": metric(nested(data, "streaming_metrics", "avg_tpot_ms"), "streaming_metrics.avg_tpot_ms", origin),
        "e2e_ms": metric(
            nested(data, "performance", "avg_request_latency_ms"), "performance.avg_request_latency_ms", origin
        ),
        "throughput_tokens_per_s": metric(
            nested(data, "performance", "system_output_throughput_tok_s"),
            "performance.system_output_throughput_tok_s",
            origin,
        ),
    }
    return MeasuredRun(origin, settings, measured(origin, means))
