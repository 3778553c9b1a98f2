"""Evaluate the search space: every runnable layout of every framework and mode, at every load level, vectorised.

Servers are built once per (framework, layout, role, token budget) and share step tables; a framework's aggregated
servers, at every layout, token budget and load level their scheduling rules let be solved together, are one
vectorised fixed point (each element on its own server's step tables); all disaggregated compositions of a framework
(prefill layout x decode layout x worker ratio x prefill batch x decode batch) are one vectorised solve over
whole-batch step curves. The points come out as columns named like the `estimate` command's flags, so any row can
be re-estimated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from servecast.domain.framework import FrameworkVersion, KnobMeaning, KnobValue
from servecast.domain.hardware import HardwareSpec
from servecast.domain.layout import ParallelLayout
from servecast.domain.target import Target
from servecast.domain.vocabulary import ServingMode
from servecast.errors import InputError
from servecast.host.host import PluginHost
from servecast.models.model import Model
from servecast.search.model_percentiles import ModelPercentiles
from servecast.search.space import (
    PREFILL_BATCHES,
    TOKEN_BUDGETS,
    load_levels,
    pipeline_depths,
    stage_layouts,
    unit_ratios,
)
from servecast.search.task import SearchTask
from servecast.serving.aggregated import group_steady_states
from servecast.serving.disaggregated import (
    Compositions,
    Pool,
    decode_curve,
    kv_transfer_ms,
    prefill_curve,
    solve_at_decode_batches,
)
from servecast.serving.estimate import ServerCache, exchange_overrides, runnable_problems
from servecast.serving.iterations import ServerGroup
from servecast.serving.load import LoadKind, LoadLevels
from servecast.serving.metrics import ServingPoints
from servecast.serving.policy import ServerRole
from servecast.serving.server import Server, build_server
from servecast.serving.static import static_batch
from servecast.serving.tails import PERCENTILE_COLUMNS, LatencyTails, length_ratios

Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class SearchProgress:
    """Where an evaluation stands: reported before each (framework, mode) stage and once at the end."""

    stage: str
    """The stage starting, e.g. `vllm disagg` (empty at the end)."""
    done: int
    """Stages finished."""
    total: int
    evaluated: int
    """Configurations evaluated so far."""


Progress = Callable[[SearchProgress], None]

LAYOUT_FIELDS = ("tp", "pp", "dp", "ep", "moe_tp", "redundant_experts", "moe_all_to_all", "two_batch_overlap")
"""A server's layout and how its MoE layers exchange tokens (NaN where the layout has no attention DP with EP)."""
CONFIG_COLUMNS = (
    "framework",
    "framework_version",
    "mode",
    *LAYOUT_FIELDS,
    "replicas",
    "max_num_tokens",
    *(f"prefill_{name}" for name in LAYOUT_FIELDS),
    "prefill_workers",
    "prefill_batch_size",
    "prefill_system",
    *(f"decode_{name}" for name in LAYOUT_FIELDS),
    "decode_workers",
    "decode_batch_size",
    "decode_system",
    "concurrency",
    "batch_size",
)
"""Per-point configuration columns, named like the estimate command's flags (NaN where a field does not apply)."""
METRIC_COLUMNS = (
    "ttft_ms",
    "tpot_ms",
    "e2e_ms",
    "requests_per_s",
    "throughput_tokens_per_s",
    "tokens_per_s_per_gpu",
    "tokens_per_s_per_user",
    "num_gpus",
    "running_sequences",
    "limiter",
    *PERCENTILE_COLUMNS,
)
FRAMEWORK_BUDGET = "framework_budget"
"""Per point: 1 where an aggregated server runs the framework's own token budget, 0 where it runs one the search
tried instead, NaN for other modes (what finds the framework's default deployment among the points)."""


@dataclass(frozen=True)
class Rejection:
    """A layout the search could not run, and why (memory, capabilities, plugin vetoes)."""

    framework: str
    mode: ServingMode
    layout: str
    reason: str


@dataclass
class SpaceEvaluation:
    """Everything evaluated: the points as columns, and what was rejected before evaluation."""

    columns: Columns
    rejections: list[Rejection] = field(default_factory=list)
    percentiles: ModelPercentiles | None = None
    """The model's percentiles of the points, computed when asked (`PERCENTILE_COLUMNS` are not in `columns`)."""
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.columns["framework"]) if self.columns else 0


