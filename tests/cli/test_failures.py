"""Every failure reaches the user as a clear message with its documented exit code, never a traceback: bad values,
bad files, nothing feasible, an interruption, and a bug."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from servecast.cli import cli
from servecast.cli.failures import Terminated

MODEL = ["--model", "Qwen/Qwen3-8B", "--system", "h100_sxm", "--isl", "1000", "--osl", "100"]
SEARCH = ["search", *MODEL, "--gpus", "8", "--frameworks", "vllm", "--modes", "agg"]
RECOMMEND = ["recommend", *MODEL, "--frameworks", "vllm", "--modes", "agg", "--tpot", "50"]
ESTIMATE = ["estimate", *MODEL, "--framework", "vllm"]
ROW = "Qwen/Qwen3-8B,h100_sxm,vllm,1000,100,8"
TOO_BIG = ["search", "--model", "meta-llama/Llama-3.1-405B", "--system", "h100_sxm", "--gpus", "1"]


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args))


def assert_clear_failure(result, exit_code: int, *phrases: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.output


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--ttft", "-5"),
        ("--tpot", "0"),
        ("--request-latency", "-1"),
        ("--ttft", "nan"),
        ("--tpot", "inf"),
        ("--requests-per-user", "0"),
    ],
)
def test_a_latency_target_that_is_not_a_positive_number_is_refused_naming_the_flag(flag, value):
    assert_clear_failure(run_cli(*SEARCH, flag, value), 2, f"Invalid value for '{flag}'", repr(value))


@pytest.mark.parametrize("rate", ["nan", "inf", "0", "-3"])
def test_a_target_request_rate_that_is_not_a_positive_number_is_refused(rate):
    result = run_cli(*RECOMMEND, "--target-request-rate", rate)
    assert_clear_failure(result, 2, "Invalid value for '--target-request-rate'")


def test_search_json_reports_an_infeasible_search_as_json_and_exits_4():
    result = run_cli(*TOO_BIG, "--isl", "1000", "--osl", "100", "--json")
    assert_clear_failure(result, 4, "no configuration meets the targets")
    document = json.loads(result.stdout)
    assert document["best"] == [] and document["evaluated"] == 0
    assert "more GPUs than 1" in document["infeasible"]["advice"]


def test_search_save_dir_writes_the_infeasibility_report_and_exits_4(tmp_path):
    result = run_cli(*TOO_BIG, "--isl", "1000", "--osl", "100", "--save-dir", str(tmp_path / "out"))
    assert_clear_failure(result, 4)
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == ["best.csv", "frontier.png", "infeasible.json", "inputs.json", "pareto.csv", "points.csv"]
    assert json.loads((tmp_path / "out" / "infeasible.json").read_text())["binding"]


def test_an_unexpected_exception_is_reported_as_a_bug_without_a_traceback(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("servecast.cli.estimate_cmd.estimate", broken)
    result = run_cli(*ESTIMATE, "--concurrency", "8")
    assert_clear_failure(result, 1, "internal error: RuntimeError: boom", "--debug")


def test_debug_shows_the_traceback_of_an_unexpected_exception(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("servecast.cli.estimate_cmd.estimate", broken)
    result = run_cli("--debug", *ESTIMATE, "--concurrency", "8")
    assert isinstance(result.exception, RuntimeError)


@pytest.mark.parametrize(("interruption", "exit_code"), [(KeyboardInterrupt, 130), (Terminated, 143)])
def test_an_interrupted_command_exits_with_the_signal_convention(monkeypatch, interruption, exit_code):
    def interrupted(*args, **kwargs):
        raise interruption

    monkeypatch.setattr("servecast.cli.estimate_cmd.estimate", interrupted)
    assert_clear_failure(run_cli(*ESTIMATE, "--concurrency", "8"), exit_code, "nothing half-written is kept")


def test_an_output_path_under_a_file_is_refused_naming_it(tmp_path):
    (tmp_path / "configs.csv").write_text(
        "model,system,framework,isl,osl,concurrency\n" + "Qwen/Qwen3-8B,h100_sxm,vllm,1000,100,8\n"
    )
    (tmp_path / "taken").write_text("a file")
    result = run_cli(
        "estimate", "--input", str(tmp_path / "configs.csv"), "--output", str(tmp_path / "taken" / "x.csv")
    )
    assert_clear_failure(result, 2, "taken", "what to do")


def test_an_output_folder_that_is_missing_is_created(tmp_path):
    (tmp_path / "configs.csv").write_text(
        "model,system,framework,isl,osl,concurrency\nQwen/Qwen3-8B,h100_sxm,vllm,1000,100,8\n"
    )
    out = tmp_path / "new" / "folder" / "results.csv"
    result = run_cli("estimate", "--input", str(tmp_path / "configs.csv"), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("id,")


def test_a_config_json_that_is_not_utf8_is_refused_naming_the_file(tmp_path):
    (tmp_path / "config.json").write_bytes(b'{"architectures": ["LlamaForCausalLM"], "name": "caf\xe9"}')
    result = run_cli("model", "show", str(tmp_path))
    assert_clear_failure(result, 2, "config.json is not UTF-8 text", "line 1")


def test_a_config_json_whose_kv_heads_do_not_divide_the_heads_is_refused(tmp_path):
    from servecast.models.catalog import find_model

    config = dict(find_model("Qwen/Qwen3-8B").config, num_key_value_heads=7)
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = run_cli("model", "show", str(tmp_path))
    assert_clear_failure(result, 2, "impossible model", "num_kv_heads=7")


def test_model_show_refuses_requests_longer_than_the_context():
    result = run_cli("model", "show", "Qwen/Qwen3-8B", "--isl", "10000000")
    assert_clear_failure(result, 2, "exceed the 40,960-token context")


def test_aggregated_mode_refuses_the_disaggregated_pools_flags():
    result = run_cli(*ESTIMATE, "--concurrency", "8", "--prefill-tp", "2")
    assert_clear_failure(result, 2, "prefill_tp=2 has no effect in mode=agg")


def test_disaggregated_mode_refuses_the_aggregated_layout_flags():
    result = run_cli(*ESTIMATE, "--mode", "disagg", "--concurrency", "8", "--tp", "2")
    assert_clear_failure(result, 2, "tp=2 has no effect in mode=disagg")


def test_a_simulation_beyond_its_request_limit_is_refused_at_once():
    result = run_cli(*ESTIMATE, "--concurrency", "8", "--num-requests", "100000000", "--percentiles")
    assert_clear_failure(result, 2, "more than its limit of 200,000", "--num-requests")


def test_percentiles_of_a_handful_of_requests_say_they_are_not_settled():
    result = run_cli(*ESTIMATE, "--concurrency", "8", "--num-requests", "8", "--percentiles", "--json")
    assert result.exit_code == 0, result.output
    assert any("completed only 8 requests" in warning for warning in json.loads(result.stdout)["warnings"])


def test_far_more_users_than_the_server_runs_warn_that_the_queue_sets_the_ttft():
    result = run_cli(*ESTIMATE, "--concurrency", "100000000", "--json")
    assert result.exit_code == 0, result.output
    warnings = json.loads(result.stdout)["warnings"]
    assert any("of the 100,000,000 users only about" in warning for warning in warnings)


def test_json_output_is_standard_json_with_unbounded_values_as_null_and_explained():
    result = run_cli(*ESTIMATE, "--request-rate", "1000", "--json")
    assert result.exit_code == 0, result.output

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    document = json.loads(result.stdout, parse_constant=refuse)
    assert document["ttft_ms"] is None
    assert document["non_finite"]["ttft_ms"].startswith("inf: unbounded")


def test_ops_estimate_refuses_shapes_no_model_has(tmp_path):
    table = tmp_path / "ops.csv"
    table.write_text(
        "op,batch,seq_len,num_heads,num_kv_heads,head_dim,kv_dtype,dtype,num_tokens,hidden,inter,num_experts,topk,"
        "ep,moe_tp,message_bytes,num_gpus\n"
        "context_attention,1,128,32,7,128,bf16,bf16,,,,,,,,,\n"
        "moe,,,,,,,bf16,64,4096,1024,8,9,1,1,,\n"
        "all_reduce,,,,,,,bf16,,,,,,,,1000000,0\n"
    )
    result = run_cli("ops", "estimate", "--system", "h100_sxm", "--input", str(table), "--json")
    assert_clear_failure(
        result,
        2,
        "heads must be a multiple of kv_heads",
        "top_k must be between 1 and experts",
        "num_gpus must be at least 1",
    )
    assert all(math.isnan(row["latency_ms"] or math.nan) for row in json.loads(result.stdout))


def test_a_disaggregated_simulation_beyond_its_worker_limit_is_refused_at_once():
    args = ["--mode", "disagg", "--concurrency", "8", "--prefill-workers", "100000000", "--percentiles"]
    assert_clear_failure(run_cli(*ESTIMATE, *args), 2, "more than its limit of 4,096")


def test_an_output_folder_that_cannot_be_written_is_refused_with_the_reason(tmp_path, monkeypatch):
    """Tests run as root here, so permissions cannot refuse a write: the file system's refusal is simulated."""
    (tmp_path / "configs.csv").write_text(f"model,system,framework,isl,osl,concurrency\n{ROW}\n")

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "locked"))

    monkeypatch.setattr("servecast.files.tempfile.mkstemp", refused)
    result = run_cli(
        "estimate", "--input", str(tmp_path / "configs.csv"), "--output", str(tmp_path / "locked" / "x.csv")
    )
    assert_clear_failure(result, 2, "Permission denied", "check the permissions")


def test_search_json_is_standard_json_where_a_speed_is_unbounded():
    result = run_cli(*SEARCH[:-4], "--gpus", "1", "--frameworks", "vllm", "--modes", "static", "--osl", "1", "--json")

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    document = json.loads(result.stdout, parse_constant=refuse)
    unbounded = [row for row in document["top"] if row["tokens_per_s_per_user"] is None]
    assert unbounded and all("tokens_per_s_per_user" in row["non_finite"] for row in unbounded)


def test_validation_messages_use_plain_words_not_the_validation_library_s():
    result = run_cli(*ESTIMATE, "--concurrency", "8", "--memory-fraction", "1.5")
    assert_clear_failure(result, 2, "memory_fraction: must be at most 1.0 (got 1.5)")
    assert "Input should be" not in result.output


def test_recommend_refuses_a_target_that_takes_more_gpus_than_it_plans_for():
    result = run_cli(*RECOMMEND, "--target-request-rate", "1e12")
    assert_clear_failure(result, 2, "beyond the 1,000,000 servecast plans for")
