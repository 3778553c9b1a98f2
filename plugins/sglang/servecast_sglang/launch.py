"""SGLang launch artifacts: `python -m sglang.launch_server` per worker (one process per node), prefill/decode
disaggregation behind SGLang's router, and SGLang's serving benchmark at the simulated operating point; every
command checked against the version's schema snapshot."""

from __future__ import annotations

from servecast.plugin import (
    FRONTEND_PORT,
    Deployment,
    Endpoint,
    FrameworkVersion,
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
    flag_arguments,
    literal,
    loading_flags,
    node_address,
    node_span,
    place,
    worker_host,
)

DIST_INIT_PORT = 5000
BOOTSTRAP_BASE_PORT = 8998
"""A prefill server's KV bootstrap port (SGLang's default), one more for each co-located prefill server."""
SERVER = "python -m sglang.launch_server"
KV_CACHE_DTYPES = {
    KvCacheDtype.FP8: ("fp8_e4m3", "fp8_e5m2"),
    KvCacheDtype.BF16: ("bf16", "auto"),
    KvCacheDtype.FP16: ("auto",),
}
"""`--kv-cache-dtype` values per KV dtype, the first the version takes is used: 0.3.0 stores FP8 only as e5m2 (the
same byte per value); `auto` (the model's 16-bit dtype, the same two bytes) where a version has no name for a 16-bit
cache (`bf16` from 0.5; `float16` in none); no version has an INT8 KV cache."""
QUANTIZATIONS_AT_LOAD = {Quantization.FP8: "fp8"}
"""The `--quantization` value that makes SGLang quantize a 16-bit checkpoint as it loads it: `fp8`, per tensor with
dynamic activation scales (srt/layers/quantization/fp8.py Fp8Config with is_checkpoint_fp8_serialized False; 0.3.0
loads through vLLM 0.5.5's loader and Fp8Config, which does the same). Block-scaled FP8 comes only from a
checkpoint ("The block-wise quantization only supports fp8-serialized checkpoint"), as do AWQ, GPTQ, `w8a8_int8`,
ModelOpt NVFP4/W4A8 and MXFP4, which SGLang reads from the checkpoint's quantization_config (or
hf_quant_config.json) with no flag (`ModelConfig._verify_quantization`); 0.5's `nvfp4_online` needs Blackwell
(its get_min_capability is 100)."""


def loading_arguments(deployment: Deployment, version: FrameworkVersion, schema: LaunchSchema | None) -> list[str]:
    """`--quantization` and `--kv-cache-dtype` as the version names them; an InputError for what it cannot do."""
    framework = ("SGLang", version.version)
    return loading_flags(deployment, framework, SERVER, schema, QUANTIZATIONS_AT_LOAD, KV_CACHE_DTYPES)


def _parallel(worker: WorkerPlacement) -> list[str]:
    """The layout as SGLang's flags: tp_size spans the attention-DP ranks; with attention TP 1, the dense MLP layers
    run data-parallel too (--moe-dense-tp-size 1, what servecast simulates), and redundant experts are placed and
    rebalanced by EPLB."""
    layout = worker.group.layout
    argv = ["--tp-size", str(layout.tp * layout.attention_dp)]
    if layout.attention_dp > 1:
        argv += ["--dp-size", str(layout.attention_dp), "--enable-dp-attention"]
        if layout.tp == 1:
            argv += ["--moe-dense-tp-size", "1"]
    if layout.ep > 1:
        argv += ["--ep-size", str(layout.ep)]
    if layout.redundant_experts:
        argv += ["--ep-num-redundant-experts", str(layout.redundant_experts), "--enable-eplb"]
    if layout.pp > 1:
        argv += ["--pp-size", str(layout.pp)]
    return argv