def _layout_values(server: Server) -> dict[str, float]:
    layout, settings = server.layout, server.settings
    exchanges = layout.exchanges_tokens
    values = (
        layout.tp,
        layout.pp,
        layout.attention_dp,
        layout.ep,
        layout.moe_tp,
        layout.redundant_experts,
        float(settings.moe_all_to_all) if exchanges else np.nan,
        float(settings.two_batch_overlap) if exchanges else np.nan,
    )
    return dict(zip(LAYOUT_FIELDS, (float(v) for v in values), strict=True))


@dataclass(frozen=True)
class _Block:
    """Points evaluated together: their columns, and their latency distributions for the model's percentiles."""

    columns: Columns
    tails: LatencyTails


def _block(
    size: int,
    constants: dict[str, object],
    arrays: dict[str, np.ndarray],
    points: ServingPoints,
    scale: np.ndarray | float = 1.0,
) -> _Block:
    """One block of points: configuration constants broadcast, per-point arrays, and the metrics (`scale`
    replicas of what `points` describe; the percentiles, computed when asked, from their distributions)."""
    columns: Columns = {}
    for name in CONFIG_COLUMNS:
        if name in arrays:
            columns[name] = np.asarray(arrays[name], dtype=np.float64)
        elif name in constants:
            value = constants[name]
            dtype = object if isinstance(value, str) else np.float64
            columns[name] = np.full(size, value, dtype=dtype)
        else:
            columns[name] = np.full(size, np.nan)
    own_budget = constants.get(FRAMEWORK_BUDGET)
    columns[FRAMEWORK_BUDGET] = np.full(size, float(own_budget) if isinstance(own_budget, float) else np.nan)
    rate = points.requests_per_s * scale
    gpus = points.num_gpus * scale
    throughput = rate * points.output_tokens
    columns.update(
        ttft_ms=points.ttft_ms,
        tpot_ms=points.tpot_ms,
        e2e_ms=points.e2e_ms,
        requests_per_s=rate,
        throughput_tokens_per_s=throughput,
        tokens_per_s_per_gpu=throughput / gpus,
        tokens_per_s_per_user=np.divide(1000.0, points.tpot_ms, out=np.full(size, np.inf), where=points.tpot_ms > 0),
        num_gpus=gpus.astype(np.float64),
        running_sequences=points.running,
        limiter=np.asarray(points.limiter, dtype=np.int64),
    )
    # a static batch's requests share one timeline: its percentiles are its means
    tails = points.tails or LatencyTails.at(points.ttft_ms, points.tpot_ms, points.output_tokens - 1)
    return _Block(columns, tails)


