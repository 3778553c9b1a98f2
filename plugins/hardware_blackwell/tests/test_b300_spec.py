"""The B300 figures match NVIDIA's HGX B300 per-GPU specifications and the published device query, with Blackwell
Ultra's cut INT8 rate; its calibration is transferred from H100's and says so."""

import pytest

from servecast.domain import ComputeDtype, SourceKind
from servecast.domain.calibration import ParameterOrigin
from servecast_hardware_blackwell.plugin import servecast_register_hardware


def specs():
    return {spec.name: spec for spec in servecast_register_hardware()}


def test_dense_peaks_are_the_hgx_b300_per_gpu_figures():
    rates = specs()["b300_sxm"].gpu.dense_tensor_flops_per_s
    assert rates[ComputeDtype.FP4] == 14e15
    assert rates[ComputeDtype.FP8] == 9e15 / 2
    assert rates[ComputeDtype.BF16] == rates[ComputeDtype.FP16] == 4.5e15 / 2
    assert rates[ComputeDtype.TF32] == 18e15 / 8 / 2


def test_int8_is_cut_not_b200s():
    by_name = specs()
    b300, b200 = by_name["b300_sxm"].gpu, by_name["b200_sxm"].gpu
    assert b300.peak_flops_per_s(ComputeDtype.INT8) == 307e12 / 2
    assert b300.peak_flops_per_s(ComputeDtype.INT8) < b200.peak_flops_per_s(ComputeDtype.INT8) / 25
    assert b300.peak_flops_per_s(ComputeDtype.FP4) > b200.peak_flops_per_s(ComputeDtype.FP4)


def test_memory_links_and_device_query_figures():
    spec = specs()["b300_sxm"]
    assert spec.gpu.memory_bytes == 288e9
    assert spec.gpu.memory_bytes == pytest.approx(274_113 * 2**20, rel=0.005)  # the device query's totalGlobalMem
    assert spec.gpu.mem_bw_bytes_per_s == 8e12
    assert (spec.gpu.sm_count, spec.gpu.l2_cache_bytes) == (148, 132_644_864)
    assert spec.gpu.device_name == "NVIDIA B300 SXM6 AC"
    assert (spec.node.gpus_per_node, spec.node.domain_gpus) == (8, 8)
    assert spec.node.intra_node_bw_bytes_per_s == 1.8e12 / 2
    assert spec.node.inter_node_bw_bytes_per_s == 800e9 / 8
    assert spec.provenance["gpu.sm_count"].source.kind is SourceKind.PUBLISHED_MEASUREMENT


def test_the_calibration_is_transferred_from_h100_not_fitted_here():
    calibration = specs()["b300_sxm"].calibration
    assert calibration is not None
    assert {parameter.origin for parameter in calibration.parameters.values()} == {ParameterOrigin.TRANSFERRED}
    assert all("from h100_sxm" in parameter.note for parameter in calibration.parameters.values())
