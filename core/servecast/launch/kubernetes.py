"""What the Kubernetes targets share: resource names, the model as a Hub id, one pod template per worker group (the
process its head node runs, its GPUs, environment and probes), and a benchmark run through a port-forward to the
frontend.

Every pod of a worker group runs the same server, so a group is written once with its replica count; the shell
target's per-process details that a pod does not need (host, port, `CUDA_VISIBLE_DEVICES`, per-host side-channel
ports) are left to the platform.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servecast.domain.vocabulary import GpuVendor
from servecast.errors import InputError
from servecast.launch.artifacts import Deployment, Endpoint, LaunchArtifacts, RoleLaunch, WorkerGroup, WorkerRole
from servecast.launch.containers import HEALTH_PATH, container_env, plain_argv, without_options
from servecast.launch.placement import FRONTEND_PORT, place
from servecast.launch.shell import benchmark_script

NAME_LIMIT = 40
"""Resource names stay this short: the platforms derive child names (services, pools, pods) by adding suffixes, and
Kubernetes names end at 63 characters."""
POD_LOCAL_ENV = ("VLLM_NIXL_SIDE_CHANNEL_PORT",)
"""Variables the shell target sets only to keep co-located processes apart; each pod has its own address."""
GPU_RESOURCE = {GpuVendor.NVIDIA: "nvidia.com/gpu", GpuVendor.AMD: "amd.com/gpu"}
"""The extended resource the vendor's device plugin advertises."""
WORKER_NAMES = {WorkerRole.AGGREGATED: "an aggregated", WorkerRole.PREFILL: "a prefill", WorkerRole.DECODE: "a decode"}
STARTUP_SECONDS = 1800
"""How long a server may load weights and capture CUDA graphs before its startup probe gives up."""


@dataclass(frozen=True)
class PodWorker:
    """One worker group as a pod template: the group, the process its first worker's head node runs, and how many
    nodes (pods) one worker spans."""

    group: WorkerGroup
    role: RoleLaunch
    nodes: int

    @property
    def gpus_per_pod(self) -> int:
        return self.group.layout.gpus // self.nodes


def resource_name(deployment: Deployment) -> str:
    """A DNS-1123 name for the deployment: the model's short name, the framework and the mode."""
    model = deployment.model.rstrip("/").rsplit("/", 1)[-1].lower()
    words = re.sub(r"[^a-z0-9]+", "-", f"{model}-{deployment.framework}-{deployment.mode.value}").strip("-")
    return words[:NAME_LIMIT].rstrip("-") or "servecast"


def vllm_only(deployment: Deployment, platform: str) -> None:
    """An InputError unless the deployment runs vLLM, the only framework `platform` serves."""
    if deployment.framework != "vllm":
        raise InputError(
            f"{platform} runs vLLM, not {deployment.framework}",
            "use --framework vllm, or --target dynamo (vLLM, SGLang and TensorRT-LLM) or shell",
        )


def hub_model(deployment: Deployment, target: str) -> str:
    """The Hugging Face id the cluster downloads; an InputError for a local folder, which pods cannot read."""
    if Path(deployment.model).is_absolute():
        raise InputError(
            f"the {target} target loads the model from the Hugging Face Hub; {deployment.model!r} is a local folder",
            "give --model as a Hub id (org/name), or use --target shell or compose for a local checkpoint",
        )
    return deployment.model


def pod_workers(
    deployment: Deployment, artifacts: LaunchArtifacts, target: str, multinode: bool = False
) -> list[PodWorker]:
    """Each worker group once, with the process its first worker runs on its head node; an InputError for a worker
    spanning nodes unless the target places such workers (`multinode`)."""
    placements = place(deployment)
    roles = {role.role: role for role in artifacts.roles}
    workers = []
    for group in deployment.workers:
        first = next(placement for placement in placements if placement.group is group and placement.index == 0)
        if first.nodes > 1 and not multinode:
            raise InputError(
                f"{WORKER_NAMES[group.role]} worker of {deployment.framework} spans {first.nodes} nodes "
                f"({group.layout.gpus} GPUs, {deployment.gpus_per_node} per node), and the {target} target writes "
                "workers of one node",
                "use --target shell or dynamo for multi-node workers, or a layout of at most one node per worker",
            )
        head = roles.get(first.name) or roles[f"{first.name}-node0"]  # SGLang names each node's process
        workers.append(PodWorker(group, head, first.nodes))
    return workers