class _FrameworkSpace:
    """The servers of one framework version, built on demand and shared between modes."""

    def __init__(
        self,
        host: PluginHost,
        task: SearchTask,
        model: Model,
        hardware: HardwareSpec,
        version: FrameworkVersion,
        framework: str,
        cache: ServerCache,
        rejections: list[Rejection],
    ) -> None:
        self.host, self.task, self.model, self.hardware = host, task, model, hardware
        self.version = version
        self.framework = framework
        self.target = Target(hardware=hardware.name, framework=framework, framework_version=version.version)
        self.cache = cache
        self.rejections = rejections
        self.modes = version.capabilities.parallel_modes
        self._problems: dict[tuple[ServingMode, ParallelLayout, int | None], list[str]] = {}

    def on(self, hardware: HardwareSpec) -> _FrameworkSpace:
        """The same framework's servers on another system (a disaggregated pool's own)."""
        host, task, model, version, framework = self.host, self.task, self.model, self.version, self.framework
        return _FrameworkSpace(host, task, model, hardware, version, framework, self.cache, self.rejections)

    def servers(self, mode: ServingMode, role: ServerRole, gpus: int) -> list[Server]:
        """Runnable servers of `role`, over stage layouts and pipeline depths up to one step past the first fit,
        each also with the all-to-all where `_wide_ep` offers it."""
        arch = self.model.architecture
        built = []
        for stage in stage_layouts(arch, self.modes, self.hardware.node.domain_gpus, gpus):
            fitted = 0
            for pp in pipeline_depths(stage, arch, gpus, self.modes):
                layout = stage.model_copy(update={"pp": pp})
                server = self._server(mode, role, layout)
                if server is not None:
                    built.append(server)
                    wide = self._wide_ep(mode, role, server)
                    built += [wide] if wide is not None else []
                    fitted += 1
                    if fitted == 2:
                        break
        return built

    def _wide_ep(self, mode: ServingMode, role: ServerRole, server: Server) -> Server | None:
        """`server` with its MoE tokens sent by all-to-all, where its layout gathers more than an all-to-all would
        send, the version can, and its defaults do not already. Gathering gives every rank all `dp` ranks' tokens,
        an all-to-all each token to its `top_k` experts' ranks: over at most `top_k` ranks the all-to-all moves no
        less (TensorRT-LLM's wide-EP MoE stays on all-gather there for that reason). Two-batch overlap is left at
        the framework's default: its model (ideal overlap) predicts 1.6-2.3 times the decode throughput SGLang and
        vLLM publish with it (benchmarks/wide_ep_published.py), so the search does not choose it."""
        layout = server.layout
        moe = self.model.architecture.moe
        if not layout.exchanges_tokens or server.settings.moe_all_to_all or moe is None or layout.ep <= moe.top_k:
            return None
        if not self.version.knobs_for(KnobMeaning.MOE_ALL_TO_ALL):
            return None
        return self._server(mode, role, layout, exchange=exchange_overrides(True, None))

    def budget_variants(self, mode: ServingMode, server: Server) -> list[Server]:
        """`server` and its variants at the search's other token budgets: those the framework accepts, and only
        budgets that hold a whole prompt when the server does not chunk prompts."""
        variants = [server]
        prompt = self.task.isl - server.cached_prefix
        for budget in TOKEN_BUDGETS:
            settings = server.settings
            if budget == settings.max_num_tokens or (not settings.chunked_prefill and budget < prompt):
                continue
            variant = self._server(mode, server.role, server.layout, budget, _exchange_of(server))
            if variant is not None:
                variants.append(variant)
        return variants

    def _server(
        self,
        mode: ServingMode,
        role: ServerRole,
        layout: ParallelLayout,
        budget: int | None = None,
        exchange: dict[KnobMeaning, KnobValue] | None = None,
    ) -> Server | None:
        """The server (at the framework's token budget, or `budget`; with the framework's MoE exchange, or
        `exchange`), or None after recording why it cannot run (each reason once per mode, layout and budget)."""
        key = (mode, layout, budget)
        if key not in self._problems:
            self._problems[key] = runnable_problems(
                self.host, self.version, self.target, mode, self.model, layout, max_num_tokens=budget
            )
        shape = str(layout) if budget is None else f"{layout}, max_num_tokens {budget}"
        if self._problems[key]:
            self._reject(mode, shape, "; ".join(self._problems[key]))
            return None
        overrides: dict[KnobMeaning, KnobValue] = dict(exchange or {})
        if budget is not None:
            overrides[KnobMeaning.MAX_NUM_TOKENS] = budget
        build = partial(
            build_server,
            self.host,
            self.model,
            self.hardware,
            self.target,
            layout,
            self.task.workload,
            role,
            overrides,
            self.cache.step_tables,
        )
        try:
            return self.cache.server((self.target, layout, role, budget, tuple(sorted(overrides.items()))), build)
        except InputError as error:
            self._reject(mode, shape, error.message)
            return None

    def _reject(self, mode: ServingMode, shape: str, reason: str) -> None:
        rejection = Rejection(self.framework, mode, shape, reason)
        if rejection not in self.rejections:
            self.rejections.append(rejection)


def _exchange_of(server: Server) -> dict[KnobMeaning, KnobValue] | None:
    """The MoE exchange `server` was built with, to build its variants the same way (None: the defaults)."""
    layout, settings = server.layout, server.settings
    if not layout.exchanges_tokens:
        return None
    return exchange_overrides(settings.moe_all_to_all, settings.two_batch_overlap)


