"""The llm-d target: values for llm-d's model service Helm chart (llm-d-modelservice), vLLM only.

The chart runs `vllm serve` itself (`modelCommand: vllmServe`: the model, the port, the served name and the tensor
and data-parallel sizes from `parallelism`, which also sizes each pod's GPUs); the values give the rest of the shell
target's flags as `args`. Prefill and decode pools transfer the KV cache over NIXL, and each decode pod runs llm-d's
routing sidecar (connector `nixlv2`) in front of vLLM, which asks the prefill pod the inference scheduler picked.
The image is the vLLM release servecast modelled. The values are validated against the chart's values schema
snapshot, with unknown fields errors.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from servecast.errors import InputError
from servecast.launch.artifacts import Deployment, LaunchArtifacts, WorkerRole
from servecast.launch.containers import required_image, yaml_text
from servecast.launch.kubernetes import (
    PodWorker,
    frontend_benchmark,
    http_probes,
    hub_model,
    is_disaggregated,
    node_selector,
    pod_env,
    pod_workers,
    resource_name,
    server_arguments,
    vllm_only,
)
from servecast.launch.manifest_schema import ManifestSchema
from servecast.launch.plan import LaunchPlan
from servecast.launch.targets import TargetOutput

TARGET = "llm-d"
VALUES = "llm-d-values.yaml"
CHART_VERSION = "v0.4.12"
SIDECAR = "ghcr.io/llm-d/llm-d-routing-sidecar:v0.7.1"
"""The routing sidecar llm-d 0.6's guides pair with this chart line (the chart passes `--connector`, which the
sidecars built from llm-d-router 0.10 no longer take)."""
SERVICE_PORT = 8000
VLLM_PORT_BEHIND_SIDECAR = 8200
CHART_FLAGS = ("--host", "--port", "--tensor-parallel-size", "--data-parallel-size")
"""Flags the chart's `vllmServe` command sets itself from the values."""


def _check_layout(worker: PodWorker) -> None:
    layout = worker.group.layout
    if layout.pp > 1:
        raise InputError(
            f"the llm-d chart sizes a pod's GPUs as tensor x data parallelism, and this {worker.group.role.value} "
            f"worker is a pipeline of {layout.pp} stages",
            "use --target dynamo, kserve or shell, or a layout without pipeline parallelism",
        )


def _pool(deployment: Deployment, worker: PodWorker, image: str, disaggregated: bool) -> dict[str, Any]:
    layout = worker.group.layout
    behind_sidecar = disaggregated and worker.group.role is WorkerRole.DECODE
    port = VLLM_PORT_BEHIND_SIDECAR if behind_sidecar else SERVICE_PORT
    parallelism = {"tensor": layout.tp}
    if layout.attention_dp > 1:
        parallelism |= {"data": layout.attention_dp, "dataLocal": layout.attention_dp}
    container = {
        "name": "vllm",
        "image": image,
        "modelCommand": "vllmServe",
        "args": server_arguments(worker.role, 3, TARGET, CHART_FLAGS),
        "env": pod_env(worker.role, nixl=disaggregated),
        "ports": [{"containerPort": port, "name": "vllm", "protocol": "TCP"}],
        "mountModelVolume": True,
        **http_probes("vllm"),
    }
    pool = {"create": True, "replicas": worker.group.replicas, "parallelism": parallelism, "containers": [container]}
    selector = node_selector(deployment, worker.group)
    if selector:
        pool["nodeSelector"] = selector
    return pool


def llmd_values(plan: LaunchPlan, artifacts: LaunchArtifacts) -> dict[str, Any]:
    """The chart values of the deployment (an InputError for what the chart cannot express)."""
    deployment = plan.deployment
    vllm_only(deployment, "llm-d's model service")
    image = required_image(deployment, TARGET)
    model = hub_model(deployment, TARGET)
    disaggregated = is_disaggregated(deployment)
    workers = pod_workers(deployment, artifacts, TARGET)
    for worker in workers:
        _check_layout(worker)
    pools = {worker.group.role: _pool(deployment, worker, image, disaggregated) for worker in workers}
    size = max(10, -(-5 * (deployment.checkpoint_bytes or 0) // (4 * 2**30)))
    name = resource_name(deployment)
    return {
        "multinode": False,
        "accelerator": {"type": deployment.gpu_vendor.value},
        "modelArtifacts": {
            "uri": f"hf://{model}",
            "name": model,
            "size": f"{size}Gi",
            "labels": {"llm-d.ai/inference-serving": "true", "llm-d.ai/model": name},
        },
        "routing": {
            "servicePort": SERVICE_PORT,
            "proxy": {
                "enabled": disaggregated,
                "image": SIDECAR,
                "connector": "nixlv2",
                "targetPort": VLLM_PORT_BEHIND_SIDECAR,
                "secure": False,
            },
        },
        "decode": pools.get(WorkerRole.DECODE) or pools[WorkerRole.AGGREGATED],
        "prefill": pools.get(WorkerRole.PREFILL, {"create": False}),
    }


def llmd_files(plan: LaunchPlan, artifacts: LaunchArtifacts) -> TargetOutput:
    """`llm-d-values.yaml` and `benchmark.sh`, the values checked against the chart's values schema."""
    values = llmd_values(plan, artifacts)
    schema = ManifestSchema.shipped("llm-d-modelservice-values")
    schema.check(values, VALUES)
    name = resource_name(plan.deployment)
    header = (
        f"# Written by servecast for llm-d's model service chart {CHART_VERSION}:\n"
        f"#   helm install {name} llm-d-modelservice/llm-d-modelservice --version {CHART_VERSION} -f {VALUES}\n"
        "# (repository https://llm-d-incubation.github.io/llm-d-modelservice/), with llm-d's gateway and an\n"
        "# InferencePool (gateway-api-inference-extension chart) selecting the label llm-d.ai/model="
        f"{name}.\n# Gated models: set modelArtifacts.authSecretName to a Secret holding HF_TOKEN.\n"
    )
    files = {
        PurePosixPath(VALUES): header + yaml_text(values),
        PurePosixPath("benchmark.sh"): frontend_benchmark(
            artifacts, "kubectl port-forward svc/<your llm-d gateway> 8000:80"
        ),
    }
    return TargetOutput(files, checked_against=(schema.provenance,))
