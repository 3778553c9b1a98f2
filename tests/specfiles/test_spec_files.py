"""Spec files load into validated specs, and every mistake is reported with its file and field."""

from __future__ import annotations

import pytest

from servecast.domain import KnobMeaning, SourceKind
from servecast.errors import SpecFileError
from servecast.specfiles import load_framework_spec, load_hardware_spec

from ..conftest import FRAMEWORK_TOML, H100_LIKE_TOML


def write(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_mistake_named(load, tmp_path, text, message):
    """Loading `text` fails with `message`, and the error names the file."""
    path = write(tmp_path, text)
    with pytest.raises(SpecFileError, match=message) as raised:
        load(path)
    assert str(path) in str(raised.value)


def test_a_framework_file_loads_with_sources_resolved(tmp_path):
    spec = load_framework_spec(write(tmp_path, FRAMEWORK_TOML))
    first = spec.version("1.0.0")
    assert first.knob("mem").source.kind is SourceKind.DOCUMENTATION
    assert first.knob("eager").concept_value() is True, "negated knob: eager=false means CUDA graphs on"
    assert spec.version_names == ("1.0.0", "2.0.0")
    assert spec.latest.version == "2.0.0"


def test_an_extending_version_inherits_overrides_and_removes(tmp_path):
    spec = load_framework_spec(write(tmp_path, FRAMEWORK_TOML))
    second = spec.version("2.0.0")
    assert second.knob("mem").default == 0.9
    assert second.knob("max_seqs").default == 1024
    assert second.knob("max_seqs").description == "most sequences"
    assert second.knob("max_seqs").source.citation == "ToyServe 2.0 args.py"
    assert [k.name for k in second.knobs_for(KnobMeaning.CUDA_GRAPH)] == []
    assert second.knob("budget").default is None
    assert second.capabilities.parallel_modes == first_modes(spec)
    assert "disagg" in second.capabilities.serving_modes
    assert second.released is None and second.notes is None, "release facts are not inherited"


def first_modes(spec):
    return spec.version("1.0.0").capabilities.parallel_modes


def test_versions_sort_numerically_not_alphabetically(tmp_path):
    text = FRAMEWORK_TOML.replace('version = "2.0.0"', 'version = "0.10.0"')
    spec = load_framework_spec(write(tmp_path, text))
    assert spec.version_names == ("0.10.0", "1.0.0")


def test_an_unknown_version_lists_the_modelled_ones(tmp_path):
    spec = load_framework_spec(write(tmp_path, FRAMEWORK_TOML))
    with pytest.raises(KeyError, match="'3.0' is not modelled; modelled versions: 1.0.0, 2.0.0"):
        spec.version("3.0")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('extends = "1.0.0"', 'extends = "0.9.0"'), "versions\\[1\\] extends '0.9.0'"),
        (('source = "docs-2"', 'source = "docs-3"'), "knobs.max_seqs: source 'docs-3' is not defined"),
        (('meaning = "max_batch_size"', 'meaning = "max_batch"'), "meaning: must be one of"),
        (("default = 0.9", 'default = "lots"'), "knobs.mem: .*'lots' is not a gpu_memory_fraction"),
        (("default = 0.9", "default = 1.5"), "gpu_memory_fraction must be in \\(0, 1\\]"),
        (("default = 256", "default = 0"), "max_batch_size must be a positive integer"),
        (("schema_version = 1", "schema_version = 2"), "schema_version is 2"),
        (('version = "2.0.0"\n', 'version = "two"\n'), "'two' is not a PEP 440 version"),
        (("negates = true\ndefault = false", "negates = true\ndefault = 0"), "must be true or false"),
        (('default_note = "8192 on GPUs with 70 GiB or more, else 2048"\n', ""), "has no default"),
        (('config_key = "scheduler.budget"\n', ""), "needs a 'flag', 'config_key' or 'env'"),
    ],
)
def test_framework_file_mistakes_name_the_file_and_the_field(tmp_path, edit, message):
    old, new = edit
    assert old in FRAMEWORK_TOML
    assert_mistake_named(load_framework_spec, tmp_path, FRAMEWORK_TOML.replace(old, new, 1), message)


