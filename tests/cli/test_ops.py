"""`servecast ops`: estimate an op table on a system, row errors named, and the schema of the table."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from servecast.cli import cli


def run_cli(*args):
    """The installed workspace plugins (h100_sxm, the three frameworks) are what these tests estimate with."""
    return CliRunner().invoke(cli, list(args))


def estimate(tmp_path, table, *options):
    """`servecast ops estimate --system h100_sxm` over `table` written to a file, with extra `options`."""
    (tmp_path / "ops.csv").write_text(table)
    return run_cli("ops", "estimate", "--system", "h100_sxm", "--input", str(tmp_path / "ops.csv"), *options)


OPS_CSV = """op,m,n,k,dtype,batch,seq_len,num_heads,num_kv_heads,head_dim,kv_dtype,kv_len,message_bytes,num_gpus,case_id
gemm,16,8192,8192,bf16,,,,,,,,,,a
context_attention,,,,bf16,1,4096,8,1,128,bf16,,,,b
generation_attention,,,,bf16,64,,8,1,128,fp8,4096,,,c
all_reduce,,,,,,,,,,,,1048576,8,d
p2p,,,,,,,,,,,,1048576,,e
"""


def test_ops_estimate_writes_the_input_columns_plus_latency_provenance_and_sol(tmp_path):
    out = tmp_path / "out.csv"
    result = estimate(tmp_path, OPS_CSV, "--output", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [row["case_id"] for row in rows] == ["a", "b", "c", "d", "e"]
    for row in rows:
        assert float(row["latency_ms"]) >= float(row["sol_ms"]) > 0
    provenance = {row["case_id"]: (row["provenance"], row["source"]) for row in rows}
    assert provenance["a"][0] == "measured"  # Llama-2-70B's attention output projection at TP1 (Vidur, H100)
    assert "Vidur" in provenance["a"][1]
    assert {provenance[case][0] for case in "bcde"} == {"calibrated_roofline"}
    assert all("calibrated roofline" in provenance[case][1] for case in "bcde")
    assert "5 of 5 rows estimated (4 calibrated_roofline, 1 measured)" in result.stderr


def test_bad_rows_are_named_and_the_other_rows_still_estimated(tmp_path):
    bad = OPS_CSV + "gemm,1,8192,,bf16,,,,,,,,,,f\nconv2d,,,,,,,,,,,,,,g\ngemm,1,2,3,fp7,,,,,,,,,,h\n"
    result = estimate(tmp_path, bad, "--json")
    assert result.exit_code == 2
    records = json.loads(result.stdout)
    assert [r["latency_ms"] is not None for r in records] == [True] * 5 + [False] * 3
    assert "row 7: gemm needs column 'k'" in result.stderr
    assert "row 8: op 'conv2d' is not one of gemm" in result.stderr
    assert "row 9: dtype 'fp7' is not one of" in result.stderr
    assert records[5]["error"] == "row 7: gemm needs column 'k' (input features)"


def test_a_framework_s_kernels_change_the_estimate(tmp_path):
    table = "op,message_bytes,num_gpus\nall_reduce,262144,8\n"
    latency = {}
    for framework, version in (("trtllm", "1.0.0"), ("vllm", "0.11.0")):  # TRT-LLM's vs vLLM's custom all-reduce
        result = estimate(tmp_path, table, "--framework", framework, "--framework-version", version, "--json")
        assert result.exit_code == 0, result.output
        latency[framework] = json.loads(result.stdout)[0]["latency_ms"]
    assert latency["trtllm"] != latency["vllm"]


def test_a_table_without_an_op_column_is_rejected_before_anything_is_written(tmp_path):
    out = tmp_path / "out.csv"
    result = estimate(tmp_path, "m,n,k\n1,2,3\n", "--output", str(out))
    assert result.exit_code == 2
    assert "no 'op' column" in result.stderr and not out.exists()


def test_ops_schema_lists_every_op_with_its_columns():
    result = run_cli("ops", "schema", "--json")
    schema = json.loads(result.stdout)
    assert schema["ops"]["gemm"]["columns"].keys() == {"m", "n", "k"}
    assert set(schema["ops"]["moe"]["columns"]) == {
        "num_tokens",
        "hidden",
        "inter",
        "num_experts",
        "topk",
        "ep",
        "moe_tp",
    }
    assert {"bf16", "fp16", "fp8", "fp8_block", "int8", "w4a16", "mxfp4"} <= set(schema["dtypes"])
    assert schema["output"] == ["latency_ms", "provenance", "source", "sol_ms"]


def test_a_framework_version_that_is_no_version_is_a_clear_input_error(tmp_path):
    ops = estimate(tmp_path, OPS_CSV, "--framework", "vllm", "--framework-version", "9.x", "--json")
    model = run_cli(
        "model",
        "show",
        "meta-llama/Llama-3.1-8B",
        *("--system", "h100_sxm", "--framework", "vllm"),
        "--framework-version",
        "9.x",
    )
    for result in (ops, model):
        assert result.exit_code == 2
        assert "vLLM version '9.x' is not a version number" in result.stderr
