"""The KServe target: an LLMInferenceService (serving.kserve.io/v1alpha1), vLLM only.

KServe's presets run `vllm serve` on the downloaded model with its served name, port and `--tensor-parallel-size`
from `parallelism.tensor`; the service's `main` container adds the rest of the shell target's flags as `args` and
runs the vLLM release servecast modelled (the presets' own image bundles another). A disaggregated deployment is
the decode pool at the top level and a `prefill` pool, the KV cache moving over NIXL (KServe adds no connector
itself) and llm-d's routing sidecar and scheduler in front of decode. The router is KServe's managed gateway route
and scheduler. The manifest is validated against the CRD's schema snapshot, with unknown fields errors.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from servecast.launch.artifacts import Deployment, LaunchArtifacts, WorkerRole
from servecast.launch.containers import required_image, yaml_text
from servecast.launch.kubernetes import (
    PodWorker,
    frontend_benchmark,
    gpu_resources,
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

TARGET = "kserve"
MANIFEST = "kserve.yaml"
PRESET_FLAGS = ("--host", "--port", "--tensor-parallel-size")
"""Flags KServe's vLLM presets set themselves."""
NON_ROOT_USER = 1000
"""The presets run the container as a non-root user; vLLM's image defaults to root, so it is given one."""


def _workload(deployment: Deployment, worker: PodWorker, image: str, disaggregated: bool) -> dict[str, Any]:
    layout = worker.group.layout
    container = {
        "name": "main",
        "image": image,
        "args": server_arguments(worker.role, 3, TARGET, PRESET_FLAGS),
        "env": pod_env(worker.role, nixl=disaggregated),
        "resources": gpu_resources(deployment, worker.gpus_per_pod),
        "securityContext": {"runAsNonRoot": True, "runAsUser": NON_ROOT_USER},
    }
    template: dict[str, Any] = {"containers": [container]}
    selector = node_selector(deployment, worker.group)
    if selector:
        template["nodeSelector"] = selector
    return {"replicas": worker.group.replicas, "parallelism": {"tensor": layout.tp}, "template": template}


def kserve_manifest(plan: LaunchPlan, artifacts: LaunchArtifacts) -> dict[str, Any]:
    """The LLMInferenceService of the deployment (an InputError for what KServe's vLLM presets cannot run)."""
    deployment = plan.deployment
    vllm_only(deployment, "KServe's LLMInferenceService")
    image = required_image(deployment, TARGET)
    model = hub_model(deployment, TARGET)
    disaggregated = is_disaggregated(deployment)
    workloads = {
        worker.group.role: _workload(deployment, worker, image, disaggregated)
        for worker in pod_workers(deployment, artifacts, TARGET)
    }
    spec: dict[str, Any] = {"model": {"uri": f"hf://{model}", "name": model}}
    spec |= workloads.get(WorkerRole.DECODE) or workloads[WorkerRole.AGGREGATED]
    if WorkerRole.PREFILL in workloads:
        spec["prefill"] = workloads[WorkerRole.PREFILL]
    spec["router"] = {"route": {}, "gateway": {}, "scheduler": {}}
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "LLMInferenceService",
        "metadata": {"name": resource_name(deployment)},
        "spec": spec,
    }


def kserve_files(plan: LaunchPlan, artifacts: LaunchArtifacts) -> TargetOutput:
    """`kserve.yaml` and `benchmark.sh`, the manifest checked against the CRD's schema snapshot."""
    manifest = kserve_manifest(plan, artifacts)
    schema = ManifestSchema.shipped("kserve-llminferenceservice")
    schema.check(manifest, MANIFEST)
    name = manifest["metadata"]["name"]
    header = (
        f"# Written by servecast for KServe {schema.version}'s LLMInferenceService: `kubectl apply -f {MANIFEST}`\n"
        "# (KServe with its LLMInferenceService controller, the Gateway API and its inference extension installed).\n"
    )
    files = {
        PurePosixPath(MANIFEST): header + yaml_text(manifest),
        PurePosixPath("benchmark.sh"): frontend_benchmark(
            artifacts, f"kubectl port-forward svc/{name}-kserve-workload-svc 8000:8000 (or use the gateway's address)"
        ),
    }
    return TargetOutput(files, checked_against=(schema.provenance,))
