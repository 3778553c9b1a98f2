"""Speed of primitive estimation: 100,000 mixed op rows estimated in one call, on one core.

    uv run python benchmarks/estimate_speed.py [--rows 100000] [--repeat 5]

Target: under 0.5 s for 100,000 rows (checked here, not in the unit tests). Two timings are printed: the
op-table path `servecast ops estimate` runs (rows of strings in, parsing included) and the vectorised
estimator calls alone (what the search's inner loop uses). Pin to one core with `taskset -c 0` on Linux.
"""

from __future__ import annotations

import time

import click
import numpy as np

from servecast.domain.target import Target
from servecast.estimate.op_table import OP_TABLE_COLUMNS, estimate_rows
from servecast.host import PluginHost

TARGET_SECONDS = 0.5


def mixed_rows(count: int, seed: int = 0) -> list[dict[str, str]]:
    """Random rows over every op of the table format, with plausible LLM shapes."""
    rng = np.random.default_rng(seed)
    pick = lambda values: str(rng.choice(values))  # noqa: E731
    makers = {
        "gemm": lambda: {
            "m": str(rng.integers(1, 16384)),
            "n": pick([1024, 4096, 8192, 14336, 28672]),
            "k": pick([1024, 4096, 8192]),
            "dtype": pick(["bf16", "fp8", "fp8_block", "w4a16"]),
        },
        "context_attention": lambda: {
            "batch": str(rng.integers(1, 16)),
            "seq_len": str(rng.integers(16, 32768)),
            "num_heads": pick([8, 16, 32]),
            "num_kv_heads": pick([1, 2, 8]),
            "head_dim": "128",
            "dtype": "bf16",
            "kv_dtype": pick(["bf16", "fp8"]),
        },
        "generation_attention": lambda: {
            "batch": str(rng.integers(1, 512)),
            "kv_len": str(rng.integers(16, 32768)),
            "num_heads": pick([8, 16, 32]),
            "num_kv_heads": pick([1, 2, 8]),
            "head_dim": "128",
            "dtype": "bf16",
            "kv_dtype": pick(["bf16", "fp8"]),
        },
        "moe": lambda: {
            "num_tokens": str(rng.integers(1, 16384)),
            "hidden": "7168",
            "inter": "2048",
            "num_experts": "256",
            "topk": "8",
            "ep": pick([1, 8, 16]),
            "moe_tp": "1",
            "dtype": "fp8_block",
        },
        "all_reduce": lambda: {"message_bytes": str(rng.integers(1024, 1 << 28)), "num_gpus": pick([2, 4, 8])},
        "all_gather": lambda: {"message_bytes": str(rng.integers(1024, 1 << 28)), "num_gpus": pick([2, 4, 8, 16])},
        "all_to_all": lambda: {"message_bytes": str(rng.integers(1024, 1 << 28)), "num_gpus": pick([8, 16, 32])},
        "p2p": lambda: {"message_bytes": str(rng.integers(1024, 1 << 26))},
        "elementwise": lambda: {"bytes": str(rng.integers(1024, 1 << 28))},
    }
    names = list(makers)
    return [{"op": name, **makers[name]()} for name in rng.choice(names, size=count)]


@click.command()
@click.option("--rows", default=100_000, show_default=True)
@click.option("--repeat", default=5, show_default=True)
@click.option("--system", default="h100_sxm", show_default=True)
@click.option("--framework", default="trtllm", show_default=True)
def main(rows: int, repeat: int, system: str, framework: str) -> None:
    host = PluginHost.from_entry_points()
    target = Target(hardware=system, framework=framework)
    hardware = host.hardware.get(system)
    data = mixed_rows(rows)
    estimator_for = lambda kind: host.op_estimator(kind, target)  # noqa: E731
    estimate_rows(data[:100], estimator_for, hardware)  # resolve and load once, as a search would
    table_times = []
    for _ in range(repeat):
        start = time.perf_counter()
        estimate = estimate_rows(data, estimator_for, hardware)
        table_times.append(time.perf_counter() - start)
    assert not estimate.errors, list(estimate.errors.values())[:3]

    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in data:
        groups.setdefault((row["op"], row.get("dtype", "bf16")), []).append(row)
    arrays = []
    for (name, dtype), members in groups.items():
        spec = OP_TABLE_COLUMNS[name]
        shapes = {}
        for column in spec.columns:
            values = np.array([column.convert(row[column.name]) for row in members])
            for target_name in column.targets or (column.name,):
                shapes[target_name] = values
        arrays.append((host.op_estimator(spec.kind, target), shapes, dtype))
    vector_times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for estimator, shapes, dtype in arrays:
            estimator(shapes, dtype)
        vector_times.append(time.perf_counter() - start)

    best_table, best_vector = min(table_times), min(vector_times)
    click.echo(f"{rows:,} mixed op rows on {system} ({framework} kernels), best of {repeat}:")
    click.echo(f"  op-table path (strings in, parsing included): {best_table:.3f} s")
    click.echo(f"  vectorised estimator calls only:              {best_vector:.3f} s")
    verdict = "meets" if best_table < TARGET_SECONDS else "MISSES"
    click.echo(f"  target < {TARGET_SECONDS} s for the whole call: {verdict}")


if __name__ == "__main__":
    main()
