"""Model references resolve from the catalog, aliases, local files; bad ones fail with a clear error."""

from __future__ import annotations

import json

import pytest

from servecast.domain import ParallelLayout
from servecast.errors import InputError
from servecast.models.catalog import catalog, catalog_ids
from servecast.models.layout_check import check_layout

REQUIRED = [
    "meta-llama/Llama-3.1-8B",
    "meta-llama/Llama-3.1-70B",
    "meta-llama/Llama-3.1-405B",
    "meta-llama/Llama-3.3-70B-Instruct",
    "meta-llama/Llama-2-7b-hf",
    "meta-llama/Llama-2-70b-hf",
    "Qwen/Qwen2.5-7B-Instruct",
    "Qwen/Qwen2.5-72B-Instruct",
    "Qwen/Qwen3-8B",
    "Qwen/Qwen3-14B",
    "Qwen/Qwen3-32B",
    "Qwen/Qwen3-30B-A3B",
    "Qwen/Qwen3-235B-A22B",
    "Qwen/Qwen3-32B-FP8",
    "Qwen/Qwen3-235B-A22B-FP8",
    "nvidia/Llama-3.1-70B-Instruct-FP8",
    "mistralai/Mistral-7B-Instruct-v0.3",
    "mistralai/Mistral-Nemo-Instruct-2407",
    "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "mistralai/Mixtral-8x22B-Instruct-v0.1",
    "deepseek-ai/DeepSeek-V3",
    "deepseek-ai/DeepSeek-R1",
    "openai/gpt-oss-20b",
    "openai/gpt-oss-120b",
    "MiniMaxAI/MiniMax-M2.5",
]


def test_the_catalog_holds_every_required_model_and_each_loads(load):
    assert set(REQUIRED) <= set(catalog_ids())
    for model_id in REQUIRED:
        assert load(model_id).architecture.num_layers > 0


def test_every_catalog_entry_cites_its_source():
    for entry in catalog().values():
        assert "huggingface.co/" in entry.source


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B"),
        ("meta-llama/Meta-Llama-3.1-70B-Instruct", "meta-llama/Llama-3.1-70B"),
        ("qwen/qwen2.5-7b", "Qwen/Qwen2.5-7B-Instruct"),
        ("deepseek-ai/DeepSeek-V3-0324", "deepseek-ai/DeepSeek-V3"),
    ],
)
def test_instruct_and_base_aliases_resolve_to_the_same_architecture(load, alias, canonical):
    assert load(alias).model_id == canonical


def write_config(folder, **changes):
    config = dict(catalog()["meta-llama/llama-3.1-8b"].config, **changes)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_local_directory_or_config_path_is_read(load, tmp_path):
    folder = write_config(tmp_path / "my-llama", num_hidden_layers=4)
    assert load(str(folder)).architecture.num_layers == 4
    assert load(str(folder / "config.json")).origin.startswith("local file")


def test_a_local_modelopt_quant_config_is_honoured(load, tmp_path):
    folder = write_config(tmp_path / "fp8")
    (folder / "hf_quant_config.json").write_text(json.dumps({"quantization": {"quant_algo": "FP8"}}))
    assert load(str(folder)).quantization.name.value == "fp8"


def test_an_unknown_model_id_says_what_is_available(load, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError) as raised:
        load("acme/NotAModel-7B")
    assert "acme/NotAModel-7B" in raised.value.message
    assert "meta-llama/Llama-3.1-8B" in raised.value.hint


def test_a_malformed_config_is_a_clear_error(load, tmp_path):
    (tmp_path / "config.json").write_text("{ not json")
    with pytest.raises(InputError, match="is not valid JSON"):
        load(str(tmp_path))
    write_config(tmp_path, hidden_size="big")
    with pytest.raises(InputError, match="'hidden_size' must be a non-negative integer, got 'big'"):
        load(str(tmp_path))
    write_config(tmp_path, num_hidden_layers=None)
    with pytest.raises(InputError, match="'num_hidden_layers' is missing"):
        load(str(tmp_path))


def test_an_unknown_architecture_lists_the_supported_ones_and_the_hook(load, tmp_path):
    write_config(tmp_path, architectures=["MambaForCausalLM"])
    with pytest.raises(InputError, match="'MambaForCausalLM', which no model family handles") as raised:
        load(str(tmp_path))
    assert "LlamaForCausalLM" in raised.value.hint and "servecast_register_model_families" in raised.value.hint


@pytest.mark.parametrize(
    ("model_id", "layout", "message"),
    [
        ("meta-llama/Llama-3.1-8B", ParallelLayout(tp=3), "tp=3 does not divide the 32 attention heads"),
        ("Qwen/Qwen3-30B-A3B", ParallelLayout(tp=8, ep=8), None),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", ParallelLayout(tp=6, ep=6), "ep=6 does not divide the 8 experts"),
        ("meta-llama/Llama-3.1-8B", ParallelLayout(tp=1, attention_dp=2, ep=2), "this model is dense"),
        ("meta-llama/Llama-3.1-8B", ParallelLayout(pp=64), "pp=64 exceeds the 32 layers"),
    ],
)
def test_layouts_that_cannot_split_the_model_are_rejected(load, model_id, layout, message):
    model = load(model_id)
    if message is None:
        check_layout(model_id, model.architecture, layout)
        return
    with pytest.raises(InputError, match=message):
        check_layout(model_id, model.architecture, layout)


def test_an_uncatalogued_id_is_fetched_from_the_hub_when_huggingface_hub_is_available(load, tmp_path, monkeypatch):
    import sys
    import types

    folder = write_config(tmp_path / "hub", num_hidden_layers=6)
    fetched = []

    def hf_hub_download(repo_id, filename):
        fetched.append((repo_id, filename))
        if filename != "config.json":
            raise FileNotFoundError(filename)
        return str(folder / filename)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=hf_hub_download))
    model = load("someone/New-Llama-8B")
    assert model.architecture.num_layers == 6 and model.origin == "Hugging Face Hub (someone/New-Llama-8B)"
    assert fetched == [("someone/New-Llama-8B", "config.json"), ("someone/New-Llama-8B", "hf_quant_config.json")]


def test_offline_mode_refuses_the_hub_with_a_clear_error(load, monkeypatch):
    import sys
    import types

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=None))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="HF_HUB_OFFLINE is set"):
        load("someone/New-Llama-8B")
