"""GB200 NVL72 and GB300 NVL72: racks of 4-GPU compute trays in one 72-GPU NVLink domain, with per-GPU figures that
are the rack's over 72 (higher than the HGX parts' at their lower power), each calibration transferred from H100's."""

import pytest

from servecast.domain import ComputeDtype, SourceKind
from servecast.domain.calibration import ParameterOrigin
from servecast_hardware_blackwell.plugin import servecast_register_hardware

RACKS = ("gb200_nvl72", "gb300_nvl72")


def specs():
    return {spec.name: spec for spec in servecast_register_hardware()}


@pytest.mark.parametrize("name", RACKS)
def test_a_node_is_a_four_gpu_tray_in_a_72_gpu_nvlink_domain(name):
    node = specs()[name].node
    assert (node.gpus_per_node, node.scale_up_domain_gpus, node.domain_gpus) == (4, 72, 72)
    assert node.nvswitch
    assert node.intra_node_bw_bytes_per_s == 1.8e12 / 2
    assert node.intra_node_bw_bytes_per_s == pytest.approx(130e12 / 72 / 2, rel=0.01)  # the rack's 130 TB/s
    assert specs()[name].provenance["node.scale_up_domain_gpus"].source.kind is SourceKind.DATASHEET


def test_gb200_per_gpu_peaks_are_the_racks_over_72_dense():
    spec = specs()["gb200_nvl72"]
    rates = spec.gpu.dense_tensor_flops_per_s
    assert rates[ComputeDtype.FP4] == 1440e15 / 72 / 2
    assert rates[ComputeDtype.FP8] == rates[ComputeDtype.INT8] == 720e15 / 72 / 2
    assert rates[ComputeDtype.BF16] == rates[ComputeDtype.FP16] == 360e15 / 72 / 2
    assert rates[ComputeDtype.TF32] == 180e15 / 72 / 2
    assert spec.gpu.memory_bytes == 186 * 2**30
    assert spec.gpu.memory_bytes / 2**30 * 72 / 1000 == pytest.approx(13.4, rel=0.001)
    assert spec.gpu.mem_bw_bytes_per_s == 576e12 / 72
    assert spec.node.inter_node_bw_bytes_per_s == 400e9 / 8
    assert (spec.gpu.sm_count, spec.gpu.device_name) == (152, "NVIDIA GB200")


def test_gb200_runs_faster_than_hgx_b200():
    by_name = specs()
    gb200, b200 = by_name["gb200_nvl72"].gpu, by_name["b200_sxm"].gpu
    for dtype in (ComputeDtype.FP4, ComputeDtype.FP8, ComputeDtype.BF16):
        assert gb200.peak_flops_per_s(dtype) > b200.peak_flops_per_s(dtype)
    assert gb200.memory_bytes > b200.memory_bytes


def test_gb300_per_gpu_peaks_and_the_cut_int8_rate():
    spec = specs()["gb300_nvl72"]
    rates = spec.gpu.dense_tensor_flops_per_s
    assert rates[ComputeDtype.FP4] == 1080e15 / 72
    assert rates[ComputeDtype.FP8] == 720e15 / 72 / 2
    assert rates[ComputeDtype.BF16] == rates[ComputeDtype.FP16] == 360e15 / 72 / 2
    assert rates[ComputeDtype.INT8] == 165e12
    assert rates[ComputeDtype.INT8] < rates[ComputeDtype.FP8] / 25
    assert spec.gpu.memory_bytes == 284_208 * 2**20  # nvidia-smi: 288 GB of HBM3e, 277.5 GiB exposed
    assert spec.gpu.mem_bw_bytes_per_s == 576e12 / 72
    assert spec.node.inter_node_bw_bytes_per_s == 800e9 / 8
    assert (spec.gpu.sm_count, spec.gpu.device_name) == (152, "NVIDIA GB300")
    b300 = specs()["b300_sxm"].gpu
    assert spec.gpu.peak_flops_per_s(ComputeDtype.FP4) > b300.peak_flops_per_s(ComputeDtype.FP4)
    assert spec.gpu.memory_bytes > b300.memory_bytes


@pytest.mark.parametrize("name", RACKS)
def test_the_calibration_is_transferred_from_h100_not_fitted_here(name):
    calibration = specs()[name].calibration
    assert calibration is not None
    assert {parameter.origin for parameter in calibration.parameters.values()} == {ParameterOrigin.TRANSFERRED}
    assert all("from h100_sxm" in parameter.note for parameter in calibration.parameters.values())
