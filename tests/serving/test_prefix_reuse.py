"""Prefix reuse: requests that find their prefix cached prefill less and hold less KV, in the means and in the
simulation alike; a hit rate needs a prefix."""

from __future__ import annotations

import pytest

from servecast.errors import InputError
from servecast.serving.estimate import estimate
from servecast.serving.request import EstimateRequest

HIT_RATES = (0.0, 0.5, 1.0)


def request(hit_rate: float, **load: int) -> EstimateRequest:
    values = {"model": "Qwen/Qwen3-8B", "system": "h100_sxm", "framework": "vllm", "isl": 4000, "osl": 200}
    spread = {"length_distribution": "uniform", "length_spread": 0.1}
    return EstimateRequest.parse(values | {"prefix": 3000, "prefix_hit_rate": hit_rate} | spread | load)


@pytest.mark.parametrize("users", [32, 400])
def test_prefix_hits_lower_ttft_and_raise_throughput_in_the_means_and_the_simulation(host, users):
    runs = [estimate(host, request(rate, concurrency=users), percentiles=True) for rate in HIT_RATES]
    means = [(run.metrics.ttft_ms, run.metrics.throughput_tokens_per_s) for run in runs]
    simulated = [(run.percentiles["ttft_ms"]["mean"], run.percentiles["throughput_tokens_per_s"]) for run in runs]
    for model in (means, simulated):
        ttft, throughput = zip(*model, strict=True)
        assert ttft[0] > ttft[1] > ttft[2]
        assert throughput[0] < throughput[1] < throughput[2]
    for (_, mean_throughput), (_, simulated_throughput) in zip(means, simulated, strict=True):
        assert mean_throughput == pytest.approx(simulated_throughput, rel=0.1)


def test_hits_leave_room_for_more_requests_in_the_kv_cache(host):
    running = [estimate(host, request(rate, concurrency=400)).metrics.running for rate in HIT_RATES]
    assert running[0] < running[1] < running[2]


def test_a_hit_rate_needs_a_prefix():
    with pytest.raises(InputError, match="needs a shared prefix"):
        EstimateRequest.parse(
            {
                "model": "m",
                "system": "s",
                "framework": "f",
                "isl": 100,
                "osl": 10,
                "concurrency": 1,
                "prefix_hit_rate": 0.5,
            }
        )
