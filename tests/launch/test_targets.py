"""Launch targets: compose files and Kubernetes manifests validate against their schema snapshots, name the right
kind, and carry exactly the simulated configuration; what a target cannot express is refused, saying why."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from servecast.cli import cli
from servecast.errors import InputError
from servecast.launch.manifest_schema import ManifestSchema, closed
from servecast.launch.plan import LaunchPlan, plan_launch
from servecast.launch.targets import LaunchTarget, render_target
from servecast.launch.write import write_launch

from .conftest import CASES, render, request, target_of
from .test_multi_node import LAYOUTS as MULTI_NODE_LAYOUTS

K8S = {
    LaunchTarget.DYNAMO: ("dynamo.yaml", "dynamo-graph-deployment", "DynamoGraphDeployment"),
    LaunchTarget.KSERVE: ("kserve.yaml", "kserve-llminferenceservice", "LLMInferenceService"),
}
SUPPORTED = [
    (framework, case, target)
    for case in ("agg-replicas", "disagg", "agg-moe-ep-attention-dp")
    for framework in ("vllm", "sglang", "trtllm")
    for target in LaunchTarget
    if target not in (LaunchTarget.LLM_D, LaunchTarget.KSERVE) or framework == "vllm"
]


def documents(text: str) -> list[Any]:
    return [document for document in yaml.safe_load_all(text) if document is not None]


def output_of(host, framework: str, case: str, target: LaunchTarget) -> tuple[LaunchPlan, dict[str, str]]:
    plan, artifacts = render(host, framework=framework, **CASES[case])
    output = render_target(target, plan, artifacts)
    return plan, {str(path): text for path, text in output.files.items()}


def flag_value(args: list[str], flag: str) -> str | None:
    return next((value for option, value in zip(args, args[1:], strict=False) if option == flag), None)


@pytest.mark.parametrize(("framework", "case", "target"), SUPPORTED, ids=lambda v: str(v))
def test_every_target_file_fits_its_schema_and_every_script_parses(host, framework, case, target):
    _, files = output_of(host, framework, case, target)
    for name, text in files.items():
        if name.endswith(".sh"):
            subprocess.run(["bash", "-n"], input=text, text=True, check=True)
    if target is LaunchTarget.COMPOSE:
        (compose,) = documents(files["compose.yaml"])
        assert ManifestSchema.shipped("compose-spec").problems(compose) == []
    elif target is LaunchTarget.LLM_D:
        (values,) = documents(files["llm-d-values.yaml"])
        assert ManifestSchema.shipped("llm-d-modelservice-values").problems(values) == []
    elif target in K8S:
        name, snapshot, kind = K8S[target]
        resources = [document for document in documents(files[name]) if document["kind"] == kind]
        assert len(resources) == 1
        assert ManifestSchema.shipped(snapshot).problems(resources[0]) == []


def _gpu_count(resources: dict[str, Any]) -> int:
    limits = resources["limits"]
    return int(limits.get("gpu") or limits.get("nvidia.com/gpu"))


@pytest.mark.parametrize("framework", ["vllm", "sglang", "trtllm"])
@pytest.mark.parametrize("case", ["agg-replicas", "disagg"])
def test_a_dynamo_graph_runs_the_simulated_workers_gpus_and_batch_limits(host, framework, case):
    plan, files = output_of(host, framework, case, LaunchTarget.DYNAMO)
    (graph,) = [document for document in documents(files["dynamo.yaml"]) if document["kind"] == "DynamoGraphDeployment"]
    configs = next((d["data"] for d in documents(files["dynamo.yaml"]) if d["kind"] == "ConfigMap"), {})
    workers = {name: service for name, service in graph["spec"]["services"].items() if name != "Frontend"}
    assert graph["spec"]["services"]["Frontend"]["componentType"] == "frontend"
    gpus = sum(_gpu_count(service["resources"]) * service["replicas"] for service in workers.values())
    assert gpus == plan.deployment.gpus
    for group in plan.deployment.workers:
        service = workers[f"{group.role.value.capitalize()}Worker"]
        assert service["replicas"] == group.replicas
        args = service["extraPodSpec"]["mainContainer"]["args"]
        if group.role.value != "agg":
            assert service["subComponentType"] == group.role.value
            assert flag_value(args, "--disaggregation-mode") == group.role.value
        if framework == "trtllm":  # the wrapper takes no TensorRT-LLM flags: all of it is in the engine YAML
            engine = yaml.safe_load(configs[flag_value(args, "--extra-engine-args").rsplit("/", 1)[-1]])
            assert engine["tensor_parallel_size"] == group.layout.tp * group.layout.attention_dp
            assert engine["max_batch_size"] == group.knobs["max_batch_size"]
        elif framework == "vllm":
            assert flag_value(args, "--tensor-parallel-size") == str(group.layout.tp)
            assert flag_value(args, "--max-num-seqs") == str(group.knobs["max_num_seqs"])
            assert "--port" not in args and "--host" not in args
        else:
            assert flag_value(args, "--tp-size") == str(group.layout.tp)
            assert flag_value(args, "--max-running-requests") == str(group.knobs["max_running_requests"])
            if group.role.value != "agg":
                assert flag_value(args, "--disaggregation-transfer-backend") == "nixl"


@pytest.mark.parametrize("case", ["agg-replicas", "disagg"])
def test_kserve_and_llmd_carry_the_simulated_replicas_parallelism_and_batch_limit(host, case):
    plan, files = output_of(host, "vllm", case, LaunchTarget.KSERVE)
    (service,) = documents(files["kserve.yaml"])
    _, llmd = output_of(host, "vllm", case, LaunchTarget.LLM_D)
    (values,) = documents(llmd["llm-d-values.yaml"])
    pools = {"decode": (service["spec"], values["decode"]), "agg": (service["spec"], values["decode"])}
    if "prefill" in service["spec"]:
        pools["prefill"] = (service["spec"]["prefill"], values["prefill"])
    for group in plan.deployment.workers:
        workload, pool = pools[group.role.value]
        (container,) = workload["template"]["containers"]
        assert container["name"] == "main"
        assert workload["replicas"] == pool["replicas"] == group.replicas
        assert workload["parallelism"]["tensor"] == pool["parallelism"]["tensor"] == group.layout.tp
        assert _gpu_count(container["resources"]) == group.layout.gpus
        for args in (container["args"], pool["containers"][0]["args"]):
            assert flag_value(args, "--max-num-seqs") == str(group.knobs["max_num_seqs"])
            assert "--port" not in args and "--tensor-parallel-size" not in args
            if group.role.value != "agg":
                assert json.loads(flag_value(args, "--kv-transfer-config"))["kv_connector"] == "NixlConnector"
    assert values["routing"]["proxy"]["enabled"] is (case == "disagg")


@pytest.mark.parametrize("framework", ["vllm", "sglang", "trtllm"])
@pytest.mark.parametrize("case", ["agg-replicas", "disagg"])
def test_a_compose_service_runs_each_process_with_its_own_gpus_and_command(host, framework, case):
    plan, artifacts = render(host, framework=framework, **CASES[case])
    output = render_target(LaunchTarget.COMPOSE, plan, artifacts)
    (compose,) = documents(output.files[PurePosixPath("compose.yaml")])
    services = compose["services"]
    for role in artifacts.roles:
        service = services[role.role]
        assert service["image"] == plan.deployment.image
        devices = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [{}])
        assert len(devices[0].get("device_ids", [])) == role.gpus
        assert "CUDA_VISIBLE_DEVICES" not in service["environment"]
        if not role.requires:
            assert [*service["entrypoint"], *service["command"]] == list(role.argv)
    assert sum(1 for name in services if name.startswith("benchmark-")) == len(artifacts.benchmark)
    assert all(services[name]["profiles"] == ["benchmark"] for name in services if name.startswith("benchmark-"))


def test_compose_escapes_dollars_so_a_model_path_is_never_interpolated(host):
    plan, artifacts = render(host, framework="vllm", **CASES["agg-replicas"])
    hostile = artifacts.model_copy(
        update={"roles": tuple(role.model_copy(update={"env": {**role.env, "X": "$HOME"}}) for role in artifacts.roles)}
    )
    text = render_target(LaunchTarget.COMPOSE, plan, hostile).files[PurePosixPath("compose.yaml")]
    (compose,) = documents(text)
    assert compose["services"]["agg-0"]["environment"]["X"] == "$$HOME"


@pytest.mark.parametrize("target", [LaunchTarget.LLM_D, LaunchTarget.KSERVE])
def test_vllm_only_targets_refuse_another_framework_naming_the_alternatives(host, target):
    plan, artifacts = render(host, framework="sglang", **CASES["agg-replicas"])
    with pytest.raises(InputError, match="runs vLLM, not sglang") as error:
        render_target(target, plan, artifacts)
    assert "--target dynamo" in error.value.hint


@pytest.mark.parametrize("target", [LaunchTarget.COMPOSE, LaunchTarget.LLM_D, LaunchTarget.KSERVE])
def test_a_worker_over_two_nodes_is_refused_by_the_targets_that_cannot_place_it(host, target):
    plan, artifacts = render(host, framework="vllm", **CASES["agg-pp-two-nodes"])
    with pytest.raises(InputError, match="node"):
        render_target(target, plan, artifacts)


@pytest.mark.parametrize("framework", ["vllm", "sglang", "trtllm"])
def test_a_dynamo_worker_over_two_nodes_leaves_joining_them_to_the_operator(host, framework):
    plan, files = output_of(host, framework, "agg-pp-two-nodes", LaunchTarget.DYNAMO)
    graph = next(d for d in documents(files["dynamo.yaml"]) if d["kind"] == "DynamoGraphDeployment")
    assert ManifestSchema.shipped("dynamo-graph-deployment").problems(graph) == []
    worker = graph["spec"]["services"]["AggWorker"]
    assert worker["multinode"] == {"nodeCount": 2}
    assert worker["resources"]["limits"]["gpu"] == "8"  # per node: 16 GPUs over two
    args = worker["extraPodSpec"]["mainContainer"]["args"]
    joins = {"--distributed-executor-backend", "--nnodes", "--node-rank", "--dist-init-addr", "--headless"}
    assert not joins & set(args) and not any("{" in item for item in args)


def test_a_local_checkpoint_is_refused_by_kubernetes_targets(host):
    plan, artifacts = render(host, framework="vllm", **CASES["agg-replicas"])
    local = plan.deployment.model_copy(update={"model": "/models/qwen3-8b"})
    with pytest.raises(InputError, match="local folder"):
        render_target(LaunchTarget.KSERVE, replace(plan, deployment=local), artifacts)


def test_dynamo_refuses_a_version_its_images_do_not_run_unless_an_image_is_named(host):
    old = plan_launch(host, request(framework="vllm", framework_version="0.11.0", tp=2, concurrency=8))
    artifacts = host.launch_config(old.deployment, target_of(old.deployment))
    with pytest.raises(InputError, match=r"runs vllm 0\.26\.0") as error:
        render_target(LaunchTarget.DYNAMO, old, artifacts)
    assert "--framework-version 0.26.0" in error.value.hint
    named = plan_launch(host, request(framework="vllm", framework_version="0.11.0", tp=2, concurrency=8), "my/dynamo:1")
    output = render_target(LaunchTarget.DYNAMO, named, artifacts)
    assert "image: my/dynamo:1" in output.files[PurePosixPath("dynamo.yaml")]


def test_a_closed_schema_makes_unknown_fields_errors_except_where_kubernetes_keeps_them():
    schema = ManifestSchema.shipped("kserve-llminferenceservice")
    service = {"apiVersion": schema.api_version, "kind": schema.kind, "metadata": {"name": "x"}}
    assert schema.problems({**service, "spec": {"model": {"uri": "hf://a/b"}}}) == []
    assert any(
        "bogus" in problem
        for problem in schema.problems({**service, "spec": {"model": {"uri": "hf://a/b"}, "bogus": 1}})
    )
    opened = closed(
        {
            "type": "object",
            "properties": {"a": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {}}},
        }
    )
    assert opened["additionalProperties"] is False and "additionalProperties" not in opened["properties"]["a"]


def test_every_snapshot_names_where_it_was_read():
    for name in ("compose-spec", "dynamo-graph-deployment", "kserve-llminferenceservice", "llm-d-modelservice-values"):
        schema = ManifestSchema.shipped(name)
        assert len(schema.source.commit) == 40 and len(schema.source.sha256) == 64
        assert schema.source.repository in schema.provenance


def test_deployment_json_records_the_target_and_the_schemas_it_was_checked_against(host, tmp_path):
    plan, artifacts = render(host, framework="vllm", **CASES["disagg"])
    write_launch(plan, artifacts, tmp_path, target=LaunchTarget.KSERVE)
    document = json.loads((tmp_path / "deployment.json").read_text())
    assert document["target"] == "kserve"
    assert "kserve/kserve" in document["checked_against"][0]
    assert sorted(document["files"]) == ["benchmark.sh", "kserve.yaml"]


def test_generate_writes_the_target_and_from_keeps_it(tmp_path):
    flags = ["--model", "Qwen/Qwen3-8B", "--system", "h100_sxm", "--framework", "vllm", "--isl", "2000", "--osl", "200"]
    runner = CliRunner()
    first = runner.invoke(
        cli,
        ["generate", *flags, "--tp", "2", "--concurrency", "16", "--target", "dynamo", "--out", str(tmp_path / "a")],
    )
    assert first.exit_code == 0, first.output
    assert (tmp_path / "a" / "dynamo.yaml").exists() and not (tmp_path / "a" / "launch.sh").exists()
    again = runner.invoke(
        cli, ["generate", "--from", str(tmp_path / "a" / "deployment.json"), "--out", str(tmp_path / "b")]
    )
    assert again.exit_code == 0, again.output
    assert (tmp_path / "b" / "dynamo.yaml").read_text() == (tmp_path / "a" / "dynamo.yaml").read_text()
    refused = runner.invoke(
        cli,
        [
            "generate",
            *flags,
            "--framework",
            "sglang",
            "--tp",
            "2",
            "--concurrency",
            "16",
            "--target",
            "kserve",
            "--out",
            str(tmp_path / "c"),
        ],
    )
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert not (tmp_path / "c").exists()


def test_search_writes_each_recommended_configuration_for_the_target(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "search", "--model", "Qwen/Qwen3-8B", "--system", "h100_sxm", "--gpus", "8", "--isl", "2000",
            "--osl", "200", "--frameworks", "vllm", "--modes", "agg", "--top", "1", "--save-dir", str(tmp_path),
            "--target", "kserve",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (config,) = (tmp_path / "configs").iterdir()
    (service,) = documents((config / "kserve.yaml").read_text())
    assert service["kind"] == "LLMInferenceService"
    assert json.loads((config / "deployment.json").read_text())["target"] == "kserve"


@pytest.mark.parametrize("layout", sorted(MULTI_NODE_LAYOUTS))
@pytest.mark.parametrize("framework", ["vllm", "sglang", "trtllm"])
def test_every_multi_node_layout_becomes_a_valid_dynamo_graph_of_the_same_gpus(host, framework, layout):
    values = {"model": "Qwen/Qwen3-32B", "framework": framework, "isl": 1000, "osl": 100, **MULTI_NODE_LAYOUTS[layout]}
    plan = plan_launch(host, request(**values))
    artifacts = host.launch_config(plan.deployment, target_of(plan.deployment))
    output = render_target(LaunchTarget.DYNAMO, plan, artifacts)
    graph = next(
        d for d in documents(output.files[PurePosixPath("dynamo.yaml")]) if d["kind"] == "DynamoGraphDeployment"
    )
    assert ManifestSchema.shipped("dynamo-graph-deployment").problems(graph) == []
    workers = [service for name, service in graph["spec"]["services"].items() if name != "Frontend"]
    gpus = sum(
        int(service["resources"]["limits"]["gpu"])
        * service.get("multinode", {}).get("nodeCount", 1)
        * service["replicas"]
        for service in workers
    )
    assert gpus == plan.deployment.gpus


def test_a_dynamo_engine_reads_its_moe_load_balancer_file_from_the_same_config_map(host):
    values = {"framework": "trtllm", "isl": 1000, "osl": 100, **MULTI_NODE_LAYOUTS["disagg-wide-ep"]}
    plan = plan_launch(host, request(**values))
    artifacts = host.launch_config(plan.deployment, target_of(plan.deployment))
    output = render_target(LaunchTarget.DYNAMO, plan, artifacts)
    (config,) = [d for d in documents(output.files[PurePosixPath("dynamo.yaml")]) if d["kind"] == "ConfigMap"]
    decode = yaml.safe_load(config["data"]["engine-decode.yaml"])
    path = decode["moe_config"]["load_balancer"]
    assert path.startswith("/config/") and yaml.safe_load(config["data"][path.removeprefix("/config/")]) == {
        "num_slots": 144
    }
