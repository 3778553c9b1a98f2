"""`servecast estimate`: one configuration as JSON or a table, the batch form, and bad configurations."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from servecast.cli import cli

BASE = ["estimate", "--model", "meta-llama/Llama-3.1-8B", "--system", "h100_sxm", "--isl", "1000", "--osl", "100"]


def run_cli(*args):
    """The installed workspace plugins (h100_sxm, the three frameworks) are what these tests estimate with."""
    return CliRunner().invoke(cli, list(args))


def test_estimate_json_has_the_metrics_memory_and_warnings():
    result = run_cli(*BASE, "--framework", "vllm", "--concurrency", "16", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in (
        "ttft_ms",
        "tpot_ms",
        "e2e_ms",
        "throughput_tokens_per_s",
        "tokens_per_s_per_gpu",
        "tokens_per_s_per_user",
        "requests_per_s",
        "num_gpus",
        "memory",
        "warnings",
    ):
        assert key in data
    assert data["memory"]["server"]["kv_cache_tokens"] > 0
    assert data["e2e_ms"] == data["ttft_ms"] + 99 * data["tpot_ms"]


def test_breakdown_shares_sum_to_one_with_a_provenance_per_op():
    result = run_cli(*BASE, "--framework", "sglang", "--concurrency", "8", "--breakdown", "--json")
    assert result.exit_code == 0, result.output
    breakdown = json.loads(result.stdout)["breakdown"]
    for step in ("prefill", "decode"):
        ops = breakdown[step]["ops"]
        assert abs(sum(op["share"] for op in ops) - 1) < 1e-9
        assert all(op["provenance"] for op in ops)


def test_percentiles_come_from_the_simulation():
    result = run_cli(*BASE, "--framework", "trtllm", "--request-rate", "4", "--percentiles", "--json")
    assert result.exit_code == 0, result.output
    percentiles = json.loads(result.stdout)["percentiles"]
    ttft = percentiles["ttft_ms"]
    assert ttft["p50"] <= ttft["p90"] <= ttft["p99"]
    assert percentiles["simulated_requests"] >= 200


def test_replicas_simulate_one_replica_with_its_share_of_the_run():
    flags = ("--framework", "vllm", "--percentiles", "--json", "--length-distribution", "uniform", "--length-spread")
    replicated = run_cli(*BASE, *flags, "0.1", "--concurrency", "64", "--replicas", "4", "--num-requests", "640")
    single = run_cli(*BASE, *flags, "0.1", "--concurrency", "16", "--num-requests", "160")
    assert replicated.exit_code == 0 and single.exit_code == 0, replicated.output + single.output
    replica, alone = (json.loads(result.stdout)["percentiles"] for result in (replicated, single))
    assert replica["simulated_requests"] == 160  # each user sends 10 requests, as in the whole run
    assert replica["ttft_ms"] == alone["ttft_ms"]


def test_the_model_percentiles_come_with_every_estimate():
    result = run_cli(*BASE, "--framework", "vllm", "--concurrency", "16", "--json")
    data = json.loads(result.stdout)
    assert data["ttft_ms"] <= data["ttft_p99_ms"] and data["ttft_p90_ms"] <= data["ttft_p99_ms"]
    assert data["e2e_p90_ms"] <= data["e2e_p99_ms"]
    assert "P99 (model)" in run_cli(*BASE, "--framework", "vllm", "--concurrency", "16").output


def test_disaggregated_percentiles_come_from_the_simulation_of_both_pools():
    pools = ["--mode", "disagg", "--prefill-workers", "2", "--decode-workers", "1", "--concurrency", "32"]
    result = run_cli(*BASE, "--framework", "sglang", *pools, "--percentiles", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    ttft = data["percentiles"]["ttft_ms"]
    assert ttft["p50"] <= ttft["p90"] <= ttft["p99"]
    assert data["percentiles"]["simulated_requests"] >= 200
    assert not any("means only" in warning for warning in data["warnings"])


def test_an_unmodelled_framework_version_uses_the_nearest_and_says_so():
    result = run_cli(*BASE, "--framework", "vllm", "--framework-version", "0.10.5", "--concurrency", "4", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["framework_version"] == "0.10.2"
    assert any("0.10.5 is not modelled" in warning for warning in data["warnings"])


def test_a_tensor_parallel_group_across_nodes_pays_the_network_for_its_all_reduces():
    def all_reduce_ms(tp):
        args = ["--framework", "vllm", "--concurrency", "4", "--tp", str(tp), "--breakdown", "--json"]
        result = run_cli(*BASE, *args)
        assert result.exit_code == 0, result.output
        ops = json.loads(result.stdout)["breakdown"]["decode"]["ops"]
        return sum(op["ms"] for op in ops if op["kind"] == "all_reduce")

    assert all_reduce_ms(16) > 1.5 * all_reduce_ms(8)


def test_a_model_that_does_not_fit_is_rejected_with_the_numbers():
    args = ["estimate", "--model", "meta-llama/Llama-3.1-70B", "--system", "h100_sxm", "--framework", "trtllm"]
    result = run_cli(*args, "--isl", "100", "--osl", "100", "--concurrency", "1")
    assert result.exit_code != 0
    assert "does not fit" in result.stderr and "GiB of weights" in result.stderr


def test_a_mode_the_version_cannot_run_is_rejected():
    result = run_cli(
        *BASE, "--framework", "vllm", "--framework-version", "0.6.0", "--mode", "disagg", "--concurrency", "4"
    )
    assert result.exit_code != 0
    assert "serving mode 'disagg'" in result.stderr


def test_two_loads_are_rejected_naming_both():
    result = run_cli(*BASE, "--framework", "vllm", "--concurrency", "4", "--request-rate", "2")
    assert result.exit_code != 0
    assert "concurrency, request_rate" in result.stderr


BATCH = """id,model,system,framework,mode,isl,osl,concurrency,batch_size,tp,prefill_tp,decode_tp,decode_workers
a,meta-llama/Llama-3.1-8B,h100_sxm,vllm,agg,1000,100,8,,1,,,
b,meta-llama/Llama-3.1-8B,h100_sxm,sglang,static,1000,100,,4,1,,,
bad,meta-llama/Llama-3.1-70B,h100_sxm,vllm,agg,1000,100,8,,1,,,
d,meta-llama/Llama-3.1-8B,h100_sxm,trtllm,disagg,1000,100,32,,,1,1,2
"""


def test_the_batch_form_estimates_every_good_row_and_names_the_bad_one(tmp_path):
    (tmp_path / "configs.csv").write_text(BATCH)
    out = tmp_path / "results.csv"
    result = run_cli("estimate", "--input", str(tmp_path / "configs.csv"), "--output", str(out))
    assert result.exit_code == 2
    assert "row 3 (id bad)" in result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [row["id"] for row in rows] == ["a", "b", "bad", "d"]
    assert [bool(row["error"]) for row in rows] == [False, False, True, False]
    assert float(rows[0]["ttft_ms"]) > 0 and rows[2]["ttft_ms"] == ""
    assert int(rows[3]["num_gpus"]) == 3


def test_the_batch_form_rejects_unknown_columns_before_estimating(tmp_path):
    (tmp_path / "configs.csv").write_text("model,system,framework,isl,osl,concurency\nm,h100_sxm,vllm,1,1,1\n")
    out = tmp_path / "results.csv"
    result = run_cli("estimate", "--input", str(tmp_path / "configs.csv"), "--output", str(out))
    assert result.exit_code != 0
    assert "'concurency'" in result.stderr
    assert not out.exists()


def test_the_client_behaviour_behind_a_closed_loop_estimate_is_printed():
    table = run_cli(*BASE, "--framework", "vllm", "--concurrency", "16")
    assert table.exit_code == 0, table.output
    printed = " ".join(table.stdout.split())
    assert "clients: 16 users start at once, 10 requests each, the first wave counted; after their first" in printed
    warm = json.loads(
        run_cli(*BASE, "--framework", "vllm", "--concurrency", "16", "--user-start", "warm", "--json").stdout
    )
    assert warm["clients"].startswith("16 users, measured after a warm-up (steady state only); after their first")
    burst = json.loads(run_cli(*BASE, "--framework", "vllm", "--concurrency", "16", "--json").stdout)
    assert burst["ttft_ms"] > warm["ttft_ms"]  # the first wave's prompts queue behind each other
    assert "clients" not in json.loads(run_cli(*BASE, "--framework", "vllm", "--request-rate", "2", "--json").stdout)


def test_users_in_step_need_equal_lengths_and_a_run_needs_a_request_per_user():
    waves = run_cli(
        *BASE, "--framework", "vllm", "--concurrency", "16", "--user-phase", "waves",
        "--length-distribution", "uniform", "--length-spread", "0.2",
    )  # fmt: skip
    assert waves.exit_code == 2
    assert "user_phase=waves needs fixed lengths" in waves.stderr
    short = run_cli(*BASE, "--framework", "vllm", "--concurrency", "16", "--num-requests", "8")
    assert short.exit_code == 2
    assert "num_requests=8 is fewer than concurrency=16" in short.stderr
    assert "Traceback" not in short.output
