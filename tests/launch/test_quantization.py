"""Quantization and KV-cache dtypes in launches: a checkpoint quantized beforehand is launched with no quantization
flag (the framework reads its config), a 16-bit checkpoint simulated under another quantization gets the value the
framework version applies at load time, and what a version cannot apply is refused when the artifacts are written;
every value is one the version's own parser (or its check after parsing) accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from servecast.domain import KvCacheDtype, Quantization
from servecast.errors import InputError
from servecast.host import PluginHost
from servecast.launch import LaunchArtifacts
from servecast.launch.plan import plan_launch
from servecast.launch.schema import LaunchSchema
from servecast.launch.write import render_launch
from servecast.models.catalog import catalog
from servecast.serving.request import EstimateRequest
from servecast_sglang.launch import QUANTIZATIONS_AT_LOAD as SGLANG_AT_LOAD
from servecast_vllm.launch import quantizations_at_load as vllm_at_load

from .conftest import request as base_request

PACKAGES = {"vllm": "servecast_vllm", "sglang": "servecast_sglang", "trtllm": "servecast_trtllm"}
SERVERS = {"vllm": "vllm serve", "sglang": "python -m sglang.launch_server"}
FIRST_LAUNCHED = {"trtllm": "1.0.0"}
"""Releases before it are launched through an engine build, which servecast does not write."""
CHECKPOINTS: dict[Quantization, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {
    Quantization.FP8: ({"quant_method": "fp8", "activation_scheme": "dynamic"}, None),
    Quantization.FP8_BLOCK: (
        {"quant_method": "fp8", "activation_scheme": "dynamic", "weight_block_size": [128, 128]},
        None,
    ),
    Quantization.W4A16_AWQ: ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True}, None),
    Quantization.W4A16_GPTQ: ({"quant_method": "gptq", "bits": 4, "group_size": 128}, None),
    Quantization.MXFP4: ({"quant_method": "mxfp4"}, None),
    Quantization.NVFP4: (None, {"quantization": {"quant_algo": "NVFP4"}}),
    Quantization.W4A8_AWQ: (None, {"quantization": {"quant_algo": "W4A8_AWQ"}}),
    Quantization.INT8_W8A8: (None, {"quantization": {"quant_algo": "INT8_SQ"}}),
    Quantization.INT8_WEIGHT_ONLY: ({"quant_method": "compressed-tensors"}, None),  # a format servecast does not read
}
"""A checkpoint declaring each quantization: its config.json quantization_config and ModelOpt hf_quant_config.json."""


def request(**values: object) -> EstimateRequest:
    return base_request(**({"concurrency": 8} | values))


def checkpoint(folder: Path, quantization: Quantization) -> str:
    """A local Qwen3-8B checkpoint declaring `quantization` (16-bit when it declares none)."""
    config = dict(catalog()["qwen/qwen3-8b"].config)
    quantization_config, modelopt = CHECKPOINTS.get(quantization, (None, None))
    if quantization_config is not None:
        config["quantization_config"] = quantization_config
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    if modelopt is not None:
        (folder / "hf_quant_config.json").write_text(json.dumps(modelopt))
    return str(folder)


def launched_versions(host: PluginHost, framework: str) -> list[str]:
    first = FIRST_LAUNCHED.get(framework)
    versions = [version.version for version in host.frameworks.get(framework).versions]
    return [v for v in versions if first is None or versions.index(v) >= versions.index(first)]


def system_for(host: PluginHost, framework: str, version: str, quantization: Quantization) -> str:
    """H100, or B200 for a quantization the version runs only on tensor cores H100 lacks (NVFP4 on FP4)."""
    capabilities = host.frameworks.get(framework).version(version).capabilities
    return "b200_sxm" if quantization in capabilities.tensor_core_only else "h100_sxm"


def value_problems(artifacts: LaunchArtifacts, schema: LaunchSchema | None) -> list[str]:
    """Every flag value the version's snapshot refuses, in every command it has a snapshot of."""
    problems: list[str] = []
    for argv in (*(role.argv for role in artifacts.roles), *artifacts.benchmark):
        command = schema.command_of(argv) if schema is not None else None
        if command is not None:
            problems += schema.unaccepted_values(command, argv[len(command.split()) :])  # type: ignore[union-attr]
    return problems


def quantization_values(artifacts: LaunchArtifacts) -> set[str]:
    return {
        argv[i + 1]
        for argv in (role.argv for role in artifacts.roles)
        for i, item in enumerate(argv)
        if item == "--quantization"
    }


def cases(host: PluginHost) -> list[tuple[str, str, Quantization]]:
    return [
        (framework, version.version, quantization)
        for framework in sorted(PACKAGES)
        for version in host.frameworks.get(framework).versions
        if version.version in launched_versions(host, framework)
        for quantization in sorted(version.capabilities.quantizations)
    ]


CASES = cases(PluginHost.from_entry_points())


