"""SGLang's published DeepSeek-V3 deployment on 96 H100s (LMSYS, 2025-05-05: prefill EP32 on 4 nodes, decode EP72
on 9 nodes, each phase measured saturated on its own): per-node throughput within 30 % of the published figures.

Published (lmsys.org/blog/2025-05-05-large-scale-ep, "Performance Analysis of Prefill and Decode Phases"):
prefill 54,543 input tokens/s per node at 2,000-token prompts; decode 22,282 output tokens/s per node at 256
sequences per GPU and a 2,000-token KV cache. Both with DeepEP (normal for prefill, low-latency for decode), two-batch
overlap, 32 redundant experts, DP attention and dense layers data-parallel; decode ran --mem-fraction-static 0.846.
"""

from __future__ import annotations

import pytest

from servecast.serving.estimate import estimate
from servecast.serving.request import EstimateRequest

PREFILL_PER_NODE = 54_543
DECODE_PER_NODE = 22_282
PROMPTS_PER_RANK = 8  # 16,000 tokens per GPU, the profile's 16,384-token batches in whole 2,000-token prompts


@pytest.fixture(scope="module")
def pools(host):
    request = EstimateRequest.parse(
        {
            "model": "deepseek-ai/DeepSeek-V3",
            "system": "h100_sxm",
            "framework": "sglang",
            "mode": "disagg",
            "isl": 2000,
            "osl": 100,
            "concurrency": 18432,
            "memory_fraction": 0.846,
            **{f"{role}_{field}": value for role in ("prefill", "decode") for field, value in _WIDE_EP.items()},
            "prefill_dp": 32,
            "prefill_ep": 32,
            "decode_dp": 72,
            "decode_ep": 72,
            "prefill_batch_size": 32 * PROMPTS_PER_RANK,
            "decode_batch_size": 72 * 256,
        }
    )
    return estimate(host, request).servers


_WIDE_EP = {"redundant_experts": 32, "moe_all_to_all": True, "two_batch_overlap": True}


def test_prefill_throughput_per_node_is_within_30_percent_of_the_published(pools):
    prefill = pools["prefill"]
    prompts = prefill.layout.attention_dp * PROMPTS_PER_RANK
    step_ms = prefill.steps.iteration_ms(0, 0, prompts * 2000, prompts)[0]
    per_node = prompts * 2000 / step_ms * 1000 / (prefill.gpus / 8)
    assert per_node == pytest.approx(PREFILL_PER_NODE, rel=0.30)


@pytest.mark.xfail(
    strict=True,
    reason="two-batch overlap is modelled as ideal (each half batch costs the longer of its compute and its "
    "all-to-all), which predicts 35k tokens/s per node against the published 22.3k; without the overlap the model "
    "gives 21.5k against the 17.8k the blog's +25.5 % overlap gain implies",
)
def test_decode_throughput_per_node_is_within_30_percent_of_the_published(pools):
    decode = pools["decode"]
    sequences = decode.layout.attention_dp * 256
    step_ms = decode.steps.iteration_ms(sequences, 2000)[0]
    per_node = sequences / step_ms * 1000 / (decode.gpus / 8)
    assert per_node == pytest.approx(DECODE_PER_NODE, rel=0.30)
