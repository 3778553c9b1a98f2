"""The calibrated and pure rooflines: physically bounded, monotone, vectorised, aware of kernel choices."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from servecast.domain.kernels import AllReduceKernel, AttentionKernel, KernelChoice, KernelChoices
from servecast.domain.provenance import Source, SourceKind
from servecast.estimate.calibrated import CalibratedModel
from servecast.estimate.layered import default_estimator
from servecast.estimate.roofline import COMMUNICATION, peak_flops_per_s, uncalibrated_warning
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import EstimateProvenance, OpKind
from servecast.ops.shapes import ShapeError, normalize_shapes
from servecast.ops.work import op_work

# A representative shape per kind; SIZE names the parameter that grows the problem.
BASE = {
    OpKind.GEMM: {"m": 64, "n": 8192, "k": 8192},
    OpKind.CONTEXT_ATTENTION: {"batch": 2, "q_len": 2048, "heads": 16, "kv_heads": 2, "head_dim": 128},
    OpKind.DECODE_ATTENTION: {"batch": 32, "kv_len": 4096, "heads": 16, "kv_heads": 2, "head_dim": 128},
    OpKind.MLA_CONTEXT: {"batch": 1, "q_len": 4096, "heads": 16, "qk_head_dim": 192, "v_head_dim": 128},
    OpKind.MLA_DECODE: {"batch": 64, "kv_len": 4096, "heads": 16, "latent_dim": 512, "rope_dim": 64},
    OpKind.MOE: {"tokens": 256, "hidden": 7168, "intermediate": 2048, "experts": 256, "top_k": 8, "ep": 8},
    OpKind.ALL_REDUCE: {"message_bytes": 1 << 20, "num_gpus": 8},
    OpKind.ALL_GATHER: {"message_bytes": 1 << 20, "num_gpus": 8},
    OpKind.REDUCE_SCATTER: {"message_bytes": 1 << 20, "num_gpus": 8},
    OpKind.ALL_TO_ALL: {"message_bytes": 1 << 20, "num_gpus": 16},
    OpKind.P2P: {"message_bytes": 1 << 20},
    OpKind.ELEMENTWISE: {"bytes": 1 << 20},
}
SIZE = {
    OpKind.GEMM: ("m", "n", "k"),
    OpKind.CONTEXT_ATTENTION: ("batch", "q_len", "heads", "head_dim"),
    OpKind.DECODE_ATTENTION: ("batch", "kv_len", "kv_heads"),
    OpKind.MLA_CONTEXT: ("q_len", "heads"),
    OpKind.MLA_DECODE: ("batch", "kv_len", "heads"),
    OpKind.MOE: ("tokens", "hidden", "intermediate"),
    OpKind.ALL_REDUCE: ("message_bytes",),
    OpKind.ALL_GATHER: ("message_bytes",),
    OpKind.REDUCE_SCATTER: ("message_bytes",),
    OpKind.ALL_TO_ALL: ("message_bytes",),
    OpKind.P2P: ("message_bytes",),
    OpKind.ELEMENTWISE: ("bytes",),
}
SOURCE = Source(kind=SourceKind.ASSUMPTION, citation="a test")
VLLM_LIKE = KernelChoices(
    attention=KernelChoice(value=AttentionKernel.TRITON, source=SOURCE),
    all_reduce=KernelChoice(value=AllReduceKernel.VLLM_CUSTOM, source=SOURCE),
)
DTYPES = {OpKind.GEMM: OpDtype.FP8, OpKind.MOE: OpDtype.FP8_BLOCK}


def sweep(kind: OpKind, name: str, count: int = 60) -> dict[str, np.ndarray]:
    base = {key: np.full(count, float(value)) for key, value in BASE[kind].items()}
    base[name] = np.round(np.geomspace(1, 64, count) * BASE[kind][name])
    return base


@pytest.mark.parametrize("kernels", [KernelChoices(), VLLM_LIKE], ids=["default", "vllm-like"])
@pytest.mark.parametrize("kind", list(OpKind))
def test_estimates_are_monotone_in_problem_size(h100, kind, kernels):
    estimator = default_estimator(kind, h100, kernels, [])
    for name in SIZE[kind]:
        latency = estimator(sweep(kind, name), DTYPES.get(kind, OpDtype.BF16)).latency_ms
        assert (np.diff(latency) >= -1e-12).all(), f"{kind.value} gets faster as {name} grows"


@pytest.mark.parametrize("kind", list(OpKind))
def test_no_estimate_beats_the_datasheet_roofline(h100, kind):
    estimator = default_estimator(kind, h100, VLLM_LIKE, [])
    dtype = DTYPES.get(kind, OpDtype.BF16)
    for name in SIZE[kind]:
        shapes = sweep(kind, name)
        latency = estimator(shapes, dtype).latency_ms
        assert (latency >= estimator.roofline(shapes, dtype) * (1 - 1e-12)).all()
        if kind not in COMMUNICATION:
            work = op_work(kind, normalize_shapes(kind, shapes), dtype)
            seconds = latency / 1e3
            assert (work.flops / seconds <= peak_flops_per_s(h100, dtype)).all()
            assert (work.bytes / seconds <= h100.gpu.mem_bw_bytes_per_s).all()


@pytest.mark.parametrize("kind", list(OpKind))
def test_vectorised_estimates_equal_point_by_point_estimates(h100, kind):
    estimator = default_estimator(kind, h100, VLLM_LIKE, [])
    shapes = sweep(kind, SIZE[kind][0], count=17)
    dtype = DTYPES.get(kind, OpDtype.BF16)
    together = estimator(shapes, dtype).latency_ms
    alone = [estimator({k: v[i] for k, v in shapes.items()}, dtype).latency_ms[0] for i in range(17)]
    np.testing.assert_array_equal(together, alone)


def test_without_a_calibration_the_pure_roofline_answers(h100):
    bare = h100.model_copy(update={"calibration": None})
    estimate = default_estimator(OpKind.GEMM, bare, KernelChoices(), [])(BASE[OpKind.GEMM], "bf16")
    assert estimate.provenance.tolist() == [EstimateProvenance.ROOFLINE]
    calibrated = default_estimator(OpKind.GEMM, h100, KernelChoices(), [])(BASE[OpKind.GEMM], "bf16")
    assert calibrated.provenance.tolist() == [EstimateProvenance.CALIBRATED_ROOFLINE]
    assert calibrated.latency_ms[0] > estimate.latency_ms[0]


def test_weight_only_decode_gemms_are_bound_by_weight_bytes(h100):
    gemm = default_estimator(OpKind.GEMM, h100, KernelChoices(), [])
    decode = {"m": 8, "n": 8192, "k": 8192}
    bf16, w4a16 = gemm(decode, "bf16").latency_ms[0], gemm(decode, "w4a16").latency_ms[0]
    assert 2.5 < bf16 / w4a16 < 4.5  # 16-bit vs ~4.25-bit weights, less the fixed costs


def test_serving_gemms_are_slower_than_best_shape_kernels_only_where_compute_bound(h100):
    serving = CalibratedModel.build(OpKind.GEMM, h100, KernelChoices())
    assert serving is not None
    best_shape = replace(serving, best_shape_kernels=True)
    efficiency = h100.calibration.value("gemm.serving_efficiency")
    floor = h100.calibration.value("kernel.floor_ms")
    for m, compute_bound in ((4096, True), (8, False)):
        shapes = normalize_shapes(OpKind.GEMM, {"m": m, "n": 8192, "k": 8192})
        ratio = (serving(shapes, OpDtype.BF16)[0] - floor) / (best_shape(shapes, OpDtype.BF16)[0] - floor)
        assert ratio == pytest.approx(1 / efficiency if compute_bound else 1.0, rel=1e-6)


def test_decode_attention_charges_each_cached_token_more_than_its_kv_heads(h100):
    model = CalibratedModel.build(OpKind.DECODE_ATTENTION, h100, KernelChoices())
    assert model is not None
    overhead = h100.calibration.value("decode_attention.head_overhead")
    floor = h100.calibration.value("decode_attention.floor_ms")
    times = {}
    for kv_heads in (1, 8):  # a large bandwidth-bound decode: 256 sequences of 8k cached tokens
        shapes = normalize_shapes(
            OpKind.DECODE_ATTENTION, {"batch": 256, "kv_len": 8192, "heads": 64, "kv_heads": kv_heads, "head_dim": 128}
        )
        times[kv_heads] = model(shapes, OpDtype.BF16)[0] - floor
    assert times[8] / times[1] == pytest.approx((8 + overhead) / (1 + overhead), rel=0.01)


def test_a_small_decode_call_costs_its_fixed_time_beyond_the_kv_bytes(h100):
    """FlashAttention-3's paged decode at 128 cached tokens takes 27.6 us where its KV bytes take about 12."""
    model = CalibratedModel.build(OpKind.DECODE_ATTENTION, h100, KernelChoices())
    assert model is not None
    tiny = normalize_shapes(
        OpKind.DECODE_ATTENTION, {"batch": 1, "kv_len": 16, "heads": 32, "kv_heads": 8, "head_dim": 128}
    )
    floor = h100.calibration.value("decode_attention.floor_ms")
    assert floor > 5 * h100.calibration.value("kernel.floor_ms")
    assert model(tiny, OpDtype.BF16)[0] == pytest.approx(floor, rel=0.2)


