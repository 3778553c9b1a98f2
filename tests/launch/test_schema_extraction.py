"""The schema extraction reads parsers from source as argparse would build them: written-out flags, `--no-` forms
of BooleanOptionalAction switches (direct or through a bool config field), f-string prefixes, flags generated from
dataclass fields, the values flags accept (choices lists, dict keys, Literal types, through module-level names), and
a package's files wherever its archive keeps them."""

from __future__ import annotations

import ast
import importlib.util
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "extract_launch_schemas.py"


@pytest.fixture(scope="module")
def extractor():
    spec = importlib.util.spec_from_file_location("extract_launch_schemas", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


ENGINE = """
import argparse

class CacheConfig:
    enable_prefix_caching: bool | None = None
    block_size: int = 16

class ModelConfig:
    enforce_eager: "Optional[bool]" = False

def add_cli_args(parser, prefix):
    cache_kwargs = get_kwargs(CacheConfig)
    model_kwargs = get_kwargs(ModelConfig)
    parser.add_argument("--enable-prefix-caching", **{**cache_kwargs["enable_prefix_caching"], "default": None})
    parser.add_argument("--block-size", **cache_kwargs["block_size"])
    parser.add_argument("--enforce-eager", **model_kwargs["enforce_eager"])
    parser.add_argument("--switch", "-s", action=argparse.BooleanOptionalAction)
    parser.add_argument("--plain", action="store_true")
    parser.add_argument(f"--{prefix}policy")
    parser.add_argument(f"--{unknown}skipped")
    parser.add_argument("model_tag", nargs="?")
"""

NAMESPACES = """
class Parallel(Struct):
    tp_size: A[int, Arg(help="tp", cli_name="--tp-size", aliases=["--tensor-parallel-size"])] = 1
    dp_size: A[int, "data parallel"] = 1
    internal: A[int, Arg(help="set at runtime", no_cli=True)] = 0
    undocumented: int = 0
    overlap: A[bool, Arg(help="x", action=argparse.BooleanOptionalAction)] = True

_INPUT_NAMESPACES = [Parallel]
"""


def parsed(source: str) -> list[tuple[str, ast.Module]]:
    return [("module.py", ast.parse(source))]


def test_written_and_derived_flags_with_their_negations(extractor):
    modules = parsed(ENGINE)
    flags = extractor.argparse_flags(modules, extractor.class_index(modules), {"prefix": ""})
    assert flags == {
        "--enable-prefix-caching",
        "--no-enable-prefix-caching",
        "--block-size",
        "--enforce-eager",
        "--no-enforce-eager",
        "--switch",
        "-s",
        "--no-switch",
        "--plain",
        "--policy",
    }


def test_annotated_namespace_fields_become_flags_unless_kept_off_the_command_line(extractor):
    modules = parsed(NAMESPACES)
    index = extractor.class_index(modules)
    (namespace,) = extractor.listed_classes(modules, ("_INPUT_NAMESPACES",))
    assert extractor.annotated_arg_flags(index, namespace) == {
        "--tp-size",
        "--tensor-parallel-size",
        "--dp-size",
        "--overlap",
        "--no-overlap",
    }


def test_plain_dataclass_fields_become_flags_with_negated_bools(extractor):
    modules = parsed("class Base:\n    host: str = ''\n\nclass FrontendArgs(Base):\n    ssl: bool = False\n")
    assert extractor.plain_dataclass_flags(extractor.class_index(modules), "FrontendArgs") == {
        "--host",
        "--ssl",
        "--no-ssl",
    }


def test_an_sdist_is_read_below_its_top_folder_and_any_source_folder(extractor):
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w:gz") as archive:
        for name in ("pkg-1.0/py_src/pkg/cli.py", "pkg-1.0/pkg/cli_extra.py"):
            data = b"x = 1\n"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    tree = extractor.SourceTree("pkg-1.0.tar.gz", payload.getvalue())
    assert [path for path, _ in tree.under("pkg/cli.py")] == ["py_src/pkg/cli.py"]


def test_a_release_whose_parser_moved_fails_instead_of_writing_a_thin_snapshot(extractor):
    with pytest.raises(SystemExit, match="--port not found"):
        extractor.require("pkg 1.0 `serve`", ("--host", "--port"), {"--host"})


CHOICES = """
from typing import Literal, Optional, get_args

METHODS: dict[str, type] = {"awq": A, "fp8": B}
Dtype = Literal["auto", "fp8"]
ALIASES = list(get_args(Dtype))
BACKENDS = {"vllm": f, "openai": g}

class ModelConfig:
    quantization: Optional[Dtype] = None
    free_form: Dtype | str = "auto"

def add_cli_args(parser):
    model_kwargs = get_kwargs(ModelConfig)
    parser.add_argument("--quantization", "-q", choices=[*METHODS, None])
    parser.add_argument("--kv-cache-dtype", choices=ALIASES)
    parser.add_argument("--backend", choices=list(BACKENDS.keys()))
    parser.add_argument("--dataset", choices=["random", "sharegpt"] + ["hf"])
    parser.add_argument("--quant-from-field", **model_kwargs["quantization"])
    parser.add_argument("--free-form", **model_kwargs["free_form"])
    parser.add_argument("--parser", choices=list(Manager.parsers))
"""


def choices_of(extractor, source):
    modules = parsed(source)
    values = extractor.value_index(modules)
    return extractor.argparse_choices(modules, extractor.class_index(modules), values, {})


def test_choices_are_read_from_lists_dict_keys_and_literals_through_module_level_names(extractor):
    choices = choices_of(extractor, CHOICES)
    assert choices["--quantization"] == choices["-q"] == ["awq", "fp8"]  # argparse compares a parsed None
    assert choices["--kv-cache-dtype"] == ["auto", "fp8"]
    assert choices["--backend"] == ["vllm", "openai"]
    assert choices["--dataset"] == ["random", "sharegpt", "hf"]


def test_config_fields_take_their_literal_values_unless_their_type_also_takes_any_str(extractor):
    choices = choices_of(extractor, CHOICES)
    assert choices["--quant-from-field"] == ["auto", "fp8", "None"]  # vLLM's get_kwargs adds "None" when optional
    assert "--free-form" not in choices  # a `Literal | str` field gets a metavar, not choices


def test_values_that_cannot_be_read_from_the_source_are_left_out_rather_than_guessed(extractor):
    assert "--parser" not in choices_of(extractor, CHOICES)


def test_annotated_fields_take_their_arg_choices_or_their_literal_values(extractor):
    source = NAMESPACES + (
        "\nQUANT = ['awq', 'fp8']\n"
        "class Model(Struct):\n"
        "    quantization: A[Optional[str], Arg(help='q', choices=QUANT)] = None\n"
        "    mode: A[Literal['null', 'prefill'], 'disaggregation'] = 'null'\n"
        "    dtype: A[str, 'any dtype'] = 'auto'\n"
    )
    modules = parsed(source)
    values = extractor.value_index(modules)
    choices = extractor.annotated_arg_choices(extractor.class_index(modules), "Model", values)
    assert choices == {"--quantization": ["awq", "fp8"], "--mode": ["null", "prefill"]}


# TensorRT-LLM is read from a source checkout: click options, pydantic models and `function(**config)` keys. The
# sources below are written for these tests in the shape of TensorRT-LLM's files, not copied from any release.

TRTLLM_SOURCES = {
    "tensorrt_llm/version.py": '__version__ = "1.0.0"\n',
    "tensorrt_llm/commands/serve.py": """
import click

class ChoiceWithAlias(click.Choice):
    pass

@click.command("serve")
@click.argument("model", type=str)
@click.option("--host", type=str, default="localhost")
@click.option("--port", type=int, default=8000)
@click.option("--backend", type=ChoiceWithAlias(["pytorch", "tensorrt"], {"trt": "tensorrt"}), default="pytorch")
@click.option("--log_level", type=click.Choice(severity_map.keys()), default="info")
@click.option("--tp_size", type=int, default=1)
@click.option("--pp_size", type=int, default=1)
@click.option("--ep_size", type=int, default=None)
@click.option("--trust_remote_code", is_flag=True, default=False)
@click.option("--extra_llm_api_options", type=str, default=None)
@click.option("--overlap/--no-overlap", default=True)
def serve(model, host, port, backend, log_level, tp_size, pp_size, ep_size, trust_remote_code, extra_llm_api_options,
          overlap):
    pass

@click.command("disaggregated")
@click.option("-c", "--config_file", type=str, default=None)
@click.option("--server_start_timeout", type=int, default=180)
def disaggregated(config_file, server_start_timeout):
    pass
""",
    "tensorrt_llm/serve/scripts/backend_request_func.py": "ASYNC_REQUEST_FUNCS = {'openai': f, 'openai-chat': g}\n",
    "tensorrt_llm/serve/scripts/benchmark_serving.py": """
import argparse
from .backend_request_func import ASYNC_REQUEST_FUNCS
parser = argparse.ArgumentParser()
parser.add_argument("--backend", type=str, default="openai", choices=list(ASYNC_REQUEST_FUNCS.keys()))
parser.add_argument("--dataset-name", choices=["sharegpt", "random"])
parser.add_argument("--host")
parser.add_argument("--port")
parser.add_argument("--max-concurrency")
parser.add_argument("--num-prompts")
parser.add_argument("--random-input-len")
parser.add_argument("--random-ids", action="store_true")
""",
    "tensorrt_llm/llmapi/llm_args.py": """
from typing import ClassVar, Literal, Optional
from pydantic import AliasChoices, PrivateAttr

class StrictBaseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

class KvCacheConfig(StrictBaseModel):
    free_gpu_memory_fraction: Optional[float] = Field(default=0.9)
    enable_block_reuse: bool = True
    dtype: str = Field(default="auto", validation_alias=AliasChoices("dtype", "kv_cache_dtype"))

class BaseCudaGraphConfig(StrictBaseModel):
    batch_sizes: Optional[list[int]] = None
    max_batch_size: int = 0

class DecodeCudaGraphConfig(BaseCudaGraphConfig):
    mode: Literal["decode"] = "decode"

CudaGraphConfig = DecodeCudaGraphConfig

class MoeConfig(StrictBaseModel):
    backend: Literal["CUTLASS", "WIDEEP"] = "CUTLASS"
    load_balancer: Optional[object] = None

class CacheTransceiverConfig(StrictBaseModel):
    backend: Optional[Literal["DEFAULT", "UCX"]] = None

class DynamicBatchConfig(StrictBaseModel):
    enable_batch_size_tuning: bool = True

class SchedulerConfig(StrictBaseModel):
    capacity_scheduler_policy: str = "GUARANTEED_NO_EVICT"
    dynamic_batch_config: Optional[DynamicBatchConfig] = None

class BaseLlmArgs(StrictBaseModel):
    model: str = Field(alias="model_path")
    kv_cache_config: KvCacheConfig = Field(default_factory=KvCacheConfig)
    enable_attention_dp: bool = False
    moe_expert_parallel_size: Optional[int] = None
    backend: Optional[str] = None
    _parallel_config: Optional[object] = PrivateAttr(default=None)
    registry: ClassVar[dict] = {}

class TorchLlmArgs(BaseLlmArgs):
    cuda_graph_config: Optional[CudaGraphConfig] = None
    moe_config: MoeConfig = Field(default_factory=MoeConfig)
    cache_transceiver_config: Optional[CacheTransceiverConfig] = None
    scheduler_config: SchedulerConfig = Field(default_factory=SchedulerConfig)
""",
    "tensorrt_llm/_torch/model_config.py": """
@dataclass
class MoeLoadBalancerConfig:
    num_slots: Optional[int] = None
    layer_updates_per_iter: int = 0
    ep_rank: Optional[int] = field(default=None, init=False)
""",
    "tensorrt_llm/llmapi/disagg_utils.py": """
def extract_disagg_cfg(hostname: str = "localhost", port: int = 8000, context_servers: Optional[dict] = None,
                       generation_servers: Optional[dict] = None, **kwargs: Any):
    ctx_router = context_servers.pop("router", None)
    gen_router = generation_servers.pop("router", None)

def extract_ctx_gen_cfgs(type: Literal["ctx", "gen"], num_instances: int = 1, urls: Optional[list] = None,
                         **kwargs: Any):
    pass
""",
    "tensorrt_llm/unrelated.py": "x = 1\n",
}


def trtllm_checkout(root: Path, sources: dict[str, str] = TRTLLM_SOURCES) -> Path:
    for name, text in sources.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_trtllm_serve_click_options_become_flags_with_switch_forms_and_alias_choices(extractor, tmp_path):
    tree = extractor.directory_tree(trtllm_checkout(tmp_path), extractor.trtllm_recipe("1.0.0"))
    snapshot = extractor.extract_source("trtllm", "1.0.0", tree, "source tree test")
    serve = snapshot["commands"]["trtllm-serve"]
    assert {"--host", "--tp_size", "--extra_llm_api_options", "--overlap", "--no-overlap", "--help"} <= set(
        serve["flags"]
    )
    assert "model" not in serve["flags"]
    assert serve["choices"] == {"--backend": ["pytorch", "tensorrt", "trt"]}  # severity_map.keys(): unreadable
    assert snapshot["commands"]["trtllm-serve disaggregated"]["flags"] == [
        "--config_file",
        "--help",
        "--server_start_timeout",
        "-c",
    ]
    bench = snapshot["commands"]["python -m tensorrt_llm.serve.scripts.benchmark_serving"]
    assert bench["choices"]["--backend"] == ["openai", "openai-chat"] and "--random-ids" in bench["flags"]


def test_trtllm_config_keys_are_public_model_fields_aliases_and_forwarded_disaggregated_keys(extractor, tmp_path):
    tree = extractor.directory_tree(trtllm_checkout(tmp_path), extractor.trtllm_recipe("1.0.0"))
    keys = extractor.extract_source("trtllm", "1.0.0", tree, "source tree test")["config_keys"]
    options = set(keys["extra_llm_api_options"])
    assert {"kv_cache_config", "cuda_graph_config", "moe_config", "model", "model_path"} <= options
    assert "_parallel_config" not in options and "registry" not in options
    assert keys["extra_llm_api_options.kv_cache_config"] == [
        "dtype",
        "enable_block_reuse",
        "free_gpu_memory_fraction",
        "kv_cache_dtype",
    ]
    assert keys["extra_llm_api_options.cuda_graph_config"] == ["batch_sizes", "max_batch_size", "mode"]
    assert keys["extra_llm_api_options.moe_config.load_balancer"] == ["layer_updates_per_iter", "num_slots"]
    # top-level keys of the disaggregated config that are not extract_disagg_cfg's go on to the servers' LLM args
    assert {"hostname", "port", "context_servers", "backend", "kv_cache_config"} <= set(keys["disaggregated_config"])
    servers = set(keys["disaggregated_config.context_servers"])
    assert {"num_instances", "urls", "router", "kv_cache_config"} <= servers and "type" not in servers


def test_a_trtllm_snapshot_is_read_from_a_tag_of_a_git_repository_and_names_its_commit(extractor, tmp_path):
    work = trtllm_checkout(tmp_path / "work")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "release"], ["tag", "v1.0.0"]):
        subprocess.run(["git", "-C", str(work), *command], check=True, env={**os.environ, **env})
    (work / "tensorrt_llm/version.py").write_text('__version__ = "1.1.0"\n')  # the work tree moved on; the tag did not
    tree, commit = extractor.git_tree(work / ".git", "v1.0.0", extractor.trtllm_recipe("1.0.0"))
    assert "tensorrt_llm/unrelated.py" not in tree.files  # only what the recipe reads
    snapshot = extractor.extract_source("trtllm", "1.0.0", tree, f"git commit {commit} (ref v1.0.0)")
    (package,) = snapshot["packages"]
    assert package["file"] == f"git commit {commit} (ref v1.0.0)" and len(package["sha256"]) == 64
    assert "--extra_llm_api_options" in snapshot["commands"]["trtllm-serve"]["flags"]


def test_a_trtllm_source_of_another_version_is_refused_not_named_after_the_version_asked_for(extractor, tmp_path):
    sources = {**TRTLLM_SOURCES, "tensorrt_llm/version.py": '__version__ = "1.0.0rc4"\n'}
    tree = extractor.directory_tree(trtllm_checkout(tmp_path, sources), extractor.trtllm_recipe("1.0.0"))
    with pytest.raises(SystemExit, match="says '1.0.0rc4', not '1.0.0'"):
        extractor.extract_source("trtllm", "1.0.0", tree, "source tree test")


def test_a_trtllm_release_whose_serve_command_moved_fails_instead_of_writing_a_thin_snapshot(extractor, tmp_path):
    sources = {**TRTLLM_SOURCES, "tensorrt_llm/commands/serve.py": "import click\n"}
    tree = extractor.directory_tree(trtllm_checkout(tmp_path, sources), extractor.trtllm_recipe("1.0.0"))
    with pytest.raises(SystemExit, match="`trtllm-serve`: .*--host.* not found"):
        extractor.extract_source("trtllm", "1.0.0", tree, "source tree test")
