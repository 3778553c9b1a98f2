"""The NVIDIA Dynamo target: a DynamoGraphDeployment with Dynamo's frontend and one worker service per worker group,
run by Dynamo's own wrappers of the three frameworks (`python3 -m dynamo.vllm|sglang|trtllm`).

The wrappers of vLLM and SGLang take the framework's own engine flags, so a worker runs the shell target's flags
less what Dynamo sets itself (host, port; the frontend routes over Dynamo's request plane); prefill and decode
workers say so with `--disaggregation-mode` (and SGLang's KV transfer goes over NIXL, which Dynamo's images ship).
TensorRT-LLM's wrapper takes no TensorRT-LLM flags: every engine setting goes into the `--extra-engine-args` YAML,
mounted from a ConfigMap. A worker spanning nodes is one service with `multinode.nodeCount`, its GPU limit per
node, and the single-node command: Dynamo's operator adds how its nodes join. The images are Dynamo's runtime
images of one release, which bundle one release of each framework; a configuration modelled on another version of
the framework is refused. The model is cached on a ReadWriteMany volume claimed next to the graph. The manifest is
validated against the DGD CRD's schema snapshot, with unknown fields errors.
"""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from typing import Any

import yaml
from packaging.version import Version

from servecast.errors import InputError, PluginError
from servecast.launch.artifacts import LaunchArtifacts, WorkerRole
from servecast.launch.containers import option_value, required_image, yaml_text
from servecast.launch.kubernetes import (
    PodWorker,
    frontend_benchmark,
    hub_model,
    node_selector,
    pod_env,
    pod_workers,
    resource_name,
    server_arguments,
)
from servecast.launch.manifest_schema import ManifestSchema
from servecast.launch.plan import LaunchPlan
from servecast.launch.targets import TargetOutput

TARGET = "dynamo"
MANIFEST = "dynamo.yaml"
RELEASE = "1.4.0"
"""The Dynamo release whose CRD, wrappers and runtime images this target writes for."""
RUNTIME = {
    "vllm": ("nvcr.io/nvidia/ai-dynamo/vllm-runtime", "0.26.0"),
    "sglang": ("nvcr.io/nvidia/ai-dynamo/sglang-runtime", "0.5.16"),
    "trtllm": ("nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime", "1.3.0rc22"),
}
"""Per framework: Dynamo's runtime image and the framework release it bundles (Dynamo 1.4.0's pyproject.toml optional
dependencies at the release branch point: vllm==0.26.0, sglang==0.5.16, tensorrt-llm==1.3.0rc22)."""
MODULES = {"vllm": "dynamo.vllm", "sglang": "dynamo.sglang", "trtllm": "dynamo.trtllm"}
MODEL_FLAGS = {"vllm": "--model", "sglang": "--model-path", "trtllm": "--model-path"}
"""Each wrapper's model flag (vLLM's and SGLang's own; TensorRT-LLM's wrapper still takes `--model-path`)."""
CACHE_PATH = "/model-cache"
CONFIG_PATH = "/config"
HF_SECRET = "hf-token-secret"
SERVER_FLAGS = ("--host", "--port")
"""Set by Dynamo itself: workers serve over its request plane, the frontend answers HTTP."""
DISTRIBUTED_FLAGS = (
    "--distributed-executor-backend",
    "--data-parallel-size-local",
    "--data-parallel-address",
    "--data-parallel-rpc-port",
    "--data-parallel-start-rank",
    "--nnodes",
    "--node-rank",
    "--dist-init-addr",
)
"""How the shell target joins a worker's nodes (Ray, vLLM's data-parallel head, SGLang's rendezvous): for a
multi-node service Dynamo's operator adds its own (deploy/operator/internal/dynamo/backend_*.go)."""
LAUNCHER = "trtllm-llmapi-launch"
"""What `mpirun` starts on each rank in the shell target; Dynamo's operator runs its own mpirun."""
TRTLLM_OPTIONS = {
    "--tp_size": "tensor_parallel_size",
    "--pp_size": "pipeline_parallel_size",
    "--ep_size": "moe_expert_parallel_size",
    "--max_batch_size": "max_batch_size",
    "--max_num_tokens": "max_num_tokens",
    "--max_seq_len": "max_seq_len",
    "--kv_cache_free_gpu_memory_fraction": "kv_cache_config.free_gpu_memory_fraction",
    "--trust_remote_code": "trust_remote_code",
}
"""`trtllm-serve` flags and the LLM-API option each sets (tensorrt_llm/commands/serve.py `get_llm_args`)."""
TRTLLM_HANDLED = ("--host", "--port", "--backend", "--extra_llm_api_options")
"""`trtllm-serve` flags Dynamo's wrapper covers itself (it serves over Dynamo, with the PyTorch backend)."""


