"""vLLM launch artifacts: `vllm serve` per worker, NIXL KV transfer behind the vLLM project's router for
disaggregated pools, Ray for instances spanning nodes, and `vllm bench serve` at the simulated operating point; every
command checked against the version's schema snapshot."""

from __future__ import annotations

import json

from packaging.version import Version

from servecast.plugin import (
    FRONTEND_PORT,
    Deployment,
    Endpoint,
    FrameworkVersion,
    KnobValue,
    KvCacheDtype,
    LaunchArtifacts,
    LaunchSchema,
    PluginError,
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
    loading_flags,
    node_address,
    node_span,
    place,
    worker_host,
)

NIXL = Version("0.9.0")
"""The first modelled release with the NixlConnector (and `--data-parallel-size` for attention DP)."""
BENCH_CLI = Version("0.10.0")
"""The first modelled release with `vllm bench serve`."""
NIXL_SIDE_CHANNEL_BASE_PORT = 5600
RAY_PORT = 6379
RAY = "ray start"
LEGACY_BENCHMARK = "python benchmarks/benchmark_serving.py"
"""Before `vllm bench`: the benchmark script of vLLM's source tree (not in the published package)."""
ROUTER = "vllm-router"
ROUTER_REQUIREMENT = "vllm-router==0.1.17"
"""The vLLM project's router (github.com/vllm-project/router, on PyPI): `--vllm-pd-disaggregation` sends each request
to a prefill worker with `kv_transfer_params.do_remote_decode`, then to a decode worker with the prefill response's
`kv_transfer_params`, NixlConnector's protocol (src/routers/http/vllm_pd_router.rs). No vLLM wheel ships a router;
0.1.17 is pinned because its flags change between releases."""
ROUTER_STARTUP_SECONDS = 1800
"""How long the router waits for its workers to answer before it exits (its default, 600 s, is shorter than loading
a large model)."""
ONLINE_SHORTHANDS = Version("0.33.0")
"""The first modelled release whose `--quantization` quantizes a 16-bit checkpoint through shorthands
(vllm/config/quantization.py `_ONLINE_SHORTHANDS`: `fp8_per_tensor`, `fp8_per_block`, `mxfp4` for linear and MoE
layers) and whose `fp8` reads FP8 checkpoints only (quantization/fp8.py: Fp8Config raises "The `fp8` quantization
method no longer supports online quantization")."""
KV_CACHE_DTYPES = {
    KvCacheDtype.FP8: ("fp8",),
    KvCacheDtype.BF16: ("bfloat16", "auto"),
    KvCacheDtype.FP16: ("float16", "auto"),
    KvCacheDtype.INT8: ("int8_per_token_head",),
}
"""`--kv-cache-dtype` values per KV dtype, the first the version takes is used: `auto` (the model's 16-bit dtype,
the same two bytes) where a version has no name for a 16-bit cache (0.10.2: no `bfloat16`, none has `float16` before
0.33); INT8 is 0.33's `int8_per_token_head` (vllm/config/cache.py CacheDType)."""
SERVE = "vllm serve"


def quantizations_at_load(version: FrameworkVersion) -> dict[Quantization, str]:
    """The `--quantization` value that makes the version quantize a 16-bit checkpoint to a servecast quantization as
    it loads it.

    Every other quantization comes from a checkpoint quantized beforehand, which vLLM reads with no flag
    (`ModelConfig._verify_quantization` takes the method from its quantization_config, or ModelOpt's
    hf_quant_config.json, and moves awq/gptq to their Marlin kernels only when no other method is named). Before
    0.33, `fp8` quantizes per tensor with dynamic activation scales (Fp8Config with is_checkpoint_fp8_serialized
    False) and block scales come only from a checkpoint (Fp8Config: "The block-wise quantization only supports
    fp8-serialized checkpoint"); `experts_int8` (and 0.33's `int8_per_channel_weight_only`) quantize only the MoE
    experts, not every linear layer as servecast's int8_weight_only does; 0.33's `nvfp4_per_token` only the MoE
    experts, on Blackwell."""
    if Version(version.version) >= ONLINE_SHORTHANDS:
        return {
            Quantization.FP8: "fp8_per_tensor",
            Quantization.FP8_BLOCK: "fp8_per_block",
            Quantization.MXFP4: "mxfp4",
        }
    return {Quantization.FP8: "fp8"}


def loading_arguments(deployment: Deployment, version: FrameworkVersion, schema: LaunchSchema | None) -> list[str]:
    """`--quantization` and `--kv-cache-dtype` as the version names them; an InputError for what it cannot do."""
    framework = ("vLLM", version.version)
    return loading_flags(deployment, framework, SERVE, schema, quantizations_at_load(version), KV_CACHE_DTYPES)


