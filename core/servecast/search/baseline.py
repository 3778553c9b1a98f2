"""The deployment a framework's users start from, and what the search gains over it.

The default deployment of a framework is one aggregated server per node with tensor parallelism across the node (the
widest tensor-parallel group up to a node that splits the model; pipeline stages over nodes where one node cannot
hold it, the fewest that can), the version's default flags (its own token budget; no attention data parallelism, no
expert parallelism), replicated over the GPUs — what the frameworks' quick-start guides launch. It is read off the
search's own points, at the load level where it serves the most tokens per GPU within the same SLA, so the gain is
measured like for like: the winner's tokens/s per GPU over the baseline's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from servecast.domain.vocabulary import ServingMode
from servecast.search.evaluate import FRAMEWORK_BUDGET, Columns
from servecast.search.result import SearchResult, ranking_view


@dataclass(frozen=True)
class Baseline:
    """A framework's default deployment in the search: its layout, and its best point within the SLA (None when it
    meets the SLA at no load level, or the search has no such layout)."""

    framework: str
    tp: int | None
    pp: int | None
    index: int | None

    @property
    def description(self) -> str:
        if self.tp is None or self.pp is None:
            return f"{self.framework}'s default deployment (not in the search's layouts)"
        stages = f" with {self.pp} pipeline stages over nodes" if self.pp > 1 else " per node"
        return f"{self.framework} defaults: one aggregated TP{self.tp} server{stages}, its default flags"

    @property
    def reason(self) -> str | None:
        """Why there is no baseline point, None where there is one."""
        if self.index is not None:
            return None
        if self.tp is None:
            return "the search evaluated no aggregated tensor-parallel layout of this framework"
        return "it meets the SLA at no load level evaluated"


def default_deployments(result: SearchResult, node_gpus: int) -> dict[str, Baseline]:
    """Every searched framework's default deployment among the result's points (see the module docstring)."""
    columns = result.columns
    if not result.evaluated:
        return {}
    candidates = _default_flag_points(columns)
    per_gpu = ranking_view(result.task, columns)["tokens_per_s_per_gpu"]
    baselines = {}
    for framework in result.versions:  # the frameworks searched, without a pass over every point
        ours = candidates & (columns["framework"] == framework)
        within_node = ours & (columns["tp"] <= node_gpus)
        if not within_node.any():
            baselines[framework] = Baseline(framework, None, None, None)
            continue
        tp = float(columns["tp"][within_node].max())
        widest = ours & (columns["tp"] == tp)
        pp = float(columns["pp"][widest].min())
        rows = np.flatnonzero(widest & (columns["pp"] == pp) & result.feasible)
        index = int(rows[np.argmax(per_gpu[rows])]) if len(rows) else None
        baselines[framework] = Baseline(framework, int(tp), int(pp), index)
    return baselines


def _default_flag_points(columns: Columns) -> NDArray[np.bool_]:
    """Aggregated points at the framework's own token budget, with neither attention DP nor expert parallelism."""
    mask: NDArray[np.bool_] = (
        (columns["mode"] == ServingMode.AGGREGATED.value)
        & (columns[FRAMEWORK_BUDGET] == 1.0)
        & (columns["dp"] == 1.0)
        & (columns["ep"] == 1.0)
    )
    return mask


def gain(result: SearchResult, baseline: Baseline) -> float | None:
    """The winner's tokens/s per GPU over the baseline's (None without either)."""
    if result.winner is None or baseline.index is None:
        return None
    per_gpu = ranking_view(result.task, result.columns)["tokens_per_s_per_gpu"]
    return float(per_gpu[result.winner] / per_gpu[baseline.index])
