"""TensorRT-LLM launch artifacts: `trtllm-serve` (PyTorch backend) with an extra LLM-API options YAML per worker,
`trtllm-serve disaggregated` with its context/generation server config, `mpirun` + `trtllm-llmapi-launch` for
instances spanning nodes, and TensorRT-LLM's serving benchmark at the simulated operating point.

Checked against the version's schema snapshot (`data/cli/<version>.json`, read by `scripts/extract_launch_schemas.py`
from the source at the release's git tag: TensorRT-LLM publishes its wheels on pypi.nvidia.com, not PyPI) where one
is shipped: every command and flag, the flag values it lists, the command `mpirun ... trtllm-llmapi-launch` starts on
every rank, and the keys of the YAML files the commands are given (`--extra_llm_api_options`: TorchLlmArgs and its
nested configs; `disaggregated -c`: the disaggregated server's config), section by section. A modelled version
without a snapshot is launched unverified, with a warning saying so."""

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
LAUNCHER = "trtllm-llmapi-launch"
"""The wrapper `mpirun` starts on every rank of an instance spanning nodes; the command after it is TensorRT-LLM's."""
CONFIG_FILES = {
    ("trtllm-serve", "--extra_llm_api_options"): "extra_llm_api_options",
    ("trtllm-serve disaggregated", "-c"): "disaggregated_config",
    ("trtllm-serve disaggregated", "--config_file"): "disaggregated_config",
}
"""(snapshot command, flag) -> the snapshot's config_keys section the YAML file given to that flag is read as; nested
sections are `<section>.<key>` (`extra_llm_api_options.kv_cache_config`)."""
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
        # examples/wide_ep: the WIDEEP MoE with EPLB's expert slots in a file of their own
        options["moe_config"] = {"backend": "WIDEEP", "load_balancer": load_balancer_file(worker)}
    if deployment.kv_cache_dtype is not None:
        options.setdefault("kv_cache_config", {})["dtype"] = KV_CACHE_DTYPES[deployment.kv_cache_dtype]
    if worker.role is not WorkerRole.AGGREGATED:
        options["cache_transceiver_config"] = {"backend": "DEFAULT"}
    return options


def load_balancer_file(worker: WorkerPlacement) -> str:
    """The worker's MoE load-balancer config file: TorchLlmArgs.validate_load_balancer turns a path in
    `moe_config.load_balancer` into its MoeLoadBalancerConfig (the 1.0-era source leaves a mapping unconverted), and
    examples/wide_ep writes it so."""
    return f"moe-load-balancer-{worker.name}.yml"


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
        layout = worker.group.layout
        if layout.redundant_experts and deployment.routed_experts:  # EPLB's slots: experts and redundant copies
            slots = {"num_slots": deployment.routed_experts + layout.redundant_experts}
            files[load_balancer_file(worker)] = yaml.safe_dump(slots, sort_keys=True)
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
    return checked(artifacts, LaunchSchema.shipped(__package__, version.version), version.version)


def checked(artifacts: LaunchArtifacts, schema: LaunchSchema | None, version: str) -> LaunchArtifacts:
    """`artifacts` once the version's snapshot accepts every command, flag, flag value and config-file key in them
    (the command under `mpirun ... trtllm-llmapi-launch` too; mpirun's own options are left unchecked, with a
    warning); a PluginError naming each one it does not. Without a snapshot, nothing is checked and the warning says
    the launch is unverified."""
    wrapped = [role for role in artifacts.roles if _served(role.argv) != role.argv]
    served = [role.model_copy(update={"argv": _served(role.argv)}) for role in wrapped]
    result = check_launch(
        artifacts.model_copy(update={"roles": (*artifacts.roles, *served)}),
        schema,
        display_name="TensorRT-LLM",
        version=version,
        external=("mpirun",),
        missing_reason=f"unverified: no schema snapshot of TensorRT-LLM {version} is shipped (its wheels are on "
        "pypi.nvidia.com, not PyPI; scripts/extract_launch_schemas.py reads one from the release's git tag)",
    )
    if schema is not None:
        problems = unaccepted_file_keys(artifacts, schema)
        if problems:
            raise PluginError(
                f"TensorRT-LLM {version} would reject this launch: {'; '.join(sorted(set(problems)))} "
                f"(schema read from {schema.provenance})",
                "choose a framework version that supports this configuration, or fix the plugin's launch writer",
            )
    return artifacts.model_copy(update={"warnings": result.warnings})


def _served(argv: tuple[str, ...]) -> tuple[str, ...]:
    """The command `mpirun ... trtllm-llmapi-launch` starts on every rank; argv itself when it is not so wrapped."""
    if argv[:1] == ("mpirun",) and LAUNCHER in argv:
        return argv[argv.index(LAUNCHER) + 1 :]
    return argv


def unaccepted_file_keys(artifacts: LaunchArtifacts, schema: LaunchSchema) -> list[str]:
    """Keys the version does not read in the YAML files the launch gives its commands (`CONFIG_FILES`), checked
    section by section where the snapshot lists the section's keys."""
    problems: list[str] = []
    for role in artifacts.roles:
        argv = _served(role.argv)
        command = schema.command_of(argv)
        if command is None:
            continue
        for flag, value in zip(argv, argv[1:], strict=False):
            section = CONFIG_FILES.get((command, flag))
            if section is not None and value in artifacts.files:
                problems += _unaccepted_keys(schema, section, yaml.safe_load(artifacts.files[value]), value, artifacts)
    return problems


def _unaccepted_keys(
    schema: LaunchSchema, section: str, tree: object, file: str, artifacts: LaunchArtifacts
) -> list[str]:
    """Keys of `tree` (the YAML `file`) the section does not read, nested sections too; a value naming another of
    the launch's files (the MoE load balancer's) is read as that section's YAML."""
    accepted = schema.config_keys.get(section)
    if isinstance(tree, str) and tree in artifacts.files:
        return _unaccepted_keys(schema, section, yaml.safe_load(artifacts.files[tree]), tree, artifacts)
    if accepted is None or not isinstance(tree, dict):
        return []
    problems = []
    for key, value in tree.items():
        if key not in accepted:
            problems.append(f"{file}: {section} has no key {key!r}")
        else:
            problems += _unaccepted_keys(schema, f"{section}.{key}", value, file, artifacts)
    return problems
