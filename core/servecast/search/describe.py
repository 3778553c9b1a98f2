"""Short human descriptions of search points, for tables, plots and folder names."""

from __future__ import annotations

from typing import Any


def _layout(row: dict[str, Any], prefix: str = "") -> str:
    parts = [f"tp{row[prefix + 'tp']}"]
    for name, label in (("pp", "pp"), ("dp", "dp"), ("ep", "ep")):
        value = row[prefix + name]
        if value and value > 1:
            parts.append(f"{label}{value}")
    return "-".join(parts)


def describe(row: dict[str, Any]) -> str:
    """E.g. `tp4 x4, 8192 tokens/iteration` (aggregated replicas, token budget) or
    `3P(tp1-pp2) + 2D(tp4), prefill batch 1, decode batch 63`."""
    if row["mode"] == "disagg":
        prefill, decode = _layout(row, "prefill_"), _layout(row, "decode_")
        return (
            f"{row['prefill_workers']}P({prefill}) + {row['decode_workers']}D({decode}), "
            f"prefill batch {row['prefill_batch_size']}, decode batch {row['decode_batch_size']}"
        )
    replicas = f" x{row['replicas']}" if row["replicas"] and row["replicas"] > 1 else ""
    budget = f", {row['max_num_tokens']} tokens/iteration" if row.get("max_num_tokens") else ""
    return _layout(row) + replicas + budget


def slug(row: dict[str, Any]) -> str:
    """A folder-safe name: framework, mode and layout (never a path separator)."""
    if row["mode"] == "disagg":
        shape = (
            f"{row['prefill_workers']}p-{_layout(row, 'prefill_')}-{row['decode_workers']}d-{_layout(row, 'decode_')}"
        )
    else:
        shape = f"{_layout(row)}-x{row['replicas']}-t{row['max_num_tokens']}"
    return f"{row['framework']}-{row['mode']}-{shape}"
