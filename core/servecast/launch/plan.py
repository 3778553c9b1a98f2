"""From one simulated configuration to the deployment that launches it: the worker groups, their layouts and the
knob values of the servers the simulation resolved, at the simulated batch."""

from __future__ import annotations

import math
from dataclasses import dataclass

from servecast.domain.framework import FrameworkVersion
from servecast.domain.hardware import HardwareSpec
from servecast.domain.layout import ParallelLayout
from servecast.domain.vocabulary import GpuVendor, ServingMode
from servecast.host.host import PluginHost
from servecast.launch.artifacts import Deployment, WorkerGroup, WorkerRole
from servecast.launch.checkpoint import launched_model, load_time_quantization
from servecast.launch.knobs import concept_values, knob_values
from servecast.models.memory import stage_memory
from servecast.serving.estimate import Estimate, estimate
from servecast.serving.request import EstimateRequest
from servecast.serving.server import Server


@dataclass(frozen=True)
class LaunchPlan:
    """A configuration as launched: the request re-estimated at the launched batch limit, and its deployment."""

    request: EstimateRequest
    estimate: Estimate
    deployment: Deployment
    version: FrameworkVersion
    user_image: str | None = None
    """The image the user named (`--image`), None for the framework version's own."""
    warnings: tuple[str, ...] = ()


def simulated_batch(request: EstimateRequest, server: Server) -> int | None:
    """The most sequences one aggregated or static instance runs at the request's operating point (None under an
    open-loop rate, whose running batch fluctuates around its mean: the framework's limit stays)."""
    if request.batch_size is not None:
        return request.batch_size
    if request.concurrency is not None:
        return min(math.ceil(request.concurrency / request.replicas), server.running_limit)
    return None


def plan_launch(host: PluginHost, request: EstimateRequest, image: str | None = None) -> LaunchPlan:
    """The deployment of `request`: aggregated and static instances get the simulated batch as their batch limit
    (and are re-estimated with it, so the predicted metrics are those of exactly what is launched); decode workers
    get the simulated decode batch, prefill workers their framework's limit with the simulated token budget. The
    deployment loads the model the user named (not the id its config calls itself), with a quantization to apply
    only where the checkpoint is not already in the simulated one, and runs in `image` (by default the version's
    own)."""
    result = estimate(host, request)
    if request.mode is not ServingMode.DISAGGREGATED and request.max_batch_size is None:
        server = result.servers["server"]
        batch = simulated_batch(request, server)
        if batch is not None and batch < server.settings.max_batch_size:
            ranks = server.settings.budget_ranks  # the knob is each attention-DP rank's where the framework's is
            request = request.model_copy(update={"max_batch_size": -(-batch // ranks)})
            result = estimate(host, request)
    version = host.framework_version(request.framework, result.framework_version)
    prefix = request.prefix

    def group(role: WorkerRole, server: Server, replicas: int, batch: int) -> WorkerGroup:
        knobs = knob_values(version, concept_values(server.settings, batch, prefix))
        system_name = request.system_of(role.value if role is not WorkerRole.AGGREGATED else "")
        placed: dict[str, object] = {}
        if system_name != request.system:  # a pool on a system of its own
            own = host.hardware.get(system_name)
            placed = {"hardware": own.name, "gpus_per_node": own.node.gpus_per_node, "gpu_product": own.gpu.device_name}
        return WorkerGroup(role=role, layout=server.layout, replicas=replicas, knobs=knobs, **placed)

    workers: tuple[WorkerGroup, ...]
    if request.mode is ServingMode.DISAGGREGATED:
        prefill, decode = result.servers["prefill"], result.servers["decode"]
        decode_batch = request.decode_batch_size or decode.settings.max_batch_size
        workers = (
            group(WorkerRole.PREFILL, prefill, request.prefill_workers, prefill.settings.max_batch_size),
            group(WorkerRole.DECODE, decode, request.decode_workers, decode_batch),
        )
    else:
        server = result.servers["server"]
        workers = (group(WorkerRole.AGGREGATED, server, request.replicas, server.settings.max_batch_size),)
    quantization, warnings = load_time_quantization(request.model, request.quant)
    if request.moe_quant is not None:
        warnings.append(
            f"the routed experts were simulated in {request.moe_quant.value} (--moe-quant), which no launch flag "
            "selects: launch a checkpoint whose experts are quantized so, or the server runs them as the checkpoint "
            "stores them"
        )
    system = host.hardware.get(request.system)
    deployment = Deployment(
        model=launched_model(request.model),
        hardware=request.system,
        framework=request.framework,
        framework_version=result.framework_version,
        mode=request.mode,
        workers=workers,
        gpus_per_node=system.node.gpus_per_node,
        gpu_vendor=system.vendor,
        gpu_product=system.gpu.device_name,
        routed_experts=_routed_experts(result),
        quantization=quantization,
        kv_cache_dtype=request.kv_cache_dtype,
        workload=request.workload,
        concurrency=request.concurrency or (request.batch_size * request.replicas if request.batch_size else None),
        request_rate=request.request_rate,
        checkpoint_bytes=_checkpoint_bytes(result),
        image=image or _published_image(version, system),
    )
    return LaunchPlan(
        request=request,
        estimate=result,
        deployment=deployment,
        version=version,
        user_image=image,
        warnings=tuple(warnings),
    )


def _published_image(version: FrameworkVersion, system: HardwareSpec) -> str | None:
    """The framework version's own image where it runs on the system's GPUs (the images plugins cite are CUDA
    builds), else None."""
    if version.image is None or system.vendor is not GpuVendor.NVIDIA:
        return None
    return version.image.reference(version.version)


def _checkpoint_bytes(result: Estimate) -> int:
    """The estimated model's weights on one unsplit copy (what the deployment downloads and caches)."""
    model = next(iter(result.servers.values())).model
    return sum(stage.weight_bytes for stage in stage_memory(model, ParallelLayout()))


def _routed_experts(result: Estimate) -> int | None:
    """The estimated model's routed experts, None for a dense model."""
    moe = next(iter(result.servers.values())).model.architecture.moe
    return moe.num_experts if moe is not None else None
