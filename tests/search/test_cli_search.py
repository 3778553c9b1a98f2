"""`servecast search`, `servecast recommend` and the Python API."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

from click.testing import CliRunner
from rich.console import Console

from servecast import api
from servecast.cli import cli
from servecast.cli.progress import SearchProgressBar
from servecast.search.evaluate import SearchProgress

SEARCH = ["search", "--model", "Qwen/Qwen3-8B", "--system", "h100_sxm", "--gpus", "4", "--isl", "2000", "--osl", "200"]


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_search_json_has_inputs_best_pareto_evaluated_and_elapsed():
    result = run_cli(*SEARCH, "--frameworks", "vllm", "--ttft", "2000", "--tpot", "30", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert {"inputs", "best", "pareto", "evaluated", "elapsed_s"} <= document.keys()
    assert document["inputs"]["frameworks"] == ["vllm"]
    assert document["evaluated"] > 0
    best = document["best"][0]
    assert best["meets_sla"] and best["tpot_ms"] <= 30 and best["framework"] == "vllm"


def test_search_prints_the_best_the_winner_and_the_frontier():
    result = run_cli(*SEARCH, "--ttft", "2000", "--tpot", "30")
    assert result.exit_code == 0, result.output
    assert "best per framework and mode" in result.stdout
    assert "winner:" in result.stdout and "limited by" in result.stdout
    assert "tokens/s/user" in result.stdout


def test_an_infeasible_search_names_the_binding_constraint_and_exits_4():
    result = run_cli(*SEARCH, "--ttft", "1", "--json")
    assert result.exit_code == 4
    document = json.loads(result.stdout)
    assert document["best"] == []
    assert "TTFT" in document["infeasible"]["binding"]
    assert document["infeasible"]["closest"]
    assert "no configuration meets the targets" in result.stderr


def test_a_model_that_fits_nowhere_says_memory_binds():
    result = run_cli(
        "search",
        "--model",
        "meta-llama/Llama-3.1-405B",
        "--system",
        "h100_sxm",
        "--gpus",
        "2",
        "--isl",
        "1000",
        "--osl",
        "100",
    )
    assert result.exit_code == 4
    assert "memory" in result.stderr


def test_an_uninstalled_framework_is_refused_with_the_installed_ones():
    result = run_cli(*SEARCH, "--frameworks", "tgi")
    assert result.exit_code == 2
    assert "'tgi' not installed" in result.stderr and "vllm" in result.stderr


def test_requests_longer_than_the_model_context_are_refused_before_searching():
    args = ["search", "--model", "meta-llama/Llama-2-7b-hf", "--system", "h100_sxm", "--gpus", "8"]
    result = run_cli(*args, "--isl", "4000", "--osl", "500")
    assert result.exit_code == 2
    assert "4000 + 500 tokens exceed the 4,096-token context" in result.stderr


def test_save_dir_writes_points_frontier_plot_inputs_and_configs_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "run"
    args = [*SEARCH, "--frameworks", "sglang", "--ttft", "2000", "--save-dir", str(out)]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    for name in ("points.csv", "pareto.csv", "best.csv", "inputs.json", "frontier.png"):
        assert (out / name).stat().st_size > 0
    with (out / "points.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {"framework", "tp", "concurrency", "tokens_per_s_per_gpu", "meets_sla"} <= rows[0].keys()
    configs = sorted((out / "configs").iterdir())
    assert configs and all((folder / "config.json").exists() for folder in configs)
    again = run_cli(*args)
    assert again.exit_code == 2 and "--force" in again.stderr
    assert run_cli(*args, "--force").exit_code == 0


def test_recommend_finds_the_fewest_gpus_for_a_request_rate():
    result = run_cli(
        "recommend",
        "--model",
        "Qwen/Qwen3-8B",
        "--system",
        "h100_sxm",
        "--isl",
        "2000",
        "--osl",
        "200",
        "--ttft",
        "2000",
        "--tpot",
        "30",
        "--target-request-rate",
        "40",
        "--json",
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    unit = document["unit"]
    assert document["gpus"] == document["copies"] * unit["num_gpus"]
    assert document["copies"] * unit["requests_per_s"] >= 40
    assert unit["meets_sla"]


def test_the_python_api_returns_data_frames_and_the_estimate_of_a_row():
    found = api.search(model="Qwen/Qwen3-8B", system="h100_sxm", gpus=2, isl=1000, osl=100, frameworks=("vllm",))
    frame = found.best_frame
    assert list(frame["framework"]) == ["vllm", "vllm"]
    assert len(found.points) == found.evaluated
    row = found.row(found.best[0])
    again = api.estimate(**{k: v for k, v in row.items() if k in api.EstimateRequest.model_fields and v is not None})
    assert (
        again.metrics.tokens_per_s_per_gpu == row["tokens_per_s_per_gpu"]
        or abs(again.metrics.tokens_per_s_per_gpu / row["tokens_per_s_per_gpu"] - 1) < 1e-6
    )


def test_the_progress_bar_shows_stages_done_and_configurations_only_on_a_terminal():
    events = [SearchProgress("vllm agg", 0, 2, 0), SearchProgress("vllm disagg", 1, 2, 1234)]
    terminal = io.StringIO()
    with SearchProgressBar(Console(file=terminal, force_terminal=True, width=120), moment_s=0) as bar:
        for event in events:
            bar(event)
    assert "1/2" in terminal.getvalue() and "1,234 configurations" in terminal.getvalue()
    piped = io.StringIO()
    with SearchProgressBar(Console(file=piped, force_terminal=False), moment_s=0) as bar:
        for event in events:
            bar(event)
    assert piped.getvalue() == ""


def test_a_search_imports_no_dataframe_scipy_or_plotting_library():
    """Those cost a search about a second of start-up; it needs none of them (saving a plot or a frame does)."""
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from servecast.cli import cli\n"
        f"result = CliRunner().invoke(cli, {[*SEARCH, '--frameworks', 'vllm', '--ttft', '2000', '--tpot', '30']!r})\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(name for name in ('pandas', 'scipy', 'matplotlib') if name in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