def test_a_hardware_file_loads_with_provenance_for_every_figure(tmp_path):
    spec = load_hardware_spec(write(tmp_path, H100_LIKE_TOML.format(name="toy_gpu")))
    assert spec.name == "toy_gpu"
    assert spec.provenance["gpu.dense_tensor_flops_per_s.bf16"].source.citation == "a test datasheet"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ('sm_count = { value = 132, source = "sheet" }', "sm_count = 132"),
            '(?s)gpu.sm_count = 132 has no source.*sm_count = { value = 132, source = "<id>" }',
        ),
        (('sm_count = { value = 132, source = "sheet" }', 'sm_count = { value = 132, source = "x" }'), "'x'"),
        (
            ("value = 3.35e12", "value = 3.35"),
            "mem_bw_bytes_per_s=3.35 is implausible: expected bytes per second",
        ),
        (("value = 989.4e12", "value = 989.4"), "bf16: dense_tensor_flops_per_s=989.4 is implausible"),
        (("value = 2e-6", "value = 2"), "intra_node_latency_s=2.0 is implausible"),
        (('citation = "a test datasheet"', ""), "sources.sheet.citation: is required"),
        (('kind = "datasheet"', 'kind = "rumour"'), "sources.sheet.kind"),
        (("[node]", "[nodes]"), "no \\[node\\] table"),
        (
            ('value = 8, source = "sheet"', 'value = 8, source = "sheet", unit = "gpus"'),
            "unknown keys \\['unit'\\]",
        ),
        (('name = "toy_gpu"', 'name = "Bad Name"'), "name: String should match pattern"),
        (("schema_version = 1", ""), "schema_version is None"),
        (("[gpu]", "[gpu"), "not valid TOML"),
    ],
)
def test_hardware_file_mistakes_name_the_file_and_the_field(tmp_path, edit, message):
    old, new = edit
    text = H100_LIKE_TOML.format(name="toy_gpu")
    assert old in text
    assert_mistake_named(load_hardware_spec, tmp_path, text.replace(old, new, 1), message)


def test_a_missing_spec_file_says_so(tmp_path):
    with pytest.raises(SpecFileError, match="file not found"):
        load_hardware_spec(tmp_path / "absent.toml")


KERNELS = """
[versions.kernels]
attention = { value = "flash_attn2", source = "docs-1", note = "FA2 on every GPU" }
all_reduce = { value = "nccl", source = "docs-1" }
"""
UPGRADED_KERNELS = """
[versions.kernels]
attention = { value = "flash_attn3", source = "docs-2" }
"""


def test_kernel_choices_load_with_sources_and_extending_versions_inherit_them(tmp_path):
    second = '[[versions]]\nversion = "2.0.0"'
    assert second in FRAMEWORK_TOML
    text = FRAMEWORK_TOML.replace(second, KERNELS + second)
    spec = load_framework_spec(write(tmp_path, text + UPGRADED_KERNELS))
    old, new = spec.version("1.0.0").kernels, spec.version("2.0.0").kernels
    assert (old.attention.value, old.attention.source.citation, old.attention.note) == (
        "flash_attn2",
        "ToyServe 1.0 docs",
        "FA2 on every GPU",
    )
    assert (new.attention.value, new.all_reduce.value) == ("flash_attn3", "nccl")


@pytest.mark.parametrize(
    ("kernels", "message"),
    [
        ('attention = { value = "flash_attn9", source = "docs-1" }', r"kernels.attention.value: must be one of"),
        ('attention = { value = "flash_attn3", source = "nowhere" }', r"kernels.attention: source 'nowhere'"),
        ('atention = { value = "flash_attn3", source = "docs-1" }', r"kernels.atention: is not a known field"),
    ],
)
def test_kernel_choice_mistakes_name_the_version_and_the_slot(tmp_path, kernels, message):
    text = FRAMEWORK_TOML + "\n[versions.kernels]\n" + kernels + "\n"
    assert_mistake_named(load_framework_spec, tmp_path, text, message)
