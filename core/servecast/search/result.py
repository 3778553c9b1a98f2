"""What a search found: every evaluated point, the ones meeting the SLA, the best per framework and mode, the
overall winner and the Pareto frontiers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from servecast.arrays import IntArray
from servecast.domain.workload import Sla
from servecast.search.confidence import INTERVAL_COLUMNS, pessimistic
from servecast.search.evaluate import CONFIG_COLUMNS, METRIC_COLUMNS, Columns, Rejection
from servecast.search.model_percentiles import ModelPercentiles
from servecast.search.pareto import pareto_front
from servecast.search.task import Objective, SearchTask
from servecast.serving.metrics import LIMITERS
from servecast.serving.tails import PERCENTILE_COLUMNS, percentile_column

if TYPE_CHECKING:
    import pandas as pd

    from servecast.search.baseline import Baseline

TASK_COLUMNS = ("model", "system", "isl", "osl", "prefix", "quant", "moe_quant", "kv_cache_dtype")
"""Columns every point shares (the task's), written with the points so each row is a complete configuration."""
COST_COLUMNS = ("gpu_hour_usd", "usd_per_million_output_tokens", "usd_per_million_input_tokens")
"""What a point's GPUs cost: per GPU-hour (the pools' prices weighted by their GPUs where they run on two systems),
and per million tokens served, all of it charged to the output tokens or all of it to the input tokens (NaN without
a price)."""
SECONDS_PER_HOUR = 3600.0


def point_prices(task: SearchTask, columns: Columns) -> NDArray[np.float64]:
    """US dollars per GPU-hour of each point: its system's, or its two pools' weighted by their GPUs."""
    size = len(columns["tokens_per_s_per_gpu"])
    own = task.price_of(task.system)
    prices = np.full(size, own if own is not None else np.nan)
    pools = {
        role: system
        for role, system in (("prefill", task.prefill_system), ("decode", task.decode_system))
        if system not in (None, task.system)
    }
    if not pools:  # every point on the task's system
        return prices
    mixed = np.zeros(size, dtype=bool)
    cost = np.zeros(size)
    gpus = np.zeros(size)
    for role in ("prefill", "decode"):
        system = pools.get(role)
        on_own = columns[f"{role}_system"] == system if system else np.zeros(size, dtype=bool)
        mixed |= on_own
        own_price = task.price_of(system) if system else None
        price = np.where(on_own, own_price if own_price is not None else np.nan, prices)
        count = np.nan_to_num(
            columns[f"{role}_tp"] * columns[f"{role}_pp"] * columns[f"{role}_dp"] * columns[f"{role}_workers"]
        )
        cost += count * price
        gpus += count
    blended = np.divide(cost, gpus, out=np.full(size, np.nan), where=gpus > 0)
    return np.where(mixed, blended, prices)


def cost_columns(task: SearchTask, columns: Columns) -> Columns:
    """The cost columns of the points (see `COST_COLUMNS`)."""
    per_gpu = columns["tokens_per_s_per_gpu"]
    prices = point_prices(task, columns)
    per_output = np.divide(
        prices * 1e6 / SECONDS_PER_HOUR, per_gpu, out=np.full(len(per_gpu), np.inf), where=per_gpu > 0
    )
    return {
        "gpu_hour_usd": prices,
        "usd_per_million_output_tokens": per_output,
        "usd_per_million_input_tokens": per_output * task.osl / task.isl,
    }


def ranking(task: SearchTask, view: Columns) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per point, what the objective maximises and the tie-break (the cost objective minimises dollars per million
    output tokens: at one price per GPU-hour, the same order as tokens/s per GPU)."""
    per_gpu, per_user = view["tokens_per_s_per_gpu"], view["tokens_per_s_per_user"]
    if task.objective is Objective.LATENCY:
        return per_user, per_gpu
    if task.objective is Objective.COST:
        return -cost_columns(task, view)["usd_per_million_output_tokens"], per_user
    return per_gpu, per_user


PERCENTILE_MODEL_MARGIN = 2.0
"""How far above a percentile target the model's percentile (`serving.tails`) may be for the simulation still to
try the point: against the simulation the model's P99 TTFT was above twice the simulated one at 3 of 159 search
points, P90 TTFT at 1, TPOT and request latency at none (`benchmarks/tail_model.py`), so a point beyond it is taken to
miss the target."""


def sla_mask(columns: Columns, sla: Sla) -> NDArray[np.bool_]:
    """Points meeting every set latency target (finite TTFT always required); a percentile target admits the points
    whose mean is within it and whose modelled percentile is within `PERCENTILE_MODEL_MARGIN` of it, which the
    simulation then confirms (`servecast.search.tail`)."""
    mask = np.isfinite(columns["ttft_ms"])
    for name, limit in (("ttft_ms", sla.ttft_ms), ("tpot_ms", sla.tpot_ms), ("e2e_ms", sla.request_latency_ms)):
        if limit is not None:
            mask &= columns[name] <= limit
    for (name, level), limit in sla.percentile_targets.items():  # the mean bounds the percentile (see search.tail)
        mask &= (columns[name] <= limit) & (columns[percentile_column(name, level)] <= limit * PERCENTILE_MODEL_MARGIN)
    result: NDArray[np.bool_] = mask
    return result


@dataclass(frozen=True)
class SearchResult:
    """The outcome of one search. Row indices refer to `columns` (every evaluated point)."""

    task: SearchTask
    columns: Columns
    feasible: NDArray[np.bool_]
    best: tuple[int, ...]
    """The best feasible point of each (framework, mode) by the task's objective, best first (by default the most
    tokens/s per GPU)."""
    pareto: tuple[int, ...]
    """The frontier over points meeting the TTFT and request-latency targets (TPOT is the frontier's x axis)."""
    rejections: tuple[Rejection, ...]
    versions: dict[str, str]
    elapsed_s: float
    explanation: dict[str, Any] = field(default_factory=dict)
    calibration: str | None = None
    """The user calibration the search used, in words (None: the shipped model)."""
    baselines: dict[str, Baseline] = field(default_factory=dict)
    """Each searched framework's default deployment among the points (`servecast.search.baseline`)."""
    tails: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Points the discrete-event simulation ran for percentile targets: row -> its P50/P90/P99 (`search.tail`)."""
    model_percentiles: ModelPercentiles | None = None
    """The fast model's percentiles of every point, where `columns` does not hold them (no percentile target)."""

    def _percentiles(self, index: NDArray[np.int64]) -> dict[str, NDArray[np.float64]]:
        """The model's percentile columns at the rows `index`, from `columns` or computed now."""
        if self.model_percentiles is None or all(name in self.columns for name in PERCENTILE_COLUMNS):
            return {name: self.columns[name][index] for name in PERCENTILE_COLUMNS if name in self.columns}
        return self.model_percentiles.rows(index)

    @property
    def inputs(self) -> dict[str, Any]:
        """The task, the framework versions evaluated and the user calibration: what the results depend on."""
        return self.task.model_dump(mode="json") | {
            "framework_versions": self.versions,
            "calibration": self.calibration,
        }

    @property
    def evaluated(self) -> int:
        return len(self.columns["framework"]) if self.columns else 0

    @property
    def winner(self) -> int | None:
        return self.best[0] if self.best else None

    @property
    def winner_ratio(self) -> float | None:
        """The winner's tokens/s per GPU over the runner-up's (the best of another framework or mode)."""
        if len(self.best) < 2:
            return None
        per_gpu = ranking_view(self.task, self.columns)["tokens_per_s_per_gpu"]
        return float(per_gpu[self.best[0]] / per_gpu[self.best[1]])

    def top(self, count: int) -> list[int]:
        """The `count` best feasible configurations (each at its best load level), most tokens/s per GPU first;
        a configuration predicted exactly like one listed before it (a knob that changes nothing there) is left out."""
        if not self.evaluated:
            return []
        columns = self.columns
        rows = np.flatnonzero(self.feasible)
        if self.task.sla.percentile_targets:  # only what the simulation confirmed
            rows = rows[np.isin(rows, list(self.tails))]
        primary, secondary = ranking(self.task, ranking_view(self.task, columns))
        order = rows[np.lexsort((-secondary[rows], -primary[rows]))]
        load = {"concurrency", "batch_size", "decode_batch_size"}
        names = [name for name in CONFIG_COLUMNS if name not in load]
        outcome_names = ("framework", "mode", "num_gpus", "ttft_ms", "tpot_ms", "tokens_per_s_per_gpu")
        seen: set[tuple[object, ...]] = set()
        chosen = []
        for index in order:
            key = tuple(str(columns[name][index]) for name in names)
            outcome = ("outcome", *(str(columns[name][index]) for name in outcome_names))
            if key not in seen and outcome not in seen:
                seen.update((key, outcome))
                chosen.append(int(index))
                if len(chosen) == count:
                    break
        return chosen

    def pareto_candidates(self) -> IntArray:
        """Rows the frontiers are drawn from: those meeting the TTFT and request-latency targets."""
        if not self.evaluated:
            return np.zeros(0, dtype=np.int64)
        return _pareto_candidates(ranking_view(self.task, self.columns), self.task.sla)

    def _task_values(self) -> dict[str, Any]:
        task = self.task
        return {
            "model": task.model,
            "system": task.system,
            "isl": task.isl,
            "osl": task.osl,
            "prefix": task.prefix,
            "user_start": task.user_start.value,
            "user_phase": task.user_phase.value,
            "requests_per_user": task.requests_per_user,
            "quant": task.quant.value if task.quant else None,
            "moe_quant": task.moe_quant.value if task.moe_quant else None,
            "kv_cache_dtype": task.kv_cache_dtype.value if task.kv_cache_dtype else None,
        }

    def row(self, index: int) -> dict[str, Any]:
        """One point as a flat dict: the task's columns, its configuration and its metrics (an unbounded metric is
        infinity; `servecast.json_text` writes it as null with its meaning)."""
        record = self._task_values()
        for name in CONFIG_COLUMNS:
            value = self.columns[name][index]
            if isinstance(value, str):
                record[name] = value
            else:
                record[name] = None if np.isnan(value) else int(value)
        percentiles = self._percentiles(np.array([index], dtype=np.int64))
        for name in METRIC_COLUMNS:
            if name in PERCENTILE_COLUMNS:
                record[name] = float(percentiles[name][0]) if name in percentiles else math.nan
                continue
            value = self.columns[name][index]
            if name == "limiter":
                record[name] = LIMITERS[int(value)].value
            elif name == "num_gpus":
                record[name] = int(value)
            else:
                record[name] = float(value)
        for name in (*COST_COLUMNS, *INTERVAL_COLUMNS):
            if name in self.columns:
                value = float(self.columns[name][index])
                record[name] = None if np.isnan(value) else value
        record["meets_sla"] = bool(self.feasible[index])
        if index in self.tails:
            record["percentiles"] = self.tails[index]
        return record

    def frame(self, rows: Any = None) -> pd.DataFrame:
        """The points (all, or the given row indices) as a pandas DataFrame with the columns of `row`; fields that
        do not apply and unbounded latencies are missing values."""
        import pandas as pd

        if not self.evaluated:
            names = [*self._task_values(), *CONFIG_COLUMNS, *METRIC_COLUMNS, *COST_COLUMNS, *INTERVAL_COLUMNS]
            names.append("meets_sla")
            return pd.DataFrame(columns=names)
        index = np.arange(self.evaluated) if rows is None else np.asarray(list(rows), dtype=np.int64)
        data: dict[str, Any] = {name: [value] * len(index) for name, value in self._task_values().items()}
        for name in CONFIG_COLUMNS:
            column = self.columns[name][index]
            data[name] = column if column.dtype == object else pd.array(column, dtype="Int64")
        labels = np.array([limiter.value for limiter in LIMITERS], dtype=object)
        percentiles = self._percentiles(index)
        for name in METRIC_COLUMNS:
            if name in PERCENTILE_COLUMNS:
                column = percentiles.get(name, np.full(len(index), np.nan))
            else:
                column = self.columns[name][index]
            if name == "limiter":
                data[name] = labels[column.astype(np.int64)]
            elif name == "num_gpus":
                data[name] = column.astype(np.int64)
            else:
                data[name] = np.where(np.isfinite(column), column, np.nan)
        for name in (*COST_COLUMNS, *INTERVAL_COLUMNS):
            if name in self.columns:
                data[name] = self.columns[name][index]
        data["meets_sla"] = self.feasible[index]
        return pd.DataFrame(data)

    @property
    def points(self) -> pd.DataFrame:
        return self.frame()

    @property
    def best_frame(self) -> pd.DataFrame:
        return self.frame(self.best)

    @property
    def pareto_frame(self) -> pd.DataFrame:
        return self.frame(self.pareto)


def _pareto_candidates(columns: Columns, sla: Sla) -> IntArray:
    """Points the frontiers are drawn from: those meeting the TTFT and request-latency targets."""
    return np.flatnonzero(sla_mask(columns, sla.model_copy(update={"tpot_ms": None})))


def ranking_view(task: SearchTask, columns: Columns) -> Columns:
    """The columns the SLA and the ranking read: the predictions, or with `confidence` their pessimistic ends."""
    return pessimistic(columns) if task.confidence and "ttft_ms_high" in columns else columns


def select(
    task: SearchTask, columns: Columns, rejections: list[Rejection], versions: dict[str, str], elapsed_s: float
) -> SearchResult:
    """Apply the SLA, pick the best point per (framework, mode), and draw the frontier."""
    if not columns:
        empty = np.zeros(0, dtype=bool)
        return SearchResult(task, columns, empty, (), (), tuple(rejections), versions, elapsed_s)
    columns.update(cost_columns(task, columns))
    view = ranking_view(task, columns)
    feasible = sla_mask(view, task.sla)
    per_gpu = view["tokens_per_s_per_gpu"]
    per_user = view["tokens_per_s_per_user"]
    primary, secondary = ranking(task, view)
    groups = np.char.add(columns["framework"].astype(str), np.char.add("/", columns["mode"].astype(str)))
    best = []
    for group in dict.fromkeys(groups.tolist()):
        candidates = np.flatnonzero(feasible & (groups == group))
        if len(candidates):
            order = np.lexsort((-secondary[candidates], -primary[candidates]))
            best.append(int(candidates[order[0]]))
    best.sort(key=lambda index: (-primary[index], -secondary[index]))
    candidates = _pareto_candidates(view, task.sla)
    front = candidates[pareto_front(per_gpu[candidates], per_user[candidates])]
    return SearchResult(
        task, columns, feasible, tuple(best), tuple(int(i) for i in front), tuple(rejections), versions, elapsed_s
    )
