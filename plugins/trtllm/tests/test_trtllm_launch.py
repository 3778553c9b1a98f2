"""TensorRT-LLM launches run checkpoints quantized beforehand: nothing is quantized at load time, and a KV-cache
dtype the PyTorch backend lacks is refused instead of crashing. Every launch is checked against its version's schema
snapshot (flags, also under mpirun, and the keys of its YAML files section by section), or says it is unverified."""

import json
import re
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from servecast.domain import KvCacheDtype, Quantization
from servecast.errors import InputError, PluginError
from servecast.host import PluginHost
from servecast.launch import LaunchArtifacts
from servecast.launch.plan import LaunchPlan, plan_launch
from servecast.launch.schema import LaunchSchema
from servecast.launch.write import render_launch, write_launch
from servecast.serving.request import EstimateRequest
from servecast.testing import single_instance
from servecast_trtllm.launch import CONFIG_FILES, TRTLLM_SERVE, checked, launch_artifacts
from servecast_trtllm.plugin import servecast_register_frameworks


def artifacts(**values):
    (spec,) = servecast_register_frameworks()
    return launch_artifacts(single_instance("trtllm", "1.0.0", **values), spec.version("1.0.0"))


@pytest.mark.parametrize("quantization", [Quantization.FP8, Quantization.W4A16_AWQ, Quantization.NVFP4])
def test_a_16_bit_checkpoint_is_not_quantized_at_load(quantization):
    with pytest.raises(InputError, match=f"cannot quantize the 16-bit checkpoint 'Qwen/Qwen3-8B' to {quantization}"):
        artifacts(quantization=quantization)


def test_16_bit_checkpoints_and_supported_kv_caches_launch():
    launched = artifacts(quantization=Quantization.BF16, kv_cache_dtype=KvCacheDtype.FP8)
    assert "dtype: fp8" in launched.files["extra-llm-api-agg-0.yml"]
    with pytest.raises(InputError, match="no int8 KV cache"):
        artifacts(kv_cache_dtype=KvCacheDtype.INT8)


# ------------------------------------------------------------------------------------------------ schema checks

MOE = "Qwen/Qwen3-30B-A3B"
LAUNCHES: dict[str, dict[str, object]] = {
    "aggregated": {"mode": "agg", "tp": 2, "replicas": 2, "concurrency": 64},
    "disaggregated": {"mode": "disagg", "prefill_workers": 2, "decode_workers": 1, "decode_tp": 2, "concurrency": 64},
    "attention-dp-ep": {"model": MOE, "mode": "agg", "tp": 1, "dp": 4, "ep": 4, "concurrency": 128},
    "multi-node": {"model": "Qwen/Qwen3-32B", "mode": "agg", "tp": 8, "pp": 2, "concurrency": 64},
    "wide-ep-eplb": {
        **{"model": MOE, "mode": "disagg", "prefill_dp": 16, "prefill_ep": 16, "prefill_moe_all_to_all": True},
        **{"decode_dp": 24, "decode_ep": 24, "decode_redundant_experts": 16, "decode_moe_all_to_all": True},
        "concurrency": 512,
    },
}
"""Every kind of launch the plugin writes: replicas, context/generation pools behind `trtllm-serve disaggregated`,
attention DP with expert parallelism, an instance over two nodes (`mpirun ... trtllm-llmapi-launch`), and wide EP
with EPLB's redundant expert slots."""


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.from_entry_points()


def launched_versions(host: PluginHost) -> list[str]:
    versions = host.frameworks.get("trtllm").versions
    return [v.version for v in versions if Version(v.version) >= TRTLLM_SERVE]


def launch(host: PluginHost, version: str, case: str) -> tuple[LaunchPlan, LaunchArtifacts]:
    values = {"model": "Qwen/Qwen3-8B", "system": "h100_sxm", "isl": 2000, "osl": 200, "framework": "trtllm"}
    plan = plan_launch(host, EstimateRequest.parse(values | {"framework_version": version} | LAUNCHES[case]))
    return plan, render_launch(host, plan.deployment)


@pytest.mark.parametrize("case", sorted(LAUNCHES))
def test_every_launch_passes_its_version_snapshot_or_says_it_is_unverified(host, tmp_path, case):
    for version in launched_versions(host):
        plan, artifacts = launch(host, version, case)  # a launch the snapshot refuses raises PluginError here
        schema = LaunchSchema.shipped("servecast_trtllm", version)
        unverified = [warning for warning in artifacts.warnings if "unverified" in warning]
        if schema is None:
            assert unverified, f"TensorRT-LLM {version} has no snapshot, yet its launch does not say it is unverified"
        else:
            assert (schema.framework, schema.version) == ("trtllm", version) and not unverified
            assert checked(artifacts, schema, version).roles == artifacts.roles
        write_launch(plan, artifacts, tmp_path / version)
        document = json.loads((tmp_path / version / "deployment.json").read_text())
        assert set(artifacts.warnings) <= set(document["warnings"])  # the unverified warning reaches deployment.json


