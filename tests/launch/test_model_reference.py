"""The model a launch serves and benchmarks is the one the user named: a local checkpoint folder by its path (not the
id its config.json calls itself), a catalog alias as the alias, each reaching the framework as one word, literally
(braces that look like servecast's own placeholders included)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from servecast.cli import cli
from servecast.launch import LaunchArtifacts
from servecast.launch.plan import plan_launch
from servecast.launch.write import render_launch, write_launch
from servecast.models.catalog import catalog

from .conftest import request

OTHER_CHECKPOINT = "Qwen/Qwen3-14B"
"""What the local folder's config.json says it was saved from: a different checkpoint, which must not be served."""


@pytest.fixture
def local_model(tmp_path: Path) -> Path:
    """A local Qwen3-8B checkpoint folder, named with a space and a quote, whose `_name_or_path` is another model."""
    folder = tmp_path / "my models" / "qwen3-8b 'ft'"
    folder.mkdir(parents=True)
    config = dict(catalog()["qwen/qwen3-8b"].config) | {"_name_or_path": OTHER_CHECKPOINT}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def model_arguments(framework: str, artifacts: LaunchArtifacts) -> list[str]:
    """The model each server loads and each benchmark client names, in the order the artifacts list them."""
    found = []
    for role in artifacts.roles:
        argv = list(role.argv)
        if framework == "vllm" and "serve" in argv and "--port" in argv:
            found.append(argv[argv.index("serve") + 1])
        elif framework == "sglang" and "--model-path" in argv:
            found.append(argv[argv.index("--model-path") + 1])
        elif framework == "trtllm" and "trtllm-serve" in argv and "disaggregated" not in argv:
            found.append(argv[argv.index("trtllm-serve") + 1])
    found += [argv[list(argv).index("--model") + 1] for argv in artifacts.benchmark]
    return found


@pytest.mark.parametrize("framework", ["vllm", "sglang", "trtllm"])
def test_a_local_model_folder_is_launched_by_its_path_not_the_name_its_config_gives(host, local_model, framework):
    plan = plan_launch(host, request(model=str(local_model), framework=framework, tp=2, replicas=2, concurrency=16))
    artifacts = render_launch(host, plan.deployment)
    launched = model_arguments(framework, artifacts)
    assert launched and set(launched) == {str(local_model)}  # two servers, two benchmark clients
    everything = json.dumps([role.argv for role in artifacts.roles]) + json.dumps(artifacts.benchmark)
    assert OTHER_CHECKPOINT not in everything and plan.deployment.model == str(local_model)


def test_a_relative_model_path_or_its_config_json_launches_the_folder_by_its_absolute_path(
    host, local_model, monkeypatch
):
    monkeypatch.chdir(local_model.parent)
    for reference in (local_model.name, f"{local_model.name}/config.json", f"./{local_model.name}"):
        plan = plan_launch(host, request(model=reference, framework="vllm", tp=1, concurrency=8))
        assert plan.deployment.model == str(local_model)


def test_the_launched_local_path_reaches_the_framework_as_one_argument(host, local_model, tmp_path):
    plan = plan_launch(host, request(model=str(local_model), framework="vllm", tp=1, concurrency=8))
    artifacts = render_launch(host, plan.deployment)
    write_launch(plan, artifacts, tmp_path / "deploy")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "vllm").write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$(dirname "$0")/argv.txt"\n')
    (stubs / "vllm").chmod(0o755)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"}
    subprocess.run(["bash", str(tmp_path / "deploy" / "launch.sh")], check=True, env=env)
    assert (stubs / "argv.txt").read_text().splitlines()[:2] == ["serve", str(local_model)]


