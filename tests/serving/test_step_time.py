"""Iteration times composed from tabulated op-graph parts: accuracy, monotonicity, CUDA graphs, overheads."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from servecast.domain import Target
from servecast.estimate.step import estimate_graph
from servecast.models.graph import build_stage_graph
from servecast.models.step import StepShape


@pytest.mark.parametrize(
    ("decodes", "kv", "prompt", "past"),
    [(37, 1313, 0, 0), (3, 700, 0, 0), (0, 0, 1500, 0), (20, 900, 777, 300)],
)
def test_tabulated_iterations_match_a_direct_estimate_of_the_op_graph(host, server, decodes, kv, prompt, past):
    """TensorRT-LLM 0.14 runs without CUDA graphs, so every op costs at least its launch."""
    trtllm = server("trtllm", version="0.14.0", tp=2)
    target = Target(hardware="h100_sxm", framework="trtllm", framework_version="0.14.0")
    shape = StepShape.of(
        prefill_seqs=1 if prompt else 0, prefill_tokens=prompt, prefill_past=past, decode_seqs=decodes, decode_kv_len=kv
    )
    step = estimate_graph(
        build_stage_graph(trtllm.model, trtllm.layout, shape), partial(host.op_estimator, target=target)
    )
    launch_ms = trtllm.settings.kernel_launch_us / 1000
    direct = sum(t.op.count * np.maximum(t.latency_ms, launch_ms) for t in step.timings)
    tabulated = trtllm.steps.gpu_ms(decodes, kv, prompt, 1 if prompt else 0, past)
    assert tabulated[0] == pytest.approx(direct[0], rel=0.03)


def test_iterations_grow_with_decodes_and_kv_length(server):
    steps = server("sglang", tp=1).steps
    decodes = np.arange(1, 300)
    times = steps.gpu_ms(decodes, 2000)
    assert np.all(np.diff(times) >= -1e-9)
    by_kv = steps.gpu_ms(64, np.arange(100, 5000, 50))
    assert np.all(np.diff(by_kv) >= -1e-9)


def test_decode_batches_pad_to_the_next_captured_size_and_run_eager_beyond_the_largest(server):
    sglang = server("sglang", tp=1)
    sizes = sglang.settings.cuda_graph_batch_sizes
    assert 24 in sizes and 17 not in sizes
    steps = sglang.steps
    # 17 decodes run the 24-sequence graph: the layers' work is that of 24 tokens (attention only for 17)
    assert steps.gpu_ms(17, 1) == pytest.approx(steps.gpu_ms(24, 1), rel=0.01)
    largest = sizes[-1]
    graphed, eager = steps.gpu_ms([largest, largest + 1], 1)
    assert eager > graphed  # beyond the captured sizes every kernel costs at least its launch


def test_an_overlap_scheduler_hides_cpu_time_behind_the_gpu(server):
    overlapped = server("trtllm", version="1.0.0", tp=1)
    serial = server("trtllm", version="0.14.0", tp=1)
    for srv in (overlapped, serial):
        gpu = srv.steps.gpu_ms(8, 1000)[0]
        cpu = srv.settings.cpu_ms(np.array(8.0))
        expected = max(gpu, cpu) if srv.settings.overlap_scheduler else gpu + cpu
        assert srv.steps.iteration_ms(8, 1000)[0] == pytest.approx(expected)


def test_pipeline_stages_run_microbatches_so_an_iteration_spans_every_stage(server):
    one = server("vllm", model="meta-llama/Llama-3.1-70B", version="0.10.2", tp=4)
    two = server("vllm", model="meta-llama/Llama-3.1-70B", version="0.10.2", tp=2, pp=2)
    # the same 64 sequences: two stages of half the layers, each running two microbatches of 32
    ratio = two.steps.gpu_ms(64, 1000)[0] / one.steps.gpu_ms(64, 1000)[0]
    assert 1.2 < ratio < 2.5
