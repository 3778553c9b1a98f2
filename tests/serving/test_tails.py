"""The fast percentile model: exact quantiles of uniform mixtures, percentiles spread around the means the model
reports, and agreement with the discrete-event simulation on a few points of each kind."""

from __future__ import annotations

import numpy as np
import pytest

from servecast.serving.aggregated import steady_states
from servecast.serving.estimate import estimate, load_of
from servecast.serving.load import LoadLevels
from servecast.serving.request import EstimateRequest
from servecast.serving.tails import UniformMixture, exponential, waiting_for_a_slot


def one(*components: tuple[float, float, float]) -> UniformMixture:
    return UniformMixture.of(*((np.array([w]), np.array([lo]), np.array([hi])) for w, lo, hi in components))


def test_the_quantile_of_one_uniform_is_linear_between_its_ends():
    mixture = one((1.0, 10.0, 20.0))
    assert mixture.quantile(0.9)[0] == pytest.approx(19.0)
    assert mixture.mean[0] == pytest.approx(15.0)


def test_a_tenth_of_slow_requests_sets_the_p99_and_not_the_p50():
    mixture = one((0.9, 100.0, 100.0), (0.1, 1000.0, 2000.0))
    assert mixture.quantile(0.5)[0] == pytest.approx(100.0, rel=1e-6)
    assert mixture.quantile(0.99)[0] == pytest.approx(1900.0)


def test_an_unbounded_component_makes_every_quantile_unbounded():
    assert one((1.0, 10.0, np.inf)).quantile(0.5)[0] == np.inf


def test_exponential_pieces_match_the_exponential_at_p90_and_p99():
    mean = np.array([10.0])
    mixture = UniformMixture.of(*exponential(np.ones(1), mean))
    assert mixture.quantile(0.9)[0] == pytest.approx(-10.0 * np.log(0.1), rel=0.03)  # scaled to keep the mean
    assert mixture.quantile(0.99)[0] == pytest.approx(-10.0 * np.log(0.01), rel=0.03)
    assert mixture.mean[0] == pytest.approx(10.0)


def test_waiting_for_a_slot_adds_the_mean_queueing_to_a_share_of_the_requests():
    base = [(np.ones(1), np.array([50.0]), np.array([150.0]))]
    waited = UniformMixture.of(*waiting_for_a_slot(base, np.array([100.0]), np.array([1000.0])))
    assert waited.mean[0] == pytest.approx(200.0)
    assert waited.quantile(0.5)[0] < 150.0 < waited.quantile(0.99)[0]


REQUESTS = {
    "aggregated, burst start": {"framework": "vllm", "concurrency": 64},
    "aggregated, warm start": {"framework": "sglang", "concurrency": 32, "user_start": "warm"},
    "aggregated, users beyond the batch limit": {"framework": "vllm", "concurrency": 96, "max_batch_size": 48},
    "aggregated, waves": {"framework": "trtllm", "concurrency": 16, "user_phase": "waves"},
    "aggregated, random arrivals": {"framework": "vllm", "request_rate": 8.0},
    "disaggregated": {
        "framework": "sglang",
        "mode": "disagg",
        "prefill_workers": 1,
        "decode_workers": 2,
        "concurrency": 48,
    },
}


def request(**changes: object) -> EstimateRequest:
    values = {"model": "Qwen/Qwen3-8B", "system": "h100_sxm", "isl": 2000, "osl": 200}
    return EstimateRequest.parse(values | changes)


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_the_percentiles_spread_around_the_reported_means(host, name):
    metrics = estimate(host, request(**REQUESTS[name])).metrics
    p = metrics.percentiles
    assert p["ttft_p90_ms"] <= p["ttft_p99_ms"] and p["tpot_p90_ms"] <= p["tpot_p99_ms"]
    assert p["e2e_p90_ms"] <= p["e2e_p99_ms"]
    assert p["ttft_p99_ms"] >= metrics.ttft_ms * 0.99
    assert p["tpot_p99_ms"] >= metrics.tpot_ms * 0.99


@pytest.mark.parametrize(
    "name", ["aggregated, burst start", "aggregated, warm start", "aggregated, users beyond the batch limit"]
)
def test_the_ttft_distribution_keeps_the_reported_mean(host, name):
    estimated = estimate(host, request(**REQUESTS[name]))
    points = steady_states(estimated.servers["server"], LoadLevels.of(load_of(estimated.request)))
    assert points.tails is not None
    assert points.tails.ttft.mean[0] == pytest.approx(points.ttft_ms[0], rel=1e-6)


SIMULATED = {  # spread users, lengths within ±10 % (as the search confirms)
    "aggregated, burst start": {"framework": "vllm", "concurrency": 64},
    "aggregated, warm start": {"framework": "sglang", "concurrency": 32, "user_start": "warm"},
    "disaggregated, burst start": {
        "framework": "sglang",
        "mode": "disagg",
        "prefill_workers": 1,
        "decode_workers": 2,
        "concurrency": 48,
    },
}


@pytest.mark.parametrize("name", sorted(SIMULATED))
def test_the_model_percentiles_agree_with_the_simulation(host, name):
    spread = {"length_distribution": "uniform", "length_spread": 0.1}
    result = estimate(host, request(**SIMULATED[name], **spread), percentiles=True)
    model, simulated = result.metrics.percentiles, result.percentiles
    assert simulated is not None
    ratio = {
        column: model[column] / simulated[column.replace(f"_{level}", "")][level]
        for column, level in (("ttft_p99_ms", "p99"), ("tpot_p99_ms", "p99"), ("e2e_p99_ms", "p99"))
    }
    assert 0.6 <= ratio["ttft_p99_ms"] <= 1.7, ratio  # the spread benchmarks/tail_model.py reports
    assert 0.9 <= ratio["tpot_p99_ms"] <= 1.1, ratio
    assert 0.8 <= ratio["e2e_p99_ms"] <= 1.25, ratio


def test_lognormal_lengths_keep_their_long_tail_in_the_request_latency(host):
    lengths = {"length_distribution": "lognormal", "length_spread": 0.6}
    result = estimate(host, request(framework="vllm", concurrency=48, **lengths), percentiles=True)
    assert result.percentiles is not None
    simulated = result.percentiles["e2e_ms"]
    assert 0.8 <= result.metrics.percentiles["e2e_p99_ms"] / simulated["p99"] <= 1.3
    assert result.metrics.percentiles["e2e_p99_ms"] > 1.5 * result.metrics.e2e_ms  # a uniform would stop near 1.2
