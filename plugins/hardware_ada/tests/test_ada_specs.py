"""The L40S and L4: datasheet peaks (FP8, no FP4) and GDDR6, PCIe between the cards, transferred calibrations."""

import pytest

from servecast.domain import ComputeDtype
from servecast.domain.calibration import ParameterOrigin
from servecast_hardware_ada.plugin import servecast_register_hardware


def spec(name):
    return next(spec for spec in servecast_register_hardware() if spec.name == name)


@pytest.mark.parametrize(
    ("name", "sparse_fp8", "memory_gib", "bandwidth"), [("l40s", 1466e12, 48, 864e9), ("l4", 485e12, 24, 300e9)]
)
def test_dense_peaks_and_memory_match_the_datasheet(name, sparse_fp8, memory_gib, bandwidth):
    gpu = spec(name).gpu
    assert gpu.dense_tensor_flops_per_s[ComputeDtype.FP8] == sparse_fp8 / 2
    assert ComputeDtype.FP4 not in gpu.dense_tensor_flops_per_s
    assert (gpu.memory_bytes, gpu.mem_bw_bytes_per_s) == (memory_gib * 2**30, bandwidth)


@pytest.mark.parametrize("name", ["l40s", "l4"])
def test_pcie_without_nvswitch_and_a_transferred_calibration(name):
    system = spec(name)
    assert system.node.intra_node_bw_bytes_per_s == 64e9 / 2 and not system.node.nvswitch
    assert system.calibration is not None
    assert {p.origin for p in system.calibration.parameters.values()} == {ParameterOrigin.TRANSFERRED}
