"""Frameworks run on the GPU makers they support: TensorRT-LLM on NVIDIA only, vLLM and SGLang on AMD too."""

from __future__ import annotations

import pytest

from servecast.errors import InputError
from servecast.host import PluginHost
from servecast.search.runner import run_search
from servecast.search.task import SearchTask
from servecast.serving.estimate import estimate
from servecast.serving.request import EstimateRequest


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.from_entry_points()


def request(framework: str, **changes: object) -> EstimateRequest:
    values = {"model": "meta-llama/Llama-3.1-8B", "system": "mi300x", "framework": framework, "isl": 1000, "osl": 100}
    return EstimateRequest.parse({**values, "concurrency": 4, **changes})


def test_tensorrt_llm_is_refused_on_an_amd_gpu_naming_the_maker(host):
    with pytest.raises(InputError, match="runs on nvidia GPUs only, and mi300x is amd's"):
        estimate(host, request("trtllm"))


@pytest.mark.parametrize("framework", ["vllm", "sglang"])
def test_vllm_and_sglang_estimate_on_an_amd_gpu(host, framework):
    assert estimate(host, request(framework)).metrics.tpot_ms > 0


def test_sglang_before_rocm_support_is_refused(host):
    with pytest.raises(InputError, match="amd's"):
        estimate(host, request("sglang", framework_version="0.3.0"))


def test_a_search_on_an_amd_gpu_leaves_tensorrt_llm_out_with_the_reason(host):
    task = SearchTask.parse(
        {"model": "meta-llama/Llama-3.1-8B", "system": "mi300x", "gpus": 1, "isl": 1000, "osl": 100, "modes": ["agg"]}
    )
    result = run_search(host, task, explain=False)
    assert set(result.columns["framework"]) == {"vllm", "sglang"}
    assert any("amd" in rejection.reason for rejection in result.rejections if rejection.framework == "trtllm")
