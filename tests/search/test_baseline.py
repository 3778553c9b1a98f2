"""The default deployment each search is measured against: one aggregated tensor-parallel server per node at the
framework's own flags, at its best load within the SLA, and the winner's gain over it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from servecast.cli import cli
from servecast.search.baseline import Baseline, gain
from servecast.search.evaluate import FRAMEWORK_BUDGET
from servecast.search.runner import run_search
from servecast.search.task import SearchTask

from .conftest import task as search_task


def task(**changes: object) -> SearchTask:
    return search_task(**{"gpus": 16, **changes})


@pytest.fixture(scope="module")
def result(host):
    return run_search(host, task(frameworks=("vllm", "sglang")))


def test_the_baseline_is_the_best_point_of_one_tp8_server_per_node_at_the_framework_flags(result):
    columns = result.columns
    for framework, baseline in result.baselines.items():
        assert (baseline.tp, baseline.pp) == (8, 1)
        index = baseline.index
        assert index is not None and result.feasible[index]
        assert columns["framework"][index] == framework and columns["mode"][index] == "agg"
        assert columns["tp"][index] == 8 and columns["pp"][index] == 1 and columns["dp"][index] == 1
        assert columns[FRAMEWORK_BUDGET][index] == 1.0
        assert columns["num_gpus"][index] == 16  # two nodes, one server each
        same = (
            (columns["framework"] == framework)
            & (columns["mode"] == "agg")
            & (columns["tp"] == 8)
            & (columns["pp"] == 1)
            & (columns[FRAMEWORK_BUDGET] == 1.0)
            & result.feasible
        )
        assert columns["tokens_per_s_per_gpu"][index] == columns["tokens_per_s_per_gpu"][same].max()


def test_the_winner_gains_at_least_nothing_over_any_default_deployment(result):
    for baseline in result.baselines.values():
        ratio = gain(result, baseline)
        assert ratio is not None and ratio >= 1.0


def test_fewer_gpus_than_a_node_take_the_widest_tensor_parallel_group_in_them(host):
    result = run_search(host, task(gpus=4, frameworks=("vllm",)))
    assert (result.baselines["vllm"].tp, result.baselines["vllm"].pp) == (4, 1)


def test_a_model_one_node_cannot_hold_adds_pipeline_stages_over_nodes(host):
    result = run_search(host, task(model="deepseek-ai/DeepSeek-V3", gpus=16, frameworks=("trtllm",), modes=("agg",)))
    baseline = result.baselines["trtllm"]
    assert (baseline.tp, baseline.pp) == (8, 2)
    assert "2 pipeline stages over nodes" in baseline.description


def test_a_default_deployment_that_meets_the_sla_nowhere_says_so():
    baseline = Baseline("vllm", 8, 1, None)
    assert baseline.reason == "it meets the SLA at no load level evaluated"
    assert Baseline("vllm", None, None, None).reason.startswith("the search evaluated no")


def test_search_json_carries_the_baseline_and_the_winners_gain_over_it():
    arguments = ["search", "--model", "Qwen/Qwen3-8B", "--system", "h100_sxm", "--gpus", "8", "--isl", "2000"]
    arguments += ["--osl", "200", "--frameworks", "vllm", "--ttft", "2000", "--tpot", "30", "--json"]
    outcome = CliRunner().invoke(cli, arguments)
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    baseline = document["baseline"]
    assert baseline["point"]["tp"] == 8 and baseline["point"]["mode"] == "agg"
    winner = document["best"][0]["tokens_per_s_per_gpu"]
    expected = winner / baseline["point"]["tokens_per_s_per_gpu"]
    assert np.isclose(baseline["winner_gain_tokens_per_s_per_gpu"], expected)
    assert set(document["baselines"]) == {"vllm"}
