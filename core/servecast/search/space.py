"""The search space: the parallel layouts that can split a model, and the load levels and compositions to try.

Layouts come from the model's divisibility (heads, KV heads, MLP and expert widths) and the framework's parallel
modes, with groups of any width up to the GPUs given (priced by the links they cross); pipeline depth grows only
until the model fits (and one step more, for KV-cache room), so no layout that cannot run is ever evaluated.
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


def _redundant(arch: ModelArchitecture, ep: int) -> int:
    """Expert copies that make the experts split evenly over `ep` ranks (EPLB's redundant experts), else none."""
    return (-arch.moe.num_experts) % ep if arch.moe is not None and ep > 1 else 0


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def _divisors(value: int) -> list[int]:
    return [d for d in range(1, value + 1) if value % d == 0]


def stage_layouts(
    arch: ModelArchitecture, parallel_modes: frozenset[ParallelMode], domain_gpus: int, gpus: int
) -> list[ParallelLayout]:
    """Single-stage layouts (pp 1) of up to `gpus` GPUs that split the model and use only `parallel_modes`.

    Dense models vary tp. MoE models also run attention data-parallel with the experts split over the whole stage
    (tp x dp = ep), or tensor-parallel experts (ep 1) and full expert parallelism (ep = tp); their stages may also
    be whole scale-up domains that are no power of two (EP 72 on nine 8-GPU nodes). A tensor-parallel group wider
    than a scale-up domain is left out where pipeline parallelism can take its place: splitting the same GPUs into
    stages moves one activation per stage boundary over the network instead of two all-reduces per layer, with the
    same weights and compute per GPU, so it is never slower.
    """
    moe = arch.moe is not None and any(arch.layer_is_moe)
    sizes = set(_powers_of_two(gpus))
    if moe:
        sizes |= set(range(domain_gpus, gpus + 1, domain_gpus))
    layouts = []
    for stage in sorted(sizes):
        shapes = [(stage, 1, 1)]
        if moe:
            shapes.append((stage, 1, stage))
            shapes += [(stage // dp, dp, stage) for dp in _divisors(stage) if dp > 1 and _is_power_of_two(stage // dp)]
        for tp, dp, ep in dict.fromkeys(shapes):
            layout = ParallelLayout(tp=tp, attention_dp=dp, ep=ep, redundant_experts=_redundant(arch, ep))
            if tp > domain_gpus and ParallelMode.PP in parallel_modes:
                continue
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