def _worker(
    deployment: Deployment, version: FrameworkVersion, worker: WorkerPlacement, prefill_index: int, loading: list[str]
) -> list[RoleLaunch]:
    argv = [
        *SERVER.split(),
        "--model-path",
        literal(deployment.model),
        "--host",
        "0.0.0.0",
        "--port",
        str(worker.port),
    ]
    argv += _parallel(worker)
    argv += flag_arguments(version, worker.group.knobs, None)
    argv += loading
    if worker.role is WorkerRole.PREFILL:
        argv += [
            "--disaggregation-mode",
            "prefill",
            "--disaggregation-bootstrap-port",
            str(BOOTSTRAP_BASE_PORT + prefill_index),
        ]
    elif worker.role is WorkerRole.DECODE:
        argv += ["--disaggregation-mode", "decode"]
    env = {"CUDA_VISIBLE_DEVICES": worker.cuda_visible_devices}
    common = {"framework": "sglang", "version": version.version, "gpus": len(worker.gpu_ids), "env": env}
    if worker.nodes == 1:
        return [RoleLaunch(role=worker.name, argv=tuple(argv), node=worker.first_node, **common)]
    init = ["--nnodes", str(worker.nodes), "--dist-init-addr", f"{node_address(worker.first_node)}:{DIST_INIT_PORT}"]
    return [
        RoleLaunch(
            role=f"{worker.name}-node{rank}",
            argv=(*argv, *init, "--node-rank", str(rank)),
            node=worker.first_node + rank,
            **common,
        )
        for rank in range(worker.nodes)
    ]


BENCHMARK = "python -m sglang.benchmark.serving"
LEGACY_BENCHMARK = "python -m sglang.bench_serving"
"""Older releases' path of the serving benchmark (a deprecated alias once `sglang.benchmark.serving` exists)."""


def _benchmark(deployment: Deployment, endpoints: list[Endpoint], command: str) -> tuple[tuple[str, ...], ...]:
    """The serving benchmark against each endpoint on its node; its range ratio 1 means fixed lengths, and the
    prompt length includes any prefix."""
    hosts = {endpoint.port: endpoint.host for endpoint in endpoints}
    return tuple(
        (
            *command.split(),
            *("--backend", "sglang", "--model", literal(deployment.model)),
            *("--host", hosts[load.port], "--port", str(load.port)),
            *load.random_dataset(load.workload.input_tokens, "1"),
        )
        for load in client_loads(deployment, list(hosts))
    )


def launch_artifacts(deployment: Deployment, version: FrameworkVersion) -> LaunchArtifacts:
    """Every process of `deployment` on its nodes, and the benchmark clients."""
    schema = LaunchSchema.shipped(__package__, version.version)
    loading = loading_arguments(deployment, version, schema)
    workers = place(deployment)
    prefills = [worker for worker in workers if worker.role is WorkerRole.PREFILL]
    roles = [
        role
        for worker in workers
        for role in _worker(deployment, version, worker, prefills.index(worker) if worker in prefills else 0, loading)
    ]
    bench = BENCHMARK if schema is not None and BENCHMARK in schema.commands else LEGACY_BENCHMARK
    warnings = []
    if deployment.workload is not None and deployment.workload.prefix_tokens:
        warnings.append("SGLang's random benchmark dataset shares no prefix: the benchmark measures prefix 0")
    if deployment.mode is ServingMode.DISAGGREGATED:
        router = ["python", "-m", "sglang_router.launch_router", "--pd-disaggregation"]
        for index, worker in enumerate(prefills):
            url = f"http://{worker_host(worker, workers)}:{worker.port}"
            router += ["--prefill", url, str(BOOTSTRAP_BASE_PORT + index)]
        for worker in workers:
            if worker.role is WorkerRole.DECODE:
                router += ["--decode", f"http://{worker_host(worker, workers)}:{worker.port}"]
        router += ["--host", "0.0.0.0", "--port", str(FRONTEND_PORT)]
        roles.append(RoleLaunch(role="router", framework="sglang", version=version.version, gpus=0, argv=tuple(router)))
        endpoints = [Endpoint(port=FRONTEND_PORT)]
    else:
        endpoints = [worker.endpoint for worker in workers]
    benchmark = _benchmark(deployment, endpoints, bench)
    if benchmark and schema is not None and "--max-concurrency" not in schema.commands[bench].flags:
        warnings.append(f"SGLang {version.version}'s benchmark cannot hold a concurrency: benchmark.sh runs nothing")
        benchmark = ()
    artifacts = LaunchArtifacts(
        roles=tuple(roles),
        benchmark=benchmark,
        endpoints=tuple(endpoints),
        variables=address_variables(workers),
        nodes=node_span(workers),
        warnings=tuple(warnings),
    )
    return check_launch(artifacts, schema, display_name="SGLang", version=version.version)
