"""Launch artifacts: every framework's scripts parse, launch exactly the simulated configuration, quote every
value, and never overwrite without --force."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace

import pytest
from click.testing import CliRunner

from servecast.cli import cli
from servecast.launch.artifacts import Endpoint, LaunchArtifacts, RoleLaunch, literal
from servecast.launch.plan import plan_launch
from servecast.launch.shell import placeholders, shell_command, shell_word
from servecast.launch.write import write_launch

from .conftest import CASES, render, request, target_of

HOSTILE = "my model $(touch PWNED) `touch PWNED` \"q\" 'q'; rm -rf /"
CONFIGS = [
    {"framework": framework, **CASES[case]}
    for case in ("agg-replicas", "disagg")
    for framework in ("vllm", "sglang", "trtllm")
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c['framework']}-{c['mode']}")
def test_artifacts_parse_and_launch_exactly_the_simulated_configuration(host, tmp_path, config):
    plan, artifacts = render(host, **config)
    write_launch(plan, artifacts, tmp_path)
    for script in ("launch.sh", "benchmark.sh"):
        subprocess.run(["bash", "-n", str(tmp_path / script)], check=True)
    document = json.loads((tmp_path / "deployment.json").read_text())
    workers = [role for role in document["roles"] if role["role"] != "router"]
    assert sum(role["gpus"] for role in workers) == plan.estimate.metrics.num_gpus
    assert document["predicted"]["tokens_per_s_per_gpu"] == pytest.approx(plan.estimate.metrics.tokens_per_s_per_gpu)
    assert document["configuration"]["framework"] == config["framework"]
    for role in workers:
        devices = role["env"]["CUDA_VISIBLE_DEVICES"].split(",")
        assert len(devices) == role["gpus"]
    if config["mode"] == "disagg":
        decode = next(group for group in plan.deployment.workers if group.role.value == "decode")
        assert 48 in decode.knobs.values()  # the simulated decode batch is the decode workers' batch limit
        assert any(role["role"] == "router" for role in document["roles"])
    else:
        (group,) = plan.deployment.workers
        assert group.replicas == 2 and 32 in group.knobs.values()  # 64 users over 2 replicas


@pytest.mark.parametrize("framework", ["vllm", "sglang", "trtllm"])
def test_a_hostile_model_path_reaches_the_framework_as_one_inert_argument(host, tmp_path, framework):
    plan = plan_launch(host, request(framework=framework, tp=1, concurrency=8))
    deployment = plan.deployment.model_copy(update={"model": HOSTILE})
    artifacts = host.launch_config(deployment, target_of(deployment))
    folder = tmp_path / "deploy"
    write_launch(replace(plan, deployment=deployment), artifacts, folder)
    stubs = tmp_path / "bin"
    stubs.mkdir()
    command = artifacts.roles[0].argv[0]
    (stubs / command).write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$(dirname "$0")/argv.txt"\n')
    (stubs / command).chmod(0o755)
    subprocess.run(
        ["bash", str(folder / "launch.sh")],
        check=True,
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"},
    )
    assert (stubs / "argv.txt").read_text().splitlines() == list(artifacts.roles[0].argv[1:])
    assert not list(tmp_path.rglob("PWNED"))


def test_only_declared_placeholders_expand_in_a_command():
    line = shell_command(["serve", "{HEAD_ADDR}:5000", "{HOME}", "$(id)"], {"A": "1"}, variables={"HEAD_ADDR"})
    assert line == "env A=1 serve \"$HEAD_ADDR\":5000 '{HOME}' '$(id)'"


@pytest.mark.parametrize(
    "text", ["/m/{HEAD_ADDR}/x", "{{HEAD_ADDR}}", "{{{NODE1_ADDR}}}", "a{b}{HOME}$(id) '{\"k\": {}}'", "{", ""]
)
def test_user_text_passed_through_literal_never_expands(text):
    variables = {"HEAD_ADDR", "NODE1_ADDR", "HOME"}
    item = literal(text) + "@{HEAD_ADDR}"  # user text, then a placeholder servecast put there
    assert placeholders(item) == ["HEAD_ADDR"]
    word = shell_word(item, variables)
    echoed = subprocess.run(
        ["bash", "-c", f"printf %s {word}"], capture_output=True, text=True, env={**os.environ, "HEAD_ADDR": "10.0.0.1"}
    )
    assert echoed.stdout == f"{text}@10.0.0.1"


def test_generate_writes_re_renders_from_deployment_json_and_refuses_to_overwrite(tmp_path):
    runner = CliRunner()
    flags = [
        "--model",
        "Qwen/Qwen3-8B",
        "--system",
        "h100_sxm",
        "--framework",
        "vllm",
        "--isl",
        "2000",
        "--osl",
        "200",
        "--concurrency",
        "16",
        "--tp",
        "2",
    ]
    first = runner.invoke(cli, ["generate", *flags, "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    again = runner.invoke(cli, ["generate", *flags, "--out", str(tmp_path / "a")])
    assert again.exit_code == 2 and "--force" in again.output
    rerendered = runner.invoke(
        cli, ["generate", "--from", str(tmp_path / "a" / "deployment.json"), "--out", str(tmp_path / "b")]
    )
    assert rerendered.exit_code == 0, rerendered.output
    assert (tmp_path / "a" / "launch.sh").read_text() == (tmp_path / "b" / "launch.sh").read_text()


def test_search_save_dir_writes_launch_artifacts_per_recommended_configuration(tmp_path):
    args = [
        "search",
        "--model",
        "Qwen/Qwen3-8B",
        "--system",
        "h100_sxm",
        "--gpus",
        "4",
        "--isl",
        "2000",
        "--osl",
        "200",
        "--save-dir",
        str(tmp_path),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    folders = sorted((tmp_path / "configs").iterdir())
    assert len(folders) >= 6
    for folder in folders:
        assert (folder / "launch.sh").exists(), folder.name
        subprocess.run(["bash", "-n", str(folder / "launch.sh")], check=True)
        row = json.loads((folder / "config.json").read_text())
        document = json.loads((folder / "deployment.json").read_text())
        assert document["deployment"]["framework"] == row["framework"]
        gpus = sum(role["gpus"] for role in document["roles"] if role["role"] != "router")
        assert gpus == row["num_gpus"]


def test_vllm_v0_launch_limits_reach_the_flags_and_its_start_up_chunking_rule_needs_none(tmp_path):
    args = ["generate", "--model", "meta-llama/Llama-3.1-70B", "--system", "h100_sxm", "--framework", "vllm"]
    args += ["--framework-version", "0.6.0", "--isl", "225", "--osl", "194", "--concurrency", "48", "--tp", "4"]
    args += ["--max-model-len", "4096", "--scheduler-steps", "10", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (worker,) = [role for role in json.loads((tmp_path / "deployment.json").read_text())["roles"]]
    argv = worker["argv"]
    assert argv[argv.index("--max-model-len") + 1] == "4096"
    assert argv[argv.index("--num-scheduler-steps") + 1] == "10"
    assert "--enable-chunked-prefill" not in argv  # 0.6.0 turns it off itself at a 4K context; it has no --no- form
    subprocess.run(["bash", "-n", str(tmp_path / "launch.sh")], check=True)


def test_a_bare_endpoint_port_is_one_on_the_head_node_reached_at_localhost():
    role = RoleLaunch(role="agg-0", framework="vllm", version="0.11.0", gpus=1, argv=("vllm", "serve", "m"))
    artifacts = LaunchArtifacts(roles=(role,), endpoints=(8000, Endpoint(port=8101, node=2)))
    assert artifacts.endpoints == (Endpoint(port=8000, node=0), Endpoint(port=8101, node=2))
    assert [endpoint.host for endpoint in artifacts.endpoints] == ["localhost", "{NODE2_ADDR}"]


def test_generate_says_that_no_launch_flag_selects_the_simulated_expert_quantization(tmp_path):
    from click.testing import CliRunner

    from servecast.cli import cli

    args = ["generate", "--model", "Qwen/Qwen3-30B-A3B", "--system", "h100_sxm", "--framework", "vllm"]
    args += ["--isl", "1000", "--osl", "100", "--concurrency", "8", "--moe-quant", "fp8", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "note: the routed experts were simulated in fp8 (--moe-quant)" in result.stderr
    deployment = json.loads((tmp_path / "deployment.json").read_text())
    assert any("--moe-quant" in warning for warning in deployment["warnings"])
