"""Write a search's results to a folder: every point, the frontier and the best (CSV), the resolved inputs, a
plot of the frontiers, and one folder per recommended configuration (the launch artifacts go there too).

Everything is written into a staging folder first and moved into place at the end, under a lock on the folder,
so a failure leaves nothing half-written and two runs never mix; existing results are replaced only with `force`,
and a replaced run's results that this one does not write are removed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from servecast.errors import InputError, PluginError
from servecast.files import locked_folder, staged_folder
from servecast.host.host import PluginHost
from servecast.json_text import json_text
from servecast.launch.targets import LaunchTarget
from servecast.launch.write import write_launch_for
from servecast.search.baseline import Baseline, gain
from servecast.search.confidence import INTERVAL_COLUMNS
from servecast.search.describe import slug
from servecast.search.evaluate import CONFIG_COLUMNS, METRIC_COLUMNS
from servecast.search.explain import infeasibility, request_from_row
from servecast.search.pareto import pareto_front
from servecast.search.result import COST_COLUMNS, SECONDS_PER_HOUR, TASK_COLUMNS, SearchResult, ranking_view

COLUMNS = (*TASK_COLUMNS, *CONFIG_COLUMNS, *METRIC_COLUMNS, *COST_COLUMNS, *INTERVAL_COLUMNS, "meets_sla")
RESULT_FILES = ("points.csv", "pareto.csv", "best.csv", "inputs.json", "infeasible.json", "frontier.png", "configs")


def save_search(
    result: SearchResult,
    directory: Path,
    force: bool = False,
    host: PluginHost | None = None,
    target: LaunchTarget = LaunchTarget.SHELL,
) -> list[Path]:
    """Write the results under `directory`, with each recommended configuration's launch artifacts for `target` when
    `host` is given; the paths written (an InputError before writing anything when results are already there and
    `force` is not set)."""
    if directory.exists() and not directory.is_dir():
        raise InputError(f"--save-dir {str(directory)!r} is a file, not a folder", "give a folder path")
    with staged_folder(directory) as staging, locked_folder(directory):
        existing = [name for name in RESULT_FILES if (directory / name).exists()]
        if existing and not force:
            raise InputError(
                f"{str(directory)!r} already holds search results ({', '.join(existing)})",
                "pick another --save-dir or pass --force to replace them",
            )
        _write_all(result, staging, host, target)
        written = []
        for name in RESULT_FILES:
            destination, entry = directory / name, staging / name
            if destination.is_dir():
                shutil.rmtree(destination)
            elif destination.exists():
                destination.unlink()
            if entry.exists():
                entry.replace(destination)
                written.append(destination)
        return written


def _write_all(result: SearchResult, folder: Path, host: PluginHost | None, target: LaunchTarget) -> None:
    frame = result.frame()
    frame.to_csv(folder / "points.csv", columns=list(COLUMNS), index=False)
    frame.iloc[list(result.pareto)].to_csv(folder / "pareto.csv", columns=list(COLUMNS), index=False)
    frame.iloc[list(result.best)].to_csv(folder / "best.csv", columns=list(COLUMNS), index=False)
    (folder / "inputs.json").write_text(json_text(result.inputs))
    if not result.best:
        (folder / "infeasible.json").write_text(json_text(infeasibility(result)))
    _plot(result, folder / "frontier.png")
    for rank, index in enumerate(result.best, start=1):
        row = result.row(index)
        config = folder / "configs" / f"{rank:02d}-{slug(row)}"
        config.mkdir(parents=True)
        (config / "config.json").write_text(json_text(row))
        if host is not None:
            _write_launch(host, row, config, target)


def _write_launch(host: PluginHost, row: dict[str, Any], folder: Path, target: LaunchTarget) -> None:
    """The row's launch artifacts, or `launch-unavailable.txt` saying why its plugin or the target cannot write
    them."""
    try:
        write_launch_for(host, request_from_row(row), folder, target=target)
    except (InputError, PluginError) as error:
        (folder / "launch-unavailable.txt").write_text(f"{error}\n")


def frontier_series(result: SearchResult) -> dict[str, list[tuple[float, float]]]:
    """Per framework and mode: its own frontier, as (tokens/s/user, tokens/s/GPU) points (an unbounded speed per
    user, of one-token outputs, is not drawn)."""
    if not result.evaluated:
        return {}
    columns = ranking_view(result.task, result.columns)
    candidates = result.pareto_candidates()
    keys = columns["framework"][candidates].astype(str) + "/" + columns["mode"][candidates].astype(str)
    per_gpu = columns["tokens_per_s_per_gpu"][candidates]
    per_user = columns["tokens_per_s_per_user"][candidates]
    groups: dict[str, list[tuple[float, float]]] = {}
    for key in dict.fromkeys(keys.tolist()):
        rows = np.flatnonzero(keys == key)
        front = rows[pareto_front(per_gpu[rows], per_user[rows])]
        groups[key] = [
            (float(per_user[i]), float(per_gpu[i]))
            for i in front
            if np.isfinite(per_user[i]) and np.isfinite(per_gpu[i])
        ]
    return groups


def _plot(result: SearchResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, 5), dpi=120)
    for name, points in frontier_series(result).items():
        xs, ys = zip(*points, strict=True) if points else ((), ())
        axes.plot(xs, ys, marker="o", markersize=3, label=name)
    tpot = result.task.sla.tpot_ms
    if tpot:
        axes.axvline(1000.0 / tpot, color="grey", linestyle=":", label=f"TPOT {tpot:g} ms")
    task = result.task
    axes.set_title(f"{task.model} on {task.gpus} x {task.system}, ISL {task.isl} / OSL {task.osl}")
    axes.set_xlabel("tokens/s/user")
    axes.set_ylabel("tokens/s/GPU")
    price = task.gpu_hour_usd
    if price is not None and axes.lines:  # the same heights read as dollars per million output tokens
        scale = price * 1e6 / SECONDS_PER_HOUR
        cost = axes.twinx()
        cost.set_ylim(axes.get_ylim())
        heights = [tick for tick in axes.get_yticks() if tick > 0 and tick <= axes.get_ylim()[1]]
        cost.set_yticks(heights, [f"{scale / tick:.3g}" for tick in heights])
        cost.set_ylabel(f"USD per million output tokens at {price:g} USD per GPU-hour")
    axes.grid(alpha=0.3)
    if axes.lines:
        axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def summary(result: SearchResult) -> dict[str, Any]:
    """The `--json` document: inputs, best, pareto, evaluated and elapsed_s."""
    return {
        "inputs": result.inputs,
        "best": [result.row(index) for index in result.best],
        "pareto": [result.row(index) for index in result.pareto],
        "top": [result.row(index) for index in result.top(result.task.top)],
        "evaluated": result.evaluated,
        "elapsed_s": result.elapsed_s,
        "winner_ratio_to_runner_up": result.winner_ratio,
        "explanation": result.explanation,
        "baseline": _baseline(result),
        "baselines": {name: _baseline_entry(result, baseline) for name, baseline in result.baselines.items()},
    }


def _baseline(result: SearchResult) -> dict[str, Any] | None:
    """The winner's framework's default deployment and the winner's gain over it."""
    if result.winner is None:
        return None
    framework = str(result.columns["framework"][result.winner])
    baseline = result.baselines.get(framework)
    if baseline is None:
        return None
    return _baseline_entry(result, baseline) | {"winner_gain_tokens_per_s_per_gpu": gain(result, baseline)}


def _baseline_entry(result: SearchResult, baseline: Baseline) -> dict[str, Any]:
    return {
        "description": baseline.description,
        "point": result.row(baseline.index) if baseline.index is not None else None,
        "reason": baseline.reason,
    }
