"""Launch limits a request can set: the longest request the server accepts (max_model_len) and multi-step
scheduling (vLLM V0's --num-scheduler-steps)."""

from __future__ import annotations

import numpy as np
import pytest

from servecast.errors import InputError
from servecast.launch.knobs import concept_values, knob_values
from servecast.serving.estimate import estimate
from servecast.serving.load import Load
from servecast.serving.request import EstimateRequest
from servecast.serving.simulation import simulate

BASE = {
    "model": "meta-llama/Llama-3.1-8B",
    "system": "h100_sxm",
    "framework": "vllm",
    "framework_version": "0.6.0",
    "isl": 200,
    "osl": 100,
    "request_rate": 4.0,
}


def _request(**values: object) -> EstimateRequest:
    return EstimateRequest.parse({**BASE, **values})


def test_max_model_len_sizes_vllm_v0_budgets_from_the_launch_limit_not_the_model(host):
    default = estimate(host, _request())
    limited = estimate(host, _request(max_model_len=4096))
    assert default.servers["server"].settings.chunked_prefill  # Llama-3.1's 128K context: V0 chunks
    settings = limited.servers["server"].settings
    assert not settings.chunked_prefill and settings.max_num_tokens == 4096  # max(max_model_len, 2048)
    assert limited.servers["server"].max_model_len == 4096 and settings.max_model_len == 4096


def test_max_model_len_above_the_models_context_is_rejected(host):
    with pytest.raises(InputError, match="max_model_len=200,000 exceeds the 131,072-token context"):
        estimate(host, _request(max_model_len=200_000))


def test_requests_longer_than_max_model_len_are_rejected(host):
    with pytest.raises(InputError, match=r"200 \+ 100 tokens exceed max_model_len=256") as error:
        estimate(host, _request(max_model_len=256))
    assert "--max-model-len" in error.value.hint


def test_multi_step_scheduling_on_a_version_without_it_is_rejected(host):
    with pytest.raises(InputError, match="vllm 0.10.2 has no multi-step scheduling"):
        estimate(host, _request(framework_version="0.10.2", scheduler_steps=8))


def test_multi_step_scheduling_with_chunked_prefill_is_rejected(host):
    with pytest.raises(InputError, match="runs without chunked prefill") as error:
        estimate(host, _request(scheduler_steps=10))  # the 128K context turns V0's chunked prefill on
    assert "--max-model-len" in error.value.hint


def test_a_multi_step_pass_pays_the_scheduling_cpu_once(host):
    settings = estimate(host, _request(max_model_len=4096, scheduler_steps=10)).servers["server"].settings
    per_pass = settings.iteration_cpu_ms + settings.per_sequence_cpu_us * 32 / 1000
    decode_only, with_prompt = settings.cpu_ms(np.array([32.0, 32.0]), np.array([0.0, 1.0]))
    assert decode_only == pytest.approx(per_pass / 10)
    assert with_prompt == pytest.approx(per_pass)


def test_multi_step_passes_hold_new_prompts_until_the_pass_ends(host):
    single = estimate(host, _request(max_model_len=4096)).servers["server"]
    multi = estimate(host, _request(max_model_len=4096, scheduler_steps=10)).servers["server"]
    load = Load(request_rate_per_s=4.0)
    one, ten = simulate(single, load, num_requests=400), simulate(multi, load, num_requests=400)
    decode_step = float(multi.steps.iteration_ms(4, 250)[0])
    assert ten.ttft_ms.mean() > one.ttft_ms.mean() + 2 * decode_step  # about half a 10-step pass more
    assert ten.output_tokens.sum() == one.output_tokens.sum()  # same requests, same tokens out
    analytic_one = estimate(host, _request(max_model_len=4096)).metrics.ttft_ms
    analytic_ten = estimate(host, _request(max_model_len=4096, scheduler_steps=10)).metrics.ttft_ms
    assert analytic_ten > analytic_one + 2 * decode_step


def test_launch_limits_reach_the_launch_flags_only_when_set(host):
    version = host.frameworks.get("vllm").version("0.6.0")
    plain = estimate(host, _request(max_model_len=4096)).servers["server"].settings
    multi = estimate(host, _request(max_model_len=4096, scheduler_steps=10)).servers["server"].settings
    default = estimate(host, _request()).servers["server"].settings
    assert knob_values(version, concept_values(multi, 64, 0))["num_scheduler_steps"] == 10
    assert knob_values(version, concept_values(plain, 64, 0))["max_model_len"] == 4096
    assert "num_scheduler_steps" not in knob_values(version, concept_values(plain, 64, 0))
    assert "max_model_len" not in knob_values(version, concept_values(default, 64, 0))