@pytest.mark.parametrize(("framework", "version", "quantization"), CASES, ids=lambda value: str(value))
def test_a_16_bit_checkpoint_is_quantized_at_load_with_a_value_the_version_accepts_or_refused(
    host, tmp_path, framework, version, quantization
):
    model = checkpoint(tmp_path / "bf16", Quantization.BF16)
    system = system_for(host, framework, version, quantization)
    plan = plan_launch(
        host, request(model=model, system=system, framework=framework, framework_version=version, quant=quantization)
    )
    schema = LaunchSchema.shipped(PACKAGES[framework], version)
    try:
        artifacts = render_launch(host, plan.deployment)
    except InputError as refused:
        assert quantization.value in refused.message and "checkpoint" in refused.hint
        assert quantization not in {Quantization.BF16, Quantization.FP16}
        return
    assert value_problems(artifacts, schema) == []
    values = quantization_values(artifacts)
    if quantization in {Quantization.BF16, Quantization.FP16}:
        assert values == set()
    else:
        (value,) = values
        assert schema is not None and schema.accepts(SERVERS[framework], "--quantization", value)


@pytest.mark.parametrize(("framework", "version", "quantization"), CASES, ids=lambda value: str(value))
def test_a_checkpoint_quantized_beforehand_is_launched_with_no_quantization_flag(
    host, tmp_path, framework, version, quantization
):
    model = checkpoint(tmp_path / quantization.value, quantization)
    system = system_for(host, framework, version, quantization)
    plan = plan_launch(
        host, request(model=model, system=system, framework=framework, framework_version=version, quant=quantization)
    )
    assert plan.deployment.quantization is None
    artifacts = render_launch(host, plan.deployment)
    assert quantization_values(artifacts) == set()
    assert value_problems(artifacts, LaunchSchema.shipped(PACKAGES[framework], version)) == []


def test_internal_quantization_names_never_reach_a_command_line(host):
    plan = plan_launch(host, request(framework="vllm", framework_version="0.11.0", quant="fp8"))
    artifacts = render_launch(host, plan.deployment)
    assert quantization_values(artifacts) == {"fp8"}
    for name in ("0.6.0", "0.10.2", "0.11.0", "0.33.0"):
        schema = LaunchSchema.shipped("servecast_vllm", name)
        assert schema is not None
        for internal in ("w4a16_awq", "int8_w8a8", "fp8_block", "nvfp4", "w4a16_gptq", "int8_weight_only"):
            assert not schema.accepts("vllm serve", "--quantization", internal)


@pytest.mark.parametrize("framework", ["vllm", "sglang"])
def test_every_quantization_applied_at_load_is_a_value_the_version_lists(host, framework):
    for version in host.frameworks.get(framework).versions:
        schema = LaunchSchema.shipped(PACKAGES[framework], version.version)
        assert schema is not None
        at_load = vllm_at_load(version) if framework == "vllm" else SGLANG_AT_LOAD
        assert at_load and set(at_load) <= version.capabilities.quantizations
        for value in at_load.values():
            assert schema.accepts(SERVERS[framework], "--quantization", value), (version.version, value)


def test_vllm_quantizes_fp8_at_load_through_its_own_name_in_each_release():
    from servecast_vllm.plugin import servecast_register_frameworks

    (spec,) = servecast_register_frameworks()
    assert vllm_at_load(spec.version("0.11.0")) == {Quantization.FP8: "fp8"}
    assert vllm_at_load(spec.version("0.33.0"))[Quantization.FP8] == "fp8_per_tensor"  # `fp8` lost online mode
    assert vllm_at_load(spec.version("0.33.0"))[Quantization.FP8_BLOCK] == "fp8_per_block"


def test_a_quantized_checkpoint_is_not_launched_as_another_quantization(host):
    with pytest.raises(InputError, match="'Qwen/Qwen3-32B-FP8' is a fp8_block checkpoint") as refused:
        plan_launch(host, request(model="Qwen/Qwen3-32B-FP8", framework="vllm", tp=2, quant="w4a16_awq"))
    assert "drop --quant" in refused.value.hint


def test_tensorrt_llm_refuses_to_quantize_a_16_bit_checkpoint_at_load(host):
    plan = plan_launch(host, request(framework="trtllm", quant="fp8"))
    with pytest.raises(InputError, match="TensorRT-LLM .* cannot quantize the 16-bit checkpoint 'Qwen/Qwen3-8B'"):
        render_launch(host, plan.deployment)


def test_a_checkpoint_format_servecast_does_not_read_is_launched_as_it_is_with_a_warning(host, tmp_path):
    model = checkpoint(tmp_path / "ct", Quantization.INT8_WEIGHT_ONLY)
    plan = plan_launch(host, request(model=model, framework="vllm", framework_version="0.33.0", quant="int8_w8a8"))
    assert plan.deployment.quantization is None
    assert any("'compressed-tensors'" in warning for warning in plan.warnings)


@pytest.mark.parametrize("framework", sorted(PACKAGES))
def test_every_kv_cache_dtype_a_version_lists_launches_with_a_value_it_accepts(host, framework):
    for name in launched_versions(host, framework):
        version = host.frameworks.get(framework).version(name)
        schema = LaunchSchema.shipped(PACKAGES[framework], name)
        for dtype in sorted(version.capabilities.kv_cache_dtypes):
            plan = plan_launch(host, request(framework=framework, framework_version=name, kv_cache_dtype=dtype))
            artifacts = render_launch(host, plan.deployment)
            assert value_problems(artifacts, schema) == [], (name, dtype)
            if dtype is KvCacheDtype.FP8 and framework != "trtllm":
                assert any("--kv-cache-dtype" in role.argv for role in artifacts.roles)
