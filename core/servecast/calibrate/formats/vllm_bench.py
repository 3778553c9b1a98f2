"""vLLM's serving benchmark results read as measured runs, so users calibrate on the runs they already have.

`vllm bench serve --save-result` writes one JSON object per file (`--append-result` adds one per line); the older
`benchmarks/benchmark_serving.py` wrote the same keys. Field names are those of vllm-project/vllm
`vllm/benchmarks/serve.py` at commit 009e6d4a1cd6 (main after v0.11: `benchmark()`'s result dict and `main()`'s
result_json) and `benchmarks/benchmark_serving.py` at commit 0049e29c41fd:

- setup: `model_id`, `num_prompts`, `request_rate` (a number, or the string "inf"), `burstiness`,
  `max_concurrency` (null without a limit), `ramp_up_strategy` (only on ramp-up runs);
- results: `completed`, `total_input_tokens`, `total_output_tokens` (over completed requests), `output_throughput`
  (output tokens/s), `mean_ttft_ms`, `mean_tpot_ms`, `mean_itl_ms`, `mean_e2el_ms` (only with
  `--percentile-metrics ...,e2el`);
- with `--save-detailed`, per-request lists `input_lens`, `output_lens`, `ttfts`, `itls` (seconds).

The file names no server framework, version, system or layout; those come from the command line.
SGLang's `bench_serving` descends from this script and shares `serving_settings` and `serving_means`.
"""

from __future__ import annotations

from collections.abc import Sequence

from servecast.calibrate.formats.fields import (
    FIX_FILE,
    Record,
    completed,
    count,
    load,
    mean_length,
    measured,
    metric,
    number,
    text,
)
from servecast.calibrate.runs import MeasuredRun
from servecast.errors import InputError

RESULT_KEYS = ("mean_ttft_ms", "mean_tpot_ms", "mean_itl_ms", "mean_e2el_ms", "output_throughput")
"""Keys of which a vLLM-style result holds at least one, beside `completed`."""


def is_result(data: Record) -> bool:
    """Whether `data` is a vLLM-style serving benchmark result."""
    return "completed" in data and any(key in data for key in RESULT_KEYS)


def read_result(data: Record, origin: str) -> MeasuredRun:
    """One vLLM result as a measured run."""
    if data.get("ramp_up_strategy") is not None:
        raise InputError(
            f"{origin}: a ramp-up run (ramp_up_strategy = {data['ramp_up_strategy']!r}) has no single request rate",
            "calibrate on runs at a fixed --request-rate or --max-concurrency",
        )
    settings = serving_settings(data, origin, sent=count(data.get("num_prompts"), "num_prompts", origin))
    model = text(data.get("model_id"), "model_id", origin)
    if model:
        settings["model"] = model
    return MeasuredRun(origin, settings, serving_means(data, origin, e2e_key="mean_e2el_ms"))


def serving_settings(data: Record, origin: str, *, sent: int | None) -> dict[str, object]:
    """Lengths, load and request count of a vLLM-style result: `sent` requests (or, unstated, the completed ones)."""
    done = completed(data.get("completed"), "completed", origin)
    requests = sent or done
    users = count(data.get("max_concurrency"), "max_concurrency", origin)
    rate = number(data.get("request_rate"), "request_rate", origin)
    settings: dict[str, object] = {
        "isl": _length(data, "input", done, origin),
        "osl": _length(data, "output", done, origin),
        **load(origin, users=users, rate=rate, requests=requests),
        "num_requests": requests,
    }
    burstiness = number(data.get("burstiness"), "burstiness", origin)
    if "request_rate" in settings and burstiness is not None and burstiness != 1:
        raise InputError(
            f"{origin}: burstiness = {burstiness:g} sends requests by a gamma process; servecast models Poisson "
            "arrivals (burstiness 1)",
            "calibrate on runs with --burstiness 1 (the default), or with --max-concurrency",
        )
    return settings


def serving_means(data: Record, origin: str, *, e2e_key: str) -> dict[str, float]:
    """The means a vLLM-style result measured; TPOT falls back to the mean inter-token latency."""
    tpot = metric(data.get("mean_tpot_ms"), "mean_tpot_ms", origin)
    return measured(
        origin,
        {
            "ttft_ms": metric(data.get("mean_ttft_ms"), "mean_ttft_ms", origin),
            "tpot_ms": tpot if tpot is not None else metric(data.get("mean_itl_ms"), "mean_itl_ms", origin),
            "e2e_ms": metric(data.get(e2e_key), e2e_key, origin),
            "throughput_tokens_per_s": metric(data.get("output_throughput"), "output_throughput", origin),
        },
    )


def _length(data: Record, side: str, done: int, origin: str) -> int:
    """Mean input or output tokens per completed request: the total over `done`, else the per-request list."""
    total_key, list_key = f"total_{side}_tokens", f"{side}_lens"
    total = count(data.get(total_key), total_key, origin)
    if total is not None:
        return mean_length(total, done, side, origin)
    lengths = data.get(list_key)
    if isinstance(lengths, Sequence) and not isinstance(lengths, str) and lengths:
        values = [count(value, f"{list_key}[{index}]", origin) or 0 for index, value in enumerate(lengths)]
        return mean_length(sum(values), len(values), side, origin)
    raise InputError(f"{origin}: neither {total_key!r} nor {list_key!r}: the run states no {side} length", FIX_FILE)