def test_generate_serves_the_local_folder_given_on_the_command_line(local_model, tmp_path):
    args = ["generate", "--model", str(local_model), "--system", "h100_sxm", "--framework", "sglang"]
    args += ["--isl", "1000", "--osl", "100", "--concurrency", "8", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "out" / "deployment.json").read_text())
    assert document["deployment"]["model"] == str(local_model)
    (server,) = document["roles"]
    assert server["argv"][server["argv"].index("--model-path") + 1] == str(local_model)


@pytest.mark.parametrize(
    ("reference", "launched"),
    [
        ("Qwen/Qwen3-8B-Base", "Qwen/Qwen3-8B-Base"),  # an alias sharing Qwen3-8B's architecture, not Qwen3-8B
        ("qwen/qwen3-8b-base", "Qwen/Qwen3-8B-Base"),  # the catalog's spelling of the same name
        ("Qwen/Qwen3-8B", "Qwen/Qwen3-8B"),
    ],
)
def test_a_catalog_alias_is_launched_as_the_checkpoint_the_user_named(host, reference, launched):
    plan = plan_launch(host, request(model=reference, framework="vllm", tp=1, concurrency=8))
    assert plan.deployment.model == launched
    artifacts = render_launch(host, plan.deployment)
    assert model_arguments("vllm", artifacts) == [launched, launched]


@pytest.fixture
def braced_model(tmp_path: Path) -> Path:
    """A local Qwen3-32B checkpoint folder whose path holds servecast placeholders and a command substitution."""
    folder = tmp_path / "models" / "{HEAD_ADDR}" / "q $(touch PWNED) {NODE2_ADDR}{{VLLM_SOURCE}}"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(catalog()["qwen/qwen3-32b"].config))
    return folder


def started_argv(log: Path) -> list[list[str]]:
    """Each command the stubs logged, as the argv it received."""
    calls = log.read_text().split("\0--\0")
    return [call.split("\0")[:-1] for call in calls if call]


@pytest.mark.parametrize("framework", ["vllm", "sglang", "trtllm"])
def test_placeholders_and_substitutions_in_a_model_path_reach_the_framework_literally(
    host, braced_model, tmp_path, framework
):
    values = {"model": str(braced_model), "framework": framework, "tp": 8, "pp": 2, "replicas": 2}
    plan = plan_launch(host, request(**values, isl=1000, osl=100, concurrency=64))
    artifacts = render_launch(host, plan.deployment)
    folder = tmp_path / "deploy"
    write_launch(plan, artifacts, folder)
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for program in ("mpirun", "ray", "vllm", "python", "trtllm-serve", "curl"):
        (stubs / program).write_text('#!/usr/bin/env bash\nprintf "%s\\0" "$0" "$@" -- >> "$STARTED"\n')
        (stubs / program).chmod(0o755)
    log = tmp_path / "started.log"
    addresses = {"HEAD_ADDR": "10.0.0.1", "NODE1_ADDR": "10.0.0.2", "NODE2_ADDR": "10.0.0.3", "NODE3_ADDR": "10.0.0.4"}
    env = {**os.environ, **addresses, "PATH": f"{stubs}:{os.environ['PATH']}", "STARTED": str(log)}
    for node in range(artifacts.node_count):
        subprocess.run(["bash", str(folder / "launch.sh"), str(node)], check=True, env=env, capture_output=True)
    launched = [item for argv in started_argv(log) for item in argv if braced_model.name in item]
    log.unlink()
    subprocess.run(["bash", str(folder / "benchmark.sh")], check=True, env=env, capture_output=True)
    benchmarked = [argv[argv.index("--model") + 1] for argv in started_argv(log) if "--model" in argv]
    assert len(launched) >= 2 and set(launched) == {str(braced_model)}  # a server per instance, one word each
    assert benchmarked == [str(braced_model)] * 2
    assert not list(tmp_path.rglob("PWNED"))
    benchmark = (folder / "benchmark.sh").read_text()
    assert "set HEAD_ADDR" not in benchmark and "set VLLM_SOURCE" not in benchmark + (folder / "launch.sh").read_text()
