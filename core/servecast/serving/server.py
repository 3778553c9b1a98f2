"""One serving instance: a model on a layout under a framework's resolved settings, its KV capacity and step times."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, partial

from servecast.disk_cache import DiskCache, code_fingerprint, digest
from servecast.domain.framework import KnobMeaning, KnobValue
from servecast.domain.hardware import HardwareSpec
from servecast.domain.layout import ParallelLayout
from servecast.domain.target import Target
from servecast.domain.workload import LengthDistribution, Workload
from servecast.errors import InputError
from servecast.host.host import PluginHost
from servecast.models.graph import GraphOptions
from servecast.models.layout_check import check_layout
from servecast.models.memory import GIB, KvCapacity, kv_capacity, max_sequences, stage_memory, visible_memory_bytes
from servecast.models.model import Model
from servecast.serving.policy import PolicyContext, SchedulerSettings, ServerRole
from servecast.serving.step_time import TABLE_TOKENS, StepLimits, StepTables, StepTimeModel, tabulate_steps


class StepTableCache:
    """Step tables already built: in memory by the model's identity (so the cache must not outlive the models it
    saw), and in `disk` across runs by what the tables follow from: servecast's and the loaded plugins' files, the
    model, the layout and target, the host's user calibration, the launch cost, the limits and the graph options."""

    def __init__(self, disk: DiskCache | None = None) -> None:
        self._tables: dict[tuple[object, ...], StepTables] = {}
        self._models: dict[int, str] = {}
        self._disk = disk if disk is not None else DiskCache(None)

    def tables(
        self,
        host: PluginHost,
        model: Model,
        layout: ParallelLayout,
        target: Target,
        kernel_launch_us: float,
        limits: StepLimits,
        options: GraphOptions,
    ) -> StepTables:
        key = (id(model), layout, target, kernel_launch_us, limits, options)
        if key not in self._tables:
            if id(model) not in self._models:
                self._models[id(model)] = digest(model)
            lasting = (code_fingerprint(), self._models[id(model)], *key[1:], host.user_calibration)
            estimator_for = partial(host.op_estimator, target=target)
            self._tables[key] = self._disk.fetch(
                "step-tables",
                lasting,
                partial(tabulate_steps, model, layout, estimator_for, kernel_launch_us, limits, options),
            )
        return self._tables[key]


