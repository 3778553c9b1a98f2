"""The search: GPU accounting, SLA and GPU monotonicity, the frontier, determinism, and reproduction by estimate."""

from __future__ import annotations

import numpy as np
import pytest

from servecast.domain.workload import Sla, UserPhase
from servecast.search.explain import request_from_row
from servecast.search.pareto import pareto_front
from servecast.search.runner import run_search
from servecast.serving.estimate import estimate

from .conftest import task


@pytest.fixture(scope="module")
def result(host):
    return run_search(host, task())


def test_points_never_use_more_gpus_than_given_and_disaggregated_gpus_add_up(result):
    columns = result.columns
    assert result.evaluated > 100
    assert (columns["num_gpus"] <= 4).all()
    disagg = columns["mode"] == "disagg"
    assert disagg.any()
    prefill = columns["prefill_tp"] * columns["prefill_pp"] * columns["prefill_dp"] * columns["prefill_workers"]
    decode = columns["decode_tp"] * columns["decode_pp"] * columns["decode_dp"] * columns["decode_workers"]
    assert np.array_equal(columns["num_gpus"][disagg], (prefill + decode)[disagg])
    agg = ~disagg
    instance = columns["tp"] * columns["pp"] * columns["dp"]
    assert np.array_equal(columns["num_gpus"][agg], (instance * columns["replicas"])[agg])


def test_every_frontier_point_is_non_dominated(result):
    per_gpu, per_user = result.columns["tokens_per_s_per_gpu"], result.columns["tokens_per_s_per_user"]
    candidates = result.pareto_candidates()
    for index in result.pareto:
        better = (per_gpu[candidates] >= per_gpu[index]) & (per_user[candidates] >= per_user[index])
        strictly = (per_gpu[candidates] > per_gpu[index]) | (per_user[candidates] > per_user[index])
        assert not (better & strictly).any()


def test_the_pareto_front_of_a_known_set():
    per_gpu = np.array([10.0, 8.0, 5.0, 9.0, 1.0])
    per_user = np.array([1.0, 2.0, 3.0, 1.5, 3.0])
    assert pareto_front(per_gpu, per_user).tolist() == [0, 3, 1, 2]


def test_a_looser_sla_never_lowers_the_best_throughput_per_gpu(host):
    tight = run_search(host, task(sla=Sla(ttft_ms=500, tpot_ms=15), frameworks=("vllm",)), explain=False)
    loose = run_search(host, task(sla=Sla(ttft_ms=2000, tpot_ms=40), frameworks=("vllm",)), explain=False)
    per_gpu = "tokens_per_s_per_gpu"
    assert loose.best and tight.best
    assert loose.columns[per_gpu][loose.best[0]] >= tight.columns[per_gpu][tight.best[0]]


def test_more_gpus_never_lower_the_best_total_throughput(host):
    totals = []
    for gpus in (1, 2, 4, 8):
        found = run_search(host, task(gpus=gpus, frameworks=("trtllm",)), explain=False)
        totals.append(float(found.columns["throughput_tokens_per_s"][found.feasible].max()))
    assert totals == sorted(totals)


def test_results_are_deterministic(host, result):
    again = run_search(host, task())
    assert again.best == result.best and again.pareto == result.pareto
    for name, column in result.columns.items():
        assert np.array_equal(column, again.columns[name], equal_nan=column.dtype != object), name


