"""TensorRT-LLM launch artifacts: `trtllm-serve` (PyTorch backend) with an extra LLM-API options YAML per worker,
`trtllm-serve disaggregated` with its context/generation server config, `mpirun` + `trtllm-llmapi-launch` for
instances spanning nodes, and TensorRT-LLM's serving benchmark at the simulated operating point.

Not checked against a schema snapshot: TensorRT-LLM publishes its wheels on pypi.nvidia.com, not PyPI, and the
snapshot extraction has not been run against them."""

from __future__ import annotations

from typing import Any

import yaml
from packaging.version import Version

from servecast.plugin import (
    FRONTEND_PORT,
    Deployment,
    Endpoint,
    FrameworkVersion,
    InputError,
    KvCacheDtype,
    LaunchArtifacts,
    LaunchSchema,
    Quantization,
    RoleLaunch,
    ServingMode,
    WorkerPlacement,
    WorkerRole,
    address_variables,
    check_launch,
    client_loads,
    config_tree,
    environment,
    flag_arguments,
    literal,
    load_quantization_value,
    node_address,
    node_span,
    place,
    worker_host,
)

TRTLLM_SERVE = Version("1.0.0")
"""The first modelled release launched through `trtllm-serve` with the PyTorch backend (0.14 needs an engine build
and Triton, which this plugin does not write)."""
KV_CACHE_DTYPES = {KvCacheDtype.FP8: "fp8", KvCacheDtype.BF16: "auto", KvCacheDtype.FP16: "auto"}
"""`kv_cache_config.dtype` per KV dtype (`auto`: the model's 16-bit dtype); the PyTorch backend has no INT8 cache."""
QUANTIZATIONS_AT_LOAD: dict[Quantization, str] = {}
"""None: the PyTorch backend runs checkpoints quantized beforehand with ModelOpt, whose quant_algo it reads from the
checkpoint's hf_quant_config.json or quantization_config (docs/source/features/quantization.md, "Running
Pre-quantized Models"; a 16-bit model is quantized offline with ModelOpt first)."""


def _options(deployment: Deployment, version: FrameworkVersion, worker: WorkerPlacement) -> dict[str, Any]:
    """The worker's extra LLM-API options: the knobs without a flag, the MoE/attention-DP split, KV transfer."""
    knobs = dict(worker.group.knobs)
    graphs = knobs.pop("cuda_graph_config", True)
    options = config_tree(version, knobs)
    if not graphs:
        options["cuda_graph_config"] = None
    layout = worker.group.layout
    if layout.attention_dp > 1:
        options["enable_attention_dp"] = True
    if layout.ep > 1:
        options["moe_expert_parallel_size"] = layout.ep
        options["moe_tensor_parallel_size"] = layout.moe_tp
    if layout.redundant_experts and deployment.routed_experts:
        # examples/wide_ep: the WIDEEP MoE with EPLB's expert slots (experts plus their redundant copies)
        slots = deployment.routed_experts + layout.redundant_experts
        options["moe_config"] = {"backend": "WIDEEP", "load_balancer": {"num_slots": slots}}
    if deployment.kv_cache_dtype is not None:
        options.setdefault("kv_cache_config", {})["dtype"] = KV_CACHE_DTYPES[deployment.kv_cache_dtype]
    if worker.role is not WorkerRole.AGGREGATED:
        options["cache_transceiver_config"] = {"backend": "DEFAULT"}
    return options


def _worker(deployment: Deployment, version: FrameworkVersion, worker: WorkerPlacement) -> tuple[RoleLaunch, str]:
    layout = worker.group.layout
    options_file = f"extra-llm-api-{worker.name}.yml"
    argv = [
        "trtllm-serve",
        literal(deployment.model),
        "--host",
        "0.0.0.0",
        "--port",
        str(worker.port),
        "--backend",
        "pytorch",
        "--tp_size",
        str(layout.tp * layout.attention_dp),
        "--pp_size",
        str(layout.pp),
        "--ep_size",
        str(layout.ep),
    ]
    argv += flag_arguments(version, worker.group.knobs, None)
    argv += ["--extra_llm_api_options", options_file]
    variables = environment(version, worker.group.knobs)
    env = {"CUDA_VISIBLE_DEVICES": worker.cuda_visible_devices, **variables}
    if worker.nodes > 1:
        per_node = len(worker.gpu_ids)
        hosts = ",".join(f"{node_address(worker.first_node + rank)}:{per_node}" for rank in range(worker.nodes))
        exported = [item for name in sorted(env) for item in ("-x", name)]  # mpirun passes them to remote ranks
        argv = ["mpirun", "-H", hosts, "-n", str(layout.gpus), *exported, "trtllm-llmapi-launch", *argv]
    role = RoleLaunch(
        role=worker.name,
        framework="trtllm",
        version=version.version,
        gpus=layout.gpus,
        argv=tuple(argv),
        env=env,
        node=worker.first_node,
    )
    text = yaml.safe_dump(_options(deployment, version, worker), sort_keys=True)
    return role, text


