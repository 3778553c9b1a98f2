"""The op graph: sharding conserves work, decode costs about 2 FLOPs per active parameter, shapes are right."""

from __future__ import annotations

import numpy as np
import pytest

from servecast.domain import ParallelLayout
from servecast.models.graph import build_stage_graph
from servecast.models.memory import stage_memory
from servecast.models.step import StepShape
from servecast.models.weights import Sharding, parameter_counts, shard_fraction, weight_groups
from servecast.ops import OpKind

COMPUTE = {
    OpKind.GEMM,
    OpKind.CONTEXT_ATTENTION,
    OpKind.DECODE_ATTENTION,
    OpKind.MLA_CONTEXT,
    OpKind.MLA_DECODE,
    OpKind.MOE,
}


def sharded_flops(model, layout, step):
    """FLOPs of compute ops summed over every GPU, replicated ops counted once per attention group of a stage."""
    total = np.zeros(step.points)
    for stage in range(layout.pp):
        graph = build_stage_graph(model, layout, step, stage)
        for op in graph.ops:
            if op.kind in COMPUTE:
                copies = layout.attention_dp if op.replicated else layout.tp * layout.attention_dp
                total += op.total_flops * copies
    return total


def unsharded_flops(model, step):
    graph = build_stage_graph(model, ParallelLayout(), step)
    return sum(op.total_flops for op in graph.ops if op.kind in COMPUTE)


STEP = StepShape.of(
    prefill_seqs=[1, 2, 0],
    prefill_tokens=[512, 300, 0],
    prefill_past=[0, 100, 0],
    decode_seqs=[0, 16, 64],
    decode_kv_len=[0, 900, 2048],
)


@pytest.mark.parametrize(
    ("model_id", "layout"),
    [
        ("meta-llama/Llama-3.1-70B", ParallelLayout(tp=8)),
        ("meta-llama/Llama-3.1-70B", ParallelLayout(tp=2, pp=4)),
        ("Qwen/Qwen3-32B", ParallelLayout(tp=4, pp=3)),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", ParallelLayout(tp=4, ep=4)),
        ("Qwen/Qwen3-30B-A3B", ParallelLayout(tp=4, ep=2)),
        ("deepseek-ai/DeepSeek-V3", ParallelLayout(tp=8, ep=8)),
    ],
)
def test_sharding_conserves_flops_except_replicated_ops(load, model_id, layout):
    model = load(model_id)
    np.testing.assert_allclose(sharded_flops(model, layout, STEP), unsharded_flops(model, STEP), rtol=1e-9)
    replicated = {
        op.name.split("[")[0]
        for op in build_stage_graph(model, layout, STEP).ops
        if op.replicated and op.kind in COMPUTE
    }
    assert replicated <= {"router", "q_a_proj", "kv_a_proj"}, "the replicated compute ops are exactly these"


def test_attention_data_parallel_ranks_each_run_their_own_batch(load):
    model = load("deepseek-ai/DeepSeek-V3")
    layout = ParallelLayout(tp=1, attention_dp=8, ep=8)
    step = StepShape.decode(seqs=[32], kv_len=[1024])
    eight_batches = StepShape.decode(seqs=[8 * 32], kv_len=[1024])
    per_gpu = sharded_flops(model, layout, step)  # summed over all GPUs
    np.testing.assert_allclose(per_gpu, unsharded_flops(model, eight_batches), rtol=1e-9)


@pytest.mark.parametrize(
    "model_id",
    ["meta-llama/Llama-3.1-8B", "Qwen/Qwen3-30B-A3B", "deepseek-ai/DeepSeek-V3", "openai/gpt-oss-120b"],
)
def test_decode_flops_per_token_are_two_per_active_parameter_plus_attention(load, model_id):
    model = load(model_id)
    step = StepShape.decode(seqs=[1], kv_len=[4096])
    graph = build_stage_graph(model, ParallelLayout(), step)
    attention = graph.total_flops({OpKind.DECODE_ATTENTION, OpKind.MLA_DECODE})
    matmuls = graph.total_flops({OpKind.GEMM, OpKind.MOE})
    active = parameter_counts(model.architecture).active
    assert matmuls[0] == pytest.approx(2 * active, rel=0.005)
    assert attention[0] > 0