DP_RPC_PORT = 13345
"""The data-parallel coordinator's port on the head node of a multi-node data-parallel worker."""
PREFILL_ALL_TO_ALL = {"deepep_low_latency": "deepep_high_throughput"}
"""The all-to-all backend a prefill worker uses instead (the expert-parallel deployment guide: high-throughput
kernels for prefill, low-latency ones with CUDA graphs for decode)."""


def _parallel(worker: WorkerPlacement) -> list[str]:
    layout = worker.group.layout
    argv = ["--tensor-parallel-size", str(layout.tp)]
    if layout.pp > 1:
        argv += ["--pipeline-parallel-size", str(layout.pp)]
    if layout.attention_dp > 1:
        argv += ["--data-parallel-size", str(layout.attention_dp)]
    if layout.ep > 1:
        argv.append("--enable-expert-parallel")
    if layout.redundant_experts:
        eplb = {"num_redundant_experts": layout.redundant_experts}
        argv += ["--enable-eplb", "--eplb-config", json.dumps(eplb, separators=(",", ":"))]
    return argv


def _knobs(worker: WorkerPlacement) -> dict[str, KnobValue]:
    """The worker's knobs, with a prefill worker's low-latency all-to-all swapped for the high-throughput one."""
    knobs = dict(worker.group.knobs)
    if worker.role is WorkerRole.PREFILL:
        for name in ("all2all_backend", "VLLM_ALL2ALL_BACKEND"):
            value = knobs.get(name)
            if isinstance(value, str):
                knobs[name] = PREFILL_ALL_TO_ALL.get(value, value)
    return knobs


def _worker(
    deployment: Deployment, version: FrameworkVersion, worker: WorkerPlacement, loading: list[str]
) -> list[RoleLaunch]:
    knobs = _knobs(worker)
    argv = [*SERVE.split(), literal(deployment.model), "--host", "0.0.0.0", "--port", str(worker.port)]
    argv += _parallel(worker)
    argv += flag_arguments(version, knobs, "--no-" if Version(version.version) >= BENCH_CLI else None)
    tree = config_tree(version, knobs)
    if "compilation_config" in tree:
        argv += ["--compilation-config", json.dumps(tree["compilation_config"], separators=(",", ":"))]
    argv += loading
    env = {"CUDA_VISIBLE_DEVICES": worker.cuda_visible_devices, **environment(version, knobs)}
    if worker.role is not WorkerRole.AGGREGATED:
        argv += ["--kv-transfer-config", json.dumps({"kv_connector": "NixlConnector", "kv_role": "kv_both"})]
        env["VLLM_NIXL_SIDE_CHANNEL_PORT"] = str(NIXL_SIDE_CHANNEL_BASE_PORT + worker.port - 8100)
    common = {"framework": "vllm", "version": version.version}
    if worker.nodes == 1:
        return [
            RoleLaunch(
                role=worker.name, gpus=len(worker.gpu_ids), argv=tuple(argv), env=env, node=worker.first_node, **common
            )
        ]
    layout = worker.group.layout
    per_node = len(worker.gpu_ids)
    if layout.attention_dp > 1 and per_node % (layout.tp * layout.pp) == 0:
        return _data_parallel_nodes(worker, argv, env, common)
    ray_head = (*RAY.split(), "--head", "--block", "--port", str(RAY_PORT))
    ray_join = (*RAY.split(), "--block", "--address", f"{node_address(worker.first_node)}:{RAY_PORT}")
    per_node = len(worker.gpu_ids)
    roles = [
        RoleLaunch(
            role=f"{worker.name}-ray-head",
            gpus=per_node,
            argv=ray_head,
            env=env,
            node=worker.first_node,
            ready=("ray", "status"),  # `vllm serve` would start a private Ray instance if the head were not up yet
            **common,
        )
    ]
    roles += [
        RoleLaunch(
            role=f"{worker.name}-ray-{rank}",
            gpus=per_node,
            argv=ray_join,
            env=env,
            node=worker.first_node + rank,
            **common,
        )
        for rank in range(1, worker.nodes)
    ]
    serve = (*argv, "--distributed-executor-backend", "ray")
    roles.append(RoleLaunch(role=worker.name, gpus=0, argv=serve, env=env, node=worker.first_node, **common))
    return roles