def runtime_image(plan: LaunchPlan) -> str:
    """Dynamo's runtime image for the deployment's framework; an InputError when the release it bundles is not one
    the modelled version stands for (unless the user named the image)."""
    deployment = plan.deployment
    if deployment.framework not in RUNTIME:
        raise InputError(
            f"Dynamo runs vLLM, SGLang and TensorRT-LLM, not {deployment.framework!r}", "use --target shell or compose"
        )
    repository, bundled = RUNTIME[deployment.framework]
    if plan.user_image is not None:
        return required_image(deployment, TARGET)
    release = Version(Version(bundled).base_version)
    if not plan.version.covers_release(release) and plan.version.version != bundled:
        raise InputError(
            f"Dynamo {RELEASE}'s runtime image runs {deployment.framework} {bundled}, and this configuration was "
            f"modelled on {deployment.framework} {deployment.framework_version}",
            f"give --framework-version {bundled} to model the release Dynamo runs, or --image with a Dynamo runtime "
            "image that bundles your version",
        )
    return f"{repository}:{RELEASE}"


def _vllm_arguments(worker: PodWorker) -> list[str]:
    arguments = server_arguments(worker.role, 3, TARGET, (*SERVER_FLAGS, *DISTRIBUTED_FLAGS), ("--headless",))
    if worker.group.role is not WorkerRole.AGGREGATED:
        arguments += ["--disaggregation-mode", worker.group.role.value]
    return arguments


def _sglang_arguments(worker: PodWorker, bootstrap_port: str | None) -> list[str]:
    """SGLang's flags less the port, with the frontend tokenizing (`--skip-tokenizer-init`, as Dynamo's examples
    run it) and, between pools, NIXL and the prefill pool's bootstrap port on both sides; the bootstrap server
    listens on `--host`, which stays 0.0.0.0 so decode pods reach it."""
    arguments = server_arguments(worker.role, 5, TARGET, ("--port", *DISTRIBUTED_FLAGS)) + ["--skip-tokenizer-init"]
    if worker.group.role is not WorkerRole.AGGREGATED:
        arguments += ["--disaggregation-transfer-backend", "nixl"]
        if bootstrap_port is not None and "--disaggregation-bootstrap-port" not in arguments:
            arguments += ["--disaggregation-bootstrap-port", bootstrap_port]
    return arguments


def _trtllm_arguments(worker: PodWorker, artifacts: LaunchArtifacts, files: dict[str, str]) -> list[str]:
    """The wrapper's arguments, with every `trtllm-serve` flag moved into the worker's engine YAML."""
    argv = list(worker.role.argv)
    if LAUNCHER in argv:
        argv = argv[argv.index(LAUNCHER) + 1 :]
    if argv[0] != "trtllm-serve":
        raise PluginError(
            f"the {TARGET} target expected `trtllm-serve` for {worker.role.role}, found {argv[0]!r}",
            "report this gap in the target writer",
        )
    options_file = option_value(argv, "--extra_llm_api_options")
    options: dict[str, Any] = yaml.safe_load(artifacts.files[options_file]) if options_file else {}
    options = options or {}
    flags = argv[2:]
    index = 0
    while index < len(flags):
        flag = flags[index]
        value = flags[index + 1] if index + 1 < len(flags) and not flags[index + 1].startswith("--") else None
        index += 1 if value is None else 2
        if flag in TRTLLM_HANDLED:
            continue
        if flag not in TRTLLM_OPTIONS:
            raise PluginError(
                f"the {TARGET} target cannot pass trtllm-serve's {flag} to Dynamo's TensorRT-LLM worker",
                "report this gap in the target writer",
            )
        *parents, leaf = TRTLLM_OPTIONS[flag].split(".")
        node = options
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = True if value is None else yaml.safe_load(value)
    moe = options.get("moe_config")
    if isinstance(moe, dict) and moe.get("load_balancer") in artifacts.files:  # a file the engine reads
        balancer = str(moe["load_balancer"])
        files[balancer] = artifacts.files[balancer]
        moe["load_balancer"] = f"{CONFIG_PATH}/{balancer}"
    name = f"engine-{worker.group.role.value}.yaml"
    files[name] = yaml.safe_dump(options, sort_keys=True)
    arguments = ["--extra-engine-args", f"{CONFIG_PATH}/{name}"]
    if worker.group.role is not WorkerRole.AGGREGATED:
        arguments += ["--disaggregation-mode", worker.group.role.value]
    return arguments