@pytest.mark.parametrize(
    ("model_id", "layout"),
    [
        ("meta-llama/Llama-3.1-70B", ParallelLayout(tp=8)),
        ("meta-llama/Llama-3.1-70B", ParallelLayout(tp=4, pp=2)),
        ("Qwen/Qwen3-235B-A22B", ParallelLayout(tp=4, ep=4)),
        ("deepseek-ai/DeepSeek-V3", ParallelLayout(tp=8, ep=8)),
        ("deepseek-ai/DeepSeek-V3", ParallelLayout(tp=1, attention_dp=8, ep=8)),
    ],
)
def test_weight_bytes_over_all_gpus_equal_the_model_plus_listed_replicas(load, model_id, layout):
    model = load(model_id)
    arch = model.architecture
    held = sum(stage.weight_bytes for stage in stage_memory(model, layout)) * layout.tp * layout.attention_dp
    expected = 0.0
    for group in weight_groups(arch):
        size = group.params * model.quantization.scheme(group.role).weight_bytes
        copies = shard_fraction(group, arch, layout) * layout.tp * layout.attention_dp
        assert group.sharding is Sharding.REPLICATED or copies == pytest.approx(
            layout.attention_dp if group.sharding is not Sharding.EXPERTS else 1
        ), "only replicated groups (and attention-DP copies of dense weights) are held more than once"
        expected += size * copies
    assert held == pytest.approx(expected, rel=1e-6)


def test_sliding_window_caps_what_attention_reads(load):
    model = load("openai/gpt-oss-20b")
    graph = build_stage_graph(model, ParallelLayout(), StepShape.decode(seqs=[4], kv_len=[8000]))
    windowed = graph.by_name("decode_attention[swa128]")
    full = graph.by_name("decode_attention[full]")
    assert windowed.shape["window"][0] == 128 and full.shape["window"][0] == 0
    assert windowed.bytes[0] < full.bytes[0] / 50  # 128 of 8000 cached tokens read
    assert windowed.count == full.count == 12


def test_windowed_prefill_counts_only_pairs_inside_the_window(load):
    model = load("openai/gpt-oss-20b")
    graph = build_stage_graph(model, ParallelLayout(), StepShape.prefill(tokens=[100, 1000]))
    windowed = graph.by_name("context_attention[swa128]").flops
    full = graph.by_name("context_attention[full]").flops
    pairs_full = np.array([100 * 101 / 2, 1000 * 1001 / 2])
    pairs_window = np.array([100 * 101 / 2, 128 * 129 / 2 + (1000 - 128) * 128])
    np.testing.assert_allclose(windowed / full, pairs_window / pairs_full)


def test_mla_uses_the_decompressed_form_for_prefill_and_the_absorbed_form_for_decode(load):
    model = load("deepseek-ai/DeepSeek-V3")
    step = StepShape.of(prefill_seqs=1, prefill_tokens=256, decode_seqs=8, decode_kv_len=2048)
    names = {op.name.split("[")[0] for op in build_stage_graph(model, ParallelLayout(tp=8, ep=8), step).ops}
    assert {"kv_b_proj", "mla_context", "q_absorb", "mla_decode", "v_absorb"} <= names


def test_tensor_parallel_inserts_all_reduces_and_pipeline_parallel_a_send(load):
    model = load("meta-llama/Llama-3.1-70B")
    step = StepShape.decode(seqs=[8], kv_len=[512])
    first = build_stage_graph(model, ParallelLayout(tp=4, pp=2), step, stage=0)
    last = build_stage_graph(model, ParallelLayout(tp=4, pp=2), step, stage=1)
    reduce = first.by_name("attn_all_reduce")
    assert (reduce.count, reduce.shape["num_gpus"][0], reduce.shape["message_bytes"][0]) == (40, 4, 8 * 8192 * 2)
    assert first.by_name("pp_send").kind is OpKind.P2P and "lm_head" not in {op.name for op in first.ops}
    assert last.by_name("lm_head").shape["n"][0] == 128256 // 4


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        (ParallelLayout(tp=8, ep=8), {"moe_all_reduce"}),
        (ParallelLayout(tp=1, attention_dp=8, ep=8), {"moe_dispatch", "moe_combine"}),
        (ParallelLayout(tp=1, attention_dp=8, ep=1, moe_tp=8), {"moe_all_gather", "moe_reduce_scatter"}),
    ],
)
def test_moe_communication_follows_the_layout(load, layout, expected):
    model = load("Qwen/Qwen3-235B-A22B")
    graph = build_stage_graph(model, layout, StepShape.decode(seqs=[16], kv_len=[1024]))
    moe_comm = {op.name for op in graph.ops if op.name.startswith("moe_") and op.kind is not OpKind.MOE}
    assert moe_comm == expected


def test_the_graph_is_vectorised_over_many_step_shapes(load):
    model = load("meta-llama/Llama-3.1-8B")
    batches = np.arange(1, 2049)
    graph = build_stage_graph(model, ParallelLayout(tp=2), StepShape.decode(seqs=batches, kv_len=1024))
    qkv = graph.by_name("qkv_proj")
    assert qkv.shape["m"].tolist() == batches.tolist()
    assert qkv.flops.shape == (2048,)
