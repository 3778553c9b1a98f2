"""The memory model: each framework's memory-fraction semantics, KV capacity, max sequences, and misfits."""

from __future__ import annotations

import pytest

from servecast.domain import KnobMeaning, ParallelLayout, Quantization
from servecast.errors import InputError
from servecast.models.memory import (
    CUDA_CONTEXT_BYTES,
    GIB,
    MemoryPolicy,
    kv_capacity,
    max_sequences,
    stage_memory,
)

H100_BYTES = 80 * GIB


def policy(meaning, fraction=0.9):
    return MemoryPolicy(meaning=meaning, fraction=fraction, max_num_tokens=8192, max_batch_size=256)


def test_llama_70b_bf16_weights_split_over_tp(load):
    model = load("meta-llama/Llama-3.1-70B")
    (tp1,) = stage_memory(model, ParallelLayout())
    (tp4,) = stage_memory(model, ParallelLayout(tp=4))
    assert tp1.weight_bytes / 1e9 == pytest.approx(141.1, rel=0.002)
    assert tp4.weight_bytes == pytest.approx(tp1.weight_bytes / 4, rel=1e-3)


def test_the_three_memory_fraction_semantics_differ_as_documented(load):
    model = load("meta-llama/Llama-3.1-8B")
    layout = ParallelLayout()
    vllm = kv_capacity(model, layout, H100_BYTES, policy(KnobMeaning.GPU_MEMORY_FRACTION))
    sglang = kv_capacity(model, layout, H100_BYTES, policy(KnobMeaning.STATIC_MEMORY_FRACTION))
    trtllm = kv_capacity(model, layout, H100_BYTES, policy(KnobMeaning.KV_CACHE_FREE_MEMORY_FRACTION))
    weights = vllm.weight_bytes
    assert sglang.kv_cache_bytes == int(0.9 * (H100_BYTES - CUDA_CONTEXT_BYTES)) - weights  # of the free memory
    assert vllm.kv_cache_bytes == int(0.9 * H100_BYTES) - weights - vllm.activation_bytes - (
        vllm.overhead_bytes - GIB // 2
    )
    free = H100_BYTES - weights - trtllm.activation_bytes - trtllm.overhead_bytes
    assert trtllm.kv_cache_bytes == int(0.9 * free)
    assert sglang.kv_cache_bytes > vllm.kv_cache_bytes


def test_capacity_in_tokens_is_kv_bytes_over_bytes_per_token(load):
    model = load("meta-llama/Llama-3.1-70B")
    layout = ParallelLayout(tp=4)
    capacity = kv_capacity(model, layout, H100_BYTES, policy(KnobMeaning.STATIC_MEMORY_FRACTION))
    assert capacity.kv_capacity_tokens == capacity.kv_cache_bytes // (327_680 // 4)
    sequences = max_sequences(layout, capacity, sequence_tokens=2048, block_size=16)
    assert sequences == capacity.kv_cache_bytes // (2048 * 327_680 // 4)


def test_sliding_window_layers_stop_growing_past_their_window(load):
    model = load("openai/gpt-oss-120b")
    layout = ParallelLayout(tp=2, ep=2)
    capacity = kv_capacity(model, layout, H100_BYTES, policy(KnobMeaning.STATIC_MEMORY_FRACTION))
    short = max_sequences(layout, capacity, sequence_tokens=128)
    long = max_sequences(layout, capacity, sequence_tokens=128 * 64)
    assert long > short / 64, "window layers cost 128 tokens per sequence however long it grows"


def test_attention_dp_multiplies_the_sequences_held(load):
    model = load("deepseek-ai/DeepSeek-V3")
    tp8 = ParallelLayout(tp=8, ep=8)
    dp8 = ParallelLayout(tp=1, attention_dp=8, ep=8)
    rule = policy(KnobMeaning.STATIC_MEMORY_FRACTION, 0.85)
    tp_cap = kv_capacity(model, tp8, 141 * GIB, rule)
    dp_cap = kv_capacity(model, dp8, 141 * GIB, rule)
    assert max_sequences(dp8, dp_cap, 2048) > 4 * max_sequences(tp8, tp_cap, 2048)


def test_a_layout_that_does_not_fit_is_rejected_with_the_numbers(load):
    model = load("meta-llama/Llama-3.1-70B")
    with pytest.raises(InputError, match="does not fit: each GPU needs 131.4 GiB of weights") as raised:
        kv_capacity(model, ParallelLayout(), H100_BYTES, policy(KnobMeaning.GPU_MEMORY_FRACTION))
    assert "a smaller quantization than bf16 (--quant)" in raised.value.hint


def test_fp8_weights_make_70b_fit_on_one_gpu(load):
    model = load("meta-llama/Llama-3.1-70B", quantization=Quantization.FP8)
    capacity = kv_capacity(model, ParallelLayout(), H100_BYTES, policy(KnobMeaning.KV_CACHE_FREE_MEMORY_FRACTION))
    assert 0 < capacity.kv_cache_bytes < 15 * GIB


def test_pipeline_stages_hold_their_own_layers_and_the_embedding_or_head(load):
    model = load("meta-llama/Llama-3.1-8B")
    first, last = stage_memory(model, ParallelLayout(pp=2))
    table = 128256 * 4096 * 2
    layers = (first.weight_bytes - table) * 2
    assert last.weight_bytes == pytest.approx(table + layers / 2, rel=1e-4)
    assert first.kv_bytes_per_token == last.kv_bytes_per_token == 16 * 2 * 8 * 128 * 2
