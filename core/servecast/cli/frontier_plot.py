"""The Pareto frontiers as a scatter plot drawn with text, one marker per framework and mode."""

from __future__ import annotations

import math

MARKERS = "ox+*#@%&"


def text_plot(
    series: dict[str, list[tuple[float, float]]],
    width: int = 64,
    height: int = 16,
    x_label: str = "tokens/s/user",
    y_label: str = "tokens/s/GPU",
    x_limit: float | None = None,
) -> str:
    """Scatter `series` (name -> (x, y) points) on a character grid, with axes, a legend and an optional vertical
    line at `x_limit` (the TPOT target as a speed per user)."""
    points = [point for values in series.values() for point in values]
    if not points:
        return "(no points to plot)"
    xs = [x for x, _ in points] + ([x_limit] if x_limit else [])
    ys = [y for _, y in points]
    x_low, x_high = min(xs), max(xs)
    y_high = max(ys)
    x_span = (x_high - x_low) or 1.0
    grid = [[" "] * width for _ in range(height)]
    if x_limit:
        column = round((x_limit - x_low) / x_span * (width - 1))
        for row in grid:
            row[column] = ":"
    for marker, values in zip(MARKERS, series.values(), strict=False):
        for x, y in values:
            column = round((x - x_low) / x_span * (width - 1))
            row_index = height - 1 - round(y / (y_high or 1.0) * (height - 1))
            grid[row_index][column] = marker
    label_width = len(f"{y_high:,.0f}")
    lines = []
    for index, row in enumerate(grid):
        value = y_high * (height - 1 - index) / (height - 1)
        label = f"{value:,.0f}" if index % 4 == 0 or index == height - 1 else ""
        lines.append(f"{label:>{label_width}} |" + "".join(row))
    lines.append(" " * label_width + " +" + "-" * width)
    left, right = f"{x_low:,.0f}", f"{x_high:,.0f}"
    lines.append(" " * (label_width + 2) + left + " " * max(1, width - len(left) - len(right)) + right)
    lines.append(" " * (label_width + 2) + f"x: {x_label}, y: {y_label}" + (" (: the TPOT target)" if x_limit else ""))
    legend = "  ".join(f"{marker} {name}" for marker, name in zip(MARKERS, series, strict=False))
    lines.append(" " * (label_width + 2) + legend)
    return "\n".join(lines) if not math.isnan(y_high) else "(no points to plot)"