def evaluate_space(
    host: PluginHost, task: SearchTask, model: Model, frameworks: list[str], progress: Progress | None = None
) -> SpaceEvaluation:
    """Every point of the task's space, evaluated (see the module docstring)."""
    hardware = host.hardware.get(task.system)
    cache = ServerCache()
    evaluation = SpaceEvaluation(columns={})
    blocks: list[_Block] = []
    stages = len(frameworks) * len(task.modes)

    def report(done: int, stage: str) -> None:
        if progress:
            progress(SearchProgress(stage, done, stages, sum(len(block.columns["framework"]) for block in blocks)))

    done = 0

    for framework in frameworks:
        version = host.framework_version(framework, host.calibrated_release(task.system, framework))
        evaluation.versions[framework] = version.version
        space = _FrameworkSpace(host, task, model, hardware, version, framework, cache, evaluation.rejections)
        constants: dict[str, object] = {
            "framework": framework,
            "framework_version": version.version,
        }
        for mode in task.modes:
            report(done, f"{framework} {mode.value}")
            done += 1
            if mode not in version.capabilities.serving_modes:
                reason = f"{framework} {version.version} has no {mode.value} mode"
                evaluation.rejections.append(Rejection(framework, mode, "-", reason))
                continue
            if mode is ServingMode.DISAGGREGATED:
                prefill, decode = (
                    space if system == task.system else space.on(host.hardware.get(system))
                    for system in (task.prefill_system or task.system, task.decode_system or task.system)
                )
                systems = {
                    f"{role}_system": pool.hardware.name
                    for role, pool in (("prefill", prefill), ("decode", decode))
                    if pool.hardware.name != task.system
                }
                blocks += _disaggregated(prefill, decode, task, {**constants, **systems, "mode": mode.value})
            else:
                blocks += _single_server(space, task, mode, {**constants, "mode": mode.value})
    report(done, "")
    if blocks:
        names = blocks[0].columns
        evaluation.columns = {name: np.concatenate([block.columns[name] for block in blocks]) for name in names}
        evaluation.percentiles = ModelPercentiles.of([block.tails for block in blocks])
    return evaluation


def _single_server(
    space: _FrameworkSpace, task: SearchTask, mode: ServingMode, constants: dict[str, object]
) -> list[_Block]:
    """Aggregated instances at closed-loop concurrency levels and token budgets, or static batches (one prefill
    iteration whatever the budget), replicated over the GPUs. Every layout and budget the scheduling rules allow
    to be solved together is one vectorised solve."""
    blocks = []
    jobs: list[tuple[Server, Server, dict[str, object], int]] = []  # each variant, its server, configuration, replicas
    for server in space.servers(mode, ServerRole.AGGREGATED, task.gpus):
        replicas = task.gpus // server.gpus if task.replicate else 1
        config = {**constants, **_layout_values(server), "replicas": float(replicas)}
        config["max_num_tokens"] = float(server.settings.max_num_tokens)
        if mode is ServingMode.STATIC:
            longest = task.isl + task.osl
            batches = load_levels(server.sequences_that_fit(longest))
            results = [static_batch(server, int(b)) for b in batches]
            points = ServingPoints(
                ttft_ms=np.array([r.ttft_ms for r in results]),
                tpot_ms=np.array([r.tpot_ms for r in results]),
                requests_per_s=np.array([r.requests_per_s for r in results]),
                running=batches,
                limiter=np.zeros(len(batches), dtype=np.int64),
                overloaded=np.zeros(len(batches), dtype=bool),
                output_tokens=task.osl,
                num_gpus=np.full(len(batches), server.gpus),
            )
            blocks.append(_block(len(batches), config, {"batch_size": batches}, points, replicas))
            continue
        jobs += [(variant, server, config, replicas) for variant in space.budget_variants(mode, server)]
    solved = _solve_together([variant for variant, _, _, _ in jobs])
    for (variant, server, config, replicas), (concurrency, points) in zip(jobs, solved, strict=True):
        budget = {"max_num_tokens": float(variant.settings.max_num_tokens), FRAMEWORK_BUDGET: float(variant is server)}
        blocks.append(
            _block(len(concurrency), {**config, **budget}, {"concurrency": concurrency * replicas}, points, replicas)
        )
    return blocks


def _solve_together(servers: list[Server]) -> list[tuple[np.ndarray, ServingPoints]]:
    """Each server at its closed-loop load levels (`load_levels` of its concurrency limit), the servers grouped
    into as few vectorised solves as their scheduling rules allow; in the order given."""
    solved: dict[int, tuple[np.ndarray, ServingPoints]] = {}
    distinct = list({id(server): server for server in servers}.values())
    for members in ServerGroup.groups(distinct):
        levels = [load_levels(server.concurrency_limit) for server in members]
        counts = [len(level) for level in levels]
        group = ServerGroup.of(members, counts)
        points = group_steady_states(group, LoadLevels(LoadKind.CONCURRENCY, np.concatenate(levels)))
        bounds = np.cumsum([0, *counts])
        for server, level, start, end in zip(members, levels, bounds[:-1], bounds[1:], strict=True):
            solved[id(server)] = (level, points.part(slice(start, end)))
    return [solved[id(server)] for server in servers]


