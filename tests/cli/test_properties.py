"""Property-based probe of the command line (Hypothesis): whatever the flags and values, a command ends with a
documented exit code and a clear message, never a traceback, and leaves either complete artifacts or none."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servecast.cli import cli
from servecast.files import STAGING_PREFIX
from servecast.host import PluginHost, PluginSettings, builtin_plugins, discover_plugins

DOCUMENTED_EXIT_CODES = {0, 2, 3, 4}
"""0 done, 2 bad input, 3 plugin failure, 4 nothing meets the SLA (1, a bug, and the signals must not occur)."""

PROBE = settings(
    max_examples=550, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)

NASTY = st.sampled_from(
    ["", " ", "-1", "0", "nan", "inf", "-inf", "1e309", "x", "1.5", "1,000", "é", "a" * 300, "99999999999999999999"]
)


def mostly(valid: st.SearchStrategy[str], nasty: st.SearchStrategy[str] = NASTY) -> st.SearchStrategy[str]:
    """`valid` nine times in ten, else a nasty value: most examples get deep into a command, many fail early."""
    return st.integers(min_value=0, max_value=9).flatmap(lambda roll: valid if roll else nasty)


def counts(low: int, high: int) -> st.SearchStrategy[str]:
    return mostly(st.integers(min_value=low, max_value=high).map(str))


def numbers(low: float, high: float) -> st.SearchStrategy[str]:
    finite = st.floats(min_value=low, max_value=high).map(lambda value: f"{value:.4g}")
    return mostly(finite, st.one_of(NASTY, st.floats().map(repr)))


def one_of(*values: str) -> st.SearchStrategy[str]:
    return mostly(st.sampled_from(values), st.sampled_from(["", "bogus", values[0].upper()]))


PARALLEL = mostly(st.sampled_from(["1", "1", "2", "4", "8", "3", "16"]))
MODELS = mostly(
    st.sampled_from(["Qwen/Qwen3-8B", "meta-llama/Llama-3.1-8B", "Qwen/Qwen3-30B-A3B", "openai/gpt-oss-20b"]),
    st.sampled_from(["nope/none", "", "../", "Qwen/Qwen3-8B\n", "模型"]),
)
SYSTEMS = one_of("h100_sxm")
FRAMEWORKS = one_of("vllm", "sglang", "trtllm")
VERSIONS = mostly(
    st.sampled_from(["0.6.0", "0.11.2", "1.0.0rc3", "0.5.9", "0.20.0"]), st.sampled_from(["v1", "99.0", ""])
)
CHOICES = {
    "--quant": one_of("fp8", "w4a16_awq", "nvfp4", "bf16"),
    "--kv-cache-dtype": one_of("fp8", "bf16"),
    "--length-distribution": one_of("fixed", "uniform", "lognormal"),
    "--user-start": one_of("burst", "warm"),
    "--user-phase": one_of("spread", "waves"),
}

ESTIMATE_FLAGS = {
    "--mode": one_of("agg", "agg", "disagg", "static"),
    "--prefix": counts(0, 500),
    "--replicas": counts(1, 4),
    "--tp": PARALLEL,
    "--pp": PARALLEL,
    "--dp": PARALLEL,
    "--ep": PARALLEL,
    "--memory-fraction": numbers(0.05, 1.2),
    "--max-batch-size": counts(1, 1024),
    "--max-num-tokens": counts(1, 32768),
    "--max-model-len": counts(1, 200_000),
    "--scheduler-steps": counts(1, 16),
    "--prefill-tp": PARALLEL,
    "--decode-tp": PARALLEL,
    "--prefill-workers": counts(1, 4),
    "--decode-workers": counts(1, 4),
    "--decode-batch-size": counts(1, 512),
    "--length-spread": numbers(0.01, 2),
    "--num-requests": counts(1, 2000),
    **CHOICES,
}
LOADS = {
    "--concurrency": mostly(st.integers(min_value=1, max_value=512).map(str), st.sampled_from(["0", "10000000"])),
    "--request-rate": numbers(0.01, 50),
    "--batch-size": counts(1, 256),
}
SEARCH_FLAGS = {
    "--prefix": counts(0, 500),
    "--ttft": numbers(1, 10_000),
    "--tpot": numbers(1, 200),
    "--request-latency": numbers(10, 100_000),
    "--requests-per-user": numbers(0.5, 20),
    "--quant": CHOICES["--quant"],
    "--user-start": CHOICES["--user-start"],
}


@pytest.fixture(scope="module")
def host() -> PluginHost:
    """One plugin host for every example (loading plugins anew per example would cost most of the minute)."""
    return PluginHost([*builtin_plugins(), *discover_plugins()], PluginSettings.resolve(strict=False, disabled=()))


def flags(draw: st.DrawFn, table: dict[str, st.SearchStrategy[str]], most: int) -> list[str]:
    chosen = draw(st.lists(st.sampled_from(sorted(table)), max_size=most, unique=True))
    return [item for flag in chosen for item in (flag, draw(table[flag]))]


@st.composite
def estimate_args(draw: st.DrawFn) -> list[str]:
    base = ["estimate", "--model", draw(MODELS), "--system", draw(SYSTEMS), "--framework", draw(FRAMEWORKS)]
    if draw(st.booleans()):
        base += ["--framework-version", draw(VERSIONS)]
    load = draw(st.sampled_from(sorted(LOADS)))
    base += ["--isl", draw(counts(1, 8000)), "--osl", draw(counts(1, 2000)), load, draw(LOADS[load])]
    extra = st.sampled_from([[], ["--json"], ["--breakdown"], ["--percentiles", "--json"]])
    return base + flags(draw, ESTIMATE_FLAGS, 3) + draw(extra)


@st.composite
def search_args(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(["search", "search", "search", "search", "recommend"]))
    args = [command, "--model", draw(MODELS), "--system", draw(SYSTEMS), "--frameworks", draw(FRAMEWORKS)]
    args += ["--modes", draw(one_of("static", "agg", "static,agg"))]
    if command == "search":
        args += ["--gpus", draw(counts(1, 2))]
        if draw(st.booleans()):
            args += ["--top", draw(counts(1, 10))]
    else:
        load = draw(st.sampled_from(["--target-request-rate", "--target-concurrency"]))
        args += [load, draw(numbers(0.1, 20) if load == "--target-request-rate" else counts(1, 256))]
    args += ["--isl", draw(counts(1, 8000)), "--osl", draw(counts(1, 2000))]
    return args + flags(draw, SEARCH_FLAGS, 3) + draw(st.sampled_from([[], ["--json"]]))


@st.composite
def model_show_args(draw: st.DrawFn) -> list[str]:
    args = ["model", "show", draw(MODELS)]
    table = {
        "--tp": PARALLEL,
        "--pp": PARALLEL,
        "--ep": PARALLEL,
        "--isl": counts(1, 200_000),
        "--batch": counts(1, 512),
        "--quant": CHOICES["--quant"],
        "--kv-cache-dtype": CHOICES["--kv-cache-dtype"],
        "--memory-fraction": numbers(0.05, 1.2),
    }
    args += flags(draw, table, 4)
    if draw(st.booleans()):
        args += ["--system", draw(SYSTEMS), "--framework", draw(FRAMEWORKS)]
    return args + draw(st.sampled_from([[], ["--json"]]))


def assert_documented_ending(result: Result, args: list[str]) -> None:
    assert "Traceback" not in result.output, (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert result.exit_code in DOCUMENTED_EXIT_CODES, (args, result.exit_code, result.output)
    if result.exit_code != 0:
        assert "rror" in result.output, (args, result.output)  # "error:" or click's "Error:"
    if "--json" in args and result.exit_code in (0, 4) and result.stdout.strip():
        json.loads(result.stdout, parse_constant=lambda constant: pytest.fail(f"{constant} in JSON: {args}"))


@PROBE
@given(args=estimate_args())
def test_estimate_ends_with_a_documented_exit_code_whatever_the_flags(host, args):
    assert_documented_ending(CliRunner().invoke(cli, args, obj={"host": host}), args)


@settings(PROBE, max_examples=150)
@given(args=search_args())
def test_search_and_recommend_end_with_a_documented_exit_code_whatever_the_flags(host, args):
    assert_documented_ending(CliRunner().invoke(cli, args, obj={"host": host}), args)


@PROBE
@given(args=model_show_args())
def test_model_show_ends_with_a_documented_exit_code_whatever_the_flags(host, args):
    assert_documented_ending(CliRunner().invoke(cli, args, obj={"host": host}), args)


@settings(PROBE, max_examples=400)
@given(args=estimate_args(), force=st.booleans(), occupied=st.booleans())
def test_generate_writes_complete_artifacts_or_none(host, args, force, occupied):
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "deploy"
        if occupied:
            out.mkdir()
            (out / "launch.sh").write_text("# the user's own\n")
        before = sorted(path.name for path in out.iterdir()) if out.exists() else []
        args = [
            "generate",
            *[a for a in args[1:] if a not in ("--json", "--breakdown", "--percentiles")],
            "--out",
            str(out),
        ]
        result = CliRunner().invoke(cli, args + (["--force"] if force else []), obj={"host": host})
        assert_documented_ending(result, args)
        after = sorted(path.name for path in out.iterdir()) if out.exists() else []
        assert not [name for name in after if name.startswith(STAGING_PREFIX)], after
        if result.exit_code == 0:
            assert {"launch.sh", "benchmark.sh", "deployment.json"} <= set(after)
        else:
            assert after == before, (args, result.output)
            if occupied:
                assert (out / "launch.sh").read_text() == "# the user's own\n"


@st.composite
def op_rows(draw: st.DrawFn) -> str:
    columns = ["op", "dtype", "m", "n", "k", "batch", "seq_len", "kv_len", "num_heads", "num_kv_heads", "head_dim"]
    columns += ["kv_dtype", "num_tokens", "hidden", "inter", "num_experts", "topk", "ep", "message_bytes", "num_gpus"]
    ops = st.sampled_from(["gemm", "context_attention", "generation_attention", "moe", "all_reduce", "p2p", "nope"])
    values = st.one_of(counts(0, 4096), st.sampled_from(["bf16", "fp8", "nvfp4", "w4a16", "int3"]))
    rows = draw(st.lists(st.tuples(ops, st.lists(values, min_size=len(columns) - 1, max_size=len(columns) - 1))))
    lines = [",".join(columns)] + [",".join([op, *(v.replace(",", "") for v in rest)]) for op, rest in rows]
    return "\n".join(lines) + "\n"


@settings(PROBE, max_examples=350)
@given(table=op_rows(), framework=st.sampled_from([[], ["--framework", "vllm"], ["--framework", "nope"]]))
def test_ops_estimate_ends_with_a_documented_exit_code_whatever_the_table(host, table, framework):
    args = ["ops", "estimate", "--system", "h100_sxm", *framework, "--input", "-", "--json"]
    result = CliRunner().invoke(cli, args, input=table, obj={"host": host})
    assert_documented_ending(result, [*args, table])