@dataclass(frozen=True)
class Server:
    """Everything the serving models need about one instance (all its GPUs together)."""

    model: Model
    layout: ParallelLayout
    role: ServerRole
    settings: SchedulerSettings
    capacity: KvCapacity
    steps: StepTimeModel
    workload: Workload
    max_model_len: int
    """The longest request the server accepts: the model's context, or the launch's lower limit."""

    @property
    def gpus(self) -> int:
        return self.layout.gpus

    @property
    def cached_prefix(self) -> int:
        """Prompt tokens a request finds in the prefix cache on average (the shared prefix, at the workload's hit
        rate, when the server caches prefixes): the means price each request at that average."""
        if not self.settings.prefix_caching:
            return 0
        return round(self.workload.prefix_tokens * self.workload.prefix_hit_rate)

    @property
    def cached_prefix_on_hit(self) -> int:
        """Prompt tokens a request that hits the prefix cache finds there (the simulation draws hits one by one)."""
        return self.workload.prefix_tokens if self.settings.prefix_caching else 0

    @property
    def kv_tokens(self) -> int:
        """Tokens of KV cache the instance holds, over all attention-DP ranks."""
        return self.capacity.kv_capacity_tokens * self.layout.attention_dp

    def check_prompts_fit_the_budget(self, longest_input: int | None = None) -> None:
        """An InputError when the longest prompt (the workload's, or `longest_input`, a trace's) exceeds the token
        budget with chunked prefill off: the framework would never schedule it."""
        settings, workload = self.settings, self.workload
        mean = workload.input_tokens - self.cached_prefix
        longest = min(longest_input or workload.longest_input, self.max_model_len - 1) - self.cached_prefix
        if not settings.chunked_prefill and longest > settings.max_num_tokens:
            varying = "" if longest == mean else " (the longest the lengths reach)"
            raise InputError(
                f"prompts of {longest} tokens{varying} exceed the token budget max_num_tokens="
                f"{settings.max_num_tokens} and chunked prefill is off, so the framework never schedules them",
                "raise max_num_tokens, enable chunked prefill, or shorten the prompts (isl, length spread)",
            )

    def sequences_that_fit(self, held_tokens: float) -> int:
        """Sequences holding `held_tokens` KV tokens each that fit at once (sliding-window layers capped)."""
        block = self.settings.memory.block_size
        return max_sequences(self.layout, self.capacity, math.ceil(held_tokens), block)

    @cached_property
    def batch_limit(self) -> int:
        """Most sequences one iteration may carry: the max batch size, lowered by the framework's run-time tuning."""
        tune = self.settings.runtime_batch_size
        if tune is None:
            return self.settings.max_batch_size
        return max(1, min(self.settings.max_batch_size, tune(self.whole_requests)))

    @cached_property
    def whole_requests(self) -> int:
        """Requests whose prompts and outputs all fit in the KV cache at once: more in flight, and a framework that
        allocates outputs as they grow runs out before they finish and preempts."""
        return self.sequences_that_fit(self.workload.input_tokens - self.cached_prefix + self.workload.output_tokens)

    @cached_property
    def running_limit(self) -> int:
        """Most sequences running at once: the batch limit, or the KV cache under the framework's admission rule."""
        workload = self.workload
        held = (
            workload.input_tokens
            - self.cached_prefix
            + workload.output_tokens * ((1 + self.settings.kv_output_reservation) / 2)
        )
        return min(self.batch_limit, self.sequences_that_fit(held))

    @cached_property
    def preemption_threshold(self) -> int | None:
        """Requests in flight beyond which the framework preempts: the requests the KV cache holds whole, where it
        allocates outputs as they grow and may run more; None where it never preempts (it reserves every output
        on admission, or its batch limit stays within the cache)."""
        if self.settings.kv_output_reservation >= 1 or self.whole_requests >= self.batch_limit:
            return None
        return self.whole_requests

    @cached_property
    def preemption_free_limit(self) -> int:
        """The running limit, capped at the preemption threshold: the most requests in flight that never preempt.
        A disaggregated decode worker is offered no more: past it the worker admits transferred requests into room
        their outputs later need, preempts and recomputes them; in the simulation that cost 12-25 % of throughput
        against a batch limit at the threshold, which the disaggregated means do not price."""
        threshold = self.preemption_threshold
        return self.running_limit if threshold is None else max(1, min(self.running_limit, threshold))

    @cached_property
    def front_end_work_ms(self) -> float:
        """The front-end process's time for one online request: tokenizing its prompt and streaming its tokens."""
        settings, workload = self.settings, self.workload
        return settings.tokenize_ms(workload.input_tokens) + settings.stream_token_us / 1000.0 * workload.output_tokens

    @cached_property
    def concurrency_limit(self) -> int:
        """Most closed-loop users whose steady state the means follow: the running limit, but for users in step
        the preemption-free limit. Users in step beyond it preempt in bursts: in the simulation throughput stops
        growing there while TTFT rises 4-10 times by the running limit, which the means do not show."""
        if self.workload.users_in_step:
            return self.preemption_free_limit
        return self.running_limit

    def outgrowing(self, in_flight: float, what: str, consequence: str) -> str:
        """A warning where `in_flight` `what` outgrow the KV cache and the framework preempts them, ending with the
        `consequence` for the means ("" where it does not: the cache holds them whole, or the framework reserves
        every output on admission)."""
        whole = self.preemption_threshold
        if whole is None or in_flight <= whole:
            return ""
        workload = self.workload
        return (
            f"{in_flight:.0f} {what} outgrow the KV cache, which holds {whole} whole "
            f"{workload.input_tokens}+{workload.output_tokens}-token requests: the framework allocates outputs as "
            f"they grow and preempts requests (recomputing them) when it runs out{consequence}"
        )

    @cached_property
    def recomputed_prompt_tokens(self) -> float:
        """Prompt tokens prefilled again per completed request while waiting requests fill a full KV cache.

        A completion frees its prompt and outputs; the framework admits waiting requests into that room by what
        they hold on admission (the prompt and the reserved share r of the outputs), (p + o) / (p + r o) of them,
        while the running sequences grow into the same room. All but one of them are preempted again, newest
        first, soon after their prompts ran: (1 - r) o / (p + r o) wasted prefills of p tokens per completion.
        None when the framework reserves every output up front (r = 1).
        """
        reservation = self.settings.kv_output_reservation
        prompt = self.workload.input_tokens - self.cached_prefix
        outputs = self.workload.output_tokens
        return max(1.0 - reservation, 0.0) * outputs / (prompt + reservation * outputs) * prompt

    @cached_property
    def kv_bytes_per_request(self) -> float:
        """Bytes of one request's whole KV cache (every layer, unsplit): what disaggregation moves."""
        tokens = self.workload.input_tokens
        return float(
            sum(
                stage.kv_bytes_per_token * tokens
                + stage.window_kv_bytes_per_token * min(tokens, stage.window or tokens)
                for stage in stage_memory(self.model, ParallelLayout())
            )
        )

    def memory_breakdown(self) -> dict[str, object]:
        capacity = self.capacity
        return {
            "gpu_bytes": capacity.total_bytes,
            "weight_bytes": capacity.weight_bytes,
            "activation_bytes": capacity.activation_bytes,
            "overhead_bytes": capacity.overhead_bytes,
            "kv_cache_bytes": capacity.kv_cache_bytes,
            "kv_cache_tokens": self.kv_tokens,
            "fraction": {"meaning": self.settings.memory.meaning.value, "value": self.settings.memory.fraction},
        }


