"""The B200 figures match NVIDIA's published specifications and the published device query; its calibration is
transferred from H100's and says so."""

import pytest

from servecast.domain import ComputeDtype, SourceKind
from servecast.domain.calibration import ParameterOrigin
from servecast_hardware_blackwell.plugin import servecast_register_hardware


def b200():
    return next(spec for spec in servecast_register_hardware() if spec.name == "b200_sxm")


def test_dense_peaks_are_an_eighth_of_half_the_sparse_system_figures():
    rates = b200().gpu.dense_tensor_flops_per_s
    assert rates[ComputeDtype.BF16] == rates[ComputeDtype.FP16] == 36e15 / 8 / 2
    assert rates[ComputeDtype.FP8] == rates[ComputeDtype.INT8] == 72e15 / 8 / 2
    assert rates[ComputeDtype.FP4] == 144e15 / 8 / 2


def test_memory_links_and_device_query_figures():
    spec = b200()
    assert spec.gpu.memory_bytes == 180 * 2**30
    assert spec.gpu.mem_bw_bytes_per_s == 64e12 / 8
    assert spec.gpu.sm_count == 148
    assert spec.gpu.l2_cache_bytes == pytest.approx(126.5 * 2**20, rel=1e-6)
    assert spec.node.intra_node_bw_bytes_per_s == 1.8e12 / 2
    assert spec.provenance["gpu.sm_count"].source.kind is SourceKind.PUBLISHED_MEASUREMENT


def test_the_calibration_is_transferred_from_h100_not_fitted_here():
    calibration = b200().calibration
    assert calibration is not None
    assert {parameter.origin for parameter in calibration.parameters.values()} == {ParameterOrigin.TRANSFERRED}
    assert all("from h100_sxm" in parameter.note for parameter in calibration.parameters.values())
