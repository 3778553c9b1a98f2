"""The fewest GPUs that serve a target load under the SLA: search deployment units, then replicate the best."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from servecast.errors import InputError, NoFeasibleConfiguration
from servecast.host.host import PluginHost
from servecast.search.evaluate import Progress
from servecast.search.result import SearchResult, ranking_view
from servecast.search.runner import run_search
from servecast.search.task import MOST_GPUS, SearchTask

LARGEST_UNIT_NODES = 8
"""A unit (one instance, or one xPyD group) grows up to this many nodes when smaller ones cannot meet the SLA."""


@dataclass(frozen=True)
class Recommendation:
    """A deployment unit and how many copies of it serve the load."""

    unit: dict[str, Any]
    """The unit's configuration and its metrics at the operating point that meets the SLA."""
    copies: int
    gpus: int
    target: str
    search: SearchResult

    def as_dict(self) -> dict[str, Any]:
        return {
            "gpus": self.gpus,
            "copies": self.copies,
            "target": self.target,
            "unit": self.unit,
            "calibration": self.search.calibration,
        }


def recommend(
    host: PluginHost,
    task: SearchTask,
    request_rate_per_s: float | None = None,
    concurrency: int | None = None,
    progress: Progress | None = None,
) -> Recommendation:
    """Search units of one node, then 2, 4… nodes, until one meets the SLA; pick the unit and copy count with the
    fewest GPUs for the target (ties: more tokens/s per GPU)."""
    if (request_rate_per_s is None) == (concurrency is None):
        raise InputError("give exactly one target: a request rate or a concurrency", "see `servecast recommend -h`")
    node = host.hardware.get(task.system).node.gpus_per_node
    nodes = 1
    while True:
        unit_task = task.model_copy(update={"gpus": node * nodes, "replicate": False})
        result = run_search(host, unit_task, progress, explain=False)
        feasible = np.flatnonzero(result.feasible)
        if len(feasible) or nodes >= LARGEST_UNIT_NODES:
            break
        nodes *= 2
    if not len(feasible):
        raise NoFeasibleConfiguration(
            f"no deployment unit of up to {node * nodes} GPUs meets the targets",
            "loosen the SLA or use a smaller quantization",
        )
    columns = ranking_view(result.task, result.columns)
    if request_rate_per_s is not None:
        copies = np.ceil(request_rate_per_s / columns["requests_per_s"][feasible])
        target = f"{request_rate_per_s:g} requests/s"
    else:
        assert concurrency is not None
        load = np.where(np.isnan(columns["concurrency"][feasible]), 1.0, columns["concurrency"][feasible])
        copies = np.ceil(concurrency / load)
        target = f"{concurrency} concurrent users"
    gpus = copies * columns["num_gpus"][feasible]
    order = np.lexsort((-columns["tokens_per_s_per_gpu"][feasible], gpus))
    best = int(order[0])
    if gpus[best] > MOST_GPUS:
        raise InputError(
            f"serving {target} takes {gpus[best]:,.0f} GPUs, beyond the {MOST_GPUS:,} servecast plans for",
            "check the target's unit (requests per second, or users), or plan a share of it",
        )
    return Recommendation(
        unit=result.row(int(feasible[best])),
        copies=int(copies[best]),
        gpus=int(gpus[best]),
        target=target,
        search=result,
    )