def test_calibrations_without_a_decode_floor_use_the_kernel_floor(h100):
    parameters = dict(h100.calibration.parameters)
    del parameters["decode_attention.floor_ms"]
    bare = h100.model_copy(update={"calibration": h100.calibration.model_copy(update={"parameters": parameters})})
    model = CalibratedModel.build(OpKind.DECODE_ATTENTION, bare, KernelChoices())
    assert model is not None
    tiny = normalize_shapes(
        OpKind.DECODE_ATTENTION, {"batch": 1, "kv_len": 1, "heads": 8, "kv_heads": 8, "head_dim": 64}
    )
    assert model(tiny, OpDtype.BF16)[0] < 2 * h100.calibration.value("kernel.floor_ms") + 0.003


def test_framework_kernel_choices_change_the_estimate(h100):
    shapes = {"message_bytes": 256 << 10, "num_gpus": 8}
    nccl = default_estimator(OpKind.ALL_REDUCE, h100, KernelChoices(), [])(shapes, "bf16").latency_ms[0]
    custom = default_estimator(OpKind.ALL_REDUCE, h100, VLLM_LIKE, [])(shapes, "bf16").latency_ms[0]
    assert custom < nccl  # small messages: a custom all-reduce beats NCCL's ring
    prefill = BASE[OpKind.CONTEXT_ATTENTION]
    fa3 = default_estimator(OpKind.CONTEXT_ATTENTION, h100, KernelChoices(), [])(prefill, "bf16").latency_ms[0]
    triton = default_estimator(OpKind.CONTEXT_ATTENTION, h100, VLLM_LIKE, [])(prefill, "bf16").latency_ms[0]
    assert triton > fa3