def _data_parallel_nodes(
    worker: WorkerPlacement, argv: list[str], env: dict[str, str], common: dict[str, str]
) -> list[RoleLaunch]:
    """A data-parallel worker over several nodes as vLLM runs one: a `vllm serve` per node, each with its local
    data-parallel ranks, the head answering HTTP and the others `--headless` (the data-parallel deployment guide)."""
    local = len(worker.gpu_ids) // (worker.group.layout.tp * worker.group.layout.pp)
    shared = [
        "--data-parallel-size-local",
        str(local),
        "--data-parallel-address",
        node_address(worker.first_node),
        "--data-parallel-rpc-port",
        str(DP_RPC_PORT),
    ]
    headless = _without_server_address(argv)
    roles = []
    for rank in range(worker.nodes):
        extra = ["--headless", "--data-parallel-start-rank", str(rank * local)] if rank else []
        roles.append(
            RoleLaunch(
                role=worker.name if rank == 0 else f"{worker.name}-node{rank}",
                gpus=len(worker.gpu_ids),
                argv=(*(headless if rank else argv), *shared, *extra),
                env=env,
                node=worker.first_node + rank,
                **common,
            )
        )
    return roles


def _without_server_address(argv: list[str]) -> list[str]:
    """`argv` without `--host` and `--port`: a headless node runs engines only, no API server."""
    kept: list[str] = []
    skip = False
    for item in argv:
        if skip:
            skip = False
        elif item in ("--host", "--port"):
            skip = True
        else:
            kept.append(item)
    return kept


def _benchmark(
    deployment: Deployment, version: FrameworkVersion, endpoints: list[Endpoint]
) -> tuple[tuple[str, ...], ...]:
    """vLLM's serving benchmark against each endpoint on its node, a random dataset with the simulated prefix."""
    cli = Version(version.version) >= BENCH_CLI
    command = ["vllm", "bench", "serve"] if cli else LEGACY_BENCHMARK.split()
    hosts = {endpoint.port: endpoint.host for endpoint in endpoints}
    runs = []
    for load in client_loads(deployment, list(hosts)):
        prefix = load.workload.prefix_tokens
        argv = [*command, "--backend", "vllm", "--model", literal(deployment.model)]
        argv += ["--base-url", f"http://{hosts[load.port]}:{load.port}", "--ignore-eos"]
        argv += load.random_dataset(load.workload.input_tokens - prefix, "0")
        runs.append((*argv, "--random-prefix-len", str(prefix)))
    return tuple(runs)


def launch_artifacts(deployment: Deployment, version: FrameworkVersion) -> LaunchArtifacts:
    """Every process of `deployment` on its nodes, and the benchmark clients."""
    schema = LaunchSchema.shipped(__package__, version.version)
    loading = loading_arguments(deployment, version, schema)
    workers = place(deployment)
    roles = [role for worker in workers for role in _worker(deployment, version, worker, loading)]
    warnings = []
    variables = address_variables(workers)
    if deployment.mode is ServingMode.DISAGGREGATED:
        if Version(version.version) < NIXL:
            raise PluginError(
                f"vLLM {version.version} has no NixlConnector", "use vLLM 0.9 or newer for disaggregation"
            )
        prefill = [w for w in workers if w.role is WorkerRole.PREFILL]
        decode = [w for w in workers if w.role is WorkerRole.DECODE]
        router = [*ROUTER.split(), "--host", "0.0.0.0", "--port", str(FRONTEND_PORT), "--vllm-pd-disaggregation"]
        router += [item for w in prefill for item in ("--prefill", f"http://{worker_host(w, workers)}:{w.port}")]
        router += [item for w in decode for item in ("--decode", f"http://{worker_host(w, workers)}:{w.port}")]
        router += ["--policy", "round_robin", "--worker-startup-timeout-secs", str(ROUTER_STARTUP_SECONDS)]
        roles.append(
            RoleLaunch(
                role="router",
                framework="vllm",
                version=version.version,
                gpus=0,
                argv=tuple(router),
                requires=(ROUTER_REQUIREMENT,),
            )
        )
        endpoints = [Endpoint(port=FRONTEND_PORT)]
    else:
        endpoints = [w.endpoint for w in workers]
    if Version(version.version) < BENCH_CLI:
        warnings.append(
            "benchmark.sh runs benchmarks/benchmark_serving.py from a vLLM source checkout (no `vllm bench` yet)"
        )
    artifacts = LaunchArtifacts(
        roles=tuple(roles),
        benchmark=_benchmark(deployment, version, endpoints),
        endpoints=tuple(endpoints),
        variables=variables,
        nodes=node_span(workers),
        warnings=tuple(warnings),
    )
    return check_launch(
        artifacts,
        schema,
        display_name="vLLM",
        version=version.version,
        external=(RAY, LEGACY_BENCHMARK),
    )
