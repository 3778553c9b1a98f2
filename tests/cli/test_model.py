"""`servecast model show|list`: the report's keys and numbers, and clean errors for bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from servecast.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_model_show_json_has_the_documented_keys_and_numbers():
    result = run(
        "model",
        "show",
        "meta-llama/Llama-3.1-70B",
        "--tp",
        "4",
        "--system",
        "h100_sxm",
        "--framework",
        "trtllm",
        "--isl",
        "1000",
        "--osl",
        "1000",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in (
        "params_total",
        "params_active",
        "weight_bytes_per_gpu",
        "kv_bytes_per_token_per_gpu",
        "kv_capacity_tokens",
        "max_sequences",
        "ops",
    ):
        assert key in report
    assert report["kv_bytes_per_token_per_gpu"] == 327_680 // 4
    assert report["params_total"] == pytest.approx(70.55e9, rel=1e-3)
    assert report["kv_capacity_tokens"] > 100_000 and report["max_sequences"] > 50
    names = {op["name"] for op in report["ops"]["decode"]["ops"]}
    assert {"qkv_proj", "decode_attention", "attn_all_reduce", "lm_head"} <= names


def test_redundant_experts_add_their_copies_to_the_weights_of_each_gpu():
    def weights(*layout):
        result = run("model", "show", "deepseek-ai/DeepSeek-V3", *layout, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["weight_bytes_per_gpu"]

    plain = weights("--dp", "32", "--ep", "32")
    copies = weights("--dp", "32", "--ep", "32", "--redundant-experts", "32")
    assert copies > plain  # nine experts a GPU instead of eight


def test_model_show_without_a_system_leaves_capacity_empty_and_prints_tables():
    result = run("model", "show", "Qwen/Qwen3-30B-A3B", "--tp", "2", "--ep", "2")
    assert result.exit_code == 0, result.output
    assert "moe_experts" in result.stdout and "3.04 B active" in result.stdout


SGLANG_0_4 = (
    "model",
    "show",
    "meta-llama/Llama-3.1-8B",
    "--system",
    "h100_sxm",
    "--framework",
    "sglang",
    "--framework-version",
    "0.4.10",
)


def test_a_fraction_decided_at_start_up_follows_the_frameworks_rule_unless_given():
    started = run(*SGLANG_0_4, "--json")
    assert started.exit_code == 0, started.output
    fraction = json.loads(started.stdout)["memory"]["fraction"]
    assert fraction["meaning"] == "static_memory_fraction"
    assert fraction["value"] == pytest.approx(0.874, abs=0.002)  # SGLang 0.4.10's rule on an 80 GB H100
    given = run(*SGLANG_0_4, "--memory-fraction", "0.87", "--json")
    assert json.loads(given.stdout)["memory"]["fraction"] == {"meaning": "static_memory_fraction", "value": 0.87}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("acme/Nope",), "is not in the offline catalog"),
        (("meta-llama/Llama-3.1-8B", "--tp", "3"), "tp=3 does not divide the 32 attention heads"),
        (("mistralai/Mixtral-8x7B-Instruct-v0.1", "--tp", "6", "--ep", "3"), "ep=3 does not divide the 8 experts"),
        (("meta-llama/Llama-3.1-405B", "--system", "h100_sxm", "--framework", "vllm"), "does not fit"),
        (("meta-llama/Llama-3.1-8B", "--system", "h100_sxm"), "--system and --framework go together"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(args, message, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = run("model", "show", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_model_list_json_names_every_entry_and_its_source():
    entries = json.loads(run("model", "list", "--json").stdout)
    assert {"meta-llama/Llama-3.1-8B", "deepseek-ai/DeepSeek-V3"} <= {entry["id"] for entry in entries}
    assert all(entry["source"] for entry in entries)
