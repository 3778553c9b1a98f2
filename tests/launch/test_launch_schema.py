"""Launches are checked against each framework version's own parser: the schema snapshots read from the published
packages, and the check that refuses a flag, config key or command the version does not have."""

from __future__ import annotations

import subprocess

import pytest

from servecast.errors import PluginError
from servecast.host import PluginHost
from servecast.launch import LaunchArtifacts, RoleLaunch
from servecast.launch.schema import LaunchSchema, check_launch
from servecast.launch.write import write_launch

from .conftest import CASES, render

CHECKED = {"vllm": "servecast_vllm", "sglang": "servecast_sglang"}
EXTERNAL = ("ray start", "python benchmarks/benchmark_serving.py")
NEEDS = {"agg-pp-two-nodes": {"pp"}, "agg-moe-ep-attention-dp": {"ep", "attention_dp"}}
"""Parallel modes a case needs beyond tensor parallelism."""


def launch(host: PluginHost, framework: str, version: str, case: dict[str, object]):
    return render(host, framework=framework, framework_version=version, **case)


def modelled(host: PluginHost, framework: str):
    return host.frameworks.get(framework).versions


@pytest.mark.parametrize("framework", sorted(CHECKED))
def test_every_modelled_version_ships_a_snapshot_read_from_its_published_package(host, framework):
    for version in modelled(host, framework):
        schema = LaunchSchema.shipped(CHECKED[framework], version.version)
        assert schema is not None, f"{framework} {version.version} has no schema snapshot"
        assert (schema.framework, schema.version) == (framework, version.version)
        assert schema.packages[0].name == framework and schema.packages[0].version == version.version
        assert len(schema.packages[0].sha256) == 64


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("framework", sorted(CHECKED))
def test_every_emitted_flag_and_key_is_one_the_version_parser_accepts(host, tmp_path, framework, case):
    values, needs = CASES[case], NEEDS.get(case, set())
    launched = 0
    for version in modelled(host, framework):
        capabilities = version.capabilities
        if not needs <= {mode.value for mode in capabilities.parallel_modes} or values["mode"] not in {
            mode.value for mode in capabilities.serving_modes
        }:
            continue
        plan, artifacts = launch(host, framework, version.version, values)
        schema = LaunchSchema.shipped(CHECKED[framework], version.version)
        assert schema is not None
        for argv in (*(role.argv for role in artifacts.roles), *artifacts.benchmark):
            command = schema.command_of(argv)
            if command is None:
                assert any(" ".join(argv).startswith(prefix) for prefix in EXTERNAL), argv
                continue
            options = [item for item in argv[len(command.split()) :] if item.startswith("--")]
            assert set(options) <= schema.commands[command].flags, (version.version, command)
            assert schema.unaccepted_values(command, argv[len(command.split()) :]) == [], (version.version, command)
        folder = tmp_path / version.version
        write_launch(plan, artifacts, folder)
        for script in ("launch.sh", "benchmark.sh"):
            subprocess.run(["bash", "-n", str(folder / script)], check=True)
        launched += 1
    assert launched, f"no modelled {framework} version runs {case}"


def test_a_flag_the_version_lacks_is_refused_naming_it_and_the_package():
    schema = LaunchSchema.shipped("servecast_vllm", "0.10.2")
    role = RoleLaunch(role="agg-0", framework="vllm", version="0.10.2", gpus=1, argv=("vllm", "serve", "m", "--bogus"))
    with pytest.raises(PluginError, match=r"`vllm serve` has no --bogus .*vllm-0\.10\.2\.tar\.gz"):
        check_launch(LaunchArtifacts(roles=(role,)), schema, display_name="vLLM", version="0.10.2")


def test_a_config_key_the_version_lacks_is_refused():
    schema = LaunchSchema.shipped("servecast_vllm", "0.10.2")
    argv = ("vllm", "serve", "m", "--compilation-config", '{"cudagraph_capture_sizes": [1], "no_such_key": 1}')
    role = RoleLaunch(role="agg-0", framework="vllm", version="0.10.2", gpus=1, argv=argv)
    with pytest.raises(PluginError, match="--compilation-config has no key 'no_such_key'"):
        check_launch(LaunchArtifacts(roles=(role,)), schema, display_name="vLLM", version="0.10.2")


