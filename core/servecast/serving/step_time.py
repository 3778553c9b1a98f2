"""Iteration times of one server, composed from tabulated op-graph parts so any iteration costs microseconds.

An iteration's GPU time is the sum of its ops, and every op scales with one thing (`OpPart`): the tokens through
the layers, the rows reaching the LM head, the prompt chunks' attention, or the decodes' attention. Each part is
estimated once over a grid (every pipeline stage, with and without CUDA graphs) and interpolated in log space;
the iteration then adds CUDA-graph padding, attention-DP imbalance, pipeline microbatching, two-batch overlap of
the MoE all-to-all, and the framework's CPU time per iteration.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from servecast.arrays import FloatArray, IntArray
from servecast.domain.layout import ParallelLayout
from servecast.models.graph import GraphOptions, build_stage_graph
from servecast.models.model import Model
from servecast.models.ops import OpPart
from servecast.models.step import StepShape
from servecast.models.weights import stage_layers
from servecast.ops.estimator import OpEstimator, OpKind
from servecast.serving.policy import SchedulerSettings

_T = TypeVar("_T")


def _grid(largest: int, points: int, start: int = 1) -> NDArray[np.int64]:
    """Geometrically spaced integers from `start` to `largest`, both included."""
    values = np.geomspace(max(start, 1), max(largest, start + 1), points)
    return np.unique(np.round(values).astype(np.int64))


def _log(values: ArrayLike) -> FloatArray:
    return np.log(np.maximum(np.asarray(values, dtype=np.float64), 1.0))


class _Table1D:
    """Times (stages x points) over one axis; log-log interpolation, proportional beyond the last point."""

    def __init__(self, axis: NDArray[np.int64], times: FloatArray) -> None:
        self.largest = float(axis[-1])
        self.log_axis = _log(axis)
        self.log_times = np.log(times)
        self.slopes = np.diff(self.log_times, axis=1) / np.diff(self.log_axis)
        """Per stage, the log-log slope of each interval."""

    def __call__(self, x: FloatArray, table: IntArray | None = None) -> FloatArray:
        """Times at `x` (`table`: what a stacked lookup takes; one table answers for itself)."""
        axis = self.log_axis
        at = np.log(np.maximum(np.minimum(x, self.largest), 1.0))
        i = np.minimum(np.maximum(np.searchsorted(axis, at) - 1, 0), len(axis) - 2)
        logs = self.log_times[:, i] + self.slopes[:, i] * (at - axis[i])
        beyond = np.maximum(x / self.largest, 1.0)
        return np.where(x > 0, np.exp(logs) * beyond, 0.0)


class _Table2D:
    """Times (stages x rows x columns) over two axes; bilinear in log space, proportional beyond the last row."""

    def __init__(self, rows: NDArray[np.int64], columns: NDArray[np.int64], times: FloatArray) -> None:
        self.largest_row, self.largest_column = float(rows[-1]), float(columns[-1])
        self.log_rows, self.log_columns = _log(rows), _log(columns)
        self.row_scale, self.column_scale = 1 / np.diff(self.log_rows), 1 / np.diff(self.log_columns)
        """Per interval, one over its width in log space."""
        self.log_times = np.log(times).reshape(len(times), -1)
        """Per stage, the log times row after row (a flat index per grid point)."""

    def __call__(self, row: FloatArray, column: FloatArray, table: IntArray | None = None) -> FloatArray:
        """Times at (`row`, `column`) (`table`: what a stacked lookup takes; one table answers for itself)."""
        # np.minimum/np.maximum rather than np.clip: these arrays are small and clip's overhead dominates; the
        # inputs are clamped to the grid, so the fractions need no clamping
        rs, cs = self.log_rows, self.log_columns
        r = np.log(np.maximum(np.minimum(row, self.largest_row), 1.0))
        c = np.log(np.maximum(np.minimum(column, self.largest_column), 1.0))
        i = np.minimum(np.maximum(np.searchsorted(rs, r) - 1, 0), len(rs) - 2)
        j = np.minimum(np.maximum(np.searchsorted(cs, c) - 1, 0), len(cs) - 2)
        u = (r - rs[i]) * self.row_scale[i]
        v = (c - cs[j]) * self.column_scale[j]
        logs, at, width = self.log_times, i * len(cs) + j, len(cs)
        low, high = logs[:, at], logs[:, at + width]
        low = low + (logs[:, at + 1] - low) * v
        high = high + (logs[:, at + width + 1] - high) * v
        beyond = np.maximum(row / self.largest_row, 1.0)
        return np.where(row > 0, np.exp(low + (high - low) * u) * beyond, 0.0)


_NO_TIME = -1e300
"""The log time of a stage a server does not have: exp takes it to zero, and the slowest stage is another."""


class _Stacked1D:
    """One part's 1-D tables of several servers, looked up for elements that each name their server's table; the
    arithmetic of `_Table1D` per element (so each element's time is what its own table gives)."""

    def __init__(self, tables: Sequence[_Table1D]) -> None:
        rows = max(len(table.log_times) for table in tables)
        points = max(len(table.log_axis) for table in tables)
        self.largest = np.array([table.largest for table in tables])
        self.last = np.array([len(table.log_axis) - 2 for table in tables])
        self.log_axis = np.full((len(tables), points), np.inf)
        self.log_times = np.full((len(tables), rows, points), _NO_TIME)
        self.slopes = np.zeros((len(tables), rows, points - 1))
        for k, table in enumerate(tables):
            stages, count = table.log_times.shape
            self.log_axis[k, :count] = table.log_axis
            self.log_times[k, :stages, :count] = table.log_times
            self.slopes[k, :stages, : count - 1] = table.slopes

    def __call__(self, x: FloatArray, table: IntArray | None = None) -> FloatArray:
        """Times at `x`, element i from table `table[i]`."""
        if table is None:
            raise ValueError("a stacked lookup needs each element's table")
        largest = self.largest[table]
        at = np.log(np.maximum(np.minimum(x, largest), 1.0))
        axis = self.log_axis[table]
        below = (axis < at[:, None]).sum(axis=1)  # np.searchsorted(axis, at) row by row
        i = np.minimum(np.maximum(below - 1, 0), self.last[table])
        logs = self.log_times[table, :, i] + self.slopes[table, :, i] * (at - axis[np.arange(len(i)), i])[:, None]
        beyond = np.maximum(x / largest, 1.0)
        return np.where(x > 0, np.exp(logs.T) * beyond, 0.0)


class _Stacked2D:
    """One part's 2-D tables of several servers, looked up for elements that each name their server's table; the
    arithmetic of `_Table2D` per element."""

    def __init__(self, tables: Sequence[_Table2D]) -> None:
        stages = max(len(table.log_times) for table in tables)
        rows = max(len(table.log_rows) for table in tables)
        columns = max(len(table.log_columns) for table in tables)
        self.largest_row = np.array([table.largest_row for table in tables])
        self.largest_column = np.array([table.largest_column for table in tables])
        self.last_row = np.array([len(table.log_rows) - 2 for table in tables])
        self.last_column = np.array([len(table.log_columns) - 2 for table in tables])
        self.width = np.array([len(table.log_columns) for table in tables])
        self.log_rows = np.full((len(tables), rows), np.inf)
        self.log_columns = np.full((len(tables), columns), np.inf)
        self.row_scale = np.zeros((len(tables), rows - 1))
        self.column_scale = np.zeros((len(tables), columns - 1))
        self.log_times = np.full((len(tables), stages, rows * columns), _NO_TIME)
        for k, table in enumerate(tables):
            self.log_rows[k, : len(table.log_rows)] = table.log_rows
            self.log_columns[k, : len(table.log_columns)] = table.log_columns
            self.row_scale[k, : len(table.row_scale)] = table.row_scale
            self.column_scale[k, : len(table.column_scale)] = table.column_scale
            count, flat = table.log_times.shape
            self.log_times[k, :count, :flat] = table.log_times

    def __call__(self, row: FloatArray, column: FloatArray, table: IntArray | None = None) -> FloatArray:
        """Times at (`row`, `column`), element i from table `table[i]`."""
        if table is None:
            raise ValueError("a stacked lookup needs each element's table")
        element = np.arange(len(table))
        largest_row = self.largest_row[table]
        r = np.log(np.maximum(np.minimum(row, largest_row), 1.0))
        c = np.log(np.maximum(np.minimum(column, self.largest_column[table]), 1.0))
        rs, cs = self.log_rows[table], self.log_columns[table]
        i = np.minimum(np.maximum((rs < r[:, None]).sum(axis=1) - 1, 0), self.last_row[table])
        j = np.minimum(np.maximum((cs < c[:, None]).sum(axis=1) - 1, 0), self.last_column[table])
        u = (r - rs[element, i]) * self.row_scale[table, i]
        v = (c - cs[element, j]) * self.column_scale[table, j]
        width = self.width[table]
        at = i * width + j
        logs = self.log_times
        low, high = logs[table, :, at].T, logs[table, :, at + width].T
        low = low + (logs[table, :, at + 1].T - low) * v
        high = high + (logs[table, :, at + width + 1].T - high) * v
        beyond = np.maximum(row / largest_row, 1.0)
        return np.where(row > 0, np.exp(low + (high - low) * u) * beyond, 0.0)


TABLE_TOKENS = 16384
"""Every server's tables cover iterations of at least this many tokens, so servers that differ only in a token
budget up to it share one set of tables (and the search's budget variants cost no tabulation)."""


@dataclass(frozen=True)
class StepLimits:
    """The largest iteration the tables must cover (beyond it, times grow in proportion)."""

    tokens: int
    decodes: int
    kv_len: int


@dataclass(frozen=True)
class StepTables:
    """The tabulated op-graph parts of one model on one layout under one framework's kernels: what servers with
    different budgets but the same kernels, launch cost and table limits share. Each part holds two tables, with
    CUDA graphs (kernels only) and eager (each kernel at least a launch), with a row per distinct pipeline stage:
    stages with the same layers and neither end of the pipeline take the same time, and an iteration lasts as long
    as its slowest stage, so one row stands for all of them."""

    layout: ParallelLayout
    tokens: tuple[_Table1D, _Table1D]
    logits: tuple[_Table1D, _Table1D]
    exchange: tuple[_Table1D, _Table1D]
    """The MoE all-to-all's share of `tokens`: what two-batch overlap can hide behind compute."""
    decode: tuple[_Table2D, _Table2D]
    context: tuple[_Table2D, _Table2D]


def tabulate_steps(
    model: Model,
    layout: ParallelLayout,
    estimator_for: Callable[[OpKind], OpEstimator],
    kernel_launch_us: float,
    limits: StepLimits,
    options: GraphOptions | None = None,
) -> StepTables:
    """The step tables of `model` on `layout`, each part estimated op by op over a grid up to `limits`."""
    tabulation = _Tabulation(model, layout, estimator_for, kernel_launch_us, options or GraphOptions())
    tokens = _grid(limits.tokens, 40)
    decodes = _grid(limits.decodes, 18)
    kv = _grid(limits.kv_len, 16)
    prompt = _grid(limits.tokens, 16)
    past = np.concatenate([[0], _grid(limits.kv_len, 12)])
    flat = StepShape.decode(seqs=tokens, kv_len=1)
    layers, exchange = tabulation.part_times(flat, (OpPart.TOKENS, OpPart.LOGITS))
    d, k = np.meshgrid(decodes, kv, indexing="ij")
    q, p = np.meshgrid(prompt, past, indexing="ij")
    chunks = StepShape.prefill(tokens=q.ravel(), past=p.ravel())
    return StepTables(
        layout=layout,
        tokens=_pair(_Table1D(tokens, times) for times in layers[OpPart.TOKENS]),
        logits=_pair(_Table1D(tokens, times) for times in layers[OpPart.LOGITS]),
        exchange=_pair(_Table1D(tokens, times) for times in exchange),
        decode=tabulation.table_2d(decodes, kv, StepShape.decode(d.ravel(), k.ravel()), OpPart.DECODE),
        context=tabulation.table_2d(prompt, past + 1, chunks, OpPart.CONTEXT),
    )


def _pair(tables: Iterable[_T]) -> tuple[_T, _T]:
    graphed, eager = tables
    return graphed, eager


class _Tabulation:
    """What tabulating one server's step parts works from: the model, layout, kernels and launch cost."""

    def __init__(
        self,
        model: Model,
        layout: ParallelLayout,
        estimator_for: Callable[[OpKind], OpEstimator],
        kernel_launch_us: float,
        options: GraphOptions,
    ) -> None:
        self.model, self.layout, self.options = model, layout, options
        self.estimator_for = estimator_for
        self.launch_ms = kernel_launch_us / 1000.0
        kinds: dict[object, int] = {}
        for stage in range(layout.pp):
            kinds.setdefault(self._stage_kind(stage), stage)
        self.stages = tuple(kinds.values())
        """The first stage of each distinct kind: the stages the tables hold."""

    def part_times(
        self, step: StepShape, parts: tuple[OpPart, ...]
    ) -> tuple[dict[OpPart, tuple[FloatArray, FloatArray]], tuple[FloatArray, FloatArray]]:
        """Per part and distinct stage, from one graph build each: the time with CUDA graphs (kernels only) and
        eager (each kernel at least a launch); and the same for the all-to-all ops among them."""
        rows = (len(self.stages), step.points)
        graphed = {part: np.zeros(rows) for part in parts}
        eager = {part: np.zeros(rows) for part in parts}
        moved = np.zeros((2, *rows))
        for row, stage in enumerate(self.stages):
            for op in build_stage_graph(self.model, self.layout, step, stage, self.options, frozenset(parts)).ops:
                if op.part in graphed:
                    latency = self.estimator_for(op.kind)(op.estimator_shape, op.dtype).latency_ms
                    graphed[op.part][row] += op.count * latency
                    eager[op.part][row] += op.count * np.maximum(latency, self.launch_ms)
                    if op.kind is OpKind.ALL_TO_ALL:
                        moved[0, row] += op.count * latency
                        moved[1, row] += op.count * np.maximum(latency, self.launch_ms)
        floor = 1e-9  # keeps the log-space interpolation finite for parts a stage does not have
        times = {part: (np.maximum(graphed[part], floor), np.maximum(eager[part], floor)) for part in parts}
        return times, (np.maximum(moved[0], floor), np.maximum(moved[1], floor))

    def _stage_kind(self, stage: int) -> object:
        """What makes a stage's graph: its layers' kinds (window, MoE) and whether it embeds or holds the head."""
        arch = self.model.architecture
        layers = stage_layers(arch.num_layers, self.layout.pp)[stage]
        kinds = Counter((arch.layer_windows[i], arch.layer_is_moe[i]) for i in layers)
        return (tuple(sorted(kinds.items(), key=repr)), stage == 0, stage == self.layout.pp - 1)

    def table_2d(
        self, rows: NDArray[np.int64], columns: NDArray[np.int64], step: StepShape, part: OpPart
    ) -> tuple[_Table2D, _Table2D]:
        shape = (len(self.stages), len(rows), len(columns))
        times, _ = self.part_times(step, (part,))
        return _pair(_Table2D(rows, columns, variant.reshape(shape)) for variant in times[part])


@dataclass(frozen=True)
class _RankLoad:
    """One attention-DP rank's share of an iteration (per pipeline microbatch): the tokens through the layers, the
    rows reaching the LM head, the decodes and their mean KV length, the prompts, each prompt's tokens and its
    cached past."""

    tokens: FloatArray
    rows: FloatArray
    decodes: FloatArray
    kv: FloatArray
    prompts: FloatArray
    prompt_tokens: FloatArray
    past: FloatArray

    def halved(self) -> _RankLoad:
        """Each of two equal micro-batches: half the sequences and tokens, the same lengths."""
        return replace(
            self, tokens=self.tokens / 2, rows=self.rows / 2, decodes=self.decodes / 2, prompts=self.prompts / 2
        )


class StepTimeModel:
    """Times of one server's iterations: `iteration_ms` for any mix of prompt chunks and decodes, vectorised.

    `stacked` joins the models of servers whose settings agree in all but their tables (layouts, budgets): each
    element of a call then names its server's model (`model`), and gets what that model gives it.
    """

    def __init__(self, tables: StepTables, settings: SchedulerSettings) -> None:
        self.layout = tables.layout
        self.settings = settings
        self.tables = tables
        """Shared with the servers that differ only in budgets."""
        self._stack: _Stack | None = None
        self._graph_sizes = np.asarray(settings.cuda_graph_batch_sizes, dtype=np.float64)
        """The CUDA-graph batch sizes a step is padded to, as an array (read on every call)."""

    @classmethod
    def stacked(cls, models: Sequence[StepTimeModel]) -> StepTimeModel:
        """One model for the elements of `models` (each call names every element's model by its position); the
        settings are the first model's, which the others must share."""
        first = models[0]
        tables = list(dict.fromkeys(model.tables for model in models))
        if len(tables) == 1:
            return first
        joined = cls(first.tables, first.settings)
        joined._stack = _Stack(tables, [tables.index(model.tables) for model in models])
        return joined

    def gpu_ms(
        self,
        decodes: ArrayLike,
        decode_kv: ArrayLike,
        prefill_tokens: ArrayLike = 0,
        prefill_seqs: ArrayLike = 0,
        prefill_past: ArrayLike = 0,
        model: IntArray | None = None,
    ) -> FloatArray:
        """GPU time of iterations: `decodes` sequences at mean KV length `decode_kv`, plus `prefill_tokens` prompt
        tokens spread over `prefill_seqs` sequences with `prefill_past` tokens already cached on average.

        Attention-DP ranks take whole prompts, spread evenly (each rank schedules its own requests), and the rank
        holding the most is the slowest; pipeline stages run `pp` microbatches, so an iteration (every sequence
        advancing one token) lasts `pp` times the slowest stage's microbatch. `model`: each element's model, where
        the model is `stacked`.
        """
        return self._gpu_ms(_Lookup(self, model), decodes, decode_kv, prefill_tokens, prefill_seqs, prefill_past)

    def _gpu_ms(
        self,
        lookup: _Lookup,
        decodes: ArrayLike,
        decode_kv: ArrayLike,
        prefill_tokens: ArrayLike,
        prefill_seqs: ArrayLike,
        prefill_past: ArrayLike,
    ) -> FloatArray:
        d, kv, q, n, past = (
            np.atleast_1d(np.asarray(v, dtype=np.float64))
            for v in (decodes, decode_kv, prefill_tokens, prefill_seqs, prefill_past)
        )
        d, kv, q, n, past = np.broadcast_arrays(d, kv, q, n, past)
        micro, ranks = lookup.micro, lookup.ranks
        rank_decodes = np.ceil(d / ranks / micro)
        rank_seqs = np.ceil(n / ranks / micro)
        spread = np.divide(rank_seqs * micro, n, out=np.ones_like(n), where=n > 0)
        rank_prompt = np.ceil(q * np.minimum(spread, 1.0) / micro)
        tokens = rank_decodes + rank_prompt
        sizes = self.settings.cuda_graph_batch_sizes
        graphable = (q == 0) | self.settings.graphs_cover_mixed_steps
        captured = np.array(sizes[-1] if sizes else 0)
        use_graph = graphable & (tokens <= captured) & (tokens > 0)
        padded = np.where(use_graph, self._pad(tokens), tokens) if sizes else tokens
        per_seq = np.divide(rank_prompt, rank_seqs, out=np.zeros_like(rank_prompt), where=rank_seqs > 0)
        load = _RankLoad(tokens, rank_decodes + rank_seqs, rank_decodes, kv, rank_seqs, per_seq, past)
        variants = []
        if use_graph.any():
            variants.append(lookup.stage_ms(0, replace(load, tokens=padded, rows=padded - tokens + load.rows)))
        if not use_graph.all():
            variants.append(lookup.stage_ms(1, load))
        stages = variants[0] if len(variants) == 1 else np.where(use_graph, variants[0], variants[1])
        if self.settings.two_batch_overlap:
            stages = np.where(tokens >= 2, _overlapped_ms(lookup, use_graph, load), stages)
        slowest: FloatArray = stages.max(axis=0) * micro
        return slowest

    def _pad(self, tokens: FloatArray) -> FloatArray:
        sizes = self._graph_sizes
        index = np.minimum(np.searchsorted(sizes, tokens), len(sizes) - 1)
        padded: FloatArray = sizes[index]
        return padded

    def iteration_ms(
        self,
        decodes: ArrayLike,
        decode_kv: ArrayLike,
        prefill_tokens: ArrayLike = 0,
        prefill_seqs: ArrayLike = 0,
        prefill_past: ArrayLike = 0,
        model: IntArray | None = None,
    ) -> FloatArray:
        """Wall time of iterations: GPU time plus the framework's CPU time (overlapped by an overlap scheduler).
        Each attention-DP rank has its own scheduler process, so the CPU time is that of one rank's sequences."""
        lookup = _Lookup(self, model)
        gpu = self._gpu_ms(lookup, decodes, decode_kv, prefill_tokens, prefill_seqs, prefill_past)
        ranks = lookup.ranks
        prompts = np.asarray(prefill_seqs, dtype=np.float64) / ranks
        cpu = self.settings.cpu_ms(np.asarray(decodes, dtype=np.float64) / ranks + prompts, prompts)
        result: FloatArray = np.maximum(gpu, cpu) if self.settings.overlap_scheduler else gpu + cpu
        return result


class _Stack:
    """The tables of several servers as one set of lookups, and each server's model's position among them."""

    def __init__(self, tables: list[StepTables], positions: list[int]) -> None:
        self.tables = np.array(positions)
        """The tables of each model `StepTimeModel.stacked` joined."""
        self.micro = np.array([float(t.layout.pp) for t in tables])
        self.ranks = np.array([float(t.layout.attention_dp) for t in tables])
        self.tokens = tuple(_Stacked1D([t.tokens[variant] for t in tables]) for variant in (0, 1))
        self.logits = tuple(_Stacked1D([t.logits[variant] for t in tables]) for variant in (0, 1))
        self.exchange = tuple(_Stacked1D([t.exchange[variant] for t in tables]) for variant in (0, 1))
        self.decode = tuple(_Stacked2D([t.decode[variant] for t in tables]) for variant in (0, 1))
        self.context = tuple(_Stacked2D([t.context[variant] for t in tables]) for variant in (0, 1))


class _Lookup:
    """The parts of one call's elements: from the model's own tables, or each element's among stacked ones."""

    def __init__(self, steps: StepTimeModel, model: IntArray | None) -> None:
        stack = steps._stack
        self.parts: StepTables | _Stack
        self.table: IntArray | None
        if stack is None:
            self.parts, self.table = steps.tables, None
            self.micro: FloatArray | float = float(steps.layout.pp)
            self.ranks: FloatArray | int = steps.layout.attention_dp
        elif model is None:
            raise ValueError("a stacked step-time model needs each element's model")
        else:
            self.parts, self.table = stack, stack.tables[model]
            self.micro, self.ranks = stack.micro[self.table], stack.ranks[self.table]

    def stage_ms(self, variant: int, load: _RankLoad) -> FloatArray:
        """Per stage: the GPU time of the parts, with CUDA graphs (variant 0) or eager (variant 1)."""
        parts, table = self.parts, self.table
        time: FloatArray = (
            parts.tokens[variant](load.tokens, table)
            + parts.logits[variant](load.rows, table)
            + parts.decode[variant](load.decodes, load.kv, table)
        )
        if load.prompts.any():
            time = time + load.prompts * parts.context[variant](load.prompt_tokens, load.past + 1, table)
        return time

    def exchange_ms(self, variant: int, tokens: FloatArray) -> FloatArray:
        return self.parts.exchange[variant](tokens, self.table)


def _overlapped_ms(lookup: _Lookup, use_graph: NDArray[np.bool_], load: _RankLoad) -> FloatArray:
    """Per stage, a step split into two micro-batches of half the tokens (SGLang's two-batch overlap, vLLM's
    dual-batch overlap): while one exchanges tokens with the other ranks, the other computes, so each half costs
    the longer of its compute and its all-to-all, and the step two of those."""
    half_load = load.halved()
    needed = [variant for variant, used in ((0, use_graph.any()), (1, not use_graph.all())) if used]
    halves = {variant: lookup.stage_ms(variant, half_load) for variant in needed}
    exchange = {variant: lookup.exchange_ms(variant, half_load.tokens) for variant in needed}
    half = np.where(use_graph, halves[needed[0]], halves[needed[-1]])
    moved = np.where(use_graph, exchange[needed[0]], exchange[needed[-1]])
    overlapped: FloatArray = 2 * np.maximum(half - moved, moved)
    return overlapped
