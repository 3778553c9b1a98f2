"""The schema extraction reads parsers from source as argparse would build them: written-out flags, `--no-` forms
of BooleanOptionalAction switches (direct or through a bool config field), f-string prefixes, flags generated from
dataclass fields, the values flags accept (choices lists, dict keys, Literal types, through module-level names), and
a package's files wherever its archive keeps them."""

from __future__ import annotations

import ast
import importlib.util
import io
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