def test_a_flag_value_the_version_rejects_is_refused_naming_the_values_it_takes():
    schema = LaunchSchema.shipped("servecast_vllm", "0.10.2")
    argv = ("vllm", "serve", "m", "--quantization", "w4a16_awq", "--kv-cache-dtype", "bfloat16")
    role = RoleLaunch(role="agg-0", framework="vllm", version="0.10.2", gpus=1, argv=argv)
    with pytest.raises(
        PluginError, match="--quantization takes no 'w4a16_awq' \\(it takes None, auto-round, awq"
    ) as refused:
        check_launch(LaunchArtifacts(roles=(role,)), schema, display_name="vLLM", version="0.10.2")
    assert "--kv-cache-dtype takes no 'bfloat16'" in str(refused.value)  # 0.10.2 has no bfloat16 KV cache yet


def test_flags_whose_values_the_snapshot_does_not_list_take_any_value():
    schema = LaunchSchema.shipped("servecast_vllm", "0.11.0")
    assert schema is not None
    assert schema.unaccepted_values("vllm serve", ["--max-num-seqs", "anything", "--quantization", "awq_marlin"]) == []
    assert schema.accepts("vllm serve", "--port", "not-a-port")


@pytest.mark.parametrize("framework", sorted(CHECKED))
def test_every_snapshot_lists_the_quantization_and_kv_cache_values_its_version_accepts(host, framework):
    server = "vllm serve" if framework == "vllm" else "python -m sglang.launch_server"
    for version in modelled(host, framework):
        schema = LaunchSchema.shipped(CHECKED[framework], version.version)
        assert schema is not None
        choices = schema.commands[server].choices
        assert "fp8" in choices["--quantization"] and "awq" in choices["--quantization"]
        assert "auto" in choices["--kv-cache-dtype"]


def test_values_that_look_like_options_are_not_checked_as_flags():
    schema = LaunchSchema.shipped("servecast_sglang", "0.4.10")
    assert schema is not None
    options = ["--chunked-prefill-size", "-1", "--mem-fraction-static", "-0.5", "--port", "8000"]
    assert schema.unaccepted_flags("python -m sglang.launch_server", options) == []


def test_a_command_outside_the_package_is_refused_unless_declared_external():
    schema = LaunchSchema.shipped("servecast_vllm", "0.10.2")
    ray = RoleLaunch(role="ray", framework="vllm", version="0.10.2", gpus=8, argv=("ray", "start", "--head"))
    with pytest.raises(PluginError, match="`ray start --head` is not a command of the package"):
        check_launch(LaunchArtifacts(roles=(ray,)), schema, display_name="vLLM", version="0.10.2")
    checked = check_launch(
        LaunchArtifacts(roles=(ray,)), schema, display_name="vLLM", version="0.10.2", external=("ray start",)
    )
    assert any("not checked" in warning and "ray start" in warning for warning in checked.warnings)


def test_a_version_without_disaggregation_has_its_flags_refused_by_its_own_parser(host):
    _, artifacts = launch(host, "sglang", "0.4.10", CASES["disagg"])
    old = LaunchSchema.shipped("servecast_sglang", "0.3.0")
    with pytest.raises(PluginError, match="has no --disaggregation-mode") as refused:
        check_launch(artifacts, old, display_name="SGLang", version="0.3.0")
    assert "`python -m sglang_router.launch_router` is not a command of the package" in str(refused.value)


def test_sglang_0_3_writes_no_benchmark_its_client_cannot_run_at_a_concurrency(host):
    _, artifacts = launch(host, "sglang", "0.3.0", CASES["agg-replicas"])
    assert artifacts.benchmark == ()
    assert any("cannot hold a concurrency" in warning for warning in artifacts.warnings)


def test_newer_sglang_benchmarks_through_its_current_module_path(host):
    _, artifacts = launch(host, "sglang", "0.5.23", CASES["agg-replicas"])
    assert all(argv[:3] == ("python", "-m", "sglang.benchmark.serving") for argv in artifacts.benchmark)


def test_tensorrt_llm_launches_say_they_were_not_checked(host):
    _, artifacts = launch(host, "trtllm", "1.0.0", CASES["agg-replicas"])
    assert any("not checked against TensorRT-LLM 1.0.0's parser" in warning for warning in artifacts.warnings)
