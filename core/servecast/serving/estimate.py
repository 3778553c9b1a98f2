"""Estimate one configuration end to end: resolve the framework version, check the configuration can run, build
its servers and run the serving model of its mode (and, on request, the op breakdown and the simulation)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, cast

from servecast.disk_cache import DiskCache
from servecast.domain.candidate import Candidate
from servecast.domain.framework import FrameworkVersion, KnobMeaning, KnobValue
from servecast.domain.hardware import HardwareSpec
from servecast.domain.layout import ParallelLayout
from servecast.domain.quantization import SCHEMES
from servecast.domain.target import Target
from servecast.domain.vocabulary import ServingMode
from servecast.domain.workload import LengthDistribution
from servecast.errors import InputError
from servecast.estimate.roofline import uncalibrated_warning
from servecast.estimate.step import estimate_graph
from servecast.host.host import PluginHost
from servecast.json_text import strict
from servecast.models.graph import build_stage_graph
from servecast.models.model import Model, load_model
from servecast.models.step import StepShape
from servecast.ops.estimator import EstimateProvenance
from servecast.serving.aggregated import steady_state
from servecast.serving.disaggregated import Pool, disaggregated_steady_state, kv_transfer_ms
from servecast.serving.intervals import Interval, errors_for, prediction_intervals
from servecast.serving.load import Load
from servecast.serving.metrics import ServingMetrics
from servecast.serving.policy import ServerRole
from servecast.serving.request import EstimateRequest
from servecast.serving.server import Server, StepTableCache, build_server
from servecast.serving.simulation import simulate, simulate_disaggregated
from servecast.serving.static import static_batch
from servecast.serving.trace import Trace


@dataclass(frozen=True)
class Estimate:
    """The metrics of one configuration, with what the estimate rests on."""

    request: EstimateRequest
    framework_version: str
    metrics: ServingMetrics
    servers: dict[str, Server]
    warnings: tuple[str, ...]
    breakdown: dict[str, Any] | None = None
    percentiles: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    intervals: dict[str, Interval] = field(default_factory=dict)
    """Per metric, where the measurement is expected in 8 of 10 deployments (the model's out-of-sample errors)."""
    interval_basis: str = ""
    calibration: str | None = None
    """The user calibration the estimate used, in words (None: the shipped model)."""
    trace: dict[str, Any] | None = None
    """The request trace the estimate summarises (and with percentiles replays): `Trace.summary`."""

    @property
    def clients(self) -> str | None:
        """How the benchmark client drives closed-loop users, in words (None for other loads)."""
        if self.request.concurrency is None:
            return None
        return self.request.workload.describe_users(self.request.concurrency)

    def as_dict(self) -> dict[str, Any]:
        """The JSON document of `servecast estimate --json`."""
        result: dict[str, Any] = {}
        if self.request.id is not None:
            result["id"] = self.request.id
        result.update(self.metrics.as_dict())
        result["memory"] = {role: server.memory_breakdown() for role, server in self.servers.items()}
        result["framework_version"] = self.framework_version
        if self.clients is not None:
            result["clients"] = self.clients
        result["settings"] = self.settings
        result["warnings"] = list(self.warnings)
        result["intervals"] = {
            "basis": self.interval_basis,
            **{metric: interval.as_list() for metric, interval in self.intervals.items()},
        }
        result["calibration"] = self.calibration
        if self.breakdown is not None:
            result["breakdown"] = self.breakdown
        if self.percentiles is not None:
            result["percentiles"] = self.percentiles
        if self.trace is not None:
            result["trace"] = self.trace
        return result


class ServerCache:
    """Servers already built, shared by the rows of a batch that differ only in their load."""

    def __init__(self) -> None:
        self._servers: dict[tuple[object, ...], Server] = {}
        self._models: dict[tuple[object, ...], Model] = {}
        self.step_tables = StepTableCache(DiskCache.default())
        """Shared by this cache's servers; keyed by the identity of models this cache keeps alive."""

    @staticmethod
    def model_key(request: EstimateRequest) -> tuple[object, ...]:
        """What identifies the loaded model of a request."""
        return (request.model, request.quant, request.moe_quant, request.kv_cache_dtype)

    def model(self, host: PluginHost, request: EstimateRequest) -> Model:
        key = self.model_key(request)
        if key not in self._models:
            self._models[key] = load_model(
                request.model, host.architectures, request.quant, request.kv_cache_dtype, request.moe_quant
            )
        return self._models[key]

    def server(self, key: tuple[object, ...], build: Any) -> Server:
        if key not in self._servers:
            self._servers[key] = build()
        return self._servers[key]


def estimate(
    host: PluginHost,
    request: EstimateRequest,
    breakdown: bool = False,
    percentiles: bool = False,
    cache: ServerCache | None = None,
    trace: Trace | None = None,
) -> Estimate:
    """Estimate `request`; an InputError (what, why, what to do) when it cannot run or is not understood. With
    `percentiles` the simulation replays `trace` where one is given (`request` then carries its summary)."""
    cache = cache or ServerCache()
    hardware = host.hardware.get(request.system)
    release = request.framework_version or host.calibrated_release(request.system, request.framework)
    version, version_warning = host.nearest_framework_version(request.framework, release)
    warnings = [warning for warning in (version_warning, uncalibrated_warning(hardware)) if warning]
    target = Target(hardware=request.system, framework=request.framework, framework_version=version.version)
    model = cache.model(host, request)
    overrides = _overrides(version, request)
    roles = (
        {"prefill": ServerRole.PREFILL, "decode": ServerRole.DECODE}
        if request.mode is ServingMode.DISAGGREGATED
        else {"server": ServerRole.AGGREGATED}
    )
    servers: dict[str, Server] = {}
    systems: dict[str, HardwareSpec] = {}
    for name, role in roles.items():
        prefix = "" if role is ServerRole.AGGREGATED else name
        system = host.hardware.get(request.system_of(prefix))
        systems[name] = system
        if system.name != hardware.name:
            warnings += [warning for warning in (uncalibrated_warning(system),) if warning]
        role_target = target.model_copy(update={"hardware": system.name})
        layout = request.layout(prefix)
        server_overrides = {**overrides, **exchange_overrides(*request.exchange(prefix))}
        problems = runnable_problems(
            host, version, role_target, request.mode, model, layout, request.max_batch_size, request.max_num_tokens
        )
        if problems:
            raise InputError(
                f"{target.framework} {version.version} cannot run this configuration"
                + (f" on {system.name}" if system.name != hardware.name else "")
                + ": "
                + "; ".join(problems),
                "pick another framework version, layout, quantization or mode (`servecast frameworks show` "
                "lists them), or change what a plugin objects to",
            )
        key = (*ServerCache.model_key(request), system.name, version.version, layout, role)
        key += (request.workload, tuple(sorted(server_overrides.items())))
        build = partial(
            build_server, host, model, system, role_target, layout, request.workload, role, server_overrides
        )
        servers[name] = cache.server(key, partial(build, cache.step_tables))
    metrics = _run_mode(request, servers, systems)
    for server in servers.values():
        warnings += [f"{server.role.value} server: {note}" for note in server.settings.notes]
    warnings += metrics.warnings
    calibration = host.user_calibration
    covered = calibration is not None and host.user_calibration_covers(target)
    if calibration is not None and not covered:
        warnings.append(
            f"the calibration ({calibration.label}) does not cover {request.framework} {version.version} on "
            f"{request.system}: this estimate is the shipped model's"
        )
    errors = errors_for(host, target)
    result = Estimate(
        request=request,
        framework_version=version.version,
        metrics=metrics,
        servers=servers,
        warnings=tuple(warnings),
        settings={name: _settings_summary(server) for name, server in servers.items()},
        intervals=prediction_intervals(errors, request.mode.value, metrics),
        interval_basis=errors.basis,
        calibration=calibration.label if calibration is not None and covered else None,
    )
    if breakdown:
        result = _with_breakdown(result, host, target)
    if trace is not None:
        replay = "replayed request by request" if percentiles else "add --percentiles to replay it request by request"
        note = f"the means take the trace as random arrivals at its mean rate with its mean lengths; {replay}"
        result = replace(result, trace=trace.summary(), warnings=(*result.warnings, note))
    if percentiles:
        result = _with_percentiles(result, host, trace)
    elif trace is None and request.length_distribution is not LengthDistribution.FIXED:
        note = (
            "these means take isl and osl as the mean lengths; the distribution's shape enters the simulation "
            "only: add --percentiles"
        )
        result = replace(result, warnings=(*result.warnings, note))
    return result


def load_of(request: EstimateRequest) -> Load:
    """The load of one instance (or of the disaggregated deployment) as the serving models take it."""
    if request.concurrency is not None:
        return Load(concurrency=request.concurrency // request.replicas)
    if request.request_rate is not None:
        return Load(request_rate_per_s=request.request_rate / request.replicas)
    return Load(full_batch=request.batch_size)


def _pools(request: EstimateRequest, servers: dict[str, Server]) -> tuple[Pool, Pool]:
    """The prefill and decode pools of a disaggregated request."""
    decode = servers["decode"]
    decode_batch = request.decode_batch_size or decode.settings.max_batch_size
    return (
        Pool(servers["prefill"], request.prefill_workers, request.prefill_batch_size),
        Pool(decode, request.decode_workers, decode_batch),
    )


def _run_mode(request: EstimateRequest, servers: dict[str, Server], systems: dict[str, HardwareSpec]) -> ServingMetrics:
    """The serving metrics of the request's servers (`systems`: the system of each)."""
    if request.mode is ServingMode.DISAGGREGATED:
        prefill, decode = _pools(request, servers)
        return disaggregated_steady_state(prefill, decode, systems["prefill"], load_of(request), systems["decode"])
    if request.mode is ServingMode.STATIC:
        assert request.batch_size is not None
        instance = static_batch(servers["server"], request.batch_size)
    else:
        instance = steady_state(servers["server"], load_of(request))
    return instance.replicated(request.replicas)


def _overrides(version: FrameworkVersion, request: EstimateRequest) -> dict[KnobMeaning, KnobValue]:
    """Knob values the request sets, by meaning (the memory fraction in the version's own semantics)."""
    overrides: dict[KnobMeaning, KnobValue] = {}
    if request.memory_fraction is not None:
        for meaning in (
            KnobMeaning.GPU_MEMORY_FRACTION,
            KnobMeaning.STATIC_MEMORY_FRACTION,
            KnobMeaning.KV_CACHE_FREE_MEMORY_FRACTION,
        ):
            if version.knobs_for(meaning):
                overrides[meaning] = request.memory_fraction
    if request.max_batch_size is not None:
        overrides[KnobMeaning.MAX_BATCH_SIZE] = request.max_batch_size
    if request.max_num_tokens is not None:
        overrides[KnobMeaning.MAX_NUM_TOKENS] = request.max_num_tokens
    if request.max_model_len is not None:
        overrides[KnobMeaning.MAX_MODEL_LEN] = request.max_model_len
    if request.scheduler_steps is not None:
        if request.scheduler_steps > 1 and not version.knobs_for(KnobMeaning.SCHEDULER_STEPS):
            raise InputError(
                f"{request.framework} {version.version} has no multi-step scheduling "
                f"(scheduler_steps={request.scheduler_steps})",
                "leave --scheduler-steps out, or pick a version with a scheduler_steps knob "
                f"(`servecast frameworks show {request.framework}`)",
            )
        overrides[KnobMeaning.SCHEDULER_STEPS] = request.scheduler_steps
    return overrides


def exchange_overrides(all_to_all: bool | None, overlap: bool | None) -> dict[KnobMeaning, KnobValue]:
    """The MoE exchange a request or search point asks of one server, by knob meaning (nothing: the defaults)."""
    asked: dict[KnobMeaning, KnobValue] = {}
    if all_to_all is not None:
        asked[KnobMeaning.MOE_ALL_TO_ALL] = all_to_all
    if overlap is not None:
        asked[KnobMeaning.TWO_BATCH_OVERLAP] = overlap
    return asked


def runnable_problems(
    host: PluginHost,
    version: FrameworkVersion,
    target: Target,
    mode: ServingMode,
    model: Model,
    layout: ParallelLayout,
    max_batch_size: int | None = None,
    max_num_tokens: int | None = None,
) -> list[str]:
    """Every reason the framework version cannot run `model` on `layout` in `mode`: what it lacks, and what the
    plugins' candidate checks veto (empty when it can)."""
    capabilities = version.capabilities
    problems = []
    if mode not in capabilities.serving_modes:
        problems.append(f"no serving mode {mode.value!r} (it has: {_names(capabilities.serving_modes)})")
    missing = layout.modes - capabilities.parallel_modes
    if missing:
        problems.append(f"no parallelism {_names(missing)} (it has: {_names(capabilities.parallel_modes)})")
    quantization = model.quantization.name
    if quantization not in capabilities.quantizations:
        problems.append(f"no quantization {quantization.value!r} (it has: {_names(capabilities.quantizations)})")
    hardware = host.hardware.get(target.hardware)
    if hardware.vendor not in capabilities.vendors:
        problems.append(
            f"it runs on {_names(capabilities.vendors)} GPUs only, and {target.hardware} is {hardware.vendor.value}'s"
        )
    native = SCHEMES[quantization].native_dtype
    rates = hardware.gpu.dense_tensor_flops_per_s
    if quantization in capabilities.tensor_core_only and native is not None and native not in rates:
        problems.append(
            f"{quantization.value} runs only on {native.value} tensor cores, which {target.hardware} does not have "
            f"(its tensor cores: {_names(rates)})"
        )
    if model.kv_cache_dtype not in capabilities.kv_cache_dtypes:
        problems.append(
            f"no KV-cache dtype {model.kv_cache_dtype.value!r} (it has: {_names(capabilities.kv_cache_dtypes)})"
        )
    if problems:
        return problems
    candidate = Candidate(
        model=model.model_id,
        mode=mode,
        layout=layout,
        quantization=quantization,
        kv_cache_dtype=model.kv_cache_dtype,
        max_batch_size=max_batch_size,
        max_num_tokens=max_num_tokens,
    )
    return [f"vetoed: {veto.reason} (plugin {veto.plugin})" for veto in host.check_candidate(candidate, target)]


def _names(values: Any) -> str:
    return ", ".join(sorted(str(getattr(value, "value", value)) for value in values))


def _settings_summary(server: Server) -> dict[str, Any]:
    settings = server.settings
    return {
        "layout": str(server.layout),
        "gpus": server.gpus,
        "max_batch_size": settings.max_batch_size,
        "max_num_tokens": settings.max_num_tokens,
        "chunked_prefill": settings.chunked_prefill,
        "chunk_size": settings.chunk_size,
        "regime": settings.regime.value,
        "cuda_graph_max_batch": max(settings.cuda_graph_batch_sizes, default=None),
        "overlap_scheduler": settings.overlap_scheduler,
        "prefix_caching": settings.prefix_caching,
        "scheduler_steps": settings.scheduler_steps,
        "max_model_len": server.max_model_len,
        "running_limit": server.running_limit,
    }


def _with_breakdown(result: Estimate, host: PluginHost, target: Target) -> Estimate:
    """Per-op time shares (last pipeline stage, one attention-DP rank) of a prefill and a mean decode iteration, each
    server's ops on its own system."""
    workload = result.request.workload
    steps: dict[str, Any] = {}
    for name, server in result.servers.items():
        system = result.request.system_of("" if server.role is ServerRole.AGGREGATED else name)
        estimator_for = partial(host.op_estimator, target=target.model_copy(update={"hardware": system}))
        layout = server.layout
        decoders = max(1, math.ceil(result.metrics.running / layout.attention_dp / layout.pp))
        shapes = {
            "prefill": StepShape.prefill(workload.input_tokens - server.cached_prefix, past=server.cached_prefix),
            "decode": StepShape.decode(decoders, workload.input_tokens + workload.output_tokens // 2),
        }
        if server.role is ServerRole.PREFILL:
            del shapes["decode"]
        if server.role is ServerRole.DECODE:
            del shapes["prefill"]
        for step_name, shape in shapes.items():
            graph = build_stage_graph(server.model, layout, shape)
            step = estimate_graph(graph, estimator_for)
            total = float(step.total_ms[0])
            ops = [
                {
                    "op": timing.op.name,
                    "kind": timing.op.kind.value,
                    "ms": float(timing.total_ms[0]),
                    "share": float(timing.total_ms[0]) / total if total else 0.0,
                    "provenance": EstimateProvenance(timing.provenance[0]).label,
                    "source": timing.source or None,
                }
                for timing in step.timings
            ]
            shares = {level.label: float(v[0]) for level, v in step.provenance_shares().items() if v[0]}
            key = step_name if len(result.servers) == 1 else f"{name}.{step_name}"
            steps[key] = {"gpu_ms": total, "ops": ops, "provenance_shares": shares}
    return replace(result, breakdown=steps)


def _check_trace_fits(trace: Trace, servers: dict[str, Server]) -> None:
    """An InputError where the trace's longest prompt cannot be scheduled or its longest request does not fit one
    server's KV cache (the framework would reject or never finish it)."""
    longest = int((trace.input_tokens + trace.output_tokens).max())
    for role, server in servers.items():
        if role != "decode":
            server.check_prompts_fit_the_budget(int(trace.input_tokens.max()))
        if longest > server.max_model_len or server.sequences_that_fit(longest) < 1:
            raise InputError(
                f"{trace.source} holds a request of {longest:,} tokens, more than the {role} server's context "
                f"({server.max_model_len:,}) or KV cache holds",
                "use more GPUs per instance, a larger --max-model-len, or leave such requests out of the trace",
            )


FEW_REQUESTS = 100
"""Simulated requests below which a P99 is hardly more than the maximum."""


def _with_percentiles(result: Estimate, host: PluginHost, trace: Trace | None = None) -> Estimate:
    """P50/P90/P99 from the discrete-event simulation (aggregated and disaggregated modes), replaying `trace` where
    one is given."""
    request = result.request
    if trace is not None:
        trace = trace.replica(request.replicas)
        _check_trace_fits(trace, result.servers)
    if request.mode is ServingMode.STATIC:
        note = "--percentiles simulates continuous batching; a static batch's requests all share its one timeline"
        return replace(result, warnings=(*result.warnings, note))
    if request.mode is ServingMode.DISAGGREGATED:
        prefill, decode = _pools(request, result.servers)
        systems = (host.hardware.get(request.system_of(role)) for role in ("prefill", "decode"))
        transfer = kv_transfer_ms(prefill, decode, *systems)
        run = simulate_disaggregated(prefill, decode, transfer, load_of(request), request.num_requests, trace=trace)
    else:  # one replica, with its share of the run's requests (each user sends as many as in the whole run)
        share = None if request.num_requests is None else max(1, round(request.num_requests / request.replicas))
        run = simulate(result.servers["server"], load_of(request), share, trace=trace)
    warnings = result.warnings
    workload = request.workload
    if request.concurrency is not None and workload.length_distribution is LengthDistribution.FIXED:
        if not workload.users_in_step:
            warnings += (
                "the simulated users send equal lengths, so after their first requests they stay in step (waves), "
                "while the means take them to spread out: give --length-distribution uniform to simulate spread "
                "users, or --user-phase waves to make the means match",
            )
    if run.completed < FEW_REQUESTS:
        warnings += (
            f"the simulation completed only {run.completed} requests: its P90 and P99 are about their slowest ones; "
            f"give --num-requests {FEW_REQUESTS * 10} or more for settled tails",
        )
    summary: dict[str, Any] = run.percentiles()
    summary.update(
        requests_per_s=run.requests_per_s,
        throughput_tokens_per_s=run.output_tokens_per_s,
        simulated_requests=run.completed,
        iterations=run.iterations,
        preemptions=run.preemptions,
    )
    return replace(result, percentiles=cast(dict[str, Any], strict(summary)), warnings=warnings)
