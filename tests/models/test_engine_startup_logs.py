"""KV capacity against what the engines print at start-up (`data/engine_startup_logs.csv`).

Each row is one public start-up log: the model, GPU memory as torch reports it, whether the GPUs meet in NVSwitch
chips, parallelism, the memory fraction and token budgets the engine ran with, and the KV-cache tokens it printed
("GPU KV cache size: N tokens", "# GPU blocks" x block size, "KV Cache is allocated. #tokens", "Allocated ... GiB
for max tokens in paged KV cache (N)").
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

from packaging.version import Version

from servecast.domain import KnobMeaning, KvCacheDtype, ParallelLayout, Quantization
from servecast.models.memory import GIB, MemoryPolicy, kv_capacity

LOGS = Path(__file__).parent / "data" / "engine_startup_logs.csv"
MEANINGS = {
    "vllm": KnobMeaning.GPU_MEMORY_FRACTION,
    "sglang": KnobMeaning.STATIC_MEMORY_FRACTION,
    "trtllm": KnobMeaning.KV_CACHE_FREE_MEMORY_FRACTION,
}


def _rows() -> list[dict[str, str]]:
    with LOGS.open() as handle:
        return list(csv.DictReader(handle))


def _relative_error(load, row: dict[str, str]) -> float:
    model = load(
        row["model"],
        quantization=Quantization(row["quant"]) if row["quant"] else None,
        kv_cache_dtype=KvCacheDtype(row["kv_cache_dtype"]) if row["kv_cache_dtype"] else None,
    )
    policy = MemoryPolicy(
        meaning=MEANINGS[row["framework"]],
        fraction=float(row["memory_fraction"]),
        max_num_tokens=int(row["max_num_tokens"]),
        max_batch_size=int(row["max_batch_size"]),
        sampler_profiled_apart=row["framework"] == "vllm" and Version(row["version"]) >= Version("0.10"),
        nccl_nvls=row["framework"] == "vllm",
    )
    layout = ParallelLayout(tp=int(row["tp"]), pp=int(row["pp"]))
    nvswitch = row["nvswitch"] == "yes"
    capacity = kv_capacity(model, layout, int(float(row["gpu_memory_gib"]) * GIB), policy, nvswitch)
    return capacity.kv_capacity_tokens / int(row["logged_kv_tokens"]) - 1


def test_the_table_holds_thirty_logs_of_the_three_frameworks():
    rows = _rows()
    assert len(rows) >= 30
    assert {row["framework"] for row in rows} == set(MEANINGS)
    assert all(row["source"] for row in rows)


def test_kv_capacity_matches_the_logged_tokens(load):
    """Median error at most 5 %, every row within 15 %."""
    errors = {row["id"]: _relative_error(load, row) for row in _rows()}
    assert statistics.median(abs(error) for error in errors.values()) <= 0.05
    worst = max(errors, key=lambda name: abs(errors[name]))
    assert abs(errors[worst]) <= 0.15, f"{worst}: {errors[worst]:+.1%}"