def server_arguments(
    role: RoleLaunch, command_words: int, target: str, drop: Collection[str], switches: Collection[str] = ()
) -> list[str]:
    """The role's arguments after its command and model (`command_words` items), without the `drop` flags and
    their values and the `switches`, as plain text."""
    kept = [item for item in without_options(role.argv[command_words:], drop) if item not in switches]
    return plain_argv(kept, target)


def pod_env(role: RoleLaunch, *, nixl: bool = False) -> list[dict[str, Any]]:
    """The container's environment: the role's own (without what the shell target sets per process), and for a
    NIXL KV transfer the pod's IP as the side-channel host (peers reach it there, not at localhost)."""
    env: list[dict[str, Any]] = [
        {"name": name, "value": value}
        for name, value in sorted(container_env(role).items())
        if name not in POD_LOCAL_ENV
    ]
    if nixl:
        env.append({"name": "VLLM_NIXL_SIDE_CHANNEL_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
    return env


def gpu_resources(deployment: Deployment, gpus: int) -> dict[str, Any]:
    """Requests and limits of `gpus` GPUs of the deployment's vendor."""
    resource = {GPU_RESOURCE[deployment.gpu_vendor]: str(gpus)}
    return {"limits": dict(resource), "requests": dict(resource)}


PRODUCT_LABEL = "nvidia.com/gpu.product"
"""The node label NVIDIA's GPU feature discovery sets to the driver's GPU name, spaces as dashes."""


def node_selector(deployment: Deployment, group: WorkerGroup) -> dict[str, str] | None:
    """Where a mixed deployment's pool must run: nodes whose GPU is its system's (None for a deployment on one
    system, which any GPU node of the cluster may run)."""
    if not deployment.mixed:
        return None
    product = group.gpu_product or deployment.gpu_product
    if product is None:
        raise InputError(
            f"the {group.role.value} pool runs on {group.hardware or deployment.hardware}, whose spec names no GPU "
            "product to select its nodes by",
            "add gpu.device_name to the system's spec, or use --target shell",
        )
    return {PRODUCT_LABEL: product.replace(" ", "-")}


def http_probes(port: int | str) -> dict[str, Any]:
    """Startup, readiness and liveness probes on the server's health endpoint."""
    check = {"httpGet": {"path": HEALTH_PATH, "port": port}}
    return {
        "startupProbe": {**check, "periodSeconds": 10, "failureThreshold": STARTUP_SECONDS // 10},
        "readinessProbe": {**check, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**check, "periodSeconds": 10, "failureThreshold": 6},
    }


def is_disaggregated(deployment: Deployment) -> bool:
    return any(group.role is not WorkerRole.AGGREGATED for group in deployment.workers)


def frontend_benchmark(artifacts: LaunchArtifacts, port_forward: str) -> str:
    """`benchmark.sh` with every client sent to the frontend at localhost:8000 (each client keeps its share of the
    users, so together they hold the simulated concurrency), once `port_forward` exposes it there."""
    clients = tuple(_to_frontend(argv, artifacts.endpoints) for argv in artifacts.benchmark)
    frontend = artifacts.model_copy(
        update={"benchmark": clients, "endpoints": (Endpoint(port=FRONTEND_PORT),), "variables": {}}
    )
    script = benchmark_script(frontend)
    return script.replace("set -euo pipefail\n", f"# First expose the frontend: {port_forward}\nset -euo pipefail\n", 1)


def _to_frontend(argv: tuple[str, ...], endpoints: tuple[Endpoint, ...]) -> tuple[str, ...]:
    hosts = {f"http://{endpoint.host}:{endpoint.port}" for endpoint in endpoints} | {"http://localhost:8000"}
    ports = {str(endpoint.port) for endpoint in endpoints}
    items = list(argv)
    for index, item in enumerate(items):
        previous = items[index - 1] if index else ""
        if item in hosts:
            items[index] = f"http://localhost:{FRONTEND_PORT}"
        elif previous == "--host":
            items[index] = "localhost"
        elif previous == "--port" and item in ports:
            items[index] = str(FRONTEND_PORT)
    return tuple(items)
