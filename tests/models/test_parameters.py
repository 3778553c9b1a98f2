"""Parameter counts and KV-cache sizes match what the model cards and the architecture arithmetic say."""

from __future__ import annotations

import pytest

from servecast.domain import ComputeDtype, KvCacheDtype, ParallelLayout, Quantization
from servecast.models.memory import stage_memory
from servecast.models.weights import WeightRole, parameter_counts

B = 1e9


@pytest.mark.parametrize(
    ("model_id", "total_b"),
    [
        ("meta-llama/Llama-3.1-8B", 8.03),
        ("meta-llama/Llama-3.1-70B", 70.6),
        ("meta-llama/Llama-3.1-405B", 405.9),
        ("Qwen/Qwen3-32B", 32.8),
    ],
)
def test_dense_totals_match_the_model_cards(load, model_id, total_b):
    assert parameter_counts(load(model_id).architecture).total / B == pytest.approx(total_b, rel=0.002)


# Model cards disagree on what "active" counts: OpenAI and DeepSeek leave the input-embedding table out (a token
# reads one row of it), Qwen and Mistral include it. Each card is checked against its own convention.
@pytest.mark.parametrize(
    ("model_id", "total_b", "active_b", "card_counts_embedding"),
    [
        ("Qwen/Qwen3-30B-A3B", 30.5, 3.3, True),
        ("Qwen/Qwen3-235B-A22B", 235, 22, True),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", 46.7, 12.9, True),
        ("deepseek-ai/DeepSeek-V3", 671, 37, False),
        ("openai/gpt-oss-120b", 116.8, 5.1, False),
    ],
)
def test_moe_totals_and_active_parameters_match_the_model_cards(
    load, model_id, total_b, active_b, card_counts_embedding
):
    counts = parameter_counts(load(model_id).architecture)
    active = counts.active_with_embedding if card_counts_embedding else counts.active
    assert counts.total / B == pytest.approx(total_b, rel=0.005)
    assert active / B == pytest.approx(active_b, rel=0.03)


def test_deepseek_mtp_module_is_noted_but_not_counted(load):
    arch = load("deepseek-ai/DeepSeek-V3").architecture
    assert arch.mtp_layers == 1
    assert arch.layer_is_moe[:3] == (False, False, False) and all(arch.layer_is_moe[3:])
    assert (arch.moe.num_experts, arch.moe.shared_experts, arch.moe.top_k) == (256, 1, 8)


def test_kv_bytes_per_token_for_gqa(load):
    (stage,) = stage_memory(load("meta-llama/Llama-3.1-70B"), ParallelLayout())
    assert stage.kv_bytes_per_token == 80 * 8 * 128 * 2 * 2 == 327_680


def test_kv_bytes_per_token_for_mla_are_the_latent_and_not_split_by_tp(load):
    model = load("deepseek-ai/DeepSeek-V3", kv_cache_dtype=KvCacheDtype.BF16)
    for tp in (1, 8):
        (stage,) = stage_memory(model, ParallelLayout(tp=tp, ep=tp))
        assert stage.kv_bytes_per_token == 61 * (512 + 64) * 2 == 70_272


def test_kv_heads_are_split_by_tp_and_replicated_beyond_their_count(load):
    model = load("meta-llama/Llama-3.1-8B")
    per_layer = {tp: stage_memory(model, ParallelLayout(tp=tp))[0].kv_bytes_per_token // 32 for tp in (1, 8, 16)}
    assert per_layer == {1: 2 * 8 * 128 * 2, 8: 2 * 1 * 128 * 2, 16: 2 * 1 * 128 * 2}


def test_gpt_oss_alternates_sliding_window_and_full_layers(load):
    model = load("openai/gpt-oss-120b")
    assert model.architecture.layer_windows[:2] == (128, None)
    (stage,) = stage_memory(model, ParallelLayout())
    assert stage.kv_bytes_per_token == stage.window_kv_bytes_per_token == 18 * 2 * 8 * 64 * 2
    assert stage.window == 128


@pytest.mark.parametrize(
    ("model_id", "quantization", "kv_dtype"),
    [
        ("Qwen/Qwen3-32B", Quantization.BF16, KvCacheDtype.BF16),
        ("Qwen/Qwen3-32B-FP8", Quantization.FP8_BLOCK, KvCacheDtype.BF16),
        ("nvidia/Llama-3.1-70B-Instruct-FP8", Quantization.FP8, KvCacheDtype.FP8),
        ("openai/gpt-oss-20b", Quantization.MXFP4, KvCacheDtype.BF16),
        ("deepseek-ai/DeepSeek-R1", Quantization.FP8_BLOCK, KvCacheDtype.BF16),
    ],
)
def test_quantization_is_read_from_the_checkpoint(load, model_id, quantization, kv_dtype):
    model = load(model_id)
    assert (model.quantization.name, model.kv_cache_dtype) == (quantization, kv_dtype)


def test_quantization_overrides_change_weight_bytes(load):
    bf16 = stage_memory(load("meta-llama/Llama-3.1-8B"), ParallelLayout())[0].weight_bytes
    fp8 = stage_memory(load("meta-llama/Llama-3.1-8B", quantization=Quantization.FP8), ParallelLayout())[0]
    w4 = stage_memory(load("meta-llama/Llama-3.1-8B", quantization=Quantization.W4A16_AWQ), ParallelLayout())[0]
    embeddings = 2 * 128256 * 4096 * 2  # embedding and LM head stay bf16
    assert fp8.weight_bytes == pytest.approx(embeddings + (bf16 - embeddings) / 2, rel=1e-3)
    assert w4.weight_bytes < fp8.weight_bytes


def test_gpt_oss_keeps_attention_in_bf16_and_experts_in_mxfp4(load):
    plan = load("openai/gpt-oss-120b").quantization
    assert plan.scheme(WeightRole.ROUTED_EXPERTS).quantization is Quantization.MXFP4
    assert plan.scheme(WeightRole.ATTENTION).quantization is Quantization.BF16
    assert plan.scheme(WeightRole.ROUTED_EXPERTS).weight_only


def test_nvfp4_is_recognised_and_runs_natively_on_fp4_tensor_cores_only(load):
    plan = load("meta-llama/Llama-3.1-8B", quantization=Quantization.NVFP4).quantization
    scheme = plan.scheme(WeightRole.ATTENTION)
    assert scheme.native_dtype is ComputeDtype.FP4
    assert scheme.compute_dtype is ComputeDtype.BF16 and scheme.weight_only
