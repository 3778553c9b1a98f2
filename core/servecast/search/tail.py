"""Percentile targets (P90/P99 TTFT and TPOT, P99 request latency): the model rules out, the simulation confirms.

Every point carries the fast model's percentiles (`serving.tails`). A point is a candidate for a percentile target
when its mean is within it and its modelled percentile within `PERCENTILE_MODEL_MARGIN` of it (`search.result`):
the model sorts out what misses by far, not what meets. Candidates are then simulated request by request, best
first by the objective, in each framework and mode until one meets every percentile target; a configuration that
misses at one load is not tried at a higher one. What the simulation confirms is the best; what it rejects no longer
meets the SLA. Users the workload spreads out are simulated with lengths within ±10 % of the means (equal lengths
keep simulated users in step), as the model takes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from servecast.domain.workload import LengthDistribution
from servecast.errors import InputError
from servecast.host.host import PluginHost
from servecast.search.evaluate import CONFIG_COLUMNS
from servecast.search.explain import request_from_row
from servecast.search.result import SearchResult, ranking, ranking_view
from servecast.serving.estimate import estimate
from servecast.serving.tails import SPREAD_USERS_LENGTH_SPREAD

RUNS_PER_GROUP = 8
"""Simulations tried per framework and mode (and per default deployment) before giving up on it."""
_LOAD = ("concurrency", "batch_size", "decode_batch_size")


def percentiles_of(host: PluginHost, result: SearchResult, index: int) -> dict[str, Any]:
    """The simulated mean, P50, P90 and P99 of TTFT, TPOT and request latency at one point (`unconfirmed`, saying
    why, where the simulated lengths do not fit the configuration)."""
    row = result.row(index)
    values: dict[str, Any] = {}
    if not result.task.workload.users_in_step:
        values = {"length_distribution": LengthDistribution.UNIFORM, "length_spread": SPREAD_USERS_LENGTH_SPREAD}
    try:
        simulated = estimate(host, request_from_row(row).model_copy(update=values), percentiles=True).percentiles
    except InputError as error:  # the simulated lengths do not fit this configuration: it cannot be confirmed
        return {"unconfirmed": error.message}
    return {name: simulated[name] for name in ("ttft_ms", "tpot_ms", "e2e_ms") if simulated and name in simulated}


def meets(result: SearchResult, percentiles: dict[str, Any]) -> bool:
    """Whether simulated percentiles meet every percentile target of the task."""
    return all(
        percentiles.get(name, {}).get(level, np.inf) <= limit
        for (name, level), limit in result.task.sla.percentile_targets.items()
    )


class _Confirmation:
    """The simulations of one search, shared by its groups and default deployments."""

    def __init__(self, host: PluginHost, result: SearchResult) -> None:
        self.host, self.result = host, result
        self.checked: dict[int, dict[str, Any]] = {}
        self.failed_loads: dict[tuple[str, ...], float] = {}

    def first_met(self, rows: Iterable[int]) -> int | None:
        """The first of `rows` whose simulation meets the targets, within `RUNS_PER_GROUP` simulations."""
        runs = 0
        columns = self.result.columns
        for index in rows:
            key = tuple(str(columns[name][index]) for name in CONFIG_COLUMNS if name not in _LOAD)
            load = float(np.nan_to_num(columns["concurrency"][index], nan=0.0))
            if key in self.failed_loads and load >= self.failed_loads[key]:
                continue
            if index not in self.checked:
                if runs == RUNS_PER_GROUP:
                    return None
                runs += 1
                self.checked[index] = percentiles_of(self.host, self.result, index)
            if meets(self.result, self.checked[index]):
                return index
            self.failed_loads[key] = min(load, self.failed_loads.get(key, np.inf))
        return None


def confirm_tails(host: PluginHost, result: SearchResult) -> SearchResult:
    """`result` with its best points those the simulation confirms meet the percentile targets (unchanged where the
    task sets none), the points it rejected no longer feasible, and the default deployments confirmed alike."""
    if not result.task.sla.percentile_targets or not result.evaluated:
        return result
    columns = result.columns
    primary, secondary = ranking(result.task, ranking_view(result.task, columns))
    groups = np.char.add(columns["framework"].astype(str), np.char.add("/", columns["mode"].astype(str)))
    confirmation = _Confirmation(host, result)
    for group in dict.fromkeys(groups[result.feasible].tolist()):
        rows = np.flatnonzero(result.feasible & (groups == group))
        ordered = rows[np.lexsort((-secondary[rows], -primary[rows]))]
        confirmation.first_met(int(index) for index in ordered)
    baselines = {}
    per_gpu = ranking_view(result.task, columns)["tokens_per_s_per_gpu"]
    for name, baseline in result.baselines.items():
        if baseline.index is None:
            baselines[name] = baseline
            continue
        same = _same_layout_rows(result, baseline.index)
        found = confirmation.first_met(int(index) for index in same[np.argsort(-per_gpu[same], kind="stable")])
        baselines[name] = replace(baseline, index=found)
    feasible = result.feasible.copy()
    for index, percentiles in confirmation.checked.items():
        feasible[index] = meets(result, percentiles)
    met = sorted(
        (index for index in confirmation.checked if feasible[index]), key=lambda i: (-primary[i], -secondary[i])
    )
    best: list[int] = []
    for index in met:  # best first: each group's first is the best it confirmed
        if all(groups[index] != groups[chosen] for chosen in best):
            best.append(index)
    return replace(result, best=tuple(best), feasible=feasible, tails=confirmation.checked, baselines=baselines)


def _same_layout_rows(result: SearchResult, index: int) -> np.ndarray:
    """Feasible rows of the same configuration as `index` at every load."""
    columns = result.columns
    mask = result.feasible.copy()
    for name in CONFIG_COLUMNS:
        if name in _LOAD:
            continue
        column = columns[name]
        value = column[index]
        if column.dtype == object:
            mask &= column == value
        else:
            mask &= (column == value) | (np.isnan(column) & np.isnan(value))
    return np.flatnonzero(mask)