def _disaggregated(
    prefill_space: _FrameworkSpace, decode_space: _FrameworkSpace, task: SearchTask, constants: dict[str, object]
) -> list[_Block]:
    """Every xPyD composition of prefill and decode servers within the GPUs, at decode batch levels (each pool on
    its space's system)."""
    mode = ServingMode.DISAGGREGATED
    prefills = prefill_space.servers(mode, ServerRole.PREFILL, task.gpus - 1)
    decodes = decode_space.servers(mode, ServerRole.DECODE, task.gpus - 1)
    systems = (prefill_space.hardware, decode_space.hardware)
    if not prefills or not decodes:
        return []
    prompt = task.isl - prefills[0].cached_prefix
    batches = [
        [b for b in PREFILL_BATCHES if b == 1 or b * prompt <= server.settings.max_num_tokens] for server in prefills
    ]
    largest_batch = max(max(b) for b in batches)
    prefill_curves = np.array([prefill_curve(server, largest_batch) for server in prefills])
    limits = [server.preemption_free_limit for server in decodes]
    widest = max(limits) + 1
    decode_curves = np.array(
        [
            np.pad(decode_curve(s, limit), (0, widest - limit - 1), mode="edge")
            for s, limit in zip(decodes, limits, strict=True)
        ]
    )
    # one entry per (prefill layout, decode layout, worker ratio, prefill batch), expanded over its decode levels
    levels = [load_levels(limit) for limit in limits]
    prefill_gpus, decode_gpus = [server.gpus for server in prefills], [server.gpus for server in decodes]
    units: dict[str, list[float]] = {name: [] for name in ("pi", "di", "x", "y", "pb", "transfer", "gpus")}
    for pi, prefill in enumerate(prefills):
        for di, decode in enumerate(decodes):
            for x, y in unit_ratios(prefill_gpus[pi], decode_gpus[di], task.gpus):
                unit = x * prefill_gpus[pi] + y * decode_gpus[di]
                copies = task.gpus // unit if task.replicate else 1
                transfer = kv_transfer_ms(Pool(prefill, copies * x, 1), Pool(decode, copies * y, 1), *systems)
                for pb in batches[pi]:
                    values = (pi, di, copies * x, copies * y, pb, transfer, copies * unit)
                    for name, value in zip(units, values, strict=True):
                        units[name].append(value)
    counts = np.array([len(levels[int(di)]) for di in units["di"]])
    arrays = {name: np.repeat(np.asarray(values, dtype=np.float64), counts) for name, values in units.items()}
    arrays["n"] = np.concatenate([levels[int(di)] for di in units["di"]]) if units["di"] else np.zeros(0)
    prefill_index = arrays["pi"].astype(np.int64)
    decode_index = arrays["di"].astype(np.int64)
    deployments = Compositions(
        prefill_curves=prefill_curves,
        prefill_index=prefill_index,
        prefill_workers=arrays["x"],
        prefill_batch=arrays["pb"],
        decode_curves=decode_curves,
        decode_index=decode_index,
        decode_workers=arrays["y"],
        decode_limit=arrays["n"],
        transfer_ms=arrays["transfer"],
        num_gpus=arrays["gpus"].astype(np.int64),
        request_ms=prefills[0].settings.front_end_ms(False, prefills[0].workload.input_tokens),
        tokenize_ms=prefills[0].settings.tokenize_ms(prefills[0].workload.input_tokens),
        paced=prefills[0].workload.users_in_step,  # closed-loop users in waves
        first_wave_share=prefills[0].workload.first_wave_share,
        requests_per_user=prefills[0].workload.requests_per_user,
        length_ratios=length_ratios(prefills[0].workload, jittered=not prefills[0].workload.users_in_step),
    )
    users, points = solve_at_decode_batches(deployments, task.osl, arrays["n"])
    per_point: dict[str, np.ndarray] = {
        "concurrency": users,
        "prefill_workers": arrays["x"],
        "decode_workers": arrays["y"],
        "prefill_batch_size": arrays["pb"],
        "decode_batch_size": arrays["n"],
    }
    for role, servers, index in (("prefill", prefills, prefill_index), ("decode", decodes, decode_index)):
        table = np.array([list(_layout_values(server).values()) for server in servers])
        for column, name in enumerate(LAYOUT_FIELDS):
            per_point[f"{role}_{name}"] = table[index, column]
    return [_block(len(users), constants, per_point, points)]
