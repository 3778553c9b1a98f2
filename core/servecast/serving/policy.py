"""A framework version's scheduling policy: the contract, the settings it resolves, and a knob-driven base class.

A framework plugin answers the scheduler hook with a `SchedulingPolicy`. Given where a server runs (the GPU, the
layout, the workload and its role), the policy resolves every budget the simulation needs into
`SchedulerSettings`, applying the framework's own run-time rules for the knobs whose default is decided at
start-up. Most plugins subclass `KnobSchedulingPolicy`, which reads the version's documented knob defaults and
`[versions.scheduling]` data, and override `runtime_default` for the rules their framework applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, Self, runtime_checkable

import numpy as np

from servecast.arrays import FloatArray
from servecast.domain.framework import (
    MEMORY_FRACTION_MEANINGS,
    FrameworkSpec,
    FrameworkVersion,
    Knob,
    KnobMeaning,
    KnobValue,
)
from servecast.domain.hardware import HardwareSpec
from servecast.domain.layout import ParallelLayout
from servecast.domain.target import Target
from servecast.domain.workload import Workload
from servecast.errors import InputError
from servecast.models.memory import GIB, MemoryPolicy


class ServerRole(StrEnum):
    """What a server does in a deployment (frameworks pick some defaults by role)."""

    AGGREGATED = "agg"
    PREFILL = "prefill"
    DECODE = "decode"


class SchedulingRegime(StrEnum):
    """How waiting prompts share the GPU with running decodes; every serving model branches on it."""

    MIXED = "mixed"
    """Prompt chunks ride next to the decodes in one iteration, in the token budget the decodes leave (in-flight
    batching: vLLM V1 and V0 with chunked prefill, TensorRT-LLM, SGLang's mixed chunks)."""
    PREFILL_FIRST = "prefill_first"
    """Waiting prompts run in prompt-only iterations that pause the decodes (SGLang, vLLM V0 without chunked
    prefill)."""


@dataclass(frozen=True)
class PolicyContext:
    """What a framework's run-time defaults depend on."""

    hardware: HardwareSpec
    layout: ParallelLayout
    workload: Workload
    max_model_len: int
    """The model's context length (frameworks size some budgets from it)."""
    role: ServerRole = ServerRole.AGGREGATED


@dataclass(frozen=True)
class SchedulerSettings:
    """Every budget and rule of one server, resolved to numbers, with how run-time defaults were chosen."""

    max_batch_size: int
    """Most sequences in one iteration (the framework's max_num_seqs / max_running_requests / max_batch_size)."""
    max_num_tokens: int
    """Most tokens (prefill + decode) in one iteration."""
    chunked_prefill: bool
    chunk_size: int | None
    """Largest prefill chunk per iteration; None: whatever the token budget leaves."""
    regime: SchedulingRegime
    kv_output_reservation: float
    cuda_graph_batch_sizes: tuple[int, ...]
    """Captured batch sizes, ascending; empty when the server runs without CUDA graphs."""
    graphs_cover_mixed_steps: bool
    overlap_scheduler: bool
    prefix_caching: bool
    memory: MemoryPolicy
    iteration_cpu_ms: float
    per_sequence_cpu_us: float
    kernel_launch_us: float
    kv_transfer_ms: float
    request_ms: float
    """Front-end time of an online request before the engine sees it (not paid by offline full batches)."""
    prompt_token_us: float = 0.0
    """Front-end tokenizing time per prompt token, serial in one front-end thread."""
    stream_token_us: float = 0.0
    """Front-end time per streamed output token, for every running stream."""
    async_output_processing: bool = False
    """Outputs processed while the next iteration runs, without an overlap scheduler (vLLM V0)."""
    moe_all_to_all: bool = False
    """Expert-parallel MoE layers under attention DP exchange tokens by all-to-all (else all-gather and
    reduce-scatter); False on layouts without both."""
    two_batch_overlap: bool = False
    """Steps run as two micro-batches, one's all-to-all hidden behind the other's compute."""
    budget_ranks: int = 1
    """Attention-DP ranks that each hold `max_batch_size / budget_ranks` and `max_num_tokens / budget_ranks` (the
    framework's knobs are per rank), or 1 where the knobs are the server's."""

    @property
    def delayed_output(self) -> bool:
        """Whether every token reaches its client a decode iteration after the one that sampled it: an overlap
        scheduler (SGLang, TensorRT-LLM's PyTorch backend, vLLM's async scheduling) processes an iteration's outputs
        while the next runs, as does vLLM V0's asynchronous output processor."""
        return self.overlap_scheduler or self.async_output_processing

    scheduler_steps: int = 1
    """Decode iterations per scheduling pass: CPU scheduling is paid once per pass and requests join and leave
    only between passes (multi-step scheduling); 1 schedules every iteration."""
    max_model_len: int | None = None
    """The longest request the server is launched to accept, when set below the model's context."""
    runtime_batch_size: Callable[[int], int] | None = None
    """Run-time batch tuning: maps the whole requests (prompt + output) the KV cache holds to the batch the
    framework runs, below `max_batch_size`; None when the framework runs up to `max_batch_size`."""
    notes: tuple[str, ...] = field(default=())

    def graph_size(self, tokens: int) -> int | None:
        """The captured size a step of `tokens` tokens is padded to; None when it runs without a graph."""
        for size in self.cuda_graph_batch_sizes:
            if size >= tokens:
                return size
        return None

    def front_end_ms(self, offline: bool, prompt_tokens: float = 0.0) -> float:
        """Front-end time a request of `prompt_tokens` pays: none for offline full batches, which bypass the
        serving front-end."""
        return 0.0 if offline else self.request_ms + self.tokenize_ms(prompt_tokens)

    def tokenize_ms(self, prompt_tokens: float) -> float:
        """The front-end thread's time tokenizing one prompt."""
        return prompt_tokens * self.prompt_token_us / 1000.0

    def stream_ms(self, streams: FloatArray, offline: bool) -> FloatArray:
        """Front-end time to pass one token of each of `streams` running requests to their clients: the shortest
        time per output token the clients can see (none offline)."""
        result: FloatArray = streams * (0.0 if offline else self.stream_token_us / 1000.0)
        return result

    def cpu_ms(self, sequences: FloatArray, prompts: FloatArray | float = 0.0) -> FloatArray:
        """CPU time of iterations of `sequences` sequences: prompt iterations schedule each time, decode-only
        iterations once per multi-step pass."""
        per_pass: FloatArray = self.iteration_cpu_ms + self.per_sequence_cpu_us * sequences / 1000.0
        if self.scheduler_steps == 1:  # every iteration schedules (the common case: no work on the hot path)
            return per_pass
        result: FloatArray = np.where(np.asarray(prompts) > 0, per_pass, per_pass / self.scheduler_steps)
        return result

    def prefill_tokens_per_step(self, decodes: FloatArray) -> FloatArray:
        """Prefill tokens an iteration can carry next to `decodes` decoding sequences (elementwise)."""
        mixed = self.regime is SchedulingRegime.MIXED
        return prefill_room(self.max_num_tokens, self.chunk_size or np.inf, mixed, decodes)


def prefill_room(
    max_num_tokens: FloatArray | float, chunk_size: FloatArray | float, mixed: bool, decodes: FloatArray
) -> FloatArray:
    """Prefill tokens an iteration can carry under a token budget and a chunk cap (inf: none), next to `decodes`
    decoding sequences when prompts share iterations with decodes (elementwise over all arrays)."""
    room = max_num_tokens - (decodes if mixed else 0 * decodes)
    result: FloatArray = np.maximum(np.minimum(room, chunk_size), 0)
    return result


@runtime_checkable
class SchedulingPolicy(Protocol):
    """How a framework version forms iterations on a target; returned by the scheduler hook."""

    @property
    def target(self) -> Target: ...

    def settings(
        self, context: PolicyContext, overrides: Mapping[KnobMeaning, KnobValue] | None = None
    ) -> SchedulerSettings:
        """The resolved budgets for a server in `context`; `overrides` replace knob values by meaning."""
        ...


Resolve = Callable[[KnobMeaning], KnobValue | None]
"""Looks up another concept's resolved value, so one run-time rule can depend on another."""

_FALLBACK_BUDGET = {KnobMeaning.MAX_NUM_TOKENS: 8192, KnobMeaning.MAX_BATCH_SIZE: 256}
"""Used only when a framework neither documents a value nor resolves it at run time (said in the notes)."""


class KnobSchedulingPolicy:
    """A policy read from a framework version's knobs and `[versions.scheduling]` table.

    Subclasses override `runtime_default` for knobs whose default the framework decides at start-up, and
    `mixed_prefill_decode` when mixing depends on other settings.
    """

    def __init__(self, target: Target, version: FrameworkVersion) -> None:
        if version.scheduling is None:
            raise InputError(
                f"{target.framework} {version.version} has no [versions.scheduling] table",
                "the framework plugin must describe its scheduler to be simulated",
            )
        self._target = target
        self.version = version
        self.behaviour = version.scheduling

    @classmethod
    def for_target(cls, spec: FrameworkSpec, target: Target) -> Self | None:
        """The policy of `spec`'s version on `target` (its newest without a version); None for another framework.

        What a plugin's scheduler hook returns: `return MyPolicy.for_target(my_spec, target)`.
        """
        if target.framework != spec.name:
            return None
        version = spec.version(target.framework_version) if target.framework_version else spec.latest
        return cls(target, version)

    @property
    def target(self) -> Target:
        return self._target

    def runtime_default(self, knob: Knob, context: PolicyContext, resolve: Resolve) -> KnobValue | None:
        """The value the framework picks at start-up for a knob with no static default (None: not modelled)."""
        return None

    def mixed_prefill_decode(self, context: PolicyContext, resolve: Resolve) -> bool:
        """Whether prefill tokens ride with decodes; by default the version's knob, else in-flight batching (yes)."""
        value = resolve(KnobMeaning.MIXED_PREFILL_DECODE)
        return True if value is None else bool(value)

    def regime(self, context: PolicyContext, resolve: Resolve) -> SchedulingRegime:
        """Mixed where prompts ride with decodes; otherwise prefill-first, which the version's scheduling table
        must declare (`prefill_priority`): a decode-first scheduler that never mixes is not modelled."""
        if self.mixed_prefill_decode(context, resolve):
            return SchedulingRegime.MIXED
        if self.behaviour.prefill_priority:
            return SchedulingRegime.PREFILL_FIRST
        raise InputError(
            f"{self.target.framework} {self.version.version} is configured not to mix prompts with decodes, and its "
            "scheduler runs decodes first (prefill_priority = false): that regime is not modelled",
            "leave prompts and decodes mixed (the framework's default), or model the version as prefill-first",
        )

    @property
    def sampler_profiled_apart(self) -> bool:
        """Whether the framework's start-up memory profile runs the sampler after the forward pass."""
        return False

    @property
    def nccl_nvls(self) -> bool:
        """Whether the framework leaves NCCL's NVLink SHARP (and its buffers on NVSwitch nodes) on."""
        return False

    def capture_sizes(self, context: PolicyContext, resolve: Resolve) -> tuple[int, ...]:
        """The batch sizes captured when the version lists none explicitly (override per framework)."""
        return ()

    def settings(
        self, context: PolicyContext, overrides: Mapping[KnobMeaning, KnobValue] | None = None
    ) -> SchedulerSettings:
        given = self._budget_overrides(dict(overrides or {}))
        notes: list[str] = []

        resolved: dict[KnobMeaning, KnobValue | None] = {}

        def concept(meaning: KnobMeaning) -> KnobValue | None:
            if meaning not in resolved:
                resolved[meaning] = self._concept(meaning, context, given, notes, concept)
            return resolved[meaning]

        def count(meaning: KnobMeaning) -> int:
            value = _positive(concept(meaning))
            if value is not None:
                return value
            fallback = _FALLBACK_BUDGET[meaning]
            notes.append(f"{meaning.value}: not resolved by the framework model; assumed {fallback}")
            return fallback

        chunked = bool(concept(KnobMeaning.CHUNKED_PREFILL) if self._has(KnobMeaning.CHUNKED_PREFILL) else True)
        chunk = concept(KnobMeaning.CHUNKED_PREFILL_SIZE)
        chunk_size = _positive(chunk)
        if chunk_size is None and self._has(KnobMeaning.CHUNKED_PREFILL_SIZE):
            chunked = False
        max_prefill = concept(KnobMeaning.MAX_PREFILL_TOKENS)
        if self._has(KnobMeaning.MAX_NUM_TOKENS):
            max_num_tokens = count(KnobMeaning.MAX_NUM_TOKENS)
        elif isinstance(max_prefill, int) and not isinstance(max_prefill, bool):
            max_num_tokens = min(max_prefill, chunk_size) if chunked and chunk_size else max_prefill
        else:
            max_num_tokens = count(KnobMeaning.MAX_NUM_TOKENS)
        if not chunked:
            chunk_size = None
        max_batch_size = count(KnobMeaning.MAX_BATCH_SIZE)
        graphs = concept(KnobMeaning.CUDA_GRAPH) if self._has(KnobMeaning.CUDA_GRAPH) else False
        sizes: tuple[int, ...] = ()
        if graphs:
            listed = concept(KnobMeaning.CUDA_GRAPH_BATCH_SIZES)
            if isinstance(listed, tuple):
                sizes = tuple(sorted(set(listed)))
            else:
                largest = concept(KnobMeaning.CUDA_GRAPH_MAX_BATCH_SIZE)
                sizes = tuple(
                    s for s in self.capture_sizes(context, concept) if not isinstance(largest, int) or s <= largest
                )
        overlap = concept(KnobMeaning.OVERLAP_SCHEDULER) if self._has(KnobMeaning.OVERLAP_SCHEDULER) else False
        prefix = concept(KnobMeaning.PREFIX_CACHING) if self._has(KnobMeaning.PREFIX_CACHING) else False
        block = concept(KnobMeaning.KV_CACHE_BLOCK_SIZE)
        steps = _positive(concept(KnobMeaning.SCHEDULER_STEPS)) or 1
        if steps > 1 and chunked:
            raise InputError(
                f"multi-step scheduling (scheduler_steps={steps}) runs without chunked prefill in "
                f"{self.target.framework} {self.version.version}, and this configuration turns chunked prefill on",
                "lower the context below the framework's long-context threshold (--max-model-len), or use one step",
            )
        memory = MemoryPolicy(
            meaning=self._memory_meaning(),
            fraction=self._memory_fraction(concept),
            max_num_tokens=max_num_tokens,
            max_batch_size=max_batch_size,
            cuda_graphs=bool(sizes),
            block_size=_positive(block) or 16,
            sampler_profiled_apart=self.sampler_profiled_apart,
            nccl_nvls=self.nccl_nvls,
        )
        all_to_all, overlap_batches = self._expert_exchange(context, given, concept)
        ranks = context.layout.attention_dp if self.behaviour.budgets_per_rank else 1
        overheads = self.behaviour.overheads
        return SchedulerSettings(
            max_batch_size=max_batch_size * ranks,
            max_num_tokens=max_num_tokens * ranks,
            budget_ranks=ranks,
            chunked_prefill=chunked,
            chunk_size=chunk_size,
            regime=self.regime(context, concept),
            kv_output_reservation=self.behaviour.kv_output_reservation,
            cuda_graph_batch_sizes=sizes,
            graphs_cover_mixed_steps=self.behaviour.graphs_cover_mixed_steps,
            overlap_scheduler=bool(overlap),
            async_output_processing=self.behaviour.async_output_processing,
            prefix_caching=bool(prefix),
            memory=memory,
            iteration_cpu_ms=overheads.iteration_cpu_ms.value,
            per_sequence_cpu_us=overheads.per_sequence_cpu_us.value,
            kernel_launch_us=overheads.kernel_launch_us.value,
            kv_transfer_ms=overheads.kv_transfer_ms.value,
            request_ms=overheads.request_ms.value,
            prompt_token_us=overheads.prompt_token_us.value if overheads.prompt_token_us else 0.0,
            stream_token_us=overheads.stream_token_us.value if overheads.stream_token_us else 0.0,
            scheduler_steps=steps,
            max_model_len=_positive(concept(KnobMeaning.MAX_MODEL_LEN)),
            moe_all_to_all=all_to_all,
            two_batch_overlap=overlap_batches,
            notes=tuple(notes),
        )

    def _expert_exchange(
        self, context: PolicyContext, given: Mapping[KnobMeaning, KnobValue], concept: Resolve
    ) -> tuple[bool, bool]:
        """Whether MoE tokens move by all-to-all, and whether two micro-batches overlap it: only where the layout
        has both attention DP and expert parallelism; an InputError for asking either of a layout or version that
        cannot."""
        layout = context.layout
        exchanges = layout.exchanges_tokens
        framework = f"{self.target.framework} {self.version.version}"
        if given.get(KnobMeaning.MOE_ALL_TO_ALL) is True and exchanges and layout.moe_tp > 1:
            raise InputError(
                f"an all-to-all sends each token to the ranks holding its whole experts, and layout {layout} splits "
                f"every expert over moe_tp={layout.moe_tp} ranks",
                f"give ep = tp x dp = {layout.tp * layout.attention_dp}, or leave the all-to-all out",
            )
        exchanges = exchanges and layout.moe_tp == 1
        for meaning, what in _EXCHANGES.items():
            if given.get(meaning) is True and not self._has(meaning):
                raise InputError(
                    f"{framework} has no {what}",
                    "leave it out, or pick a version that has it "
                    f"(`servecast frameworks show {self.target.framework}`)",
                )
            if given.get(meaning) is True and not exchanges:
                lacks = (
                    "no ep" if layout.ep == 1 else "no dp" if layout.attention_dp == 1 else "experts split by moe_tp"
                )
                raise InputError(
                    f"{what} needs attention data parallelism and whole experts on each expert-parallel rank "
                    f"(dp > 1, ep = tp x dp); layout {layout} has {lacks}",
                    "give --dp and --ep, or leave it out",
                )
        all_to_all = exchanges and self._has(KnobMeaning.MOE_ALL_TO_ALL) and bool(concept(KnobMeaning.MOE_ALL_TO_ALL))
        overlap = self._has(KnobMeaning.TWO_BATCH_OVERLAP) and bool(concept(KnobMeaning.TWO_BATCH_OVERLAP))
        if exchanges and not all_to_all and given.get(KnobMeaning.TWO_BATCH_OVERLAP) is True:
            raise InputError(
                f"two-batch overlap hides the MoE all-to-all, and this {framework} server all-gathers instead",
                "add --moe-all-to-all true (--prefill-/--decode-moe-all-to-all for a pool), or leave the overlap out",
            )
        return all_to_all, overlap and all_to_all

    def _budget_overrides(self, given: dict[KnobMeaning, KnobValue]) -> dict[KnobMeaning, KnobValue]:
        """Overrides with a token budget translated for versions without one budget knob (SGLang): there the
        iteration's prompt tokens are bounded by the chunk size and the prefill budget, so both take it."""
        budget = given.get(KnobMeaning.MAX_NUM_TOKENS)
        if budget is None or self._has(KnobMeaning.MAX_NUM_TOKENS):
            return given
        for meaning in (KnobMeaning.CHUNKED_PREFILL_SIZE, KnobMeaning.MAX_PREFILL_TOKENS):
            if self._has(meaning):
                given.setdefault(meaning, budget)
        return given

    def _has(self, meaning: KnobMeaning) -> bool:
        return bool(self.version.knobs_for(meaning))

    def _concept(
        self,
        meaning: KnobMeaning,
        context: PolicyContext,
        given: Mapping[KnobMeaning, KnobValue],
        notes: list[str],
        resolve: Resolve,
    ) -> KnobValue | None:
        """The value of `meaning`: an override, the knob's documented default, or the framework's run-time rule."""
        if meaning in given:
            return given[meaning]
        knobs = self.version.knobs_for(meaning)
        if not knobs:
            return None
        knob = knobs[0]
        value = knob.concept_value()
        if value is None:
            value = self.runtime_default(knob, context, resolve)
            if value is not None:
                value = knob.concept_value(value)
                notes.append(f"{knob.name} = {value!r} (the framework's start-up rule)")
        return value

    def _memory_meaning(self) -> KnobMeaning:
        for meaning in MEMORY_FRACTION_MEANINGS:
            if self._has(meaning):
                return meaning
        raise InputError(
            f"version {self.version.version} documents no memory-fraction knob", "fix the framework plugin"
        )

    def _memory_fraction(self, resolve: Resolve) -> float:
        meaning = self._memory_meaning()
        value = resolve(meaning)
        if not isinstance(value, float | int) or isinstance(value, bool) or not 0 < value <= 1:
            knob = self.version.knobs_for(meaning)[0]
            raise InputError(
                f"{knob.name} has no value the model can use ({value!r}): {knob.default_note}",
                "pass --memory-fraction with the value the server would take",
            )
        return float(value)


_EXCHANGES = {
    KnobMeaning.MOE_ALL_TO_ALL: "all-to-all MoE dispatch (--moe-all-to-all)",
    KnobMeaning.TWO_BATCH_OVERLAP: "two-batch overlap (--two-batch-overlap)",
}
"""How an error names what a user asked of the MoE exchange."""


def _positive(value: KnobValue | None) -> int | None:
    """A resolved count, or None when the knob is unset or not a positive integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def memory_gib(context: PolicyContext) -> float:
    """The GPU's memory in GiB, the unit frameworks' run-time rules are written in."""
    return context.hardware.gpu.memory_bytes / GIB