def test_estimate_reproduces_rows_of_the_search(host, result):
    columns = result.columns
    picked = set(result.best) | set(result.pareto[:: max(1, len(result.pareto) // 6)])
    budgets = np.nan_to_num(columns["max_num_tokens"])
    for group in set(zip(columns["framework"], columns["mode"], budgets, strict=True)):
        rows = np.flatnonzero(
            (columns["framework"] == group[0]) & (columns["mode"] == group[1]) & (budgets == group[2])
        )
        picked |= {int(rows[0]), int(rows[len(rows) // 2]), int(rows[-1])}
    for index in sorted(picked):
        row = result.row(index)
        metrics = estimate(host, request_from_row(row)).metrics.as_dict()
        for name in ("ttft_ms", "tpot_ms", "requests_per_s", "tokens_per_s_per_gpu", "num_gpus"):
            assert metrics[name] == pytest.approx(row[name], rel=1e-6), (name, row)


def test_the_winner_is_explained_with_time_shares_and_a_limit(result):
    explanation = result.explanation
    assert explanation["limited_by"]
    for shares in explanation["shares"].values():
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-6)


def test_aggregated_servers_are_searched_at_each_token_budget_that_can_schedule_a_prompt(host, result):
    columns = result.columns
    agg = columns["mode"] == "agg"
    for framework in ("vllm", "sglang", "trtllm"):
        rows = agg & (columns["framework"] == framework)
        budgets = set(columns["max_num_tokens"][rows])
        assert {4096, 8192, 16384} <= budgets, framework
    assert 2048 in set(columns["max_num_tokens"][agg & (columns["framework"] == "vllm")])
    assert np.isnan(columns["max_num_tokens"][columns["mode"] == "disagg"]).all()
    # TensorRT-LLM 1.x does not chunk prompts by default: no budget below a 3000-token prompt
    unchunked = run_search(host, task(isl=3000, frameworks=("trtllm",), modes=("agg",)), explain=False)
    assert set(unchunked.columns["max_num_tokens"]) == {4096, 8192, 16384}


@pytest.mark.parametrize(
    ("mode", "gpus", "column", "role", "limit"),
    [
        ("agg", 1, "concurrency", "server", "concurrency_limit"),
        ("disagg", 2, "decode_batch_size", "decode", "preemption_free_limit"),
    ],
)
def test_load_is_searched_up_to_the_requests_the_kv_cache_holds_whole_where_the_framework_preempts(
    host, mode, gpus, column, role, limit
):
    """vLLM allocates outputs as they grow: more users in step than the cache holds whole preempt in bursts, and a
    decode worker past that count preempts transferred requests, both costs the means miss, so the search stops
    there; TensorRT-LLM reserves every output and runs to its running limit."""
    crowded = task(
        gpus=gpus, isl=4000, osl=4000, frameworks=("vllm", "trtllm"), modes=(mode,), user_phase=UserPhase.WAVES
    )
    found = run_search(host, crowded, explain=False)
    columns = found.columns
    for framework in ("vllm", "trtllm"):
        rows = np.flatnonzero(columns["framework"] == framework)
        top = int(rows[np.argmax(columns[column][rows])])
        server = estimate(host, request_from_row(found.row(top))).servers[role]
        assert server.running_limit < server.batch_limit  # the KV cache binds
        if framework == "vllm":
            assert getattr(server, limit) == server.whole_requests < server.running_limit
        else:
            assert getattr(server, limit) == server.whole_requests == server.running_limit
        assert columns[column][top] == getattr(server, limit)


def test_progress_is_reported_per_stage_and_ends_with_every_configuration(host):
    events = []
    found = run_search(host, task(frameworks=("vllm", "sglang")), progress=events.append, explain=False)
    assert [event.stage for event in events] == ["vllm agg", "vllm disagg", "sglang agg", "sglang disagg", ""]
    assert [event.done for event in events] == [0, 1, 2, 3, 4] and {event.total for event in events} == {4}
    assert events[-1].evaluated == found.evaluated
    assert [event.evaluated for event in events] == sorted(event.evaluated for event in events)


def test_spread_users_are_searched_up_to_the_running_limit(host):
    """Users that drift apart hold the cache at outputs of every length, so the running limit, which counts them
    half-grown, bounds the aggregated search for every framework."""
    found = run_search(host, task(gpus=1, isl=4000, osl=4000, frameworks=("vllm",), modes=("agg",)), explain=False)
    top = int(np.argmax(found.columns["concurrency"]))
    server = estimate(host, request_from_row(found.row(top))).servers["server"]
    assert server.concurrency_limit == server.running_limit > server.whole_requests
    assert found.columns["concurrency"][top] == server.running_limit