def _service(
    plan: LaunchPlan, worker: PodWorker, image: str, arguments: list[str], config: str | None, claim: str
) -> dict[str, Any]:
    deployment = plan.deployment
    model = hub_model(deployment, TARGET)
    env = pod_env(worker.role) + [
        {"name": "HF_HOME", "value": CACHE_PATH},
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": HF_SECRET, "key": "HF_TOKEN", "optional": True}}},
    ]
    container: dict[str, Any] = {
        "image": image,
        "command": ["python3", "-m", MODULES[deployment.framework]],
        "args": [MODEL_FLAGS[deployment.framework], model, "--served-model-name", model, *arguments],
        "env": env,
    }
    pod: dict[str, Any] = {"mainContainer": container}
    selector = node_selector(deployment, worker.group)
    if selector:
        pod["nodeSelector"] = selector
    if config is not None:
        container["volumeMounts"] = [{"name": "engine-config", "mountPath": CONFIG_PATH, "readOnly": True}]
        pod["volumes"] = [{"name": "engine-config", "configMap": {"name": config}}]
    service: dict[str, Any] = {
        "componentType": "worker",
        "replicas": worker.group.replicas,
        "resources": {"limits": {"gpu": str(worker.gpus_per_pod)}},  # per node of a multi-node worker
        "volumeMounts": [{"name": claim, "mountPoint": CACHE_PATH}],
        "extraPodSpec": pod,
    }
    if worker.nodes > 1:
        service["multinode"] = {"nodeCount": worker.nodes}
    if worker.group.role is not WorkerRole.AGGREGATED:
        service["subComponentType"] = worker.group.role.value
    return service


def cache_claim(name: str, checkpoint_bytes: int | None) -> dict[str, Any]:
    """A ReadWriteMany claim (the cluster's default storage class) holding the checkpoint with room to spare."""
    size = max(10, math.ceil(1.25 * (checkpoint_bytes or 0) / 2**30))
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": f"{size}Gi"}}},
    }


def dynamo_files(plan: LaunchPlan, artifacts: LaunchArtifacts) -> TargetOutput:
    """`dynamo.yaml` (the model cache claim, the TensorRT-LLM engine ConfigMap where needed, the graph) and
    `benchmark.sh`, the graph checked against the DGD schema snapshot."""
    deployment = plan.deployment
    image = runtime_image(plan)
    name = resource_name(deployment)
    claim = f"{name}-model-cache"
    config_files: dict[str, str] = {}
    services: dict[str, Any] = {
        "Frontend": {"componentType": "frontend", "replicas": 1, "extraPodSpec": {"mainContainer": {"image": image}}}
    }
    workers = pod_workers(deployment, artifacts, TARGET, multinode=True)
    prefill = [worker.role.argv for worker in workers if worker.group.role is WorkerRole.PREFILL]
    bootstrap_port = option_value(prefill[0], "--disaggregation-bootstrap-port") if prefill else None
    for worker in workers:
        config = None
        if deployment.framework == "vllm":
            arguments = _vllm_arguments(worker)
        elif deployment.framework == "sglang":
            arguments = _sglang_arguments(worker, bootstrap_port)
        else:
            arguments = _trtllm_arguments(worker, artifacts, config_files)
            config = f"{name}-engine"
        services[f"{worker.group.role.value.capitalize()}Worker"] = _service(
            plan, worker, image, arguments, config, claim
        )
    graph = {
        "apiVersion": "nvidia.com/v1alpha1",
        "kind": "DynamoGraphDeployment",
        "metadata": {"name": name},
        "spec": {
            "backendFramework": deployment.framework,
            "pvcs": [{"name": claim, "create": False}],
            "services": services,
        },
    }
    schema = ManifestSchema.shipped("dynamo-graph-deployment")
    schema.check(graph, MANIFEST)
    documents: list[Any] = [cache_claim(claim, deployment.checkpoint_bytes)]
    if config_files:
        documents.append(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-engine"}, "data": config_files}
        )
    documents.append(graph)
    header = (
        f"# Written by servecast for NVIDIA Dynamo {RELEASE}: `kubectl apply -f {MANIFEST}` (Dynamo's platform "
        "installed; a Secret\n"
        f"# {HF_SECRET} with key HF_TOKEN for gated models). The frontend answers on port 8000 of service "
        f"{name}-frontend.\n"
    )
    files = {
        PurePosixPath(MANIFEST): header + yaml_text(*documents),
        PurePosixPath("benchmark.sh"): frontend_benchmark(
            artifacts, f"kubectl port-forward svc/{name}-frontend 8000:8000"
        ),
    }
    return TargetOutput(files, checked_against=(schema.provenance,))