def test_a_collective_over_one_gpu_is_free(h100):
    for kind in (OpKind.ALL_REDUCE, OpKind.ALL_GATHER, OpKind.REDUCE_SCATTER, OpKind.ALL_TO_ALL):
        estimate = default_estimator(kind, h100, VLLM_LIKE, [])({"message_bytes": 1e6, "num_gpus": 1}, "bf16")
        assert estimate.latency_ms[0] == 0


def test_crossing_nodes_is_slower_than_staying_inside_one(h100):
    all_to_all = default_estimator(OpKind.ALL_TO_ALL, h100, KernelChoices(), [])
    inside, across = all_to_all({"message_bytes": 8e6, "num_gpus": [8, 16]}, "bf16").latency_ms
    assert across > 3 * inside


def test_a_scale_up_domain_wider_than_the_node_keeps_collectives_on_nvlink(h100):
    """An NVL72-style rack of 4-GPU trays: 16 GPUs across four trays stay inside one NVLink domain."""
    node = h100.node.model_copy(update={"gpus_per_node": 4, "scale_up_domain_gpus": 72})
    rack = h100.model_copy(update={"node": node})
    shapes = {"message_bytes": 32e6, "num_gpus": 16}
    on_boards = default_estimator(OpKind.ALL_TO_ALL, h100, KernelChoices(), [])(shapes, "bf16").latency_ms[0]
    in_rack = default_estimator(OpKind.ALL_TO_ALL, rack, KernelChoices(), [])(shapes, "bf16").latency_ms[0]
    assert on_boards > 3 * in_rack


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        ({"m": 1, "n": 2}, r"gemm needs 'k'"),
        ({"m": 1, "n": 2, "k": 3, "q": 4}, r"gemm has no shape parameter 'q'"),
        ({"m": -1, "n": 2, "k": 3}, r"'m' must be a finite number >= 0, got -1.0"),
        ({"m": [1, 2], "n": [1, 2, 3], "k": 3}, r"must have one length \(or a single value\): 'm' has 2, 'n' has 3"),
    ],
)
def test_bad_shapes_are_named(h100, shapes, message):
    with pytest.raises(ShapeError, match=message):
        default_estimator(OpKind.GEMM, h100, KernelChoices(), [])(shapes, "bf16")


def test_a_system_without_calibration_is_warned_about(h100):
    assert uncalibrated_warning(h100) is None
    warning = uncalibrated_warning(h100.model_copy(update={"calibration": None}))
    assert warning is not None
    assert "speed of light" in warning and "servecast hardware fit h100_sxm" in warning
