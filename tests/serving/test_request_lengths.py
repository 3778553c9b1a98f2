"""Per-request length distributions: what they draw, how they are validated, and what the simulation makes of them."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from servecast.domain import LengthDistribution, Workload
from servecast.errors import InputError
from servecast.serving.estimate import estimate
from servecast.serving.load import Load
from servecast.serving.request import EstimateRequest
from servecast.serving.simulation import draw_lengths, simulate

LOGNORMAL = LengthDistribution.LOGNORMAL
UNIFORM = LengthDistribution.UNIFORM


def _draw(workload: Workload, count: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    return draw_lengths(workload, np.random.default_rng(0), count)


def test_uniform_lengths_stay_within_the_spread_around_the_means():
    inputs, outputs = _draw(
        Workload(input_tokens=1000, output_tokens=200, length_distribution=UNIFORM, length_spread=0.2)
    )
    assert inputs.min() == 800 and inputs.max() == 1200
    assert outputs.min() == 160 and outputs.max() == 240
    assert inputs.mean() == pytest.approx(1000, rel=0.01)


def test_lognormal_lengths_keep_the_means_and_a_median_below_them():
    workload = Workload(input_tokens=225, output_tokens=194, length_distribution=LOGNORMAL, length_spread=1.0)
    inputs, outputs = _draw(workload)
    assert inputs.mean() == pytest.approx(225, rel=0.02)
    assert outputs.mean() == pytest.approx(194, rel=0.02)
    assert np.median(outputs) == pytest.approx(194 * np.exp(-0.5), rel=0.03)  # median = mean * exp(-σ²/2)
    assert inputs.min() >= 1 and inputs.max() <= workload.longest_input


def test_fixed_lengths_are_the_means():
    inputs, outputs = _draw(Workload(input_tokens=300, output_tokens=40), count=10)
    assert set(inputs) == {300} and set(outputs) == {40}
    assert Workload(input_tokens=300, output_tokens=40).longest_request == 340


@pytest.mark.parametrize(
    ("distribution", "spread", "complaint"),
    [
        (LengthDistribution.FIXED, 0.3, "needs a varying length distribution"),
        (UNIFORM, 1.0, "give one in (0, 1)"),
        (LOGNORMAL, 2.5, "give one in (0, 2]"),
        (LOGNORMAL, 0.0, "give one in (0, 2]"),
    ],
)
def test_a_spread_that_does_not_suit_the_distribution_is_rejected(distribution, spread, complaint):
    with pytest.raises(ValidationError, match=complaint.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        Workload(input_tokens=100, output_tokens=100, length_distribution=distribution, length_spread=spread)


def test_a_request_with_a_spread_but_fixed_lengths_names_the_fields():
    values = {"model": "meta-llama/Llama-3.1-8B", "system": "h100_sxm", "framework": "vllm", "isl": 100, "osl": 100}
    with pytest.raises(InputError, match="length_spread=0.3 needs a varying length distribution"):
        EstimateRequest.parse({**values, "concurrency": 4, "length_spread": 0.3})


def test_simulated_lengths_never_exceed_the_model_context(host):
    values = {"model": "meta-llama/Llama-2-7b-hf", "system": "h100_sxm", "framework": "vllm", "isl": 1500, "osl": 500}
    request = EstimateRequest.parse(
        {**values, "concurrency": 16, "length_distribution": "lognormal", "length_spread": 1}
    )
    server = estimate(host, request).servers["server"]
    assert server.workload.longest_request > 4096  # the tail is drawn past the context, then clipped to it
    run = simulate(server, Load(concurrency=16), num_requests=400)
    assert (run.input_tokens + run.output_tokens).max() <= 4096
    assert run.completed == 400


def test_a_length_distribution_without_the_simulation_says_only_the_simulation_draws_it(host):
    request = EstimateRequest.parse(
        {
            "model": "meta-llama/Llama-3.1-8B",
            "system": "h100_sxm",
            "framework": "sglang",
            "isl": 500,
            "osl": 100,
            "concurrency": 8,
            "length_distribution": "uniform",
            "length_spread": 0.5,
        }
    )
    assert any("add --percentiles" in warning for warning in estimate(host, request).warnings)


def test_requests_longer_than_the_model_context_are_rejected(host):
    request = EstimateRequest.parse(
        {"model": "meta-llama/Llama-2-7b-hf", "system": "h100_sxm", "framework": "vllm", "isl": 4000, "osl": 500}
        | {"concurrency": 1}
    )
    with pytest.raises(InputError, match="exceed the 4,096-token context of meta-llama/Llama-2-7b-hf"):
        estimate(host, request)


def test_prompts_the_spread_takes_beyond_an_unchunked_budget_are_rejected(host):
    request = EstimateRequest.parse(
        {"model": "Qwen/Qwen3-8B", "system": "h100_sxm", "framework": "trtllm", "framework_version": "1.0.0"}
        | {"isl": 8000, "osl": 1000, "request_rate": 1, "length_distribution": "uniform", "length_spread": 0.3}
    )
    with pytest.raises(InputError, match="prompts of 10400 tokens .the longest the lengths reach. exceed"):
        estimate(host, request)


def test_a_simulation_that_would_run_for_minutes_is_refused_before_it_starts(host):
    request = EstimateRequest.parse(
        {"model": "Qwen/Qwen3-8B", "system": "h100_sxm", "framework": "vllm", "isl": 8000, "osl": 2000}
        | {"concurrency": 512, "max_num_tokens": 1, "num_requests": 2000}
    )
    estimate(host, request)  # the means are quick
    with pytest.raises(InputError, match="at least 16,000,000 iterations"):
        estimate(host, request, percentiles=True)
