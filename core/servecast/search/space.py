"""The search space: the parallel layouts that can split a model, and the load levels and compositions to try.

Layouts come from the model's divisibility (heads, KV heads, MLP and expert widths) and the framework's parallel
modes, with tensor and attention-DP groups inside one node; pipeline depth grows only until the model fits
(and one step more, for KV-cache room), so no layout that cannot run is ever evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from servecast.domain.layout import ParallelLayout
from servecast.domain.vocabulary import ParallelMode
from servecast.models.architecture import ModelArchitecture
from servecast.models.layout_check import layout_problems

LARGEST_RATIO_TERM = 8
"""Most prefill or decode workers in one disaggregated unit (x and y of xPyD, coprime)."""
PREFILL_BATCHES = (1, 2, 4, 8)
TOKEN_BUDGETS = (2048, 4096, 8192, 16384)
"""Per-iteration token budgets tried for aggregated servers besides the framework's own (within the step tables'
shared range, `servecast.serving.step_time.TABLE_TOKENS`)."""
LOAD_LEVELS = 14


def _powers_of_two(largest: int) -> list[int]:
    return [1 << i for i in range(max(largest, 1).bit_length()) if 1 << i <= largest]


def stage_layouts(
    arch: ModelArchitecture, parallel_modes: frozenset[ParallelMode], node_gpus: int, gpus: int
) -> list[ParallelLayout]:
    """Single-stage layouts (pp 1) that split the model and use only `parallel_modes`, within one node.

    Dense models vary tp. MoE models also run attention data-parallel with the experts split over the whole stage
    (tp x dp = ep), or tensor-parallel experts (ep 1) and full expert parallelism (ep = tp).
    """
    moe = arch.moe is not None and any(arch.layer_is_moe)
    layouts = []
    for stage in _powers_of_two(min(node_gpus, gpus)):
        shapes = [(stage, 1, 1)]
        if moe:
            shapes.append((stage, 1, stage))
            shapes += [(stage // dp, dp, stage) for dp in _powers_of_two(stage) if dp > 1]
        for tp, dp, ep in dict.fromkeys(shapes):
            layout = ParallelLayout(tp=tp, attention_dp=dp, ep=ep)
            if layout.modes <= parallel_modes and not layout_problems(arch, layout):
                layouts.append(layout)
    return layouts


def pipeline_depths(
    stage: ParallelLayout, arch: ModelArchitecture, gpus: int, parallel_modes: frozenset[ParallelMode]
) -> list[int]:
    """Pipeline depths to try for a stage layout, shallowest first, within the GPUs and the layers."""
    if ParallelMode.PP not in parallel_modes:
        return [1]
    return [pp for pp in _powers_of_two(gpus // stage.gpus) if pp <= arch.num_layers]


def load_levels(largest: int, levels: int = LOAD_LEVELS) -> NDArray[np.float64]:
    """Whole numbers from 1 to `largest`, geometrically spaced, both ends included."""
    values = np.unique(np.round(np.geomspace(1, max(largest, 1), levels)))
    return values.astype(np.float64)


def unit_ratios(prefill_gpus: int, decode_gpus: int, gpus: int) -> Iterator[tuple[int, int]]:
    """Coprime (x, y) worker counts of an xPyD unit that fits in `gpus` (multiples are replicas of a unit)."""
    for x in range(1, LARGEST_RATIO_TERM + 1):
        for y in range(1, LARGEST_RATIO_TERM + 1):
            if math.gcd(x, y) == 1 and x * prefill_gpus + y * decode_gpus <= gpus:
                yield x, y
