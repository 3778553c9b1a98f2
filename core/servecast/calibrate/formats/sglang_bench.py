"""SGLang's serving benchmark results read as measured runs, so users calibrate on the runs they already have.

`python -m sglang.bench_serving --output-file F` appends one JSON object per run to F (JSON Lines). Field names are
those of sgl-project/sglang `python/sglang/bench_serving.py` (the `result` dict of `benchmark()`; read at commit
0033168f0f58 and in a later copy that adds `tag` and `server_info`):

- setup: `backend` (the client's API, not the server), `dataset_name`, `request_rate` (a float, written as
  `Infinity` when unlimited, or "trace" when replaying trace timestamps), `max_concurrency` (null without a limit);
- results: `completed`, `total_input_tokens`, `total_output_tokens`, `output_throughput` (output tokens/s),
  `mean_ttft_ms`, `mean_tpot_ms`, `mean_itl_ms`, `mean_e2e_latency_ms`; `concurrency` is the *measured* mean
  number of requests in flight, not the configured limit, and is not read;
- `server_info` (later versions): the server's `/get_server_info` answer, SGLang's `ServerArgs` as a dict
  (`model_path`, `tp_size`, `pp_size`, `dp_size`, `ep_size`, `enable_dp_attention`, ...) plus `version`
  (sglang/srt/entrypoints/http_server.py, `get_server_info`). Null when the server is not SGLang.

No number of prompts is written: the batch of an unlimited-rate run is the completed requests. The model,
framework, version and layout are read from `server_info` only; a layout with data-parallel groups is left to the
command line, since `dp_size` means replicas or attention groups depending on `enable_dp_attention`.
"""

from __future__ import annotations

from collections.abc import Mapping

from servecast.calibrate.formats.fields import Record, number, positive_layout, text
from servecast.calibrate.formats.vllm_bench import is_result as is_serving_result
from servecast.calibrate.formats.vllm_bench import serving_means, serving_settings
from servecast.calibrate.runs import MeasuredRun
from servecast.errors import InputError

SGLANG_KEYS = ("mean_e2e_latency_ms", "total_output_tokens_retokenized", "server_info")
"""Keys only SGLang's results hold (vLLM names its end-to-end latency mean_e2el_ms)."""


def is_result(data: Record) -> bool:
    """Whether `data` is one line of SGLang's benchmark output."""
    return ("completed" in data and any(key in data for key in SGLANG_KEYS)) or (
        is_serving_result(data) and "dataset_name" in data and "model_id" not in data
    )


def read_result(data: Record, origin: str) -> MeasuredRun:
    """One SGLang result as a measured run."""
    if data.get("request_rate") == "trace":
        raise InputError(
            f"{origin}: request_rate = 'trace': the run replays a trace's timestamps, not one load",
            "calibrate on runs at a fixed --request-rate or --max-concurrency",
        )
    settings = serving_settings(data, origin, sent=None)
    server = data.get("server_info")
    if isinstance(server, Mapping) and "model_path" in server:
        settings.update(_server_settings(server, f"{origin}, server_info"))
    return MeasuredRun(origin, settings, serving_means(data, origin, e2e_key="mean_e2e_latency_ms"))


def _server_settings(server: Mapping[str, object], origin: str) -> dict[str, object]:
    """Model, framework, version and (without data-parallel groups) layout from the server's own arguments."""
    settings: dict[str, object] = {"framework": "sglang"}
    for name, key in (("model", "model_path"), ("framework_version", "version")):
        value = text(server.get(key), key, origin)
        if value:
            settings[name] = value
    disaggregated = server.get("disaggregation_mode") not in (None, "null")
    groups = number(server.get("dp_size"), "dp_size", origin)
    if not disaggregated and groups in (None, 1):
        for name, key in (("tp", "tp_size"), ("pp", "pp_size"), ("ep", "ep_size")):
            positive_layout(settings, name, server.get(key), origin)
    return settings
