"""The H100 PCIe and H100 NVL: datasheet peaks and memory, PCIe between the cards, a calibration from H100 SXM's."""

import pytest

from servecast.domain import ComputeDtype
from servecast.domain.calibration import ParameterOrigin
from servecast_hardware_h100.plugin import servecast_register_hardware


def spec(name):
    return next(spec for spec in servecast_register_hardware() if spec.name == name)


@pytest.mark.parametrize(
    ("name", "sparse_bf16", "memory_gib", "bandwidth"),
    [("h100_pcie", 1513e12, 80, 2.0e12), ("h100_nvl", 1671e12, 94, 3.9e12)],
)
def test_dense_peaks_memory_and_bandwidth_match_the_datasheet(name, sparse_bf16, memory_gib, bandwidth):
    gpu = spec(name).gpu
    assert gpu.dense_tensor_flops_per_s[ComputeDtype.BF16] == pytest.approx(sparse_bf16 / 2)
    assert gpu.dense_tensor_flops_per_s[ComputeDtype.FP8] == pytest.approx(sparse_bf16, rel=1e-3)
    assert ComputeDtype.FP4 not in gpu.dense_tensor_flops_per_s
    assert (gpu.memory_bytes, gpu.mem_bw_bytes_per_s) == (memory_gib * 2**30, bandwidth)


@pytest.mark.parametrize("name", ["h100_pcie", "h100_nvl"])
def test_the_cards_meet_over_pcie_without_nvswitch(name):
    node = spec(name).node
    assert node.intra_node_bw_bytes_per_s == 128e9 / 2
    assert not node.nvswitch


@pytest.mark.parametrize("name", ["h100_pcie", "h100_nvl"])
def test_the_calibration_is_h100_sxms_transferred(name):
    calibration = spec(name).calibration
    assert calibration is not None
    assert {p.origin for p in calibration.parameters.values()} == {ParameterOrigin.TRANSFERRED}
