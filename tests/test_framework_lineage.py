"""Any release string resolves to the modelled version of its generation, and says which one it used."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from servecast.cli import cli
from servecast.errors import InputError
from servecast.host import PluginHost
from servecast.specfiles import load_framework_spec

from .conftest import FRAMEWORK_TOML
from .specfiles.test_spec_files import write


@pytest.fixture(scope="module")
def host():
    return PluginHost.from_entry_points()


def run_cli(*args):
    """The installed workspace plugins are what these tests resolve versions against."""
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(
    ("framework", "release", "modelled"),
    [
        ("trtllm", "1.0.0rc3", "1.0.0"),  # a release candidate is its release, not the engine flow before it
        ("trtllm", "1.1.0", "1.2.0rc1"),  # gpt-oss and its MXFP4 experts arrived in 1.1.0rc0
        ("trtllm", "1.2.0rc5", "1.2.0rc1"),
        ("trtllm", "0.21.0", "0.14.0"),
        ("vllm", "0.6.3.post1", "0.6.0"),
        ("vllm", "v0.8.5", "0.10.2"),  # V1 by default from 0.8.0: not the V0 release before it
        ("vllm", "0.12.0", "0.11.0"),
        ("vllm", "0.13.0", "0.11.0"),
        ("vllm", "0.11.1.dev12+g0123abc", "0.11.0"),
        ("vllm", "0.17.1", "0.33.0"),  # async scheduling on by default from 0.14.0
        ("sglang", "0.4.6.post5", "0.4.10"),
        ("sglang", "0.5.2", "0.5.23"),  # the 0.5 line, not 0.4's
    ],
)
def test_a_release_resolves_to_its_generation_and_names_it(host, framework, release, modelled):
    chosen, note = host.nearest_framework_version(framework, release)
    assert chosen.version == modelled
    assert note is not None and release in note and f"using {modelled}" in note


def test_a_modelled_version_resolves_to_itself_without_a_note(host):
    chosen, note = host.nearest_framework_version("trtllm", "1.2.0rc1")
    assert (chosen.version, note) == ("1.2.0rc1", None)


def test_a_release_newer_than_every_modelled_one_says_so(host):
    chosen, note = host.nearest_framework_version("vllm", "9.9")
    assert chosen.version == host.frameworks.get("vllm").latest.version
    assert note is not None and "newer than every modelled release" in note


def test_a_string_that_is_no_version_is_an_input_error(host):
    with pytest.raises(InputError, match="'0.8.x' is not a version number"):
        host.nearest_framework_version("vllm", "0.8.x")


def test_without_covers_a_release_maps_to_the_newest_modelled_one_not_newer(tmp_path):
    spec = load_framework_spec(write(tmp_path, FRAMEWORK_TOML))
    assert spec.resolve("1.5.0")[0].version == "1.0.0"
    assert "outside every modelled generation" in str(spec.resolve("1.5.0")[1])
    assert spec.resolve("0.5")[0].version == "1.0.0"
    assert "older than every modelled version" in str(spec.resolve("0.5")[1])


def test_covers_is_not_inherited_and_must_be_a_specifier_set(tmp_path):
    text = FRAMEWORK_TOML.replace('version = "1.0.0"\n', 'version = "1.0.0"\ncovers = ">=1.0,<3"\n', 1)
    spec = load_framework_spec(write(tmp_path, text))
    assert spec.version("2.0.0").covers is None
    assert spec.resolve("2.5.0")[0].version == "1.0.0", "1.0.0 covers it; 2.0.0 covers nothing"
    with pytest.raises(Exception, match="is not a PEP 440 specifier set"):
        load_framework_spec(write(tmp_path, text.replace(">=1.0,<3", "one and up")))


@pytest.mark.parametrize("command", ["estimate", "model", "ops"])
def test_every_command_taking_a_framework_version_accepts_a_release(tmp_path, command):
    base = ("--system", "h100_sxm", "--framework", "vllm", "--framework-version", "0.12.0")
    if command == "estimate":
        args = ("estimate", "--model", "meta-llama/Llama-3.1-8B", *base, "--isl", "100", "--osl", "10")
        result = run_cli(*args, "--concurrency", "2", "--json")
    elif command == "model":
        result = run_cli("model", "show", "meta-llama/Llama-3.1-8B", *base)
    else:
        ops = tmp_path / "ops.csv"
        ops.write_text("op,m,n,k,dtype\ngemm,16,4096,4096,bf16\n")
        result = run_cli("ops", "estimate", *base, "--input", str(ops), "--json")
    assert result.exit_code == 0, result.output
    assert "vLLM 0.12.0 is not modelled; using 0.11.0" in (result.stderr + result.stdout)


def test_gpt_oss_runs_on_tensorrt_llm_from_the_release_that_added_it():
    """gpt-oss's MXFP4 experts arrived in TensorRT-LLM 1.1.0rc0 (Triton MoE on Hopper); 1.0 cannot run them."""
    base = ["estimate", "--model", "openai/gpt-oss-120b", "--system", "h100_sxm", "--framework", "trtllm"]
    load = ["--isl", "1024", "--osl", "1024", "--concurrency", "64", "--tp", "2", "--ep", "2", "--json"]
    assert run_cli(*base, "--framework-version", "1.1.0", *load).exit_code == 0
    refused = run_cli(*base, "--framework-version", "1.0.0", *load)
    assert refused.exit_code == 2
    assert "no quantization 'mxfp4'" in refused.stderr