def accepting(artifacts: list[LaunchArtifacts]) -> LaunchSchema:
    """A snapshot, in the extraction's format, accepting exactly what `artifacts` use: no version's, only for
    testing the check itself (each test then takes something away or adds something)."""
    commands: dict[str, set[str]] = {}
    keys: dict[str, set[str]] = {}

    def collect(section: str, tree: object, files: dict[str, str]) -> None:
        if isinstance(tree, str) and tree in files:  # a file the option names (the MoE load balancer's)
            tree = yaml.safe_load(files[tree])
        if isinstance(tree, dict):
            keys.setdefault(section, set()).update(tree)
            for key, value in tree.items():
                collect(f"{section}.{key}", value, files)

    for launched in artifacts:
        for argv in (*(role.argv for role in launched.roles), *launched.benchmark):
            if argv[0] == "mpirun":
                argv = argv[argv.index("trtllm-llmapi-launch") + 1 :]
            words = 2 if argv[:2] == ("trtllm-serve", "disaggregated") else 3 if argv[0] == "python" else 1
            command = " ".join(argv[:words])
            commands.setdefault(command, set()).update(item for item in argv[words:] if item.startswith("-"))
            for flag, value in zip(argv, argv[1:], strict=False):
                section = CONFIG_FILES.get((command, flag))
                if section is not None:
                    collect(section, yaml.safe_load(launched.files[value]), launched.files)
    return LaunchSchema.model_validate(
        {
            "framework": "trtllm",
            "version": "test",
            "extracted_by": "plugins/trtllm/tests/test_trtllm_launch.py",
            "packages": [{"name": "tensorrt_llm", "version": "test", "file": "this test", "sha256": "0" * 64}],
            "commands": {name: {"read": [], "flags": sorted(flags)} for name, flags in commands.items()},
            "config_keys": {name: sorted(found) for name, found in keys.items()},
        }
    )


@pytest.fixture(scope="module")
def every_launch(host) -> dict[str, LaunchArtifacts]:
    return {case: launch(host, "1.0.0", case)[1] for case in LAUNCHES}


def without(schema: LaunchSchema, command: str | None = None, flag: str = "", section: str = "", key: str = ""):
    data = json.loads(schema.model_dump_json())
    if command is not None:
        data["commands"][command]["flags"].remove(flag)
    if section:
        data["config_keys"][section].remove(key)
    return LaunchSchema.model_validate(data)


def test_a_snapshot_accepting_what_the_plugin_writes_passes_every_launch_and_checks_under_mpirun(every_launch):
    schema = accepting(list(every_launch.values()))
    assert set(schema.commands) == {
        "trtllm-serve",
        "trtllm-serve disaggregated",
        "python -m tensorrt_llm.serve.scripts.benchmark_serving",
    }
    assert {"extra_llm_api_options.moe_config.load_balancer", "disaggregated_config.context_servers"} <= set(
        schema.config_keys
    )
    for artifacts in every_launch.values():
        checked(artifacts, schema, "test")
    multi_node = every_launch["multi-node"]
    added = checked(multi_node, schema, "test").warnings[len(multi_node.warnings) :]
    assert added == ("not from the TensorRT-LLM package, so not checked against a parser: mpirun -H",)


def test_a_flag_the_version_lacks_is_caught_also_under_mpirun(every_launch):
    schema = accepting(list(every_launch.values()))
    with pytest.raises(PluginError, match="`trtllm-serve` has no --pp_size .*this test"):
        checked(every_launch["multi-node"], without(schema, "trtllm-serve", "--pp_size"), "test")
    bogus = every_launch["aggregated"]
    role = bogus.roles[0].model_copy(update={"argv": (*bogus.roles[0].argv, "--bogus", "1")})
    with pytest.raises(PluginError, match="`trtllm-serve` has no --bogus"):
        checked(bogus.model_copy(update={"roles": (role, *bogus.roles[1:])}), schema, "test")
    with pytest.raises(PluginError, match="`trtllm-serve disaggregated` has no -c"):
        checked(every_launch["disaggregated"], without(schema, "trtllm-serve disaggregated", "-c"), "test")


@pytest.mark.parametrize(
    ("case", "section", "key"),
    [
        ("attention-dp-ep", "extra_llm_api_options", "moe_tensor_parallel_size"),
        ("aggregated", "extra_llm_api_options.kv_cache_config", "enable_block_reuse"),
        ("wide-ep-eplb", "extra_llm_api_options.moe_config.load_balancer", "num_slots"),
        ("disaggregated", "extra_llm_api_options.cache_transceiver_config", "backend"),
        ("disaggregated", "disaggregated_config", "backend"),
        ("disaggregated", "disaggregated_config.generation_servers", "urls"),
    ],
)
def test_a_config_file_key_the_version_lacks_is_caught_in_its_section(every_launch, case, section, key):
    schema = without(accepting(list(every_launch.values())), section=section, key=key)
    with pytest.raises(PluginError, match=re.escape(f".yml: {section} has no key '{key}'")):
        checked(every_launch[case], schema, "test")


def test_sections_a_snapshot_does_not_list_are_left_unchecked(every_launch):
    schema = accepting(list(every_launch.values()))
    data = json.loads(schema.model_dump_json())
    del data["config_keys"]["extra_llm_api_options.kv_cache_config"]
    checked(every_launch["aggregated"], LaunchSchema.model_validate(data), "test")


def test_the_shipped_snapshots_are_named_after_the_version_they_were_read_from():
    folder = Path(__file__).resolve().parents[1] / "servecast_trtllm" / "data" / "cli"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        schema = LaunchSchema.model_validate_json(path.read_text())
        assert schema.version == path.stem and schema.packages[0].version == path.stem
        assert (
            schema.packages[0].file.startswith(("git commit ", "source tree ")) and len(schema.packages[0].sha256) == 64
        )
