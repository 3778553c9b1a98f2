"""Wide expert parallelism: attention-DP ranks with their own prompts and schedulers, all-to-all dispatch and
combine, two micro-batches overlapping it, redundant experts, and groups spanning nodes."""

from __future__ import annotations

import numpy as np
import pytest

from servecast.errors import InputError
from servecast.serving.estimate import estimate
from servecast.serving.request import EstimateRequest

DEEPSEEK = {"model": "deepseek-ai/DeepSeek-V3", "system": "h100_sxm", "framework": "sglang", "isl": 2000, "osl": 100}
FOUR_NODE_POOLS = {"mode": "disagg", "prefill_dp": 32, "prefill_ep": 32, "decode_dp": 32, "decode_ep": 32}


def servers(host, **fields):
    """The servers of a DeepSeek-V3 SGLang estimate (aggregated unless the fields say disagg)."""
    request = EstimateRequest.parse({**DEEPSEEK, "concurrency": 64, **fields})
    return estimate(host, request).servers


@pytest.fixture(scope="module")
def ep32(host):
    """Prefill and decode pools of 32 GPUs each (four nodes), DeepEP and two-batch overlap on the decode pool."""
    return servers(host, **FOUR_NODE_POOLS, decode_moe_all_to_all=True, decode_two_batch_overlap=True)


def test_attention_dp_ranks_each_take_whole_prompts(ep32):
    steps = ep32["prefill"].steps
    one = steps.gpu_ms(0, 0, 2000, 1)[0]
    thirty_two = steps.gpu_ms(0, 0, 32 * 2000, 32)[0]
    assert thirty_two == pytest.approx(one, rel=0.05)  # one prompt per rank either way
    assert steps.gpu_ms(0, 0, 64 * 2000, 64)[0] > 1.5 * one  # two per rank


def test_each_attention_dp_rank_pays_the_cpu_time_of_its_own_sequences(ep32):
    decode = ep32["decode"]
    gpu = decode.steps.gpu_ms(32 * 64, 2000)[0]
    cpu = decode.settings.cpu_ms(np.array(64.0))
    assert decode.steps.iteration_ms(32 * 64, 2000)[0] == pytest.approx(max(gpu, float(cpu)))


def test_the_framework_default_all_gathers_and_deepep_sends_only_to_the_experts_ranks(ep32):
    assert not ep32["prefill"].settings.moe_all_to_all
    assert ep32["decode"].settings.moe_all_to_all and ep32["decode"].settings.two_batch_overlap


def test_two_batch_overlap_hides_the_exchange_at_large_batches_and_costs_at_small_ones(host):
    def decode_ms(overlap, per_rank):
        pools = servers(host, **FOUR_NODE_POOLS, decode_moe_all_to_all=True, decode_two_batch_overlap=overlap)
        return pools["decode"].steps.gpu_ms(32 * per_rank, 2000)[0]

    assert decode_ms(True, 256) < 0.8 * decode_ms(False, 256)
    assert decode_ms(True, 4) > decode_ms(False, 4)  # two half batches cost what two whole ones do


def test_one_token_per_rank_is_not_split(host):
    pools = servers(host, **FOUR_NODE_POOLS, decode_moe_all_to_all=True, decode_two_batch_overlap=True)
    plain = servers(host, **FOUR_NODE_POOLS, decode_moe_all_to_all=True)
    assert pools["decode"].steps.gpu_ms(32, 2000)[0] == pytest.approx(plain["decode"].steps.gpu_ms(32, 2000)[0])


def test_ep72_needs_redundant_experts_and_they_cost_the_memory_of_their_copies(host):
    with pytest.raises(InputError, match="give 32 redundant experts"):
        servers(host, dp=72, ep=72)
    # SGLang's start-up rule reserves 3 MiB x graph batch x DP ranks, nothing left at DP 72: set it as LMSYS did
    ep72 = servers(host, dp=72, ep=72, redundant_experts=32, memory_fraction=0.846)["server"]
    ep64 = servers(host, dp=64, ep=64, memory_fraction=0.846)["server"]
    # 288 slots over 72 GPUs and 256 experts over 64 GPUs are both four experts a GPU
    assert ep72.capacity.weight_bytes == pytest.approx(ep64.capacity.weight_bytes, rel=0.01)
    assert str(ep72.layout) == "tp1-dp72-ep72-r32"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tp": 8, "moe_all_to_all": True}, "needs attention data parallelism and whole experts"),
        ({"tp": 2, "dp": 4, "ep": 4, "moe_all_to_all": True}, "splits every expert over moe_tp=2 ranks"),
        ({"dp": 8, "ep": 8, "two_batch_overlap": True}, "two-batch overlap hides the MoE all-to-all"),
        (
            {"dp": 8, "ep": 8, "moe_all_to_all": True, "framework": "sglang", "framework_version": "0.3.0"},
            "0.3.0",
        ),
    ],
)
def test_an_exchange_the_layout_or_version_cannot_run_is_refused(host, fields, message):
    with pytest.raises(InputError, match=message):
        servers(host, **fields)


@pytest.mark.parametrize(("framework", "ranks"), [("vllm", 4), ("trtllm", 4), ("sglang", 1)])
def test_batch_and_token_budgets_are_each_ranks_where_the_framework_schedules_per_rank(server, framework, ranks):
    """vLLM's DP engines and TensorRT-LLM's attention-DP ranks each hold the whole budgets; SGLang divides them."""
    one = server(framework, model="Qwen/Qwen3-30B-A3B", tp=4, ep=4).settings
    four = server(framework, model="Qwen/Qwen3-30B-A3B", attention_dp=4, ep=4).settings
    assert four.budget_ranks == ranks
    assert four.max_batch_size == ranks * one.max_batch_size
    assert four.max_num_tokens == ranks * one.max_num_tokens


def test_vllm_spreads_experts_over_every_rank_so_a_split_of_experts_and_ranks_is_refused(host):
    """--enable-expert-parallel makes EP = TP x DP: experts are all tensor-split or all expert-parallel."""
    with pytest.raises(InputError, match="no parallelism moe_tp"):
        servers(host, framework="vllm", tp=8, ep=4)