def _benchmark(deployment: Deployment, endpoints: list[Endpoint]) -> tuple[tuple[str, ...], ...]:
    """TensorRT-LLM's `benchmark_serving` against each OpenAI endpoint on its node, random token ids at fixed
    lengths."""
    hosts = {endpoint.port: endpoint.host for endpoint in endpoints}
    return tuple(
        (
            *("python", "-m", "tensorrt_llm.serve.scripts.benchmark_serving", "--backend", "openai"),
            *("--model", literal(deployment.model), "--host", hosts[load.port], "--port", str(load.port)),
            *("--random-ids", "--ignore-eos"),
            *load.random_dataset(load.workload.input_tokens, "0"),
        )
        for load in client_loads(deployment, list(hosts))
    )


def _router(workers: list[WorkerPlacement]) -> str:
    def urls(role: WorkerRole) -> list[str]:
        return [f"{worker_host(w, workers)}:{w.port}" for w in workers if w.role is role]

    context, generation = urls(WorkerRole.PREFILL), urls(WorkerRole.DECODE)
    config = {
        "hostname": "0.0.0.0",
        "port": FRONTEND_PORT,
        "backend": "pytorch",
        "context_servers": {"num_instances": len(context), "urls": context},
        "generation_servers": {"num_instances": len(generation), "urls": generation},
    }
    return yaml.safe_dump(config, sort_keys=False)


def launch_artifacts(deployment: Deployment, version: FrameworkVersion) -> LaunchArtifacts:
    """Every process of `deployment`, its option files, and the benchmark clients."""
    if Version(version.version) < TRTLLM_SERVE:
        raise InputError(
            f"TensorRT-LLM {version.version} is launched through an engine build and Triton, which servecast does "
            "not write",
            "pick TensorRT-LLM 1.0 or newer (`--framework-version 1.0.0`) for trtllm-serve launch artifacts",
        )
    load_quantization_value(deployment, "TensorRT-LLM", version.version, QUANTIZATIONS_AT_LOAD)
    if deployment.kv_cache_dtype is not None and deployment.kv_cache_dtype not in KV_CACHE_DTYPES:
        raise InputError(
            f"TensorRT-LLM {version.version}'s PyTorch backend has no {deployment.kv_cache_dtype.value} KV cache",
            "pick another --kv-cache-dtype (fp8, bf16 or fp16)",
        )
    workers = place(deployment)
    roles, files = [], {}
    for worker in workers:
        role, options = _worker(deployment, version, worker)
        roles.append(role)
        files[f"extra-llm-api-{worker.name}.yml"] = options
    warnings: list[str] = []
    if deployment.mode is ServingMode.DISAGGREGATED:
        files["disagg.yml"] = _router(workers)
        argv = ("trtllm-serve", "disaggregated", "-c", "disagg.yml")
        roles.append(RoleLaunch(role="router", framework="trtllm", version=version.version, gpus=0, argv=argv))
        endpoints = [Endpoint(port=FRONTEND_PORT)]
    else:
        endpoints = [worker.endpoint for worker in workers]
    artifacts = LaunchArtifacts(
        roles=tuple(roles),
        files=files,
        benchmark=_benchmark(deployment, endpoints),
        endpoints=tuple(endpoints),
        variables=address_variables(workers),
        nodes=node_span(workers),
        warnings=tuple(warnings),
    )
    return check_launch(
        artifacts,
        LaunchSchema.shipped(__package__, version.version),
        display_name="TensorRT-LLM",
        version=version.version,
        external=("mpirun",),
        missing_reason="no schema snapshot (its wheels are on pypi.nvidia.com, not PyPI, and were not reachable "
        "when the snapshots were extracted)",
    )