def check_context(model: Model, workload: Workload, max_model_len: int | None = None) -> int:
    """The longest request the server accepts (the model's context unless `max_model_len` lowers it); an
    InputError when that exceeds the context or the workload's requests are longer."""
    context = model.architecture.max_position_embeddings
    if max_model_len is not None and max_model_len > context:
        raise InputError(
            f"max_model_len={max_model_len:,} exceeds the {context:,}-token context of {model.model_id}",
            f"give at most {context:,}, or leave it out to take the model's context",
        )
    limit = max_model_len or context
    if workload.input_tokens + workload.output_tokens > limit:
        where = f"max_model_len={limit:,}" if max_model_len else f"the {limit:,}-token context of {model.model_id}"
        raise InputError(
            f"requests of {workload.input_tokens} + {workload.output_tokens} tokens exceed {where}",
            "shorten the input or output length" + (", or raise --max-model-len" if max_model_len else ""),
        )
    return limit


def build_server(
    host: PluginHost,
    model: Model,
    hardware: HardwareSpec,
    target: Target,
    layout: ParallelLayout,
    workload: Workload,
    role: ServerRole = ServerRole.AGGREGATED,
    overrides: Mapping[KnobMeaning, KnobValue] | None = None,
    table_cache: StepTableCache | None = None,
) -> Server:
    """Resolve the framework's settings for this instance, check it fits, and tabulate its step times (or take
    them from `table_cache`, which must not outlive `model`: servers differing only in budgets share tables)."""
    check_layout(model.model_id, model.architecture, layout)
    limit = (overrides or {}).get(KnobMeaning.MAX_MODEL_LEN)
    max_model_len = check_context(model, workload, limit if isinstance(limit, int) else None)
    context = PolicyContext(hardware, layout, workload, max_model_len, role)
    settings = host.scheduler(target).settings(context, overrides)
    visible = visible_memory_bytes(hardware.gpu.memory_bytes)
    capacity = kv_capacity(model, layout, visible, settings.memory, hardware.node.nvswitch)
    longest = min(workload.longest_request, max_model_len)
    cached = workload.prefix_tokens if settings.prefix_caching else 0
    if max_sequences(layout, capacity, longest - cached, settings.memory.block_size) < 1:
        raise InputError(
            f"one request of {longest} tokens{_drawn(workload)} does not fit the KV cache of {model.model_id} "
            f"on layout {layout}: "
            f"{capacity.kv_cache_bytes / GIB:.2f} GiB per GPU holds "
            f"{capacity.kv_capacity_tokens * layout.attention_dp:,} tokens",
            "use more GPUs per instance, a smaller quantization or KV-cache dtype, or shorter requests",
        )
    ranks = settings.budget_ranks  # the tables hold one attention-DP rank's share of a step
    limits = StepLimits(
        tokens=max(
            settings.max_num_tokens // ranks, settings.max_batch_size // ranks, workload.longest_input, TABLE_TOKENS
        ),
        decodes=max(settings.max_batch_size // ranks, 1),
        kv_len=longest,
    )
    options = GraphOptions(moe_all_to_all=settings.moe_all_to_all)
    cache = table_cache if table_cache is not None else StepTableCache()
    tables = cache.tables(host, model, layout, target, settings.kernel_launch_us, limits, options)
    steps = StepTimeModel(tables, settings)
    return Server(model, layout, role, settings, capacity, steps, workload, max_model_len)


def _drawn(workload: Workload) -> str:
    """Says, in an error, that the request is the longest the length distribution draws."""
    if workload.length_distribution is LengthDistribution.FIXED:
        return ""
    return f" (the longest the {workload.length_distribution.value} length distribution draws)"
