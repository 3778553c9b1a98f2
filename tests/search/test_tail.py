"""Percentile targets: the winner of a tail-SLA search meets them in the discrete-event simulation, what the
simulation rejects is no longer feasible, and a target nothing reaches names the closest configuration."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from servecast.cli import cli
from servecast.domain.workload import Sla, UserStart
from servecast.search.explain import infeasibility
from servecast.search.result import PERCENTILE_MODEL_MARGIN
from servecast.search.runner import run_search
from servecast.search.tail import percentiles_of
from servecast.search.task import SearchTask

from .conftest import task as search_task


def task(sla: Sla, **changes: object) -> SearchTask:
    return search_task(**{"gpus": 8, "frameworks": ("vllm",), "sla": sla, **changes})


SCENARIOS = {
    "p99 ttft, burst start": (Sla(ttft_ms=1000, tpot_ms=30, ttft_p99_ms=800), {}),
    "p99 tpot": (Sla(ttft_ms=2000, tpot_p99_ms=12), {}),
    "p90 ttft and p99 latency, warm start": (
        Sla(ttft_p90_ms=300, e2e_p99_ms=4000),
        {"user_start": UserStart.WARM, "isl": 4000, "osl": 400},
    ),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_winner_meets_every_percentile_target_in_the_simulation(host, scenario):
    sla, changes = SCENARIOS[scenario]
    result = run_search(host, task(sla, **changes))
    assert result.best, "no configuration confirmed"
    for index in result.best:
        percentiles = result.tails[index]
        for (name, level), limit in sla.percentile_targets.items():
            assert percentiles[name][level] <= limit
    again = percentiles_of(host, result, result.best[0])  # simulated afresh from the reported row
    for (name, level), limit in sla.percentile_targets.items():
        assert again[name][level] <= limit


def test_what_the_simulation_rejects_no_longer_meets_the_sla(host):
    sla = Sla(ttft_ms=1000, tpot_ms=30, ttft_p99_ms=800)
    result = run_search(host, task(sla))
    rejected = [index for index, values in result.tails.items() if values.get("ttft_ms", {}).get("p99", 0) > 800]
    assert rejected, "the search never needed the simulation to reject a point"
    assert not any(result.feasible[index] for index in rejected)
    assert set(result.top(10)) <= set(result.tails)


def test_every_point_carries_the_model_percentiles_and_the_model_prunes_what_misses_by_far(host):
    sla = Sla(ttft_ms=1000, tpot_ms=30, ttft_p99_ms=800)
    result = run_search(host, task(sla))
    columns = result.columns
    for column in ("ttft_p90_ms", "ttft_p99_ms", "tpot_p99_ms", "e2e_p99_ms"):
        assert np.isfinite(columns[column][result.feasible]).all()
    assert (columns["ttft_p99_ms"][result.feasible] <= 800 * PERCENTILE_MODEL_MARGIN).all()
    beyond = (columns["ttft_p99_ms"] > 800 * PERCENTILE_MODEL_MARGIN) & (columns["ttft_ms"] <= 800)
    assert beyond.any(), "no point whose mean meets the target was ruled out by the model"


def test_without_percentile_targets_nothing_is_simulated(host):
    result = run_search(host, task(Sla(ttft_ms=1000, tpot_ms=30)))
    assert result.tails == {}


def test_a_percentile_target_the_model_rules_out_names_the_closest_and_what_the_model_gives(host):
    result = run_search(host, task(Sla(ttft_p99_ms=20)))
    assert not result.best
    assert not result.tails, "the model ruled every point out: nothing to simulate"
    report = infeasibility(result)
    assert report["binding"] == "P99 TTFT"
    assert report["closest"]
    assert any(advice.startswith("loosen the P99 TTFT target to about") for advice in report["advice"])


def test_a_percentile_target_the_simulation_refutes_names_what_it_reached(host):
    searched = run_search(host, task(Sla(ttft_ms=1000)))
    refuted = {index: {"ttft_ms": {"p99": 500.0 + index}} for index in searched.best}
    strict = searched.task.model_copy(update={"sla": Sla(ttft_ms=1000, ttft_p99_ms=100)})
    result = replace(searched, task=strict, best=(), tails=refuted)
    report = infeasibility(result)
    assert report["binding"] == "P99 TTFT"
    assert report["closest"][0]["percentiles"] == refuted[min(refuted)]
    assert f"loosen the P99 TTFT target to {500 + min(refuted)} ms (from 100 ms)" in report["advice"]


def test_search_takes_percentile_flags_and_reports_the_simulated_percentiles():
    arguments = ["search", "--model", "Qwen/Qwen3-8B", "--system", "h100_sxm", "--gpus", "8", "--isl", "2000"]
    arguments += ["--osl", "200", "--frameworks", "vllm", "--tpot-p99", "12", "--json"]
    outcome = CliRunner().invoke(cli, arguments)
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    assert document["inputs"]["sla"]["tpot_p99_ms"] == 12
    assert document["best"][0]["percentiles"]["tpot_ms"]["p99"] <= 12
